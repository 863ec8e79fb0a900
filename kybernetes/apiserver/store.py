"""The generic registry store: create, get, list, update, delete and watch for every resource.

One store serves all resources (built-in and custom) the way upstream's `registry/generic/registry/store.go` does:
it fills system metadata, asks the resource's strategy to prepare and validate, writes through the storage
interface with the object's mod revision as the optimistic lock, and reads from the watch cache. Deletion honours
finalizers and graceful periods by setting deletionTimestamp instead of removing the object.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.cache import CachedObject, WatchCache, Watcher, decode_kv
from kybernetes.apiserver.validation import validate_object_meta, validate_schema_required
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError, StatusError
from kybernetes.machinery.meta import generate_name, meta_of, new_uid, now_rfc3339
from kybernetes.machinery.selectors import FieldSelector, LabelSelector
from kybernetes.registry import Strategy, strategy_for
from kybernetes.storage.interface import (
    Backend,
    CompactedError,
    ConflictError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
)

Mutator = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]
AdmissionHook = Callable[[str, ResourceInfo, dict[str, Any], dict[str, Any] | None], Awaitable[None]]
# Fills defaults into an object being written (old is None on create), like upstream's decode-time defaulting.
Defaulter = Callable[[ResourceInfo, dict[str, Any], dict[str, Any] | None], None]

MAX_CONFLICT_RETRIES = 8


@dataclass(slots=True)
class ListPage:
    items: list[CachedObject]
    revision: int
    continue_token: str
    remaining: int | None


def encode_continue(rv: int, start: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start})).decode()


def decode_continue(token: str) -> tuple[int, str]:
    try:
        pad = "=" * (-len(token) % 4)
        d = orjson.loads(base64.urlsafe_b64decode(token + pad))
        return int(d["rv"]), str(d["start"])
    except Exception:
        raise errors.bad_request("continue key is not valid: illegal base64 data") from None


def parse_rv(rv: str | None, what: str = "resourceVersion") -> int:
    if not rv:
        return 0
    try:
        n = int(rv)
    except ValueError:
        raise errors.bad_request(f"invalid {what}: {rv!r}") from None
    if n < 0:
        raise errors.bad_request(f"invalid {what}: {rv!r}")
    return n


class GenericStore:
    """Storage-backed REST semantics shared by every resource."""

    def __init__(self, backend: Backend, cache: WatchCache) -> None:
        self.backend = backend
        self.cache = cache
        self.admission: list[AdmissionHook] = []
        self.defaulters: list[Defaulter] = []
        self.finalize_hooks: list[Callable[[ResourceInfo, dict[str, Any]], Awaitable[None]]] = []

    # ---------------------------------------------------------------- helpers
    def strategy(self, info: ResourceInfo) -> Strategy:
        return strategy_for(info.group, info.resource, info.custom)

    @staticmethod
    def _encode_for_storage(obj: dict[str, Any]) -> bytes:
        meta = obj.get("metadata") or {}
        rv = meta.pop("resourceVersion", None)
        try:
            return orjson.dumps(obj)
        finally:
            if rv is not None:
                meta["resourceVersion"] = rv

    def _check_namespace(self, info: ResourceInfo, namespace: str, obj: dict[str, Any]) -> None:
        meta = meta_of(obj)
        if info.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if not namespace and not body_ns:
                raise errors.bad_request("the server could not find the requested resource: namespace is required")
            meta["namespace"] = namespace or body_ns
        else:
            meta.pop("namespace", None)

    def _check_kind(self, info: ResourceInfo, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({info.api_version})"
                if api_version and api_version != info.api_version
                else f"Object '{kind}' does not match the expected kind '{info.kind}'"
            )
        if api_version and api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version ({info.api_version})"
            )
        obj["kind"] = info.kind
        obj["apiVersion"] = info.api_version

    def _validate(
        self, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None, subresource: str = ""
    ) -> None:
        strat = self.strategy(info)
        errs: list[FieldError] = validate_object_meta(obj, info.namespaced, strat.name_errors, old)
        if subresource in ("", "scale"):
            errs += validate_schema_required(info, obj)
            if old is None:
                errs += strat.validate(obj)
            else:
                errs += strat.validate_update(obj, old)
        if errs:
            name = (obj.get("metadata") or {}).get("name", "")
            raise errors.invalid(info.kind, info.group, name, errs)

    def _default(self, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for defaulter in self.defaulters:
            defaulter(info, obj, old)

    async def _admit(
        self, operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        for hook in self.admission:
            await hook(operation, info, obj, old)

    # ------------------------------------------------------------------ reads
    async def get(self, info: ResourceInfo, namespace: str, name: str, rv: str | None = None) -> CachedObject:
        key = info.key(namespace, name)
        if rv and rv != "0":
            target = parse_rv(rv)
            if not await self.cache.wait_for(target):
                raise errors.timeout(f"Too large resource version: {target}, current: {self.cache.revision}")
        elif rv is None or rv == "":
            await self.cache.wait_fresh()
        o: CachedObject | None = self.cache.cache(info.key_prefix).objects.get(key)
        if o is None:
            raise errors.not_found(info.resource, info.group, name)
        return o

    async def get_current(self, info: ResourceInfo, namespace: str, name: str) -> tuple[dict[str, Any], int]:
        """Authoritative read from storage, for read-modify-write."""
        kv, _ = await self.backend.get(info.key(namespace, name))
        if kv is None:
            raise errors.not_found(info.resource, info.group, name)
        obj: dict[str, Any] = orjson.loads(kv.value)
        meta_of(obj)["resourceVersion"] = str(kv.mod_revision)
        return obj, kv.mod_revision

    async def list(
        self,
        info: ResourceInfo,
        namespace: str,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        limit: int = 0,
        continue_token: str = "",
        rv: str | None = None,
        rv_match: str = "",
    ) -> ListPage:
        start_key = ""
        snapshot = 0
        if continue_token:
            snapshot, start_key = decode_continue(continue_token)
        elif rv_match == "Exact" or (rv and rv != "0" and limit > 0 and rv_match != "NotOlderThan"):
            snapshot = parse_rv(rv)
            if rv_match == "Exact" and snapshot == 0:
                raise errors.bad_request("resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"")
        elif rv and rv != "0":
            target = parse_rv(rv)
            if not await self.cache.wait_for(target):
                raise errors.timeout(f"Too large resource version: {target}, current: {self.cache.revision}")
        elif rv is None or rv == "":
            if rv_match:
                raise errors.bad_request(f'resourceVersionMatch "{rv_match}" is forbidden unless resourceVersion is provided')
            await self.cache.wait_fresh()
        prefix = info.namespace_prefix(namespace)
        name_pin = fields.equality_value("metadata.name")
        if snapshot and snapshot != self.cache.revision:
            return await self._list_from_storage(info, prefix, labels, fields, limit, snapshot, start_key)
        c = self.cache.cache(info.key_prefix)
        revision = self.cache.revision
        items: list[CachedObject] = []
        cont = ""
        remaining: int | None = None
        if name_pin is not None and not limit:
            candidates: Any
            if info.namespaced and namespace:
                o = c.objects.get(info.key(namespace, name_pin))
                candidates = [o] if o is not None else []
            elif not info.namespaced:
                o = c.objects.get(info.key("", name_pin))
                candidates = [o] if o is not None else []
            else:
                candidates = c.iter_prefix(prefix)
        else:
            candidates = c.iter_prefix(prefix, start_key)
        count = 0
        for o in candidates:
            if o.key == start_key and continue_token:
                continue
            if not labels.matches(o.labels) or not fields.matches(o.fields):
                continue
            if limit and count >= limit:
                cont = encode_continue(revision, items[-1].key)
                remaining = None
                break
            items.append(o)
            count += 1
        return ListPage(items, revision, cont, remaining)

    async def _list_from_storage(
        self,
        info: ResourceInfo,
        prefix: str,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int,
        revision: int,
        start_key: str,
    ) -> ListPage:
        items: list[CachedObject] = []
        cont = ""
        key = start_key
        try:
            while True:
                res = await self.backend.list(
                    prefix, revision=revision, limit=(limit + 1) if limit else 0, start_key=key
                )
                for kv in res.items:
                    if kv.key == start_key:
                        continue
                    o = decode_kv(kv, kv.mod_revision, self.cache.fields_for)
                    if not labels.matches(o.labels) or not fields.matches(o.fields):
                        continue
                    if limit and len(items) >= limit:
                        cont = encode_continue(revision, items[-1].key)
                        break
                    items.append(o)
                if cont or not res.more or not res.items:
                    break
                key = res.items[-1].key + "\x00"
        except CompactedError:
            raise StatusError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a "
                "new list without the continue parameter.",
            ) from None
        except FutureRevisionError:
            raise errors.timeout(f"Too large resource version: {revision}") from None
        return ListPage(items, revision, cont, None)

    # ----------------------------------------------------------------- writes
    async def create(
        self,
        info: ResourceInfo,
        namespace: str,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
        prepare: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        self._check_kind(info, obj)
        self._check_namespace(info, namespace, obj)
        meta = meta_of(obj)
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            gen = meta.get("generateName")
            if gen:
                meta["name"] = generate_name(gen)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_rfc3339()
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation"):
            meta.pop(f, None)
        strat = self.strategy(info)
        strat.prepare_for_create(obj, info.has_status)
        self._default(info, obj, None)
        if prepare is not None:
            prepare(obj)
        await self._admit("CREATE", info, obj, None)
        self._validate(info, obj, None)
        if dry_run:
            return obj
        key = info.key(meta.get("namespace", ""), meta["name"])
        try:
            rev = await self.backend.create(key, self._encode_for_storage(obj), ttl=strat.ttl)
        except KeyExistsError:
            raise errors.already_exists(info.resource, info.group, meta["name"]) from None
        meta["resourceVersion"] = str(rev)
        return obj

    async def update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str = "",
        dry_run: bool = False,
        prepare: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """PUT semantics. Returns (object, created)."""
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        self._check_kind(info, obj)
        self._check_namespace(info, namespace, obj)
        meta = meta_of(obj)
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        strat = self.strategy(info)
        try:
            old, old_rev = await self.get_current(info, namespace, name)
        except StatusError:
            if strat.allow_create_on_update and not subresource:
                meta.pop("resourceVersion", None)
                return await self.create(info, namespace, obj, dry_run=dry_run), True
            raise
        want = meta.get("resourceVersion")
        if want:
            expected = parse_rv(want, "resourceVersion")
            if expected != old_rev:
                raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)
        elif not strat.allow_unconditional_update:
            raise StatusError(
                422, "Invalid", f'{info.kind} "{name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'
            )
        result = await self._write_update(
            info, obj, old, old_rev, subresource=subresource, dry_run=dry_run, prepare=prepare
        )
        return result, False

    async def _write_update(
        self,
        info: ResourceInfo,
        obj: dict[str, Any],
        old: dict[str, Any],
        old_rev: int,
        *,
        subresource: str,
        dry_run: bool,
        prepare: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        strat = self.strategy(info)
        meta = meta_of(obj)
        old_meta = old.get("metadata") or {}
        # System fields are not user-writable.
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        meta.pop("generation", None)
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"]
        self._default(info, obj, old)
        if subresource == "status":
            strat.prepare_for_status_update(obj, old)
            meta = meta_of(obj)
        elif subresource in ("", "scale"):
            strat.prepare_for_update(obj, old, info.has_status)
        if prepare is not None:
            prepare(obj, old)
        if old_meta.get("deletionTimestamp"):
            # Finalizers may only be removed once deletion started; new ones are refused like upstream.
            new_f = set(meta.get("finalizers") or [])
            old_f = set(old_meta.get("finalizers") or [])
            if new_f - old_f:
                raise errors.invalid(
                    info.kind,
                    info.group,
                    meta.get("name", ""),
                    [FieldError("forbidden", "metadata.finalizers", detail="no new finalizers can be added if the object is being deleted")],
                )
        await self._admit("UPDATE", info, obj, old)
        self._validate(info, obj, old, subresource)
        meta["resourceVersion"] = str(old_rev)
        if _same_object(obj, old):
            return old
        if dry_run:
            return obj
        key = info.key(meta.get("namespace", ""), meta["name"])
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not strat.delete_pending(obj)
            and strat.graceful_delete_seconds(obj, None) == 0
        ):
            try:
                rev, _ = await self.backend.delete(key, old_rev)
            except ConflictError:
                raise errors.conflict(info.resource, info.group, meta["name"], errors.MODIFIED) from None
            except KeyNotFoundError:
                raise errors.not_found(info.resource, info.group, meta["name"]) from None
            meta["resourceVersion"] = str(rev)
            return obj
        try:
            rev = await self.backend.update(key, self._encode_for_storage(obj), old_rev, ttl=strat.ttl)
        except ConflictError:
            raise errors.conflict(info.resource, info.group, meta["name"], errors.MODIFIED) from None
        except KeyNotFoundError:
            raise errors.not_found(info.resource, info.group, meta["name"]) from None
        meta["resourceVersion"] = str(rev)
        return obj

    async def guaranteed_update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        mutate: Mutator,
        *,
        subresource: str = "",
        dry_run: bool = False,
        expected_rv: str | None = None,
    ) -> dict[str, Any]:
        """Read, mutate, write with the mod revision as guard; retry when someone else won the race."""
        for _ in range(MAX_CONFLICT_RETRIES):
            old, old_rev = await self.get_current(info, namespace, name)
            if expected_rv and parse_rv(expected_rv) != old_rev:
                raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)
            working: dict[str, Any] = orjson.loads(orjson.dumps(old))
            res = mutate(working)
            new = await res if isinstance(res, Awaitable) else res
            if not isinstance(new, dict):
                raise errors.bad_request("the patched object is not a JSON object")
            self._check_kind(info, new)
            self._check_namespace(info, namespace, new)
            nmeta = meta_of(new)
            if nmeta.get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({nmeta.get('name')}) does not match the name on the URL ({name})"
                )
            nmeta["name"] = name
            want = nmeta.get("resourceVersion")
            if want and want != str(old_rev):
                raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)
            try:
                return await self._write_update(info, new, old, old_rev, subresource=subresource, dry_run=dry_run)
            except StatusError as e:
                # A patch that pinned a resourceVersion fails on the re-read instead.
                if e.code == 409 and e.reason == "Conflict" and not expected_rv:
                    continue
                raise
        raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)

    # ----------------------------------------------------------------- delete
    async def delete(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        options: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Returns (the object as it now is, deleted_now)."""
        strat = self.strategy(info)
        for _ in range(MAX_CONFLICT_RETRIES):
            obj, rev = await self.get_current(info, namespace, name)
            meta = meta_of(obj)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(
                    info.resource,
                    info.group,
                    name,
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
                )
            if pre.get("resourceVersion") and pre["resourceVersion"] != str(rev):
                raise errors.conflict(
                    info.resource,
                    info.group,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {rev}",
                )
            await self._admit("DELETE", info, obj, obj)
            grace_req = options.get("gracePeriodSeconds")
            grace = strat.graceful_delete_seconds(obj, grace_req if isinstance(grace_req, int) else None)
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is True:
                policy = "Orphan"
            finalizers = list(meta.get("finalizers") or [])
            add = _gc_finalizer(policy)
            if add and add not in finalizers and self.gc_enabled:
                finalizers.append(add)
            if finalizers or grace > 0 or strat.delete_pending(obj):
                if meta.get("deletionTimestamp"):
                    # Already being deleted: a shorter grace period may still shorten it.
                    cur = meta.get("deletionGracePeriodSeconds")
                    if finalizers or cur is None or grace >= cur:
                        return obj, False
                new = orjson.loads(orjson.dumps(obj))
                nmeta = meta_of(new)
                nmeta["deletionTimestamp"] = nmeta.get("deletionTimestamp") or now_rfc3339()
                nmeta["deletionGracePeriodSeconds"] = grace
                nmeta["finalizers"] = finalizers
                if not nmeta["finalizers"]:
                    nmeta.pop("finalizers")
                strat.mark_deleting(new)
                if dry_run:
                    return new, False
                try:
                    newrev = await self.backend.update(
                        info.key(namespace, name), self._encode_for_storage(new), rev, ttl=strat.ttl
                    )
                except ConflictError:
                    continue
                except KeyNotFoundError:
                    raise errors.not_found(info.resource, info.group, name) from None
                nmeta["resourceVersion"] = str(newrev)
                return new, False
            if dry_run:
                return obj, True
            try:
                drev, _ = await self.backend.delete(info.key(namespace, name), rev)
            except ConflictError:
                continue
            except KeyNotFoundError:
                raise errors.not_found(info.resource, info.group, name) from None
            meta["resourceVersion"] = str(drev)
            return obj, True
        raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)

    gc_enabled = False

    # ------------------------------------------------------------------ watch
    def watch(
        self,
        info: ResourceInfo,
        namespace: str,
        labels: LabelSelector,
        fields: FieldSelector,
        rv: str | None,
    ) -> tuple[Watcher, builtins.list[tuple[str, CachedObject]] | None, int]:
        """Register a watcher. Returns (watcher, initial events or None if the cache can't replay, start rv).

        With initial events None the caller must replay from storage (`storage_replay`) from start rv.
        """
        c = self.cache.cache(info.key_prefix)
        ns = namespace if info.namespaced else ""
        w = Watcher(ns, labels, fields)
        start = parse_rv(rv) if rv and rv != "0" else 0
        initial: list[tuple[str, CachedObject]] = []
        if not rv or rv == "0":
            prefix = info.namespace_prefix(namespace)
            for o in c.iter_prefix(prefix):
                if labels.matches(o.labels) and fields.matches(o.fields):
                    initial.append(("ADDED", o))
            c.watchers.add(w)
            return w, initial, self.cache.revision
        evs = c.events_since(start) if start >= self.cache.compacted_revision else None
        if evs is None:
            return w, None, start
        for ev in evs:
            w.offer(ev)
        c.watchers.add(w)
        return w, [], start

    def unwatch(self, info: ResourceInfo, w: Watcher) -> None:
        w.close()
        self.cache.cache(info.key_prefix).watchers.discard(w)

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _gc_finalizer(policy: str | None) -> str | None:
    if policy == "Foreground":
        return "foregroundDeletion"
    if policy == "Orphan":
        return "orphan"
    return None


def _same_object(new: dict[str, Any], old: dict[str, Any]) -> bool:
    return orjson.dumps(new, option=orjson.OPT_SORT_KEYS) == orjson.dumps(old, option=orjson.OPT_SORT_KEYS)
