"""Liveness, readiness and startup probes: one asyncio worker per (container instance, probe kind).

Semantics follow upstream's prober workers: a result changes only after `successThreshold` consecutive successes or
`failureThreshold` consecutive failures; readiness starts as failure, liveness as success, startup as unknown;
liveness and readiness wait until the startup probe has succeeded; after a liveness or startup failure the worker
holds until the container is replaced. Probes run against the pod IP (httpGet, tcpSocket) or inside the container
(exec) with `timeoutSeconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class Result(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


KINDS = ("startupProbe", "livenessProbe", "readinessProbe")
INITIAL = {"startupProbe": Result.UNKNOWN, "livenessProbe": Result.SUCCESS, "readinessProbe": Result.FAILURE}

ExecFn = Callable[[str, list[str], float], Awaitable[tuple[int, bytes]]]


def resolve_port(port: Any, container: Obj) -> int:
    if isinstance(port, int):
        return port
    s = str(port)
    if s.isdigit():
        return int(s)
    for p in container.get("ports") or []:
        if p.get("name") == s:
            return int(p.get("containerPort", 0))
    raise ValueError(f"port {s!r} not found in the container's ports")


async def http_get(host: str, port: int, path: str, scheme: str, headers: list[Obj], timeout: float) -> tuple[bool, str]:
    """One HTTP GET; success for 200 <= status < 400, like upstream."""
    ctx: ssl.SSLContext | None = None
    if scheme.upper() == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    hdrs = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.33", "Accept": "*/*", "Connection": "close"}
    for h in headers:
        hdrs[str(h.get("name", ""))] = str(h.get("value", ""))
    req = f"GET {path or '/'} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"

    async def go() -> tuple[bool, str]:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
        try:
            writer.write(req.encode())
            await writer.drain()
            line = await reader.readline()
            parts = line.decode(errors="replace").split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                return False, f"malformed HTTP response: {line[:80]!r}"
            code = int(parts[1])
            if 200 <= code < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {code}"
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    try:
        return await asyncio.wait_for(go(), timeout)
    except TimeoutError:
        return False, f'Get "{scheme.lower()}://{host}:{port}{path}": context deadline exceeded'
    except OSError as e:
        return False, f'Get "{scheme.lower()}://{host}:{port}{path}": {e.strerror or e}'


async def tcp_check(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as e:
        return False, f"dial tcp {host}:{port}: {getattr(e, 'strerror', None) or 'i/o timeout'}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def run_probe(probe: Obj, container: Obj, pod_ip: str, container_id: str, exec_fn: ExecFn) -> tuple[bool, str]:
    """Run one probe (or lifecycle handler: same action shapes) once."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if probe.get("exec"):
            cmd = [str(c) for c in probe["exec"].get("command") or []]
            try:
                code, out = await exec_fn(container_id, cmd, timeout)
            except TimeoutError:
                return False, f"command timed out after {timeout:g}s"
            return code == 0, out.decode(errors="replace")[-1024:]
        if probe.get("httpGet"):
            h = probe["httpGet"]
            port = resolve_port(h.get("port"), container)
            return await http_get(
                str(h.get("host") or pod_ip), port, str(h.get("path") or "/"), str(h.get("scheme") or "HTTP"),
                list(h.get("httpHeaders") or []), timeout,
            )
        if probe.get("tcpSocket"):
            t = probe["tcpSocket"]
            return await tcp_check(str(t.get("host") or pod_ip), resolve_port(t.get("port"), container), timeout)
        if probe.get("grpc"):
            return True, "grpc probes are not supported by this node; reported as success"
        if probe.get("sleep"):
            await asyncio.sleep(float(probe["sleep"].get("seconds") or 0))
            return True, ""
    except ValueError as e:
        return False, str(e)
    return False, "probe has no handler"


@dataclass
class _Worker:
    kind: str
    container_id: str
    task: asyncio.Task[None] | None = None
    result: Result = Result.UNKNOWN
    on_hold: bool = False
    successes: int = 0
    failures: int = 0
    last_output: str = ""


