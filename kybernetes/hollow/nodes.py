"""What a hollow node looks like as data: its Node object, status conditions, Lease and pod address range.

Kept apart from the pool so the shapes can be read (and tested) without any I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kybernetes import KUBE_VERSION, __version__
from kybernetes.machinery.meta import now_micro, now_rfc3339

HOLLOW_LABEL = "type"
HOLLOW_VALUE = "hollow"
ANNOTATION_PREFIX = "hollow.kybernetes.io/"
HEARTBEAT_ANNOTATION = ANNOTATION_PREFIX + "heartbeat"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40

DEFAULT_CAPACITY = {
    "cpu": "32",
    "memory": "256Gi",
    "ephemeral-storage": "1Ti",
    "pods": "110",
    "hugepages-2Mi": "0",
}


def conditions(ready: bool = True, previous: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
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
            "kubelet is posting ready status" if ready else "hollow node not ready",
        ),
    ]


@dataclass
class HollowNode:
    """One simulated node: its name, address, pod subnet and the pod IPs handed out on it."""

    name: str
    index: int
    internal_ip: str
    pod_cidr: ipaddress.IPv4Network
    heartbeat: bool = True
    uid: str = ""
    used_ips: set[str] = field(default_factory=set)
    _next: int = 2

    def allocate_ip(self) -> str:
        hosts = self.pod_cidr.num_addresses - 2
        for _ in range(hosts):
            offset = self._next
            self._next = 2 if self._next >= hosts else self._next + 1
            ip = str(self.pod_cidr.network_address + offset)
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip
        raise RuntimeError(f"hollow node {self.name}: pod range {self.pod_cidr} exhausted")

    def release_ip(self, ip: str) -> None:
        self.used_ips.discard(ip)

    def node_object(self, capacity: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": "amd64",
                    HOLLOW_LABEL: HOLLOW_VALUE,
                    **labels,
                },
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {"podCIDR": str(self.pod_cidr), "podCIDRs": [str(self.pod_cidr)]},
            "status": self.status(capacity),
        }

    def status(self, capacity: dict[str, str], previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "capacity": dict(capacity),
            "allocatable": dict(capacity),
            "conditions": conditions(True, previous),
            "addresses": [
                {"type": "InternalIP", "address": self.internal_ip},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": f"hollow-{self.index}",
                "systemUUID": f"hollow-{self.index}",
                "bootID": f"hollow-{self.index}",
                "kernelVersion": "hollow",
                "osImage": "kybernetes hollow node",
                "containerRuntimeVersion": "hollow://1.0",
                "kubeletVersion": f"{KUBE_VERSION}+kyb{__version__}",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def lease(self, duration: int = LEASE_DURATION) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": LEASE_NAMESPACE}
        if self.uid:
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": duration, "renewTime": now_micro()},
        }


def pod_subnet(cidr: str, index: int, prefix: int = 24) -> ipaddress.IPv4Network:
    net = ipaddress.IPv4Network(cidr)
    subnets = 2 ** (prefix - net.prefixlen)
    if index >= subnets:
        raise ValueError(f"{cidr} has room for {subnets} /{prefix} pod ranges, not {index + 1}")
    return ipaddress.IPv4Network((int(net.network_address) + index * 2 ** (32 - prefix), prefix))


def node_ip(cidr: str, index: int) -> str:
    net = ipaddress.IPv4Network(cidr)
    if index + 2 >= net.num_addresses:
        raise ValueError(f"{cidr} has no room for node {index}")
    return str(net.network_address + index + 2)
