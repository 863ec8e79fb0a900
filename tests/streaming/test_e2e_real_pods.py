"""The streaming subresources against real pods: `kyb server`'s own kubelet and process runtime (no test runtime).

Same kubectl matrix as test_e2e_kubectl (1.27 SPDY, 1.33 WebSocket, 1.33 forced SPDY), but the pods are started by
the kubelet (in root mode each in its own namespaces), so this also checks the wiring: node status advertising the
kubelet port, the kubelet's serving certificate, its StreamingRuntime.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.streaming.ptyrun import run_in_pty
from tests.support.cluster import Server, free_port, kubectl_path, running_server

pytestmark = pytest.mark.e2e

FORCE_SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
TRANSPORTS = [
    pytest.param("1.27", {}, id="1.27-spdy"),
    pytest.param("1.33", {}, id="1.33-websocket"),
    pytest.param("1.33", FORCE_SPDY, id="1.33-spdy"),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("kyb-real-pods"), "sqlite") as s:
        yield s


def kubectl_cmd(srv: Server, *args: str, version: str = "1.33",
                extra: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    srv.kubectl("version", "--client", version=version)
    assert srv.cache_dir is not None
    import os

    env = dict(os.environ, KUBECONFIG=str(srv.kubeconfig), HOME=str(srv.cache_dir), **(extra or {}))
    return [kubectl_path(version), f"--cache-dir={srv.cache_dir / version}", *args], env


def make_pod(srv: Server, name: str, containers: list[dict[str, object]], *, restart: str = "Always",
             ready: bool = True) -> None:
    for c in containers:
        c.setdefault("image", "busybox")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers, "restartPolicy": restart, "terminationGracePeriodSeconds": 1}}
    srv.kubectl("create", "-f", "-", input=json.dumps(pod))
    if ready:
        srv.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s", timeout=90)


def wait_for(check: object, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while not check():  # type: ignore[operator]
        assert time.time() < deadline, "condition not reached"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def idle(srv: Server) -> str:
    make_pod(srv, "idle", [{"name": "main", "command": ["sh", "-c", "echo started; exec sleep 100000"]}])
    return "idle"


def test_logs(srv: Server) -> None:
    make_pod(srv, "printer", [{"name": "main", "command": [
        "sh", "-c", "for i in 1 2 3; do echo line $i; done; echo oops >&2; exec sleep 100000"]}])
    wait_for(lambda: srv.kubectl("logs", "printer").stdout == "line 1\nline 2\nline 3\noops\n")
    for version in ("1.27", "1.33"):
        assert srv.kubectl("logs", "printer", "--tail=1", version=version).stdout == "oops\n"
        ts = srv.kubectl("logs", "printer", "--timestamps", version=version).stdout.splitlines()
        assert len(ts) == 4 and ts[0].endswith("Z line 1")


def test_logs_follow_ends_with_the_container(srv: Server) -> None:
    make_pod(srv, "ticker", [{"name": "main", "command": [
        "sh", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done"]}], restart="Never", ready=False)
    cmd, env = kubectl_cmd(srv, "logs", "-f", "ticker")
    deadline = time.time() + 60
    while True:  # until the container has started (before that, logs answers "waiting to start")
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        if res.returncode == 0:
            break
        assert "waiting to start" in res.stderr and time.time() < deadline, res.stderr
        time.sleep(0.2)
    assert res.stdout.splitlines()[-1] == "tick 5"


def test_logs_previous(srv: Server) -> None:
    make_pod(srv, "crasher", [{"name": "main", "command": ["sh", "-c", "echo instance; sleep 1; exit 1"]}],
             ready=False)

    def restarted() -> bool:
        pod = json.loads(srv.kubectl("get", "pod", "crasher", "-o", "json").stdout)
        statuses = pod.get("status", {}).get("containerStatuses") or []
        return bool(statuses) and statuses[0].get("restartCount", 0) >= 1

    wait_for(restarted, 60)
    assert srv.kubectl("logs", "crasher", "--previous").stdout == "instance\n"


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_exec_exit_code(srv: Server, idle: str, version: str, extra: dict[str, str]) -> None:
    cmd, env = kubectl_cmd(srv, "exec", idle, "--", "sh", "-c", "echo $HOSTNAME; exit 3", version=version,
                           extra=extra)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 3, res.stderr
    assert res.stdout == f"{idle}\n"


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_exec_stdin_and_tty(srv: Server, idle: str, version: str, extra: dict[str, str]) -> None:
    cmd, env = kubectl_cmd(srv, "exec", "-i", idle, "--", "sh", "-c", "tr a-z A-Z", version=version, extra=extra)
    res = subprocess.run(cmd, env=env, input="hello\n" * 1000, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == "HELLO\n" * 1000, res.stderr
    cmd, env = kubectl_cmd(srv, "exec", "-it", idle, "--", "sh", "-c", "tty; stty size", version=version,
                           extra=extra)
    res = subprocess.run(["script", "-qec", f"stty cols 99 rows 33; exec {shlex.join(cmd)}", "/dev/null"], env=env,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    out = res.stdout.replace("\r", "")
    assert "/dev/pts/" in out and "33 99" in out, (res.stdout, res.stderr)


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_attach(srv: Server, version: str, extra: dict[str, str]) -> None:
    name = f"reader-{version.replace('.', '')}-{'spdy' if extra else 'default'}"
    make_pod(srv, name, [{"name": "main", "stdin": True, "command": [
        "sh", "-c", "while read l; do echo got $l; done; echo bye; sleep 100000"]}])
    cmd, env = kubectl_cmd(srv, "attach", "-i", name, version=version, extra=extra)
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        time.sleep(1)  # attach shows output from the moment it is connected
        proc.stdin.write("ping\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line == "got ping\n", (line, proc.stderr.read() if proc.stderr else "")
    finally:
        proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_port_forward(srv: Server, tmp_path: Path, version: str, extra: dict[str, str]) -> None:
    name = f"web-{version.replace('.', '')}-{'spdy' if extra else 'default'}"
    port = free_port()
    # Ready only once it listens: kubectl ≥ 1.29 gives up on the first refused connection.
    make_pod(srv, name, [{"name": "web", "ports": [{"containerPort": port}], "command": ["python3", "-c", WEB, str(port)],
                          "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}])
    local = free_port()
    cmd, env = kubectl_cmd(srv, "port-forward", f"pod/{name}", f"{local}:{port}", version=version, extra=extra)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{local} -> {port}" in line, line

        def fetch() -> bytes:
            return bytes(urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10).read())

        body = fetch()
        assert body == b"hello from " + name.encode()
        assert fetch() == body
        # The API server's pods/proxy reaches the same server at the pod's IP.
        proxied = srv.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{name}:{port}/proxy/").stdout
        assert proxied == body.decode()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


WEB = """
import http.server, os, socket, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + socket.gethostname()).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_run_interactive_and_remove(srv: Server, version: str) -> None:
    name = f"runner-{version.replace('.', '')}"
    cmd, env = kubectl_cmd(srv, "run", "-i", "--rm", "--restart=Never", name, "--image=busybox", "--command", "--",
                           "sh", "-c", "read x; echo got $x", version=version)
    res = subprocess.run(cmd, env=env, input="hello\n", capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "got hello" in res.stdout, (res.stdout, res.stderr)
    assert f'pod "{name}" deleted' in res.stdout + res.stderr


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_run_with_a_terminal(srv: Server, version: str, extra: dict[str, str]) -> None:
    name = f"tty-{version.replace('.', '')}-{'spdy' if extra else 'default'}"
    cmd, env = kubectl_cmd(srv, "run", "-it", "--rm", "--restart=Never", name, "--image=busybox", "--command", "--",
                           "sh", "-c", "read x; echo got $x; stty size", version=version, extra=extra)
    # A little settling time: typing the instant the hint appears can race the runtime's attach (output written
    # before it starts following the container's log is not shown).
    code, out = run_in_pty(cmd, env, script=[("pressing enter", "typed\r")], cols=91, rows=27, timeout=90, settle=1.0)
    assert "got typed" in out and "27 91" in out, out
    assert code == 0, out
