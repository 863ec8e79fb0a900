"""API discovery: legacy (/api, /apis, per group-version lists) and aggregated (apidiscovery.k8s.io v2, v2beta1).

kubectl 1.27-1.29 ask only for v2beta1, 1.30+ for v2 then v2beta1; the response's Content-Type alone tells the
client which form it got, so the Accept header must be parsed exactly (a substring test confuses v2 and v2beta1).
Everything here is derived from the live resource registry, so custom resources appear and disappear with their
definitions.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from kybernetes.api.resources import GROUP_ORDER, VERSION_ORDER, ResourceInfo

AGG_GROUP = "apidiscovery.k8s.io"


def aggregated_version(accept: str | None) -> str | None:
    """'v2' or 'v2beta1' when Accept asks for aggregated discovery (first acceptable entry wins)."""
    if not accept:
        return None
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        mt = parts[0].lower()
        params: dict[str, str] = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        if mt != "application/json":
            continue
        if not params:
            return None
        if params.get("g") == AGG_GROUP and params.get("as") == "APIGroupDiscoveryList" and params.get("v") in (
            "v2",
            "v2beta1",
        ):
            return params["v"]
    return None


def _group_sort_key(group: str) -> tuple[int, str]:
    try:
        return (GROUP_ORDER.index(group), group)
    except ValueError:
        return (len(GROUP_ORDER), group)


def _version_sort(group: str, versions: list[str]) -> list[str]:
    order = VERSION_ORDER.get(group)
    if order:
        return sorted(versions, key=lambda v: order.index(v) if v in order else len(order))
    return sorted(versions, key=_kube_version_key, reverse=True)


def _kube_version_key(v: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, then by numbers."""
    import re

    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (-1, 0, 0)
    major = int(m.group(1))
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, major, minor)


class Discovery:
    """Builds and caches discovery documents from a list of resources."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[bytes, str]] = {}
        self._resources: list[ResourceInfo] = []

    def update(self, resources: list[ResourceInfo]) -> None:
        self._resources = list(resources)
        self._cache.clear()

    def groups(self) -> dict[str, dict[str, list[ResourceInfo]]]:
        out: dict[str, dict[str, list[ResourceInfo]]] = {}
        for r in self._resources:
            out.setdefault(r.group, {}).setdefault(r.version, []).append(r)
        return out

    def _cached(self, key: str, build: Any) -> tuple[bytes, str]:
        hit = self._cache.get(key)
        if hit is None:
            body = orjson.dumps(build())
            hit = (body, '"' + hashlib.sha256(body).hexdigest()[:32].upper() + '"')
            self._cache[key] = hit
        return hit

    # ------------------------------------------------------------ legacy forms
    def api_versions(self, server_address: str) -> tuple[bytes, str]:
        return self._cached(
            "api",
            lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
            },
        )

    def _api_group(self, group: str, versions: dict[str, list[ResourceInfo]]) -> dict[str, Any]:
        vs = _version_sort(group, list(versions))
        return {
            "name": group,
            "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in vs],
            "preferredVersion": {"groupVersion": f"{group}/{vs[0]}", "version": vs[0]},
        }

    def api_group_list(self) -> tuple[bytes, str]:
        def build() -> dict[str, Any]:
            gs = self.groups()
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._api_group(g, gs[g]) for g in sorted(gs, key=_group_sort_key) if g],
            }

        return self._cached("apis", build)

    def api_group(self, group: str) -> tuple[bytes, str] | None:
        gs = self.groups()
        if group not in gs or not group:
            return None
        return self._cached(f"group/{group}", lambda: {"kind": "APIGroup", "apiVersion": "v1", **self._api_group(group, gs[group])})

    def resource_list(self, group: str, version: str) -> tuple[bytes, str] | None:
        rs = self.groups().get(group, {}).get(version)
        if rs is None:
            return None

        def build() -> dict[str, Any]:
            gv = f"{group}/{version}" if group else version
            resources: list[dict[str, Any]] = []
            for r in sorted(rs, key=lambda r: r.resource):
                entry: dict[str, Any] = {
                    "name": r.resource,
                    "singularName": r.singular,
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": r.verbs,
                }
                if r.short_names:
                    entry["shortNames"] = r.short_names
                if r.categories:
                    entry["categories"] = r.categories
                entry["storageVersionHash"] = _storage_hash(r)
                resources.append(entry)
                for sub in sorted(r.subresources.values(), key=lambda s: s.name):
                    se: dict[str, Any] = {
                        "name": f"{r.resource}/{sub.name}",
                        "singularName": "",
                        "namespaced": r.namespaced,
                        "kind": sub.kind.kind,
                        "verbs": sub.verbs,
                    }
                    if sub.kind.group != r.group or sub.kind.version != r.version:
                        se["group"] = sub.kind.group
                        se["version"] = sub.kind.version
                    resources.append(se)
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

        return self._cached(f"rl/{group}/{version}", build)

    # -------------------------------------------------------- aggregated form
    def aggregated(self, core: bool, version: str) -> tuple[bytes, str]:
        def build() -> dict[str, Any]:
            gs = self.groups()
            items: list[dict[str, Any]] = []
            for g in sorted(gs, key=_group_sort_key):
                if core != (g == ""):
                    continue
                versions = []
                for v in _version_sort(g, list(gs[g])):
                    versions.append(
                        {
                            "version": v,
                            "resources": [self._agg_resource(r) for r in sorted(gs[g][v], key=lambda r: r.resource)],
                            "freshness": "Current",
                        }
                    )
                items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": versions})
            return {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": f"{AGG_GROUP}/{version}",
                "metadata": {},
                "items": items,
            }

        return self._cached(f"agg/{core}/{version}", build)

    @staticmethod
    def _agg_resource(r: ResourceInfo) -> dict[str, Any]:
        d: dict[str, Any] = {
            "resource": r.resource,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": r.verbs,
        }
        if r.short_names:
            d["shortNames"] = r.short_names
        if r.categories:
            d["categories"] = r.categories
        if r.subresources:
            d["subresources"] = [
                {
                    "subresource": s.name,
                    "responseKind": {"group": s.kind.group, "version": s.kind.version, "kind": s.kind.kind},
                    "verbs": s.verbs,
                }
                for s in sorted(r.subresources.values(), key=lambda s: s.name)
            ]
        return d


def _storage_hash(r: ResourceInfo) -> str:
    import base64

    h = hashlib.sha256(f"{r.storage_group}/{r.version}/{r.kind}".encode()).digest()
    return base64.b64encode(h[:8]).decode()
