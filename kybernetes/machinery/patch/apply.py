"""Server-side apply and managed-fields tracking, as upstream's field manager.

Why: every write that carries a field manager updates ``metadata.managedFields``, and
``application/apply-patch+yaml`` merges a partial configuration into the live object by ownership.
Upstream layers this as a chain of managers; the same steps, in the same order, are here:

* decode the live (or, for updates, the request's) managed fields; ``[]``/``[{}]`` resets them;
* an object never applied to and without managers is not tracked by updates, and on its first apply
  its existing fields go to ``before-first-apply``;
* the structured-merge-diff update/apply (``_track_update`` / ``_smd_apply``): compare old and new,
  take changed fields from other managers (conflicts for appliers unless forced), prune fields the
  applier dropped that nobody else owns;
* drop identity/metadata bookkeeping fields from the writer's set (``apiVersion``, ``metadata.name``...);
* time-stamp the writer when it changed something, cap Update managers at ten;
* for the ``kubectl`` manager, accept conflicts with values equal to the client-side last-applied
  annotation (the client-side -> server-side upgrade path) and keep that annotation in sync.

Resetting spec/status for the main resource vs. the status subresource is the registry's business: it
passes those paths as ``ignored`` (upstream's ``resetFields``).  Defaulting the result is also the
caller's job, as upstream defaults after the merge.

Speed: every write of the API server comes through here.  A create that nobody manages yet
(``_create``) writes its single entry straight from a comparison with the zero object; decoded
managedFields stay FieldsV1 dicts until a set operation looks inside them (``FieldSet`` is lazy), so an
update touching a few fields of a big object handles a few paths, and unchanged entries are written
back as they were read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .errors import ApplyConflict, ApplyError, ConflictCause
from .fieldpath import FieldSet, Path, PathElement, make_path, path_string
from .jsonvalue import deep_copy, go_json, json_equal
from .managedfields import (
    APPLY,
    FIELDS_V1,
    UPDATE,
    Managed,
    VersionedSet,
    cap_update_managers,
    decode,
    encode,
    is_reset,
    manager_identifier,
    now_string,
    print_manager,
)
from .schema import Node, builtin_navigator, builtin_root, zero_value
from .typed import (
    ABSENT,
    TypedError,
    applied_field_set,
    changed_fields_v1,
    compare,
    ensure_named_fields_are_members,
    ensured_field_set,
    merge,
    remove_items,
    same,
    to_field_set,
    unowned_fields,
    vanished_fields,
)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
MAX_ANNOTATIONS_SIZE = 256 * 1024

STRIPPED = FieldSet.from_paths(
    make_path(*p)
    for p in (
        ("apiVersion",),
        ("kind",),
        ("metadata",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "creationTimestamp"),
        ("metadata", "selfLink"),
        ("metadata", "uid"),
        ("metadata", "clusterName"),
        ("metadata", "generation"),
        ("metadata", "managedFields"),
        ("metadata", "resourceVersion"),
    )
)


class _Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def resolve_node(obj: Mapping[str, Any], node: Node | None) -> Node:
    """The given node, else the built-in one for the object's kind, else an untyped node."""
    if node is not None:
        return node
    found = builtin_root(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
    return found if found is not None else builtin_navigator().deduced


def empty_object(node: Node, api_version: str, kind: str) -> dict[str, Any]:
    """The zero-value object upstream starts from on create."""
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    out.update(zero_value(node))
    return out


def _shared_empty_object(node: Node, api_version: str, kind: str) -> dict[str, Any]:
    """:func:`empty_object` sharing the node's cached zero value: only for reading."""
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    out.update(node.zero())
    return out


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = dict(meta)
        del meta["managedFields"]
        out["metadata"] = meta
    return out


def _with_managed_fields(obj: Mapping[str, Any], managed: Managed) -> dict[str, Any]:
    return _with_entries(obj, encode(managed))


def _with_entries(obj: Mapping[str, Any], entries: list[dict[str, Any]] | None) -> dict[str, Any]:
    out = _without_managed_fields(obj)
    if entries:
        meta = dict(out.get("metadata") or {})
        meta["managedFields"] = entries
        out["metadata"] = meta
    return out


def _strip(managed: Managed, identifier: str) -> None:
    versioned = managed.fields.get(identifier)
    if versioned is None:
        return
    rest = versioned.fields.difference(STRIPPED)
    if rest.empty():
        del managed.fields[identifier]
    else:
        managed.fields[identifier] = VersionedSet(rest, versioned.api_version, versioned.applied)


def _take_from_others(
    managed: Managed, old: Any, new: Any, node: Node, writer: str, force: bool, ignored: FieldSet | None
) -> FieldSet:
    """structured-merge-diff's ``update``: conflicts and removals against every other manager.

    Returns the fields that changed (modified or added)."""
    diff = compare(old, new, node)
    if ignored is not None:
        diff = diff.exclude(ignored)
    changed = diff.modified.union(diff.added)
    conflicts: dict[str, FieldSet] = {}
    for identifier, versioned in managed.fields.items():
        if identifier == writer:
            continue
        overlap = versioned.fields.intersection(changed)
        if not overlap.empty():
            conflicts[identifier] = overlap
    if conflicts and not force:
        raise _Conflicts([(m, p) for m in sorted(conflicts) for p in conflicts[m].iterate()])
    for identifier in list(managed.fields):
        if identifier == writer:
            continue
        versioned = managed.fields[identifier]
        rest = versioned.fields
        if identifier in conflicts:
            rest = rest.difference(conflicts[identifier])
        if not diff.removed.empty():
            rest = rest.difference(diff.removed)
        if rest.empty():
            del managed.fields[identifier]
        elif rest is not versioned.fields:
            managed.fields[identifier] = VersionedSet(rest, versioned.api_version, versioned.applied)
    return changed


def _track_update(
    managed: Managed,
    old: Any,
    new: Any,
    node: Node,
    identifier: str,
    api_version: str,
    ignored: FieldSet | None,
    when: str,
) -> None:
    """A non-apply write: the writer takes every field it changed, from everyone else."""
    taken = _take_from_others(managed, old, new, node, "", True, ignored)
    if ignored is not None:
        taken = taken.recursive_difference(ignored)
    taken = taken.difference(STRIPPED)
    if taken.empty():
        return
    previous = managed.fields.get(identifier)
    if previous is not None:
        taken = taken.union(previous.fields)
    managed.fields[identifier] = VersionedSet(taken, api_version, False)
    managed.times[identifier] = when


def _prune(merged: Any, managed: Managed, last: VersionedSet | None, node: Node) -> Any:
    """Remove fields the applier owned before and dropped now, unless someone still owns them.

    Upstream's ``prune``: drop what the applier owned last time (``RemoveItems``), add back what
    anyone owns (``addBackOwnedItems``: remove from the merged object what is neither owned nor left
    by the first cut), then remove from the merged object exactly the previously owned fields that
    this made disappear (``addBackDanglingItems``).  The field sets of the merged object are only
    built where they differ from what is owned or from the cut object.
    """
    if last is None or last.fields.empty():
        return merged
    last_set = ensure_named_fields_are_members(last.fields, node)
    pruned = remove_items(merged, last_set, node)
    # merged_set - (pruned_set | ensure_named_fields_are_members(everyone's fields))
    covers = [ensured_field_set(_present(pruned), node)]
    covers.extend(versioned.fields for versioned in managed.fields.values())
    removable = unowned_fields(merged, node, covers)
    if removable.empty():  # nothing to remove, so nothing disappears below
        return _present(remove_items(merged, removable, node))
    pruned = _present(remove_items(merged, removable, node))
    # (merged_set - pruned_set) & last_set
    return _present(remove_items(merged, vanished_fields(merged, pruned, node).intersection(last_set), node))


def _present(value: Any) -> Any:
    return {} if value is ABSENT else value


def _smd_apply(
    live: dict[str, Any],
    config: dict[str, Any],
    fields: FieldSet,
    node: Node,
    managed: Managed,
    identifier: str,
    api_version: str,
    force: bool,
    ignored: FieldSet | None,
) -> dict[str, Any] | None:
    """structured-merge-diff's ``Apply`` of ``config`` (whose field set is ``fields``); None when the
    object did not change."""
    merged = merge(live, config, node)
    last = managed.fields.get(identifier)
    if ignored is not None:
        fields = fields.recursive_difference(ignored)
    managed.fields[identifier] = VersionedSet(fields, api_version, True)
    merged = _prune(merged, managed, last, node)
    _take_from_others(managed, live, merged, node, identifier, force, ignored)
    if managed.fields[identifier].fields.empty():
        del managed.fields[identifier]
    if same(live, merged) or json_equal(live, merged):
        return None
    return dict(merged)


def _conflict_error(conflicts: list[tuple[str, Path]]) -> ApplyConflict:
    causes = [
        ConflictCause(manager=m, field=path_string(p), message=f"conflict with {print_manager(m)}")
        for m, p in conflicts
    ]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {print_manager(m)}: {path_string(p)}"
    else:
        lines = []
        for manager in sorted({m for m, _ in conflicts}):
            lines.append(f"conflicts with {print_manager(manager)}:")
            lines.extend(f"- {path_string(p)}" for m, p in conflicts if m == manager)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApplyConflict(message, causes)


def _annotations(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _allowed_by_last_applied(live: dict[str, Any], node: Node) -> FieldSet | None:
    """Fields the client-side last-applied annotation set to the values the live object still has."""
    text = _annotations(live).get(LAST_APPLIED)
    if not text or not isinstance(text, str):
        return None
    try:
        last = json.loads(text)
        if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
            return None
        fields = to_field_set(last, node)
        diff = compare(last, live, node)
    except (ValueError, TypedError):
        return None
    return fields.difference(diff.modified).difference(diff.added).difference(diff.removed)


def build_last_applied(applied: Mapping[str, Any]) -> str:
    """The client-side apply annotation for an applied object (without the annotation itself)."""
    obj = deep_copy(dict(applied))
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED, None)
        if not meta["annotations"]:
            del meta["annotations"]
    return go_json(obj, sort_keys=True) + "\n"


def _sync_last_applied(obj: dict[str, Any], applied: Mapping[str, Any]) -> dict[str, Any]:
    if not _annotations(obj).get(LAST_APPLIED):
        return obj
    value = build_last_applied(applied)
    annotations = dict(_annotations(obj))
    if len(value) + sum(len(k) + len(str(v)) for k, v in annotations.items() if k != LAST_APPLIED) > (
        MAX_ANNOTATIONS_SIZE
    ):
        annotations.pop(LAST_APPLIED, None)
    else:
        annotations[LAST_APPLIED] = value
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = annotations
    out = dict(obj)
    out["metadata"] = meta
    return out


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    node: Node | None = None,
    subresource: str = "",
    *,
    ignored: FieldSet | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Server-side apply ``applied`` (a decoded apply-patch+yaml body) onto ``live`` for ``manager``.

    ``live`` is None when the object does not exist yet (apply-create).  Returns the new object with
    ``metadata.managedFields`` updated (not defaulted, not validated).  Raises :class:`ApplyConflict`
    (409) listing fields owned by other managers with different values unless ``force``, and
    :class:`ApplyError` for malformed requests (400) or values that do not fit the schema (500).
    """
    if not manager:
        raise ApplyError("fieldManager is required for apply patch", status=422, reason="Invalid")
    if not isinstance(applied, dict):
        raise ApplyError("apply patch must be an object", status=400, reason="BadRequest")
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise ApplyError("metadata.managedFields must be nil", status=400, reason="BadRequest")
    api_version = str(applied.get("apiVersion") or "")
    kind = str(applied.get("kind") or "")
    if live is not None:
        expected = (str(live.get("apiVersion") or ""), str(live.get("kind") or ""))
        if expected[0] and api_version != expected[0]:
            raise ApplyError(
                "Incorrect version specified in apply patch. "
                f"Specified patch version: {api_version}, expected: {expected[0]}",
                status=400,
                reason="BadRequest",
            )
        if expected[1] and kind != expected[1]:
            raise ApplyError(
                f"invalid object type: {_gvk(api_version, kind)}", status=400, reason="BadRequest"
            )
    node = resolve_node(applied, node)
    try:
        fields = applied_field_set(applied, node)  # validates
    except TypedError as exc:
        raise ApplyError(f"failed to create typed patch object ({_gvknn(applied)}): {exc}") from None
    when = now_string(now)
    base = live if live is not None else _shared_empty_object(node, api_version, kind)
    try:
        managed = decode(_annotated_managed(base))
    except ValueError as exc:
        raise ApplyError(f"failed to decode managed fields: {exc}") from None
    live_obj = _without_managed_fields(base)
    config = applied  # read only: the result is copied at the end
    identifier = manager_identifier(manager, APPLY, "", subresource)

    def attempt(forced: bool) -> tuple[dict[str, Any], Managed]:
        state = managed.copy()
        if not state.fields:
            first = manager_identifier(BEFORE_FIRST_APPLY, UPDATE, api_version, subresource)
            empty = _shared_empty_object(node, api_version, kind)
            _track_update(state, empty, live_obj, node, first, api_version, ignored, when)
            cap_update_managers(state)
        result = _smd_apply(live_obj, config, fields, node, state, identifier, api_version, forced, ignored)
        _strip(state, identifier)
        if result is None:
            result = live_obj
        else:
            state.times[identifier] = when
        cap_update_managers(state)
        return result, state

    try:
        try:
            result, state = attempt(force)
        except _Conflicts as exc:
            allowed = _allowed_by_last_applied(live_obj, node) if manager == "kubectl" else None
            if allowed is None:
                raise _conflict_error(exc.conflicts) from None
            remaining = [(m, p) for m, p in exc.conflicts if not allowed.has(p)]
            if remaining:
                raise _conflict_error(remaining) from None
            result, state = attempt(True)
    except TypedError as exc:
        raise ApplyError(f"failed to create typed live object ({_gvknn(live_obj)}): {exc}") from None
    if manager == "kubectl":
        result = _sync_last_applied(result, applied)
    return _with_managed_fields(deep_copy(result), state)


def _annotated_managed(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata")
    return meta.get("managedFields") if isinstance(meta, dict) else None


def _gvknn(obj: Mapping[str, Any]) -> str:
    """Upstream's ``objectGVKNN``: ``namespace/name; group/version, Kind=kind``."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
    return f"{where}; {_gvk(str(obj.get('apiVersion') or ''), str(obj.get('kind') or ''))}"


def _gvk(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str = UPDATE,
    subresource: str = "",
    *,
    node: Node | None = None,
    ignored: FieldSet | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a non-apply write (create, update, patch) of ``new`` over ``old`` by ``manager``.

    ``old`` is None on create.  Returns ``new`` (shallow-copied at the top and in metadata) with
    ``metadata.managedFields`` updated: the manager owns every field it changed, other managers lose
    those fields.  Never raises for bad object content: like upstream's ``UpdateNoErrors`` it then
    drops managedFields from the result.
    """
    if operation != UPDATE:
        raise ValueError("update_managed_fields records Update operations; use apply() for Apply")
    try:
        return _update(old, new, manager, subresource, node, ignored, now)
    except (TypedError, ValueError):
        return _without_managed_fields(new)


def _update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    subresource: str,
    node: Node | None,
    ignored: FieldSet | None,
    now: datetime | None,
) -> dict[str, Any]:
    node = resolve_node(new, node)
    if old is None and ignored is None and (subresource or _no_managers(_annotated_managed(new))):
        return _create(new, manager, subresource, node, now)
    api_version = str(new.get("apiVersion") or (old or {}).get("apiVersion") or "")
    kind = str(new.get("kind") or (old or {}).get("kind") or "")
    creating = old is None or not (old.get("metadata") or {}).get("uid")
    base = old if old is not None else _shared_empty_object(node, api_version, kind)
    managed = _decode_live_or_new(base, new, bool(subresource))
    old_obj = _without_managed_fields(base)
    new_obj = _without_managed_fields(new)
    if not managed.fields and not creating:
        return new_obj
    identifier = manager_identifier(manager, UPDATE, api_version, subresource)
    _track_update(managed, old_obj, new_obj, node, identifier, api_version, ignored, now_string(now))
    cap_update_managers(managed)
    return _with_managed_fields(new_obj, managed)


def _no_managers(requested: Any) -> bool:
    """Whether managedFields sent with a create leave the new object without managers."""
    return requested is None or is_reset(requested)


_STRIPPED_TOP = ("f:apiVersion", "f:kind", "f:metadata")
_STRIPPED_META = tuple(
    pe.serialize() for pe in STRIPPED.children[PathElement.field("metadata")].members
)


def _drop_member(fields: dict[str, Any], key: str) -> None:
    """Remove a path from a FieldsV1 level, keeping what is below it."""
    value = fields.get(key)
    if value is None:
        return
    if not value:
        del fields[key]
    elif "." in value:
        del value["."]


def _create(
    new: dict[str, Any], manager: str, subresource: str, node: Node, now: datetime | None
) -> dict[str, Any]:
    """``_update`` of a new object nobody manages yet: the writer owns what differs from the zero value.

    The general path compares the kind's zero object with the new one into path sets, takes nothing
    from anyone (there is no one), strips the bookkeeping fields and encodes the only entry; here the
    comparison writes the entry's FieldsV1 directly.
    """
    api_version = str(new.get("apiVersion") or "")
    kind = str(new.get("kind") or "")
    new_obj = _without_managed_fields(new)
    fields = changed_fields_v1(_shared_empty_object(node, api_version, kind), new_obj, node)
    for key in _STRIPPED_TOP:
        if key in fields:
            _drop_member(fields, key)
    meta = fields.get("f:metadata")
    if meta is not None:
        for key in _STRIPPED_META:
            if key in meta:
                _drop_member(meta, key)
        if not meta:
            del fields["f:metadata"]
    if not fields:
        return new_obj
    entry: dict[str, Any] = {}
    if manager:
        entry["manager"] = manager
    entry["operation"] = UPDATE
    entry["apiVersion"] = api_version
    entry["time"] = now_string(now)
    entry["fieldsType"] = FIELDS_V1
    entry["fieldsV1"] = fields
    if subresource:
        entry["subresource"] = subresource
    metadata = dict(new_obj.get("metadata") or {})  # new_obj is already a copy of new
    metadata["managedFields"] = [entry]
    new_obj["metadata"] = metadata
    return new_obj


def _decode_live_or_new(old: Mapping[str, Any], new: Mapping[str, Any], ignore_new: bool) -> Managed:
    def live() -> Managed:
        try:
            return decode(_annotated_managed(old))
        except ValueError:
            return Managed()

    if ignore_new:
        return live()
    requested = _annotated_managed(new)
    if is_reset(requested):
        return Managed()
    try:
        managed = decode(requested)
    except ValueError:
        return live()
    return managed if managed.fields else live()
