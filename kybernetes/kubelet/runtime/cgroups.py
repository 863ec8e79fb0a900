"""cgroup v1 directories for pods and containers: limits from resources, usage for stats, OOM evidence, kill-all.

Layout per controller: `<mount>/<root>/pod<uid>/<container-id>` (the upstream kubelet's `kubepods/pod<uid>` shape).
A container process joins its cgroups itself (the shim's child writes `0` to each `cgroup.procs` before exec), so
nothing outside the container is ever charged to it. Only the cgroup v1 hierarchy is handled: these machines run v1.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from pathlib import Path

from kybernetes.kubelet.runtime.api import Resources

log = logging.getLogger(__name__)

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")


def v1_mounts() -> dict[str, Path]:
    """controller name -> mount point of its cgroup v1 hierarchy."""
    found: dict[str, Path] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                fields = post.split()
                if len(fields) < 3 or fields[0] != "cgroup":
                    continue
                mnt = Path(pre.split()[4])
                for opt in fields[2].split(","):
                    if opt in CONTROLLERS:
                        found.setdefault(opt, mnt)
    except OSError:
        pass
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_int(path: Path) -> int | None:
    s = _read(path).strip()
    try:
        return int(s)
    except ValueError:
        return None


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


class Cgroups:
    def __init__(self, root: str = "kybernetes") -> None:
        self.mounts = v1_mounts()
        self.root = root
        self.available = os.geteuid() == 0 and "memory" in self.mounts and os.access(self.mounts["memory"], os.W_OK)

    def _dir(self, controller: str, pod_uid: str, cid: str | None = None) -> Path:
        d = self.mounts[controller] / self.root / f"pod{pod_uid}"
        return d / cid if cid else d

    def create_pod(self, pod_uid: str) -> None:
        if not self.available:
            return
        for c in self.mounts:
            self._dir(c, pod_uid).mkdir(parents=True, exist_ok=True)

    def create_container(self, pod_uid: str, cid: str, res: Resources) -> list[str]:
        """Make the container's cgroups with its limits; returns the `cgroup.procs` files it must join."""
        if not self.available:
            return []
        procs: list[str] = []
        for c in self.mounts:
            d = self._dir(c, pod_uid, cid)
            d.mkdir(parents=True, exist_ok=True)
            procs.append(str(d / "cgroup.procs"))
        if res.memory_limit_bytes > 0:
            _write(self._dir("memory", pod_uid, cid) / "memory.limit_in_bytes", str(res.memory_limit_bytes))
        if "cpu" in self.mounts:
            d = self._dir("cpu", pod_uid, cid)
            if res.cpu_shares > 0:
                _write(d / "cpu.shares", str(max(2, res.cpu_shares)))
            if res.cpu_quota_us > 0:
                _write(d / "cpu.cfs_period_us", str(res.cpu_period_us))
                _write(d / "cpu.cfs_quota_us", str(max(1000, res.cpu_quota_us)))
        if "pids" in self.mounts and res.pids_limit > 0:
            _write(self._dir("pids", pod_uid, cid) / "pids.max", str(res.pids_limit))
        return procs

    def procs_files(self, pod_uid: str, cid: str) -> list[str]:
        if not self.available:
            return []
        return [str(self._dir(c, pod_uid, cid) / "cgroup.procs") for c in self.mounts]

    def pids(self, pod_uid: str, cid: str) -> list[int]:
        if not self.available:
            return []
        ctrl = "pids" if "pids" in self.mounts else "memory"
        text = _read(self._dir(ctrl, pod_uid, cid) / "cgroup.procs")
        return [int(x) for x in text.split() if x.strip().isdigit()]

    def oom_killed(self, pod_uid: str, cid: str) -> bool:
        """Whether the kernel's OOM killer acted in this container's memory cgroup."""
        if not self.available:
            return False
        d = self._dir("memory", pod_uid, cid)
        for line in _read(d / "memory.oom_control").splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill" and v.strip().isdigit():
                return int(v) > 0
        return False

    def memory_failcnt(self, pod_uid: str, cid: str) -> int:
        if not self.available:
            return 0
        return _read_int(self._dir("memory", pod_uid, cid) / "memory.failcnt") or 0

    def stats(self, pod_uid: str, cid: str | None) -> dict[str, int]:
        """cpu (ns), memory usage/working set/rss and page faults of a container (or the whole pod)."""
        out: dict[str, int] = {}
        if not self.available:
            return out
        if "cpuacct" in self.mounts:
            v = _read_int(self._dir("cpuacct", pod_uid, cid) / "cpuacct.usage")
            if v is not None:
                out["cpu_ns"] = v
        md = self._dir("memory", pod_uid, cid)
        usage = _read_int(md / "memory.usage_in_bytes")
        if usage is not None:
            stat: dict[str, int] = {}
            for line in _read(md / "memory.stat").splitlines():
                key, _, val = line.partition(" ")
                with contextlib.suppress(ValueError):
                    stat[key] = int(val)
            inactive = stat.get("total_inactive_file", 0)
            out["memory_usage"] = usage
            out["memory_working_set"] = max(0, usage - inactive)
            out["memory_rss"] = stat.get("total_rss", 0)
            out["pgfault"] = stat.get("total_pgfault", 0)
            out["pgmajfault"] = stat.get("total_pgmajfault", 0)
        if "pids" in self.mounts:
            cur = _read_int(self._dir("pids", pod_uid, cid) / "pids.current")
            if cur is not None:
                out["processes"] = cur
        return out

    def kill_all(self, pod_uid: str, cid: str) -> None:
        for pid in self.pids(pod_uid, cid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def remove_container(self, pod_uid: str, cid: str, timeout: float = 2.0) -> None:
        if not self.available:
            return
        self.kill_all(pod_uid, cid)
        for c in self.mounts:
            _rmdir_retry(self._dir(c, pod_uid, cid), timeout)

    def remove_pod(self, pod_uid: str, timeout: float = 2.0) -> None:
        if not self.available:
            return
        for c in self.mounts:
            d = self._dir(c, pod_uid)
            if d.is_dir():
                for child in d.iterdir():
                    if child.is_dir():
                        for pid in _read(child / "cgroup.procs").split():
                            with contextlib.suppress(ProcessLookupError, ValueError):
                                os.kill(int(pid), signal.SIGKILL)
                        _rmdir_retry(child, timeout)
            _rmdir_retry(d, timeout)

    def remove_root_if_empty(self) -> None:
        if not self.available:
            return
        for c in self.mounts:
            with contextlib.suppress(OSError):
                (self.mounts[c] / self.root).rmdir()


def _rmdir_retry(d: Path, timeout: float) -> None:
    """cgroup directories stay busy for a moment after their last task exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                log.warning("cannot remove cgroup %s: %s", d, e)
                return
            time.sleep(0.02)
