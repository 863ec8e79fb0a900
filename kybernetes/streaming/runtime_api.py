"""The contract between the streaming layer and the container runtime: what a kubelet runtime must provide.

The kubelet's streaming server (exec, attach, port-forward, logs) speaks the wire protocols kubectl knows; the runtime
knows how pods actually run (host processes, namespaces, cgroups). This module is the only thing they share, so
either side can change without the other: the runtime implements `StreamingRuntime` and raises the errors below,
the streaming layer turns them into the Status answers kubectl expects.

Byte streams are deliberately tiny protocols (`read`, `write`, `close`) rather than asyncio stream classes, so an
implementation can hand over a pipe, a pty or a queue without adapters.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ContainerNotFound",
    "ContainerNotRunning",
    "InputStream",
    "LogOptions",
    "OutputStream",
    "PodNotFound",
    "PortForwardError",
    "ResizeQueue",
    "StreamingError",
    "StreamingRuntime",
    "TerminalSize",
]


class StreamingError(Exception):
    """A failure to report to the client; the message is shown by kubectl as is."""


class PodNotFound(StreamingError):
    """No pod with that namespace/name/uid runs on this node."""


class ContainerNotFound(StreamingError):
    """The pod has no container with that name."""


class ContainerNotRunning(StreamingError):
    """The container exists but cannot be exec'd into or attached to (not started yet, or exited)."""


class PortForwardError(StreamingError):
    """Nothing could be connected to on that port inside the pod."""


@runtime_checkable
class InputStream(Protocol):
    """Bytes coming from the client (stdin)."""

    async def read(self, n: int = 65536) -> bytes:
        """Up to `n` bytes; b"" means end of input."""
        ...


@runtime_checkable
class OutputStream(Protocol):
    """Bytes going to the client (stdout, stderr)."""

    async def write(self, data: bytes) -> None:
        """Send `data`; waits while the client is slow (back-pressure)."""
        ...

    async def close(self) -> None:
        """No more output on this stream."""
        ...


@dataclass(frozen=True, slots=True)
class TerminalSize:
    """A terminal size as kubectl sends it: `{"Width":100,"Height":30}`."""

    width: int
    height: int


ResizeQueue = asyncio.Queue[TerminalSize]
"""Terminal resizes from the client, in order; the first one arrives as soon as the client sends it."""


@dataclass(frozen=True, slots=True)
class LogOptions:
    """The pods/log query, already validated (`since_time` wins over `since_seconds` upstream; here only one is set).

    `tail_lines`, `since_time` and `limit_bytes` are None when not asked for. With `timestamps` each line is
    prefixed with its RFC3339Nano timestamp and a space, as the API server shows it.
    """

    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since_time: datetime.datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


class StreamingRuntime(Protocol):
    """What the kubelet's process runtime provides to the streaming server.

    Pods are identified by uid; `find_pod` resolves the namespace/name the URL carries. Every method raises a
    `StreamingError` subclass for failures the user should see (unknown pod or container, container not running,
    nothing listening on a port); other exceptions are reported as internal errors.

    When the client goes away, the running `exec`/`attach` call is cancelled: the runtime must then kill what exec
    started (`kybernetes.streaming.process.run_process` does) and detach. Output streams never raise when the
    client has gone; writes are simply dropped.
    """

    def find_pod(self, namespace: str, name: str) -> str | None:
        """The uid of the pod `namespace/name` on this node, or None."""
        ...

    async def exec(
        self,
        pod_uid: str,
        container: str,
        cmd: Sequence[str],
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> int:
        """Run `cmd` in the container (its namespaces and cgroups in root mode) and return its exit code.

        With `tty`, the command runs on a new pty whose output goes to `stdout` (stderr is None) and whose size
        follows `resize`. Without `stdin`, the command's stdin is /dev/null. The output streams are closed by the
        caller after this returns; the runtime must have written everything by then. A command that cannot be
        started raises StreamingError with the reason (upstream reports exit code 126/127 for not executable/not
        found only when a shell reports it).
        """
        ...

    async def attach(
        self,
        pod_uid: str,
        container: str,
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> None:
        """Connect to the running container's main process until it exits or the client goes away.

        Output written by the process from now on goes to `stdout`/`stderr` (with `tty`, all of it to `stdout`);
        `stdin` feeds the process's stdin when the container has `stdin: true`. Returns when the process exits.
        """
        ...

    async def port_forward(self, pod_uid: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to `port` of the pod: inside its network namespace in root mode, 127.0.0.1 otherwise.

        Raises PortForwardError when the connection is refused.
        """
        ...

    def logs(self, pod_uid: str, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        """The container's log, as the user sees it (message bytes, with timestamps if asked).

        Logs are CRI-format files (`2024-01-01T00:00:00.000000000Z stdout F text`); `kybernetes.streaming.crilog`
        has the reader that applies `options` and follows a growing file, for runtimes to use. With `follow` the
        iterator ends when the container has exited and the file is read to the end. `previous` means the last
        terminated instance of the container (ContainerNotFound-style StreamingError when there is none).
        """
        ...

    def pods(self) -> list[dict[str, Any]]:
        """The pods this node runs, as v1 Pod objects (served at the kubelet's /pods)."""
        ...

    async def stats_summary(self) -> dict[str, Any]:
        """The kubelet stats Summary (`/stats/summary`): node and per-pod CPU, memory, filesystem, network."""
        ...
