"""Container log files in the CRI format, written by the runtime and read back for `kubectl logs`.

Upstream kubelets read logs the container runtime wrote as lines of `<RFC3339Nano time> <stdout|stderr> <P|F> <text>`
(P: partial line continued in the next entry, F: full line). Keeping the same format means the same options
(`tailLines`, `sinceTime`, `timestamps`, `limitBytes`, `follow`) behave the same, and the files are readable by any
CRI tool. `CRILogWriter`/`pump` write them from a process's pipes; `read_log` applies the pods/log options.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from kybernetes.streaming.runtime_api import LogOptions

__all__ = ["MAX_LINE", "CRILogWriter", "LogEntry", "format_timestamp", "parse_line", "pump", "read_log"]

MAX_LINE = 16 * 1024
"""A line longer than this is split into partial (P) entries, as containerd does."""

FOLLOW_POLL = 0.1


def format_timestamp(ns: int) -> str:
    """Nanoseconds since the epoch as the fixed-width RFC3339 timestamp CRI files use (always 9 digits)."""
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def _display_timestamp(raw: bytes) -> bytes:
    """Go's RFC3339Nano, as the kubelet prints with `timestamps=true`: trailing zeros of the fraction dropped."""
    head, dot, rest = raw.partition(b".")
    if not dot:
        return raw
    frac = rest.rstrip(b"Z").rstrip(b"0")
    return head + (b"." + frac if frac else b"") + b"Z"


def _parse_time(raw: bytes) -> datetime.datetime | None:
    s = raw.decode("ascii", "replace")
    try:
        head, _, frac = s.rstrip("Z").partition(".")
        dt = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
        return dt + datetime.timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)
    except ValueError:
        return None


class LogEntry:
    """One line of a CRI log file."""

    __slots__ = ("content", "partial", "stream", "timestamp")

    def __init__(self, timestamp: bytes, stream: bytes, partial: bool, content: bytes) -> None:
        self.timestamp = timestamp
        self.stream = stream
        self.partial = partial
        self.content = content

    @property
    def time(self) -> datetime.datetime | None:
        return _parse_time(self.timestamp)

    def display(self, timestamps: bool) -> bytes:
        body = self.content if self.partial else self.content + b"\n"
        return _display_timestamp(self.timestamp) + b" " + body if timestamps else body


def parse_line(line: bytes) -> LogEntry | None:
    """One file line (without its newline) as an entry; None if it is not CRI format."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0], parts[1], parts[2]
    content = parts[3] if len(parts) > 3 else b""
    if stream not in (b"stdout", b"stderr"):
        return None
    return LogEntry(ts, stream, tag.startswith(b"P"), content)


class CRILogWriter:
    """Appends a container's output to its CRI log file, one entry per line (partial entries for long lines).

    Writes are synchronous and small (one `os.write` of whole entries), so several pumps may share one writer.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._pending: dict[str, bytes] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Record `data` from `stream` ("stdout"/"stderr"); an unterminated tail waits for the next write."""
        buf = self._pending.pop(stream, b"") + data
        out: list[bytes] = []
        ts = format_timestamp(time.time_ns()).encode()
        tag = stream.encode()
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl > MAX_LINE:
                if len(buf) > MAX_LINE:
                    out.append(b"%s %s P %s\n" % (ts, tag, buf[:MAX_LINE]))
                    buf = buf[MAX_LINE:]
                    continue
                break
            line = buf[:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            out.append(b"%s %s F %s\n" % (ts, tag, line))
            buf = buf[nl + 1 :]
        if buf:
            self._pending[stream] = buf
        if out:
            os.write(self._fd, b"".join(out))

    def flush(self, stream: str | None = None) -> None:
        """Write out an unterminated tail as a full line (the process closed that stream or exited)."""
        ts = format_timestamp(time.time_ns()).encode()
        for s in [stream] if stream else list(self._pending):
            rest = self._pending.pop(s, b"") if s else b""
            if rest:
                os.write(self._fd, b"%s %s F %s\n" % (ts, s.encode(), rest))

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


async def pump(reader: asyncio.StreamReader, stream: str, writer: CRILogWriter,
               tee: Callable[[bytes], None] | None = None) -> None:
    """Copy a process's output pipe into the log until EOF; `tee` also gets every chunk (for attached clients)."""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        writer.write(stream, chunk)
        if tee is not None:
            tee(chunk)
    writer.flush(stream)


def _tail_offset(f: int, size: int, lines: int) -> int:
    """Offset of the start of the last `lines` lines of the file."""
    if lines <= 0:
        return size
    pos = size
    count = 0
    block = 64 * 1024
    # A final newline terminates the last line; it does not start a new one.
    while pos > 0:
        start = max(0, pos - block)
        data = os.pread(f, pos - start, start)
        end = len(data)
        if pos == size and data.endswith(b"\n"):
            end -= 1
        idx = end
        while True:
            idx = data.rfind(b"\n", 0, idx)
            if idx < 0:
                break
            count += 1
            if count == lines:
                return start + idx + 1
        pos = start
    return 0


async def read_log(
    path: str | os.PathLike[str],
    options: LogOptions,
    running: Callable[[], bool] = lambda: False,
) -> AsyncIterator[bytes]:
    """The log at `path` as `kubectl logs` shows it, honouring tail/since/timestamps/limit and follow.

    With `options.follow`, waits for new entries while `running()` is true and ends once it is false and the file
    is read to the end.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if not options.follow:
            return
        fd = -1
        while running():
            await asyncio.sleep(FOLLOW_POLL)
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(path, os.O_RDONLY)
                break
        if fd < 0:
            return
    try:
        size = os.fstat(fd).st_size
        pos = _tail_offset(fd, size, options.tail_lines) if options.tail_lines is not None else 0
        remaining = options.limit_bytes
        carry = b""
        since = options.since_time
        while True:
            data = os.pread(fd, 256 * 1024, pos)
            if not data:
                if not options.follow:
                    return
                alive = running()  # asked before the size check: the last lines land before the exit
                if os.fstat(fd).st_size > pos:
                    continue
                if not alive:
                    return
                await asyncio.sleep(FOLLOW_POLL)
                continue
            pos += len(data)
            buf = carry + data
            last_nl = buf.rfind(b"\n")
            if last_nl < 0:
                carry = buf
                continue
            carry = buf[last_nl + 1 :]
            out: list[bytes] = []
            for line in buf[:last_nl].split(b"\n"):
                entry = parse_line(line)
                if entry is None:
                    continue
                if since is not None:
                    t = entry.time
                    if t is not None and t < since:
                        continue
                out.append(entry.display(options.timestamps))
            chunk = b"".join(out)
            if remaining is not None:
                if len(chunk) >= remaining:
                    if remaining:
                        yield chunk[:remaining]
                    return
                remaining -= len(chunk)
            if chunk:
                yield chunk
    finally:
        os.close(fd)
