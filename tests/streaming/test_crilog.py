"""CRI log files: writing entries, and reading them back with the pods/log options."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from kybernetes.streaming import crilog
from kybernetes.streaming.runtime_api import LogOptions


async def collect(path: Path, opts: LogOptions, running: object = None) -> bytes:
    out = b""
    kwargs = {"running": running} if running is not None else {}
    async for chunk in crilog.read_log(path, opts, **kwargs):  # type: ignore[arg-type]
        out += chunk
    return out


def write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


LINES = [
    "2024-01-01T00:00:00.000000000Z stdout F one\n",
    "2024-01-01T00:00:01.500000000Z stderr F two\n",
    "2024-01-01T00:00:02.000000000Z stdout P thr\n",
    "2024-01-01T00:00:02.000000001Z stdout F ee\n",
    "2024-01-01T00:00:03.000000000Z stdout F four\n",
]


async def test_read_plain_and_timestamps(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, LINES)
    assert await collect(p, LogOptions()) == b"one\ntwo\nthree\nfour\n"
    ts = await collect(p, LogOptions(timestamps=True))
    assert ts.splitlines()[0] == b"2024-01-01T00:00:00Z one"
    assert ts.splitlines()[1] == b"2024-01-01T00:00:01.5Z two"


async def test_tail_since_limit(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, LINES)
    assert await collect(p, LogOptions(tail_lines=1)) == b"four\n"
    assert await collect(p, LogOptions(tail_lines=2)) == b"ee\nfour\n"  # file lines, as upstream counts them
    assert await collect(p, LogOptions(tail_lines=0)) == b""
    assert await collect(p, LogOptions(tail_lines=100)) == b"one\ntwo\nthree\nfour\n"
    since = datetime.datetime(2024, 1, 1, 0, 0, 2, tzinfo=datetime.UTC)
    assert await collect(p, LogOptions(since_time=since)) == b"three\nfour\n"
    assert await collect(p, LogOptions(limit_bytes=6)) == b"one\ntw"


async def test_writer_splits_lines(tmp_path: Path) -> None:
    w = crilog.CRILogWriter(tmp_path / "c" / "0.log")
    w.write("stdout", b"hello\nwor")
    w.write("stderr", b"oops\n")
    w.write("stdout", b"ld\r\n")
    w.write("stdout", b"tail")
    w.close()
    lines = (tmp_path / "c" / "0.log").read_bytes().splitlines()
    assert [ln.split(b" ", 3)[1:] for ln in lines] == [
        [b"stdout", b"F", b"hello"], [b"stderr", b"F", b"oops"], [b"stdout", b"F", b"world"], [b"stdout", b"F", b"tail"]
    ]
    assert await collect(tmp_path / "c" / "0.log", LogOptions()) == b"hello\noops\nworld\ntail\n"


async def test_long_lines_become_partial_entries(tmp_path: Path) -> None:
    w = crilog.CRILogWriter(tmp_path / "0.log")
    w.write("stdout", b"x" * (crilog.MAX_LINE * 2 + 5) + b"\n")
    w.close()
    lines = (tmp_path / "0.log").read_bytes().splitlines()
    assert [ln.split(b" ", 3)[2] for ln in lines] == [b"P", b"P", b"F"]
    assert await collect(tmp_path / "0.log", LogOptions()) == b"x" * (crilog.MAX_LINE * 2 + 5) + b"\n"


async def test_follow_until_not_running(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    w = crilog.CRILogWriter(p)
    state = {"running": True}
    got: list[bytes] = []

    async def reader() -> None:
        async for chunk in crilog.read_log(p, LogOptions(follow=True), running=lambda: state["running"]):
            got.append(chunk)

    task = asyncio.create_task(reader())
    w.write("stdout", b"a\n")
    await asyncio.sleep(0.3)
    assert b"".join(got) == b"a\n" and not task.done()
    w.write("stdout", b"b\n")
    state["running"] = False
    await asyncio.wait_for(task, 5)
    assert b"".join(got) == b"a\nb\n"
    w.close()
