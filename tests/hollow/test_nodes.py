"""Hollow node shapes without I/O: address ranges, Node and Lease objects."""

from __future__ import annotations

import ipaddress

import pytest

from kybernetes.hollow.nodes import HollowNode, node_ip, pod_subnet


def test_pod_subnets_do_not_overlap_and_run_out_loudly() -> None:
    a, b = pod_subnet("10.64.0.0/10", 0), pod_subnet("10.64.0.0/10", 1)
    assert (str(a), str(b)) == ("10.64.0.0/24", "10.64.1.0/24")
    assert str(pod_subnet("10.64.0.0/10", 16383)) == "10.127.255.0/24"
    with pytest.raises(ValueError):
        pod_subnet("10.64.0.0/10", 16384)
    assert node_ip("10.200.0.0/16", 0) == "10.200.0.2"


def test_ip_allocation_reuses_released_addresses_and_never_duplicates() -> None:
    n = HollowNode("hollow-0", 0, "10.200.0.2", ipaddress.IPv4Network("10.64.0.0/24"))
    ips = [n.allocate_ip() for _ in range(253)]  # .1 is the node's bridge, .0 and .255 are not hosts
    assert len(set(ips)) == 253 and all(ipaddress.IPv4Address(ip) in n.pod_cidr for ip in ips)
    assert not {"10.64.0.0", "10.64.0.1", "10.64.0.255"} & set(ips)
    with pytest.raises(RuntimeError):
        n.allocate_ip()
    n.release_ip("10.64.0.77")
    assert n.allocate_ip() == "10.64.0.77"


def test_node_and_lease_objects() -> None:
    n = HollowNode("hollow-3", 3, "10.200.0.5", pod_subnet("10.64.0.0/10", 3), uid="u-3")
    obj = n.node_object({"cpu": "4", "memory": "8Gi", "pods": "110"}, {"zone": "a"})
    labels = obj["metadata"]["labels"]
    assert labels["type"] == "hollow" and labels["kubernetes.io/hostname"] == "hollow-3" and labels["zone"] == "a"
    assert obj["spec"]["podCIDR"] == "10.64.3.0/24"
    st = obj["status"]
    assert st["capacity"]["pods"] == "110" and st["allocatable"] == st["capacity"]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    assert {"type": "InternalIP", "address": "10.200.0.5"} in st["addresses"]
    lease = n.lease()
    assert lease["metadata"] == {
        "name": "hollow-3",
        "namespace": "kube-node-lease",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "hollow-3", "uid": "u-3"}],
    }
    assert lease["spec"]["holderIdentity"] == "hollow-3" and lease["spec"]["leaseDurationSeconds"] == 40
