"""The `proxy` subresources: nodes/{name}/proxy to the kubelet, pods/{name}/proxy and services/{name}/proxy to a
pod's port, as `kubectl proxy`, `kubectl get --raw .../proxy/...` and dashboards use them.

Names may carry a scheme and port as upstream allows (`web:8080`, `https:web:443`, `vm:10250`). The request is
forwarded as is (minus hop-by-hop headers and the caller's credentials) and the answer streamed back; an upgrade
(WebSocket through a service) is spliced byte for byte like exec. Nodes are reached over TLS with the API server's
kubelet client certificate; pods and services over plain HTTP unless the name says `https`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.streaming.proxy import HOP_BY_HOP, NodeProxy, _body, _close, _head, _read_head, _splice
from kybernetes.streaming.upgrade import hijack, wait_disconnected

if TYPE_CHECKING:
    from kybernetes.api.resources import ResourceInfo
    from kybernetes.apiserver.request import RequestInfo

__all__ = ["ResourceProxy", "split_name"]

DROP_REQUEST_HEADERS = HOP_BY_HOP | {"authorization", "host", "connection", "upgrade", "proxy-authorization",
                                     "impersonate-user", "impersonate-group", "impersonate-uid"}
CONNECT_TIMEOUT = 10.0


def split_name(name: str) -> tuple[str, str, str]:
    """`https:web:443` -> ("https", "web", "443"); `web:8080` -> ("", "web", "8080"); `web` -> ("", "web", "")."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        if parts[0] in ("http", "https"):
            return parts[0], parts[1], ""
        return "", parts[0], parts[1]
    return "", name, ""


