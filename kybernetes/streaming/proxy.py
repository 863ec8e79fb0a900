"""The API server side of pods/log, pods/exec, pods/attach and pods/portforward: find the pod's kubelet, proxy.

As upstream, the API server checks what it can from the pod object (the container name, a node assigned, a
container that can have logs) and then proxies to the node's kubelet over HTTPS, authenticating with a client
certificate from the cluster CA. Upgraded connections (SPDY or WebSocket) are forwarded byte for byte after the
kubelet's 101, so every protocol version kubectl may speak works without the API server understanding it; a
refused upgrade is passed back as a Status, which makes kubectl fall back from WebSocket to SPDY as it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson
from aiohttp import web
from multidict import CIMultiDict

from kybernetes import pki
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.streaming.kubeletserver import DEFAULT_PORT, parse_log_options, write_pair
from kybernetes.streaming.remotecommand import BadRequest
from kybernetes.streaming.upgrade import hijack, wait_disconnected

if TYPE_CHECKING:
    from kybernetes.api.resources import ResourceInfo
    from kybernetes.apiserver.request import RequestInfo
    from kybernetes.apiserver.server import APIServer

log = logging.getLogger(__name__)

__all__ = ["KubeletClient", "NodeProxy", "install", "resolve_container"]

CLIENT_CERT_NAME = "apiserver-kubelet-client"
CLIENT_CN = "kube-apiserver-kubelet-client"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
ADDRESS_PREFERENCE = ("InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS")
CONNECT_TIMEOUT = 10.0
MAX_ERROR_BODY = 64 * 1024
# Request headers that carry the upgrade negotiation to the kubelet.
UPGRADE_HEADERS = ("Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
                   "X-Stream-Protocol-Version")
HOP_BY_HOP = {"content-length", "transfer-encoding", "date", "server", "keep-alive"}


# ------------------------------------------------------------------ containers
def _names(containers: list[dict[str, Any]] | None) -> list[str]:
    return [str(c.get("name", "")) for c in containers or []]


def resolve_container(pod: dict[str, Any], container: str) -> str:
    """The container a request means: the one named, the default-container annotation or the only container."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    regular = _names(spec.get("containers"))
    init = _names(spec.get("initContainers"))
    ephemeral = _names(spec.get("ephemeralContainers"))
    if container:
        if container not in regular + init + ephemeral:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if default and default in regular + init + ephemeral:
        return str(default)
    if len(regular) == 1:
        return regular[0]
    if not regular:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(regular)}]"
    if init:
        msg += f" or one of the init containers: [{' '.join(init)}]"
    if ephemeral:
        msg += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
    raise errors.bad_request(msg)


def check_log_status(pod: dict[str, Any], container: str, previous: bool) -> None:
    """The kubelet's checks on a container's state before serving its log, from the pod's status."""
    name = (pod.get("metadata") or {}).get("name", "")
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []) + (
        status.get("ephemeralContainerStatuses") or []
    )
    cs = next((s for s in statuses if s.get("name") == container), None)
    if cs is None:
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
    state = cs.get("state") or {}
    last = (cs.get("lastState") or {}).get("terminated")
    if previous:
        if not last:
            raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return
    if state.get("running") or state.get("terminated") or last:
        return
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason") or "ContainerCreating"
        if reason == "ErrImagePull":
            reason = "image can't be pulled"
        elif reason == "ImagePullBackOff":
            reason = "trying and failing to pull image"
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start - no logs yet')


# ------------------------------------------------------------------ kubelet client
class KubeletClient:
    """TLS to kubelets: verify their serving certificates against the cluster CA, present our client certificate."""

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = pki_dir
        self._ctx: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            ca_file = self.pki_dir / "ca.crt"
            if not ca_file.exists():
                raise errors.internal(f"no cluster CA to reach kubelets with ({ca_file})")
            crt, key = self.pki_dir / f"{CLIENT_CERT_NAME}.crt", self.pki_dir / f"{CLIENT_CERT_NAME}.key"
            if not (crt.exists() and key.exists()):
                ca = pki.CertPair(ca_file.read_bytes(), (self.pki_dir / "ca.key").read_bytes())
                pair = pki.issue(ca, CLIENT_CN, organizations=["system:masters"], client=True)
                write_pair(pair, crt, key)
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
            ctx.load_cert_chain(str(crt), str(key))
            ctx.set_alpn_protocols(["http/1.1"])
            self._ctx = ctx
        return self._ctx

    async def open(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self.ssl_context(), server_hostname=host, limit=1 << 20),
                CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError) as e:
            raise errors.internal(f"error dialing kubelet at {host}:{port}: {e}") from None


