"""Ingress route matching as upstream defines it: host precedence, wildcard depth, Exact vs Prefix, longest match."""

from __future__ import annotations

from typing import Any

from kybernetes.ingress.routes import build, tls_hosts


def ing(name: str, rules: list[dict[str, Any]], created: str = "2026-01-01T00:00:00Z", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created}, "spec": {"rules": rules, **spec}}


def paths(host: str, *ps: tuple[str, str, str]) -> dict[str, Any]:
    r: dict[str, Any] = {"http": {"paths": [{"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}} for p, t, s in ps]}}
    if host:
        r["host"] = host
    return r


def test_matching() -> None:
    t = build([
        ing("a", [paths("foo.test", ("/", "Prefix", "root"), ("/api", "Prefix", "api"), ("/api/v2", "Prefix", "v2"), ("/api", "Exact", "exact"))]),
        ing("b", [paths("*.foo.test", ("/", "Prefix", "wild")), paths("", ("/any", "Prefix", "anyhost"))],
            defaultBackend={"service": {"name": "dflt", "port": {"number": 80}}}),
    ])

    def m(host: str, path: str) -> str | None:
        be = t.match(host, path)
        return be.service if be else None

    assert m("foo.test", "/") == "root"
    assert m("FOO.test", "/api") == "exact"  # Exact beats Prefix of the same length; hosts are case-insensitive
    assert m("foo.test", "/api/") == "api"
    assert m("foo.test", "/api/v2/x") == "v2"  # longest prefix wins
    assert m("foo.test", "/apiv2") == "root"  # prefixes match whole elements
    assert m("x.foo.test", "/") == "wild"
    assert m("y.x.foo.test", "/any") == "anyhost"  # wildcard covers one label
    assert m("foo.test", "/any") == "root"  # a host match is chosen before host-less rules
    assert m("other.test", "/nothing") == "dflt"


def test_oldest_ingress_wins_conflicts_and_tls_hosts() -> None:
    old = ing("old", [paths("h.test", ("/", "Prefix", "old"))], created="2026-01-01T00:00:00Z",
              tls=[{"hosts": ["h.test"], "secretName": "old-cert"}])
    new = ing("new", [paths("h.test", ("/", "Prefix", "new"))], created="2026-02-01T00:00:00Z",
              tls=[{"hosts": ["h.test", "*.w.test"], "secretName": "new-cert"}])
    be = build([new, old]).match("h.test", "/")
    assert be is not None and be.service == "old"
    assert tls_hosts([new, old]) == {"h.test": ("ns", "old-cert"), "*.w.test": ("ns", "new-cert")}
