"""Render Services and their endpoints as one nftables transaction for the kernel's NAT.

Native nftables rather than iptables-restore, because everything the proxy owns then lives in one table of its
own: it is replaced atomically in one `nft -f` (no other table, chain or rule on the host is read or touched),
removed whole on shutdown with `delete table`, and ClientIP affinity uses nft's dynamic sets with timeouts instead
of the `recent` match. Load balancing is `numgen random mod N` into per-endpoint chains, like upstream kube-proxy's
nftables mode.

Each sync re-declares every chain, flushes and refills it, and deletes chains that no longer exist, in one
transaction; affinity sets are declared but never flushed, so a client keeps its endpoint across unrelated changes.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from kybernetes.proxy.model import Endpoint, ServicePort, usable

MASQ_MARK = 0x4000
BASE_CHAINS = {
    "prerouting": "type nat hook prerouting priority -100; policy accept;",
    "output": "type nat hook output priority -100; policy accept;",
    "postrouting": "type nat hook postrouting priority 100; policy accept;",
    # Reject connections to Services without endpoints before the filter tables see them (ICMP, so connect()
    # fails at once instead of timing out).
    "filter-input": "type filter hook input priority -10; policy accept;",
    "filter-forward": "type filter hook forward priority -10; policy accept;",
    "filter-output": "type filter hook output priority -10; policy accept;",
}
HELPER_CHAINS = ("services", "mark-masq", "no-endpoints")


def _h(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _proto(p: str) -> str:
    return p.lower()


@dataclass
class Ruleset:
    """One rendered transaction and the table's content after it (to diff against next time)."""

    script: str
    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)


@dataclass
class _Builder:
    """Endpoint chains and affinity sets of one service port, created on first use."""

    chains: dict[str, list[str]]
    sets: dict[str, str]
    sp: ServicePort
    proto: str

    def _aff(self, ep: Endpoint) -> str:
        return f"aff-{_h(self.sp.key, ep.ip, str(ep.port), str(self.sp.affinity_timeout))}"

    def ep_chain(self, ep: Endpoint) -> str:
        name = f"ep-{_h(self.sp.key, ep.ip, str(ep.port))}"
        if name in self.chains:
            return name
        rules = [f"ip saddr {ep.ip} jump mark-masq"]  # hairpin: a pod reaching itself through its Service
        if self.sp.affinity_timeout:
            aff = self._aff(ep)
            self.sets[aff] = f"type ipv4_addr; flags dynamic,timeout; timeout {self.sp.affinity_timeout}s;"
            rules.append(f"update @{aff} {{ ip saddr }}")
        rules.append(f"meta l4proto {self.proto} dnat to {ep.ip}:{ep.port}")
        self.chains[name] = rules
        return name

    def pick(self, eps: list[Endpoint]) -> list[str]:
        """Rules choosing one of `eps`: the client's affine endpoint if any, else at random."""
        rules = []
        if self.sp.affinity_timeout:
            for ep in eps:
                rules.append(f"ip saddr @{self._aff(ep)} goto {self.ep_chain(ep)}")
        if len(eps) == 1:
            rules.append(f"goto {self.ep_chain(eps[0])}")
        else:
            vm = ", ".join(f"{i} : goto {self.ep_chain(ep)}" for i, ep in enumerate(eps))
            rules.append(f"numgen random mod {len(eps)} vmap {{ {vm} }}")
        return rules


