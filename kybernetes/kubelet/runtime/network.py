"""Pod networking as root: a node bridge, one network namespace and veth pair per pod, a pod IP from the podCIDR.

This is what the upstream bridge (with ipMasq) and host-local CNI plugins do. The node bridge, its NAT rule and
ip_forward are set up once with iproute2/iptables; each pod's namespace and veth pair are made with a few netlink
messages (netlink.py), no process per pod. Addresses are allocated as one file per address under the run directory,
created with O_EXCL, so several kubelets on one host sharing a bridge (test clusters do) never hand out the same
address. Any kybernetes kubelet deletes the bridge (and its rules) on stop once no veth is attached to it, if a
kybernetes kubelet made it; a kubelet recreates it whenever it finds it missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import time
from pathlib import Path

from kybernetes.kubelet.runtime import linux, netlink

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
STALE_AFTER = 60.0


class NetworkError(Exception):
    pass


async def run_cmd(*argv: str, check: bool = True) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    code = proc.returncode or 0
    if check and code != 0:
        raise NetworkError(f"{' '.join(argv)}: {out.decode(errors='replace').strip()}")
    return code, out.decode(errors="replace")


async def run_ip(*args: str, batch: str | None = None, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ip",
        *args,
        stdin=asyncio.subprocess.PIPE if batch is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(batch.encode() if batch is not None else None)
    if check and proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode()


def read_sysctl(path: str) -> str:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def write_sysctl(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def link_exists(name: str) -> bool:
    """A sysfs lookup (memory only, never blocks)."""
    return os.path.exists(f"/sys/class/net/{name}")


def netns_exists(name: str) -> bool:
    return os.path.exists(NETNS_DIR / name)


def bridge_ports(bridge: str) -> list[str]:
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []


def veth_name(netns: str) -> str:
    return "kv" + hashlib.sha1(netns.encode()).hexdigest()[:11]


class IPAM:
    """host-local style allocation: one file per address, owner inside."""

    def __init__(self, directory: Path, cidr: str) -> None:
        self.dir = directory
        self.net = ipaddress.ip_network(cidr, strict=False)
        self.gateway = self.net.network_address + 1
        self._next = 2

    def allocate(self, owner: str) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        size = self.net.num_addresses
        for i in range(size):
            off = 2 + (self._next - 2 + i) % max(1, size - 3)
            ip = self.net.network_address + off
            if ip == self.net.broadcast_address or ip == self.gateway:
                continue
            path = self.dir / str(ip)
            for _ in range(2):
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                except FileExistsError:
                    if self._stale(path):
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                        continue
                    break
                with os.fdopen(fd, "w") as f:
                    f.write(owner)
                self._next = off + 1
                return str(ip)
        raise NetworkError(f"no free address in {self.net}")

    def _stale(self, path: Path) -> bool:
        """An address whose network namespace is gone (its kubelet died with it) is free again."""
        try:
            owner = path.read_text().strip()
            age = time.time() - path.stat().st_mtime
        except OSError:
            return False
        return age > STALE_AFTER and bool(owner) and not (NETNS_DIR / owner).exists()

    def release(self, ip: str, owner: str) -> None:
        release_address(self.dir, ip, owner)


def release_address(directory: Path, ip: str, owner: str) -> None:
    path = directory / ip
    try:
        if path.read_text().strip() == owner:
            path.unlink()
    except OSError:
        pass


async def teardown_netns(netns: str, ip: str, ipam_dir: Path) -> None:
    """Delete a pod's network namespace and veth pair, and free its address."""
    await asyncio.to_thread(netlink.delete_netns, str(NETNS_DIR / netns), veth_name(netns))
    if ip:
        release_address(ipam_dir, ip, netns)


class BridgeNetwork:
    def __init__(self, bridge: str, pod_cidr: str, run_dir: Path, *, egress: bool = True) -> None:
        self.bridge = bridge
        self.egress = egress
        self.pod_cidr = pod_cidr
        self.ipam = IPAM(run_dir / "ipam" / bridge, pod_cidr)
        self.prefix = self.ipam.net.prefixlen
        self.created_bridge = False
        self._lock = asyncio.Lock()
        self._ready = False
        self._marker = run_dir / "bridges" / bridge

    async def ensure_bridge(self) -> None:
        async with self._lock:
            if self._ready and link_exists(self.bridge):
                return
            gw = f"{self.ipam.gateway}/{self.prefix}"
            if not link_exists(self.bridge):
                out = await run_ip("link", "add", self.bridge, "type", "bridge", check=False)
                del out
                if link_exists(self.bridge):
                    self.created_bridge = True
                    self._marker.parent.mkdir(parents=True, exist_ok=True)
                    self._marker.write_text(str(os.getpid()))
            addrs = await run_ip("-o", "-4", "addr", "show", "dev", self.bridge)
            if f" {gw} " not in addrs:
                await run_ip("addr", "add", gw, "dev", self.bridge, check=False)
            await run_ip("link", "set", self.bridge, "up")
            await self._ensure_egress()
            self._ready = True

    def _rules(self) -> list[tuple[str, list[str]]]:
        """Like the bridge CNI plugin with ipMasq: pods reach beyond the node through NAT, forwarding allowed."""
        tag = ["-m", "comment", "--comment", f"kybernetes {self.bridge}"]
        cidr = str(self.ipam.net)
        return [
            ("nat", ["POSTROUTING", "-s", cidr, "!", "-o", self.bridge, *tag, "-j", "MASQUERADE"]),
            ("filter", ["FORWARD", "-i", self.bridge, *tag, "-j", "ACCEPT"]),
            ("filter", ["FORWARD", "-o", self.bridge, *tag, "-j", "ACCEPT"]),
        ]

    async def _ensure_egress(self) -> None:
        if not self.egress:
            return
        if read_sysctl(IP_FORWARD) != "1":
            # Every Kubernetes node needs this (kubeadm refuses to join without it); it is not reverted.
            write_sysctl(IP_FORWARD, "1")
        for table, rule in self._rules():
            code, _ = await run_cmd("iptables", "-w", "-t", table, "-C", *rule, check=False)
            if code != 0:
                await run_cmd("iptables", "-w", "-t", table, "-A", *rule)

    async def _remove_egress(self) -> None:
        for table, rule in self._rules():
            while (await run_cmd("iptables", "-w", "-t", table, "-D", *rule, check=False))[0] == 0:
                pass

    async def setup(self, netns: str) -> str:
        """Create netns `netns` wired to the bridge; returns the pod IP."""
        await self.ensure_bridge()
        ip = self.ipam.allocate(netns)
        path, veth, prefix, gw = str(NETNS_DIR / netns), veth_name(netns), self.prefix, str(self.ipam.gateway)
        try:
            await linux.in_fresh_thread(lambda: netlink.create_pod_netns(path, veth, self.bridge, ip, prefix, gw))
        except Exception as e:
            await self.teardown(netns, ip)
            raise NetworkError(f"cannot set up the pod network {netns}: {e}") from e
        return ip

    async def teardown(self, netns: str, ip: str) -> None:
        await teardown_netns(netns, ip, self.ipam.dir)

    async def close(self) -> None:
        """Delete the bridge if this kubelet made it and nothing is plugged into it any more."""
        if not (self.created_bridge or self._marker.exists()):
            return
        if bridge_ports(self.bridge):
            return
        await run_ip("link", "del", self.bridge, check=False)
        if self.egress:
            await self._remove_egress()
        with contextlib.suppress(OSError):
            self._marker.unlink()
        with contextlib.suppress(OSError):
            self.ipam.dir.rmdir()
