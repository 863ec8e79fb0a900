"""Cleaning up after kubelets that died for good (killed, then their data directory deleted).

A kubelet killed with SIGKILL leaves its pods running on purpose: when it comes back it re-adopts them. But if it
never comes back (a test's temporary data dir is gone), nobody would ever remove its pods' processes, network
namespaces, addresses and cgroups. So every root-mode kubelet registers itself in the host-wide run directory and
indexes there each sandbox's host resources; any kubelet starting up (or housekeeping) removes what belongs to a
registered kubelet whose process is gone *and* whose runtime records (DATA_DIR/runtime) no longer exist.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from kybernetes.kubelet.runtime import linux, procfs
from kybernetes.kubelet.runtime.cgroups import Cgroups

log = logging.getLogger(__name__)


def owner_id(data_dir: Path) -> str:
    return hashlib.sha1(str(data_dir.absolute()).encode()).hexdigest()[:16]


class Registry:
    def __init__(self, run_dir: Path, data_dir: Path, cgroup_root: str) -> None:
        self.kubelets = run_dir / "kubelets"
        self.index = run_dir / "sandboxes"
        self.data_dir = data_dir.absolute()
        self.owner = owner_id(self.data_dir)
        self.cgroup_root = cgroup_root

    def register(self) -> None:
        self.kubelets.mkdir(parents=True, exist_ok=True)
        self.index.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        _write(self.kubelets / f"{self.owner}.json", {
            "data_dir": str(self.data_dir), "pid": pid, "start": procfs.start_time(pid), "cgroup_root": self.cgroup_root,
        })

    def unregister(self) -> None:
        if not any(self._entries(self.owner)):
            with contextlib.suppress(OSError):
                (self.kubelets / f"{self.owner}.json").unlink()

    def add_sandbox(self, sid: str, info: dict[str, Any]) -> None:
        self.index.mkdir(parents=True, exist_ok=True)
        _write(self.index / f"{sid}.json", {**info, "owner": self.owner})

    def remove_sandbox(self, sid: str) -> None:
        with contextlib.suppress(OSError):
            (self.index / f"{sid}.json").unlink()

    def _entries(self, owner: str) -> list[tuple[Path, dict[str, Any]]]:
        out = []
        with contextlib.suppress(OSError):
            for p in self.index.glob("*.json"):
                d = _read(p)
                if d is not None and d.get("owner") == owner:
                    out.append((p, d))
        return out

    def dead_owners(self) -> list[dict[str, Any]]:
        dead = []
        with contextlib.suppress(OSError):
            for p in self.kubelets.glob("*.json"):
                d = _read(p)
                if d is None or p.stem == self.owner:
                    continue
                if procfs.alive(int(d.get("pid", 0)), d.get("start")):
                    continue
                if (Path(str(d.get("data_dir", ""))) / "runtime").exists():
                    continue  # it may come back and re-adopt its pods
                dead.append({**d, "owner": p.stem, "path": str(p)})
        return dead

    def sweep(self) -> list[dict[str, Any]]:
        """What dead kubelets left: (sandbox index entries to tear down), after killing their processes."""
        todo: list[dict[str, Any]] = []
        for d in self.dead_owners():
            log.warning("cleaning up after a kubelet that is gone for good (data dir %s)", d["data_dir"])
            _kill_processes_of(str(d["data_dir"]))
            cg = Cgroups(str(d.get("cgroup_root") or "kybernetes"))
            for p, entry in self._entries(str(d["owner"])):
                if entry.get("ns_dir"):
                    linux.remove_pod_namespaces(str(entry["ns_dir"]))
                if entry.get("uid"):
                    cg.remove_pod(str(entry["uid"]))
                todo.append({**entry, "index": str(p)})
            cg.remove_root_if_empty()
            _detach_mounts_under(str(d["data_dir"]))
            if not todo:
                with contextlib.suppress(OSError):
                    Path(d["path"]).unlink()
        return todo

    def done(self, entry: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            Path(entry["index"]).unlink()
        owner = entry.get("owner")
        if owner and not self._entries(str(owner)):
            with contextlib.suppress(OSError):
                (self.kubelets / f"{owner}.json").unlink()


def _detach_mounts_under(directory: str) -> None:
    """Its self-bound pods directory and volume mounts (a removal of its data dir cannot get past them)."""
    prefix = directory.rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            points = [line.split()[4] for line in f]
    except OSError:
        return
    for p in sorted({p for p in points if p.startswith(prefix)}, key=len, reverse=True):
        with contextlib.suppress(OSError):
            linux.umount(p)


def _kill_processes_of(data_dir: str) -> None:
    """Shims name their config file (inside the data dir) on their command line; their children are containers."""
    shims: list[int] = []
    for st in procfs.all_stats():
        try:
            with open(f"/proc/{st.pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if data_dir.encode() in cmd and b"shim.py" in cmd:
            shims.append(st.pid)
    for pid in shims:
        for child in procfs.descendants(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child.pid, signal.SIGKILL)


def _write(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None
