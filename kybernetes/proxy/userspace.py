"""The rootless service proxy: NodePorts (and LoadBalancer ports on node addresses) served by asyncio.

Without root there is no NAT to program, so, like kube-proxy's old userspace mode, this process listens on each
NodePort itself and copies bytes to a ready endpoint: TCP by splicing two streams (trying the next endpoint if a
connect fails), UDP by keeping one connected socket per client. ClientIP affinity is a per-port map with expiry.
ClusterIPs are not reachable in this mode (they need the kernel).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import cast

from kybernetes.client.informer import InformerFactory
from kybernetes.client.rest import Client
from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.proxy.watch import ServiceWatch, SyncLoop

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
UDP_IDLE = 60.0


@dataclass
class Frontend:
    """One listening (address, port, protocol) and where its traffic goes."""

    endpoints: list[Endpoint] = field(default_factory=list)
    affinity: int = 0
    sticky: dict[str, tuple[Endpoint, float]] = field(default_factory=dict)
    rr: itertools.count[int] = field(default_factory=itertools.count)

    def order(self, client_ip: str) -> list[Endpoint]:
        """Endpoints in the order to try for this client: its sticky one first, then round robin."""
        eps = list(self.endpoints)
        if not eps:
            return []
        start = next(self.rr) % len(eps)
        out = eps[start:] + eps[:start]
        if self.affinity:
            hit = self.sticky.get(client_ip)
            if hit and hit[1] > time.monotonic() and hit[0] in eps:
                out.remove(hit[0])
                out.insert(0, hit[0])
        return out

    def chose(self, client_ip: str, ep: Endpoint) -> None:
        if self.affinity:
            self.sticky[client_ip] = (ep, time.monotonic() + self.affinity)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


class _Back(asyncio.DatagramProtocol):
    """Replies from an endpoint, sent back to the client through the listening socket."""

    def __init__(self, relay: _UdpRelay, client: tuple[str, int]) -> None:
        self.relay = relay
        self.client = client

    def datagram_received(self, data: bytes, _addr: tuple[str, int]) -> None:
        if self.relay.transport is not None:
            self.relay.transport.sendto(data, self.client)


class _UdpRelay(asyncio.DatagramProtocol):
    def __init__(self, front: Frontend) -> None:
        self.front = front
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], tuple[asyncio.DatagramTransport, float]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        s = self.sessions.get(addr)
        if s is not None:
            s[0].sendto(data)
            self.sessions[addr] = (s[0], time.monotonic())
            return
        asyncio.get_running_loop().create_task(self._open(data, addr))

    async def _open(self, data: bytes, addr: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        for ep in self.front.order(addr[0])[:3]:
            try:
                t, _ = await loop.create_datagram_endpoint(lambda: _Back(self, addr), remote_addr=(ep.ip, ep.port))
            except OSError:
                continue
            self.front.chose(addr[0], ep)
            self.sessions[addr] = (t, time.monotonic())
            t.sendto(data)
            return

    def expire(self) -> None:
        now = time.monotonic()
        for addr, (t, seen) in list(self.sessions.items()):
            if now - seen > UDP_IDLE:
                t.close()
                del self.sessions[addr]

    def close(self) -> None:
        for t, _ in self.sessions.values():
            t.close()
        self.sessions.clear()
        if self.transport is not None:
            self.transport.close()


class UserspaceProxy:
    def __init__(self, client: Client, *, node_name: str, node_addresses: list[str] | None = None) -> None:
        self.client = client
        self.node_name = node_name
        self.node_addresses = node_addresses or []
        self.factory = InformerFactory(client)
        self.watch = ServiceWatch(self.factory)
        self.loop = SyncLoop("userspace-proxy", self.sync, resync=15.0)
        self.fronts: dict[tuple[str, int, str], Frontend] = {}
        self._servers: dict[tuple[str, int, str], asyncio.AbstractServer | _UdpRelay] = {}
        self._failed: set[tuple[str, int, str]] = set()
        self.watch.on_change(self.loop.trigger)

    async def start(self) -> None:
        await self.factory.start()
        await self.factory.wait_synced(60.0)
        await self.sync()
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        await self.factory.stop()
        for key in list(self._servers):
            await self._close(key)
        await self.client.close()

    def _wanted(self, ports: list[ServicePort]) -> dict[tuple[str, int, str], tuple[list[Endpoint], int]]:
        want: dict[tuple[str, int, str], tuple[list[Endpoint], int]] = {}
        local = set(self.node_addresses)
        for sp in ports:
            if sp.protocol not in ("TCP", "UDP"):
                continue
            eps = sp.external_endpoints(self.node_name)
            if sp.node_port:
                want[("0.0.0.0", sp.node_port, sp.protocol)] = (eps, sp.affinity_timeout)
            for ip in (*sp.lb_ips, *sp.external_ips):
                if ip in local:
                    want[(ip, sp.port, sp.protocol)] = (eps, sp.affinity_timeout)
        return want

    async def sync(self) -> None:
        want = self._wanted(self.watch.ports())
        for key in [k for k in self._servers if k not in want]:
            await self._close(key)
        for key, (eps, aff) in want.items():
            front = self.fronts.setdefault(key, Frontend())
            front.endpoints = eps
            front.affinity = aff
            if key not in self._servers:
                try:
                    await self._open(key, front)
                    self._failed.discard(key)
                except OSError as e:
                    if key not in self._failed:
                        log.warning("userspace proxy cannot listen on %s:%d/%s: %s", *key, e)
                    self._failed.add(key)
        for srv in self._servers.values():
            if isinstance(srv, _UdpRelay):
                srv.expire()

    async def _open(self, key: tuple[str, int, str], front: Frontend) -> None:
        host, port, proto = key
        if proto == "UDP":
            relay = _UdpRelay(front)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: relay, local_addr=(host, port))
            self._servers[key] = relay
        else:

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await self._splice(front, reader, writer)

            self._servers[key] = await asyncio.start_server(handle, host, port, reuse_address=True)

    async def _close(self, key: tuple[str, int, str]) -> None:
        srv = self._servers.pop(key, None)
        self.fronts.pop(key, None)
        if isinstance(srv, _UdpRelay):
            srv.close()
        elif srv is not None:
            srv.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 1.0)

    async def _splice(self, front: Frontend, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        try:
            for ep in front.order(str(peer[0])):
                try:
                    br, bw = await asyncio.wait_for(asyncio.open_connection(ep.ip, ep.port), CONNECT_TIMEOUT)
                except (OSError, TimeoutError):
                    continue
                front.chose(str(peer[0]), ep)
                try:
                    await asyncio.gather(_pipe(reader, bw), _pipe(br, writer))
                finally:
                    bw.close()
                return
        finally:
            writer.close()
