"""The remotecommand protocols behind exec and attach: v1..v5.channel.k8s.io over SPDY, and over WebSocket.

Over SPDY the client opens one stream per role (`streamtype`: error, stdin, stdout, stderr, resize) and the server
waits until every stream the query asked for exists; over WebSocket the roles are channel numbers. Either way the
command's end is reported on the error stream: nothing (success) or a text message for v1-v3, and a metav1.Status
for v4/v5, where a non-zero exit is `reason: NonZeroExitCode` with the code in `details.causes[ExitCode]`, which
kubectl turns into its own exit status.

This module owns the protocol only; the runtime runs the command (`runtime_api.StreamingRuntime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.streaming import websocket as wsproto
from kybernetes.streaming.runtime_api import (
    ContainerNotFound,
    ContainerNotRunning,
    InputStream,
    OutputStream,
    PodNotFound,
    ResizeQueue,
    StreamingError,
    TerminalSize,
)
from kybernetes.streaming.spdy import SpdyConnection, SpdyStream, StreamClosed

log = logging.getLogger(__name__)

SPDY_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
"""What we accept in X-Stream-Protocol-Version, most preferred first."""

STREAM_CREATION_TIMEOUT = 30.0

NON_ZERO_EXIT = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


class BadRequest(StreamingError):
    """The exec/attach query is invalid (answered with HTTP 400 before any upgrade)."""


@dataclass(frozen=True, slots=True)
class Options:
    """The exec/attach query: which streams exist, whether there is a terminal, the command for exec."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False
    command: tuple[str, ...] = ()


def _flag(query: Mapping[str, str], name: str) -> bool:
    v = query.get(name, "")
    return v.lower() in ("1", "true", "t", "yes")


def options_from_query(query: Any, *, exec_: bool) -> Options:
    """Parse and check the query as upstream does (`command` repeated, flags present only when true)."""
    command = tuple(query.getall("command", [])) if hasattr(query, "getall") else tuple(query.get("command", []))
    opts = Options(
        stdin=_flag(query, "stdin"),
        stdout=_flag(query, "stdout"),
        stderr=_flag(query, "stderr"),
        tty=_flag(query, "tty"),
        command=command,
    )
    if opts.tty and opts.stderr:
        # kubectl never asks for both; upstream keeps stderr off with a tty (the terminal merges them).
        opts = Options(opts.stdin, opts.stdout, False, True, command)
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
    if exec_ and not command:
        raise BadRequest("you must specify a command")
    return opts


def negotiate(offered: Sequence[str], supported: Sequence[str] = SPDY_PROTOCOLS) -> str | None:
    """The first of our protocols the client offered (X-Stream-Protocol-Version, repeated or comma separated)."""
    wanted = {p.strip() for o in offered for p in o.split(",") if p.strip()}
    for p in supported:
        if p in wanted:
            return p
    return None


def protocol_version(protocol: str) -> int:
    return {"v5.channel.k8s.io": 5, "v4.channel.k8s.io": 4, "v3.channel.k8s.io": 3, "v2.channel.k8s.io": 2}.get(
        protocol, 1
    )


