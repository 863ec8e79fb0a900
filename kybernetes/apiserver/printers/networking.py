"""Printers for networking.k8s.io and discovery.k8s.io: ingresses, ingress classes, network policies,
service CIDRs, IP addresses and endpoint slices."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.printers._common import (
    AGE,
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    creation_age,
    dicts,
    format_label_selector,
    gdict,
    get,
    glist,
    gstr,
    list_with_more,
    name_of,
)
from kybernetes.apiserver.printers._descriptions import doc
from kybernetes.apiserver.printers.core import load_balancer_status

INGRESS_COLUMNS = (
    NAME,
    Column(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    Column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
)


def format_hosts(rules: list[Any]) -> str:
    """formatHosts: up to three rule hosts, "*" when no rule names a host."""
    limit = 3
    hosts: list[str] = []
    more = False
    rules_d = [r if isinstance(r, dict) else {} for r in rules]
    for rule in rules_d:
        if len(hosts) == limit:
            more = True
        if not more and gstr(rule, "host"):
            hosts.append(gstr(rule, "host"))
    if not hosts:
        return "*"
    ret = ",".join(hosts)
    if more:
        return f"{ret} + {len(rules_d) - limit} more..."
    return ret


def ingress_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printIngress: PORTS is "80, 443" as soon as any TLS section exists."""
    class_name = get(obj, "spec", "ingressClassName")
    return [
        name_of(obj),
        class_name if isinstance(class_name, str) else "<none>",
        format_hosts(glist(obj, "spec", "rules")),
        load_balancer_status(get(obj, "status", "loadBalancer", "ingress")),
        "80, 443" if glist(obj, "spec", "tls") else "80",
        creation_age(obj, ctx.now),
    ]


INGRESS_CLASS_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
)


def ingress_class_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printIngressClass: PARAMETERS as Kind[.apiGroup]/name."""
    params = get(obj, "spec", "parameters")
    parameters = "<none>"
    if isinstance(params, dict):
        parameters = gstr(params, "kind")
        if isinstance(params.get("apiGroup"), str):
            parameters += "." + gstr(params, "apiGroup")
        parameters += "/" + gstr(params, "name")
    return [name_of(obj), gstr(obj, "spec", "controller"), parameters, creation_age(obj, ctx.now)]


NETWORK_POLICY_COLUMNS = (NAME, Column("Pod-Selector", "string", doc("NetworkPolicySpec.podSelector")), AGE)


def network_policy_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printNetworkPolicy: the pod selector ("<none>" selects every pod)."""
    return [
        name_of(obj),
        format_label_selector(gdict(obj, "spec", "podSelector")),
        creation_age(obj, ctx.now),
    ]


SERVICE_CIDR_COLUMNS = (NAME, Column("CIDRs", "string", doc("ServiceCIDRSpec.cidrs")), AGE)


def service_cidr_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printServiceCIDR."""
    cidrs = [c for c in glist(obj, "spec", "cidrs") if isinstance(c, str)]
    return [name_of(obj), ",".join(cidrs), creation_age(obj, ctx.now)]


# Upstream defines two columns but prints three cells (name, parent, age); kubectl tolerates the
# extra trailing cell. Both are reproduced as-is.
IP_ADDRESS_COLUMNS = (NAME, Column("ParentRef", "string", doc("IPAddressSpec.parentRef")))


def ip_address_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printIPAddress: PARENTREF as resource[.group][/namespace]/name."""
    ref = get(obj, "spec", "parentRef")
    parent = "<none>"
    if isinstance(ref, dict):
        group, resource = gstr(ref, "group"), gstr(ref, "resource")
        parent = (f"{resource}.{group}" if group else resource).lower()
        if gstr(ref, "namespace"):
            parent += "/" + gstr(ref, "namespace")
        parent += "/" + gstr(ref, "name")
    return [name_of(obj), parent, creation_age(obj, ctx.now)]


ENDPOINT_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", doc("EndpointSlice.addressType")),
    Column("Ports", "string", doc("EndpointSlice.ports")),
    Column("Endpoints", "string", doc("EndpointSlice.endpoints")),
    AGE,
)


def format_discovery_ports(ports: list[Any]) -> str:
    """formatDiscoveryPorts: port numbers (or names, or "*"), three at most, "<unset>" when none."""
    out: list[str] = []
    for p in ports:
        port = p if isinstance(p, dict) else {}
        number = port.get("port")
        if isinstance(number, int) and not isinstance(number, bool):
            out.append(str(number))
        elif isinstance(port.get("name"), str):
            out.append(gstr(port, "name"))
        else:
            out.append("*")
    return list_with_more(out, len(out), 3)


def format_discovery_endpoints(endpoints: list[Any]) -> str:
    """formatDiscoveryEndpoints: every endpoint address, three at most, "<unset>" when none."""
    addresses = [a if isinstance(a, str) else "" for e in dicts(endpoints) for a in glist(e, "addresses")]
    return list_with_more(addresses, len(addresses), 3)


def endpoint_slice_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printEndpointSlice."""
    return [
        name_of(obj),
        gstr(obj, "addressType"),
        format_discovery_ports(glist(obj, "ports")),
        format_discovery_endpoints(glist(obj, "endpoints")),
        creation_age(obj, ctx.now),
    ]


PRINTERS: Registry = {
    ("networking.k8s.io", "ingresses"): Printer(INGRESS_COLUMNS, ingress_row),
    ("networking.k8s.io", "ingressclasses"): Printer(INGRESS_CLASS_COLUMNS, ingress_class_row),
    ("networking.k8s.io", "networkpolicies"): Printer(NETWORK_POLICY_COLUMNS, network_policy_row),
    ("networking.k8s.io", "servicecidrs"): Printer(SERVICE_CIDR_COLUMNS, service_cidr_row),
    ("networking.k8s.io", "ipaddresses"): Printer(IP_ADDRESS_COLUMNS, ip_address_row),
    ("discovery.k8s.io", "endpointslices"): Printer(ENDPOINT_SLICE_COLUMNS, endpoint_slice_row),
}
