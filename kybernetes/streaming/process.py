"""Running a command wired to a client's streams: pipes, or a pty that follows the client's terminal size.

Exec is the same for every runtime once it knows the argv that enters the container (`nsenter ... --` in root
mode, the plain command otherwise): start it, copy stdin in and stdout/stderr out until the command exits and its
output is drained, resize the pty when the client's terminal changes, kill the whole process group if the client
goes away (the caller is cancelled). Runtimes call `run_process` with their argv; the streaming layer stays the only
place that knows about ptys and stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import signal
import struct
import termios
from collections.abc import Mapping, Sequence

from kybernetes.streaming.runtime_api import InputStream, OutputStream, ResizeQueue, TerminalSize

__all__ = ["exit_code", "run_process", "set_winsize"]


def exit_code(returncode: int) -> int:
    """A shell-style exit status: 128+N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def set_winsize(fd: int, size: TerminalSize) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))


def _make_controlling_tty() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _copy_in(src: InputStream, write: asyncio.StreamWriter | int) -> None:
    """Client stdin into the process; closes the process's stdin (pipe) at end of input."""
    try:
        while chunk := await src.read(65536):
            if isinstance(write, int):
                await _write_fd(write, chunk)
            else:
                write.write(chunk)
                await write.drain()
        if isinstance(write, int):
            await _write_fd(write, b"\x04")  # end of input on a terminal: ^D at line start
        else:
            write.close()
    except (ConnectionError, OSError):
        pass


async def _write_fd(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            fut: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, fut.set_result, None)
            try:
                await fut
            finally:
                loop.remove_writer(fd)


async def _copy_out(read: asyncio.StreamReader, dst: OutputStream) -> None:
    try:
        while chunk := await read.read(65536):
            await dst.write(chunk)
    except OSError:
        pass  # EIO: the pty's last user closed it


async def _resize_loop(queue: ResizeQueue, fd: int) -> None:
    while True:
        size = await queue.get()
        with contextlib.suppress(OSError):
            set_winsize(fd, size)


async def run_process(
    argv: Sequence[str],
    *,
    stdin: InputStream | None,
    stdout: OutputStream | None,
    stderr: OutputStream | None,
    tty: bool,
    resize: ResizeQueue | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> int:
    """Run `argv` with the client's streams and return its exit status (128+N if killed by signal N).

    With `tty` the process gets a new session whose controlling terminal is a pty; its output goes to `stdout`.
    Raises FileNotFoundError/PermissionError if `argv[0]` cannot be executed. Cancelling kills the process group.
    """
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    master = -1
    proc: asyncio.subprocess.Process | None = None
    try:
        if tty:
            master, slave = pty.openpty()
            if resize is not None and not resize.empty():
                set_winsize(slave, resize.get_nowait())
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=slave, stdout=slave, stderr=slave, env=dict(env) if env is not None else None,
                    cwd=cwd, start_new_session=True, preexec_fn=_make_controlling_tty,
                )
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            reader = asyncio.StreamReader()
            read_fd = os.dup(master)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
            )
            out_task = asyncio.create_task(_copy_out(reader, stdout if stdout is not None else _Discard()))
            tasks.append(out_task)
            if stdin is not None:
                tasks.append(asyncio.create_task(_copy_in(stdin, master)))
            if resize is not None:
                tasks.append(asyncio.create_task(_resize_loop(resize, master)))
            try:
                rc = await proc.wait()
                # Drain what the process wrote before exiting; the pty reports EIO once it is empty.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(out_task), 5.0)
            finally:
                transport.close()
            return exit_code(rc)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdout is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE if stderr is not None else asyncio.subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
        outs: list[asyncio.Task[None]] = []
        if stdout is not None and proc.stdout is not None:
            outs.append(asyncio.create_task(_copy_out(proc.stdout, stdout)))
        if stderr is not None and proc.stderr is not None:
            outs.append(asyncio.create_task(_copy_out(proc.stderr, stderr)))
        if stdin is not None and proc.stdin is not None:
            tasks.append(asyncio.create_task(_copy_in(stdin, proc.stdin)))
        tasks.extend(outs)
        rc = await proc.wait()
        if outs:
            await asyncio.gather(*outs, return_exceptions=True)
        return exit_code(rc)
    except asyncio.CancelledError:
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 5.0)
        raise
    finally:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        if master >= 0:
            os.close(master)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class _Discard:
    async def write(self, data: bytes) -> None:
        return None

    async def close(self) -> None:
        return None
