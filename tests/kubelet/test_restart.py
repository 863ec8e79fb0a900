"""A restarted kubelet re-adopts the pods it left running: same containers, same processes, counted once."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from kybernetes.client.rest import Client
from tests.kubelet.conftest import (
    PY,
    Agent,
    alive,
    create_pod,
    cstatus,
    get_pod,
    need_root,
    new_agent,
    pod_manifest,
    ready,
    runtime_record,
    wait_pod,
)
from tests.support.cluster import Server

pytestmark = [pytest.mark.e2e]


@pytest.fixture(params=["root", "rootless"])
def agent(request: pytest.FixtureRequest, kserver: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    if request.param == "root":
        need_root()
    a = new_agent(kserver, tmp_path_factory.mktemp("agent"), request.param == "rootless")
    try:
        yield a
    finally:
        # Whatever happened, end with an agent that stops (and removes) every pod it still has.
        a.stop()
        a.start(stop_pods=True)
        a.stop()
        left = a.leftovers()
        assert not left, "the agent left things behind:\n" + "\n".join(left) + "\n" + "".join(a.output[-80:])


def container_processes(agent: Agent) -> list[int]:
    """Live processes started by this agent's shims (each container's main process), found from /proc."""
    cmd: dict[int, bytes] = {}
    ppid: dict[int, int] = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd[int(pid)] = f.read()
                with open(f"/proc/{pid}/stat", "rb") as f:
                    ppid[int(pid)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
    marker = str(agent.data_dir).encode()

    def is_shim(pid: int) -> bool:
        return b"shim.py" in cmd.get(pid, b"") and marker in cmd.get(pid, b"")

    return [p for p in cmd if is_shim(ppid.get(p, 0)) and not is_shim(p) and alive(p)]


def snapshot(pod: dict[str, object] | None) -> dict[str, object]:
    assert pod is not None
    st = pod["status"]
    assert isinstance(st, dict)
    return {
        "containers": [
            (c["name"], c["containerID"], c["restartCount"], c["state"], c["ready"]) for c in st["containerStatuses"]
        ],
        "conditions": sorted((c["type"], c["status"], c["lastTransitionTime"]) for c in st["conditions"]),
        "podIP": st.get("podIP"),
        "startTime": st.get("startTime"),
    }


async def test_restarted_kubelet_keeps_pods_running_unchanged(api: Client, agent: Agent, ns: str) -> None:
    port = 18000 + os.getpid() % 1000 if agent.rootless else 8080
    web = {
        "name": "web",
        "command": [PY, "-m", "http.server", str(port)],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
    }
    side = {"name": "side", "command": [PY, "-c", "import time\nwhile True: time.sleep(1)"]}
    agent.start(stop_pods=False)
    await create_pod(api, ns, pod_manifest("keep", agent.node, [web, side]))
    pod = await wait_pod(api, ns, "keep", ready, 30, "to be Ready")
    # One restart before the kubelet restart, so the count has something to keep.
    os.kill(runtime_record(agent, cstatus(pod, "side")["containerID"])["pid"], signal.SIGKILL)
    pod = await wait_pod(api, ns, "keep", lambda p: ready(p) and cstatus(p, "side").get("restartCount") == 1, 20)
    before = snapshot(pod)
    assert pod is not None
    rv = pod["metadata"]["resourceVersion"]
    pids = {n: runtime_record(agent, cstatus(pod, n)["containerID"])["pid"] for n in ("web", "side")}
    assert sorted(container_processes(agent)) == sorted(pids.values())

    for i, how in enumerate(("kill -9", "SIGTERM")):
        if how == "kill -9":
            agent.kill9()
        else:
            agent.stop()
        assert all(alive(p) for p in pids.values()), f"pods must survive the kubelet ({how})"
        agent.start(stop_pods=False)
        # A pod created now is Ready only once the new kubelet has synced everything it found.
        await create_pod(api, ns, pod_manifest(f"probe-{i}", agent.node, [dict(side)]))
        await wait_pod(api, ns, f"probe-{i}", ready, 30, "to be Ready on the new kubelet")
        pod = await get_pod(api, ns, "keep")
        assert snapshot(pod) == before, how
        assert pod is not None and pod["metadata"]["resourceVersion"] == rv, "no status write for an unchanged pod"
        assert all(alive(p) for p in pids.values())
        assert len(container_processes(agent)) == 3 + i, "no container was started twice"

    # A container that dies while the kubelet is down is restarted once the kubelet is back, and counted once.
    agent.kill9()
    os.kill(pids["web"], signal.SIGKILL)
    agent.start(stop_pods=True)
    pod = await wait_pod(api, ns, "keep", lambda p: ready(p) and cstatus(p, "web").get("restartCount") == 1, 30,
                         "to restart the container that died meanwhile")
    assert cstatus(pod, "web")["lastState"]["terminated"]["exitCode"] == 137
    assert cstatus(pod, "side")["restartCount"] == 1
    assert alive(pids["side"])
