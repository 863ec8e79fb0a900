"""The kubelet's HTTPS server (port 10250): logs, exec, attach, port-forward, /pods, /stats/summary, /healthz.

The API server reaches pods only through this server, as upstream: it proxies pods/log, pods/exec, pods/attach and
pods/portforward here, authenticating with a client certificate from the cluster CA. This server accepts every
protocol kubectl may end up speaking (the API server forwards the upgraded connection byte for byte): WebSocket
v1..v5.channel.k8s.io and SPDY/3.1 remotecommand for exec/attach; SPDY, SPDY tunnelled in WebSocket and the
WebSocket channel variant for port-forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from cryptography import x509

from kybernetes import pki
from kybernetes.streaming import portforward, remotecommand
from kybernetes.streaming import websocket as wsproto
from kybernetes.streaming.remotecommand import BadRequest, Options, Session
from kybernetes.streaming.runtime_api import (
    ContainerNotFound,
    ContainerNotRunning,
    LogOptions,
    PodNotFound,
    StreamingError,
    StreamingRuntime,
)
from kybernetes.streaming.spdy import SpdyConnection
from kybernetes.streaming.upgrade import hijack, wait_disconnected

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250
AUTHORIZED_USERS = frozenset({"kube-apiserver-kubelet-client", "system:kube-apiserver"})
AUTHORIZED_GROUPS = frozenset({"system:masters"})
PUBLIC_PATHS = frozenset({"/healthz"})
FIRST_CHUNK_WAIT = 0.5
LINGER = 2.0

__all__ = [
    "DEFAULT_PORT",
    "KubeletServer",
    "ensure_serving_certificate",
    "parse_log_options",
    "serving_ssl_context",
]


# ------------------------------------------------------------------ TLS
def ensure_serving_certificate(
    pki_dir: Path, node_name: str, addresses: Iterable[str], out_dir: Path | None = None
) -> tuple[Path, Path]:
    """The kubelet serving certificate for `node_name`, issued by the cluster CA in `pki_dir` (made once).

    Returns (cert file, key file). The certificate names the node and its addresses, so the API server can verify
    it against the cluster CA.
    """
    out = out_dir or (pki_dir / "kubelet")
    crt, key = out / f"{node_name}.crt", out / f"{node_name}.key"
    dns = [node_name, "localhost"]
    ips = {"127.0.0.1"}
    for a in addresses:
        try:
            ipaddress.ip_address(a)
            ips.add(a)
        except ValueError:
            dns.append(a)
    ca_pem = (pki_dir / "ca.crt").read_bytes()
    if crt.exists() and key.exists() and _still_valid(crt.read_bytes(), ca_pem, set(dns), ips):
        return crt, key
    ca = pki.CertPair(ca_pem, (pki_dir / "ca.key").read_bytes())
    pair = pki.issue(ca, f"system:node:{node_name}", organizations=["system:nodes"], dns_names=dns,
                     ips=sorted(ips), server=True)
    write_pair(pair, crt, key)
    return crt, key


def _still_valid(cert_pem: bytes, ca_pem: bytes, dns: set[str], ips: set[str]) -> bool:
    """The existing certificate was issued by this CA, has not expired and names every address we serve on."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
        if cert.issuer != ca.subject or cert.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
            return False
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    have_dns = set(san.get_values_for_type(x509.DNSName))
    return ips <= have_ips and dns <= have_dns


def write_pair(pair: pki.CertPair, crt: Path, key: Path) -> None:
    """Write a certificate and its key (0600), each atomically."""
    crt.parent.mkdir(parents=True, exist_ok=True)
    for path, data, mode in ((crt, pair.cert_pem, 0o644), (key, pair.key_pem, 0o600)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def serving_ssl_context(cert_file: Path, key_file: Path, client_ca_file: Path) -> ssl.SSLContext:
    """TLS for the kubelet: its serving certificate, client certificates checked against the cluster CA."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    ctx.load_verify_locations(str(client_ca_file))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _peer(request: web.Request) -> tuple[str, list[str]] | None:
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    cn = ""
    orgs: list[str] = []
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    return cn, orgs


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message)


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _is_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/3")


# ------------------------------------------------------------------ logs
def parse_log_options(query: Any, now: datetime.datetime | None = None) -> LogOptions:
    """The pods/log query as LogOptions; raises BadRequest for malformed values."""

    def flag(name: str) -> bool:
        return str(query.get(name, "")).lower() in ("1", "true", "t", "yes")

    def integer(name: str, minimum: int) -> int | None:
        raw = query.get(name)
        if raw in (None, ""):
            return None
        try:
            v = int(raw)
        except ValueError:
            raise BadRequest(f"{name}: invalid value {raw!r}") from None
        if v < minimum:
            raise BadRequest(f"{name}: must be greater than or equal to {minimum}")
        return v

    since: datetime.datetime | None = None
    since_seconds = integer("sinceSeconds", 1)
    since_time = query.get("sinceTime")
    if since_seconds is not None and since_time:
        raise BadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if since_seconds is not None:
        since = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(seconds=since_seconds)
    elif since_time:
        try:
            since = datetime.datetime.fromisoformat(str(since_time).replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"sinceTime: invalid value {since_time!r}") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=datetime.UTC)
    return LogOptions(
        follow=flag("follow"),
        previous=flag("previous"),
        tail_lines=integer("tailLines", 0),
        since_time=since,
        timestamps=flag("timestamps"),
        limit_bytes=integer("limitBytes", 1),
    )


async def _copy_chunks(agen: AsyncIterator[bytes], resp: web.StreamResponse) -> None:
    async for chunk in agen:
        await resp.write(chunk)


async def _race_disconnect(request: web.Request, work: Awaitable[None]) -> None:
    """Run `work` until it ends or the client disconnects, whichever comes first."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(wait_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        else:
            raise ConnectionResetError("client went away")
    finally:
        for t in (task, gone):
            t.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)