class ResourceProxy:
    """Serves `proxy` for nodes, pods and services (registered as APIServer.subresources.streaming["proxy"])."""

    def __init__(self, nodes: NodeProxy) -> None:
        self.nodes = nodes
        self.api = nodes.api

    async def handle(
        self, request: web.Request, info: ResourceInfo, ns: str, name: str, ri: RequestInfo
    ) -> web.StreamResponse:
        tail = _tail(request.path, info.resource, name)
        if request.query_string:
            tail += "?" + request.query_string
        scheme, base, port = split_name(name)
        if info.resource == "nodes":
            host, kport = await self._node(base)
            return await self._forward(request, "https", host, int(port or kport), tail, kubelet=True)
        if info.resource == "pods":
            host, pport = await self._pod(info, ns, base, port)
            return await self._forward(request, scheme or "http", host, pport, tail)
        if info.resource == "services":
            host, sport = await self._service(ns, base, port)
            return await self._forward(request, scheme or "http", host, sport, tail)
        raise StatusError(404, "NotFound", "the server could not find the requested resource")

    # ------------------------------------------------------------ targets
    async def _node(self, name: str) -> tuple[str, int]:
        return await self.nodes.kubelet_address(name)

    async def _pod(self, info: ResourceInfo, ns: str, name: str, port: str) -> tuple[str, int]:
        pod = await self.nodes._pod(info, ns, name)
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            raise StatusError(503, "ServiceUnavailable", f"pod {name} has no IP address yet")
        if not port:
            port = next((str(p["containerPort"]) for c in (pod.get("spec") or {}).get("containers") or []
                         for p in c.get("ports") or [] if p.get("containerPort")), "80")
        if not port.isdigit():
            named = [p.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                     for p in c.get("ports") or [] if p.get("name") == port]
            if not named:
                raise errors.bad_request(f"pod {name} has no port named {port!r}")
            port = str(named[0])
        return str(ip), int(port)

    async def _service(self, ns: str, name: str, port: str) -> tuple[str, int]:
        services = self.api.resources.get("", "v1", "services")
        assert services is not None
        svc, _ = await self.api.store.get_current(services, ns, name)
        ports = (svc.get("spec") or {}).get("ports") or []
        if port:
            sp = next((p for p in ports if p.get("name") == port or str(p.get("port")) == port), None)
            if sp is None:
                raise StatusError(503, "ServiceUnavailable",
                                  f'no endpoints available for service "{name}:{port}"')
        elif ports:
            sp = ports[0]
        else:
            raise StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
        candidates = await self._endpoints(ns, name, sp.get("name") or "")
        if not candidates:
            raise StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
        return random.choice(candidates)

    async def _endpoints(self, ns: str, service: str, port_name: str) -> list[tuple[str, int]]:
        """Ready (address, port) pairs for the service port, from its EndpointSlices."""
        slices_info = self.api.resources.get("discovery.k8s.io", "v1", "endpointslices")
        if slices_info is None:
            return []
        out: list[tuple[str, int]] = []
        cache = self.api.cache.cache(slices_info.key_prefix)
        for o in cache.iter_prefix(slices_info.namespace_prefix(ns)):
            if o.labels.get("kubernetes.io/service-name") != service:
                continue
            sl = o.decode()
            port = next((p.get("port") for p in sl.get("ports") or [] if (p.get("name") or "") == port_name), None)
            if not port:
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for addr in ep.get("addresses") or []:
                    out.append((str(addr), int(port)))
        return out

    # ------------------------------------------------------------ forwarding
    async def _open(self, scheme: str, host: str, port: int, kubelet: bool) -> tuple[asyncio.StreamReader,
                                                                                     asyncio.StreamWriter]:
        if kubelet:
            return await self.nodes._client().open(host, port)
        ctx: ssl.SSLContext | None = None
        if scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # as upstream: pods' certificates are not checked by the proxy
        try:
            return await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx, limit=1 << 20), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise StatusError(503, "ServiceUnavailable",
                              f"error trying to reach service: dial tcp {host}:{port}: {e}") from None

    async def _forward(self, request: web.Request, scheme: str, host: str, port: int, path: str,
                       kubelet: bool = False) -> web.StreamResponse:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in DROP_REQUEST_HEADERS]
        upgrade = request.headers.get("Upgrade")
        if upgrade:
            headers += [("Connection", "Upgrade"), ("Upgrade", upgrade)]
        else:
            headers.append(("Connection", "close"))
        body = b"" if upgrade else await request.read()
        if body or request.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        reader, writer = await self._open(scheme, host, port, kubelet)
        try:
            writer.write(_head(request.method, path, f"{host}:{port}", headers) + body)
            status, reason, rheaders = await _read_head(reader)
            if status == 101 and upgrade:
                conn = await hijack(request, {k: v for k, v in rheaders.items() if k.lower() not in HOP_BY_HOP})
                await _splice(conn, reader, writer)
                return conn.response
            resp = web.StreamResponse(status=status, reason=reason or None)
            for k, v in rheaders.items():
                if k.lower() not in HOP_BY_HOP and k.lower() != "connection":
                    resp.headers.add(k, v)
            chunked = "Content-Length" not in rheaders
            if chunked:
                resp.enable_chunked_encoding()
            else:
                resp.content_length = int(rheaders["Content-Length"])
            await resp.prepare(request)
            if request.method == "HEAD" or status in (204, 304):
                return resp

            async def copy() -> None:
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    async for chunk in _body(reader, rheaders):
                        await resp.write(chunk)

            copying = asyncio.ensure_future(copy())
            gone = asyncio.ensure_future(wait_disconnected(request))
            try:
                done, _ = await asyncio.wait({copying, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (copying, gone):
                    t.cancel()
                await asyncio.gather(copying, gone, return_exceptions=True)
            if copying in done:
                await resp.write_eof()
            return resp
        finally:
            await _close(writer)


def _tail(path: str, resource: str, name: str) -> str:
    """The part of the URL after `{resource}/{name}/proxy`, at least "/"."""
    marker = f"/{resource}/{name}/proxy"
    idx = path.find(marker)
    if idx < 0:
        marker = f"/{resource}/{quote(name)}/proxy"
        idx = path.find(marker)
    rest = path[idx + len(marker):] if idx >= 0 else "/"
    return quote(rest or "/", safe="/:@!$&'()*+,;=-._~%")
