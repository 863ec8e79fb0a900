"""The ingress controller end to end (no root needed): a real kyb server, backends on loopback ports standing in
for pods (their EndpointSlices are written by hand), requests over HTTP and HTTPS with per-host certificates."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from kybernetes.pki import CertPair, issue, make_ca
from tests.proxy.helpers import apply, endpoint_slice, get, service, service_server, wait_until
from tests.support.cluster import Server, free_port

pytestmark = [pytest.mark.e2e]


class Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        self.name = name
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = json.dumps({"name": outer.name, "path": self.path, "host": self.headers.get("Host"),
                                   "xff": self.headers.get("X-Forwarded-For"), "proto": self.headers.get("X-Forwarded-Proto")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # echoes the body back, chunked
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(201)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in (outer.name.encode() + b":", data):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, *a: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), H)
        self.port = int(self.server_address[1])
        threading.Thread(target=self.serve_forever, daemon=True).start()


class SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a loopback port, but with SNI and certificate checks for `sni` (the Ingress host)."""

    def __init__(self, sni: str, *args: Any, **kwargs: Any) -> None:
        self.sni = sni
        self.ctx: ssl.SSLContext = kwargs["context"]
        super().__init__(*args, **kwargs)

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.sni)


@dataclass
class Env:
    srv: Server
    http_port: int
    https_port: int
    backends: dict[str, Backend]
    ca: CertPair

    def get(self, host: str, path: str, tls: bool = False) -> tuple[int, dict[str, Any], str]:
        """(status, json body or {}, certificate CN seen) for one request with this Host / SNI."""
        cn = ""
        if tls:
            ctx = ssl.create_default_context(cadata=self.ca.cert_pem.decode())
            conn: http.client.HTTPConnection = SNIConnection(host, "127.0.0.1", self.https_port, timeout=5, context=ctx)
            conn.connect()
            sock = conn.sock
            assert isinstance(sock, ssl.SSLSocket)
            der = sock.getpeercert(binary_form=True)
            assert der is not None
            cn = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value  # type: ignore[assignment]
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        try:
            conn.request("GET", path, headers={"Host": host})
            r = conn.getresponse()
            data = r.read()
            body = json.loads(data) if r.getheader("Content-Type") == "application/json" else {}
            return r.status, body, cn
        finally:
            conn.close()

    def name(self, host: str, path: str, tls: bool = False) -> str:
        status, body, _ = self.get(host, path, tls)
        return str(body.get("name", status))


def tls_secret(name: str, pair: CertPair) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(pair.cert_pem).decode(), "tls.key": base64.b64encode(pair.key_pem).decode()},
    }


def slices_for(name: str, ports: list[int]) -> list[dict[str, Any]]:
    """One EndpointSlice per backend port (an endpoint's port is per slice)."""
    return [
        endpoint_slice(name, [("127.0.0.1", True, "")], [("http", p, "TCP")], name=f"{name}-{i}") for i, p in enumerate(ports)
    ]


def ingress(name: str, rules: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": {"rules": rules, **spec}}


def rule(host: str, *paths: tuple[str, str, str]) -> dict[str, Any]:
    r: dict[str, Any] = {
        "http": {
            "paths": [
                {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"name": "http"}}}} for p, t, s in paths
            ]
        }
    }
    if host:
        r["host"] = host
    return r


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    backends = {n: Backend(n) for n in ("api", "web", "b-exact", "b-root", "wild", "default", "api2")}
    ca = make_ca("ingress-test-ca")
    http_port, https_port = free_port(), free_port()
    with service_server(tmp_path_factory.mktemp("kyb"), "--disable-proxy", "--disable-dns",
                        "--ingress-http-port", str(http_port), "--ingress-https-port", str(https_port)) as (srv, _n, _c):
        objs: list[dict[str, Any]] = []
        for n in ("api", "web", "b-exact", "b-root", "wild", "default"):
            objs.append(service(n, [{"name": "http", "port": 80, "targetPort": 8080}]))
            ports = [backends[n].port]
            if n == "api":
                ports.append(backends["api2"].port)
                ports.append(free_port())  # a dead endpoint: nothing listens there
            objs += slices_for(n, ports)
        objs += [
            tls_secret("tls-a", issue(ca, "a.example.test", dns_names=["a.example.test"], server=True)),
            tls_secret("tls-b", issue(ca, "b.example.test", dns_names=["b.example.test"], server=True)),
            ingress(
                "two-hosts",
                [
                    rule("a.example.test", ("/api", "Prefix", "api"), ("/", "Prefix", "web")),
                    rule("b.example.test", ("/exact", "Exact", "b-exact"), ("/", "ImplementationSpecific", "b-root")),
                    rule("*.wild.test", ("/", "Prefix", "wild")),
                ],
                tls=[{"hosts": ["a.example.test"], "secretName": "tls-a"}, {"hosts": ["b.example.test"], "secretName": "tls-b"}],
                defaultBackend={"service": {"name": "default", "port": {"number": 80}}},
            ),
        ]
        apply(srv, *objs)
        e = Env(srv, http_port, https_port, backends, ca)
        wait_until(lambda: e.name("a.example.test", "/") == "web", what="ingress routes")
        yield e
    for b in backends.values():
        b.shutdown()


