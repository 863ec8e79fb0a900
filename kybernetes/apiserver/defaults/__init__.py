"""Defaulting and the default-on admission plugins of the built-in kinds.

Upstream fills defaults while decoding a request body (so they are in place before field management, admission
and validation, on create, update, patch and apply alike) and then runs mutating admission (Priority,
DefaultTolerationSeconds). `install` registers the same two stages on the generic store: a defaulter that runs
before the managed-fields bookkeeping on every write, and admission hooks; it also keeps the system
PriorityClasses in place at start-up, and maps events.k8s.io/v1 field selectors to the stored core fields.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.defaults import core, other, workloads
from kybernetes.apiserver.defaults.admission import (
    SYSTEM_PRIORITY_CLASSES,
    PriorityAdmission,
    default_toleration_seconds,
)
from kybernetes.apiserver.defaults.events import EVENTS_V1_FIELD_LABELS
from kybernetes.apiserver.defaults.jobs import generate_selector
from kybernetes.apiserver.defaults.walker import SchemaDefaulter, Setter
from kybernetes.apiserver.server import APIServer
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.patch import builtin_navigator

__all__ = ["SETTERS", "builtin_defaulter", "install"]


def _merged() -> dict[str, list[Setter]]:
    table: dict[str, list[Setter]] = {}
    for part in (core.SETTERS, workloads.SETTERS, other.SETTERS):
        for name, setters in part.items():
            table.setdefault(name, []).extend(setters)
    return table


SETTERS = _merged()


def builtin_defaulter() -> SchemaDefaulter:
    """A defaulter for every built-in kind (the schema is loaded once per process)."""
    return SchemaDefaulter(builtin_navigator(), SETTERS)


def install(api: APIServer) -> None:
    defaulter = builtin_defaulter()

    def set_defaults(info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if info.custom:
            return
        if old is None and info.group == "batch" and info.resource == "jobs":
            generate_selector(obj)
        defaulter.default(obj)

    async def toleration_seconds(
        operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if info.group == "" and info.resource == "pods" and operation in ("CREATE", "UPDATE"):
            default_toleration_seconds(obj)

    async def ensure_system_priority_classes() -> None:
        info = api.resources.get("scheduling.k8s.io", "v1", "priorityclasses")
        if info is None:
            return
        for pc in SYSTEM_PRIORITY_CLASSES:
            try:
                await api.store.get_current(info, "", pc["metadata"]["name"])
                continue
            except StatusError as e:
                if e.code != 404:
                    raise
            try:
                await api.store.create(info, "", {**pc, "metadata": dict(pc["metadata"])})
            except StatusError as e:
                if e.code != 409:
                    raise

    api.store.defaulters.append(set_defaults)
    api.store.admission.append(PriorityAdmission(api).admit)
    api.store.admission.append(toleration_seconds)
    api.post_start_hooks.append(ensure_system_priority_classes)
    api.field_label_conversions[("events.k8s.io", "events")] = dict(EVENTS_V1_FIELD_LABELS)
