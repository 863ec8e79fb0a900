"""The real kubectl (1.27 and 1.33, WebSocket and forced SPDY) through the API server to a kubelet server."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
import urllib.request

import pytest

from tests.streaming.conftest import StreamEnv, popen_kubectl
from tests.support.cluster import free_port

pytestmark = pytest.mark.e2e

FORCE_SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
TRANSPORTS = [
    pytest.param("1.27", {}, id="1.27-spdy"),
    pytest.param("1.33", {}, id="1.33-websocket"),
    pytest.param("1.33", FORCE_SPDY, id="1.33-spdy"),
]


@pytest.fixture(scope="module")
def sleeper(stream_env: StreamEnv) -> str:
    stream_env.run_pod("sleeper", [{"name": "main", "command": ["sh", "-c", "echo started; exec sleep 100000"]}])
    return "sleeper"


# ------------------------------------------------------------------ logs
def test_logs_plain_tail_timestamps(stream_env: StreamEnv) -> None:
    stream_env.run_pod("printer", [{"name": "main", "command": ["sh", "-c",
                                    "for i in 1 2 3; do echo line $i; done; echo oops >&2; exec sleep 100000"]}])
    deadline = time.time() + 10
    out = ""
    while time.time() < deadline:
        out = stream_env.server.kubectl("logs", "printer").stdout
        if "oops" in out:
            break
        time.sleep(0.1)
    assert out == "line 1\nline 2\nline 3\noops\n"
    for version in ("1.27", "1.33"):
        assert stream_env.server.kubectl("logs", "printer", "--tail=2", version=version).stdout == "line 3\noops\n"
        ts = stream_env.server.kubectl("logs", "printer", "--timestamps", version=version).stdout.splitlines()
        assert len(ts) == 4
        assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (line \d|oops)$", ln) for ln in ts), ts
    assert stream_env.server.kubectl("logs", "printer", "--limit-bytes=8").stdout == "line 1\nl"
    assert stream_env.server.kubectl("logs", "printer", "--since=1h").stdout == out


def test_logs_follow_streams_and_ends(stream_env: StreamEnv) -> None:
    stream_env.run_pod("ticker", [{"name": "main", "command": ["sh", "-c",
                                   "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.4; done"]}])
    for version in ("1.33", "1.27"):
        proc = popen_kubectl(stream_env, "logs", "-f", "ticker", version=version)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("tick"), first
        out = proc.stdout.read()  # to EOF: kubectl exits once the container ended and the stream closed
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
        lines = [first.strip(), *out.splitlines()]
        assert lines[-1] == "tick 6"
        assert lines == [f"tick {i}" for i in range(int(lines[0].split()[1]), 7)]


def test_logs_follow_stops_when_the_client_leaves(stream_env: StreamEnv) -> None:
    stream_env.run_pod("quiet", [{"name": "main", "command": ["sh", "-c", "echo once; exec sleep 100000"]}])
    rt = stream_env.runtime
    before = rt.active_log_streams
    proc = popen_kubectl(stream_env, "logs", "-f", "quiet")
    assert proc.stdout is not None and proc.stdout.readline() == "once\n"
    assert rt.active_log_streams == before + 1
    proc.kill()
    proc.communicate(timeout=10)
    deadline = time.time() + 10
    while rt.active_log_streams > before:  # the API server notices, hangs up on the kubelet, which stops reading
        assert time.time() < deadline, "the kubelet still follows a log nobody reads"
        time.sleep(0.1)


def test_logs_previous(stream_env: StreamEnv) -> None:
    cmd = 'n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo instance $n; exec sleep 100000'
    stream_env.run_pod("restarter", [{"name": "main", "command": ["sh", "-c", cmd]}])
    err = stream_env.server.kubectl("logs", "restarter", "--previous", check=False)
    assert err.returncode != 0
    assert 'previous terminated container "main" in pod "restarter" not found' in err.stderr
    stream_env.loop.run(stream_env.runtime.restart_container(stream_env.uid("restarter"), "main"))
    stream_env.set_status("restarter", {"main": {
        "restartCount": 1, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "Error", "containerID": "fake://old"}},
    }})
    assert stream_env.server.kubectl("logs", "restarter", "--previous").stdout == "instance 1\n"
    deadline = time.time() + 10
    while stream_env.server.kubectl("logs", "restarter").stdout != "instance 2\n":
        assert time.time() < deadline
        time.sleep(0.1)


def test_logs_container_choice_and_errors(stream_env: StreamEnv) -> None:
    env = stream_env
    env.run_pod("duo", [{"name": "a", "command": ["sh", "-c", "echo from a; exec sleep 100000"]},
                        {"name": "b", "command": ["sh", "-c", "echo from b; exec sleep 100000"]}])
    raw = env.server.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/duo/log", check=False)
    assert raw.returncode != 0
    assert "a container name must be specified for pod duo, choose one of: [a b]" in raw.stderr
    deadline = time.time() + 10
    while env.server.kubectl("logs", "duo", "-c", "b").stdout != "from b\n":
        assert time.time() < deadline
        time.sleep(0.1)
    bad = env.server.kubectl("logs", "duo", "-c", "zz", check=False)
    assert bad.returncode != 0 and "container zz is not valid for pod duo" in bad.stderr
    # The default-container annotation picks the container when none is named.
    env.run_pod("annotated", [{"name": "a", "command": ["sh", "-c", "echo A; exec sleep 100000"]},
                              {"name": "b", "command": ["sh", "-c", "echo B; exec sleep 100000"]}],
                annotations={"kubectl.kubernetes.io/default-container": "b"})
    deadline = time.time() + 10
    while env.server.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/annotated/log").stdout != "B\n":
        assert time.time() < deadline
        time.sleep(0.1)
    # A pod whose container has not started answers as upstream does.
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waiting"},
                "spec": {"nodeName": env.node, "containers": [{"name": "w", "image": "busybox"}]}}
    env.server.kubectl("create", "-f", "-", input=json.dumps(manifest))
    env.server.kubectl("patch", "pod", "waiting", "--subresource=status", "--type=merge", "-p", json.dumps(
        {"status": {"phase": "Pending", "containerStatuses": [
            {"name": "w", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}}))
    res = env.server.kubectl("logs", "waiting", check=False)
    assert res.returncode != 0
    assert 'container "w" in pod "waiting" is waiting to start: ContainerCreating' in res.stderr


# ------------------------------------------------------------------ exec
@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_exec_prints_and_exits_with_code(stream_env: StreamEnv, sleeper: str, version: str,
                                         extra: dict[str, str]) -> None:
    cmd, env = stream_env.kubectl_cmd("exec", sleeper, "--", "sh", "-c", "echo $HOSTNAME; echo to-stderr >&2; exit 3",
                                      version=version)
    env.update(extra)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 3, res.stderr
    assert res.stdout == f"{sleeper}\n"
    assert "to-stderr" in res.stderr
    assert "command terminated with exit code 3" in res.stderr
    ok = subprocess.run([*cmd[:-1], "true"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_exec_with_stdin(stream_env: StreamEnv, sleeper: str, version: str, extra: dict[str, str]) -> None:
    cmd, env = stream_env.kubectl_cmd("exec", "-i", sleeper, "--", "sh", "-c", "tr a-z A-Z; echo done", version=version)
    env.update(extra)
    data = "hello\nworld\n" * 2000
    res = subprocess.run(cmd, env=env, input=data, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout == data.upper() + "done\n"


@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_exec_tty(stream_env: StreamEnv, sleeper: str, version: str, extra: dict[str, str]) -> None:
    cmd, env = stream_env.kubectl_cmd("exec", "-it", sleeper, "--", "sh", "-c", "tty; stty size; exit 5",
                                      version=version)
    env.update(extra)
    inner = f"stty cols 123 rows 45; exec {shlex.join(cmd)}"
    res = subprocess.run(["script", "-qec", inner, "/dev/null"], env=env, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    out = res.stdout.replace("\r", "")
    assert "/dev/pts/" in out, (res.stdout, res.stderr)
    assert "45 123" in out, out
    assert res.returncode == 5, (res.stdout, res.stderr)


def test_exec_errors(stream_env: StreamEnv, sleeper: str) -> None:
    res = stream_env.server.kubectl("exec", sleeper, "-c", "nope", "--", "true", check=False)
    assert res.returncode != 0 and "container nope is not valid for pod sleeper" in res.stderr
    res = stream_env.server.kubectl("exec", sleeper, "--", "/no/such/binary", check=False)
    assert res.returncode != 0 and "no/such/binary" in res.stderr
    res = stream_env.server.kubectl("exec", "missing-pod", "--", "true", check=False)
    assert res.returncode != 0 and 'pods "missing-pod" not found' in res.stderr


# ------------------------------------------------------------------ attach
@pytest.mark.parametrize(("version", "extra"), TRANSPORTS)
def test_attach(stream_env: StreamEnv, version: str, extra: dict[str, str]) -> None:
    name = f"attach-{version.replace('.', '')}-{'spdy' if extra else 'default'}"
    script = "echo ready; while read l; do echo got $l; done; echo bye"
    stream_env.run_pod(name, [{"name": "main", "stdin": True, "stdinOnce": True, "command": ["sh", "-c", script]}])
    proc = popen_kubectl(stream_env, "attach", "-i", name, version=version, extra_env=extra, stdin=subprocess.PIPE)
    out, err = proc.communicate("ping\npong\n", timeout=30)
    assert proc.returncode == 0, err
    assert "got ping\ngot pong\nbye\n" in out, (out, err)


# ------------------------------------------------------------------ port-forward
PF_TRANSPORTS = [
    pytest.param("1.27", {}, id="1.27-spdy"),
    pytest.param("1.33", {}, id="1.33-websocket-tunnel"),
    pytest.param("1.33", FORCE_SPDY, id="1.33-spdy"),
]


@pytest.fixture(scope="module")
def web_pod(stream_env: StreamEnv) -> tuple[str, int]:
    port = free_port()
    serve = f"echo hello from the pod > index.html; head -c 3000000 /dev/urandom > big.bin; exec python3 -m http.server {port} --bind 127.0.0.1"
    stream_env.run_pod("web", [{"name": "web", "command": ["sh", "-c", serve], "ports": [{"containerPort": port}]}])
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    return "web", port


@pytest.mark.parametrize(("version", "extra"), PF_TRANSPORTS)
def test_port_forward(stream_env: StreamEnv, web_pod: tuple[str, int], version: str, extra: dict[str, str]) -> None:
    name, port = web_pod
    local = free_port()
    proc = popen_kubectl(stream_env, "port-forward", f"pod/{name}", f"{local}:{port}", version=version,
                         extra_env=extra)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{local} -> {port}" in line, (line, proc.stderr.read() if proc.stderr else "")
        for _ in range(3):  # one connection (SPDY stream pair) each
            body = urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=10).read()
            assert body == b"hello from the pod\n"
        big = urllib.request.urlopen(f"http://127.0.0.1:{local}/big.bin", timeout=30).read()
        assert len(big) == 3000000
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("version", ["1.28", "1.29", "1.30", "1.31", "1.32"])
def test_versions_in_between(stream_env: StreamEnv, sleeper: str, web_pod: tuple[str, int], version: str) -> None:
    """1.28/1.29 speak SPDY only, 1.30 adds WebSocket exec, 1.31+ the WebSocket port-forward tunnel."""
    res = stream_env.server.kubectl("exec", sleeper, "--", "sh", "-c", "echo $HOSTNAME; exit 4", version=version,
                                    check=False)
    assert (res.returncode, res.stdout) == (4, f"{sleeper}\n"), res.stderr
    name, port = web_pod
    local = free_port()
    proc = popen_kubectl(stream_env, "port-forward", f"pod/{name}", f"{local}:{port}", version=version)
    try:
        assert proc.stdout is not None
        assert f"127.0.0.1:{local} -> {port}" in proc.stdout.readline()
        body = urllib.request.urlopen(f"http://127.0.0.1:{local}/index.html", timeout=10).read()
        assert body == b"hello from the pod\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
