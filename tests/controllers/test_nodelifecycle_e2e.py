"""A hollow node whose heartbeat stops goes NotReady (Unknown), is tainted, and its pods are evicted (after their
tolerationSeconds) and recreated elsewhere; daemon pods stay; it recovers when the heartbeat returns. Pods of a
deleted node are collected by the pod GC, and so are finished pods beyond the threshold (without the Job that
ran them losing count). Runs on its own server with short timeouts."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest

from kybernetes.controllers.pods import ts
from tests.controllers.support import (
    Obj,
    Watch,
    client,
    condition,
    hollow_server,
    is_active,
    is_ready,
    kubectl,
    name_of,
    new_namespace,
)
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e

ENV = {
    "KYB_NODE_MONITOR_GRACE_PERIOD": "3",
    "KYB_NODE_MONITOR_PERIOD": "0.5",
    "KYB_HOLLOW_HEARTBEAT_INTERVAL": "1",
    "KYB_POD_GC_PERIOD": "0.5",
    "KYB_POD_GC_QUARANTINE": "1",
    "KYB_TERMINATED_POD_GC_THRESHOLD": "3",
    "KYB_HOLLOW_JOB_DURATION": "0.2",
}

WORKLOADS = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 6
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers: [{name: c, image: x}]
          tolerations:
          - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
          - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec: {containers: [{name: c, image: x}]}
    """
)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hollow_server(tmp_path_factory.mktemp("kyb-lifecycle"), 3, ENV) as srv:
        yield srv


def on(node: str, pods: list[Obj], app: str) -> list[Obj]:
    return [p for p in pods if p["spec"].get("nodeName") == node and p["metadata"]["labels"].get("app") == app]


async def test_dead_node_is_tainted_and_its_pods_evicted_and_replaced(lifecycle: Server) -> None:
    ns = new_namespace(lifecycle)
    lifecycle.kubectl("-n", ns, "apply", "-f", "-", input=WORKLOADS)
    api = client(lifecycle)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods, Watch(api, "", "v1", "nodes", label_selector="type=hollow") as nodes:
            await pods.until(lambda ps: sum(1 for p in ps if is_ready(p)) == 9, what="6 web + 3 agent pods ready")
            victim = max({p["spec"]["nodeName"] for p in pods.items}, key=lambda n: len(on(n, pods.items, "web")))
            doomed = {name_of(p) for p in on(victim, pods.items, "web")}
            assert doomed
            await kubectl(lifecycle, "annotate", "node", victim, "hollow.kybernetes.io/heartbeat=stopped")

            def dead(_: list[Obj]) -> bool:
                n = nodes.get(victim)
                ready = condition(n, "Ready") if n else None
                keys = {(t["key"], t["effect"]) for t in (n or {}).get("spec", {}).get("taints", [])}
                return bool(ready and ready["status"] == "Unknown") and keys == {
                    ("node.kubernetes.io/unreachable", "NoSchedule"),
                    ("node.kubernetes.io/unreachable", "NoExecute"),
                }

            await nodes.until(dead, what=f"{victim} Unknown and tainted unreachable")
            node = nodes.get(victim)
            assert node is not None
            ready = condition(node, "Ready")
            assert ready is not None and ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
            tainted_at = ts(next(t["timeAdded"] for t in node["spec"]["taints"] if t["effect"] == "NoExecute"))

            def replaced(ps: list[Obj]) -> bool:
                web = [p for p in ps if p["metadata"]["labels"]["app"] == "web" and is_active(p)]
                return (
                    all(p["metadata"].get("deletionTimestamp") for p in ps if name_of(p) in doomed)
                    and len(web) == 6 and all(is_ready(p) and p["spec"]["nodeName"] != victim for p in web)
                )

            got = await pods.until(replaced, what="evicted web pods replaced on live nodes")
            for p in got:
                if name_of(p) in doomed:
                    assert ts(p["metadata"]["deletionTimestamp"]) - tainted_at >= 1, "evicted before tolerationSeconds"
                    assert (condition(p, "DisruptionTarget") or {}).get("reason") == "DeletionByTaintManager"
                    assert (condition(p, "Ready") or {}).get("status") == "False"
            agent = on(victim, got, "agent")
            assert len(agent) == 1 and not agent[0]["metadata"].get("deletionTimestamp"), "daemon pods tolerate unreachable"

            # The heartbeat comes back: Ready, untainted, and the evicted pods finish terminating.
            await kubectl(lifecycle, "annotate", "node", victim, "hollow.kybernetes.io/heartbeat-")
            await nodes.until(
                lambda _: (condition(nodes.get(victim) or {}, "Ready") or {}).get("status") == "True"
                and not (nodes.get(victim) or {}).get("spec", {}).get("taints"),
                what=f"{victim} Ready again",
            )
            await pods.until(lambda ps: not any(name_of(p) in doomed for p in ps), what="evicted pods gone")
    finally:
        await api.close()


async def test_pods_of_a_deleted_node_are_collected(lifecycle: Server) -> None:
    ns = new_namespace(lifecycle)
    lifecycle.kubectl("-n", ns, "apply", "-f", "-", input=WORKLOADS.split("---")[0].replace("replicas: 6", "replicas: 3"))
    api = client(lifecycle)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods:
            await pods.until(lambda ps: sum(1 for p in ps if is_ready(p)) == 3, what="3 pods ready")
            victim = pods.items[0]["spec"]["nodeName"]
            orphans = {name_of(p) for p in pods.items if p["spec"]["nodeName"] == victim}
            await kubectl(lifecycle, "delete", "node", victim)
            await pods.until(lambda ps: not any(name_of(p) in orphans for p in ps), what="pods of the deleted node force-deleted")
            nodes = json.loads(lifecycle.kubectl("get", "nodes", "-o", "json").stdout)["items"]
            assert victim not in {name_of(n) for n in nodes}
    finally:
        await api.close()


async def test_finished_pods_beyond_the_threshold_are_collected_and_jobs_still_count(lifecycle: Server) -> None:
    ns = new_namespace(lifecycle)
    job = textwrap.dedent(
        """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: many}
        spec:
          completions: 8
          parallelism: 4
          template:
            spec: {restartPolicy: Never, containers: [{name: c, image: x}]}
        """
    )
    api = client(lifecycle)
    try:
        async with Watch(api, "batch", "v1", "jobs", ns) as jobs, Watch(api, "", "v1", "pods", ns) as pods:
            await kubectl(lifecycle, "-n", ns, "apply", "-f", "-", input=job)
            done = await jobs.until(lambda js: bool(js) and (condition(js[0], "Complete") or {}).get("status") == "True", what="job complete")
            assert done[0]["status"]["succeeded"] == 8, "the tracking finalizer keeps collected pods counted"
            await pods.until(lambda ps: len(ps) <= 3, what="finished pods trimmed to the threshold of 3")
    finally:
        await api.close()
