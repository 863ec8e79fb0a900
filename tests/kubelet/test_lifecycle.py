"""Pod lifecycle on a real node agent, in root and rootless mode: restarts, back-off, probes, hooks, deletion."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from kybernetes.client.rest import Client, resource_path
from tests.kubelet.conftest import (
    PY,
    Agent,
    alive,
    create_pod,
    cstatus,
    eventually,
    get_pod,
    pod_manifest,
    read,
    ready,
    runtime_record,
    wait_pod,
)

pytestmark = [pytest.mark.e2e]


def scratch() -> Path:
    d = Path("/tmp") / f"kybt-{uuid.uuid4().hex[:8]}"
    return d


def sleeper(name: str = "main", extra: str = "") -> dict[str, object]:
    return {"name": name, "command": [PY, "-c", f"import time\n{extra}\nwhile True: time.sleep(0.2)"]}


async def test_container_without_command_waits_with_a_clear_reason(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("nocmd", agent.node, [{"name": "nginx", "image": "nginx"}]))
    pod = await wait_pod(
        api, ns, "nocmd", lambda p: cstatus(p, "nginx").get("state", {}).get("waiting", {}).get("reason")
        == "CreateContainerConfigError", 20, "to report CreateContainerConfigError",
    )
    msg = cstatus(pod, "nginx")["state"]["waiting"]["message"]
    assert "needs an explicit command" in msg and "container runtime" in msg
    assert pod is not None and pod["status"]["phase"] == "Pending"


async def test_kill_9_restarts_the_container(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("k9", agent.node, [sleeper()]))
    pod = await wait_pod(api, ns, "k9", ready, 20, "to be Ready")
    first = cstatus(pod, "main")
    pid = runtime_record(agent, first["containerID"])["pid"]
    os.kill(pid, signal.SIGKILL)
    pod = await wait_pod(api, ns, "k9", lambda p: cstatus(p, "main").get("restartCount") == 1 and ready(p), 20,
                         "to restart once")
    st = cstatus(pod, "main")
    assert st["containerID"] != first["containerID"]
    last = st["lastState"]["terminated"]
    assert last["exitCode"] == 137 and last["reason"] == "Error" and last["containerID"] == first["containerID"]
    assert not alive(pid)
    assert alive(runtime_record(agent, st["containerID"])["pid"])


async def test_crashing_container_backs_off_with_growing_delays(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("crash", agent.node, [{"name": "c", "command": ["sh", "-c", "exit 3"]}]))
    seen: dict[int, float] = {}
    backoff_seen = False

    def watch(p: dict[str, object] | None) -> bool:
        nonlocal backoff_seen
        st = cstatus(p, "c")
        n = int(st.get("restartCount", 0))
        seen.setdefault(n, time.monotonic())
        w = st.get("state", {}).get("waiting", {})
        if w.get("reason") == "CrashLoopBackOff":
            backoff_seen = True
            assert "back-off" in w["message"] and "restarting failed container=c" in w["message"]
        return n >= 4

    pod = await wait_pod(api, ns, "crash", watch, 30, "to restart 4 times")
    assert backoff_seen
    # The first restart is immediate, then the delays are 0.5, 1, 2 s (base 0.5 s, doubling).
    gaps = [seen[i + 1] - seen[i] for i in range(1, 4)]
    assert 0.5 <= gaps[0] < gaps[1] < gaps[2], gaps
    assert gaps[1] >= 1.0 and gaps[2] >= 2.0, gaps
    last = cstatus(pod, "c")["lastState"]["terminated"]
    assert last["exitCode"] == 3 and last["reason"] == "Error"
    assert pod is not None and pod["status"]["phase"] == "Running"


async def test_failing_liveness_probe_restarts(api: Client, ns: str, agent: Agent) -> None:
    c = sleeper()
    c["livenessProbe"] = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    await create_pod(api, ns, pod_manifest("live", agent.node, [c]))
    pod = await wait_pod(api, ns, "live", lambda p: cstatus(p, "main").get("restartCount", 0) >= 1, 30,
                         "to be restarted by its liveness probe")
    assert cstatus(pod, "main")["lastState"]["terminated"]["exitCode"] in (137, 143)
    events = await api.get(resource_path("", "v1", "events", namespace=ns))
    reasons = {(e["reason"], e["message"].split(":")[0]) for e in events["items"]}
    assert ("Unhealthy", "Liveness probe failed") in reasons


async def test_readiness_follows_the_probe(api: Client, ns: str, agent: Agent) -> None:
    d = scratch()
    flag = d / "ready"
    c = sleeper()
    c["readinessProbe"] = {"exec": {"command": ["test", "-f", str(flag)]}, "periodSeconds": 1}
    m = pod_manifest("rdy", agent.node, [c])
    await create_pod(api, ns, m)
    pod = await wait_pod(api, ns, "rdy", lambda p: cstatus(p, "main").get("started") is True, 20, "to start")
    assert not ready(pod)
    d.mkdir()
    try:
        flag.touch()
        await wait_pod(api, ns, "rdy", ready, 10, "to become Ready")
        flag.unlink()
        pod = await wait_pod(api, ns, "rdy", lambda p: not ready(p), 10, "to become unready")
        assert cstatus(pod, "main")["restartCount"] == 0
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")  # type: ignore[index]
        assert cond["reason"] == "ContainersNotReady"
    finally:
        flag.unlink(missing_ok=True)
        d.rmdir()


async def test_delete_runs_prestop_then_sigterm_then_sigkill(api: Client, ns: str, agent: Agent) -> None:
    d = scratch()
    d.mkdir()
    try:
        marker = d / "order"
        # A shell that notes SIGTERM and goes on, with children, so only SIGKILL after the grace ends it.
        script = (
            f"trap 'echo term >> {marker}' TERM; sleep 1000 & sleep 1000 & "
            "while true; do sleep 0.1; done"
        )
        c = {
            "name": "main",
            "command": ["sh", "-c", script],
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", f"echo prestop >> {marker}"]}}},
        }
        await create_pod(api, ns, pod_manifest("graceful", agent.node, [c], terminationGracePeriodSeconds=3))
        pod = await wait_pod(api, ns, "graceful", ready, 20, "to be Ready")
        rec = runtime_record(agent, cstatus(pod, "main")["containerID"])
        tree = _tree(rec["pid"])
        assert len(tree) >= 3
        start = time.monotonic()
        await api.delete(resource_path("", "v1", "pods", namespace=ns, name="graceful"))
        await wait_pod(api, ns, "graceful", lambda p: p is None, 30, "to be deleted")
        took = time.monotonic() - start
        assert marker.read_text().split() == ["prestop", "term"]
        assert 2.9 <= took < 15, took
        assert not [p for p in tree if alive(p)], "processes of the pod survived"
        log = Path(rec["log_path"])
        await eventually(lambda: not log.exists(), 10, "the logs of the deleted pod to be removed")
    finally:
        for p in d.iterdir():
            p.unlink()
        d.rmdir()


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(name))
    out = [pid]
    for p in out:
        out.extend(children.get(p, []))
    return out


async def test_configmap_volume_follows_updates(api: Client, ns: str, agent: Agent) -> None:
    cm_path = resource_path("", "v1", "configmaps", namespace=ns)
    await api.create(cm_path, {"metadata": {"name": "cfg"}, "data": {"greeting": "hello"}})
    mount = scratch() / "cfg"
    reader = (
        "import time,sys\n"
        f"p='{mount}/greeting'\n"
        "last=None\n"
        "while True:\n"
        "    try: v=open(p).read()\n"
        "    except OSError as e: v='ERR '+str(e)\n"
        "    if v!=last: print('value:', v, flush=True); last=v\n"
        "    time.sleep(0.1)\n"
    )
    m = pod_manifest(
        "cmpod", agent.node, [{"name": "r", "command": [PY, "-c", reader], "volumeMounts": [{"name": "c", "mountPath": str(mount)}]}],
        volumes=[{"name": "c", "configMap": {"name": "cfg"}}],
    )
    await create_pod(api, ns, m)
    pod = await wait_pod(api, ns, "cmpod", ready, 20, "to be Ready")
    log = Path(runtime_record(agent, cstatus(pod, "r")["containerID"])["log_path"])
    await _wait_log(log, "value: hello", 10)
    await api.patch(f"{cm_path}/cfg", {"data": {"greeting": "bonjour"}})
    await _wait_log(log, "value: bonjour", 60)
    if agent.rootless is False:
        assert not mount.parent.exists() or mount.exists()  # the mount point exists on the host only while in use


async def _wait_log(path: Path, text: str, timeout: float) -> None:
    await eventually(lambda: text in read(path), timeout, f"{text!r} in {path}")


async def test_init_containers_run_in_order_then_the_app(api: Client, ns: str, agent: Agent) -> None:
    d = scratch()
    shared = d / "shared"
    m = pod_manifest(
        "inits",
        agent.node,
        [{"name": "app", "command": ["sh", "-c", f"cat {shared}/order; sleep 1000"],
          "volumeMounts": [{"name": "s", "mountPath": str(shared)}]}],
        initContainers=[
            {"name": "one", "command": ["sh", "-c", f"echo one >> {shared}/order"],
             "volumeMounts": [{"name": "s", "mountPath": str(shared)}]},
            {"name": "two", "command": ["sh", "-c", f"echo two >> {shared}/order"],
             "volumeMounts": [{"name": "s", "mountPath": str(shared)}]},
        ],
        volumes=[{"name": "s", "emptyDir": {}}],
    )
    await create_pod(api, ns, m)
    pod = await wait_pod(api, ns, "inits", ready, 20, "to be Ready")
    assert pod is not None
    inits = pod["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
    log = Path(runtime_record(agent, cstatus(pod, "app")["containerID"])["log_path"])
    await _wait_log(log, "F two", 5)
    assert "F one" in read(log).split("F two")[0]


async def test_restart_policies_end_in_the_right_phase(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("never", agent.node, [{"name": "c", "command": ["sh", "-c", "exit 2"]}],
                                           restartPolicy="Never"))
    await create_pod(api, ns, pod_manifest("onfail", agent.node, [{"name": "c", "command": ["true"]}],
                                           restartPolicy="OnFailure"))
    failed = await wait_pod(api, ns, "never", lambda p: (p or {}).get("status", {}).get("phase") == "Failed", 20)
    ok = await wait_pod(api, ns, "onfail", lambda p: (p or {}).get("status", {}).get("phase") == "Succeeded", 20)
    assert cstatus(failed, "c")["state"]["terminated"]["exitCode"] == 2
    assert cstatus(failed, "c")["restartCount"] == 0
    assert cstatus(ok, "c")["state"]["terminated"]["reason"] == "Completed"
    conds = {c["type"]: c for c in ok["status"]["conditions"]}  # type: ignore[index]
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "PodCompleted"
    # Logs of a finished pod stay readable through the API until it is deleted.
    out = agent.server.kubectl("logs", "-n", ns, "never").stdout
    assert out == ""
    assert await get_pod(api, ns, "never") is not None


async def test_sidecar_init_container_keeps_running(api: Client, ns: str, agent: Agent) -> None:
    m = pod_manifest(
        "sidecar", agent.node, [sleeper("app")],
        initContainers=[{**sleeper("side"), "restartPolicy": "Always"}],
    )
    await create_pod(api, ns, m)
    pod = await wait_pod(api, ns, "sidecar", ready, 20, "to be Ready")
    assert pod is not None
    side = pod["status"]["initContainerStatuses"][0]
    assert "running" in side["state"] and side["ready"] and side["started"]
    init = next(c for c in pod["status"]["conditions"] if c["type"] == "Initialized")
    assert init["status"] == "True"


async def test_active_deadline_fails_the_pod(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("deadline", agent.node, [sleeper()], activeDeadlineSeconds=2))
    pod = await wait_pod(api, ns, "deadline", lambda p: (p or {}).get("status", {}).get("phase") == "Failed", 20,
                         "to fail at its deadline")
    assert pod is not None and pod["status"]["reason"] == "DeadlineExceeded"
    assert "terminated" in cstatus(pod, "main")["state"]
