"""The rootless proxy: NodePorts served by asyncio, TCP and UDP, against a real kyb server (no root needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.client.rest import Client
from kybernetes.proxy.userspace import UserspaceProxy
from tests.proxy.helpers import apply, endpoint_slice, get, service
from tests.support.cluster import Server, free_port, running_server

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ["--disable-agent", "--disable-proxy", "--disable-dns", "--disable-ingress", "--service-cidr", "10.43.77.0/24"]
    with running_server(tmp_path_factory.mktemp("kyb"), "sqlite", extra_args=args) as s:
        yield s


def admin_client(s: Server) -> Client:
    pki = s.data_dir / "pki"
    return Client(s.url, ca_pem=(pki / "ca.crt").read_bytes(), cert_file=str(pki / "admin.crt"), key_file=str(pki / "admin.key"))


async def _tcp_backend(name: str) -> asyncio.AbstractServer:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        data = await r.readline()
        w.write(name.encode() + b" " + data)
        await w.drain()
        w.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


class _Echo(asyncio.DatagramProtocol):
    def connection_made(self, t: asyncio.BaseTransport) -> None:
        self.t = t

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.t.sendto(b"udp " + data, addr)  # type: ignore[attr-defined]


async def _ask(port: int, msg: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(msg + b"\n")
    await w.drain()
    out = await r.read()
    w.close()
    return out


async def test_node_ports_forward_tcp_and_udp(srv: Server, tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    b1, b2 = await _tcp_backend("one"), await _tcp_backend("two")
    udp_port = free_port()
    ut, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", udp_port))
    p1, p2 = (s.sockets[0].getsockname()[1] for s in (b1, b2))
    dead = free_port()
    objs = [
        service("np", [{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}], type="NodePort"),
        endpoint_slice("np", [("127.0.0.1", True, "")], [("http", p1, "TCP"), ("dns", udp_port, "UDP")], name="np-1"),
        endpoint_slice("np", [("127.0.0.1", True, "")], [("http", p2, "TCP")], name="np-2"),
        endpoint_slice("np", [("127.0.0.1", True, "")], [("http", dead, "TCP")], name="np-3"),
    ]
    await asyncio.to_thread(apply, srv, *objs)
    spec = (await asyncio.to_thread(get, srv, "service", "np"))["spec"]
    tcp_np = next(p["nodePort"] for p in spec["ports"] if p["protocol"] == "TCP")
    udp_np = next(p["nodePort"] for p in spec["ports"] if p["protocol"] == "UDP")
    proxy = UserspaceProxy(admin_client(srv), node_name="n1", node_addresses=["127.0.0.1"])
    await proxy.start()
    try:
        answers = {(await _ask(tcp_np, b"hi")).split()[0] for _ in range(12)}
        assert answers == {b"one", b"two"}  # both live endpoints; the dead one is skipped without a failure
        fut: asyncio.Future[bytes] = loop.create_future()

        class C(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                fut.set_result(data)

        ct, _ = await loop.create_datagram_endpoint(C, remote_addr=("127.0.0.1", udp_np))
        ct.sendto(b"ping")
        assert await asyncio.wait_for(fut, 5) == b"udp ping"
        ct.close()
        # Deleting the Service closes its ports.
        await asyncio.to_thread(srv.kubectl, "delete", "service", "np")
        for _ in range(200):
            if not proxy._servers:
                break
            await asyncio.sleep(0.02)
        assert not proxy._servers
        with pytest.raises(OSError):
            await _ask(tcp_np, b"x")
    finally:
        await proxy.stop()
        b1.close()
        b2.close()
        ut.close()


async def test_client_ip_affinity(srv: Server) -> None:
    b1, b2 = await _tcp_backend("one"), await _tcp_backend("two")
    p1, p2 = (s.sockets[0].getsockname()[1] for s in (b1, b2))
    objs = [
        service("sticky", [{"name": "http", "port": 80}], type="NodePort", sessionAffinity="ClientIP"),
        endpoint_slice("sticky", [("127.0.0.1", True, "")], [("http", p1, "TCP")], name="sticky-1"),
        endpoint_slice("sticky", [("127.0.0.1", True, "")], [("http", p2, "TCP")], name="sticky-2"),
    ]
    await asyncio.to_thread(apply, srv, *objs)
    np_ = (await asyncio.to_thread(get, srv, "service", "sticky"))["spec"]["ports"][0]["nodePort"]
    proxy = UserspaceProxy(admin_client(srv), node_name="n1", node_addresses=["127.0.0.1"])
    await proxy.start()
    try:
        answers = {(await _ask(np_, b"hi")).split()[0] for _ in range(12)}
        assert len(answers) == 1
    finally:
        await proxy.stop()
        b1.close()
        b2.close()
