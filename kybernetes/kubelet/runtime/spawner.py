"""Starting container shims: through a pre-started zygote process (a fork each), or one interpreter per shim.

Starting a Python interpreter and importing what the shim needs costs 20 ms on an idle box and several times that
under load, on the critical path of every container start. The zygote (shim.py `zygote`) pays that once: the
kubelet writes `REQID CONFIG` to its stdin and the forked shim answers `REQID pid N shim M` (or `REQID error ...`)
on its stdout. The zygote is small (no kybernetes imports), so forking it is cheap — unlike forking the kubelet.
If the zygote is gone, shims are started directly (`python -I -S shim.py run CONFIG`), one interpreter each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SHIM = str(Path(__file__).with_name("shim.py"))


def python_argv() -> list[str]:
    return [sys.executable, "-I", "-S", SHIM]


@dataclass
class Started:
    pid: int = 0
    shim_pid: int = 0
    error: str = ""
    child: subprocess.Popen[bytes] | None = None
    """The shim, when it is our own child (direct start) and must be reaped by us."""


def parse_answer(line: str) -> Started:
    parts = line.split(" ", 2)
    if len(parts) >= 2 and parts[1] == "pid":
        f = line.split()
        try:
            return Started(pid=int(f[2]), shim_pid=int(f[4]) if len(f) > 4 else 0)
        except (IndexError, ValueError):
            return Started(error=f"bad answer from the shim: {line!r}")
    if len(parts) >= 2 and parts[1] == "error":
        return Started(error=parts[2] if len(parts) > 2 else "the shim failed")
    return Started(error=f"bad answer from the shim: {line!r}")


class Spawner:
    def __init__(self, log_file: Path, owner: str, use_zygote: bool = True) -> None:
        self.log_file = log_file
        self.owner = owner
        """Put on the zygote's command line (which its forked shims inherit) so they can be told apart."""
        self.use_zygote = use_zygote
        self._zygote: subprocess.Popen[bytes] | None = None
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._ids = itertools.count(1)
        self._buf = b""

    def _ensure_zygote(self) -> bool:
        if not self.use_zygote:
            return False
        if self._zygote is not None and self._zygote.poll() is None:
            return True
        self._drop_zygote()
        try:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "ab") as errf:
                self._zygote = subprocess.Popen(
                    [*python_argv(), "zygote", self.owner], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                    start_new_session=True, close_fds=True, cwd="/",
                )
        except OSError as e:
            log.warning("cannot start the shim zygote (%s); starting shims one by one", e)
            self.use_zygote = False
            return False
        assert self._zygote.stdout is not None
        fd = self._zygote.stdout.fileno()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._on_read, fd)
        return True

    def _on_read(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop_zygote()
            return
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            text = line.decode(errors="replace")
            fut = self._waiting.pop(text.split(" ", 1)[0], None)
            if fut is not None and not fut.done():
                fut.set_result(text)

    def _drop_zygote(self) -> None:
        z, self._zygote = self._zygote, None
        if z is None:
            return
        with contextlib.suppress(Exception):
            assert z.stdout is not None
            asyncio.get_running_loop().remove_reader(z.stdout.fileno())
        for f in (z.stdin, z.stdout):
            with contextlib.suppress(Exception):
                if f is not None:
                    f.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            z.wait(timeout=2)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_result("- error the shim zygote exited")
        self._waiting.clear()
        self._buf = b""

    async def start(self, config: Path, timeout: float) -> Started:
        if self._ensure_zygote():
            assert self._zygote is not None and self._zygote.stdin is not None
            reqid = str(next(self._ids))
            fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._waiting[reqid] = fut
            try:
                os.write(self._zygote.stdin.fileno(), f"{reqid} {config}\n".encode())
            except OSError:
                self._waiting.pop(reqid, None)
                self._drop_zygote()
                return await self._start_direct(config, timeout)
            try:
                return parse_answer(await asyncio.wait_for(fut, timeout))
            except TimeoutError:
                self._waiting.pop(reqid, None)
                return Started(error="timed out starting the container")
        return await self._start_direct(config, timeout)

    async def _start_direct(self, config: Path, timeout: float) -> Started:
        r, w = os.pipe()
        try:
            proc = _popen_shim(config, w, config.parent / "shim.log")
        except OSError as e:
            os.close(r)
            return Started(error=f"cannot start the shim: {e}")
        finally:
            os.close(w)
        try:
            line = await _read_line(r, timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return Started(error="timed out starting the container")
        res = parse_answer(line.decode(errors="replace"))
        if res.error:
            proc.wait()
        else:
            res.shim_pid = res.shim_pid or proc.pid
            res.child = proc
        return res

    def close(self) -> None:
        self._drop_zygote()


def _popen_shim(config: Path, stdout_fd: int, log_file: Path) -> subprocess.Popen[bytes]:
    """A shim as our own child (posix_spawn/vfork: about a millisecond, so done inline on the event loop)."""
    with open(log_file, "ab") as errf:
        return subprocess.Popen(
            [*python_argv(), "run", str(config)], stdin=subprocess.DEVNULL, stdout=stdout_fd, stderr=errf,
            start_new_session=True, close_fds=True, cwd="/",
        )


async def _read_line(fd: int, timeout: float) -> bytes:
    """The first line a child writes on the pipe `fd` (which this closes)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()
    buf = bytearray()
    os.set_blocking(fd, False)

    def on_read() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        buf.extend(data)
        if (not data or b"\n" in buf) and not fut.done():
            fut.set_result(bytes(buf).split(b"\n", 1)[0])

    loop.add_reader(fd, on_read)
    try:
        return await asyncio.wait_for(fut, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
