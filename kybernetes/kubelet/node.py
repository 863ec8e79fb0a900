"""What a node reports about itself: capacity, addresses, nodeInfo and conditions, read from this machine."""

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
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return "127.0.0.1"
    for info in infos:
        addr = str(info[4][0])
        if not addr.startswith("127."):
            return addr
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


def conditions(ready: bool, message: str, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    now = now_rfc3339()
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
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond(
            "Ready",
            "True" if ready else "False",
            "KubeletReady" if ready else "KubeletNotReady",
            message,
        ),
    ]
