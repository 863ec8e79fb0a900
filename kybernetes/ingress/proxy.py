"""The ingress data path: an aiohttp server that forwards each request to an endpoint of the routed Service.

Endpoints come straight from EndpointSlices (not through the ClusterIP), so the controller load-balances itself
(round robin) and can retry: a request whose connect fails goes to the next endpoint, and the failed endpoint is
skipped for a few seconds. Request bodies are read once so they can be replayed on retry; responses stream back.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from kybernetes.ingress.routes import Backend, RouteTable
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
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, enable_cleanup_closed=True),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2.0, sock_read=300.0),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _candidates(self, eps: list[Endpoint]) -> list[Endpoint]:
        if not eps:
            return []
        now = time.monotonic()
        start = next(self._rr) % len(eps)
        ordered = eps[start:] + eps[:start]
        alive = [e for e in ordered if self._dead.get((e.ip, e.port), 0.0) < now]
        return (alive or ordered)[:ATTEMPTS]

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").startswith("[") else request.host
        backend = self.table.match(host, request.path)
        if backend is None:
            return web.Response(status=404, text="404 page not found\n")
        eps = self._candidates(self.resolve(backend))
        if not eps:
            return web.Response(status=503, text="503 no endpoints available\n")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host or ""
        headers["X-Real-IP"] = peer
        headers["Host"] = request.host or ""
        for ep in eps:
            url = f"http://{ep.ip}:{ep.port}{request.raw_path}"
            try:
                up = await self.session.request(
                    request.method, url, headers=headers, data=body or None, allow_redirects=False, skip_auto_headers=("User-Agent",)
                )
            except (TimeoutError, aiohttp.ClientConnectionError) as e:
                log.debug("ingress: endpoint %s:%d failed: %s", ep.ip, ep.port, e)
                self._dead[(ep.ip, ep.port)] = time.monotonic() + DEAD_FOR
                continue
            try:
                return await self._relay(request, up)
            finally:
                up.release()
        return web.Response(status=502, text="502 bad gateway\n")

    async def _relay(self, request: web.BaseRequest, up: aiohttp.ClientResponse) -> web.StreamResponse:
        out_headers = [(k, v) for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP]
        length = up.content_length
        if length is not None and length < 1 << 20:
            data = await up.read()
            return web.Response(status=up.status, reason=up.reason, body=data, headers=CIMultiDict(out_headers))
        sresp = web.StreamResponse(status=up.status, reason=up.reason, headers=CIMultiDict(out_headers))
        if length is not None:
            sresp.content_length = length
        await sresp.prepare(request)
        async for chunk in up.content.iter_any():
            await sresp.write(chunk)
        await sresp.write_eof()
        return sresp
