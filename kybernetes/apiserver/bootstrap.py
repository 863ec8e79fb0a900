"""What the API server itself keeps in place: default namespaces and the `kubernetes` Service and Endpoints.

Upstream's apiserver runs small bootstrap controllers for these; here they are written once at start (and on every
restart, idempotently) through the generic store, so the cluster holds what a user expects from the first second.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kybernetes.apiserver.server import APIServer
from kybernetes.machinery.errors import StatusError

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def first_service_ip(service_cidr: str) -> str:
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net.network_address + 1)


async def _ensure(srv: APIServer, group: str, version: str, resource: str, ns: str, obj: dict[str, Any]) -> None:
    info = srv.resources.get(group, version, resource)
    assert info is not None
    name = obj["metadata"]["name"]
    try:
        await srv.store.get_current(info, ns, name)
        return
    except StatusError as e:
        if e.code != 404:
            raise
    try:
        await srv.store.create(info, ns, obj)
    except StatusError as e:
        if e.code != 409:
            raise


async def bootstrap(srv: APIServer, *, service_cidr: str, advertise_address: str, port: int) -> None:
    for ns in DEFAULT_NAMESPACES:
        await _ensure(srv, "", "v1", "namespaces", "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await _ensure(
        srv,
        "",
        "v1",
        "services",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": first_service_ip(service_cidr),
                "clusterIPs": [first_service_ip(service_cidr)],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
        },
    )
    await _ensure(
        srv,
        "",
        "v1",
        "endpoints",
        "default",
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [  # the Endpoints form, for clients that still read it
                {
                    "addresses": [{"ip": advertise_address}],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                }
            ],
        },
    )
    for hook in srv.post_start_hooks:
        await hook()
    await _ensure(
        srv,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "default",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "kube-apiserver"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
    )
