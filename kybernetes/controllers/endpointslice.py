"""The EndpointSlice controller: the pods behind every Service with a selector, as discovery.k8s.io/v1 slices.

Each endpoint carries the ready/serving/terminating conditions (terminating pods stay listed, not ready, so proxies
can drain them), nodeName, zone and a targetRef. Endpoints serving the same port numbers share slices of at most
100; existing slices are filled before new ones are made, so a rollout updates slices in place instead of
replacing them. A Service with no endpoints keeps one empty placeholder slice, as upstream does. Slices are owned by
their Service (garbage collected with it) and labelled `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import endpointutil as eu
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.pods import is_ready, meta, owner_reference
from kybernetes.machinery.meta import now_rfc3339

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_PER_SLICE = 100
ZONE_LABEL = "topology.kubernetes.io/zone"


def _ports_key(ports: list[dict[str, Any]] | None) -> str:
    return repr(sorted((p.get("name", ""), p.get("port"), p.get("protocol", "TCP")) for p in ports or []))


class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    workers = 4

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.services = self.informer("", "v1", "services")
        self.pods = self.informer("", "v1", "pods")
        self.nodes = self.informer("", "v1", "nodes")
        self.slices = self.informer("discovery.k8s.io", "v1", "endpointslices")
        if "service-name" not in self.slices.indexers:
            self.slices.add_index(
                "service-name",
                lambda s: [f"{meta(s).get('namespace', '')}/{(meta(s).get('labels') or {}).get(SERVICE_NAME, '')}"],
            )
        self._unseen: dict[str, set[str]] = {}
        self.watch_primary(self.services)
        eu.watch_service_pods(self.services, self.pods, self.enqueue)
        self.slices.add_handlers(
            Handlers(on_update=lambda _o, n: self._slice_changed(n), on_delete=self._slice_changed)
        )

    def _slice_changed(self, s: Obj) -> None:
        labels = meta(s).get("labels") or {}
        if labels.get(MANAGED_BY) != CONTROLLER_NAME:
            return
        svc = self.services.get_by(meta(s).get("namespace", ""), labels.get(SERVICE_NAME, ""))
        if svc is not None:
            self.enqueue(svc)

    def _endpoint(self, svc: Obj, pod: Obj) -> dict[str, Any]:
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        terminating = bool(meta(pod).get("deletionTimestamp"))
        serving = is_ready(pod)
        ep: dict[str, Any] = {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {
                "ready": publish or (serving and not terminating),
                "serving": publish or serving,
                "terminating": terminating,
            },
            "targetRef": eu.target_ref(pod),
        }
        host = eu.hostname_for(svc, pod)
        if host:
            ep["hostname"] = host
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            ep["nodeName"] = node_name
            node = self.nodes.get(node_name)
            zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL)
            if zone:
                ep["zone"] = zone
        return ep

    def _desired(self, svc: Obj) -> dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]]:
        """port-set key -> (ports, {ip: endpoint})."""
        ns = meta(svc)["namespace"]
        has_ports = bool((svc.get("spec") or {}).get("ports"))
        out: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = {}
        for pod in self.pods.list(ns):
            if not eu.selects(svc, pod) or not eu.should_be_in_endpoints(pod):
                continue
            ports = eu.pod_ports(svc, pod)
            if has_ports and not ports:
                continue
            key = _ports_key(ports)
            group = out.setdefault(key, (ports, {}))
            group[1][pod["status"]["podIP"]] = self._endpoint(svc, pod)
        return out

    async def reconcile(self, key: str) -> float | None:
        svc = self.services.get(key)
        if svc is None or eu.service_selector(svc) is None:
            return None  # the slices go with their owner (garbage collector)
        ns, name = meta(svc)["namespace"], meta(svc)["name"]
        path = resource_path("discovery.k8s.io", "v1", "endpointslices", namespace=ns)
        unseen = {n for n in self._unseen.get(key, set()) if self.slices.get_by(ns, n) is None}
        if unseen:
            # Our own creates are not in the cache yet: acting now would create them twice.
            self._unseen[key] = unseen
            return 0.1
        self._unseen.pop(key, None)
        existing = [
            s for s in self.slices.by_index("service-name", f"{ns}/{name}")
            if (meta(s).get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME and not meta(s).get("deletionTimestamp")
        ]
        labels = {
            **{k: v for k, v in (meta(svc).get("labels") or {}).items() if k not in (SERVICE_NAME, MANAGED_BY)},
            SERVICE_NAME: name,
            MANAGED_BY: CONTROLLER_NAME,
        }
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels["service.kubernetes.io/headless"] = ""
        desired = self._desired(svc)
        writes: list[tuple[str, Obj]] = []
        deletes: list[Obj] = []
        by_key: dict[str, list[Obj]] = {}
        for s in sorted(existing, key=lambda s: meta(s)["name"]):
            by_key.setdefault(_ports_key(s.get("ports")), []).append(s)
        if not desired:
            # One empty placeholder slice, no ports.
            keep = next((s for s in existing if not s.get("endpoints") and not s.get("ports")), None)
            deletes = [s for s in existing if s is not keep]
            if keep is None:
                writes.append(("create", self._new_slice(svc, labels, [], None)))
            elif (meta(keep).get("labels") or {}) != labels:
                body = deepcopy(keep)
                body["metadata"]["labels"] = labels
                writes.append(("update", body))
        for key_, (ports, eps) in desired.items():
            slices = by_key.pop(key_, [])
            todo = dict(eps)
            kept: list[Obj] = []
            for s in slices:
                body = deepcopy(s)
                new_eps = []
                for e in s.get("endpoints") or []:
                    ip = (e.get("addresses") or [""])[0]
                    if ip in todo:
                        new_eps.append(todo.pop(ip))
                body["endpoints"] = new_eps
                kept.append(body)
            for body in kept:
                while todo and len(body["endpoints"]) < MAX_PER_SLICE:
                    ip = next(iter(todo))
                    body["endpoints"].append(todo.pop(ip))
            fresh: list[Obj] = []
            rest = list(todo.values())
            for i in range(0, len(rest), MAX_PER_SLICE):
                fresh.append(self._new_slice(svc, labels, rest[i : i + MAX_PER_SLICE], ports))
            for body, orig in zip(kept, slices, strict=True):
                if not body["endpoints"]:
                    deletes.append(orig)
                    continue
                body["ports"] = ports
                body["metadata"]["labels"] = labels
                if body != orig:
                    body["metadata"].setdefault("annotations", {})[eu.TRIGGER_TIME] = now_rfc3339()
                    writes.append(("update", body))
            writes.extend(("create", b) for b in fresh)
        for leftovers in by_key.values():
            deletes.extend(s for s in leftovers if s.get("endpoints") or s.get("ports") or desired)

        async def write(kind: str, body: Obj) -> None:
            try:
                if kind == "create":
                    made = await self.client.create(path, body)
                    self._unseen.setdefault(key, set()).add(meta(made)["name"])
                else:
                    await self.client.update(f"{path}/{meta(body)['name']}", body)
            except ApiError as e:
                if e.status not in (403, 404, 409):
                    raise
                if e.status == 409:
                    self.queue.add_after(key, 0.2)

        async def delete(s: Obj) -> None:
            try:
                await self.client.delete(f"{path}/{meta(s)['name']}", {"preconditions": {"uid": meta(s)["uid"]}})
            except ApiError as e:
                if e.status not in (404, 409):
                    raise

        await asyncio.gather(*(write(k, b) for k, b in writes), *(delete(s) for s in deletes))
        return None

    def _new_slice(self, svc: Obj, labels: dict[str, str], eps: list[dict[str, Any]], ports: list[dict[str, Any]] | None) -> Obj:
        body: Obj = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{meta(svc)['name']}-",
                "namespace": meta(svc)["namespace"],
                "labels": dict(labels),
                "annotations": {eu.TRIGGER_TIME: now_rfc3339()},
                "ownerReferences": [owner_reference(svc)],
            },
            "addressType": "IPv4",
            "endpoints": eps,
        }
        if ports is not None:
            body["ports"] = ports
        return body
