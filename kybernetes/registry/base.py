"""The per-resource strategy: the small, stateless part of a resource that the generic store cannot know.

Upstream's generic registry store does create/update/delete/watch for every resource and asks a strategy only a
few questions: how to prepare an object on create and update (status/spec split, generation bumps), how to validate
it, which fields can be selected, whether deletion is graceful. Resources override just those answers.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.meta import is_dns1123_subdomain


class Strategy:
    """Defaults shared by most resources; subclasses override what differs."""

    # Resources whose spec changes bump metadata.generation (workloads, CRs, ...).
    tracks_generation = False
    # PUT on a missing object creates it (events, leases, endpoints...).
    allow_create_on_update = False
    # PUT without metadata.resourceVersion is accepted as an unconditional update.
    allow_unconditional_update = True
    # Extra field-selector keys beyond metadata.name / metadata.namespace.
    selectable_fields: tuple[str, ...] = ()
    # TTL in seconds for stored objects (events).
    ttl = 0

    def name_errors(self, name: str) -> list[str]:
        return is_dns1123_subdomain(name)

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        out = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
        for f in self.selectable_fields:
            out[f] = _field_value(obj, f)
        return out

    def prepare_for_create(self, obj: dict[str, Any], has_status: bool) -> None:
        if has_status and self.reset_status_on_create:
            obj.pop("status", None)
            initial = self.initial_status(obj)
            if initial is not None:
                obj["status"] = initial
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    reset_status_on_create = True

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any], has_status: bool) -> None:
        """Main-resource update: status is owned by /status, so keep the old one."""
        if has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            gen = old.get("metadata", {}).get("generation", 1) or 1
            if _spec_changed(new, old):
                gen += 1
            new["metadata"]["generation"] = gen

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Status update: everything but status (and metadata labels/annotations... upstream keeps old) stays."""
        status = new.get("status")
        keep_meta = new.get("metadata", {})
        for k in list(new.keys()):
            if k not in ("metadata", "status", "kind", "apiVersion"):
                del new[k]
        for k, v in old.items():
            if k not in ("metadata", "status", "kind", "apiVersion"):
                new[k] = v
        if status is None:
            new.pop("status", None)
        # metadata changes other than managedFields are ignored on /status, like upstream.
        old_meta = dict(old.get("metadata", {}))
        if "managedFields" in keep_meta:
            old_meta["managedFields"] = keep_meta["managedFields"]
        new["metadata"] = old_meta

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return []

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(new)

    def delete_pending(self, obj: dict[str, Any]) -> bool:
        """True while something other than metadata.finalizers holds the object (namespace spec.finalizers)."""
        return False

    def mark_deleting(self, obj: dict[str, Any]) -> None:
        """Adjust an object that just got its deletionTimestamp (e.g. namespace phase Terminating)."""

    def graceful_delete_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds of grace before the object really goes; 0 deletes at once."""
        return 0


def _spec_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    for k in set(new) | set(old):
        if k in ("metadata", "status", "kind", "apiVersion"):
            continue
        if orjson.dumps(new.get(k), option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            old.get(k), option=orjson.OPT_SORT_KEYS
        ):
            return True
    return False


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)
