"""ControllerRevisions: the template history of DaemonSets and StatefulSets (what `kubectl rollout history`
and `rollout undo` read for them).

Each distinct template is stored once as a ControllerRevision `<owner>-<hash>` whose `data` is the strategic merge
patch that restores it (`{"spec": {"template": {..., "$patch": "replace"}}}`) and whose `revision` number grows;
returning to an old template renumbers its revision instead of storing a copy (upstream `controller/history`).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from kybernetes.client.informer import Informer, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import deepcopy
from kybernetes.controllers.deployutil import fnv32a, safe_encode
from kybernetes.controllers.owners import owned_by
from kybernetes.controllers.pods import meta, owner_reference, ts

HASH_LABEL = "controller-revision-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def patch_data(owner: Obj) -> dict[str, Any]:
    template = deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: dict[str, Any], collision_count: int | None) -> str:
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        raw += struct.pack("<I", collision_count & 0xFFFFFFFF)
    return safe_encode(str(fnv32a(raw)))


def revision_name(parent: str, h: str) -> str:
    prefix = parent if len(parent) <= 223 else parent[:223]
    return f"{prefix}-{h}"


def number(rev: Obj) -> int:
    return int(rev.get("revision") or 0)


def owned_revisions(revisions: Informer, owner: Obj) -> list[Obj]:
    return sorted(
        owned_by(revisions, meta(owner).get("uid", "")),
        key=lambda r: (number(r), ts(meta(r).get("creationTimestamp")), meta(r).get("name", "")),
    )


def same_data(a: Obj, b: Obj) -> bool:
    return bool(
        orjson.dumps(a.get("data"), option=orjson.OPT_SORT_KEYS) == orjson.dumps(b.get("data"), option=orjson.OPT_SORT_KEYS)
    )


async def current_revision(
    client: Client, owner: Obj, revisions: list[Obj], labels: dict[str, str], collision_count: int | None
) -> tuple[Obj, list[Obj], int | None]:
    """The revision of owner's current template (created or renumbered as needed), the other revisions, and the
    possibly increased collision count."""
    data = patch_data(owner)
    ns = meta(owner).get("namespace", "")
    path = resource_path("apps", "v1", "controllerrevisions", namespace=ns)
    probe = {"data": data}
    matches = [r for r in revisions if same_data(r, probe)]
    nxt = max((number(r) for r in revisions), default=0) + 1
    ann = {k: v for k, v in (meta(owner).get("annotations") or {}).items() if k == CHANGE_CAUSE}
    if matches:
        cur = matches[-1]
        others = [r for r in revisions if r is not cur]
        if number(cur) < nxt - 1 or (ann and (meta(cur).get("annotations") or {}).get(CHANGE_CAUSE) != ann.get(CHANGE_CAUSE)):
            renumbered = deepcopy(cur)
            if number(cur) < nxt - 1:
                renumbered["revision"] = nxt
            if ann:
                renumbered["metadata"].setdefault("annotations", {}).update(ann)
            cur = await client.update(f"{path}/{meta(cur)['name']}", renumbered)
        return cur, others, collision_count
    count = collision_count
    while True:
        h = revision_hash(data, count)
        body: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": revision_name(meta(owner).get("name", ""), h),
                "namespace": ns,
                "labels": {**labels, HASH_LABEL: h},
                "ownerReferences": [owner_reference(owner)],
            },
            "data": data,
            "revision": nxt,
        }
        if ann:
            body["metadata"]["annotations"] = ann
        try:
            return await client.create(path, body), list(revisions), count
        except ApiError as e:
            if e.status != 409:
                raise
        existing = await client.get(f"{path}/{body['metadata']['name']}")
        ref = (existing.get("metadata") or {}).get("ownerReferences") or []
        if same_data(existing, body) and any(r.get("uid") == meta(owner).get("uid") for r in ref):
            return existing, list(revisions), count
        count = (count or 0) + 1


async def truncate(client: Client, revisions: list[Obj], live: set[str], limit: int) -> None:
    """Delete the oldest revisions beyond limit that no pod uses (live holds names or hashes in use)."""
    dead = [
        r for r in revisions
        if meta(r).get("name") not in live and (meta(r).get("labels") or {}).get(HASH_LABEL) not in live
    ]
    for r in dead[: max(len(dead) - limit, 0)]:
        try:
            await client.delete(
                resource_path("apps", "v1", "controllerrevisions", namespace=meta(r).get("namespace"), name=meta(r).get("name")),
                {"preconditions": {"uid": meta(r).get("uid")}},
            )
        except ApiError as e:
            if e.status not in (404, 409):
                raise
