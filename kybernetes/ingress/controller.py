"""The ingress controller: watches Ingresses of class `kybernetes`, serves them on HTTP and HTTPS, reports status.

At start it makes sure the IngressClass `kybernetes` exists and is the cluster default (the
`ingressclass.kubernetes.io/is-default-class` annotation), so Ingresses without a class are ours too. Every change
to Ingresses, IngressClasses, TLS Secrets, Services or EndpointSlices triggers one batched rebuild of the route
table and certificate map (well under a second); Ingresses get the node addresses in `status.loadBalancer.ingress`.
If a port cannot be bound (another server holds it) the controller keeps running and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from aiohttp import web

from kybernetes.client.informer import Handlers, InformerFactory
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.ingress import routes
from kybernetes.ingress.proxy import IngressProxy
from kybernetes.ingress.tls import CertStore
from kybernetes.proxy.model import Endpoint, slice_endpoints, usable
from kybernetes.proxy.nodeaddr import primary_ipv4
from kybernetes.proxy.servicelb import node_addresses
from kybernetes.proxy.watch import ServiceWatch, SyncLoop

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CLASS_NAME = "kybernetes"
CONTROLLER = "kybernetes.io/ingress-controller"
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


def ingress_class() -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_ANNOTATION: "true"}},
        "spec": {"controller": CONTROLLER},
    }


class IngressController:
    def __init__(
        self, client: Client, *, node_name: str, http_port: int, https_port: int, bind_address: str = "0.0.0.0"
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.http_port = http_port
        self.https_port = https_port
        self.bind_address = bind_address
        self.factory = InformerFactory(client)
        self.watch = ServiceWatch(self.factory)
        self.ingresses = self.factory.informer("networking.k8s.io", "v1", "ingresses")
        self.classes = self.factory.informer("networking.k8s.io", "v1", "ingressclasses")
        self.secrets = self.factory.informer("", "v1", "secrets", field_selector="type=kubernetes.io/tls")
        self.nodes = self.factory.informer("", "v1", "nodes")
        self.proxy = IngressProxy(self.resolve)
        self.certs = CertStore()
        self.loop = SyncLoop("ingress", self.sync, batch=0.02, resync=30.0)
        self._servers: dict[str, asyncio.base_events.Server] = {}
        self._listen_task: asyncio.Task[None] | None = None
        self._addresses: list[str] = []
        h = Handlers(
            on_add=lambda o: self.loop.trigger(),
            on_update=lambda a, b: self.loop.trigger(),
            on_delete=lambda o: self.loop.trigger(),
        )
        for inf in (self.ingresses, self.classes, self.secrets, self.nodes):
            inf.add_handlers(h)
        self.watch.on_change(self.loop.trigger)

    # --------------------------------------------------------- lifecycle
    async def start(self) -> None:
        await self._ensure_class()
        await self.factory.start()
        await self.factory.wait_synced(60.0)
        await self.sync()
        self.loop.start()
        if not await self._listen():
            self._listen_task = asyncio.create_task(self._listen_retry(), name="ingress-listen")

    async def stop(self) -> None:
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listen_task
        await self.loop.stop()
        for srv in self._servers.values():
            srv.close()
        for srv in self._servers.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(srv.wait_closed(), 2.0)
        self._servers.clear()
        await self.proxy.close()
        await self.factory.stop()
        await self.client.close()

    async def _listen(self) -> bool:
        loop = asyncio.get_running_loop()
        server = web.Server(self.proxy.handle, access_log=None)
        for scheme, port in (("http", self.http_port), ("https", self.https_port)):
            if scheme in self._servers or port <= 0:
                continue
            try:
                self._servers[scheme] = await loop.create_server(
                    server,
                    self.bind_address,
                    port,
                    ssl=self.certs.default if scheme == "https" else None,
                    reuse_address=True,
                    backlog=1024,
                )
            except OSError as e:
                log.warning("ingress cannot listen on %s port %d: %s (retrying)", scheme, port, e)
        return all(s in self._servers or p <= 0 for s, p in (("http", self.http_port), ("https", self.https_port)))

    async def _listen_retry(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            if await self._listen():
                return

    @property
    def ports(self) -> dict[str, int]:
        out = {}
        for scheme, srv in self._servers.items():
            for s in srv.sockets:
                if s.family == socket.AF_INET:
                    out[scheme] = int(s.getsockname()[1])
        return out

    async def _ensure_class(self) -> None:
        try:
            await self.client.create(resource_path("networking.k8s.io", "v1", "ingressclasses"), ingress_class())
        except ApiError as e:
            if e.status != 409:
                raise

    # ------------------------------------------------------------- state
    def _default_class(self) -> str:
        for c in self.classes.list():
            ann = (c.get("metadata") or {}).get("annotations") or {}
            if ann.get(DEFAULT_ANNOTATION) == "true" and (c.get("spec") or {}).get("controller") == CONTROLLER:
                return str(c["metadata"]["name"])
        return ""

    def _ours(self) -> list[Obj]:
        mine = {c["metadata"]["name"] for c in self.classes.list() if (c.get("spec") or {}).get("controller") == CONTROLLER}
        default = self._default_class()
        out = []
        for ing in self.ingresses.list():
            cls = (ing.get("spec") or {}).get("ingressClassName") or ((ing.get("metadata") or {}).get("annotations") or {}).get(
                LEGACY_ANNOTATION
            )
            if (cls and cls in mine) or (not cls and default):
                out.append(ing)
        return out

    def resolve(self, be: routes.Backend) -> list[Endpoint]:
        svc = self.watch.service(be.namespace, be.service)
        if svc is None:
            return []
        port_name = be.port_name
        if be.port_number:
            for p in (svc.get("spec") or {}).get("ports") or []:
                if int(p.get("port", 0)) == be.port_number and (p.get("protocol") or "TCP") == "TCP":
                    port_name = p.get("name") or ""
                    break
            else:
                return []
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            return []
        eps = slice_endpoints(self.watch.slices_for(be.namespace, be.service), port_name, "TCP")
        return usable(eps)

    async def sync(self) -> None:
        ours = self._ours()
        self.proxy.table = routes.build(ours)
        self.certs.update(routes.tls_hosts(ours), lambda ns, name: self.secrets.get_by(ns, name))
        # Where this controller listens: its own node's address (not every node's: only this one serves).
        me = self.nodes.get(self.node_name)
        addrs = node_addresses([me]) if me is not None else []
        if not addrs or all(a.startswith("127.") for a in addrs):
            addrs = [await primary_ipv4()]
        await self._write_status(ours, addrs)

    async def _write_status(self, ours: list[Obj], addrs: list[str]) -> None:
        want = [{"ip": a} for a in addrs]
        for ing in ours:
            meta = ing.get("metadata") or {}
            cur = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if [i.get("ip") for i in cur] == addrs:
                continue
            path = resource_path("networking.k8s.io", "v1", "ingresses", meta.get("namespace"), meta.get("name"), "status")
            try:
                await self.client.patch(path, {"status": {"loadBalancer": {"ingress": want}}})
            except ApiError as e:
                if e.status != 404:
                    log.warning("ingress status %s/%s: %s", meta.get("namespace"), meta.get("name"), e)