# ------------------------------------------------------------------ statuses
def status_success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def status_exit_code(code: int, command: Sequence[str]) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command {shlex.join(command)!r} exited with {code}",
        "reason": NON_ZERO_EXIT,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def status_internal_error(message: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def error_payload(status: dict[str, Any], version: int) -> bytes:
    """What goes on the error stream: Status JSON for v4/v5, the message (or nothing) before that."""
    if version >= 4:
        return orjson.dumps(status)
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()


# ------------------------------------------------------------------ resize
class ResizeDecoder:
    """Terminal sizes from the resize stream: JSON objects one after another (kubectl ends each with a newline)."""

    def __init__(self, queue: ResizeQueue) -> None:
        self.queue = queue
        self._buf = b""

    def feed(self, data: bytes) -> None:
        self._buf += data
        while True:
            text = self._buf.lstrip()
            if not text:
                self._buf = b""
                return
            end = _json_object_end(text)
            if end < 0:
                self._buf = text
                return
            raw, self._buf = text[:end], text[end:]
            try:
                obj = orjson.loads(raw)
                size = TerminalSize(int(obj.get("Width", 0)), int(obj.get("Height", 0)))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                continue
            if size.width > 0 and size.height > 0:
                self.queue.put_nowait(size)


def _json_object_end(b: bytes) -> int:
    """Index just past the first complete JSON object in `b` (which starts with `{`), or -1."""
    depth = 0
    in_str = False
    esc = False
    for i, c in enumerate(b):
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0:
            return i + 1  # garbage byte: skip it
    return -1


# ------------------------------------------------------------------ sessions
@dataclass
class Session:
    """The client's streams, whatever carried them, plus how to end the session."""

    version: int
    stdin: InputStream | None = None
    stdout: OutputStream | None = None
    stderr: OutputStream | None = None
    resize: ResizeQueue | None = None
    client_gone: asyncio.Event = field(default_factory=asyncio.Event)
    finish: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


class _SpdyOut:
    """A SPDY stream as an OutputStream; output to a stream the client reset is dropped."""

    def __init__(self, stream: SpdyStream) -> None:
        self.stream = stream

    async def write(self, data: bytes) -> None:
        if data:
            with contextlib.suppress(StreamClosed):
                await self.stream.write(data)

    async def close(self) -> None:
        await self.stream.close()


async def _pump_resize(stream: SpdyStream, decoder: ResizeDecoder) -> None:
    while chunk := await stream.read():
        decoder.feed(chunk)


async def spdy_session(conn: SpdyConnection, protocol: str, opts: Options) -> Session:
    """Wait for the streams `opts` calls for (error, stdin, stdout, stderr, resize) and wrap them in a Session."""
    version = protocol_version(protocol)
    expected = {"error"}
    if opts.stdin:
        expected.add("stdin")
    if opts.stdout:
        expected.add("stdout")
    if opts.stderr and not opts.tty:
        expected.add("stderr")
    if opts.tty and version >= 3:
        expected.add("resize")
    streams: dict[str, SpdyStream] = {}

    async def collect() -> None:
        while not expected <= streams.keys():
            s = await conn.accept()
            if s is None:
                raise ConnectionResetError("client went away before opening its streams")
            kind = s.headers.get("streamtype", "")
            if kind in streams or kind not in ("error", "stdin", "stdout", "stderr", "resize"):
                await s.cancel()
                continue
            streams[kind] = s

    await asyncio.wait_for(collect(), STREAM_CREATION_TIMEOUT)
    session = Session(version=version)
    if "stdin" in streams:
        session.stdin = streams["stdin"]
    if "stdout" in streams:
        session.stdout = _SpdyOut(streams["stdout"])
    if "stderr" in streams:
        session.stderr = _SpdyOut(streams["stderr"])
    if "resize" in streams:
        session.resize = asyncio.Queue()
        session.tasks.append(asyncio.create_task(_pump_resize(streams["resize"], ResizeDecoder(session.resize))))

    async def watch_conn() -> None:
        await conn.done.wait()
        session.client_gone.set()

    session.tasks.append(asyncio.create_task(watch_conn()))
    error = streams["error"]

    async def finish(status: dict[str, Any]) -> None:
        for kind in ("stdout", "stderr"):
            if kind in streams:
                await streams[kind].close()
        payload = error_payload(status, version)
        with contextlib.suppress(StreamClosed):
            if payload:
                await error.write(payload)
        await error.close()

    session.finish = finish
    return session


def websocket_session(ws: wsproto.ChannelWebSocket, opts: Options) -> Session:
    """Channels of a prepared WebSocket as a Session (channel numbers are fixed, nothing to wait for)."""
    version = ws.version
    session = Session(version=version)
    if opts.stdin:
        session.stdin = ws.input(wsproto.STDIN)
    if opts.stdout:
        session.stdout = ws.output(wsproto.STDOUT)
    if opts.stderr and not opts.tty:
        session.stderr = ws.output(wsproto.STDERR)
    if opts.tty and version >= 3:
        queue: ResizeQueue = asyncio.Queue()
        session.resize = queue
        decoder = ResizeDecoder(queue)
        resize_in = ws.input(wsproto.RESIZE)

        async def pump() -> None:
            while chunk := await resize_in.read():
                decoder.feed(chunk)

        session.tasks.append(asyncio.create_task(pump()))

    async def watch() -> None:
        await ws.closed.wait()
        session.client_gone.set()

    session.tasks.append(asyncio.create_task(watch()))

    async def finish(status: dict[str, Any]) -> None:
        payload = error_payload(status, version)
        if payload:
            await ws.send(wsproto.ERROR, payload)

    session.finish = finish
    return session


# ------------------------------------------------------------------ running
FIRST_RESIZE_WAIT = 1.0


async def _await_first_resize(queue: ResizeQueue) -> None:
    """Give the client's initial terminal size a moment to arrive, so the command starts at the right size.

    kubectl sends it right after the streams open; without the wait a fast command (`stty size`) can run before
    the pty is resized.
    """
    if not queue.empty():
        return
    try:
        first = await asyncio.wait_for(queue.get(), FIRST_RESIZE_WAIT)
    except TimeoutError:
        return
    rest = []
    while not queue.empty():
        rest.append(queue.get_nowait())
    for size in (first, *rest):
        queue.put_nowait(size)


def status_for_error(e: BaseException) -> dict[str, Any]:
    if isinstance(e, (PodNotFound, ContainerNotFound, ContainerNotRunning, StreamingError)):
        return status_internal_error(f"error executing command in container: {e}")
    return status_internal_error(f"error executing command in container: {type(e).__name__}: {e}")


async def run_session(
    session: Session,
    call: Callable[[Session], Awaitable[int | None]],
    command: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Run the command/attach, report how it ended on the error stream, and return that status.

    If the client goes away first, the runtime call is cancelled (the runtime kills what it started) and None is
    returned.
    """
    if session.resize is not None:
        await _await_first_resize(session.resize)
    task: asyncio.Future[int | None] = asyncio.ensure_future(call(session))
    gone: asyncio.Future[Any] = asyncio.ensure_future(session.client_gone.wait())
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            return None
        status: dict[str, Any]
        try:
            code = task.result()
        except Exception as e:
            if not isinstance(e, StreamingError):
                log.exception("exec/attach failed")
            status = status_for_error(e)
        else:
            status = status_success() if not code else status_exit_code(code, command)
        if session.finish is not None:
            await session.finish(status)
        return status
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
        for t in session.tasks:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(gone, *session.tasks, return_exceptions=True)
