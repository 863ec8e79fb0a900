"""Cluster DNS in-process: the zone's records from cached objects, and the asyncio server over UDP and TCP,
including forwarding to a fake upstream resolver on loopback (never to any real resolver)."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any, cast

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from kybernetes.client.informer import InformerFactory
from kybernetes.client.rest import Client
from kybernetes.dns import cluster_dns_ip, resolv_conf
from kybernetes.dns.records import Zone
from kybernetes.dns.server import DnsServer, Forwarder, metrics_text, read_nameservers, upstreams
from kybernetes.proxy.watch import ServiceWatch


def svc(name: str, ns: str = "default", cluster_ip: str = "10.43.0.20", **spec: Any) -> dict[str, Any]:
    ports = spec.pop("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
        "spec": {"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": ports, **spec},
    }


def eps(name: str, ns: str, addrs: list[tuple[str, bool, str]], port: int = 8080) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}-x", "namespace": ns, "labels": {"kubernetes.io/service-name": name}, "resourceVersion": "1"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": r}, **({"hostname": h} if h else {})} for ip, r, h in addrs],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def make_zone() -> Zone:
    factory = InformerFactory(Client("http://127.0.0.1:9"))  # never started: the caches are filled by hand
    watch = ServiceWatch(factory)
    pods = factory.informer("", "v1", "pods")
    zone = Zone(watch, pods)
    for o in (
        svc("web"),
        svc("db", cluster_ip="None"),
        svc("ext", type="ExternalName", externalName="web.default.svc.cluster.local", cluster_ip=""),
    ):
        watch.services._upsert(o)
    watch.slices._upsert(eps("web", "default", [("10.42.1.5", True, ""), ("10.42.1.6", True, "")]))
    watch.slices._upsert(eps("db", "default", [("10.42.1.7", True, "db-0"), ("10.42.1.8", False, "db-1"), ("10.42.1.9", True, "")]))
    pods._upsert({"metadata": {"name": "p", "namespace": "default"}, "spec": {}, "status": {"podIPs": [{"ip": "10.42.1.5"}]}})
    return zone


def ips(ans: list[RR]) -> set[str]:
    return {str(r.rdata) for r in ans if r.rtype == QTYPE.A}


def test_service_and_headless_records() -> None:
    z = make_zone()
    assert ips(z.lookup("web.default.svc.cluster.local.", QTYPE.A).answers) == {"10.43.0.20"}
    assert ips(z.lookup("db.default.svc.cluster.local.", QTYPE.A).answers) == {"10.42.1.7", "10.42.1.9"}  # ready only
    assert ips(z.lookup("db-0.db.default.svc.cluster.local.", QTYPE.A).answers) == {"10.42.1.7"}
    assert ips(z.lookup("10-42-1-9.db.default.svc.cluster.local.", QTYPE.A).answers) == {"10.42.1.9"}
    assert z.lookup("nope.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    aaaa = z.lookup("web.default.svc.cluster.local.", QTYPE.AAAA)
    assert aaaa.rcode == RCODE.NOERROR and not aaaa.answers and aaaa.authority  # NODATA with SOA
    assert z.lookup("example.org.", QTYPE.A).forward


def test_srv_cname_ptr_and_pods() -> None:
    z = make_zone()
    srv = z.lookup("_http._tcp.web.default.svc.cluster.local.", QTYPE.SRV)
    assert [(r.rdata.port, str(r.rdata.target)) for r in srv.answers] == [(80, "web.default.svc.cluster.local.")]
    hsrv = z.lookup("_http._tcp.db.default.svc.cluster.local.", QTYPE.SRV)
    assert sorted(str(r.rdata.target) for r in hsrv.answers) == [
        "10-42-1-9.db.default.svc.cluster.local.",
        "db-0.db.default.svc.cluster.local.",
    ]
    assert {r.rdata.port for r in hsrv.answers} == {8080}
    cname = z.lookup("ext.default.svc.cluster.local.", QTYPE.A)
    assert [str(r.rdata) for r in cname.answers] == ["web.default.svc.cluster.local."]
    assert [str(r.rdata) for r in z.lookup("20.0.43.10.in-addr.arpa.", QTYPE.PTR).answers] == ["web.default.svc.cluster.local."]
    assert [str(r.rdata) for r in z.lookup("7.1.42.10.in-addr.arpa.", QTYPE.PTR).answers] == ["db-0.db.default.svc.cluster.local."]
    assert [str(r.rdata) for r in z.lookup("5.1.42.10.in-addr.arpa.", QTYPE.PTR).answers] == ["10-42-1-5.default.pod.cluster.local."]
    assert ips(z.lookup("10-42-1-5.default.pod.cluster.local.", QTYPE.A).answers) == {"10.42.1.5"}


def test_helpers_for_the_kubelet(tmp_path: Path) -> None:
    assert cluster_dns_ip("10.43.0.0/16") == "10.43.0.10"
    text = resolv_conf("team", "10.43.0.10")
    assert "search team.svc.cluster.local svc.cluster.local cluster.local" in text and "nameserver 10.43.0.10" in text
    rc = tmp_path / "resolv.conf"
    rc.write_text("# comment\nnameserver 127.0.0.53\nnameserver 10.43.0.10\nsearch example\n")
    assert read_nameservers(rc) == ["127.0.0.53", "10.43.0.10"]
    assert upstreams(rc, exclude={"10.43.0.10"}) == [("127.0.0.53", 53)]


class FakeUpstream(asyncio.DatagramProtocol):
    """A resolver on loopback that knows one outside name."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = DNSRecord.parse(data)
        r = q.reply()
        if str(q.q.qname) == "outside.test.":
            r.add_answer(RR("outside.test.", QTYPE.A, rdata=A("192.0.2.123"), ttl=60))
        else:
            r.header.rcode = RCODE.NXDOMAIN
        self.t.sendto(r.pack(), addr)


