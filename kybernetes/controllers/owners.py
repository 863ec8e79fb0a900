"""Controller references: who owns an object, adopting orphans and releasing objects that stopped matching.

An owner (ReplicaSet, Job, ...) owns exactly the objects whose ownerReferences carry its uid with controller=true.
Objects that match its selector but have no controller are adopted; owned objects whose labels no longer match
are released, so `kubectl label pod x app-` detaches a pod from its ReplicaSet as upstream does
(client-go's ControllerRefManager). Adoption and release are strategic merge patches of ownerReferences with the
object's uid as a precondition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.client.informer import Informer, Obj
from kybernetes.client.rest import STRATEGIC_PATCH, ApiError, Client
from kybernetes.controllers.pods import meta, owner_reference
from kybernetes.machinery.selectors import LabelSelector

log = logging.getLogger(__name__)

CONTROLLER_INDEX = "controller-uid"


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def by_controller_uid(obj: Obj) -> list[str]:
    ref = controller_ref(obj)
    return [str(ref.get("uid", ""))] if ref else []


def ensure_controller_index(inf: Informer) -> None:
    if CONTROLLER_INDEX not in inf.indexers:
        inf.add_index(CONTROLLER_INDEX, by_controller_uid)


def owned_by(inf: Informer, owner_uid: str) -> list[Obj]:
    return inf.by_index(CONTROLLER_INDEX, owner_uid)


def resolve_controller(inf: Informer, obj: Obj, kind: str) -> Obj | None:
    """The owner (from the owners' informer) named by obj's controllerRef, if it has that kind and uid."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = inf.get_by(meta(obj).get("namespace", ""), ref.get("name", ""))
    if owner is None or meta(owner).get("uid") != ref.get("uid"):
        return None
    return owner


class ClaimManager:
    """Claims objects of one resource for one owner (adopt matching orphans, release non-matching owned ones)."""

    def __init__(
        self,
        client: Client,
        owner: Obj,
        selector: LabelSelector,
        path_of: Callable[[Obj], str],
        fresh_owner: Callable[[], Awaitable[Obj | None]],
    ) -> None:
        self.client = client
        self.owner = owner
        self.selector = selector
        self.path_of = path_of
        self.fresh_owner = fresh_owner
        self._can_adopt: bool | None = None

    async def _adoptable(self) -> bool:
        """Recheck with a live read that the owner still exists with this uid and is not being deleted."""
        if self._can_adopt is None:
            fresh = await self.fresh_owner()
            self._can_adopt = bool(
                fresh is not None
                and meta(fresh).get("uid") == meta(self.owner).get("uid")
                and not meta(fresh).get("deletionTimestamp")
            )
        return self._can_adopt

    async def claim(self, candidates: list[Obj]) -> list[Obj]:
        uid = meta(self.owner).get("uid")
        owner_deleting = bool(meta(self.owner).get("deletionTimestamp"))
        claimed: list[Obj] = []
        for obj in candidates:
            ref = controller_ref(obj)
            labels = meta(obj).get("labels") or {}
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if self.selector.matches(labels):
                    claimed.append(obj)
                    continue
                if not owner_deleting:
                    await self._release(obj)
                continue
            if owner_deleting or not self.selector.matches(labels) or meta(obj).get("deletionTimestamp"):
                continue
            if not await self._adoptable():
                continue
            adopted = await self._adopt(obj)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _adopt(self, obj: Obj) -> Obj | None:
        patch = {
            "metadata": {"ownerReferences": [owner_reference(self.owner)], "uid": meta(obj).get("uid")}
        }
        try:
            return await self.client.patch(self.path_of(obj), patch, content_type=STRATEGIC_PATCH)
        except ApiError as e:
            if e.status in (404, 409, 422):
                return None
            raise

    async def _release(self, obj: Obj) -> None:
        patch = {
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": meta(self.owner).get("uid")}],
                "uid": meta(obj).get("uid"),
            }
        }
        try:
            await self.client.patch(self.path_of(obj), patch, content_type=STRATEGIC_PATCH)
        except ApiError as e:
            if e.status not in (404, 409, 422):
                raise
