"""Shared test helpers: a kyb server for service tests, manifests for Services and EndpointSlices, polling."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tests.support.cluster import Server, free_port, running_server

T = TypeVar("T")


def wait_until(fn: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `fn` until it returns something truthy (a condition with a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # the condition may fail while the state converges
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
        time.sleep(0.05)


@contextlib.contextmanager
def service_server(tmp: Path, *extra: str, agent: bool = False) -> Iterator[tuple[Server, str, str]]:
    """A kyb server on a private /24 service range and node name; yields (server, node name, service cidr).

    Without `agent` it runs no kubelet: tests stand in for pods with their own namespaces and EndpointSlices.
    """
    node = f"kybtest-{uuid.uuid4().hex[:6]}"
    cidr = f"10.43.{_free_service_block()}.0/24"
    args = ["--node-name", node, "--service-cidr", cidr, "--ingress-http-port", str(free_port()),
            "--ingress-https-port", str(free_port()), *([] if agent else ["--disable-agent"]), *extra]
    with running_server(tmp, "sqlite", extra_args=args) as srv:
        yield srv, node, cidr


def _free_service_block() -> int:
    """A /24 of 10.43.100-250 that no nftables rule on this host mentions yet (other clusters' proxies may be
    running, e.g. a concurrent test run: two tables DNATing the same VIP would answer for each other)."""
    used: set[str] = set()
    if shutil.which("nft") and os.geteuid() == 0:
        out = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        used = set(re.findall(r"10\.43\.(\d+)\.", out))
    free = [n for n in range(100, 251) if str(n) not in used]
    return random.choice(free or list(range(100, 251)))


def apply(srv: Server, *objs: dict[str, Any], namespace: str = "default") -> None:
    srv.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def get(srv: Server, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
    out: dict[str, Any] = json.loads(srv.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)
    return out


def service(name: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"ports": ports, **spec}}


def endpoint_slice(
    svc: str, endpoints: list[tuple[str, bool, str]], ports: list[tuple[str, int, str]], name: str = ""
) -> dict[str, Any]:
    """endpoints: (ip, ready, nodeName); ports: (name, port, protocol)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name or f"{svc}-abc", "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": False}, "nodeName": node}
            for ip, ready, node in endpoints
        ],
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }


def http_get(url: str, timeout: float = 3.0, headers: dict[str, str] | None = None) -> str:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return str(r.read().decode())


def who(url: str, n: int) -> list[str]:
    """The pod names answering n requests (each on a new connection)."""
    return [http_get(url).split()[0] for _ in range(n)]


def udp_ask(ip: str, port: int, payload: bytes = b"ping", timeout: float = 2.0) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, (ip, port))
        return s.recv(2048).decode()
