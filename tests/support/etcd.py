"""A real etcd server for tests (Debian package etcd-server), started once per session on loopback.

It listens on free 127.0.0.1 ports with a temporary data dir and is stopped and removed at the end. Without the
binary the tests that need it are skipped outside CI and fail in CI, which installs it.
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
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

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
