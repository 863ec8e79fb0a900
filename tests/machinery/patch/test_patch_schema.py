"""The schema navigator over the upstream OpenAPI documents and CRD structural schemas."""

from __future__ import annotations

from kybernetes.machinery.patch import builtin_navigator, builtin_root, structural_root, zero_value
from kybernetes.machinery.patch.schema import Kind, Node


def test_gvk_roots() -> None:
    assert builtin_root("apps/v1", "Deployment") is not None
    assert builtin_root("v1", "Pod") is not None
    assert builtin_root("example.com/v1", "Widget") is None
    assert builtin_navigator().root("", "v1", "ConfigMap") is builtin_root("v1", "ConfigMap")


def test_containers_semantics(deployment: Node) -> None:
    containers = deployment.field("spec").field("template").field("spec").field("containers")
    assert containers.kind is Kind.LIST
    assert (containers.list_type, containers.map_keys) == ("map", ("name",))
    assert (containers.patch_strategy, containers.merge_key) == ("merge", "name")
    item = containers.item()
    assert item.def_name == "io.k8s.api.core.v1.Container"
    ports = item.field("ports")
    assert ports.map_keys == ("containerPort", "protocol") and ports.merge_key == "containerPort"
    assert ports.item().key_default("protocol") == (True, "TCP")
    assert item.field("volumeMounts").merge_key == "mountPath"
    assert item.field("args").list_type == "atomic"


def test_patch_strategies(deployment: Node, pod: Node, node_kind: Node) -> None:
    spec = pod.field("spec")
    volumes = spec.field("volumes")
    assert volumes.patch_strategies == {"merge", "retainKeys"}
    assert volumes.patch_strategy == "merge" and volumes.retain_keys
    strategy = deployment.field("spec").field("strategy")
    assert strategy.retain_keys and strategy.patch_strategy == ""
    assert spec.field("tolerations").list_type == "atomic" and spec.field("tolerations").merge_key is None
    assert node_kind.field("spec").field("taints").patch_strategy == ""
    assert pod.field("status").field("conditions").merge_key == "type"
    finalizers = pod.field("metadata").field("finalizers")
    assert (finalizers.list_type, finalizers.patch_strategy) == ("set", "merge")


def test_maps_atomic_structs_and_untyped(deployment: Node) -> None:
    meta = deployment.field("metadata")
    labels = meta.field("labels")
    assert labels.kind is Kind.OBJECT and labels.values().kind is Kind.SCALAR
    assert not labels.has_field("app") and labels.field("app").kind is Kind.SCALAR
    assert deployment.field("spec").field("selector").atomic
    assert not deployment.field("spec").field("template").atomic
    unknown = deployment.field("spec").field("noSuchField")
    assert unknown.kind is Kind.UNTYPED and not unknown.atomic
    raw = builtin_root("apps/v1", "ControllerRevision")
    assert raw is not None and raw.field("data").kind is Kind.UNTYPED and raw.field("data").atomic


def test_children_are_cached_per_definition(deployment: Node, pod: Node) -> None:
    a = deployment.field("spec").field("template").field("spec")
    b = pod.field("spec")
    assert a.fields() is b.fields()


def test_zero_value_of_deployment(deployment: Node) -> None:
    assert zero_value(deployment) == {
        "metadata": {"creationTimestamp": None},
        "spec": {
            "selector": None,
            "strategy": {},
            "template": {"metadata": {"creationTimestamp": None}, "spec": {"containers": None}},
        },
        "status": {},
    }


def test_structural_schema_for_custom_resources() -> None:
    node = structural_root(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "ports": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["port", "protocol"],
                            "items": {
                                "type": "object",
                                "properties": {
                                    "port": {"type": "integer"},
                                    "protocol": {"type": "string", "default": "TCP"},
                                },
                            },
                        },
                        "size": {"x-kubernetes-int-or-string": True},
                        "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "sel": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    },
                }
            },
        }
    )
    assert not node.smp_supported
    spec = node.field("spec")
    ports = spec.field("ports")
    assert ports.map_keys == ("port", "protocol") and ports.merge_key is None and ports.patch_strategy == ""
    assert ports.item().key_default("protocol") == (True, "TCP")
    assert spec.field("size").kind is Kind.SCALAR
    assert spec.field("blob").has_values() and spec.field("blob").field("x").kind is Kind.UNTYPED
    assert spec.field("sel").atomic
    assert node.field("metadata").def_name == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert node.field("metadata").field("labels").kind is Kind.OBJECT
