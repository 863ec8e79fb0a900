"""Server-side apply and managedFields tracking."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.machinery.patch import (
    ApplyConflict,
    ApplyError,
    FieldSet,
    apply,
    make_path,
    structural_root,
    update_managed_fields,
)
from kybernetes.machinery.patch.apply import LAST_APPLIED
from kybernetes.machinery.patch.schema import Node

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)


def config(replicas: int | None = 2, image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    spec.update(extra)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
    }


def persisted(obj: dict[str, Any]) -> dict[str, Any]:
    """What the registry would store: the object with a uid (so it counts as existing)."""
    out = copy.deepcopy(obj)
    out["metadata"]["uid"] = "0000-1111"
    out["metadata"]["creationTimestamp"] = "2024-05-01T12:00:00Z"
    return out


def managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"] + "/" + e["operation"]: e for e in obj["metadata"].get("managedFields", [])}


def owns(obj: dict[str, Any], manager: str, path: str) -> bool:
    entry = managers(obj)[manager]
    fields = FieldSet.from_fields_v1(entry["fieldsV1"])
    return any("".join(str(pe) for pe in p) == path for p in fields.iterate())


def test_apply_create_records_fields_in_upstream_format(deployment: Node) -> None:
    out = apply(None, config(), "kubectl", False, deployment, now=T0)
    (entry,) = out["metadata"]["managedFields"]
    assert entry == {
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": "2024-05-01T12:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            'k:{"name":"nginx"}': {
                                ".": {},
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    'k:{"containerPort":80,"protocol":"TCP"}': {
                                        ".": {},
                                        "f:containerPort": {},
                                    }
                                },
                            }
                        }
                    },
                },
            }
        },
    }
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    # apply-create starts from the Go zero value: template metadata carries creationTimestamp: null
    assert out["spec"]["template"]["metadata"]["creationTimestamp"] is None
    assert out["spec"]["template"]["spec"]["containers"] == config()["spec"]["template"]["spec"]["containers"]


def test_apply_twice_is_a_noop(deployment: Node) -> None:
    first = persisted(apply(None, config(), "kubectl", False, deployment, now=T0))
    second = apply(first, config(), "kubectl", False, deployment, now=T1)
    assert second == first


def test_two_managers_disjoint_fields(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    bob = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"team": "b"}},
    }
    out = apply(live, bob, "bob", False, deployment, now=T1)
    assert out["metadata"]["labels"] == {"team": "b"}
    assert owns(out, "bob/Apply", ".metadata.labels.team")
    assert owns(out, "alice/Apply", ".spec.replicas")
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["alice", "bob"]


def test_conflict_with_other_applier(deployment: Node) -> None:
    live = persisted(apply(None, config(replicas=2), "alice", False, deployment, now=T0))
    with pytest.raises(ApplyConflict) as info:
        apply(live, config(replicas=5), "bob", False, deployment, now=T1)
    err = info.value
    assert err.status == 409 and err.reason == "Conflict"
    assert err.message == 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    assert err.status_causes() == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".spec.replicas"}
    ]


def test_conflict_message_with_several_fields_and_updater(deployment: Node) -> None:
    live = persisted(apply(None, config(replicas=2), "alice", False, deployment, now=T0))
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:edited"
    live = update_managed_fields(live, edited, "kubectl-edit", now=T1)
    with pytest.raises(ApplyConflict) as info:
        apply(live, config(replicas=5, image="nginx:2"), "bob", False, deployment, now=T2)
    assert info.value.message == (
        "Apply failed with 2 conflicts: "
        'conflicts with "alice":\n- .spec.replicas\n'
        'conflicts with "kubectl-edit" using apps/v1:\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    )
    assert [c["field"] for c in info.value.status_causes()] == [
        ".spec.replicas",
        '.spec.template.spec.containers[name="nginx"].image',
    ]


def test_force_moves_ownership(deployment: Node) -> None:
    live = persisted(apply(None, config(replicas=2), "alice", False, deployment, now=T0))
    out = apply(live, config(replicas=5), "bob", True, deployment, now=T1)
    assert out["spec"]["replicas"] == 5
    assert owns(out, "bob/Apply", ".spec.replicas")
    assert not owns(out, "alice/Apply", ".spec.replicas")
    assert owns(out, "alice/Apply", ".spec.selector")


def test_same_value_is_shared_ownership(deployment: Node) -> None:
    live = persisted(apply(None, config(replicas=2), "alice", False, deployment, now=T0))
    out = apply(live, config(replicas=2), "bob", False, deployment, now=T1)
    assert owns(out, "alice/Apply", ".spec.replicas") and owns(out, "bob/Apply", ".spec.replicas")
    # alice stops applying replicas: bob still owns it, so it stays
    out = persisted(apply(persisted(out), config(replicas=None), "alice", False, deployment, now=T2))
    assert out["spec"]["replicas"] == 2
    assert not owns(out, "alice/Apply", ".spec.replicas")


def test_reapply_without_field_removes_it(deployment: Node) -> None:
    live = persisted(apply(None, config(minReadySeconds=5), "alice", False, deployment, now=T0))
    out = apply(live, config(), "alice", False, deployment, now=T1)
    assert "minReadySeconds" not in out["spec"]
    assert not owns(out, "alice/Apply", ".spec.minReadySeconds")


def test_reapply_without_container_removes_it(deployment: Node) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    live = persisted(apply(None, cfg, "alice", False, deployment, now=T0))
    out = apply(live, config(), "alice", False, deployment, now=T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_removed_field_owned_by_updater_is_kept(deployment: Node) -> None:
    live = persisted(apply(None, config(replicas=2), "alice", False, deployment, now=T0))
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    live = update_managed_fields(live, scaled, "hpa", now=T1)
    assert owns(live, "hpa/Update", ".spec.replicas")
    assert not owns(live, "alice/Apply", ".spec.replicas")
    out = apply(persisted(live), config(replicas=None), "alice", False, deployment, now=T2)
    assert out["spec"]["replicas"] == 7


def test_update_takes_fields_and_times(deployment: Node) -> None:
    created = update_managed_fields(None, config(), "kubectl-create", now=T0)
    (entry,) = created["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl-create" and entry["operation"] == "Update"
    assert entry["time"] == "2024-05-01T12:00:00Z"
    # zero-value baseline: struct fields the zero value has get no "." entry, added lists/maps do
    fields = entry["fieldsV1"]
    assert "." not in fields["f:spec"]
    assert (
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:ports"]["."] == {}
    )
    assert "f:metadata" not in fields  # name/namespace are never tracked
    live = persisted(created)
    unchanged = update_managed_fields(live, copy.deepcopy(live), "kubectl-edit", now=T1)
    assert unchanged["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_update_without_managed_fields_is_not_tracked(deployment: Node) -> None:
    live = persisted(config())
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 3
    out = update_managed_fields(live, new, "kubectl-edit", now=T1)
    assert "managedFields" not in out["metadata"]


def test_first_apply_assigns_existing_fields_to_before_first_apply(deployment: Node) -> None:
    live = persisted(config(replicas=3))
    with pytest.raises(ApplyConflict, match='conflict with "before-first-apply" using apps/v1'):
        apply(live, config(replicas=4), "alice", False, deployment, now=T1)
    out = apply(live, config(replicas=3), "alice", False, deployment, now=T1)
    assert set(managers(out)) == {"alice/Apply", "before-first-apply/Update"}


def test_request_managed_fields_reset(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    for reset in ([], [{}]):
        new = copy.deepcopy(live)
        new["metadata"]["managedFields"] = reset
        out = update_managed_fields(live, new, "kubectl-patch", now=T1)
        assert "managedFields" not in out["metadata"]


def test_request_without_managed_fields_keeps_live_ones(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    new = copy.deepcopy(live)
    del new["metadata"]["managedFields"]
    new["metadata"]["labels"] = {"x": "y"}
    out = update_managed_fields(live, new, "kubectl-label", now=T1)
    assert set(managers(out)) == {"alice/Apply", "kubectl-label/Update"}


def test_invalid_request_managed_fields_fall_back_to_live(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus"}]
    out = update_managed_fields(live, new, "kubectl-edit", now=T1)
    assert set(managers(out)) == {"alice/Apply"}


def test_subresource_manager(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2, "readyReplicas": 2}
    out = update_managed_fields(live, new, "kube-controller-manager", subresource="status", now=T1)
    entry = managers(out)["kube-controller-manager/Update"]
    assert entry["subresource"] == "status"
    assert list(entry)[-1] == "subresource"
    assert entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}


def test_ignored_fields_are_not_owned(deployment: Node) -> None:
    cfg = config()
    cfg["status"] = {"replicas": 9}
    ignored = FieldSet.from_paths([make_path("status")])
    out = apply(None, cfg, "alice", False, deployment, ignored=ignored, now=T0)
    assert "f:status" not in out["metadata"]["managedFields"][0]["fieldsV1"]


def test_managed_fields_order_and_cap(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    for i in range(12):
        new = copy.deepcopy(live)
        new["metadata"].setdefault("labels", {})[f"l{i}"] = "v"
        live = persisted(update_managed_fields(live, new, f"writer-{i:02d}", now=T0 + timedelta(seconds=i)))
    entries = live["metadata"]["managedFields"]
    assert entries[0]["operation"] == "Apply"
    updaters = [e for e in entries if e["operation"] == "Update"]
    assert len(updaters) == 10
    assert updaters[0]["manager"] == "ancient-changes"
    assert set(updaters[0]["fieldsV1"]["f:metadata"]["f:labels"]) == {".", "f:l0", "f:l1", "f:l2"}
    times = [e["time"] for e in updaters]
    assert times == sorted(times)


def test_apply_rejects_managed_fields_and_wrong_version(deployment: Node) -> None:
    cfg = config()
    cfg["metadata"]["managedFields"] = []
    with pytest.raises(ApplyError, match=r"metadata.managedFields must be nil") as info:
        apply(None, cfg, "alice", False, deployment)
    assert info.value.status == 400
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    wrong = config()
    wrong["apiVersion"] = "apps/v1beta1"
    with pytest.raises(ApplyError, match="Incorrect version specified in apply patch"):
        apply(live, wrong, "alice", False, deployment)


def test_apply_rejects_duplicate_keys_and_wrong_shapes(deployment: Node) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"].append({"name": "nginx", "image": "x"})
    with pytest.raises(ApplyError, match=r'duplicate entries for key \[name="nginx"\]'):
        apply(None, cfg, "alice", False, deployment)
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"] = {"name": "nginx"}
    with pytest.raises(ApplyError, match="expected list"):
        apply(None, cfg, "alice", False, deployment)
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"protocol": "TCP"}]
    out = apply(None, cfg, "alice", False, deployment)  # containerPort has a default (0)
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"protocol": "TCP"}]


def test_atomic_list_is_owned_whole(deployment: Node) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["tolerations"] = [{"key": "a", "operator": "Exists"}]
    out = apply(None, cfg, "alice", False, deployment, now=T0)
    spec = out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
    assert spec["f:tolerations"] == {}


def test_set_list_items_are_values(deployment: Node) -> None:
    cfg = config()
    cfg["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    out = apply(None, cfg, "alice", False, deployment, now=T0)
    meta = out["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]
    # an applied list is not itself a member, its values are
    assert meta == {"f:finalizers": {'v:"example.com/a"': {}, 'v:"example.com/b"': {}}}


def test_list_merge_keeps_live_order_and_inserts_new_items(deployment: Node) -> None:
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"] = [{"name": n, "image": "i"} for n in ("a", "b")]
    live = persisted(apply(None, cfg, "alice", False, deployment, now=T0))
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}, {"name": "b", "image": "i"}]}}
        },
    }
    out = apply(live, other, "bob", False, deployment, now=T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["a", "c", "b"]


def test_kubectl_upgrade_from_client_side_apply(deployment: Node) -> None:
    csa = config(replicas=3)
    csa["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(config(replicas=3))}
    live = persisted(update_managed_fields(None, csa, "kubectl-client-side-apply", now=T0))
    # the same conflicting change under another manager name is refused...
    with pytest.raises(ApplyConflict):
        apply(live, config(replicas=5), "someone", False, deployment, now=T1)
    # ...but kubectl may take over fields it set client-side, and it keeps the annotation in sync
    out = apply(live, config(replicas=5), "kubectl", False, deployment, now=T1)
    assert out["spec"]["replicas"] == 5
    annotation = json.loads(out["metadata"]["annotations"][LAST_APPLIED])
    assert annotation["spec"]["replicas"] == 5
    assert out["metadata"]["annotations"][LAST_APPLIED].endswith("\n")


def test_update_managed_fields_never_raises(deployment: Node) -> None:
    bad = config()
    bad["spec"]["template"]["spec"]["containers"] = ["not-a-map"]
    bad["metadata"]["managedFields"] = [{"manager": "x"}]
    out = update_managed_fields(None, bad, "kubectl-create")
    assert "managedFields" not in out["metadata"]


def test_result_does_not_alias_inputs(deployment: Node) -> None:
    live = persisted(apply(None, config(), "alice", False, deployment, now=T0))
    snapshot = copy.deepcopy(live)
    out = apply(live, config(replicas=2, image="other"), "alice", False, deployment, now=T1)
    out["spec"]["template"]["spec"]["containers"][0]["ports"].append({"containerPort": 1})
    assert live == snapshot


def test_custom_resource_apply_with_structural_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id"],
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "integer"}, "v": {"type": "string"}},
                        },
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    node = structural_root(schema)
    cr = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "b"}},
        "spec": {"items": [{"id": 1, "v": "x"}], "tags": ["t"], "free": {"nested": {"k": 1}}},
    }
    out = apply(None, cr, "alice", False, node, now=T0)
    assert out["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:a": {}}},
        "f:spec": {
            "f:free": {"f:nested": {".": {}, "f:k": {}}},
            "f:items": {'k:{"id":1}': {".": {}, "f:id": {}, "f:v": {}}},
            "f:tags": {'v:"t"': {}},
        },
    }
