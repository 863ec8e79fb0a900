"""A throwaway network for root-mode tests: a bridge, "pods" in network namespaces, tiny servers inside them.

Everything is named after one random id (bridge `kbr-<id>`, namespaces `kybtest-<id>-<n>`), addressed from one
/24 inside 10.42.200-254.0 that no route on the host uses yet, and removed by `cleanup()` (processes first, then
namespaces, veths and the bridge). Servers print "ready" once bound, so tests never sleep to hope.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cluster import in_ci

POD_SERVER = textwrap.dedent(
    """
    import socket, socketserver, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = f"{name} {self.path} {self.client_address[0]} {self.headers.get('Host', '')}\\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
        while True:
            data, addr = s.recvfrom(2048)
            s.sendto(name.encode() + b" " + data, addr)

    class Srv(ThreadingHTTPServer):
        daemon_threads = True
        def server_bind(self):  # skip the reverse lookup of getfqdn (no resolver in a test namespace)
            socketserver.TCPServer.server_bind(self)
            self.server_name, self.server_port = ip, port

    srv = Srv((ip, port), H)
    threading.Thread(target=udp, daemon=True).start()
    print("ready", flush=True)
    srv.serve_forever()
    """
)


def need_root_tools(*tools: str) -> None:
    """Skip (outside CI) or fail (in CI) unless root with these commands available."""
    missing = [t for t in tools if shutil.which(t) is None]
    reason = ""
    if os.geteuid() != 0:
        reason = "needs root (network namespaces, bridges, nftables)"
    elif missing:
        reason = f"needs {', '.join(missing)} (scripts/install-deps.sh installs them)"
    if reason:
        if in_ci() and os.geteuid() == 0:
            pytest.fail(reason)
        pytest.skip(reason)


def run(*cmd: str, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def _used_prefixes() -> set[int]:
    out = set()
    routes = json.loads(run("ip", "-j", "-4", "route", "show", "table", "all").stdout or "[]")
    for r in routes:
        dst = str(r.get("dst", ""))
        if dst.startswith("10.42."):
            parts = dst.split("/")[0].split(".")
            out.add(int(parts[2]))
        if dst in ("10.42.0.0/16", "10.0.0.0/8"):
            out.update(range(256))
    return out


def _delete_netns(name: str) -> None:
    """`ip netns del`, retried briefly: it fails with EBUSY while another process (any `ip netns exec` on the
    host, e.g. a concurrent test run) still has the namespace file mounted in its own mount namespace."""
    for _ in range(50):
        if run("ip", "netns", "del", name, check=False).returncode == 0 or not os.path.exists(f"/run/netns/{name}"):
            return
        time.sleep(0.1)
    raise AssertionError(f"could not delete network namespace {name}")


@dataclass
class Pod:
    name: str
    netns: str
    ip: str
    veth: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)


@dataclass
class NetLab:
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    third: int = 0
    pods: list[Pod] = field(default_factory=list)
    workdir: Path | None = None
    resolv_dirs: list[Path] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"kbr-{self.uid}"

    @property
    def gateway(self) -> str:
        return f"10.42.{self.third}.1"

    @property
    def cidr(self) -> str:
        return f"10.42.{self.third}.0/24"

    def setup(self, workdir: Path) -> NetLab:
        self.workdir = workdir
        (workdir / "pod_server.py").write_text(POD_SERVER)
        free = [n for n in range(200, 255) if n not in _used_prefixes()]
        if not free:
            msg = "no free 10.42.200-254.0/24 test range on this host"
            if in_ci():
                pytest.fail(msg)
            pytest.skip(msg)
        self.third = random.choice(free)
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        return self

    def pod(self, name: str, host: int = 0) -> Pod:
        """A namespace on the bridge at 10.42.<third>.<host> (default: the next of .2, .3, ...)."""
        n = len(self.pods) + 2
        netns = f"kybtest-{self.uid}-{n}"
        veth, peer = f"kv{self.uid}{n}", f"kp{self.uid}{n}"
        pod = Pod(name, netns, f"10.42.{self.third}.{host or n}", veth)
        self.pods.append(pod)
        run("ip", "netns", "add", netns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", netns)
        run("ip", "link", "set", veth, "master", self.bridge)
        run("ip", "link", "set", veth, "up")
        run("bridge", "link", "set", "dev", veth, "hairpin", "on")
        ex = ["ip", "netns", "exec", netns]
        run(*ex, "ip", "link", "set", peer, "name", "eth0")
        run(*ex, "ip", "addr", "add", f"{pod.ip}/24", "dev", "eth0")
        run(*ex, "ip", "link", "set", "eth0", "up")
        run(*ex, "ip", "link", "set", "lo", "up")
        run(*ex, "ip", "route", "add", "default", "via", self.gateway)
        return pod

    def serve(self, pod: Pod, port: int) -> subprocess.Popen[str]:
        """Start the HTTP (and UDP echo) server in the pod; returns once it is listening."""
        assert self.workdir is not None
        proc = subprocess.Popen(
            ["ip", "netns", "exec", pod.netns, sys.executable, str(self.workdir / "pod_server.py"), pod.name, pod.ip, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        pod.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"pod server did not start: {line}"
        return proc

    def stop_servers(self, pod: Pod) -> None:
        for p in pod.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, 9)
            p.wait(10)
        pod.procs.clear()

    def exec(self, pod: Pod, *cmd: str, timeout: float = 20.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", pod.netns, *cmd, timeout=timeout, check=check)

    def set_resolv_conf(self, pod: Pod, text: str) -> None:
        """`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf for that namespace."""
        d = Path("/etc/netns") / pod.netns
        d.mkdir(parents=True, exist_ok=True)
        (d / "resolv.conf").write_text(text)
        self.resolv_dirs.append(d)

    def cleanup(self) -> None:
        for pod in self.pods:
            self.stop_servers(pod)
            _delete_netns(pod.netns)
            run("ip", "link", "del", pod.veth, check=False)
        for d in self.resolv_dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.third:
            run("ip", "link", "del", self.bridge, check=False)


@pytest.fixture
def netlab(tmp_path: Path) -> Iterator[NetLab]:
    need_root_tools("ip", "bridge", "nft")
    lab = NetLab()
    try:
        yield lab.setup(tmp_path)
    finally:
        lab.cleanup()
