"""StatefulSets on hollow nodes: ordered creation with PVCs, reverse scale-down, partitioned rolling update."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.controllers.support import Obj, Watch, client, is_active, is_ready, kubectl, name_of
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e

STS = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: web}
    spec:
      replicas: 3
      serviceName: web
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: c, image: "web:1"}]}
      volumeClaimTemplates:
      - metadata: {name: data}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
    """
)


async def test_ordered_creation_reverse_scale_down_and_partitioned_update(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    created: list[str] = []
    created_while: dict[str, list[str]] = {}
    deleted: list[str] = []
    deleted_while: dict[str, list[str]] = {}

    def track(kind: str, pod: Obj) -> None:
        n = name_of(pod)
        others = [name_of(p) for p in pods.items if name_of(p) != n]
        if kind == "ADDED":
            created.append(n)
            created_while[n] = sorted(name_of(p) for p in pods.items if name_of(p) != n and is_ready(p) and is_active(p))
        if kind == "DELETED":
            deleted.append(n)
            deleted_while[n] = sorted(others)

    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=track) as pods, Watch(api, "apps", "v1", "statefulsets", ns) as sets:
            k("apply", "-f", "-", input=STS)
            await pods.until(lambda ps: sorted(name_of(p) for p in ps if is_ready(p)) == ["web-0", "web-1", "web-2"], what="3 ready")
            assert created == ["web-0", "web-1", "web-2"]
            # Each pod was created only once its predecessors were Running and Ready.
            assert created_while == {"web-0": [], "web-1": ["web-0"], "web-2": ["web-0", "web-1"]}
            for p in pods.items:
                n = name_of(p)
                assert p["spec"]["hostname"] == n and p["spec"]["subdomain"] == "web"
                assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == n
                assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == n.rsplit("-", 1)[1]
                vols = {v["name"]: v for v in p["spec"]["volumes"]}
                assert vols["data"]["persistentVolumeClaim"]["claimName"] == f"data-{n}"
            pvcs = json.loads(k("get", "pvc", "-o", "json").stdout)["items"]
            assert sorted(name_of(c) for c in pvcs) == ["data-web-0", "data-web-1", "data-web-2"]
            assert all(c["metadata"]["labels"]["app"] == "web" for c in pvcs)

            # Rolling update with partition 1: only web-2 and web-1 move, highest first.
            k("patch", "sts/web", "--type=merge", "-p", json.dumps({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}}))
            k("set", "image", "sts/web", "c=web:2")
            await pods.until(
                lambda ps: {name_of(p): p["spec"]["containers"][0]["image"] for p in ps if is_ready(p) and is_active(p)}
                == {"web-0": "web:1", "web-1": "web:2", "web-2": "web:2"},
                what="web-1 and web-2 updated, web-0 kept",
            )
            assert [d for d in deleted if d != "web-0"][:2] == ["web-2", "web-1"]
            st = (await sets.until(lambda s: s and s[0]["status"].get("updatedReplicas") == 2, what="status"))[0]["status"]
            assert st["currentRevision"] != st["updateRevision"] and st["currentReplicas"] == 1
            revs = {p["metadata"]["labels"]["controller-revision-hash"] for p in pods.items}
            assert revs == {st["currentRevision"], st["updateRevision"]}
            out = await kubectl(hollow, "-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
            assert "partitioned roll out complete: 2 new pods have been updated" in out.stdout

            deleted.clear()
            deleted_while.clear()
            k("scale", "sts/web", "--replicas=0")
            await pods.until(lambda ps: not ps, what="all pods gone")
            assert deleted == ["web-2", "web-1", "web-0"]
            # Reverse order, one at a time: each went only after the higher ordinal was gone.
            assert deleted_while == {"web-2": ["web-0", "web-1"], "web-1": ["web-0"], "web-0": []}
        pvcs = json.loads(k("get", "pvc", "-o", "json").stdout)["items"]
        assert len(pvcs) == 3, "claims are retained on scale-down"
        hist = k("rollout", "history", "sts/web").stdout
        assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["1", "2"]
    finally:
        await api.close()


async def test_parallel_pod_management(hollow: Server, ns: str) -> None:
    manifest = STS.replace("replicas: 3", "replicas: 4\n  podManagementPolicy: Parallel").replace("volumeClaimTemplates:\n- metadata: {name: data}\n  spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", "")
    seen: list[tuple[str, int]] = []
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=lambda kind, _o: seen.append((kind, sum(1 for p in pods.items if is_ready(p))))) as pods:
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=manifest)
            await pods.until(lambda ps: sum(1 for p in ps if is_ready(p)) == 4, what="4 ready")
    finally:
        await api.close()
    adds = [ready for kind, ready in seen if kind == "ADDED"]
    assert len(adds) == 4 and max(adds) < 4 and adds.count(0) >= 2, "Parallel creates without waiting for readiness"


async def test_on_delete_replaces_only_deleted_pods(hollow: Server, ns: str) -> None:
    manifest = STS.replace("replicas: 3", "replicas: 2\n  updateStrategy: {type: OnDelete}")
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods, Watch(api, "apps", "v1", "statefulsets", ns) as sets:
            k("apply", "-f", "-", input=manifest)
            await pods.until(lambda ps: sum(1 for p in ps if is_ready(p)) == 2, what="2 ready")
            k("set", "image", "sts/web", "c=web:2")
            await sets.until(lambda s: bool(s) and s[0].get("status", {}).get("updateRevision") != s[0]["status"].get("currentRevision"), what="new revision")
            assert {p["spec"]["containers"][0]["image"] for p in pods.items} == {"web:1"}, "OnDelete must not touch pods"
            k("delete", "pod", "web-1", "--wait=false")
            await pods.until(
                lambda ps: {name_of(p): p["spec"]["containers"][0]["image"] for p in ps if is_ready(p) and is_active(p)}
                == {"web-0": "web:1", "web-1": "web:2"},
                what="only the deleted pod comes back updated",
            )
    finally:
        await api.close()
