"""Cluster DNS: the `kube-dns` Service at the tenth service IP, answered by an asyncio server on dnslib.

The helpers here are what other components need to point pods at it (the kubelet writes pods' resolv.conf).
"""

from __future__ import annotations

import ipaddress

CLUSTER_DOMAIN = "cluster.local"
DNS_SERVICE_NAME = "kube-dns"
DNS_SERVICE_NAMESPACE = "kube-system"


def cluster_dns_ip(service_cidr: str) -> str:
    """The address reserved for cluster DNS: the tenth of the service range (10.43.0.10 for 10.43.0.0/16)."""
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net.network_address + 10)


def search_path(namespace: str, domain: str = CLUSTER_DOMAIN) -> list[str]:
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


def resolv_conf(namespace: str, dns_ip: str, host_search: list[str] | None = None, domain: str = CLUSTER_DOMAIN) -> str:
    """A pod's /etc/resolv.conf for dnsPolicy ClusterFirst (what upstream's kubelet writes)."""
    search = search_path(namespace, domain) + [s for s in host_search or [] if s]
    return f"search {' '.join(search)}\nnameserver {dns_ip}\noptions ndots:5\n"
