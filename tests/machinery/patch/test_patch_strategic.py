"""Strategic merge patch: upstream behaviours on a MergeItem-like type and on real Kubernetes kinds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.machinery.patch import (
    SMPUnsupportedError,
    StrategicMergePatchError,
    apply_strategic_merge_patch,
    structural_root,
)
from kybernetes.machinery.patch.schema import Node

# (description, current, patch, expected) -- cases from upstream's strategicpatch tests.
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "unique scalars when merging lists",
        {"mergingIntList": [1, 2]},
        {"mergingIntList": [2, 3]},
        {"mergingIntList": [1, 2, 3]},
    ),
    (
        "delete map from nested map",
        {"simpleMap": {"key1": "1"}},
        {"simpleMap": {"$patch": "delete"}},
        {"simpleMap": {}},
    ),
    (
        "delete all items from merging list",
        {"mergingList": [{"name": "1"}, {"name": "2"}]},
        {"mergingList": [{"$patch": "replace"}]},
        {"mergingList": []},
    ),
    ("merge empty merging lists", {"mergingList": []}, {"mergingList": []}, {"mergingList": []}),
    ("delete all keys from map", {"name": "1", "value": "1"}, {"$patch": "replace"}, {}),
    (
        "add key and delete all keys from map",
        {"name": "1", "value": "1"},
        {"other": "a", "$patch": "replace"},
        {"other": "a"},
    ),
    (
        "delete all duplicate entries in a merging list",
        {
            "mergingList": [
                {"name": "1"},
                {"name": "1"},
                {"name": "2", "value": "a"},
                {"name": "3"},
                {"name": "3"},
            ]
        },
        {"mergingList": [{"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}]},
        {"mergingList": [{"name": "2", "value": "a"}]},
    ),
    (
        "retainKeys map can delete a field when no retainKeys directive present",
        {"retainKeysMap": {"name": "foo", "value": "a"}},
        {"retainKeysMap": {"value": None}},
        {"retainKeysMap": {"name": "foo"}},
    ),
    (
        "preserve the order from the patch in a merging list",
        {"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]},
        {
            "mergingList": [
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "other": "x"},
            ]
        },
        {
            "mergingList": [
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "value": "b", "other": "x"},
            ]
        },
    ),
    (
        "preserve the order from the patch in a merging list 2",
        {"mergingList": [{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}]},
        {"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]},
        {
            "mergingList": [
                {"name": "2", "value": "b"},
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
            ]
        },
    ),
    (
        "preserve the order from the patch in a merging int list",
        {"mergingIntList": [1, 2, 3]},
        {"mergingIntList": [3, 1]},
        {"mergingIntList": [2, 3, 1]},
    ),
    (
        "$setElementOrder contains item that is not present in the list to be merged",
        {"mergingList": [{"name": "1"}, {"name": "3"}]},
        {
            "$setElementOrder/mergingList": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
            "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}],
        },
        {"mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]},
    ),
    (
        "$setElementOrder alone reorders an int list",
        {"mergingIntList": [1, 3]},
        {"$setElementOrder/mergingIntList": [3, 2, 1]},
        {"mergingIntList": [3, 1]},
    ),
    (
        "add field and delete field from map",
        {"name": "1", "other": "a"},
        {"name": None, "value": "1"},
        {"value": "1", "other": "a"},
    ),
    (
        "delete field from nested map",
        {"simpleMap": {"key1": "1", "key2": "1", "other": "a"}},
        {"simpleMap": {"key2": None}},
        {"simpleMap": {"key1": "1", "other": "a"}},
    ),
    (
        "replace list of scalars",
        {"nonMergingIntList": [1, 4]},
        {"nonMergingIntList": [2, 3]},
        {"nonMergingIntList": [2, 3]},
    ),
    (
        "delete all maps from merging list with conflict",
        {"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "other": "b"}]},
        {"mergingList": [{"name": "1", "$patch": "delete"}, {"name": "2", "$patch": "delete"}]},
        {"mergingList": []},
    ),
    (
        "defined null values delete current fields",
        {"name": "a", "other": "a"},
        {"name": "1", "value": "1", "other": None},
        {"name": "1", "value": "1"},
    ),
    (
        "delete items in lists of scalars",
        {"mergingIntList": [1, 2, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "delete all duplicate items in lists of scalars",
        {"mergingIntList": [1, 2, 3, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "add and delete items in lists of scalars",
        {"mergingIntList": [1, 2, 3, 4]},
        {"$setElementOrder/mergingIntList": [1, 2, 4], "$deleteFromPrimitiveList/mergingIntList": [3]},
        {"mergingIntList": [1, 2, 4]},
    ),
    (
        "merge lists of maps",
        {"mergingList": [{"name": "1", "other": "a"}, {"name": "2", "value": "2", "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": "4"}, {"name": "1"}, {"name": "2"}, {"name": "3"}],
            "mergingList": [{"name": "4", "value": "4"}, {"name": "3", "value": "3"}],
        },
        {
            "mergingList": [
                {"name": "4", "value": "4"},
                {"name": "1", "other": "a"},
                {"name": "2", "value": "2", "other": "b"},
                {"name": "3", "value": "3"},
            ]
        },
    ),
    (
        "add field to map in merging list with conflict",
        {"mergingList": [{"name": "1", "other": "a"}, {"name": "3", "value": "2", "other": "b"}]},
        {
            "$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}],
            "mergingList": [{"name": "1", "value": "1"}, {"name": "2", "value": "2"}],
        },
        {
            "mergingList": [
                {"name": "1", "other": "a", "value": "1"},
                {"name": "2", "value": "2"},
                {"name": "3", "value": "2", "other": "b"},
            ]
        },
    ),
    (
        "add and delete an item in a list and preserve order",
        {
            "mergingList": [
                {"name": "1", "other": "a"},
                {"name": "2", "value": "2", "other": "b"},
                {"name": "3", "value": "3"},
            ]
        },
        {
            "$setElementOrder/mergingList": [{"name": "4"}, {"name": "2"}, {"name": "1"}],
            "mergingList": [{"name": "4", "value": "4"}, {"name": "3", "$patch": "delete"}],
        },
        {
            "mergingList": [
                {"name": "4", "value": "4"},
                {"name": "2", "value": "2", "other": "b"},
                {"name": "1", "other": "a"},
            ]
        },
    ),
    (
        "set elements order in a list with server-only items 3",
        {
            "mergingList": [
                {"name": "1", "other": "a"},
                {"name": "2"},
                {"name": "7"},
                {"name": "9"},
                {"name": "8"},
                {"name": "3"},
                {"name": "4"},
            ]
        },
        {"$setElementOrder/mergingList": [{"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}]},
        {
            "mergingList": [
                {"name": "2"},
                {"name": "1", "other": "a"},
                {"name": "7"},
                {"name": "9"},
                {"name": "8"},
                {"name": "4"},
                {"name": "3"},
            ]
        },
    ),
    (
        "set elements order in a int list with server-only items 2",
        {"mergingIntList": [1, 2, 9, 3, 4]},
        {"$setElementOrder/mergingIntList": [2, 1, 4, 3]},
        {"mergingIntList": [2, 1, 9, 4, 3]},
    ),
    (
        "add and delete an item in a int list and preserve order",
        {"mergingIntList": [1, 2, 3]},
        {
            "$setElementOrder/mergingIntList": [4, 2, 1],
            "mergingIntList": [4],
            "$deleteFromPrimitiveList/mergingIntList": [3],
        },
        {"mergingIntList": [4, 2, 1]},
    ),
    (
        "behavior of set element order for a merging list with duplicate",
        {
            "mergingList": [
                {"name": "1"},
                {"name": "2", "value": "d1"},
                {"name": "3"},
                {"name": "2", "value": "d2"},
                {"name": "4"},
            ]
        },
        {
            "$setElementOrder/mergingList": [
                {"name": "2"},
                {"name": "1"},
                {"name": "4"},
                {"name": "3"},
                {"name": "2"},
            ]
        },
        {
            "mergingList": [
                {"name": "2", "value": "d1"},
                {"name": "2", "value": "d2"},
                {"name": "1"},
                {"name": "4"},
                {"name": "3"},
            ]
        },
    ),
    (
        "retainKeys map should clear defaulted field",
        {"retainKeysMap": {"value": "foo"}},
        {"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}},
        {"retainKeysMap": {"other": "bar"}},
    ),
    (
        "retainKeys map deletes a field and clears a field",
        {"retainKeysMap": {"name": "foo", "value": "bar", "other": "a"}},
        {"retainKeysMap": {"$retainKeys": ["name"], "value": None}},
        {"retainKeysMap": {"name": "foo"}},
    ),
    (
        "retainKeys merging list clears fields of an item",
        {
            "retainKeysMergingList": [
                {"name": "foo", "value": "a", "other": "b"},
                {"name": "bar", "value": "c"},
            ]
        },
        {
            "$setElementOrder/retainKeysMergingList": [{"name": "foo"}, {"name": "bar"}],
            "retainKeysMergingList": [{"$retainKeys": ["name", "other"], "name": "foo", "other": "x"}],
        },
        {"retainKeysMergingList": [{"name": "foo", "other": "x"}, {"name": "bar", "value": "c"}]},
    ),
    (
        "new value with directives inside is cleaned",
        {},
        {"retainKeysMap": {"$retainKeys": ["name"], "name": "x", "other": None}},
        {"retainKeysMap": {"name": "x"}},
    ),
    (
        "new list items do not keep directives",
        {"mergingList": [{"name": "1"}]},
        {
            "mergingList": [
                {"name": "2", "$setElementOrder/mergingList": [{"name": "z"}], "mergingList": [{"name": "z"}]}
            ]
        },
        {"mergingList": [{"name": "2", "mergingList": [{"name": "z"}]}, {"name": "1"}]},
    ),
]


@pytest.mark.parametrize(("description", "current", "patch", "expected"), CASES, ids=[c[0] for c in CASES])
def test_upstream_cases(
    merge_item: Node,
    description: str,
    current: dict[str, Any],
    patch: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    before_current, before_patch = copy.deepcopy(current), copy.deepcopy(patch)
    assert apply_strategic_merge_patch(current, patch, merge_item) == expected
    assert current == before_current and patch == before_patch, "inputs must not be modified"


@pytest.mark.parametrize(
    ("current", "patch", "message", "status"),
    [
        (
            {"mergingList": [{"name": "1"}, {"name": "3"}, {"name": "2"}]},
            {
                "$setElementOrder/mergingList": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                "mergingList": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}],
            },
            "doesn't match",
            500,
        ),
        (
            {"mergingIntList": [1, 3, 2]},
            {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
            "doesn't match",
            500,
        ),
        (
            {"mergingList": [{"name": "1", "value": "a"}]},
            {"mergingList": [{"value": "b"}]},
            "does not contain declared merge key: name",
            500,
        ),
        ({"name": "a"}, {"$patch": "merge", "name": "b"}, "unknown patch type: merge", 500),
        (
            {"mergingList": [{"name": "1"}]},
            {"mergingList": [{"name": "1", "$patch": "merge"}]},
            "cannot yet",
            500,
        ),
        ({"retainKeysMap": {"name": "a"}}, {"retainKeysMap": {"$retainKeys": "name"}}, "retainKeys", 400),
        (
            {"retainKeysMap": {"name": "a"}},
            {"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}},
            "retainKeys",
            400,
        ),
        ({"mergingIntList": [1]}, {"$deleteFromPrimitiveListmergingIntList": [1]}, "primitive list", 400),
        ({"mergingIntList": [1]}, {"$setElementOrdermergingIntList": [1]}, "setElementOrder", 400),
        ({"mergingIntList": [1]}, {"mergingIntList": [[1]]}, "lists of lists", 422),
        ({"mergingIntList": [1]}, {"mergingIntList": ["a"]}, "not identical", 500),
    ],
)
def test_errors(
    merge_item: Node, current: dict[str, Any], patch: dict[str, Any], message: str, status: int
) -> None:
    with pytest.raises(StrategicMergePatchError) as info:
        apply_strategic_merge_patch(current, patch, merge_item)
    assert message in str(info.value)
    assert info.value.status == status


def test_missing_merge_key_message_is_go_like(merge_item: Node) -> None:
    with pytest.raises(
        StrategicMergePatchError, match=r"map: map\[value:b\] does not contain declared merge key: name"
    ):
        apply_strategic_merge_patch(
            {"mergingList": [{"name": "1"}]}, {"mergingList": [{"value": "b"}]}, merge_item
        )


def test_custom_resources_reject_smp() -> None:
    node = structural_root({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert not node.smp_supported
    with pytest.raises(SMPUnsupportedError) as info:
        apply_strategic_merge_patch({}, {"spec": {}}, node)
    assert info.value.status == 415


# -- real kinds, as kubectl sends them --------------------------------------------------------------------


def deployment_obj() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.24",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        },
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1d"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def test_set_image_merges_container_by_name(deployment: Node) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.25", "name": "nginx"}]}}}}
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert [c["name"] for c in containers(out)] == ["nginx", "sidecar"]
    assert containers(out)[0]["image"] == "nginx:1.25"
    assert containers(out)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]


def test_rollout_restart_adds_template_annotation(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}}
            }
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert out["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"},
    }


def test_env_merges_by_name_and_new_items_go_first(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}]}
                    ]
                }
            }
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert containers(out)[0]["env"] == [
        {"name": "C", "value": "3"},
        {"name": "A", "value": "9"},
        {"name": "B", "value": "2"},
    ]


def test_ports_merge_by_container_port(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                        }
                    ]
                }
            }
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert containers(out)[0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 443},
    ]


def test_volume_mounts_merge_by_mount_path(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "nginx", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}
                    ]
                }
            }
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert containers(out)[0]["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]


def test_delete_container_with_patch_directive(deployment: Node) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert [c["name"] for c in containers(out)] == ["nginx"]


def test_replace_containers_with_patch_directive(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert containers(out) == [{"name": "only", "image": "x"}]


def test_tolerations_are_atomic_and_replaced(deployment: Node) -> None:
    patch = {"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_args_without_strategy_are_replaced(deployment: Node) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["true"]}]}}}}
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert containers(out)[1]["args"] == ["true"]


def test_retain_keys_on_deployment_strategy(deployment: Node) -> None:
    # kubectl apply switching to Recreate: the 3-way patch clears rollingUpdate with $retainKeys.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_volumes(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/volumes": [{"name": "data"}],
                    "volumes": [
                        {"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}
                    ],
                }
            }
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]


def test_set_element_order_reorders_containers(deployment: Node) -> None:
    patch = {
        "spec": {
            "template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}
        }
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert [c["name"] for c in containers(out)] == ["sidecar", "nginx"]


def test_kubectl_apply_three_way_patch(deployment: Node) -> None:
    # What kubectl apply sends after a user edits the manifest: image changed, env B dropped,
    # a new env added and the label removed.
    patch = {
        "metadata": {"labels": {"app": None}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}, {"name": "D"}],
                            "env": [{"name": "D", "value": "4"}, {"name": "B", "$patch": "delete"}],
                            "image": "nginx:1.26",
                            "name": "nginx",
                        }
                    ],
                }
            }
        },
    }
    out = apply_strategic_merge_patch(deployment_obj(), patch, deployment)
    assert out["metadata"]["labels"] == {}
    assert containers(out)[0]["image"] == "nginx:1.26"
    assert containers(out)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "D", "value": "4"}]
    assert [c["name"] for c in containers(out)] == ["nginx", "sidecar"]


def test_finalizers_delete_from_primitive_list(deployment: Node) -> None:
    obj = deployment_obj()
    obj["metadata"]["finalizers"] = ["a/x", "b/y", "c/z"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b/y"]}}
    out = apply_strategic_merge_patch(obj, patch, deployment)
    assert out["metadata"]["finalizers"] == ["a/x", "c/z"]


def test_finalizers_merge_as_a_set(deployment: Node) -> None:
    obj = deployment_obj()
    obj["metadata"]["finalizers"] = ["a"]
    out = apply_strategic_merge_patch(obj, {"metadata": {"finalizers": ["b", "a"]}}, deployment)
    assert out["metadata"]["finalizers"] == ["b", "a"]


def test_delete_from_primitive_list_on_missing_list_is_noop(deployment: Node) -> None:
    out = apply_strategic_merge_patch(
        deployment_obj(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}, deployment
    )
    assert "finalizers" not in out["metadata"]


def node_obj() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {
            "taints": [
                {"key": "a", "effect": "NoSchedule"},
                {"key": "b", "value": "1", "effect": "NoExecute"},
            ]
        },
    }


def test_taint_sends_full_list(node_kind: Node) -> None:
    patch = {"spec": {"taints": [{"key": "b", "value": "1", "effect": "NoExecute"}]}}
    out = apply_strategic_merge_patch(node_obj(), patch, node_kind)
    assert out["spec"]["taints"] == [{"key": "b", "value": "1", "effect": "NoExecute"}]


def test_taint_removal_of_last_taint_sends_null(node_kind: Node) -> None:
    out = apply_strategic_merge_patch(node_obj(), {"spec": {"taints": None}}, node_kind)
    assert out["spec"] == {}


def test_cordon(node_kind: Node) -> None:
    out = apply_strategic_merge_patch(node_obj(), {"spec": {"unschedulable": True}}, node_kind)
    assert out["spec"]["unschedulable"] is True
    out = apply_strategic_merge_patch(out, {"spec": {"unschedulable": None}}, node_kind)
    assert "unschedulable" not in out["spec"]


def test_conditions_merge_by_type(pod: Node) -> None:
    obj = {
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]
        }
    }
    out = apply_strategic_merge_patch(
        obj, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, pod
    )
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_whole_object_delete_directive(pod: Node) -> None:
    assert apply_strategic_merge_patch({"a": 1}, {"$patch": "delete"}, pod) == {}


def test_unknown_fields_are_merged_leniently(pod: Node) -> None:
    out = apply_strategic_merge_patch(
        {"spec": {"x": {"a": 1, "l": [1]}}}, {"spec": {"x": {"b": 2, "l": [2]}}}, pod
    )
    assert out["spec"]["x"] == {"a": 1, "b": 2, "l": [2]}
