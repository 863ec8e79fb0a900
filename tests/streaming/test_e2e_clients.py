"""Other clients of the streaming endpoints: the official Python client (WebSocket v4 exec, WebSocket channel
port-forward), `kubectl cp` (tar through exec stdin/stdout), and the kubelet server's own endpoints and auth."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.stream import portforward, stream

from tests.streaming.conftest import StreamEnv
from tests.support.cluster import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def core(stream_env: StreamEnv) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(stream_env.server.kubeconfig))  # type: ignore[no-untyped-call]
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture(scope="module")
def idle_pod(stream_env: StreamEnv) -> str:
    stream_env.run_pod("idle", [{"name": "main", "command": ["sh", "-c", "exec sleep 100000"]}])
    return "idle"


def test_python_client_exec(core: client.CoreV1Api, idle_pod: str) -> None:
    out = stream(core.connect_get_namespaced_pod_exec, idle_pod, "default",
                 command=["sh", "-c", "echo $HOSTNAME; echo err >&2"], stderr=True, stdin=False, stdout=True,
                 tty=False)
    assert "idle\n" in out
    resp = stream(core.connect_get_namespaced_pod_exec, idle_pod, "default", command=["sh", "-c", "exit 7"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 7
    # Interactive: write stdin, read stdout back.
    resp = stream(core.connect_get_namespaced_pod_exec, idle_pod, "default", command=["sh", "-c", "read x; echo got $x"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    resp.write_stdin("hello\n")
    out = ""
    deadline = time.time() + 10
    while "got hello" not in out and time.time() < deadline:
        resp.update(timeout=1)
        out += resp.read_stdout(timeout=1)
    resp.close()
    assert "got hello" in out


def test_python_client_port_forward(stream_env: StreamEnv, core: client.CoreV1Api) -> None:
    port = free_port()
    stream_env.run_pod("echo", [{"name": "echo", "command": ["python3", "-c", ECHO_SERVER, str(port)]}])
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.time() < deadline
            time.sleep(0.1)
    pf = portforward(core.connect_get_namespaced_pod_portforward, "echo", "default", ports=str(port))
    sock = pf.socket(port)
    sock.setblocking(True)
    sock.sendall(b"ping\n")
    got = b""
    while not got.endswith(b"\n"):
        got += sock.recv(1024)
    assert got == b"PING\n"
    sock.close()
    pf.close()


ECHO_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    for line in f:
        c.sendall(line.upper())
    c.close()
"""


def test_kubectl_cp_both_ways(stream_env: StreamEnv, idle_pod: str, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1_500_000))
    remote_dir = tmp_path / "remote"
    remote_dir.mkdir()
    for version in ("1.27", "1.33"):
        target = remote_dir / f"copy-{version}.bin"
        stream_env.server.kubectl("cp", str(src), f"{idle_pod}:{target}", version=version, timeout=60)
        assert target.read_bytes() == src.read_bytes()
        back = tmp_path / f"back-{version}.bin"
        stream_env.server.kubectl("cp", f"{idle_pod}:{target}", str(back), version=version, timeout=60)
        assert back.read_bytes() == src.read_bytes()


def test_exec_is_killed_when_the_client_goes_away(stream_env: StreamEnv, idle_pod: str, tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    for version in ("1.33", "1.27"):
        cmd, env = stream_env.kubectl_cmd("exec", idle_pod, "--", "sh", "-c", f"echo $$ > {marker}; exec sleep 1000",
                                          version=version)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not (marker.exists() and marker.read_text().strip()):
            assert time.time() < deadline
            time.sleep(0.05)
        pid = int(marker.read_text())
        proc.kill()
        proc.wait()
        deadline = time.time() + 10
        while _alive(pid):
            assert time.time() < deadline, f"exec'd process {pid} survived its client"
            time.sleep(0.05)
        marker.unlink()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_kubelet_server_endpoints_and_auth(stream_env: StreamEnv, idle_pod: str) -> None:
    port = stream_env.kubelet.port
    pki = stream_env.server.data_dir / "pki"
    anon = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    assert _get(anon, port, "/healthz") == (200, b"ok")
    assert _get(anon, port, "/pods")[0] == 401
    # The admin certificate (system:masters) may; the API server's kubelet client certificate may too.
    admin = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    admin.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    status, body = _get(admin, port, "/pods")
    assert status == 200
    pods = json.loads(body)
    assert pods["kind"] == "PodList" and idle_pod in [p["metadata"]["name"] for p in pods["items"]]
    status, body = _get(admin, port, "/stats/summary")
    assert status == 200 and "node" in json.loads(body)
    assert _get(admin, port, "/containerLogs/default/no-such-pod/main")[0] == 404
    assert _get(admin, port, "/exec/default/idle/main?command=true&stdout=true")[0] == 400  # no upgrade


def _get(ctx: ssl.SSLContext, port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    if b"transfer-encoding: chunked" in head.lower():
        out = b""
        while body:
            size_s, _, rest = body.partition(b"\r\n")
            size = int(size_s, 16)
            if size == 0:
                break
            out += rest[:size]
            body = rest[size + 2:]
        body = out
    return status, body
