"""The table of API resources, derived from the upstream OpenAPI v3 documents shipped in `api/data`.

Discovery, URL routing, storage keys and kubectl's view of the cluster all come from this one table. The OpenAPI
paths already say which resources exist in each group/version, whether they are namespaced, which verbs and
subresources they have and which kind they return; only short names and categories are not in the documents (they
live in upstream's Go code), so they are the one hand-kept list here.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

# Not in OpenAPI: upstream keeps these in each registry's Go code.
SHORT_NAMES: dict[tuple[str, str], list[str]] = {
    ("", "componentstatuses"): ["cs"],
    ("", "configmaps"): ["cm"],
    ("", "endpoints"): ["ep"],
    ("", "events"): ["ev"],
    ("", "limitranges"): ["limits"],
    ("", "namespaces"): ["ns"],
    ("", "nodes"): ["no"],
    ("", "persistentvolumeclaims"): ["pvc"],
    ("", "persistentvolumes"): ["pv"],
    ("", "pods"): ["po"],
    ("", "replicationcontrollers"): ["rc"],
    ("", "resourcequotas"): ["quota"],
    ("", "serviceaccounts"): ["sa"],
    ("", "services"): ["svc"],
    ("apps", "daemonsets"): ["ds"],
    ("apps", "deployments"): ["deploy"],
    ("apps", "replicasets"): ["rs"],
    ("apps", "statefulsets"): ["sts"],
    ("autoscaling", "horizontalpodautoscalers"): ["hpa"],
    ("batch", "cronjobs"): ["cj"],
    ("certificates.k8s.io", "certificatesigningrequests"): ["csr"],
    ("networking.k8s.io", "ingresses"): ["ing"],
    ("networking.k8s.io", "networkpolicies"): ["netpol"],
    ("policy", "poddisruptionbudgets"): ["pdb"],
    ("scheduling.k8s.io", "priorityclasses"): ["pc"],
    ("storage.k8s.io", "storageclasses"): ["sc"],
    ("apiextensions.k8s.io", "customresourcedefinitions"): ["crd", "crds"],
    ("events.k8s.io", "events"): ["ev"],
}

CATEGORIES: dict[tuple[str, str], list[str]] = {
    ("", "pods"): ["all"],
    ("", "replicationcontrollers"): ["all"],
    ("", "services"): ["all"],
    ("apps", "daemonsets"): ["all"],
    ("apps", "deployments"): ["all"],
    ("apps", "replicasets"): ["all"],
    ("apps", "statefulsets"): ["all"],
    ("autoscaling", "horizontalpodautoscalers"): ["all"],
    ("batch", "cronjobs"): ["all"],
    ("batch", "jobs"): ["all"],
    ("apiextensions.k8s.io", "customresourcedefinitions"): ["api-extensions"],
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): ["api-extensions"],
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): ["api-extensions"],
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): ["api-extensions"],
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): ["api-extensions"],
    ("apiregistration.k8s.io", "apiservices"): ["api-extensions"],
}

# Resources that share storage with another group's resource (same objects, converted per version).
STORAGE_ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("events.k8s.io", "events"): ("", "events"),
}

# Preferred group order in discovery, as upstream lists them.
GROUP_ORDER = [
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
]

# Version order inside a group: preferred first.
VERSION_ORDER = {"autoscaling": ["v2", "v1"]}

_ACTION_VERBS = {
    "get": "get",
    "list": "list",
    "post": "create",
    "put": "update",
    "patch": "patch",
    "delete": "delete",
    "deletecollection": "deletecollection",
    "watch": "watch",
    "watchlist": "watch",
}
_CONNECT_VERBS = {"get": "get", "post": "create", "put": "update", "patch": "patch", "delete": "delete"}
_VERB_ORDER = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True, slots=True)
class GVK:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(slots=True)
class Subresource:
    name: str
    kind: GVK
    verbs: list[str]


@dataclass(slots=True)
class ResourceInfo:
    """One resource in one group/version."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: list[str]
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    subresources: dict[str, Subresource] = field(default_factory=dict)
    storage_group: str = ""
    storage_resource: str = ""
    # Set for custom resources: the CRD's schema-derived helpers live elsewhere and key off this flag.
    custom: bool = False

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()
        if not self.storage_resource:
            self.storage_group, self.storage_resource = STORAGE_ALIASES.get(
                (self.group, self.resource), (self.group, self.resource)
            )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> GVK:
        return GVK(self.group, self.version, self.kind)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key_prefix(self) -> str:
        """Storage prefix for every object of this resource (ends with '/')."""
        return f"/registry/{self.storage_group or 'core'}/{self.storage_resource}/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def namespace_prefix(self, namespace: str) -> str:
        return f"{self.key_prefix}{namespace}/" if self.namespaced and namespace else self.key_prefix

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _group_version_of(path: str) -> tuple[str, str] | None:
    m = re.match(r"^/api/(v1)/", path)
    if m:
        return "", m.group(1)
    m = re.match(r"^/apis/([^/]+)/([^/]+)/", path)
    if m:
        return m.group(1), m.group(2)
    return None


