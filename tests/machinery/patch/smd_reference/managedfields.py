"""``metadata.managedFields``: decoding, encoding and bookkeeping of field managers.

Why: upstream keeps managers in a map keyed by a *manager identifier* -- the JSON of the entry's
manager, operation, apiVersion (Update only: appliers keep one entry across versions) and subresource
-- and writes them back sorted (operation, time, manager, apiVersion, subresource) with RFC 3339
second-precision UTC times.  Clients see and compare these entries (``kubectl get --show-managed-fields``,
apply conflicts name them), so the encoding here follows upstream exactly, including keeping a
client-written ``fieldsV1`` untouched when its set did not change and the cap of ten Update managers
beyond which the oldest are folded into ``ancient-changes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .fieldpath import FieldSet
from .jsonvalue import go_json

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


@dataclass
class VersionedSet:
    """The fields one manager owns, at the API version it used, and whether it applied them."""

    fields: FieldSet
    api_version: str
    applied: bool


@dataclass
class Managed:
    """All managers of an object: sets and times keyed by manager identifier."""

    fields: dict[str, VersionedSet] = field(default_factory=dict)
    times: dict[str, str | None] = field(default_factory=dict)
    originals: dict[str, tuple[dict[str, Any], FieldSet]] = field(default_factory=dict)

    def copy(self) -> Managed:
        return Managed(dict(self.fields), dict(self.times), dict(self.originals))


def format_time(when: datetime) -> str:
    """``metav1.Time`` JSON: UTC, second precision, ``Z`` suffix."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_string(now: datetime | None = None) -> str:
    return format_time(now or datetime.now(UTC))


def _seconds(text: str | None) -> int:
    if not text:
        return 0
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def _normalize_time(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"invalid time {value!r}")
    try:
        return format_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise ValueError(f"invalid time {value!r}") from exc


def manager_identifier(manager: str, operation: str, api_version: str = "", subresource: str = "") -> str:
    """Upstream's ``BuildManagerIdentifier``: JSON of the entry without time and fields."""
    entry: dict[str, str] = {}
    if manager:
        entry["manager"] = manager
    entry["operation"] = operation
    if operation != APPLY and api_version:
        entry["apiVersion"] = api_version
    if subresource:
        entry["subresource"] = subresource
    return go_json(entry)


def parse_identifier(identifier: str) -> dict[str, str]:
    try:
        data = json.loads(identifier)
    except ValueError:
        return {"manager": identifier}
    return data if isinstance(data, dict) else {"manager": identifier}


def decode(entries: Any) -> Managed:
    """Decode ``metadata.managedFields``; raises ValueError on an invalid entry, as upstream."""
    managed = Managed()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != FIELDS_V1:
            if not fields_type:
                raise ValueError(f"missing fieldsType in managed fields entry {i}")
            raise ValueError(f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        identifier = manager_identifier(
            str(entry.get("manager") or ""), operation, api_version, str(entry.get("subresource") or "")
        )
        raw = entry.get("fieldsV1")
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"fieldsV1 of managed fields entry {i} is not an object")
        fields = FieldSet.from_fields_v1(raw)
        managed.fields[identifier] = VersionedSet(fields, api_version, operation == APPLY)
        managed.times[identifier] = _normalize_time(entry.get("time"))
        managed.originals[identifier] = (entry, fields)
    return managed


def is_reset(entries: Any) -> bool:
    """``[]`` or ``[{}]`` in a request clears managedFields."""
    return isinstance(entries, list) and (len(entries) == 0 or (len(entries) == 1 and entries[0] == {}))


def encode(managed: Managed) -> list[dict[str, Any]] | None:
    """Encode to ``metadata.managedFields`` entries in upstream's order (None when there are none)."""
    if not managed.fields:
        return None
    out = []
    for identifier, versioned in managed.fields.items():
        info = parse_identifier(identifier)
        operation = APPLY if versioned.applied else info.get("operation", UPDATE)
        entry: dict[str, Any] = {}
        if info.get("manager"):
            entry["manager"] = info["manager"]
        entry["operation"] = operation
        entry["apiVersion"] = versioned.api_version
        when = managed.times.get(identifier)
        if when:
            entry["time"] = when
        entry["fieldsType"] = FIELDS_V1
        original, original_set = managed.originals.get(identifier, ({}, None))
        fields_v1 = None
        if (
            isinstance(original.get("fieldsV1"), dict)
            and original.get("apiVersion") == versioned.api_version
            and (original.get("operation") == APPLY) == versioned.applied
            and (original_set is versioned.fields or original_set == versioned.fields)
        ):
            fields_v1 = original["fieldsV1"]
        entry["fieldsV1"] = fields_v1 if fields_v1 is not None else versioned.fields.to_fields_v1()
        if info.get("subresource"):
            entry["subresource"] = info["subresource"]
        out.append(entry)
    out.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )
    return out


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update managers into ``ancient-changes`` buckets until at most ``limit`` remain."""
    updaters = [m for m, vs in managed.fields.items() if not vs.applied]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda m: (_seconds(managed.times.get(m)), m))
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for manager in updaters:
        if length <= limit:
            break
        versioned = managed.fields[manager]
        version = versioned.api_version
        bucket = manager_identifier(ANCIENT_CHANGES, UPDATE, version)
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = manager
            continue
        if bucket not in managed.fields:
            managed.fields[bucket] = managed.fields.pop(first)
            managed.times.pop(first, None)
            managed.originals.pop(first, None)
        merged = versioned.fields.union(managed.fields[bucket].fields)
        managed.fields[bucket] = VersionedSet(merged, version, versioned.applied)
        del managed.fields[manager]
        managed.originals.pop(manager, None)
        managed.times[bucket] = managed.times.pop(manager, None)
        length -= 1


def print_manager(identifier: str) -> str:
    """How conflict messages name a manager: ``"kubectl" using apps/v1`` for updaters."""
    info = parse_identifier(identifier)
    text = json.dumps(info.get("manager", ""), ensure_ascii=False)
    if info.get("subresource"):
        text += f" with subresource {json.dumps(info['subresource'], ensure_ascii=False)}"
    if info.get("operation") == UPDATE:
        return f"{text} using {info.get('apiVersion', '')}"
    return text
