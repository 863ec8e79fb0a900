"""Service ClusterIP and NodePort allocation, done by the API server on Service create like upstream.

Addresses in use are read from the watch cache (every stored Service) plus those handed out to creates still in
flight in this process, so concurrent creates never share an address and restarts see what storage holds.
"""

from __future__ import annotations

import ipaddress
import random
import time
from typing import TYPE_CHECKING, Any

from kybernetes.api.resources import ResourceInfo
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

NODE_PORT_RANGE = (30000, 32767)
PENDING_SECONDS = 30.0


class ServiceAllocator:
    def __init__(self, server: APIServer, service_cidr: str) -> None:
        self.srv = server
        self.net = ipaddress.ip_network(service_cidr, strict=False)
        # In-flight reservations (value: when made); they expire once the write is surely in the cache.
        self._pending_ips: dict[str, float] = {}
        self._pending_ports: dict[int, float] = {}

    def _used(self) -> tuple[set[str], set[int]]:
        info = self.srv.resources.get("", "v1", "services")
        assert info is not None
        now = time.monotonic()
        for pend in (self._pending_ips, self._pending_ports):
            for k in [k for k, t in pend.items() if now - t > PENDING_SECONDS]:
                del pend[k]  # type: ignore[arg-type]
        ips: set[str] = set(self._pending_ips)
        ports: set[int] = set(self._pending_ports)
        for o in self.srv.cache.cache(info.key_prefix).objects.values():
            svc = o.decode()
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    ips.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    ports.add(int(p["nodePort"]))
        return ips, ports

    async def admit(self, operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if info.group != "" or info.resource != "services":
            return
        spec = obj.setdefault("spec", {})
        stype = spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if stype != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if stype in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and "port" in p:
                p["targetPort"] = p["port"]
        if operation == "CREATE":
            await self._allocate(obj, spec, stype)
        elif operation == "UPDATE" and old is not None:
            ospec = old.get("spec") or {}
            if spec.get("clusterIP") in (None, "") and ospec.get("clusterIP"):
                spec["clusterIP"] = ospec["clusterIP"]
                spec["clusterIPs"] = ospec.get("clusterIPs", [ospec["clusterIP"]])
            elif spec.get("clusterIP") != ospec.get("clusterIP") and stype != "ExternalName" and ospec.get("type") != "ExternalName":
                raise errors.invalid("Service", "", obj["metadata"].get("name", ""), [FieldError("invalid", "spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set")])
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in ospec.get("ports") or []}
            if stype in ("NodePort", "LoadBalancer"):
                _, used = self._used()
                for p in spec.get("ports") or []:
                    if not p.get("nodePort"):
                        prev = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                        p["nodePort"] = prev or self._pick_port(used)
                        used.add(p["nodePort"])
            if stype == "ClusterIP" or stype == "ExternalName":
                for p in spec.get("ports") or []:
                    p.pop("nodePort", None)

    async def _allocate(self, obj: dict[str, Any], spec: dict[str, Any], stype: str) -> None:
        name = obj.get("metadata", {}).get("name", "")
        if stype == "ExternalName":
            return
        ips, ports = self._used()
        want = spec.get("clusterIP")
        if want == "None":
            spec["clusterIPs"] = ["None"]
        elif want:
            try:
                addr = ipaddress.ip_address(want)
            except ValueError:
                raise errors.invalid("Service", "", name, [FieldError("invalid", "spec.clusterIPs", [want], "must be a valid IP address")]) from None
            if addr not in self.net or addr == self.net.network_address or addr == self.net.broadcast_address:
                raise errors.invalid("Service", "", name, [FieldError("invalid", "spec.clusterIPs", [want], f"failed to allocate IP {want}: the provided IP ({want}) is not in the valid range. The range of valid IPs is {self.net}")])
            if want in ips:
                raise errors.invalid("Service", "", name, [FieldError("invalid", "spec.clusterIPs", [want], f"failed to allocate IP {want}: provided IP is already allocated")])
            spec["clusterIPs"] = [want]
        else:
            ip = self._pick_ip(ips)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        if stype in ("NodePort", "LoadBalancer"):
            for i, p in enumerate(spec.get("ports") or []):
                np_ = p.get("nodePort")
                if np_:
                    if not NODE_PORT_RANGE[0] <= int(np_) <= NODE_PORT_RANGE[1]:
                        raise errors.invalid("Service", "", name, [FieldError("invalid", f"spec.ports[{i}].nodePort", np_, "provided port is not in the valid range. The range of valid ports is 30000-32767")])
                    if int(np_) in ports:
                        raise errors.invalid("Service", "", name, [FieldError("invalid", f"spec.ports[{i}].nodePort", np_, "provided port is already allocated")])
                else:
                    p["nodePort"] = self._pick_port(ports)
                ports.add(int(p["nodePort"]))
                self._pending_ports[int(p["nodePort"])] = time.monotonic()
        for ip in spec.get("clusterIPs") or []:
            if ip != "None":
                self._pending_ips[ip] = time.monotonic()

    def _pick_ip(self, used: set[str]) -> str:
        size = self.net.num_addresses
        # The first address belongs to `kubernetes`, the tenth to DNS: pick from the rest at random, then scan.
        reserved = {str(self.net.network_address + 1), str(self.net.network_address + 10)}
        for _ in range(64):
            cand = str(self.net.network_address + random.randint(11, max(11, size - 2)))
            if cand not in used and cand not in reserved:
                return cand
        for off in range(1, size - 1):
            cand = str(self.net.network_address + off)
            if cand not in used and cand not in reserved:
                return cand
        raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full")

    def _pick_port(self, used: set[int]) -> int:
        lo, hi = NODE_PORT_RANGE
        for _ in range(64):
            cand = random.randint(lo, hi)
            if cand not in used:
                return cand
        for cand in range(lo, hi + 1):
            if cand not in used:
                return cand
        raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full")
