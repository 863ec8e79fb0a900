"""One served CustomResourceDefinition, compiled: its resources per version, schemas, columns and subresources.

The controller builds a `CRDModel` from each accepted CRD object; everything the request path asks about a custom
resource (which schema to prune and validate with, which printer columns, the scale paths, the storage version, the
server-side apply schema) is answered from it without re-reading the CRD.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.api.resources import GVK, ResourceInfo, Subresource
from kybernetes.machinery.patch.schema import OBJECT_META, Node, structural_root

CUSTOM_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(slots=True)
class CustomResourceInfo(ResourceInfo):
    """A custom resource in one version; adds the CRD's own listKind (not always `<Kind>List`)."""

    list_kind_name: str = ""
    crd_name: str = ""

    @property
    def list_kind(self) -> str:
        return self.list_kind_name or self.kind + "List"


@dataclass(slots=True)
class VersionModel:
    name: str
    served: bool
    storage: bool
    schema: dict[str, Any]
    columns: list[dict[str, Any]]
    status: bool
    scale: dict[str, Any] | None
    deprecated: bool = False
    deprecation_warning: str | None = None


@dataclass
class CRDModel:
    name: str
    uid: str
    group: str
    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: list[str]
    categories: list[str]
    namespaced: bool
    versions: dict[str, VersionModel]
    storage_version: str
    terminating: bool = False
    _nodes: dict[str, Node] = field(default_factory=dict, repr=False)

    @classmethod
    def from_crd(cls, crd: dict[str, Any], names: dict[str, Any] | None = None) -> CRDModel:
        """Compile a (validated) CRD; `names` are the accepted names (default: spec.names)."""
        meta = crd.get("metadata") or {}
        spec = crd.get("spec") or {}
        n = names or spec.get("names") or {}
        versions: dict[str, VersionModel] = {}
        storage = ""
        for v in spec.get("versions") or []:
            subs = v.get("subresources") or {}
            vm = VersionModel(
                name=v["name"],
                served=bool(v.get("served")),
                storage=bool(v.get("storage")),
                schema=((v.get("schema") or {}).get("openAPIV3Schema") or {}),
                columns=list(v.get("additionalPrinterColumns") or []),
                status=isinstance(subs.get("status"), dict),
                scale=subs.get("scale") if isinstance(subs.get("scale"), dict) else None,
                deprecated=bool(v.get("deprecated")),
                deprecation_warning=v.get("deprecationWarning"),
            )
            versions[vm.name] = vm
            if vm.storage:
                storage = vm.name
        kind = str(n.get("kind") or "")
        return cls(
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            group=str(spec.get("group") or ""),
            plural=str(n.get("plural") or ""),
            singular=str(n.get("singular") or kind.lower()),
            kind=kind,
            list_kind=str(n.get("listKind") or kind + "List"),
            short_names=list(n.get("shortNames") or []),
            categories=list(n.get("categories") or []),
            namespaced=spec.get("scope") == "Namespaced",
            versions=versions,
            storage_version=storage,
            terminating=bool(meta.get("deletionTimestamp")),
        )

    def signature(self) -> bytes:
        """Everything that changes what is served; equal signatures need no re-registration."""
        return orjson.dumps(
            [self.group, self.plural, self.singular, self.kind, self.list_kind, self.short_names, self.categories,
             self.namespaced, self.storage_version,
             [[v.name, v.served, v.storage, v.schema, v.columns, v.status, v.scale] for v in self.versions.values()]],
            option=orjson.OPT_SORT_KEYS,
        )

    def served_versions(self) -> list[VersionModel]:
        return sorted((v for v in self.versions.values() if v.served), key=lambda v: version_priority(v.name), reverse=True)

    def infos(self) -> list[ResourceInfo]:
        """One ResourceInfo per served version, with status/scale subresources as declared."""
        out: list[ResourceInfo] = []
        for v in self.served_versions():
            subs: dict[str, Subresource] = {}
            if v.status:
                subs["status"] = Subresource("status", GVK(self.group, v.name, self.kind), ["get", "patch", "update"])
            if v.scale is not None:
                subs["scale"] = Subresource("scale", GVK("autoscaling", "v1", "Scale"), ["get", "patch", "update"])
            out.append(
                CustomResourceInfo(
                    group=self.group,
                    version=v.name,
                    resource=self.plural,
                    kind=self.kind,
                    namespaced=self.namespaced,
                    verbs=list(CUSTOM_VERBS),
                    singular=self.singular,
                    short_names=list(self.short_names),
                    categories=list(self.categories),
                    subresources=subs,
                    custom=True,
                    list_kind_name=self.list_kind,
                    crd_name=self.name,
                )
            )
        return out

    def schema(self, version: str) -> dict[str, Any]:
        v = self.versions.get(version) or self.versions.get(self.storage_version)
        return v.schema if v is not None else {}

    def node(self, version: str) -> Node:
        """The server-side apply / managedFields schema of one version (built once)."""
        node = self._nodes.get(version)
        if node is None:
            schema = copy.deepcopy(self.schema(version))
            _add_embedded_meta(schema)
            node = structural_root(schema)
            self._nodes[version] = node
        return node


def _add_embedded_meta(s: Any) -> None:
    """Embedded resources carry apiVersion, kind and ObjectMeta even when their schema does not say so."""
    if not isinstance(s, dict):
        return
    for sub in (s.get("properties") or {}).values():
        _add_embedded_meta(sub)
    for key in ("items", "additionalProperties"):
        _add_embedded_meta(s.get(key))
    if s.get("x-kubernetes-embedded-resource"):
        props = s.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"$ref": "#/definitions/" + OBJECT_META, "default": {}}


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(v: str) -> tuple[int, int, int, str]:
    """Kubernetes version order: GA > beta > alpha, higher numbers first, then other names alphabetically."""
    m = _VERSION_RE.match(v)
    if not m:
        return (-1, 0, 0, "".join(chr(0x10FFFF - ord(c)) for c in v))
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (stage, int(m.group(1)), int(m.group(3) or 0), "")