def _head(method: str, path: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, CIMultiDict[str]]:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as e:
        raise errors.internal(f"bad response from kubelet: {e}") from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise errors.internal(f"bad response from kubelet: {lines[0]!r}") from None
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.add(k.strip(), v.strip())
    return status, parts[2] if len(parts) > 2 else "", headers


async def _body(reader: asyncio.StreamReader, headers: CIMultiDict[str]) -> AsyncIterator[bytes]:
    """The response body by its framing: chunked, Content-Length, or until the connection closes."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        while True:
            size_line = await reader.readline()
            if not size_line:
                return
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
            yield data
    elif "Content-Length" in headers:
        left = int(headers["Content-Length"])
        while left > 0:
            data = await reader.read(min(left, 65536))
            if not data:
                return
            left -= len(data)
            yield data
    else:
        while data := await reader.read(65536):
            yield data


async def _read_error_body(reader: asyncio.StreamReader, headers: CIMultiDict[str]) -> bytes:
    out = bytearray()
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
        async for chunk in _body(reader, headers):
            out += chunk
            if len(out) > MAX_ERROR_BODY:
                break
    return bytes(out[:MAX_ERROR_BODY])


def _error_from_kubelet(status: int, body: bytes, content_type: str) -> StatusError:
    """A kubelet error answer as the Status upstream's generic response checker makes of it."""
    if "json" in content_type:
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            obj = orjson.loads(body)
            if isinstance(obj, dict) and obj.get("kind") == "Status":
                return StatusError(int(obj.get("code") or status), str(obj.get("reason", "")),
                                   str(obj.get("message", "")), obj.get("details"))
    text = body.decode("utf-8", "replace").strip()
    if status == 400:
        return errors.bad_request(text)
    if status == 404:
        return StatusError(404, "NotFound", text or "the server could not find the requested resource")
    if status == 403:
        return StatusError(403, "Forbidden", text)
    if status == 401:
        return StatusError(401, "Unauthorized", text)
    return errors.internal(text or f"kubelet answered {status}")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 2.0)


