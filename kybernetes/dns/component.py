"""The cluster DNS component: owns the `kube-dns` Service, publishes where it listens, serves the zone.

At start it makes sure `kube-system/kube-dns` exists at the tenth service IP (ports `dns` 53/UDP, `dns-tcp`
53/TCP and `metrics` 9153/TCP for Prometheus, no selector) and writes an EndpointSlice `kube-dns-<node>` pointing at its own listening address. The
service proxy then DNATs the Service IP to it, exactly as for any Service, so pods and the host use 10.43.0.10
while this process listens on the node address at any port (an ephemeral one by default, so several test
clusters on one host never collide). Without root it just listens on a configurable port.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from kybernetes.client.informer import InformerFactory
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.dns import CLUSTER_DOMAIN, DNS_SERVICE_NAME, DNS_SERVICE_NAMESPACE, cluster_dns_ip
from kybernetes.dns.records import Zone
from kybernetes.dns.server import DnsServer, Forwarder, metrics_text, upstreams
from kybernetes.proxy.nodeaddr import primary_ipv4
from kybernetes.proxy.watch import ServiceWatch

log = logging.getLogger(__name__)

MANAGED_BY = "kybernetes-dns"


def dns_service(service_cidr: str) -> dict[str, Any]:
    ip = cluster_dns_ip(service_cidr)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": DNS_SERVICE_NAME,
            "namespace": DNS_SERVICE_NAMESPACE,
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS", "kubernetes.io/cluster-service": "true"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    }


class ClusterDNS:
    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        service_cidr: str,
        listen_host: str = "",
        port: int = 0,
        resolv_conf: str | Path = "/etc/resolv.conf",
        domain: str = CLUSTER_DOMAIN,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.service_cidr = service_cidr
        self.listen_host = listen_host
        self.port = port
        self.resolv_conf = resolv_conf
        self.factory = InformerFactory(client)
        self.watch = ServiceWatch(self.factory)
        self.pods = self.factory.informer("", "v1", "pods")
        self.zone = Zone(self.watch, self.pods, domain)
        self.server: DnsServer | None = None
        self._metrics: web.AppRunner | None = None
        self.metrics_port = 0
        self.address = ""

    @property
    def slice_name(self) -> str:
        return f"{DNS_SERVICE_NAME}-{self.node_name}"[:63].rstrip("-.")

    async def start(self) -> None:
        host = self.listen_host or await primary_ipv4()
        dns_ip = cluster_dns_ip(self.service_cidr)
        fwd = Forwarder(upstreams(self.resolv_conf, exclude={dns_ip, host}))
        if not fwd.servers:
            log.warning("cluster DNS: no upstream resolvers in %s; outside names will fail", self.resolv_conf)
        self.server = DnsServer(self.zone, fwd)
        previous = await self._previous_ports(host)
        port = self.port or previous.get("dns", 0)
        try:
            bound = await self.server.listen(host, port)
        except OSError as e:
            if self.port:  # asked for this port: say so, but keep the node up (the EndpointSlice has the real one)
                log.warning("cluster DNS cannot listen on %s:%d (%s); using a free port", host, port, e)
            bound = await self.server.listen(host, 0)
        self.metrics_port = await self._serve_metrics(host, previous.get("metrics", 0))
        self.address = host
        self.port = bound
        await self.factory.start()
        await self.factory.wait_synced(60.0)
        await self._ensure_service()
        await self._publish()
        log.info("cluster DNS on %s:%d (service %s)", host, bound, dns_ip)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
        if self._metrics is not None:
            await self._metrics.cleanup()
        if self.address:
            try:  # not ready (the Service rejects at once) but kept, so a restart reuses the same port
                await self._publish(ready=False)
            except Exception as e:
                log.debug("marking DNS EndpointSlice not ready: %s", e)
        await self.factory.stop()
        await self.client.close()

    async def _previous_ports(self, host: str) -> dict[str, int]:
        """The ports this node's DNS used last time (by name), so a restart keeps the Service's rules unchanged."""
        try:
            sl = await self.client.get(resource_path("discovery.k8s.io", "v1", "endpointslices", DNS_SERVICE_NAMESPACE, self.slice_name))
        except ApiError:
            return {}
        addrs = [a for ep in sl.get("endpoints") or [] for a in ep.get("addresses") or []]
        if addrs != [host]:
            return {}
        return {str(p.get("name")): int(p.get("port") or 0) for p in sl.get("ports") or []}

    async def _serve_metrics(self, host: str, port: int) -> int:
        """Prometheus metrics on (host, port), falling back to any free port; returns the port."""
        assert self.server is not None
        server = self.server

        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(text=metrics_text(server), content_type="text/plain", charset="utf-8")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        self._metrics = web.AppRunner(app, access_log=None)
        await self._metrics.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.bind((host, 0))
        await web.SockSite(self._metrics, sock).start()
        return int(sock.getsockname()[1])

    async def _ensure_service(self) -> None:
        path = resource_path("", "v1", "services", DNS_SERVICE_NAMESPACE)
        try:
            cur = await self.client.get(f"{path}/{DNS_SERVICE_NAME}")
            if cur.get("spec", {}).get("clusterIP") != cluster_dns_ip(self.service_cidr):
                log.warning("kube-dns Service exists with clusterIP %s, not the reserved one", cur.get("spec", {}).get("clusterIP"))
            return
        except ApiError as e:
            if e.status != 404:
                raise
        try:
            await self.client.create(path, dns_service(self.service_cidr))
        except ApiError as e:
            if e.status != 409:
                raise

    async def _publish(self, ready: bool = True) -> None:
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": self.slice_name,
                "namespace": DNS_SERVICE_NAMESPACE,
                "labels": {"kubernetes.io/service-name": DNS_SERVICE_NAME, "endpointslice.kubernetes.io/managed-by": MANAGED_BY},
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [self.address],
                    "conditions": {"ready": ready, "serving": ready, "terminating": not ready},
                    "nodeName": self.node_name,
                }
            ],
            "ports": [
                {"name": "dns", "port": self.port, "protocol": "UDP"},
                {"name": "dns-tcp", "port": self.port, "protocol": "TCP"},
                {"name": "metrics", "port": self.metrics_port, "protocol": "TCP"},
            ],
        }
        path = resource_path("discovery.k8s.io", "v1", "endpointslices", DNS_SERVICE_NAMESPACE)
        try:
            await self.client.create(path, body)
        except ApiError as e:
            if e.status != 409:
                raise
            cur = await self.client.get(f"{path}/{self.slice_name}")
            body["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]  # type: ignore[index]
            await self.client.update(f"{path}/{self.slice_name}", body)
