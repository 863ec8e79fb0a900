"""The DNS wire: an asyncio UDP and TCP server (dnslib for the packets) answering from the zone or upstream.

Names outside the cluster domain (and reverse names the cluster does not own) are forwarded, unchanged, to the
resolvers listed in the host's resolv.conf and nowhere else; a reply truncated over UDP is retried over TCP.
The server never forwards to itself (its own listen addresses and the cluster DNS IP are skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from dnslib import QTYPE, RCODE, DNSRecord

from kybernetes.dns.records import Zone

log = logging.getLogger(__name__)

UPSTREAM_TIMEOUT = 2.0
MAX_UDP = 512


def read_nameservers(path: str | Path = "/etc/resolv.conf") -> list[str]:
    out: list[str] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1])
    return out


class _UpstreamUdp(asyncio.DatagramProtocol):
    def __init__(self, fut: asyncio.Future[bytes]) -> None:
        self.fut = fut

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)


class Forwarder:
    def __init__(self, servers: list[tuple[str, int]]) -> None:
        self.servers = servers

    async def _udp(self, server: tuple[str, int], query: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UpstreamUdp(fut), remote_addr=server)
        try:
            transport.sendto(query)
            return await asyncio.wait_for(fut, UPSTREAM_TIMEOUT)
        finally:
            transport.close()

    async def _tcp(self, server: tuple[str, int], query: bytes) -> bytes:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*server), UPSTREAM_TIMEOUT)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), UPSTREAM_TIMEOUT))
            return await asyncio.wait_for(reader.readexactly(n), UPSTREAM_TIMEOUT)
        finally:
            writer.close()

    async def forward(self, query: bytes) -> bytes | None:
        for server in self.servers:
            try:
                reply = await self._udp(server, query)
                if len(reply) > 2 and reply[2] & 0x02:  # TC: ask again over TCP
                    reply = await self._tcp(server, query)
                return reply
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as e:
                log.debug("upstream %s: %s", server, e)
        return None


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.t: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.get_running_loop().create_task(self._reply(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        out = await self.server.answer(data, MAX_UDP)
        if out is not None and self.t is not None and not self.t.is_closing():
            self.t.sendto(out, addr)


class DnsServer:
    def __init__(self, zone: Zone, forwarder: Forwarder) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.AbstractServer] = []
        self.queries = 0
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (proto, qtype, answered-by) -> queries
        self.rcodes: Counter[str] = Counter()

    async def answer(self, data: bytes, max_size: int | None) -> bytes | None:
        out = await self._answer(data, max_size)
        if out is not None and len(out) > 3:
            self.rcodes[RCODE.get(out[3] & 0x0F) or str(out[3] & 0x0F)] += 1
        return out

    async def _answer(self, data: bytes, max_size: int | None) -> bytes | None:
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        self.queries += 1
        if not req.questions:
            r = req.reply()
            r.header.rcode = RCODE.FORMERR
            return bytes(r.pack())
        q = req.questions[0]
        ans = self.zone.lookup(str(q.qname), q.qtype)
        self.counts[("udp" if max_size else "tcp", str(QTYPE.get(q.qtype) or q.qtype), "forward" if ans.forward else "cluster")] += 1
        if ans.forward:
            up = await self.forwarder.forward(data)
            if up is not None:
                return up
            r = req.reply(ra=1, aa=0)
            r.header.rcode = RCODE.SERVFAIL
            return bytes(r.pack())
        r = req.reply(ra=1, aa=1)
        r.header.rcode = ans.rcode
        for rr in ans.answers:
            r.add_answer(rr)
        if ans.cname_target and q.qtype in (QTYPE.A, QTYPE.AAAA):
            r.rr += await self._chase(ans.cname_target, q.qtype)
        for rr in ans.authority:
            r.add_auth(rr)
        for rr in ans.additional:
            r.add_ar(rr)
        packed = bytes(r.pack())
        if max_size is not None:
            limit = max(MAX_UDP, min(4096, max((a.rclass for a in req.ar if a.rtype == QTYPE.OPT), default=MAX_UDP)))
            if len(packed) > limit:
                packed = bytes(r.truncate().pack())
        return packed

    async def _chase(self, target: str, qtype: int) -> list[object]:
        """Addresses of an ExternalName's target (from the zone or upstream), appended after the CNAME."""
        sub = self.zone.lookup(target, qtype)
        if not sub.forward:
            return list(sub.answers)
        reply = await self.forwarder.forward(bytes(DNSRecord.question(target, QTYPE[qtype]).pack()))
        if reply is None:
            return []
        with contextlib.suppress(Exception):
            return list(DNSRecord.parse(reply).rr)
        return []

    # --------------------------------------------------------------- sockets
    async def listen(self, host: str, port: int) -> int:
        """Serve UDP and TCP on (host, port); port 0 picks a free port, the same for both. Returns the port."""
        loop = asyncio.get_running_loop()
        for _attempt in range(20):
            udp, _ = await loop.create_datagram_endpoint(lambda: _UdpServer(self), local_addr=(host, port))
            bound = int(udp.get_extra_info("sockname")[1])
            try:
                tcp = await asyncio.start_server(self._tcp_client, host, bound, reuse_address=True)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            self._udp.append(udp)
            self._tcp.append(tcp)
            return bound
        raise OSError(f"no port free for both UDP and TCP on {host}")

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                hdr = await asyncio.wait_for(reader.readexactly(2), 30.0)
                (n,) = struct.unpack("!H", hdr)
                data = await reader.readexactly(n)
                out = await self.answer(data, None)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        for u in self._udp:
            u.close()
        for t in self._tcp:
            t.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t.wait_closed(), 1.0)
        self._udp.clear()
        self._tcp.clear()


def metrics_text(server: DnsServer) -> str:
    """Prometheus text exposition of the server's counters (what CoreDNS serves on :9153, in its own names)."""
    lines = [
        "# HELP kybernetes_dns_requests_total DNS queries by transport, type and whether the cluster zone or upstream answered.",
        "# TYPE kybernetes_dns_requests_total counter",
    ]
    for (proto, qtype, by), n in sorted(server.counts.items()):
        lines.append(f'kybernetes_dns_requests_total{{proto="{proto}",type="{qtype}",answered_by="{by}"}} {n}')
    lines += ["# HELP kybernetes_dns_responses_total DNS responses by rcode.", "# TYPE kybernetes_dns_responses_total counter"]
    for rcode, n in sorted(server.rcodes.items()):
        lines.append(f'kybernetes_dns_responses_total{{rcode="{rcode}"}} {n}')
    return "\n".join(lines) + "\n"


def upstreams(resolv_conf: str | Path, exclude: Iterable[str]) -> list[tuple[str, int]]:
    skip = set(exclude)
    return [(ns, 53) for ns in read_nameservers(resolv_conf) if ns not in skip and ":" not in ns]
