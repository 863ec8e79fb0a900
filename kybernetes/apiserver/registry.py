"""The live set of served resources: built-ins from OpenAPI plus custom resources added at run time.

Lookups by (group, version, resource), by storage prefix (for the watch cache's field extraction) and by kind are
all answered here, and every change is pushed to discovery so clients see new resources at once.
"""

from __future__ import annotations

from collections.abc import Callable

from kybernetes.api.resources import ResourceInfo, builtin_resources
from kybernetes.apiserver.cache import FieldsFunc, default_fields
from kybernetes.registry import strategy_for


class ResourceRegistry:
    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._fields_by_prefix: dict[str, FieldsFunc] = {}
        self.listeners: list[Callable[[], None]] = []
        for r in builtin_resources():
            self._add(r)

    def _add(self, r: ResourceInfo) -> None:
        self._by_gvr[(r.group, r.version, r.resource)] = r
        self._fields_by_prefix.setdefault(r.key_prefix, strategy_for(r.storage_group, r.storage_resource, r.custom).fields)

    def add(self, resources: list[ResourceInfo]) -> None:
        for r in resources:
            self._add(r)
        self._changed()

    def remove(self, group: str, resource: str) -> None:
        for k in [k for k in self._by_gvr if k[0] == group and k[2] == resource]:
            r = self._by_gvr.pop(k)
            self._fields_by_prefix.pop(r.key_prefix, None)
        self._changed()

    def _changed(self) -> None:
        for cb in self.listeners:
            cb()

    def get(self, group: str, version: str, resource: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, resource))

    def all(self) -> list[ResourceInfo]:
        return list(self._by_gvr.values())

    def has_group_version(self, group: str, version: str) -> bool:
        return any(k[0] == group and k[1] == version for k in self._by_gvr)

    def fields_for(self, prefix: str) -> FieldsFunc:
        return self._fields_by_prefix.get(prefix, default_fields)

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        group, _, version = api_version.rpartition("/")
        for r in self._by_gvr.values():
            if r.group == group and r.version == version and r.kind == kind:
                return r
        return None
