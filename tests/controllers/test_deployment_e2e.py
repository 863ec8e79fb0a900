"""Deployments on hollow nodes, driven by the real kubectl: rollouts stay inside maxSurge/maxUnavailable,
`rollout status/history/undo/pause/resume/restart` work, and the progress deadline is reported."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from kybernetes.controllers.deployutil import HASH_LABEL, REVISION
from tests.controllers.support import Obj, Watch, client, condition, is_active, is_ready, name_of
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


def manifest(name: str, replicas: int, image: str = "nginx:1", extra_spec: str = "", pod_annotations: str = "{}") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          {extra_spec}
          template:
            metadata: {{labels: {{app: {name}}}, annotations: {pod_annotations}}}
            spec: {{containers: [{{name: c, image: "{image}"}}]}}
        """
    )


def get(srv: Server, ns: str, *what: str) -> Any:
    return json.loads(srv.kubectl("-n", ns, "get", *what, "-o", "json").stdout)


def image_of(pod: Obj) -> str:
    return str(pod["spec"]["containers"][0]["image"])


async def test_rolling_update_stays_within_surge_and_unavailability(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=manifest("web", 2))
    k("scale", "deploy/web", "--replicas=10")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=60s").stdout

    worst = {"active": 0, "ready": 10, "rs_total": 0}

    def pods_changed(_kind: str, _obj: Obj) -> None:
        items = pods.items
        active = [p for p in items if is_active(p)]
        worst["active"] = max(worst["active"], len(active))
        worst["ready"] = min(worst["ready"], sum(1 for p in active if is_ready(p)))

    def rs_changed(_kind: str, _obj: Obj) -> None:
        worst["rs_total"] = max(worst["rs_total"], sum(int(r["spec"].get("replicas") or 0) for r in replicasets.items))

    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=pods_changed) as pods, Watch(
            api, "apps", "v1", "replicasets", ns, on_event=rs_changed
        ) as replicasets:
            await pods.until(lambda ps: sum(1 for p in ps if is_active(p) and is_ready(p)) == 10, what="10 ready pods")
            worst.update(active=10, ready=10)
            k("set", "image", "deploy/web", "c=nginx:2")
            out = k("rollout", "status", "deploy/web", "--timeout=90s")
            assert "successfully rolled out" in out.stdout
            final = await pods.until(
                lambda ps: sorted(image_of(p) for p in ps if is_active(p)) == ["nginx:2"] * 10
                and len(ps) == 10,
                what="ten nginx:2 pods and nothing else",
            )
            assert all(is_ready(p) for p in final)
    finally:
        await api.close()
    # 25% of 10: maxSurge rounds up to 3, maxUnavailable down to 2.
    assert worst["active"] <= 13, worst
    assert worst["rs_total"] <= 13, worst
    assert worst["ready"] >= 8, worst
    assert worst["active"] > 10, "the rollout never used its surge"

    dep = get(hollow, ns, "deploy/web")
    st = dep["status"]
    assert st["observedGeneration"] == dep["metadata"]["generation"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (10, 10, 10, 10)
    assert "unavailableReplicas" not in st
    assert condition(dep, "Available")["reason"] == "MinimumReplicasAvailable"  # type: ignore[index]
    assert condition(dep, "Progressing")["reason"] == "NewReplicaSetAvailable"  # type: ignore[index]
    assert dep["metadata"]["annotations"][REVISION] == "2"
    rss = get(hollow, ns, "rs")["items"]
    assert sorted((r["metadata"]["annotations"][REVISION], r["spec"]["replicas"]) for r in rss) == [("1", 0), ("2", 10)]
    for r in rss:
        h = r["metadata"]["labels"][HASH_LABEL]
        assert r["metadata"]["name"] == f"web-{h}" and r["spec"]["selector"]["matchLabels"][HASH_LABEL] == h
        assert r["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]

    hist = k("rollout", "history", "deploy/web").stdout
    assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["1", "2"]
    assert "nginx:1" in k("rollout", "history", "deploy/web", "--revision=1").stdout

    first_rs = next(r["metadata"]["name"] for r in rss if r["metadata"]["annotations"][REVISION] == "1")
    k("rollout", "undo", "deploy/web")
    assert "successfully rolled out" in k("rollout", "status", "deploy/web", "--timeout=90s").stdout
    dep = get(hollow, ns, "deploy/web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert dep["metadata"]["annotations"][REVISION] == "3"
    revived = get(hollow, ns, f"rs/{first_rs}")
    assert revived["spec"]["replicas"] == 10 and revived["metadata"]["annotations"][REVISION] == "3"
    assert revived["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    hist = k("rollout", "history", "deploy/web").stdout
    assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["2", "3"]


async def test_scaling_mid_rollout_is_proportional(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=manifest("prop", 10))
    k("rollout", "status", "deploy/prop", "--timeout=60s")
    # The new template never becomes ready, so the rollout parks at surge.
    k("patch", "deploy/prop", "--type=merge", "-p",
      json.dumps({"spec": {"template": {"metadata": {"annotations": {"hollow.kybernetes.io/ready": "false"}}}}}))
    api = client(hollow)
    try:
        async with Watch(api, "apps", "v1", "replicasets", ns) as rs:
            def sizes(items: list[Obj]) -> list[int]:
                by_rev = sorted(items, key=lambda r: int(r["metadata"]["annotations"].get(REVISION, "0")))
                return [int(r["spec"]["replicas"]) for r in by_rev]

            # Surge 3 and unavailable 2: the old set goes to 8, which frees room for the new one to reach 5; with
            # nothing new ever available, that is where the rollout stops.
            await rs.until(lambda items: sizes(items) == [8, 5], what="old 8 / new 5")
            k("scale", "deploy/prop", "--replicas=20")
            # 20 + surge 5 = 25 in total, spread by each set's share of the previous 13 (rounded half away from 0).
            got = await rs.until(lambda items: sum(sizes(items)) == 25, what="25 replicas in total")
            assert sizes(got) == [round(8 * 25 / 13), round(5 * 25 / 13)] == [15, 10]
    finally:
        await api.close()


async def test_progress_deadline_exceeded_is_reported(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=manifest("stuck", 2, extra_spec="progressDeadlineSeconds: 2",
                                          pod_annotations='{"hollow.kybernetes.io/ready": "false"}'))
    out = k("rollout", "status", "deploy/stuck", "--timeout=60s", check=False)
    assert out.returncode != 0
    assert 'deployment "stuck" exceeded its progress deadline' in out.stderr
    dep = get(hollow, ns, "deploy/stuck")
    prog = condition(dep, "Progressing")
    assert prog is not None and (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert condition(dep, "Available")["status"] == "False"  # type: ignore[index]
    assert dep["status"]["unavailableReplicas"] == 2


async def test_recreate_never_runs_old_and_new_together(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=manifest("rec", 3, extra_spec="strategy: {type: Recreate}"))
    k("rollout", "status", "deploy/rec", "--timeout=60s")
    mixed: list[list[str]] = []

    def check(_kind: str, _obj: Obj) -> None:
        images = {image_of(p) for p in pods.items}
        if len(images) > 1:
            mixed.append(sorted(name_of(p) for p in pods.items))

    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=check) as pods:
            k("set", "image", "deploy/rec", "c=nginx:2")
            assert "successfully rolled out" in k("rollout", "status", "deploy/rec", "--timeout=60s").stdout
            await pods.until(lambda ps: [image_of(p) for p in ps if is_ready(p)] == ["nginx:2"] * 3, what="3 new pods")
    finally:
        await api.close()
    assert not mixed, f"old and new pods existed together: {mixed[:3]}"


async def test_pause_resume_restart_and_history_limit(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=manifest("pz", 2, extra_spec="revisionHistoryLimit: 1"))
    k("rollout", "status", "deploy/pz", "--timeout=60s")
    k("rollout", "pause", "deploy/pz")
    k("set", "image", "deploy/pz", "c=nginx:2")
    api = client(hollow)
    try:
        async with Watch(api, "apps", "v1", "deployments", ns) as deps:
            paused = await deps.until(
                lambda ds: ds and ds[0]["status"].get("observedGeneration") == ds[0]["metadata"]["generation"]
                and (condition(ds[0], "Progressing") or {}).get("reason") == "DeploymentPaused",
                what="paused deployment observed",
            )
            assert paused[0]["metadata"]["annotations"][REVISION] == "1"
        assert len(get(hollow, ns, "rs")["items"]) == 1, "a paused deployment must not roll"
        k("rollout", "resume", "deploy/pz")
        k("rollout", "status", "deploy/pz", "--timeout=60s")
        k("rollout", "restart", "deploy/pz")
        k("rollout", "status", "deploy/pz", "--timeout=60s")
        async with Watch(api, "apps", "v1", "replicasets", ns) as rs:
            # revisionHistoryLimit 1: the current set and one old one.
            left = await rs.until(lambda items: len(items) == 2, what="history trimmed to one old replica set")
        dep = get(hollow, ns, "deploy/pz")
        assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]
        assert sorted(r["metadata"]["annotations"][REVISION] for r in left) == ["2", "3"]
    finally:
        await api.close()