def test_default_ingress_class(env: Env) -> None:
    cls = get(env.srv, "ingressclass", "kybernetes")
    assert cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"


@pytest.mark.parametrize("tls", [False, True])
def test_routes_by_host_and_path(env: Env, tls: bool) -> None:
    n = lambda h, p: env.name(h, p, tls)  # noqa: E731
    assert n("a.example.test", "/api") in ("api", "api2")
    assert n("a.example.test", "/api/v1/x") in ("api", "api2")
    assert n("a.example.test", "/apix") == "web"  # Prefix matches whole path elements
    assert n("a.example.test", "/") == "web"
    assert n("b.example.test", "/exact") == "b-exact"
    assert n("b.example.test", "/exact/more") == "b-root"  # Exact is exact
    if not tls:
        assert n("x.wild.test", "/") == "wild"
        assert n("y.x.wild.test", "/") == "default"  # the wildcard covers one label only
        assert n("unknown.test", "/anything") == "default"
    _status, body, _ = env.get("a.example.test", "/api/q?x=1", tls)
    assert body["path"] == "/api/q?x=1" and body["host"] == "a.example.test"
    assert body["proto"] == ("https" if tls else "http") and body["xff"] == "127.0.0.1"


def test_post_body_and_chunked_response(env: Env) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", env.http_port, timeout=5)
    try:
        for i in range(3):  # on one client connection, so upstream connections are reused too
            payload = b"x" * (1000 * i + 1)
            conn.request("POST", "/exact", body=payload, headers={"Host": "b.example.test"})
            r = conn.getresponse()
            assert r.status == 201
            assert r.read() == b"b-exact:" + payload
    finally:
        conn.close()


def test_certificate_chosen_by_sni(env: Env) -> None:
    assert env.get("a.example.test", "/", tls=True)[2] == "a.example.test"
    assert env.get("b.example.test", "/", tls=True)[2] == "b.example.test"


def test_load_balancing_and_retry_past_dead_endpoint(env: Env) -> None:
    seen = [env.name("a.example.test", "/api") for _ in range(30)]
    assert set(seen) == {"api", "api2"}  # every request answered, despite the dead third endpoint


def test_status_and_fast_updates(env: Env) -> None:
    ing = wait_until(lambda: get(env.srv, "ingress", "two-hosts")["status"]["loadBalancer"]["ingress"], what="status")
    assert ing[0]["ip"]
    apply(env.srv, ingress("late", [rule("late.test", ("/", "Prefix", "api"))]))
    t0 = time.monotonic()
    wait_until(lambda: env.name("late.test", "/") in ("api", "api2"), timeout=5, what="new Ingress routed")
    assert time.monotonic() - t0 < 1.0  # updated within a second of the change
    env.srv.kubectl("delete", "ingress", "late")
    wait_until(lambda: env.name("late.test", "/") == "default", timeout=5, what="deleted Ingress gone")


def test_restart_keeps_routing(env: Env, tmp_path: Path) -> None:
    env.srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env.http_port), timeout=1).close()
    env.srv.start()
    assert wait_until(lambda: env.name("b.example.test", "/exact"), timeout=20) == "b-exact"
    assert env.get("b.example.test", "/", tls=True)[2] == "b.example.test"


def _ws_echo_server() -> tuple[int, asyncio.AbstractEventLoop, web.AppRunner]:
    """An aiohttp WebSocket echo server on loopback, on its own loop in a thread."""
    loop = asyncio.new_event_loop()
    started: list[int] = []
    ready = threading.Event()
    app = web.Application()
    runner = web.AppRunner(app)

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(f"echo {msg.data} via {request.headers.get('X-Forwarded-Proto')}")
        return ws

    async def start() -> None:
        app.router.add_get("/ws", echo)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        started.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        ready.set()

    threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True).start()
    ready.wait(10)
    return started[0], loop, runner


def test_websocket_passthrough(env: Env) -> None:
    port, loop, runner = _ws_echo_server()
    try:
        apply(env.srv, service("ws", [{"name": "http", "port": 80}]), *slices_for("ws", [port]),
              ingress("ws", [rule("ws.test", ("/ws", "Prefix", "ws"))]))

        async def talk() -> str:
            async with aiohttp.ClientSession() as s, s.ws_connect(
                f"http://127.0.0.1:{env.http_port}/ws", headers={"Host": "ws.test"}
            ) as ws:
                await ws.send_str("hello")
                return str((await ws.receive(timeout=5)).data)

        assert wait_until(lambda: asyncio.run(talk()), what="websocket through the ingress") == "echo hello via http"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
