"""The root-mode service proxy: keeps this node's nftables table equal to the Services and their endpoints.

It is an API client like any other: informers on Services and EndpointSlices, one batched sync per burst of
changes that renders the whole table and applies it with a single `nft -f` transaction. On start the table is
rebuilt from scratch (whatever a crash left is dropped); on a clean stop it is deleted. UDP conntrack entries
pointing at endpoints that went away are cleared, as upstream does, so DNS clients do not keep talking to a dead pod.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil

from kybernetes.client.informer import InformerFactory
from kybernetes.client.rest import Client
from kybernetes.proxy.model import ServicePort
from kybernetes.proxy.nftables import Renderer, Ruleset
from kybernetes.proxy.watch import ServiceWatch, SyncLoop

log = logging.getLogger(__name__)

SYSCTLS = {
    "net/ipv4/ip_forward": "1",  # pods reach other pods and Service VIPs through the host
    "net/ipv4/conf/all/route_localnet": "1",  # NodePorts on 127.0.0.1 may be DNATed to pod addresses
    # A pod reaching a Service whose endpoint sits on the same bridge gets its reply bridged, not routed: only with
    # bridged traffic passing the IP hooks is the DNAT undone (upstream requires it too). Skipped if absent.
    "net/bridge/bridge-nf-call-iptables": "1",
}


def table_name(node: str) -> str:
    """One table per node name, so several test nodes on one host never touch each other's rules."""
    return "kyb-" + re.sub(r"[^A-Za-z0-9_-]", "-", node)[:200]


class NftError(RuntimeError):
    pass


async def nft_apply(script: str, nft: str = "nft") -> None:
    proc = await asyncio.create_subprocess_exec(
        nft, "-f", "-", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate(script.encode())
    if proc.returncode != 0:
        raise NftError(f"nft failed ({proc.returncode}): {err.decode(errors='replace').strip()[:2000]}")


def ensure_sysctls() -> None:
    for key, want in SYSCTLS.items():
        path = f"/proc/sys/{key}"
        if key.startswith("net/bridge/") and not os.path.exists(path):
            continue
        try:
            with open(path, encoding="ascii") as f:
                if f.read().strip() == want:
                    continue
            with open(path, "w", encoding="ascii") as f:
                f.write(want)
        except OSError as e:
            log.warning("cannot set %s=%s: %s", key.replace("/", "."), want, e)


def _udp_targets(ports: list[ServicePort], node: str) -> dict[tuple[str, int], set[tuple[str, int]]]:
    """(frontend ip, port) -> endpoint (ip, port)s, for UDP service ports."""
    out: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for sp in ports:
        if sp.protocol != "UDP":
            continue
        ceps = {(e.ip, e.port) for e in sp.cluster_endpoints(node)}
        for ip in sp.cluster_ips:
            out[(ip, sp.port)] = ceps
        xeps = {(e.ip, e.port) for e in sp.external_endpoints(node)}
        for ip in (*sp.lb_ips, *sp.external_ips):
            out[(ip, sp.port)] = xeps
    return out


class NftProxier:
    """kube-proxy's job for one node, with nftables."""

    def __init__(self, client: Client, *, node_name: str, cluster_cidr: str, nft: str = "nft") -> None:
        self.client = client
        self.node_name = node_name
        self.factory = InformerFactory(client)
        self.watch = ServiceWatch(self.factory)
        self.renderer = Renderer(table_name(node_name), node_name, cluster_cidr, comment=f"kybernetes proxy pid {os.getpid()}")
        self.nft = shutil.which(nft) or nft
        self.conntrack = shutil.which("conntrack")
        self.loop = SyncLoop("proxy", self.sync)
        self._applied: Ruleset | None = None
        self._udp: dict[tuple[str, int], set[tuple[str, int]]] = {}
        self.watch.on_change(self.loop.trigger)

    @property
    def table(self) -> str:
        return self.renderer.table

    async def start(self) -> None:
        ensure_sysctls()
        await self.factory.start()
        await self.factory.wait_synced(60.0)
        try:
            await self.sync()
        except NftError as e:  # keep the node running; the sync loop retries with backoff
            log.error("service proxy: first sync failed: %s", e)
            self.loop.trigger()
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        await self.factory.stop()
        try:
            await nft_apply(self.renderer.delete_script(), self.nft)
        except NftError as e:
            log.warning("removing table %s: %s", self.table, e)
        self._applied = None
        await self.client.close()

    async def _table_intact(self) -> bool:
        """Whether our table still exists (another process may have deleted it); a tiny chain is listed."""
        proc = await asyncio.create_subprocess_exec(
            self.nft, "list", "chain", "ip", self.table, "mark-masq",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    async def sync(self) -> None:
        if self._applied is not None and not await self._table_intact():
            log.warning("service proxy: table %s vanished; rebuilding it", self.table)
            self._applied = None
        ports = self.watch.ports()
        rs = self.renderer.render(ports, self._applied, fresh=self._applied is None)
        try:
            await nft_apply(rs.script, self.nft)
        except NftError:
            # The table is not what we think (someone deleted it, or a partial state): rebuild it whole next time.
            self._applied = None
            raise
        self._applied = rs
        udp = _udp_targets(ports, self.node_name)
        await self._clear_stale_udp(self._udp, udp)
        self._udp = udp

    async def _clear_stale_udp(
        self, old: dict[tuple[str, int], set[tuple[str, int]]], new: dict[tuple[str, int], set[tuple[str, int]]]
    ) -> None:
        if self.conntrack is None:
            return
        jobs: list[list[str]] = []
        for (ip, port), eps in old.items():
            for gip, gport in eps - new.get((ip, port), set()):
                jobs.append(
                    ["-p", "udp", "--orig-dst", ip, "--orig-port-dst", str(port), "--reply-src", gip, "--reply-port-src", str(gport)]
                )
        for (ip, port), eps in new.items():
            if eps and not old.get((ip, port)):
                # Entries made while the Service had no endpoints would keep blackholing the client.
                jobs.append(["-p", "udp", "--orig-dst", ip, "--orig-port-dst", str(port)])
        for args in jobs:
            proc = await asyncio.create_subprocess_exec(
                self.conntrack, "-D", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            await proc.wait()
