"""The kubelet stats Summary API (`/stats/summary`): node and per-pod/container CPU, memory, filesystem, network.

The shape is upstream's `statsapi.Summary` (what metrics-server and `kubectl top` read through it). Per-container
numbers come from the runtime (cgroups as root, the /proc process tree otherwise); `usageNanoCores` is the rate
between this sample and the previous one, so the first call reports only cumulative CPU.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TYPE_CHECKING, Any

from kybernetes.kubelet.runtime.api import ContainerState
from kybernetes.kubelet.status import rfc3339

if TYPE_CHECKING:
    from kybernetes.kubelet.kubelet import Kubelet

Obj = dict[str, Any]


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                k, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[k] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    except OSError:
        pass
    return out


def _cpu_ns() -> int:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return 0
    vals = [int(x) for x in fields]
    busy = sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)
    return busy * 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)


def _fs(path: str, now: str) -> Obj:
    try:
        du = shutil.disk_usage(path)
        st = os.statvfs(path)
    except OSError:
        return {"time": now}
    return {
        "time": now,
        "availableBytes": du.free,
        "capacityBytes": du.total,
        "usedBytes": du.used,
        "inodesFree": st.f_ffree,
        "inodes": st.f_files,
        "inodesUsed": st.f_files - st.f_ffree,
    }


def _dir_size(path: str, limit: int = 20000) -> int:
    total = 0
    seen = 0
    stack = [path]
    while stack and seen < limit:
        p = stack.pop()
        try:
            with os.scandir(p) as it:
                for e in it:
                    seen += 1
                    if e.is_symlink():
                        continue
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    else:
                        total += e.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


class StatsProvider:
    def __init__(self, kubelet: Kubelet) -> None:
        self.k = kubelet
        self._last: dict[str, tuple[float, int]] = {}

    def _rate(self, key: str, cpu_ns: int | None, t: float) -> int | None:
        if cpu_ns is None:
            return None
        prev = self._last.get(key)
        self._last[key] = (t, cpu_ns)
        if prev is None or t <= prev[0]:
            return None
        return max(0, int((cpu_ns - prev[1]) / (t - prev[0])))

    def summary(self) -> Obj:
        t = time.time()
        now = rfc3339(t)
        k = self.k
        mem = _meminfo()
        total = mem.get("MemTotal", 0)
        avail = mem.get("MemAvailable", 0)
        node_cpu = _cpu_ns()
        data_dir = str(k.config.data_dir)
        node: Obj = {
            "nodeName": k.config.node_name,
            "systemContainers": [],
            "startTime": rfc3339(_boot_time()),
            "cpu": {"time": now, "usageCoreNanoSeconds": node_cpu},
            "memory": {
                "time": now,
                "availableBytes": avail,
                "usageBytes": total - mem.get("MemFree", 0),
                "workingSetBytes": total - avail,
                "rssBytes": total - avail - mem.get("Cached", 0) if total else 0,
                "pageFaults": 0,
                "majorPageFaults": 0,
            },
            "fs": _fs(data_dir, now),
            "runtime": {"imageFs": _fs(data_dir, now), "containerFs": _fs(data_dir, now)},
            "rlimit": {"time": now, "maxpid": _pid_max(), "curproc": _nprocs()},
        }
        rate = self._rate("node", node_cpu, t)
        if rate is not None:
            node["cpu"]["usageNanoCores"] = rate
        pods: list[Obj] = []
        live_keys = {"node"}
        containers = k.runtime.list_containers()
        for uid, w in list(k.workers.items()):
            meta = w.pod.get("metadata") or {}
            cstats: list[Obj] = []
            pod_cpu = pod_mem = pod_ws = pod_rss = 0
            have_cpu = False
            logs_used = 0
            for c in containers:
                if c.labels.get("io.kubernetes.pod.uid") != uid or c.state != ContainerState.RUNNING:
                    continue
                st = k.runtime.container_stats(c.id)
                if st is None:
                    continue
                live_keys.add(c.id)
                entry: Obj = {"name": c.name, "startTime": rfc3339(c.started_at)}
                cpu: Obj = {"time": now}
                if st.cpu_usage_core_ns is not None:
                    cpu["usageCoreNanoSeconds"] = st.cpu_usage_core_ns
                    r = self._rate(c.id, st.cpu_usage_core_ns, t)
                    if r is not None:
                        cpu["usageNanoCores"] = r
                    pod_cpu += st.cpu_usage_core_ns
                    have_cpu = True
                memory: Obj = {"time": now}
                if st.memory_usage_bytes is not None:
                    memory.update(
                        usageBytes=st.memory_usage_bytes,
                        workingSetBytes=st.memory_working_set_bytes or 0,
                        rssBytes=st.memory_rss_bytes or 0,
                        pageFaults=st.page_faults or 0,
                        majorPageFaults=st.major_page_faults or 0,
                    )
                    pod_mem += st.memory_usage_bytes
                    pod_ws += st.memory_working_set_bytes or 0
                    pod_rss += st.memory_rss_bytes or 0
                entry["cpu"] = cpu
                entry["memory"] = memory
                entry["logs"] = {"time": now, "usedBytes": st.log_bytes or 0}
                logs_used += st.log_bytes or 0
                cstats.append(entry)
            pod_entry: Obj = {
                "podRef": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": uid},
                "startTime": w.start_time or now,
                "containers": cstats,
                "cpu": {"time": now, **({"usageCoreNanoSeconds": pod_cpu} if have_cpu else {})},
                "memory": {"time": now, "usageBytes": pod_mem, "workingSetBytes": pod_ws, "rssBytes": pod_rss},
                "volume": [],
            }
            r = self._rate(f"pod/{uid}", pod_cpu if have_cpu else None, t)
            live_keys.add(f"pod/{uid}")
            if r is not None:
                pod_entry["cpu"]["usageNanoCores"] = r
            net = self._network(uid, now)
            if net:
                pod_entry["network"] = net
            vol_used = 0
            for name, vol in (w.volumes or {}).items():
                if vol.kind in ("emptyDir", "configMap", "secret", "downwardAPI", "projected"):
                    used = _dir_size(vol.path)
                    vol_used += used if vol.kind == "emptyDir" else 0
                    pod_entry["volume"].append({"time": now, "name": name, "usedBytes": used, **_fs_cap(vol.path)})
            pod_entry["ephemeral-storage"] = {"time": now, "usedBytes": logs_used + vol_used, **_fs_cap(data_dir)}
            pods.append(pod_entry)
        for key in [key for key in self._last if key not in live_keys]:
            del self._last[key]
        return {"node": node, "pods": pods}

    def _network(self, uid: str, now: str) -> Obj | None:
        fn = getattr(self.k.runtime, "pod_network_stats", None)
        if fn is None:
            return None
        for s in self.k.runtime.list_pod_sandboxes():
            if s.uid == uid and s.state == "SANDBOX_READY":
                st = fn(s.id)
                if st:
                    iface = {"name": "eth0", **st}
                    return {"time": now, **iface, "interfaces": [iface]}
        return None


def _fs_cap(path: str) -> Obj:
    try:
        du = shutil.disk_usage(path)
    except OSError:
        return {}
    return {"availableBytes": du.free, "capacityBytes": du.total}


def _boot_time() -> float:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return time.time()


def _pid_max() -> int:
    try:
        with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def _nprocs() -> int:
    try:
        return sum(1 for n in os.listdir("/proc") if n.isdigit())
    except OSError:
        return 0
