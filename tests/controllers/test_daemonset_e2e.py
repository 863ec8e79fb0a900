"""DaemonSets on hollow nodes: exactly one pod per eligible node (a late node included), none where a taint is
not tolerated, pods pinned by node affinity and bound by the scheduler; rolling update and undo."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from kybernetes.controllers.nodematch import target_node
from kybernetes.hollow import HollowNodePool
from tests.controllers.support import Obj, Watch, client, is_active, is_ready, kubectl
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e

DS = textwrap.dedent(
    """
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          nodeSelector: {kubernetes.io/os: linux}
          containers: [{name: c, image: "agent:1"}]
    """
)


def per_node(pods: list[Obj]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in pods:
        if is_active(p):
            out[target_node(p)] = out.get(target_node(p), 0) + 1
    return out


async def test_one_pod_per_eligible_node_including_a_late_one(hollow: Server, ns: str) -> None:
    async def k(*a: str, **kw: object) -> Any:
        return await kubectl(hollow, *a, **kw)

    nodes = sorted(n["metadata"]["name"] for n in json.loads((await k("get", "nodes", "-l", "type=hollow", "-o", "json")).stdout)["items"])
    tainted = nodes[0]
    await k("taint", "node", tainted, "dedicated=db:NoSchedule")
    api = client(hollow)
    late = HollowNodePool(client(hollow), 1, name_prefix=f"late-{ns}-", first_index=200, heartbeat_interval=5)
    try:
        await k("-n", ns, "apply", "-f", "-", input=DS)
        eligible = set(nodes) - {tainted}
        async with Watch(api, "", "v1", "pods", ns) as pods:
            got = await pods.until(
                lambda ps: per_node(ps) == dict.fromkeys(eligible, 1) and all(is_ready(p) for p in ps if is_active(p)),
                what=f"one ready pod on each of {sorted(eligible)}",
            )
            for p in got:
                terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [p["spec"]["nodeName"]]}]}]
                assert any(t.get("key") == "node.kubernetes.io/unreachable" and t.get("effect") == "NoExecute" for t in p["spec"]["tolerations"])
                assert p["metadata"]["labels"]["controller-revision-hash"]
            await late.start()
            newcomer = next(iter(late.nodes))
            eligible.add(newcomer)
            await pods.until(
                lambda ps: per_node(ps) == dict.fromkeys(eligible, 1)
                and any(p["spec"].get("nodeName") == newcomer and is_ready(p) for p in ps),
                what=f"a ready daemon pod on the late node {newcomer}",
            )
            ds = json.loads((await k("-n", ns, "get", "ds", "agent", "-o", "json")).stdout)
            st = ds["status"]
            assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberMisscheduled"]) == (len(eligible), len(eligible), 0)

            await k("-n", ns, "set", "image", "ds/agent", "c=agent:2")
            assert "successfully rolled out" in (await k("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")).stdout
            await pods.until(
                lambda ps: sorted(p["spec"]["containers"][0]["image"] for p in ps if is_active(p)) == ["agent:2"] * len(eligible),
                what="every daemon pod on agent:2",
            )
            assert [ln.split()[0] for ln in (await k("-n", ns, "rollout", "history", "ds/agent")).stdout.splitlines()[2:] if ln.strip()] == ["1", "2"]
            await k("-n", ns, "rollout", "undo", "ds/agent")
            await pods.until(
                lambda ps: sorted(p["spec"]["containers"][0]["image"] for p in ps if is_active(p)) == ["agent:1"] * len(eligible),
                what="undo back to agent:1",
            )
            # Labelling a node out of the selector removes its pod.
            await k("label", "node", newcomer, "kubernetes.io/os=plan9", "--overwrite")
            eligible.discard(newcomer)
            await pods.until(lambda ps: per_node(ps) == dict.fromkeys(eligible, 1), what="no pod on the relabelled node")
    finally:
        await late.stop()
        await api.close()
        for name in late.nodes:  # a stopped node would otherwise attract other tests' pods
            await k("delete", "node", name, "--wait=false", check=False)
        await k("taint", "node", tainted, "dedicated-", check=False)
