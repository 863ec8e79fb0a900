"""Defaults and default admission through the API: every write path, priority classes, tolerations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        yield api


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            **spec,
        },
    }


async def test_system_priority_classes_exist(k: InProcess) -> None:
    r = await k.call("GET", PCS)
    got = {i["metadata"]["name"]: (i["value"], i["preemptionPolicy"]) for i in r.body["items"]}
    assert got == {
        "system-node-critical": (2000001000, "PreemptLowerPriority"),
        "system-cluster-critical": (2000000000, "PreemptLowerPriority"),
    }


async def test_pod_priority_and_tolerations(k: InProcess) -> None:
    r = await k.call("POST", PODS, pod("plain"))
    assert r.status == 201
    assert (r.body["spec"]["priority"], r.body["spec"]["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert [t["key"] for t in r.body["spec"]["tolerations"]] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    r = await k.call("POST", PODS, pod("crit", priorityClassName="system-node-critical"))
    assert r.status == 201 and r.body["spec"]["priority"] == 2000001000
    r = await k.call("POST", PODS, pod("nope", priorityClassName="missing"))
    assert r.status == 403 and r.body["reason"] == "Forbidden"
    assert r.body["message"] == 'pods "nope" is forbidden: no PriorityClass with name missing was found'
    r = await k.call("POST", PODS, pod("liar", priorityClassName="system-node-critical", priority=5))
    assert r.status == 403 and "must not be provided in pod spec" in r.body["message"]


async def test_global_default_priority_class(k: InProcess) -> None:
    pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
          "value": 1000, "globalDefault": True, "preemptionPolicy": "Never"}
    assert (await k.call("POST", PCS, pc)).status == 201
    r = await k.call("POST", PODS, pod("defaulted"))
    assert (r.body["spec"]["priorityClassName"], r.body["spec"]["priority"], r.body["spec"]["preemptionPolicy"]) == (
        "high", 1000, "Never")
    second = {**pc, "metadata": {"name": "other"}}
    r = await k.call("POST", PCS, second)
    assert r.status == 403
    assert r.body["message"].endswith("PriorityClass high is the default priority class. Only one default can exist")


async def test_priority_class_rules(k: InProcess) -> None:
    r = await k.call("POST", PCS, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                   "metadata": {"name": "system-mine"}, "value": 1})
    assert r.status == 422 and "reserved for system use only" in r.body["message"]
    r = await k.call("POST", PCS, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                   "metadata": {"name": "huge"}, "value": 1_000_000_001})
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "value"
    r = await k.call("POST", PCS, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                   "metadata": {"name": "low"}, "value": 1})
    assert r.status == 201
    r = await k.call("PATCH", f"{PCS}/low", raw=b'{"value":2}', content_type="application/merge-patch+json")
    assert r.status == 422 and "may not be changed in an update." in r.body["message"]


async def test_updates_and_patches_are_defaulted_without_a_generation_bump(k: InProcess) -> None:
    created = await k.call("POST", DEPLOYS, deployment("web"))
    assert created.status == 201 and created.body["metadata"]["generation"] == 1
    bare = deployment("web")
    bare["metadata"]["resourceVersion"] = created.body["metadata"]["resourceVersion"]
    r = await k.call("PUT", f"{DEPLOYS}/web", bare)
    assert r.status == 200
    assert r.body["metadata"]["generation"] == 1
    assert r.body["spec"]["revisionHistoryLimit"] == 10
    assert r.body["metadata"]["resourceVersion"] == created.body["metadata"]["resourceVersion"]  # a no-op
    patch = b'{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}}'
    r = await k.call("PATCH", f"{DEPLOYS}/web", raw=patch, content_type="application/strategic-merge-patch+json")
    assert r.status == 200 and r.body["spec"]["strategy"] == {"type": "Recreate"}
    r = await k.call("PATCH", f"{DEPLOYS}/web", raw=b'{"spec":{"strategy":null}}', content_type="application/merge-patch+json")
    assert r.status == 200, r.body
    assert r.body["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}


async def test_server_side_apply_results_are_defaulted(k: InProcess) -> None:
    body = deployment("ssa")
    r = await k.call("PATCH", f"{DEPLOYS}/ssa?fieldManager=me", body, content_type="application/apply-patch+yaml")
    assert r.status == 201
    assert r.body["spec"]["progressDeadlineSeconds"] == 600
    again = await k.call("PATCH", f"{DEPLOYS}/ssa?fieldManager=me", body, content_type="application/apply-patch+yaml")
    assert again.status == 200
    assert again.body["metadata"]["resourceVersion"] == r.body["metadata"]["resourceVersion"]
    # Defaults belong to nobody, so a second manager can take them over without a conflict.
    other = deployment("ssa", revisionHistoryLimit=3)
    r = await k.call("PATCH", f"{DEPLOYS}/ssa?fieldManager=other", other, content_type="application/apply-patch+yaml")
    assert r.status == 200, r.body
    assert r.body["spec"]["revisionHistoryLimit"] == 3


async def test_jobs_get_a_generated_selector(k: InProcess) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    r = await k.call("POST", "/apis/batch/v1/namespaces/default/jobs", job)
    assert r.status == 201, r.body
    uid = r.body["metadata"]["uid"]
    assert r.body["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert r.body["metadata"]["labels"]["job-name"] == "j"
