"""What a Service means on the wire: its ports, addresses and the endpoints that may receive each port's traffic.

The nftables proxier, the userspace proxy, the service load balancer, DNS and the ingress all need the same
reading of a Service plus its EndpointSlices (which endpoint port a service port maps to, which endpoints are
ready, the serving-and-terminating fallback, the node-local subsets of the traffic policies). Keeping it in one
pure module means they cannot disagree, and it is tested without any network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node: str = ""
    hostname: str = ""
    target: str = ""  # "Pod/name" of the targetRef, if any


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    service: str
    port_name: str
    protocol: str  # TCP | UDP | SCTP
    port: int
    node_port: int = 0
    cluster_ips: tuple[str, ...] = ()
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    affinity_timeout: int = 0  # 0: no session affinity
    internal_local: bool = False
    external_local: bool = False
    svc_type: str = "ClusterIP"
    endpoints: tuple[Endpoint, ...] = field(default=(), compare=True)

    @property
    def key(self) -> str:
        """A stable identity: namespace/name:portname/protocol."""
        return f"{self.namespace}/{self.service}:{self.port_name}/{self.protocol}"

    def cluster_endpoints(self, node: str) -> list[Endpoint]:
        """Endpoints for traffic to the ClusterIP (internalTrafficPolicy applies)."""
        return usable(self.endpoints, node if self.internal_local else "")

    def external_endpoints(self, node: str) -> list[Endpoint]:
        """Endpoints for NodePort / LoadBalancer / externalIP traffic (externalTrafficPolicy applies)."""
        return usable(self.endpoints, node if self.external_local else "")


def usable(eps: Iterable[Endpoint], node: str = "") -> list[Endpoint]:
    """Ready endpoints (on `node` if given); if none, serving-and-terminating ones, like upstream kube-proxy."""
    pool = [e for e in eps if not node or e.node == node]
    ready = [e for e in pool if e.ready]
    if ready:
        return ready
    return [e for e in pool if e.serving and e.terminating]


def _cond(conds: Obj, name: str, default: bool) -> bool:
    v = conds.get(name)
    return default if v is None else bool(v)


def slice_endpoints(slices: Iterable[Obj], port_name: str, protocol: str) -> list[Endpoint]:
    """Endpoints from a Service's EndpointSlices for one service port (matched by port name and protocol)."""
    out: dict[tuple[str, int], Endpoint] = {}
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = 0
        for p in sl.get("ports") or []:
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol and p.get("port"):
                port = int(p["port"])
                break
        if not port:
            continue
        for ep in sl.get("endpoints") or []:
            conds = ep.get("conditions") or {}
            ready = _cond(conds, "ready", True)
            terminating = _cond(conds, "terminating", False)
            serving = _cond(conds, "serving", ready)
            ref = ep.get("targetRef") or {}
            target = f"{ref.get('kind', '')}/{ref.get('name', '')}" if ref else ""
            for addr in ep.get("addresses") or []:
                out.setdefault(
                    (addr, port),
                    Endpoint(
                        ip=addr,
                        port=port,
                        ready=ready,
                        serving=serving,
                        terminating=terminating,
                        node=ep.get("nodeName") or "",
                        hostname=ep.get("hostname") or "",
                        target=target,
                    ),
                )
    return sorted(out.values(), key=lambda e: (e.ip, e.port))


def lb_ips(svc: Obj) -> tuple[str, ...]:
    ing = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(i["ip"] for i in ing if i.get("ip"))


def service_ports(svc: Obj, slices: Iterable[Obj]) -> list[ServicePort]:
    """Every port of a Service with its endpoints; none for ExternalName Services."""
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    if stype == "ExternalName":
        return []
    cips = tuple(ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None" and ":" not in ip)
    timeout = 0
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        timeout = int(cfg or DEFAULT_AFFINITY_TIMEOUT)
    slices = list(slices)
    out = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        name = p.get("name") or ""
        out.append(
            ServicePort(
                namespace=meta.get("namespace", ""),
                service=meta.get("name", ""),
                port_name=name,
                protocol=proto,
                port=int(p.get("port", 0)),
                node_port=int(p.get("nodePort") or 0) if stype in ("NodePort", "LoadBalancer") else 0,
                cluster_ips=cips,
                external_ips=tuple(ip for ip in spec.get("externalIPs") or [] if ":" not in ip),
                lb_ips=lb_ips(svc) if stype == "LoadBalancer" else (),
                affinity_timeout=timeout,
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                external_local=spec.get("externalTrafficPolicy") == "Local",
                svc_type=stype,
                endpoints=tuple(slice_endpoints(slices, name, proto)),
            )
        )
    return out


def service_key_of_slice(sl: Obj) -> str:
    """'namespace/service' an EndpointSlice belongs to, or '' if it has no service-name label."""
    meta = sl.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return f"{meta.get('namespace', '')}/{svc}" if svc else ""
