"""Fixtures for the storage tests: every conformance test runs against SQLite and against a real etcd.

The etcd server is started once per test session on 127.0.0.1 with free ports and a temporary data dir; each
test gets its own key prefix on it, so tests do not see each other's keys (revisions are still global, which is
why no test assumes absolute revision numbers).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from kybernetes.storage.etcd import EtcdBackend
from kybernetes.storage.interface import Backend
from kybernetes.storage.sqlite import SqliteBackend

ETCD_START_TIMEOUT = 30.0


@dataclass
class EtcdServer:
    endpoint: str
    data_dir: str

    @property
    def endpoints(self) -> list[str]:
        return [self.endpoint]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(client_url: str) -> bool:
    try:
        with urllib.request.urlopen(client_url + "/health", timeout=1) as resp:
            return b'"health":"true"' in resp.read()
    except (OSError, urllib.error.URLError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer]:
    binary = shutil.which("etcd")
    if binary is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("needs etcd-server (Debian package): the etcd binary is not on PATH in CI")
        pytest.skip("needs etcd-server (Debian package)")
    data_dir = tempfile.mkdtemp(prefix="kyb-etcd-")
    client_url = f"http://127.0.0.1:{_free_port()}"
    peer_url = f"http://127.0.0.1:{_free_port()}"
    log_path = os.path.join(data_dir, "etcd.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                "--name=kyb-test",
                f"--data-dir={os.path.join(data_dir, 'data')}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=kyb-test={peer_url}",
                "--initial-cluster-state=new",
                # Short raft timings: faster start, and a 1 s minimum lease TTL instead of 2 s.
                "--heartbeat-interval=20",
                "--election-timeout=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + ETCD_START_TIMEOUT
        while not _healthy(client_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as f:
                    tail = f.read()[-3000:]
                pytest.fail(f"etcd did not become healthy (exit code {proc.poll()}):\n{tail}")
            time.sleep(0.05)  # poll interval of a bounded health wait
        yield EtcdServer(client_url, data_dir)
    finally:
        _stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


BackendFactory = Callable[[], Backend]
OpenStore = Callable[[], Awaitable[Backend]]


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def backend_factory(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> BackendFactory:
    """Makes (unstarted) backends that all see the same store: the same file, or the same etcd prefix."""
    if request.param == "sqlite":
        path = os.path.join(tmp_path, "state.db")
        return lambda: SqliteBackend(path)
    server: EtcdServer = request.getfixturevalue("etcd_server")
    prefix = f"/kyb-test-{uuid.uuid4().hex[:12]}"
    return lambda: EtcdBackend(server.endpoints, prefix=prefix)


@pytest.fixture
async def open_store(backend_factory: BackendFactory) -> AsyncIterator[OpenStore]:
    """Opens (starts) a backend on the test's store; every backend opened is closed after the test."""
    opened: list[Backend] = []

    async def open_() -> Backend:
        backend = backend_factory()
        await backend.start()
        opened.append(backend)
        return backend

    yield open_
    for backend in opened:
        await backend.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Backend:
    return await open_store()