def _parse_document(doc: dict[str, Any]) -> list[ResourceInfo]:
    out: dict[str, ResourceInfo] = {}
    subs: list[tuple[str, str, GVK, list[str]]] = []
    sub_verbs: set[str]
    for path, item in doc.get("paths", {}).items():
        gv = _group_version_of(path)
        if gv is None:
            continue
        group, version = gv
        rest = path.split(f"/{version}/", 1)[1] if f"/{version}/" in path else ""
        if rest.startswith("watch/"):
            rest = rest[len("watch/") :]
            is_watch = True
        else:
            is_watch = False
        parts = [p for p in rest.split("/") if p]
        namespaced = False
        if parts[:2] == ["namespaces", "{namespace}"] and len(parts) > 2:
            namespaced = True
            parts = parts[2:]
        if not parts:
            continue
        resource = parts[0]
        ops = {m: op for m, op in item.items() if isinstance(op, dict) and "x-kubernetes-action" in op}
        if not ops:
            continue
        gvk_raw = next(iter(ops.values())).get("x-kubernetes-group-version-kind")
        if not gvk_raw:
            continue
        gvk = GVK(gvk_raw.get("group", ""), gvk_raw.get("version", ""), gvk_raw.get("kind", ""))
        if len(parts) >= 3 and parts[1] == "{name}" and not is_watch:
            sub = parts[2]
            if len(parts) > 3:  # proxy/{path}
                continue
            sub_verbs = set()
            for method, op in ops.items():
                action = str(op["x-kubernetes-action"])
                if action == "connect":
                    sub_verbs.add(_CONNECT_VERBS.get(method, "get"))
                else:
                    sub_verbs.add(_ACTION_VERBS.get(action, action))
            if sub in ("exec", "attach", "portforward"):
                sub_verbs = {"create", "get"}
            subs.append((resource, sub, gvk, sorted(sub_verbs, key=_verb_key)))
            continue
        if len(parts) > 2:
            continue
        info = out.get(resource)
        if info is None:
            # A resource is namespaced when any of its non-"all namespaces" paths is under namespaces/{namespace}.
            info = ResourceInfo(group, version, resource, gvk.kind, namespaced, [])
            out[resource] = info
        elif namespaced:
            info.namespaced = True
        verbs_now = set(info.verbs)
        for op in ops.values():
            action = str(op["x-kubernetes-action"])
            verbs_now.add(_ACTION_VERBS.get(action, action))
        info.verbs = sorted(verbs_now, key=_verb_key)
    for resource, sub, gvk, verbs in subs:
        parent = out.get(resource)
        if parent is not None:
            parent.subresources[sub] = Subresource(sub, gvk, verbs)
    for info in out.values():
        key = (info.group, info.resource)
        info.short_names = list(SHORT_NAMES.get(key, []))
        info.categories = list(CATEGORIES.get(key, []))
    return list(out.values())


def _verb_key(v: str) -> int:
    return _VERB_ORDER.index(v) if v in _VERB_ORDER else len(_VERB_ORDER)


def _data_root() -> Any:
    return resources.files("kybernetes.api").joinpath("data")


def _served_documents() -> list[tuple[str, str, Any]]:
    """(group, version, Traversable) for every GA group/version document we serve."""
    root = _data_root().joinpath("v3")
    found: list[tuple[str, str, Any]] = [("", "v1", root.joinpath("api").joinpath("v1.json.gz"))]
    for gdir in root.joinpath("apis").iterdir():
        for f in gdir.iterdir():
            version = f.name.removesuffix(".json.gz")
            if "alpha" in version or "beta" in version:
                continue
            found.append((gdir.name, version, f))
    return found


@cache
def openapi_v3_document(group: str, version: str) -> bytes:
    """The upstream OpenAPI v3 document bytes for a built-in group/version."""
    root = _data_root().joinpath("v3")
    if group:
        f = root.joinpath("apis").joinpath(group).joinpath(f"{version}.json.gz")
    else:
        f = root.joinpath("api").joinpath(f"{version}.json.gz")
    return gzip.decompress(f.read_bytes())


@cache
def openapi_v2_document() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(gzip.decompress(_data_root().joinpath("swagger.json.gz").read_bytes()))
    return data


@cache
def builtin_resources() -> tuple[ResourceInfo, ...]:
    """Every built-in resource of every served group/version, parsed once."""
    result: list[ResourceInfo] = []
    for group, version, f in _served_documents():
        doc = orjson.loads(gzip.decompress(f.read_bytes()))
        for info in _parse_document(doc):
            if info.group == group and info.version == version:
                result.append(info)
    return tuple(result)


def served_group_versions() -> list[tuple[str, str]]:
    return [(g, v) for g, v, _ in _served_documents()]
