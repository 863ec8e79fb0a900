"""Attach: the streaming layer's streams joined to a container's running main process.

The shim owns the process's stdio: its output is already in the CRI log (so attach follows the log from its current
end, splitting stdout and stderr by the entries' stream tags) and its stdin and terminal size arrive through FIFOs
the shim reads. (exec starts a new process and uses `kybernetes.streaming.process.run_process`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from pathlib import Path

from kybernetes.streaming.runtime_api import InputStream, OutputStream, ResizeQueue

POLL = 0.05


def set_winsize(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            await asyncio.sleep(0.01)


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
