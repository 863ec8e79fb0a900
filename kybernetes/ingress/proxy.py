"""The ingress data path: an aiohttp server that forwards each request to an endpoint of the routed Service.

Endpoints come straight from EndpointSlices (not through the ClusterIP), so the controller load-balances itself
(round robin) and can retry: a request whose connect fails goes to the next endpoint, and the failed endpoint is
skipped for a few seconds. Request bodies are read once so they can be replayed on retry; responses stream back.
aiohttp parses the client side; the upstream side is the lean pooled client in `upstream.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable

from aiohttp import web
from multidict import CIMultiDict

from kybernetes.ingress.routes import Backend, RouteTable
from kybernetes.ingress.upstream import ConnectError, Pool, Response, UpstreamError
from kybernetes.ingress.websocket import WebSocketRelay, is_websocket
from kybernetes.proxy.model import Endpoint

log = logging.getLogger(__name__)

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
DEAD_FOR = 5.0
ATTEMPTS = 3

Resolver = Callable[[Backend], list[Endpoint]]


class IngressProxy:
    def __init__(self, resolve: Resolver) -> None:
        self.table = RouteTable()
        self.resolve = resolve
        self._rr = itertools.count()
        self._dead: dict[tuple[str, int], float] = {}
        self.pool = Pool()
        self.websockets = WebSocketRelay()
        self.requests = 0

    async def close(self) -> None:
        await self.pool.close()
        await self.websockets.close()

    def _candidates(self, eps: list[Endpoint]) -> list[Endpoint]:
        if not eps:
            return []
        now = time.monotonic()
        start = next(self._rr) % len(eps)
        ordered = eps[start:] + eps[:start]
        alive = [e for e in ordered if self._dead.get((e.ip, e.port), 0.0) < now]
        return (alive or ordered)[:ATTEMPTS]

    @staticmethod
    def _head(request: web.BaseRequest, body: bytes) -> bytes:
        peer = request.remote or ""
        host = request.host or ""
        lines = [f"{request.method} {request.raw_path} HTTP/1.1", f"Host: {host}"]
        prior = ""
        for k, v in request.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk.startswith("x-forwarded-") or lk == "x-real-ip":
                if lk == "x-forwarded-for":
                    prior = v
                continue
            lines.append(f"{k}: {v}")
        lines.append(f"X-Forwarded-For: {prior}, {peer}" if prior else f"X-Forwarded-For: {peer}")
        lines.append(f"X-Forwarded-Proto: {request.scheme}")
        lines.append(f"X-Forwarded-Host: {host}")
        lines.append(f"X-Real-IP: {peer}")
        if body or request.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        host = request.host or ""
        if not host.startswith("["):
            host = host.rsplit(":", 1)[0]
        backend = self.table.match(host, request.path)
        if backend is None:
            return web.Response(status=404, text="404 page not found\n")
        eps = self._candidates(self.resolve(backend))
        if not eps:
            return web.Response(status=503, text="503 no endpoints available\n")
        if is_websocket(request):
            peer, host = request.remote or "", request.host or ""
            fwd = {"Host": host, "X-Forwarded-For": peer, "X-Forwarded-Proto": request.scheme, "X-Forwarded-Host": host, "X-Real-IP": peer}
            ws = await self.websockets.relay(request, eps, fwd)
            return ws if ws is not None else web.Response(status=502, text="502 bad gateway\n")
        body = await request.read()
        head = self._head(request, body)
        for ep in eps:
            try:
                resp, conn = await self.pool.request(ep.ip, ep.port, head, body, request.method)
            except ConnectError as e:
                log.debug("ingress: endpoint %s:%d failed: %s", ep.ip, ep.port, e)
                self._dead[(ep.ip, ep.port)] = time.monotonic() + DEAD_FOR
                continue
            except (OSError, TimeoutError, asyncio.IncompleteReadError, UpstreamError, ValueError) as e:
                log.debug("ingress: endpoint %s:%d: %s", ep.ip, ep.port, e)
                return web.Response(status=502, text="502 bad gateway\n")
            try:
                out = await self._relay(request, resp)
            except BaseException:
                self.pool.discard(conn)
                raise
            self.pool.release((ep.ip, ep.port), conn, resp)
            return out
        return web.Response(status=502, text="502 bad gateway\n")

    async def _relay(self, request: web.BaseRequest, up: Response) -> web.StreamResponse:
        headers = CIMultiDict((k, v) for k, v in up.headers if k.lower() not in HOP_BY_HOP)
        if up.length is not None and up.length < 1 << 20:
            data = await up.read()
            return web.Response(status=up.status, reason=up.reason or None, body=data, headers=headers)
        sresp = web.StreamResponse(status=up.status, reason=up.reason or None, headers=headers)
        if up.length is not None:
            sresp.content_length = up.length
        await sresp.prepare(request)
        async for chunk in up.body():
            await sresp.write(chunk)
        await sresp.write_eof()
        return sresp