async def _udp_query(port: int, name: str, qtype: str) -> DNSRecord:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            fut.set_result(data)

    t, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
    try:
        t.sendto(DNSRecord.question(name, qtype).pack())
        return DNSRecord.parse(await asyncio.wait_for(fut, 5))
    finally:
        t.close()


async def _tcp_query(port: int, name: str, qtype: str) -> DNSRecord:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    q = DNSRecord.question(name, qtype).pack()
    w.write(struct.pack("!H", len(q)) + q)
    (n,) = struct.unpack("!H", await r.readexactly(2))
    data = await r.readexactly(n)
    w.close()
    return DNSRecord.parse(data)


async def test_server_udp_tcp_and_forwarding() -> None:
    loop = asyncio.get_running_loop()
    up, _ = await loop.create_datagram_endpoint(FakeUpstream, local_addr=("127.0.0.1", 0))
    up_port = up.get_extra_info("sockname")[1]
    server = DnsServer(make_zone(), Forwarder([("127.0.0.1", up_port)]))
    port = await server.listen("127.0.0.1", 0)
    try:
        r = await _udp_query(port, "web.default.svc.cluster.local", "A")
        assert [str(a.rdata) for a in r.rr] == ["10.43.0.20"] and r.header.aa
        r = await _tcp_query(port, "db.default.svc.cluster.local", "A")
        assert sorted(str(a.rdata) for a in r.rr) == ["10.42.1.7", "10.42.1.9"]
        r = await _udp_query(port, "outside.test", "A")
        assert [str(a.rdata) for a in r.rr] == ["192.0.2.123"]
        r = await _udp_query(port, "ext.default.svc.cluster.local", "A")  # CNAME plus the target's address
        assert [str(a.rdata) for a in r.rr] == ["web.default.svc.cluster.local.", "10.43.0.20"]
        r = await _udp_query(port, "missing.test", "A")
        assert r.header.rcode == RCODE.NXDOMAIN
        text = metrics_text(server)
        assert 'kybernetes_dns_requests_total{proto="tcp",type="A",answered_by="cluster"} 1' in text
        assert 'kybernetes_dns_requests_total{proto="udp",type="A",answered_by="forward"} 2' in text
        assert 'kybernetes_dns_responses_total{rcode="NXDOMAIN"} 1' in text
    finally:
        await server.close()
        up.close()
