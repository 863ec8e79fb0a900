"""FakeHostProcessRuntime: a test-only StreamingRuntime that runs pods as plain host processes.

It exists so the streaming layer can be driven end to end (kubectl -> API server -> kubelet server -> process)
without the real kubelet runtime: no namespaces, no cgroups, no image. Each container's command runs in a temporary
directory with its output written to CRI log files; exec runs the command on the host with HOSTNAME set to the
pod name; port-forward connects to 127.0.0.1. Never use it outside tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.streaming import crilog
from kybernetes.streaming.process import run_process
from kybernetes.streaming.runtime_api import (
    ContainerNotFound,
    ContainerNotRunning,
    InputStream,
    LogOptions,
    OutputStream,
    PodNotFound,
    PortForwardError,
    ResizeQueue,
    StreamingError,
)


@dataclass
class FakeContainer:
    name: str
    argv: list[str]
    keep_stdin_open: bool
    log_dir: Path
    restarts: int = 0
    proc: asyncio.subprocess.Process | None = None
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    sinks: list[tuple[asyncio.Queue[bytes | None], asyncio.Queue[bytes | None]]] = field(default_factory=list)

    def log_path(self, restart: int) -> Path:
        return self.log_dir / f"{restart}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


@dataclass
class FakePod:
    uid: str
    namespace: str
    name: str
    obj: dict[str, Any]
    containers: dict[str, FakeContainer]


class FakeHostProcessRuntime:
    """Test-only runtime: pods are unisolated host processes under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.table: dict[str, FakePod] = {}
        self._closers: set[asyncio.Task[None]] = set()
        self.active_log_streams = 0

    # ------------------------------------------------------------ lifecycle (test helpers)
    async def start_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        containers: dict[str, FakeContainer] = {}
        for c in pod["spec"]["containers"]:
            argv = list(c.get("command") or []) + list(c.get("args") or [])
            fc = FakeContainer(c["name"], argv, bool(c.get("stdin")) and not c.get("stdinOnce"),
                               self.root / uid / c["name"])
            fc.log_dir.mkdir(parents=True, exist_ok=True)
            containers[c["name"]] = fc
        fp = FakePod(uid, meta["namespace"], meta["name"], pod, containers)
        self.table[uid] = fp
        for fc in containers.values():
            await self._start(fp, fc)

    async def _start(self, pod: FakePod, c: FakeContainer) -> None:
        env = dict(os.environ, HOSTNAME=pod.name)
        c.proc = await asyncio.create_subprocess_exec(
            *c.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, cwd=str(c.log_dir), start_new_session=True,
        )
        writer = crilog.CRILogWriter(c.log_path(c.restarts))
        assert c.proc.stdout is not None and c.proc.stderr is not None

        def tee(index: int) -> Any:
            def f(chunk: bytes) -> None:
                for sink in c.sinks:
                    sink[index].put_nowait(chunk)
            return f

        c.pumps = [
            asyncio.create_task(crilog.pump(c.proc.stdout, "stdout", writer, tee(0))),
            asyncio.create_task(crilog.pump(c.proc.stderr, "stderr", writer, tee(1))),
        ]

        async def close_when_done() -> None:
            await asyncio.gather(*c.pumps, return_exceptions=True)
            writer.close()

        self._closers.add(asyncio.create_task(close_when_done()))

    async def restart_container(self, uid: str, name: str) -> None:
        """Kill the container's process and start it again (its old log becomes `previous`)."""
        pod = self.table[uid]
        c = pod.containers[name]
        await self._kill(c)
        c.restarts += 1
        await self._start(pod, c)

    async def wait_container(self, uid: str, name: str) -> int:
        c = self.table[uid].containers[name]
        assert c.proc is not None
        rc: int = await c.proc.wait()
        await asyncio.gather(*c.pumps, return_exceptions=True)
        return rc

    async def _kill(self, c: FakeContainer) -> None:
        if c.proc is not None and c.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.proc.pid, signal.SIGKILL)
            await c.proc.wait()
        await asyncio.gather(*c.pumps, return_exceptions=True)

    async def stop_all(self) -> None:
        for pod in self.table.values():
            for c in pod.containers.values():
                await self._kill(c)

    # ------------------------------------------------------------ StreamingRuntime
    def _container(self, uid: str, name: str) -> tuple[FakePod, FakeContainer]:
        pod = self.table.get(uid)
        if pod is None:
            raise PodNotFound(f"pod {uid} not found")
        c = pod.containers.get(name)
        if c is None:
            raise ContainerNotFound(f'container "{name}" not found in pod "{pod.name}"')
        return pod, c

    def find_pod(self, namespace: str, name: str) -> str | None:
        for p in self.table.values():
            if p.namespace == namespace and p.name == name:
                return str(p.uid)
        return None

    async def exec(
        self, pod_uid: str, container: str, cmd: Sequence[str], *, stdin: InputStream | None,
        stdout: OutputStream | None, stderr: OutputStream | None, tty: bool, resize: ResizeQueue | None,
    ) -> int:
        pod, c = self._container(pod_uid, container)
        if not c.running:
            raise ContainerNotRunning(f'container "{container}" is not running')
        env = dict(os.environ, HOSTNAME=pod.name, TERM="xterm")
        try:
            return await run_process(cmd, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty, resize=resize,
                                     env=env, cwd=str(c.log_dir))
        except (FileNotFoundError, PermissionError) as e:
            raise StreamingError(f"failed to exec {list(cmd)}: {e}") from None

    async def attach(
        self, pod_uid: str, container: str, *, stdin: InputStream | None, stdout: OutputStream | None,
        stderr: OutputStream | None, tty: bool, resize: ResizeQueue | None,
    ) -> None:
        _, c = self._container(pod_uid, container)
        if not c.running or c.proc is None:
            raise ContainerNotRunning(f'container "{container}" is not running')
        proc = c.proc
        sink: tuple[asyncio.Queue[bytes | None], asyncio.Queue[bytes | None]] = (asyncio.Queue(), asyncio.Queue())
        c.sinks.append(sink)

        async def drain(q: asyncio.Queue[bytes | None], out: OutputStream | None) -> None:
            while (chunk := await q.get()) is not None:
                if out is not None:
                    await out.write(chunk)

        async def feed() -> None:
            if stdin is None or proc.stdin is None:
                return
            with contextlib.suppress(ConnectionError):
                while chunk := await stdin.read():
                    proc.stdin.write(chunk)
                    await proc.stdin.drain()
                if not c.keep_stdin_open:
                    proc.stdin.close()

        tasks = [asyncio.create_task(drain(sink[0], stdout)),
                 asyncio.create_task(drain(sink[1], stderr if not tty else stdout)),
                 asyncio.create_task(feed())]
        try:
            await proc.wait()
            await asyncio.gather(*c.pumps, return_exceptions=True)
            for q in sink:
                q.put_nowait(None)
            await asyncio.gather(*tasks[:2])
        finally:
            c.sinks.remove(sink)
            for t in tasks:
                t.cancel()

    async def port_forward(self, pod_uid: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._container(pod_uid, next(iter(self.table[pod_uid].containers)) if pod_uid in self.table else "")
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            raise PortForwardError(f"dial tcp4 127.0.0.1:{port}: connect: connection refused ({e.strerror})") from None

    def logs(self, pod_uid: str, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        return self._logs(pod_uid, container, options)

    async def _logs(self, pod_uid: str, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        _, c = self._container(pod_uid, container)
        if options.previous:
            if c.restarts == 0:
                raise ContainerNotFound(f'previous terminated container "{container}" not found')
            path = c.log_path(c.restarts - 1)
            running = False
        else:
            path = c.log_path(c.restarts)
            running = True

        def alive() -> bool:
            # Running until the process exited and its last output reached the log file.
            return running and (c.running or not all(p.done() for p in c.pumps))

        self.active_log_streams += 1
        try:
            async for chunk in crilog.read_log(path, options, running=alive):
                yield chunk
        finally:
            self.active_log_streams -= 1

    def pods(self) -> list[dict[str, Any]]:
        return [p.obj for p in self.table.values()]

    async def stats_summary(self) -> dict[str, Any]:
        return {"node": {"nodeName": "fake"}, "pods": []}