# ------------------------------------------------------------------ the proxy
class NodeProxy:
    """The streaming subresource handlers for pods, registered in `APIServer.subresources.streaming`."""

    def __init__(self, api: APIServer, pki_dir: Path | None) -> None:
        self.api = api
        self.kubelets = KubeletClient(pki_dir) if pki_dir is not None else None

    async def _pod(self, info: ResourceInfo, ns: str, name: str) -> dict[str, Any]:
        obj, _ = await self.api.store.get_current(self.api.storage_info(info), ns, name)
        return obj

    async def _kubelet(self, pod: dict[str, Any]) -> tuple[str, int]:
        node_name = (pod.get("spec") or {}).get("nodeName")
        name = (pod.get("metadata") or {}).get("name", "")
        if not node_name:
            raise errors.bad_request(f"pod {name} does not have a host assigned")
        try:
            return await self.kubelet_address(node_name)
        except StatusError as e:
            if e.code == 404:
                raise errors.internal(f'node "{node_name}" of pod {name} not found') from None
            raise

    async def kubelet_address(self, node_name: str) -> tuple[str, int]:
        """Where the node's kubelet listens: its preferred address and status.daemonEndpoints port."""
        nodes = self.api.resources.get("", "v1", "nodes")
        assert nodes is not None
        node, _ = await self.api.store.get_current(nodes, "", node_name)
        status = node.get("status") or {}
        addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        host = next((addrs[t] for t in ADDRESS_PREFERENCE if addrs.get(t)), None)
        if not host:
            raise errors.internal(f'node "{node_name}" has no address to reach its kubelet at')
        port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_PORT
        return str(host), int(port)

    def _client(self) -> KubeletClient:
        if self.kubelets is None:
            raise errors.internal("the API server has no kubelet client credentials configured")
        return self.kubelets

    # ------------------------------------------------------------ pods/log
    async def log(self, request: web.Request, info: ResourceInfo, ns: str, name: str, ri: RequestInfo) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_supported("pods/log", "", ri.verb)
        try:
            opts = parse_log_options(request.query)
        except BadRequest as e:
            raise errors.bad_request(str(e)) from None
        pod = await self._pod(info, ns, name)
        container = resolve_container(pod, request.query.get("container", ""))
        if not (pod.get("spec") or {}).get("nodeName"):
            return web.Response(body=b"", content_type="text/plain")
        check_log_status(pod, container, opts.previous)
        host, port = await self._kubelet(pod)
        query = [(k, v) for k, v in request.query.items() if k != "container"]
        path = f"/containerLogs/{quote(ns)}/{quote(name)}/{quote(container)}"
        if query:
            path += "?" + urlencode(query)
        reader, writer = await self._client().open(host, port)
        try:
            writer.write(_head("GET", path, f"{host}:{port}", [("Accept", "*/*")]))
            status, _, headers = await _read_head(reader)
            if status != 200:
                body = await _read_error_body(reader, headers)
                raise _error_from_kubelet(status, body, headers.get("Content-Type", ""))
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            if "Content-Length" in headers and not opts.follow:
                resp.content_length = int(headers["Content-Length"])
            else:
                resp.enable_chunked_encoding()
            await resp.prepare(request)

            async def copy() -> None:
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    async for chunk in _body(reader, headers):
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
            return resp  # else the client left: nothing more to write
        finally:
            await _close(writer)

    # ------------------------------------------------------------ exec/attach/portforward
    async def exec(self, request: web.Request, info: ResourceInfo, ns: str, name: str, ri: RequestInfo) -> web.StreamResponse:
        return await self._remote_command(request, info, ns, name, "exec")

    async def attach(self, request: web.Request, info: ResourceInfo, ns: str, name: str, ri: RequestInfo) -> web.StreamResponse:
        return await self._remote_command(request, info, ns, name, "attach")

    async def _remote_command(
        self, request: web.Request, info: ResourceInfo, ns: str, name: str, kind: str
    ) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.method_not_supported(f"pods/{kind}", "", request.method.lower())
        pod = await self._pod(info, ns, name)
        container = resolve_container(pod, request.query.get("container", ""))
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            verb = "exec into" if kind == "exec" else "attach to"
            raise errors.bad_request(f"cannot {verb} a container in a completed pod; current phase is {phase}")
        host, port = await self._kubelet(pod)
        query = [(k, v) for k, v in request.query.items() if k != "container"]
        path = f"/{kind}/{quote(ns)}/{quote(name)}/{quote(container)}"
        if query:
            path += "?" + urlencode(query)
        return await self._proxy_upgrade(request, host, port, path)

    async def portforward(
        self, request: web.Request, info: ResourceInfo, ns: str, name: str, ri: RequestInfo
    ) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.method_not_supported("pods/portforward", "", request.method.lower())
        pod = await self._pod(info, ns, name)
        host, port = await self._kubelet(pod)
        path = f"/portForward/{quote(ns)}/{quote(name)}"
        if request.query_string:
            path += "?" + request.query_string
        return await self._proxy_upgrade(request, host, port, path)

    async def _proxy_upgrade(self, request: web.Request, host: str, port: int, path: str) -> web.StreamResponse:
        if not request.headers.get("Upgrade"):
            raise errors.bad_request("Upgrade request required")
        headers = [(k, v) for k in UPGRADE_HEADERS for v in request.headers.getall(k, [])]
        if request.method == "POST":
            headers.append(("Content-Length", "0"))
        reader, writer = await self._client().open(host, port)
        try:
            writer.write(_head(request.method, path, f"{host}:{port}", headers))
            status, _, rheaders = await _read_head(reader)
            if status != 101:
                body = await _read_error_body(reader, rheaders)
                raise _error_from_kubelet(status, body, rheaders.get("Content-Type", ""))
            answer = {k: v for k, v in rheaders.items() if k.lower() not in HOP_BY_HOP}
            conn = await hijack(request, answer)
            # Bytes the kubelet sent right behind its 101 are already in the reader's buffer; they go first.
            await _splice(conn, reader, writer)
            return conn.response
        finally:
            await _close(writer)


async def _splice(conn: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy client <-> kubelet until either side hangs up."""

    async def up() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await conn.read():
                writer.write(data)
                await writer.drain()

    async def down() -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while data := await reader.read(65536):
                await conn.write(data)

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await conn.close()


# ------------------------------------------------------------------ wiring
def _pki_dir(api: APIServer) -> Path | None:
    explicit = getattr(api, "pki_dir", None)
    if explicit:
        return Path(explicit)
    token_file = getattr(api.authn, "token_file", None)
    if token_file is not None:
        guess = Path(token_file).parent / "pki"
        if (guess / "ca.key").exists():
            return guess
    return None


def install(api: APIServer, *, pki_dir: Path | None = None) -> NodeProxy:
    """Serve pods/log, pods/exec, pods/attach, pods/portforward (proxied to kubelets) and the */proxy subresources.

    The kubelet client certificate is issued from the cluster CA in `pki_dir` (default: `api.pki_dir`, else the
    `pki` directory next to the token file, which is where `kyb server` keeps it).
    """
    from kybernetes.streaming.httpproxy import ResourceProxy

    proxy = NodeProxy(api, pki_dir or _pki_dir(api))
    api.subresources.streaming["log"] = proxy.log
    api.subresources.streaming["exec"] = proxy.exec
    api.subresources.streaming["attach"] = proxy.attach
    api.subresources.streaming["portforward"] = proxy.portforward
    api.subresources.streaming["proxy"] = ResourceProxy(proxy).handle
    return proxy
