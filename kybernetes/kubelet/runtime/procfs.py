"""Facts about host processes from /proc: identity (pid + start time), liveness, process trees, usage.

A pid alone does not identify a process across a kubelet restart (pids are reused), so the runtime records
`(pid, starttime)` — the kernel's start time in clock ticks since boot — and only treats a process as its own
when both match. Without cgroups (rootless mode) the process tree under a container's pid gives its stats.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class ProcStat:
    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    utime: int
    stime: int
    starttime: int
    rss_pages: int
    minflt: int
    majflt: int


def stat(pid: int) -> ProcStat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rp = raw.rfind(b")")
    if rp < 0:
        return None
    fields = raw[rp + 2 :].split()
    # fields[0] is field 3 (state) of proc(5)
    try:
        return ProcStat(
            pid=pid,
            state=fields[0].decode(),
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            minflt=int(fields[7]),
            majflt=int(fields[9]),
            utime=int(fields[11]),
            stime=int(fields[12]),
            starttime=int(fields[19]),
            rss_pages=int(fields[21]),
        )
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    st = stat(pid)
    return st.starttime if st else None


def alive(pid: int, starttime: int | None) -> bool:
    """The same process (pid and start time match) still exists and is not a zombie."""
    if pid <= 0:
        return False
    st = stat(pid)
    if st is None or st.state in ("Z", "X"):
        return False
    return starttime is None or st.starttime == starttime


def all_stats() -> list[ProcStat]:
    out: list[ProcStat] = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = stat(int(name))
                if st is not None:
                    out.append(st)
    return out


def descendants(pid: int, table: list[ProcStat] | None = None) -> list[ProcStat]:
    """The process and everything below it (by parent pid), from one /proc scan."""
    table = table if table is not None else all_stats()
    children: dict[int, list[ProcStat]] = {}
    me: ProcStat | None = None
    for st in table:
        children.setdefault(st.ppid, []).append(st)
        if st.pid == pid:
            me = st
    if me is None:
        return []
    out = [me]
    i = 0
    while i < len(out):
        out.extend(children.get(out[i].pid, []))
        i += 1
    return out


def boot_time() -> float:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0
