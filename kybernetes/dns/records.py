"""The cluster zone: answers for `*.cluster.local` and reverse names, computed from informer caches.

Records follow the Kubernetes DNS specification (what CoreDNS's kubernetes plugin serves): a Service's A record
is its ClusterIP, or the ready endpoint addresses for a headless Service; endpoints of headless Services get
`hostname.svc.ns.svc.cluster.local` (or the dashed IP) names; named ports get SRV records
`_port._proto.svc.ns.svc.cluster.local`; ExternalName Services are CNAMEs; pods have `a-b-c-d.ns.pod.cluster.local`;
service, endpoint and pod IPs have PTR records. Everything here is pure lookups over the caches, so it is tested
without sockets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from dnslib import AAAA, CNAME, PTR, QTYPE, RCODE, RR, SOA, SRV, A

from kybernetes.client.informer import Informer
from kybernetes.proxy.model import Endpoint, slice_endpoints
from kybernetes.proxy.watch import ServiceWatch

Obj = dict[str, Any]
TTL = 5


@dataclass
class Answer:
    """What the zone says about one question; `forward` means "not ours, ask upstream"."""

    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    forward: bool = False
    cname_target: str = ""  # ExternalName: the client also wants the target's addresses


def dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _undashed(label: str) -> str:
    parts = label.split("-")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return ".".join(parts)
    return ""


class Zone:
    def __init__(self, watch: ServiceWatch, pods: Informer | None, domain: str = "cluster.local") -> None:
        self.watch = watch
        self.pods = pods
        self.domain = domain.strip(".").lower()
        if pods is not None:
            pods.add_index("podIP", lambda p: [ip["ip"] for ip in (p.get("status") or {}).get("podIPs") or [] if ip.get("ip")])
            pods.add_index(
                "hostname",
                lambda p: [f"{p['metadata'].get('namespace')}/{s['subdomain']}/{s['hostname']}"]
                if (s := p.get("spec") or {}).get("hostname") and s.get("subdomain")
                else [],
            )
        watch.services.add_index("clusterIP", lambda s: [ip for ip in (s.get("spec") or {}).get("clusterIPs") or [] if ip != "None"])

    # ------------------------------------------------------------ helpers
    def soa(self) -> RR:
        return RR(
            self.domain + ".",
            QTYPE.SOA,
            ttl=TTL,
            rdata=SOA(f"ns.dns.{self.domain}.", f"hostmaster.{self.domain}.", (1, 7200, 1800, 86400, TTL)),
        )

    def _nx(self) -> Answer:
        return Answer(rcode=RCODE.NXDOMAIN, authority=[self.soa()])

    def _nodata(self) -> Answer:
        return Answer(authority=[self.soa()])

    def _endpoints(self, svc: Obj) -> list[Endpoint]:
        """Every endpoint address of a Service (all ports), ready ones unless publishNotReadyAddresses."""
        meta = svc.get("metadata") or {}
        slices = self.watch.slices_for(meta.get("namespace", ""), meta.get("name", ""))
        all_ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        seen: dict[str, Endpoint] = {}
        for sl in slices:
            for p in sl.get("ports") or [{"name": "", "protocol": "TCP", "port": 0}]:
                for ep in slice_endpoints([sl], p.get("name") or "", p.get("protocol") or "TCP") or []:
                    if ep.ready or all_ready:
                        seen.setdefault(ep.ip, ep)
            if not sl.get("ports"):
                for ep in sl.get("endpoints") or []:
                    ready = (ep.get("conditions") or {}).get("ready") is not False
                    for a in ep.get("addresses") or []:
                        if ready or all_ready:
                            seen.setdefault(a, Endpoint(a, 0, ready, hostname=ep.get("hostname") or ""))
        return sorted(seen.values(), key=lambda e: e.ip)

    @staticmethod
    def _headless(svc: Obj) -> bool:
        return (svc.get("spec") or {}).get("clusterIP") == "None"

    def _svc_fqdn(self, ns: str, name: str) -> str:
        return f"{name}.{ns}.svc.{self.domain}."

    # -------------------------------------------------------------- query
    def lookup(self, qname: str, qtype: int) -> Answer:
        name = qname.rstrip(".").lower()
        if name.endswith(".in-addr.arpa"):
            return self._reverse(name, qtype)
        if name != self.domain and not name.endswith("." + self.domain):
            return Answer(forward=True)
        labels = name[: -len(self.domain)].rstrip(".").split(".") if name != self.domain else []
        if not labels or labels == [""]:
            return self._nodata()
        kind = labels[-1]
        rest = labels[:-1]
        if kind == "svc":
            return self._svc(rest, qname, qtype)
        if kind == "pod":
            return self._pod(rest, qname, qtype)
        return self._nx()

    def _ns_exists(self, ns: str) -> bool:
        return bool(self.watch.services.list(ns))

    def _svc(self, rest: list[str], qname: str, qtype: int) -> Answer:
        if len(rest) <= 1:
            return self._nodata() if not rest or self._ns_exists(rest[0]) else self._nx()
        ns, name = rest[-1], rest[-2]
        svc = self.watch.service(ns, name)
        if svc is None:
            return self._nx()
        if len(rest) == 2:
            return self._service_records(svc, qname, qtype)
        if len(rest) == 4 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(svc, rest[0][1:], rest[1][1:], qname, qtype)
        if len(rest) == 3:
            return self._endpoint_name(svc, rest[0], qname, qtype)
        return self._nx()

    def _service_records(self, svc: Obj, qname: str, qtype: int) -> Answer:
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = str(spec.get("externalName", "")).rstrip(".") + "."
            return Answer(answers=[RR(qname, QTYPE.CNAME, ttl=TTL, rdata=CNAME(target))], cname_target=target)
        ans = Answer()
        if qtype in (QTYPE.A, QTYPE.ANY):
            if self._headless(svc):
                ans.answers = [RR(qname, QTYPE.A, ttl=TTL, rdata=A(e.ip)) for e in self._endpoints(svc) if ":" not in e.ip]
            else:
                ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ":" not in ip]
                ans.answers = [RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip)) for ip in ips]
        elif qtype == QTYPE.AAAA:
            if not self._headless(svc):
                ips = [ip for ip in spec.get("clusterIPs") or [] if ":" in ip]
                ans.answers = [RR(qname, QTYPE.AAAA, ttl=TTL, rdata=AAAA(ip)) for ip in ips]
        elif qtype == QTYPE.SRV:
            for p in spec.get("ports") or []:
                if p.get("name"):
                    sub = self._srv(svc, p["name"], str(p.get("protocol", "TCP")).lower(), qname, qtype)
                    ans.answers += sub.answers
                    ans.additional += [a for a in sub.additional if a not in ans.additional]
        if not ans.answers:
            ans.authority = [self.soa()]
        return ans

    def _srv(self, svc: Obj, port: str, proto: str, qname: str, qtype: int) -> Answer:
        meta = svc.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        sport = next(
            (
                p
                for p in (svc.get("spec") or {}).get("ports") or []
                if (p.get("name") or "") == port and str(p.get("protocol", "TCP")).lower() == proto
            ),
            None,
        )
        if sport is None:
            return self._nx()
        if qtype not in (QTYPE.SRV, QTYPE.ANY):
            return self._nodata()
        fqdn = self._svc_fqdn(ns, name)
        ans = Answer()
        if not self._headless(svc):
            ans.answers.append(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, 100, int(sport["port"]), fqdn)))
            for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
                if ":" not in ip:
                    ans.additional.append(RR(fqdn, QTYPE.A, ttl=TTL, rdata=A(ip)))
            return ans
        slices = self.watch.slices_for(ns, name)
        eps = [e for e in slice_endpoints(slices, port, proto.upper()) if e.ready or (svc.get("spec") or {}).get("publishNotReadyAddresses")]
        weight = max(1, 100 // max(1, len(eps)))
        for e in eps:
            target = f"{e.hostname or dashed(e.ip)}.{fqdn}"
            ans.answers.append(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, weight, e.port, target)))
            ans.additional.append(RR(target, QTYPE.A, ttl=TTL, rdata=A(e.ip)))
        if not ans.answers:
            ans.authority = [self.soa()]
        return ans

    def _endpoint_name(self, svc: Obj, label: str, qname: str, qtype: int) -> Answer:
        if not self._headless(svc):
            return self._nx()
        ips = [e.ip for e in self._endpoints(svc) if e.hostname == label or dashed(e.ip) == label]
        if not ips and self.pods is not None:
            meta = svc.get("metadata") or {}
            key = f"{meta.get('namespace')}/{meta.get('name')}/{label}"
            for p in self.pods.by_index("hostname", key):
                ips += [ip["ip"] for ip in (p.get("status") or {}).get("podIPs") or [] if ip.get("ip")]
        if not ips:
            return self._nx()
        if qtype not in (QTYPE.A, QTYPE.ANY):
            return self._nodata()
        return Answer(answers=[RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip)) for ip in ips if ":" not in ip])

    def _pod(self, rest: list[str], qname: str, qtype: int) -> Answer:
        if len(rest) != 2:
            return self._nx() if len(rest) > 2 else self._nodata()
        ip = _undashed(rest[0])
        if not ip:
            return self._nx()
        pods = self.pods.by_index("podIP", ip) if self.pods is not None else []
        if not any((p.get("metadata") or {}).get("namespace") == rest[1] for p in pods):
            return self._nx()
        if qtype not in (QTYPE.A, QTYPE.ANY):
            return self._nodata()
        return Answer(answers=[RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip))])

    def _reverse(self, name: str, qtype: int) -> Answer:
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return Answer(forward=True)
        ip = ".".join(reversed(parts))
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return Answer(forward=True)
        targets: list[str] = []
        for svc in self.watch.services.by_index("clusterIP", ip):
            m = svc.get("metadata") or {}
            targets.append(self._svc_fqdn(m.get("namespace", ""), m.get("name", "")))
        if not targets:
            for sl in self.watch.slices.list():
                m = sl.get("metadata") or {}
                svcname = str((m.get("labels") or {}).get("kubernetes.io/service-name") or "")
                owner = self.watch.service(m.get("namespace", ""), svcname) if svcname else None
                if owner is None or not self._headless(owner):
                    continue
                for ep in sl.get("endpoints") or []:
                    if ip in (ep.get("addresses") or []):
                        t = f"{ep.get('hostname') or dashed(ip)}.{self._svc_fqdn(m.get('namespace', ''), svcname)}"
                        if t not in targets:
                            targets.append(t)
        if not targets and self.pods is not None:
            for p in self.pods.by_index("podIP", ip):
                targets.append(f"{dashed(ip)}.{p['metadata'].get('namespace')}.pod.{self.domain}.")
        if not targets:
            return Answer(forward=True)
        if qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Answer()
        return Answer(answers=[RR(name + ".", QTYPE.PTR, ttl=TTL, rdata=PTR(t)) for t in targets])
