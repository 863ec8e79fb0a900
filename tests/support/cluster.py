"""Running a real `kyb server` for tests, and the real kubectl binaries against it.

The server is started as a separate process with its own data dir and free port; readiness is its "ready" line on
stdout (no sleeps). kubectl runs with a private cache dir, so discovery is never stale between tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

READY_MARK = "kybernetes is ready"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@cache
def kubectl_binaries() -> dict[str, str]:
    """minor version ('1.27') -> path of that kubectl, from the Debian kubectl package or PATH."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["dpkg", "-L", "kubectl"], capture_output=True, text=True, timeout=20).stdout
        for line in out.splitlines():
            base = os.path.basename(line)
            if base.startswith("kubectl.1.") and os.access(line, os.X_OK):
                found[base[len("kubectl.") :]] = line
    for minor in range(27, 34):
        exe = shutil.which(f"kubectl.1.{minor}")
        if exe:
            found.setdefault(f"1.{minor}", exe)
    return found


def kubectl_path(version: str) -> str:
    path = kubectl_binaries().get(version)
    if path is None:
        msg = f"needs kubectl {version} (the machine image ships kubectl 1.27-1.33)"
        if in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@dataclass
class Server:
    data_dir: Path
    storage: str = "sqlite"
    etcd_endpoints: list[str] = field(default_factory=list)
    etcd_prefix: str = ""
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)
    cache_dir: Path | None = None
    node_name: str = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    def start(self) -> Server:
        if not self.port:
            self.port = free_port()
        args = [
            sys.executable,
            "-m",
            "kybernetes.cli.main",
            "server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--bind-address",
            "127.0.0.1",
            "--storage",
            self.storage,
            *self.extra_args,
        ]
        if "--node-name" not in self.extra_args:
            # Node-scoped host state (the proxy's nftables table, the pod bridge records) is keyed by node name,
            # so servers running side by side in one test session each get their own.
            self.node_name = self.node_name or f"kyb-{uuid.uuid4().hex[:8]}"
            args += ["--node-name", self.node_name]
        if self.storage == "etcd":
            args += ["--etcd-endpoints", ",".join(self.etcd_endpoints), "--etcd-prefix", self.etcd_prefix]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        assert self.proc.stdout is not None
        ready = threading.Event()

        def drain() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for ln in self.proc.stdout:
                self.output.append(ln)
                if READY_MARK in ln:
                    ready.set()
            ready.set()  # EOF: the server exited

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(START_TIMEOUT):
            self.stop()
            raise RuntimeError("kyb server did not become ready:\n" + "".join(self.output[-50:]))
        if self.proc.poll() is not None or not any(READY_MARK in ln for ln in self.output):
            code = self.proc.wait(5)
            raise RuntimeError(f"kyb server exited with {code}:\n" + "".join(self.output[-80:]))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def kubectl(
        self,
        *args: str,
        version: str = "1.33",
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        if self.cache_dir is None:
            self.cache_dir = Path(tempfile.mkdtemp(prefix="kyb-kubectl-cache-"))
        full_env = dict(os.environ)
        full_env.update({"KUBECONFIG": str(self.kubeconfig), "HOME": str(self.cache_dir)})
        if env:
            full_env.update(env)
        cmd = [kubectl_path(version), f"--cache-dir={self.cache_dir / version}", *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and res.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({res.returncode}):\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
            )
        return res

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One HTTPS request as the admin (client certificate), for checks the client libraries can't make."""
        import http.client
        import ssl

        pki = self.data_dir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def cleanup(self) -> None:
        self.stop()
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)


@contextlib.contextmanager
def running_server(tmp: Path, storage: str, etcd_endpoints: list[str] | None = None, extra_args: list[str] | None = None) -> Iterator[Server]:
    srv = Server(
        data_dir=tmp,
        storage=storage,
        etcd_endpoints=etcd_endpoints or [],
        etcd_prefix=f"/kyb-{uuid.uuid4().hex[:10]}" if storage == "etcd" else "",
        extra_args=extra_args or [],
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A kyb server shared by the tests of a session, once per storage backend."""
    endpoints: list[str] = []
    if request.param == "etcd":
        endpoints = request.getfixturevalue("etcd_server").endpoints
    with running_server(tmp_path_factory.mktemp(f"kyb-{request.param}"), request.param, endpoints) as srv:
        yield srv


@pytest.fixture
def namespace(cluster: Server) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
