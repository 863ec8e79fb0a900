"""The Endpoints controller: for every Service with a selector, an Endpoints object listing the pods behind it.

Ready pods go into `addresses`, the others (not yet or no longer ready) into `notReadyAddresses` (all into
addresses with publishNotReadyAddresses); terminating pods are left out unless publishNotReadyAddresses. Pods are
grouped into subsets by the port numbers they serve (named targetPorts resolve per pod). Services without a
selector keep whatever Endpoints their owner writes; when a Service goes, its Endpoints go too.
"""

from __future__ import annotations

from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import endpointutil as eu
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.pods import is_ready, meta
from kybernetes.machinery.meta import now_rfc3339

MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
HEADLESS = "service.kubernetes.io/headless"


def build_subsets(svc: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[str, dict[str, Any]] = {}
    for pod in pods:
        if not eu.should_be_in_endpoints(pod):
            continue
        if meta(pod).get("deletionTimestamp") and not publish:
            continue
        addr: dict[str, Any] = {"ip": pod["status"]["podIP"], "targetRef": eu.target_ref(pod)}
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            addr["nodeName"] = node
        host = eu.hostname_for(svc, pod)
        if host:
            addr["hostname"] = host
        ports = eu.pod_ports(svc, pod)
        if spec.get("ports") and not ports:
            continue
        key = repr(sorted((p["name"], p["port"], p["protocol"]) for p in ports))
        g = groups.setdefault(key, {"addresses": [], "notReadyAddresses": [], "ports": ports})
        (g["addresses"] if publish or is_ready(pod) else g["notReadyAddresses"]).append(addr)
    subsets = []
    for key in sorted(groups):
        g = groups[key]
        s: dict[str, Any] = {}
        for field in ("addresses", "notReadyAddresses"):
            if g[field]:
                s[field] = sorted(g[field], key=lambda a: (a["ip"], a["targetRef"]["name"]))
        if g["ports"]:
            s["ports"] = sorted(g["ports"], key=lambda p: (p["name"], p["port"]))
        subsets.append(s)
    return subsets


class EndpointsController(Controller):
    name = "endpoints-controller"
    workers = 4

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.services = self.informer("", "v1", "services")
        self.pods = self.informer("", "v1", "pods")
        self.endpoints = self.informer("", "v1", "endpoints")
        self.watch_primary(self.services)
        eu.watch_service_pods(self.services, self.pods, self.enqueue)
        self.endpoints.add_handlers(Handlers(on_delete=self._endpoints_deleted))

    def _endpoints_deleted(self, ep: Obj) -> None:
        svc = self.services.get_by(meta(ep).get("namespace", ""), meta(ep).get("name", ""))
        if svc is not None:
            self.enqueue(svc)

    async def reconcile(self, key: str) -> float | None:
        ns, _, name = key.rpartition("/")
        path = resource_path("", "v1", "endpoints", namespace=ns)
        svc = self.services.get(key)
        current = self.endpoints.get(key)
        if svc is None:
            if current is not None and (meta(current).get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME:
                try:
                    await self.client.delete(f"{path}/{name}")
                except ApiError as e:
                    if e.status != 404:
                        raise
            return None
        if eu.service_selector(svc) is None:
            return None
        pods = [p for p in self.pods.list(ns) if eu.selects(svc, p)]
        subsets = build_subsets(svc, pods)
        labels = dict(meta(svc).get("labels") or {})
        labels[MANAGED_BY] = CONTROLLER_NAME
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS] = ""
        if current is not None:
            if (current.get("subsets") or []) == subsets and (meta(current).get("labels") or {}) == labels:
                return None
            body = deepcopy(current)
            body["subsets"] = subsets
            body["metadata"]["labels"] = labels
            body["metadata"].setdefault("annotations", {})[eu.TRIGGER_TIME] = now_rfc3339()
            try:
                await self.client.update(f"{path}/{name}", body)
            except ApiError as e:
                if e.status != 404:
                    raise
                self.queue.add_after(key, 0.1)
            return None
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": {eu.TRIGGER_TIME: now_rfc3339()},
            },
            "subsets": subsets,
        }
        try:
            await self.client.create(path, body)
        except ApiError as e:
            if e.status not in (403, 409):
                raise
        return None
