"""The built-in service load balancer (k3s's servicelb idea): LoadBalancer Services get the nodes' addresses.

There is no cloud to ask for an address, so every node is the load balancer: this controller writes the nodes'
addresses (ExternalIP, else InternalIP) into `status.loadBalancer.ingress` of each LoadBalancer Service, and the
node proxies (nftables or userspace) serve the Service's port on those addresses. Services that name another
`loadBalancerClass` are left to whoever implements it.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.proxy.nodeaddr import primary_ipv4
from kybernetes.proxy.watch import SyncLoop

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CLASS = "kybernetes.io/servicelb"


def node_addresses(nodes: list[Obj]) -> list[str]:
    out: list[str] = []
    for n in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        addrs = (n.get("status") or {}).get("addresses") or []
        ext = [a["address"] for a in addrs if a.get("type") == "ExternalIP" and ":" not in a.get("address", "")]
        inn = [a["address"] for a in addrs if a.get("type") == "InternalIP" and ":" not in a.get("address", "")]
        for a in ext or inn:
            if a not in out:
                out.append(a)
    return out


class ServiceLB:
    def __init__(self, client: Client, *, addresses: list[str] | None = None) -> None:
        """`addresses` overrides the node addresses (for a node whose reported address pods cannot reach)."""
        self.client = client
        self.factory = InformerFactory(client)
        self.services = self.factory.informer("", "v1", "services")
        self.nodes = self.factory.informer("", "v1", "nodes")
        self.fixed = addresses or []
        self.loop = SyncLoop("servicelb", self.sync, resync=30.0)
        h = Handlers(
            on_add=lambda o: self.loop.trigger(),
            on_update=lambda a, b: self.loop.trigger(),
            on_delete=lambda o: self.loop.trigger(),
        )
        self.services.add_handlers(h)
        self.nodes.add_handlers(h)

    async def start(self) -> None:
        await self.factory.start()
        await self.factory.wait_synced(60.0)
        await self.sync()
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        await self.factory.stop()
        await self.client.close()

    async def sync(self) -> None:
        addrs = self.fixed or node_addresses(self.nodes.list())
        if not addrs or all(a.startswith("127.") for a in addrs):
            # A node reporting only loopback (hostname resolving to 127.0.0.1) is still reachable on its real address.
            addrs = [await primary_ipv4()]
        want_ing = [{"ip": a, "ipMode": "VIP"} for a in addrs]
        for svc in self.services.list():
            spec = svc.get("spec") or {}
            meta = svc.get("metadata") or {}
            cur = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if spec.get("type") == "LoadBalancer":
                if spec.get("loadBalancerClass") not in (None, "", CLASS):
                    continue
                want = want_ing
            else:
                want = []
            if [i.get("ip") for i in cur] == [i["ip"] for i in want]:
                continue
            path = resource_path("", "v1", "services", meta.get("namespace"), meta.get("name"), "status")
            body = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": {"loadBalancer": {"ingress": want} if want else {}}}
            try:
                await self.client.patch(path, body)
            except ApiError as e:
                if e.status not in (404, 409):
                    raise
                self.loop.trigger()
