"""Ingress routing as data: (host, path) -> backend, with upstream's matching rules.

Hosts match exactly (case-insensitively) before wildcards (`*.example.com` matches exactly one more label), and
both before rules without a host. Within the chosen host, paths from all Ingresses are merged and the longest
match wins, Exact beating Prefix at equal length; Prefix matches whole path elements (`/foo` matches `/foo/bar`
but not `/foobar`) and ImplementationSpecific is treated as Prefix. Rebuilt from the caches on every change and
swapped in whole, so a request always sees one consistent table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port_number: int = 0
    port_name: str = ""
    ingress: str = ""  # namespace/name that defined it


@dataclass(frozen=True)
class PathRule:
    path: str
    exact: bool
    backend: Backend

    def matches(self, path: str) -> bool:
        if self.exact:
            return path == self.path
        prefix = self.path.rstrip("/")
        if not prefix:
            return True
        return path == prefix or path.startswith(prefix + "/")

    @property
    def rank(self) -> tuple[int, int]:
        return (len(self.path.rstrip("/")) if not self.exact else len(self.path), 1 if self.exact else 0)


@dataclass
class RouteTable:
    exact_hosts: dict[str, list[PathRule]] = field(default_factory=dict)
    wildcard_hosts: dict[str, list[PathRule]] = field(default_factory=dict)  # key: suffix without "*."
    any_host: list[PathRule] = field(default_factory=list)
    default: Backend | None = None

    def _rules_for(self, host: str) -> list[list[PathRule]]:
        host = host.lower().rstrip(".")
        out = []
        if host in self.exact_hosts:
            out.append(self.exact_hosts[host])
        _, _, parent = host.partition(".")
        if parent and parent in self.wildcard_hosts:
            out.append(self.wildcard_hosts[parent])
        out.append(self.any_host)
        return out

    def match(self, host: str, path: str) -> Backend | None:
        for rules in self._rules_for(host):
            best: PathRule | None = None
            for r in rules:
                if r.matches(path) and (best is None or r.rank > best.rank):
                    best = r
            if best is not None:
                return best.backend
        return self.default


def _backend(ns: str, ing: str, b: Obj) -> Backend | None:
    svc = b.get("service")
    if not svc or not svc.get("name"):
        return None
    port = svc.get("port") or {}
    return Backend(ns, svc["name"], int(port.get("number") or 0), str(port.get("name") or ""), ing)


def _created(o: Obj) -> tuple[str, str]:
    m = o.get("metadata") or {}
    return (m.get("creationTimestamp") or "", f"{m.get('namespace')}/{m.get('name')}")


def build(ingresses: list[Obj]) -> RouteTable:
    """The table for these Ingresses (already filtered to this controller's class); oldest Ingress wins ties."""
    t = RouteTable()
    seen: set[tuple[str, str, bool]] = set()
    for ing in sorted(ingresses, key=_created):
        m = ing.get("metadata") or {}
        ns, name = m.get("namespace", ""), m.get("name", "")
        spec = ing.get("spec") or {}
        if spec.get("defaultBackend") and t.default is None:
            t.default = _backend(ns, f"{ns}/{name}", spec["defaultBackend"])
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or "").lower()
            if host.startswith("*."):
                bucket = t.wildcard_hosts.setdefault(host[2:], [])
            elif host:
                bucket = t.exact_hosts.setdefault(host, [])
            else:
                bucket = t.any_host
            for p in (rule.get("http") or {}).get("paths") or []:
                be = _backend(ns, f"{ns}/{name}", p.get("backend") or {})
                if be is None:
                    continue
                path = p.get("path") or "/"
                exact = p.get("pathType") == "Exact"
                if (host, path, exact) in seen:
                    continue
                seen.add((host, path, exact))
                bucket.append(PathRule(path, exact, be))
    return t


def tls_hosts(ingresses: list[Obj]) -> dict[str, tuple[str, str]]:
    """host (or *.suffix) -> (namespace, secret name); the oldest Ingress naming a host wins."""
    out: dict[str, tuple[str, str]] = {}
    for ing in sorted(ingresses, key=_created):
        ns = (ing.get("metadata") or {}).get("namespace", "")
        for tls in (ing.get("spec") or {}).get("tls") or []:
            secret = tls.get("secretName")
            if not secret:
                continue
            for h in tls.get("hosts") or []:
                out.setdefault(str(h).lower(), (ns, secret))
    return out
