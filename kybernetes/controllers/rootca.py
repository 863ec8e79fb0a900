"""The root CA publisher: ConfigMap `kube-root-ca.crt` with the cluster CA (`ca.crt`) in every namespace.

Workloads verify the API server with it (projected service account volumes mount it). Edits and deletions are
undone, as upstream's root-ca-cert-publisher does.
"""

from __future__ import annotations

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.pods import meta

NAME = "kube-root-ca.crt"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)


class RootCAPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, client: Client, informers: InformerFactory, ca_pem: bytes) -> None:
        super().__init__(client, informers)
        self.ca = ca_pem.decode()
        self.namespaces = self.informer("", "v1", "namespaces")
        self.configmaps = self.informer("", "v1", "configmaps")
        self.watch_primary(self.namespaces)
        self.configmaps.add_handlers(
            Handlers(on_update=lambda _o, n: self._cm_changed(n), on_delete=self._cm_changed)
        )

    def _cm_changed(self, cm: Obj) -> None:
        if meta(cm).get("name") == NAME:
            self.queue.add(meta(cm).get("namespace", ""))

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or meta(ns).get("deletionTimestamp"):
            return None
        cm = self.configmaps.get_by(key, NAME)
        path = resource_path("", "v1", "configmaps", namespace=key)
        try:
            if cm is None:
                await self.client.create(
                    path,
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": NAME, "namespace": key, "annotations": {"kubernetes.io/description": DESCRIPTION}},
                        "data": {"ca.crt": self.ca},
                    },
                )
            elif (cm.get("data") or {}) != {"ca.crt": self.ca} or cm.get("binaryData"):
                body = deepcopy(cm)
                body["data"] = {"ca.crt": self.ca}
                body.pop("binaryData", None)
                await self.client.update(f"{path}/{NAME}", body)
        except ApiError as e:
            if e.status not in (403, 404, 409):
                raise
        return None
