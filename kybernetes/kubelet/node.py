"""What a node reports about itself: capacity, addresses, nodeInfo, conditions and pressure, read from this machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
from typing import Any

from kybernetes import KUBE_VERSION, __version__
from kybernetes.machinery.meta import now_rfc3339


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _os_image() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(p, encoding="ascii") as f:
                return f.read().strip()
        except OSError:
            continue
    return ""


def host_ip() -> str:
    """The node's address: its hostname's first non-loopback IPv4, else the source address of the default route."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        addr = str(info[4][0])
        if not addr.startswith("127."):
            return addr
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.254.254.254", 9))  # UDP connect only picks a route; nothing is sent
            addr = str(s.getsockname()[0])
            if addr and not addr.startswith("0."):
                return addr
    except OSError:
        pass
    return "127.0.0.1"


def capacity(data_dir: str) -> dict[str, str]:
    disk = shutil.disk_usage(data_dir if os.path.exists(data_dir) else "/")
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_kib()}Ki",
        "ephemeral-storage": f"{disk.total // 1024}Ki",
        "pods": "110",
        "hugepages-2Mi": "0",
    }


def allocatable(cap: dict[str, str]) -> dict[str, str]:
    return dict(cap)


def node_info(runtime: str) -> dict[str, str]:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "machineID": _machine_id(),
        "systemUUID": _machine_id(),
        "bootID": _boot_id(),
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "containerRuntimeVersion": runtime,
        "kubeletVersion": f"{KUBE_VERSION}+kyb{__version__}",
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": arch,
    }


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


MEMORY_AVAILABLE_MIN = 100 * 1024 * 1024
DISK_AVAILABLE_MIN = 0.10
PID_AVAILABLE_MIN = 0.05


def pressure(data_dir: str) -> dict[str, bool]:
    """Upstream's default hard eviction thresholds: memory.available<100Mi, nodefs.available<10%, pids<5% left."""
    out = {"memory": False, "disk": False, "pid": False}
    avail = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    out["memory"] = 0 < avail < MEMORY_AVAILABLE_MIN
    try:
        du = shutil.disk_usage(data_dir if os.path.exists(data_dir) else "/")
        out["disk"] = du.total > 0 and du.free / du.total < DISK_AVAILABLE_MIN
    except OSError:
        pass
    try:
        with open("/proc/sys/kernel/pid_max", encoding="ascii") as f:
            pid_max = int(f.read())
        procs = sum(1 for n in os.listdir("/proc") if n.isdigit())
        out["pid"] = pid_max > 0 and (pid_max - procs) / pid_max < PID_AVAILABLE_MIN
    except (OSError, ValueError):
        pass
    return out


def conditions(
    ready: bool, message: str, previous: list[dict[str, Any]] | None = None, pressure: dict[str, bool] | None = None
) -> list[dict[str, Any]]:
    now = now_rfc3339()
    p = pressure or {}
    prev = {c.get("type"): c for c in previous or []}

    def cond(t: str, status: str, reason: str, msg: str) -> dict[str, Any]:
        p = prev.get(t)
        transition = p.get("lastTransitionTime", now) if p and p.get("status") == status else now
        return {
            "type": t,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": msg,
        }

    return [
        cond("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
        if p.get("memory")
        else cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
        if p.get("disk")
        else cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")
        if p.get("pid")
        else cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond(
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            message,
        ),
    ]
