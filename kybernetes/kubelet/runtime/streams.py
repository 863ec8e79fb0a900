"""Byte plumbing for exec and attach: between a process (pipes or a pty) and the streaming layer's streams.

exec starts a new process (through the shim's `exec` mode as root) and copies stdin/stdout/stderr; attach joins the
container's existing main process, whose output the shim already writes to the CRI log (so attach follows the log
from its current end) and whose stdin/resize arrive through the FIFOs the shim reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from pathlib import Path

from kybernetes.streaming.runtime_api import InputStream, OutputStream, ResizeQueue, StreamingError

POLL = 0.05


def set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def _copy_in(src: InputStream, write: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await src.read(65536)
            if not data:
                break
            write.write(data)
            await write.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            write.close()


async def _copy_out(src: asyncio.StreamReader, dst: OutputStream | None) -> None:
    while True:
        data = await src.read(65536)
        if not data:
            return
        if dst is not None:
            await dst.write(data)


async def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            await asyncio.sleep(0.01)


async def _resize_loop(resize: ResizeQueue, apply: object) -> None:
    while True:
        size = await resize.get()
        with contextlib.suppress(OSError):
            apply(size.width, size.height)  # type: ignore[operator]


async def exec_streams(
    argv: list[str],
    env: dict[str, str] | None,
    cwd: str | None,
    *,
    stdin: InputStream | None,
    stdout: OutputStream | None,
    stderr: OutputStream | None,
    tty: bool,
    resize: ResizeQueue | None,
) -> int:
    if tty:
        return await _exec_tty(argv, env, cwd, stdin, stdout, resize)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as e:
        raise StreamingError(f"failed to start {argv[0]}: {e}") from e
    assert proc.stdout is not None and proc.stderr is not None
    feeder = asyncio.create_task(_copy_in(stdin, proc.stdin)) if stdin is not None and proc.stdin else None
    err_buf: list[bytes] = []

    class _ErrTap:
        async def write(self, data: bytes) -> None:
            if data.startswith(b"kyb-exec-error: "):
                err_buf.append(data)
                return
            if stderr is not None:
                await stderr.write(data)

        async def close(self) -> None:
            return

    outs = [
        asyncio.create_task(_copy_out(proc.stdout, stdout)),
        asyncio.create_task(_copy_out(proc.stderr, _ErrTap())),
    ]
    try:
        code = await proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*outs), 2.0)
    finally:
        for t in [*outs, *([feeder] if feeder else [])]:
            t.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            await proc.wait()
    if err_buf:
        raise StreamingError(b"".join(err_buf).decode(errors="replace").removeprefix("kyb-exec-error: ").strip())
    return code if code >= 0 else 128 - code


async def _exec_tty(
    argv: list[str],
    env: dict[str, str] | None,
    cwd: str | None,
    stdin: InputStream | None,
    stdout: OutputStream | None,
    resize: ResizeQueue | None,
) -> int:
    master, slave = os.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
    except OSError as e:
        os.close(master)
        os.close(slave)
        raise StreamingError(f"failed to start {argv[0]}: {e}") from e
    os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    out_q: asyncio.Queue[bytes] = asyncio.Queue()

    def on_read() -> None:
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # a pty master gives EIO once the slave side is gone
        if not data:
            loop.remove_reader(master)
        out_q.put_nowait(data)

    loop.add_reader(master, on_read)

    async def pump_out() -> None:
        while True:
            data = await out_q.get()
            if not data:
                return
            if stdout is not None:
                await stdout.write(data)

    async def pump_in() -> None:
        assert stdin is not None
        while True:
            data = await stdin.read(65536)
            if not data:
                with contextlib.suppress(OSError):
                    await _write_fd(master, b"\x04")
                return
            await _write_fd(master, data)

    tasks = [asyncio.create_task(pump_out())]
    if stdin is not None:
        tasks.append(asyncio.create_task(pump_in()))
    if resize is not None:
        tasks.append(asyncio.create_task(_resize_loop(resize, lambda w, h: set_winsize(master, w, h))))
    try:
        code = await proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(tasks[0], 1.0)
    finally:
        for t in tasks:
            t.cancel()
        loop.remove_reader(master)
        os.close(master)
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            await proc.wait()
    return code if code >= 0 else 128 - code


async def attach_streams(
    log_path: str,
    stdin_fifo: Path | None,
    resize_fifo: Path | None,
    exited: asyncio.Event,
    *,
    stdin: InputStream | None,
    stdout: OutputStream | None,
    stderr: OutputStream | None,
    tty: bool,
    resize: ResizeQueue | None,
) -> None:
    tasks: list[asyncio.Task[None]] = []
    if stdin is not None and stdin_fifo is not None:
        tasks.append(asyncio.create_task(_feed_fifo(stdin, stdin_fifo)))
    if resize is not None and resize_fifo is not None:
        tasks.append(asyncio.create_task(_resize_fifo(resize, resize_fifo)))
    try:
        await _follow_log(log_path, exited, stdout, stdout if tty else stderr)
    finally:
        for t in tasks:
            t.cancel()


async def _feed_fifo(src: InputStream, fifo: Path) -> None:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        while True:
            data = await src.read(65536)
            if not data:
                return
            await _write_fd(fd, data)
    finally:
        os.close(fd)


async def _resize_fifo(resize: ResizeQueue, fifo: Path) -> None:
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        while True:
            size = await resize.get()
            await _write_fd(fd, f"{size.width} {size.height}\n".encode())
    finally:
        os.close(fd)


async def _follow_log(path: str, exited: asyncio.Event, out: OutputStream | None, err: OutputStream | None) -> None:
    """Copy log entries appended from now on to out/err until the container has exited and the file is read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        await exited.wait()
        return
    try:
        pos = os.fstat(fd).st_size
        carry = b""
        while True:
            data = os.pread(fd, 256 * 1024, pos)
            if not data:
                if exited.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exited.wait(), POLL)
                continue
            pos += len(data)
            buf = carry + data
            last = buf.rfind(b"\n")
            if last < 0:
                carry = buf
                continue
            carry = buf[last + 1 :]
            for line in buf[:last].split(b"\n"):
                parts = line.split(b" ", 3)
                if len(parts) < 3:
                    continue
                content = parts[3] if len(parts) > 3 else b""
                if not parts[2].startswith(b"P"):
                    content += b"\n"
                dst = err if parts[1] == b"stderr" else out
                if dst is not None:
                    await dst.write(content)
    finally:
        os.close(fd)
