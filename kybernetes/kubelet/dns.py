"""A pod's /etc/resolv.conf from its dnsPolicy and dnsConfig, as upstream's kubelet builds it.

ClusterFirst points at cluster DNS (the `kube-system/kube-dns` Service's IP, looked up through the API, or
configured) with the namespace search path, and falls back to the node's own resolv.conf when the cluster has no
DNS, like upstream without --cluster-dns. Default is the node's file; None takes only dnsConfig. As root the file is
bind-mounted at /etc/resolv.conf in the pod's containers; rootless pods see the node's file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.dns import CLUSTER_DOMAIN, search_path

HOST_RESOLV = "/etc/resolv.conf"
MAX_SEARCH = 32


@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches[:MAX_SEARCH]))
        lines += [f"nameserver {ns}" for ns in self.nameservers]
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def parse(text: str) -> ResolvConf:
    rc = ResolvConf()
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            rc.nameservers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            rc.searches = parts[1:]
        elif parts[0] == "options":
            rc.options += parts[1:]
    return rc


def host_resolv() -> ResolvConf:
    try:
        with open(HOST_RESOLV, encoding="utf-8") as f:
            return parse(f.read())
    except OSError:
        return ResolvConf()


def _merge_options(base: list[str], extra: list[dict[str, Any]]) -> list[str]:
    opts: dict[str, str] = {}
    for o in base:
        name = o.partition(":")[0]
        opts[name] = o
    for x in extra:
        name = str(x.get("name", ""))
        if name:
            opts[name] = f"{name}:{x['value']}" if x.get("value") is not None else name
    return list(opts.values())


def pod_resolv_conf(pod: dict[str, Any], cluster_dns: list[str], domain: str = CLUSTER_DOMAIN) -> str | None:
    """The file for this pod, or None when it should simply see the node's /etc/resolv.conf."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_net = bool(spec.get("hostNetwork"))
    cfg = spec.get("dnsConfig") or {}
    if policy == "ClusterFirst" and host_net:
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"
    if policy == "Default" and not cfg:
        return None
    host = host_resolv()
    if policy == "ClusterFirst":
        ns = str((pod.get("metadata") or {}).get("namespace", "default"))
        rc = ResolvConf(list(cluster_dns), search_path(ns, domain) + host.searches, ["ndots:5"])
    elif policy == "None":
        rc = ResolvConf()
    else:
        rc = host
    rc.nameservers += [str(n) for n in cfg.get("nameservers") or [] if str(n) not in rc.nameservers]
    rc.searches += [str(s) for s in cfg.get("searches") or [] if str(s) not in rc.searches]
    rc.options = _merge_options(rc.options, list(cfg.get("options") or []))
    return rc.render()