@dataclass
class ContainerProbes:
    """The probe state of one container instance."""

    container_id: str
    workers: dict[str, _Worker] = field(default_factory=dict)

    def result(self, kind: str) -> Result:
        w = self.workers.get(kind)
        return w.result if w else Result.SUCCESS


class ProbeManager:
    """Starts/stops probe workers as container instances come and go; reports result changes."""

    def __init__(
        self,
        exec_fn: ExecFn,
        on_change: Callable[[str], None],
        on_failure: Callable[[str, str, str, str], None] | None = None,
    ) -> None:
        self.exec_fn = exec_fn
        self.on_change = on_change
        self.on_failure = on_failure
        self._by_container: dict[str, ContainerProbes] = {}
        self._pod_of: dict[str, str] = {}

    def ensure(
        self, pod_uid: str, container: Obj, container_id: str, started_at: float, pod_ip: Callable[[], str],
        initial_ready: bool | None = None,
    ) -> ContainerProbes:
        cp = self._by_container.get(container_id)
        if cp is not None:
            return cp
        cp = ContainerProbes(container_id)
        self._by_container[container_id] = cp
        self._pod_of[container_id] = pod_uid
        for kind in KINDS:
            probe = container.get(kind)
            if not probe:
                continue
            w = _Worker(kind, container_id, result=INITIAL[kind])
            if kind == "readinessProbe" and initial_ready:
                w.result = Result.SUCCESS
            cp.workers[kind] = w
            w.task = asyncio.create_task(
                self._run(pod_uid, cp, w, probe, container, started_at, pod_ip),
                name=f"probe {kind} {container.get('name')} {pod_uid[:8]}",
            )
        return cp

    def get(self, container_id: str) -> ContainerProbes | None:
        return self._by_container.get(container_id)

    def remove(self, container_id: str) -> None:
        cp = self._by_container.pop(container_id, None)
        self._pod_of.pop(container_id, None)
        if cp:
            for w in cp.workers.values():
                if w.task:
                    w.task.cancel()

    def remove_pod(self, pod_uid: str) -> None:
        for cid in [c for c, p in self._pod_of.items() if p == pod_uid]:
            self.remove(cid)

    def keep_only(self, pod_uid: str, container_ids: set[str]) -> None:
        for cid in [c for c, p in self._pod_of.items() if p == pod_uid and c not in container_ids]:
            self.remove(cid)

    async def close(self) -> None:
        tasks = [w.task for cp in self._by_container.values() for w in cp.workers.values() if w.task]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._by_container.clear()

    async def _run(
        self, pod_uid: str, cp: ContainerProbes, w: _Worker, probe: Obj, container: Obj, started_at: float,
        pod_ip: Callable[[], str],
    ) -> None:
        period = max(1.0, float(probe.get("periodSeconds") or 10))
        delay = float(probe.get("initialDelaySeconds") or 0)
        success_threshold = max(1, int(probe.get("successThreshold") or 1))
        failure_threshold = max(1, int(probe.get("failureThreshold") or 3))
        wait = started_at + delay - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        while True:
            startup = cp.workers.get("startupProbe")
            if w.kind != "startupProbe" and startup is not None and startup.result != Result.SUCCESS:
                await asyncio.sleep(min(period, 1.0))
                continue
            if w.on_hold or (w.kind == "startupProbe" and w.result == Result.SUCCESS):
                return
            ok, out = await run_probe(probe, container, pod_ip(), w.container_id, self.exec_fn)
            w.last_output = out
            if ok:
                w.successes += 1
                w.failures = 0
            else:
                w.failures += 1
                w.successes = 0
            new = w.result
            if ok and w.successes >= success_threshold:
                new = Result.SUCCESS
            elif not ok and w.failures >= failure_threshold:
                new = Result.FAILURE
            if new != w.result:
                w.result = new
                if new == Result.FAILURE and w.kind in ("livenessProbe", "startupProbe"):
                    w.on_hold = True
                self.on_change(pod_uid)
            if not ok and self.on_failure is not None:
                self.on_failure(pod_uid, str(container.get("name", "")), w.kind, out)
            if w.on_hold:
                return
            await asyncio.sleep(period)