@dataclass
class Renderer:
    table: str
    node: str
    cluster_cidr: str
    comment: str = "kybernetes service proxy"

    def render(self, ports: list[ServicePort], previous: Ruleset | None, fresh: bool) -> Ruleset:
        """The transaction that makes the table hold exactly `ports`.

        `fresh` deletes the table first (startup: rebuild from scratch, dropping anything left by a crash).
        """
        chains: dict[str, list[str]] = {c: [] for c in (*BASE_CHAINS, *HELPER_CHAINS)}
        sets: dict[str, str] = {}
        cidr = str(ipaddress.ip_network(self.cluster_cidr, strict=False)) if self.cluster_cidr else ""

        chains["prerouting"].append("jump services")
        chains["output"].append("jump services")
        chains["postrouting"].append(
            f"meta mark & {MASQ_MARK:#x} == {MASQ_MARK:#x} meta mark set meta mark & {~MASQ_MARK & 0xFFFFFFFF:#x} "
            "masquerade fully-random"
        )
        chains["mark-masq"].append(f"meta mark set meta mark | {MASQ_MARK:#x}")
        for hook in ("filter-input", "filter-forward", "filter-output"):
            chains[hook].append("jump no-endpoints")

        # Element key -> verdict; the first Service (by key order) to claim an address and port keeps it.
        vip_map: dict[str, str] = {}
        nodeport_map: dict[str, str] = {}
        reject_vips: dict[str, str] = {}
        reject_nodeports: dict[str, str] = {}

        for sp in sorted(ports, key=lambda p: p.key):
            proto = _proto(sp.protocol)
            if proto not in ("tcp", "udp", "sctp"):
                continue
            key = sp.key
            svc_chain = f"svc-{_h(key)}"
            ext_chain = f"ext-{_h(key)}"
            ceps = sp.cluster_endpoints(self.node)
            xeps = sp.external_endpoints(self.node)
            b = _Builder(chains, sets, sp, proto)
            if ceps:
                rules = [f"ip saddr != {cidr} jump mark-masq"] if cidr else ["jump mark-masq"]
                chains[svc_chain] = rules + b.pick(ceps)
                for ip in sp.cluster_ips:
                    vip_map.setdefault(f"{ip} . {proto} . {sp.port}", f"goto {svc_chain}")
            else:
                for ip in sp.cluster_ips:
                    reject_vips.setdefault(f"{ip} . {proto} . {sp.port}", "")
            # External entry points: NodePort on every local address, LoadBalancer ingress IPs, externalIPs.
            external_targets = [*sp.lb_ips, *sp.external_ips]
            if sp.node_port or external_targets:
                # Cluster-wide choice for external traffic: the ClusterIP chain, unless internalTrafficPolicy
                # narrowed that one to this node (external traffic with policy Cluster still uses every endpoint).
                everywhere = usable(sp.endpoints)
                if not sp.internal_local:
                    anywhere = [f"goto {svc_chain}"] if ceps else []
                else:
                    anywhere = b.pick(everywhere) if everywhere else []
                target = self._all_chain(chains, sp, anywhere) if anywhere else ""
                if not sp.external_local:
                    ext = ["jump mark-masq", f"goto {target}"] if target else []
                else:
                    ext = []
                    if target:
                        # Pods and the node itself may use any endpoint (upstream's short-circuit); only traffic
                        # from outside is kept on this node, unmasqueraded, so the source IP is preserved.
                        if cidr:
                            ext.append(f"ip saddr {cidr} goto {target}")
                        ext.append("fib saddr type local jump mark-masq")
                        ext.append(f"fib saddr type local goto {target}")
                    ext += b.pick(xeps) if xeps else ["drop"]
                if ext:
                    chains[ext_chain] = ext
                    if sp.node_port:
                        nodeport_map.setdefault(f"{proto} . {sp.node_port}", f"goto {ext_chain}")
                    for ip in external_targets:
                        vip_map.setdefault(f"{ip} . {proto} . {sp.port}", f"goto {ext_chain}")
                else:
                    if sp.node_port:
                        reject_nodeports.setdefault(f"{proto} . {sp.node_port}", "")
                    for ip in external_targets:
                        reject_vips.setdefault(f"{ip} . {proto} . {sp.port}", "")

        reject_vips = {k: v for k, v in reject_vips.items() if k not in vip_map}
        if vip_map:
            elems = ", ".join(f"{k} : {v}" for k, v in vip_map.items())
            chains["services"].append(f"ip daddr . meta l4proto . th dport vmap {{ {elems} }}")
        if nodeport_map:
            elems = ", ".join(f"{k} : {v}" for k, v in nodeport_map.items())
            chains["services"].append(f"fib daddr type local meta l4proto . th dport vmap {{ {elems} }}")
        if reject_vips:
            chains["no-endpoints"].append(f"ip daddr . meta l4proto . th dport {{ {', '.join(reject_vips)} }} reject")
        if reject_nodeports:
            elems = ", ".join(k for k in reject_nodeports if k not in nodeport_map)
            if elems:
                chains["no-endpoints"].append(f"fib daddr type local meta l4proto . th dport {{ {elems} }} reject")

        return Ruleset(self._transaction(chains, sets, None if fresh else previous), chains, sets)

    @staticmethod
    def _all_chain(chains: dict[str, list[str]], sp: ServicePort, rules: list[str]) -> str:
        """A chain holding `rules` (a cluster-wide endpoint choice), to `goto` from a matching rule."""
        if len(rules) == 1 and rules[0].startswith("goto "):
            return rules[0].removeprefix("goto ")
        name = f"all-{_h(sp.key)}"
        chains[name] = rules
        return name

    def _transaction(self, chains: dict[str, list[str]], sets: dict[str, str], previous: Ruleset | None) -> str:
        """Only what changed since `previous` (everything if None): nft's cost grows faster than linearly with the
        size of a transaction, so a one-endpoint change must not rewrite thousands of chains."""
        t = f"ip {self.table}"
        old_chains = previous.chains if previous is not None else {}
        old_sets = previous.sets if previous is not None else {}
        lines: list[str] = []
        if previous is None:
            lines += [f"add table {t}", f"delete table {t}", f'add table {t} {{ comment "{self.comment}"; }}']
        else:
            lines.append(f"add table {t}")
        new = [n for n in chains if n not in old_chains]
        changed = [n for n in chains if n in old_chains and old_chains[n] != chains[n]]
        gone = [n for n in old_chains if n not in chains]
        for name in new:
            spec = BASE_CHAINS.get(name)
            lines.append(f"add chain {t} {name}" + (f" {{ {spec} }}" if spec else ""))
        for name, spec in sets.items():
            if old_sets.get(name) != spec:
                lines.append(f"add set {t} {name} {{ {spec} }}")
        # Flush every chain that changes or goes before deleting any, so no rule still jumps to a deleted chain.
        for name in changed + gone:
            lines.append(f"flush chain {t} {name}")
        for name in gone:
            lines.append(f"delete chain {t} {name}")
        for name in new + changed:
            for r in chains[name]:
                lines.append(f"add rule {t} {name} {r}")
        for name in old_sets:
            if name not in sets:
                lines.append(f"delete set {t} {name}")
        return "\n".join(lines) + "\n"

    def delete_script(self) -> str:
        t = f"ip {self.table}"
        return f"add table {t}\ndelete table {t}\n"