# ------------------------------------------------------------------ server
class KubeletServer:
    """Serves a StreamingRuntime over HTTPS. `start()` binds, `stop()` closes every connection."""

    def __init__(
        self,
        runtime: StreamingRuntime,
        *,
        address: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        ssl_context: ssl.SSLContext | None = None,
        authorize: Callable[[str, list[str]], bool] | None = None,
    ) -> None:
        self.runtime = runtime
        self.address = address
        self.port = port
        self.ssl_context = ssl_context
        self.authorize = authorize or (lambda user, groups: user in AUTHORIZED_USERS or
                                       bool(AUTHORIZED_GROUPS.intersection(groups)))
        self._runner: web.AppRunner | None = None
        self._sessions: set[asyncio.Task[Any]] = set()

    def build_app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def start(self) -> None:
        """Bind and serve; with port 0 a free port is chosen and `self.port` set to it."""
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, self.port))
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.ssl_context).start()

    async def stop(self) -> None:
        for t in list(self._sessions):
            t.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ routing
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path not in PUBLIC_PATHS:
            if self.ssl_context is not None:
                peer = _peer(request)
                if peer is None:
                    return _text(401, "Unauthorized")
                if not self.authorize(*peer):
                    return _text(403, f"Forbidden (user={peer[0]}, verb={request.method.lower()}, path={path})")
        parts = [p for p in path.split("/") if p]
        try:
            if path == "/healthz":
                return _text(200, "ok")
            if path == "/pods" and request.method == "GET":
                body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": self.runtime.pods()}
                return web.Response(body=orjson.dumps(body), content_type="application/json")
            if path == "/stats/summary" and request.method == "GET":
                return web.Response(body=orjson.dumps(await self.runtime.stats_summary()),
                                    content_type="application/json")
            if parts and parts[0] == "containerLogs" and len(parts) == 4 and request.method == "GET":
                return await self.container_logs(request, parts[1], parts[2], parts[3])
            if parts and parts[0] in ("exec", "attach") and len(parts) in (4, 5):
                # /exec/{namespace}/{pod}/{container} or /exec/{namespace}/{pod}/{uid}/{container}
                return await self.remote_command(request, parts[0], parts[1], parts[2], parts[-1],
                                                 parts[3] if len(parts) == 5 else "")
            if parts and parts[0] == "portForward" and len(parts) in (3, 4):
                return await self.port_forward(request, parts[1], parts[2], parts[3] if len(parts) == 4 else "")
        except BadRequest as e:
            return _text(400, str(e))
        except (PodNotFound, ContainerNotFound) as e:
            return _text(404, str(e))
        except ContainerNotRunning as e:
            return _text(400, str(e))
        except StreamingError as e:
            return _text(500, str(e))
        return _text(404, "404 page not found")

    def _pod_uid(self, namespace: str, name: str, uid: str = "") -> str:
        found = self.runtime.find_pod(namespace, name)
        if found is None or (uid and uid != found):
            raise PodNotFound(f'pod "{name}" in namespace "{namespace}" not found')
        return found

    # ------------------------------------------------------------ logs
    async def container_logs(self, request: web.Request, ns: str, pod: str, container: str) -> web.StreamResponse:
        opts = parse_log_options(request.query)
        uid = self._pod_uid(ns, pod)
        agen: AsyncIterator[bytes] = aiter(self.runtime.logs(uid, container, opts))
        first: asyncio.Future[bytes] = asyncio.ensure_future(anext(agen))
        await asyncio.wait({first}, timeout=FIRST_CHUNK_WAIT)
        if first.done():
            exc = first.exception()
            if isinstance(exc, StopAsyncIteration):
                return web.Response(body=b"", content_type="text/plain")
            if exc is not None:
                raise exc
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        try:
            try:
                chunk = await first
            except StopAsyncIteration:
                await resp.write_eof()
                return resp
            await resp.write(chunk)
            await _race_disconnect(request, _copy_chunks(agen, resp))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except StreamingError as e:
            log.info("log stream for %s/%s/%s ended: %s", ns, pod, container, e)
        finally:
            if not first.done():
                first.cancel()
            closer = getattr(agen, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        await resp.write_eof()
        return resp

    # ------------------------------------------------------------ exec/attach
    async def remote_command(
        self, request: web.Request, kind: str, ns: str, pod: str, container: str, uid: str = ""
    ) -> web.StreamResponse:
        opts = remotecommand.options_from_query(request.query, exec_=kind == "exec")
        pod_uid = self._pod_uid(ns, pod, uid)
        rt = self.runtime

        async def call(s: Session) -> int | None:
            if kind == "exec":
                return await rt.exec(pod_uid, container, opts.command, stdin=s.stdin, stdout=s.stdout,
                                     stderr=s.stderr, tty=opts.tty, resize=s.resize)
            await rt.attach(pod_uid, container, stdin=s.stdin, stdout=s.stdout, stderr=s.stderr,
                            tty=opts.tty, resize=s.resize)
            return None

        if _is_websocket(request):
            return await self._remote_command_ws(request, opts, call)
        if _is_spdy(request):
            return await self._remote_command_spdy(request, opts, call)
        return _text(400, "Upgrade request required")

    async def _remote_command_ws(
        self, request: web.Request, opts: Options, call: Callable[[Session], Awaitable[int | None]]
    ) -> web.StreamResponse:
        ws = wsproto.new_response(wsproto.CHANNEL_PROTOCOLS)
        await ws.prepare(request)
        cws = wsproto.ChannelWebSocket(ws)
        reader = asyncio.create_task(cws.run())
        try:
            session = remotecommand.websocket_session(cws, opts)
            await remotecommand.run_session(session, call, opts.command)
        finally:
            await cws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        return ws

    async def _remote_command_spdy(
        self, request: web.Request, opts: Options, call: Callable[[Session], Awaitable[int | None]]
    ) -> web.StreamResponse:
        offered = request.headers.getall("X-Stream-Protocol-Version", [])
        protocol = remotecommand.negotiate(offered)
        if protocol is None:
            return _text(403, f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                              f"server supports {list(remotecommand.SPDY_PROTOCOLS)}")
        conn = await hijack(request, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                      "X-Stream-Protocol-Version": protocol})
        spdy = SpdyConnection(conn)
        serving = asyncio.create_task(spdy.serve())
        try:
            try:
                session = await remotecommand.spdy_session(spdy, protocol, opts)
            except (TimeoutError, ConnectionError) as e:
                log.info("exec/attach: %s", e)
                return conn.response
            await remotecommand.run_session(session, call, opts.command)
            # Let the client read the status and hang up first (it resets its streams and says GOAWAY).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(spdy.done.wait(), LINGER)
        finally:
            await spdy.close()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving
        return conn.response

    # ------------------------------------------------------------ port-forward
    async def port_forward(self, request: web.Request, ns: str, pod: str, uid: str = "") -> web.StreamResponse:
        pod_uid = self._pod_uid(ns, pod, uid)
        rt = self.runtime

        async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await rt.port_forward(pod_uid, port)

        if _is_websocket(request):
            ws = wsproto.new_response((wsproto.PORT_FORWARD_TUNNEL, wsproto.PORT_FORWARD_WEBSOCKET,
                                       portforward.PROTOCOL))
            ports: list[int] = []
            if ws.can_prepare(request).protocol != wsproto.PORT_FORWARD_TUNNEL:
                try:
                    ports = [int(p) for q in request.query.getall("ports", []) for p in q.split(",") if p]
                except ValueError:
                    raise BadRequest("ports: invalid port number") from None
                if not ports or not all(0 < p < 65536 for p in ports):
                    raise BadRequest("query parameter \"port\" is required")
            await ws.prepare(request)
            if ws.ws_protocol == wsproto.PORT_FORWARD_TUNNEL:
                spdy = SpdyConnection(wsproto.WebSocketByteChannel(ws))
                await self._serve_port_forward(spdy, connect)
            else:
                await portforward.serve_websocket(wsproto.ChannelWebSocket(ws), ports, connect)
            return ws
        if _is_spdy(request):
            offered = request.headers.getall("X-Stream-Protocol-Version", [])
            if remotecommand.negotiate(offered, (portforward.PROTOCOL,)) is None:
                return _text(403, f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
                                  f"server supports [{portforward.PROTOCOL}]")
            conn = await hijack(request, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                          "X-Stream-Protocol-Version": portforward.PROTOCOL})
            await self._serve_port_forward(SpdyConnection(conn), connect)
            return conn.response
        return _text(400, "Upgrade request required")

    async def _serve_port_forward(self, spdy: SpdyConnection, connect: portforward.Connector) -> None:
        serving = asyncio.create_task(spdy.serve())
        try:
            await portforward.serve_spdy(spdy, connect)
        finally:
            await spdy.close()
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving
