"""The real kubectl against pods of this kubelet: logs (previous, timestamps, follow), exec with stdin, attach,
port-forward, postStart hooks and force deletion."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time

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
    ready,
    runtime_record,
    wait_pod,
)
from tests.support.cluster import free_port, kubectl_path

pytestmark = [pytest.mark.e2e]


async def test_logs_previous_and_timestamps(api: Client, ns: str, agent: Agent) -> None:
    script = "import os,time\nprint('run', flush=True)\ntime.sleep(0.3)\nos._exit(1)"
    await create_pod(api, ns, pod_manifest("logs", agent.node, [{"name": "c", "command": [PY, "-c", script]}]))
    await wait_pod(api, ns, "logs", lambda p: cstatus(p, "c").get("restartCount", 0) >= 1, 30, "to restart")
    k = agent.server.kubectl
    assert k("logs", "-n", ns, "logs", "--previous").stdout == "run\n"
    line = k("logs", "-n", ns, "logs", "--previous", "--timestamps").stdout.strip()
    ts, _, text = line.partition(" ")
    assert text == "run" and ts.endswith("Z") and "T" in ts
    res = k("logs", "-n", ns, "nosuchpod", check=False)
    assert res.returncode != 0 and "not found" in res.stderr


async def test_exec_stdin_attach_and_port_forward(api: Client, ns: str, agent: Agent) -> None:
    port = 8080 if not agent.rootless else free_port()
    c = {"name": "web", "command": [PY, "-m", "http.server", str(port)],
         "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}
    talker = {"name": "talk", "stdin": True, "stdinOnce": True, "command": [PY, "-u", "-c",
              "import sys\nfor line in sys.stdin: print('echo:', line.strip(), flush=True)"]}
    await create_pod(api, ns, pod_manifest("pf", agent.node, [c, talker]))
    await wait_pod(api, ns, "pf", ready, 30, "to be Ready")
    k = agent.server.kubectl
    out = k("exec", "-i", "-n", ns, "pf", "-c", "web", "--", "sh", "-c", "tr a-z A-Z", input="hello\n").stdout
    assert out == "HELLO\n"
    res = k("exec", "-n", ns, "pf", "-c", "web", "--", "sh", "-c", "exit 7", check=False)
    assert res.returncode == 7
    res = k("exec", "-n", ns, "pf", "-c", "web", "--", "no-such-binary", check=False)
    assert res.returncode != 0 and "executable file not found" in (res.stderr + res.stdout)
    # attach: what we type reaches the container's stdin, its answer comes back
    res = k("attach", "-i", "-n", ns, "pf", "-c", "talk", input="ping\n", check=False, timeout=20)
    assert "echo: ping" in res.stdout, res
    # port-forward to the pod's port from a local port
    local = free_port()
    env = dict(os.environ, KUBECONFIG=str(agent.server.kubeconfig))
    proc = await asyncio.create_subprocess_exec(
        kubectl_path("1.33"), "port-forward", "-n", ns, "pod/pf", f"{local}:{port}",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert b"Forwarding from" in line, line
        code = await asyncio.to_thread(_http_status, local)
        assert code == 200
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def _http_status(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return int(s.recv(32).decode().split()[1])


async def test_failing_post_start_hook_kills_the_container(api: Client, ns: str, agent: Agent) -> None:
    c = {"name": "c", "command": [PY, "-c", "import time\nwhile True: time.sleep(1)"],
         "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "exit 5"]}}}}
    await create_pod(api, ns, pod_manifest("hook", agent.node, [c]))
    pod = await wait_pod(api, ns, "hook", lambda p: cstatus(p, "c").get("restartCount", 0) >= 1, 30,
                         "to restart after its postStart hook failed")
    last = cstatus(pod, "c")["lastState"]["terminated"]
    assert last["reason"] == "PostStartHookError" and "PostStartHook failed" in last["message"]


async def test_force_deleted_pod_is_stopped_and_cleaned(api: Client, ns: str, agent: Agent) -> None:
    await create_pod(api, ns, pod_manifest("gone", agent.node, [{"name": "c", "command": ["sleep", "1000"]}],
                                           terminationGracePeriodSeconds=30))
    pod = await wait_pod(api, ns, "gone", ready, 20, "to be Ready")
    rec = runtime_record(agent, cstatus(pod, "c")["containerID"])
    start = time.monotonic()
    await api.delete(resource_path("", "v1", "pods", namespace=ns, name="gone"), {"gracePeriodSeconds": 0})
    assert await get_pod(api, ns, "gone") is None
    await eventually(lambda: not alive(rec["pid"]), 10, "the container of the force-deleted pod to stop")
    sandboxes = agent.data_dir / "runtime" / "sandboxes"
    await eventually(lambda: not any(sandboxes.iterdir()), 10, "its sandbox to be removed")
    assert time.monotonic() - start < 10
