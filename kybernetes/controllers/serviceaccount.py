"""The service account controller: every active namespace has a `default` ServiceAccount.

Pods that name no service account run as `default`, so it must exist in each namespace, and comes back if deleted
(upstream's serviceaccounts-controller).
"""

from __future__ import annotations

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller
from kybernetes.controllers.pods import meta

DEFAULT = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.namespaces = self.informer("", "v1", "namespaces")
        self.accounts = self.informer("", "v1", "serviceaccounts")
        self.watch_primary(self.namespaces)
        self.accounts.add_handlers(Handlers(on_delete=self._sa_deleted))

    def _sa_deleted(self, sa: Obj) -> None:
        if meta(sa).get("name") == DEFAULT:
            self.queue.add(meta(sa).get("namespace", ""))

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.get(key)
        if ns is None or meta(ns).get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == "Terminating":
            return None
        if self.accounts.get_by(key, DEFAULT) is not None:
            return None
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT, "namespace": key}}
        try:
            await self.client.create(resource_path("", "v1", "serviceaccounts", namespace=key), body)
        except ApiError as e:
            if e.status not in (403, 404, 409):
                raise
        return None
