"""The service model and the nftables rendering, without touching the kernel (plus `nft -c` syntax checks as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from typing import Any

import pytest

from kybernetes.proxy.model import Endpoint, service_ports, usable
from kybernetes.proxy.nftables import Renderer
from kybernetes.proxy.servicelb import node_addresses


def svc(**spec: Any) -> dict[str, Any]:
    base = {"clusterIP": "10.43.0.50", "clusterIPs": ["10.43.0.50"], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {**base, **spec}}


def slice_(*eps: tuple[str, dict[str, bool], str], port: int = 8080, name: str = "http") -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": c, "nodeName": n} for ip, c, n in eps],
        "ports": [{"name": name, "port": port, "protocol": "TCP"}],
    }


def test_ports_resolve_by_name_and_readiness() -> None:
    ready, unready = {"ready": True}, {"ready": False, "serving": False}
    (sp,) = service_ports(svc(), [slice_(("10.42.0.2", ready, "n1"), ("10.42.0.3", unready, "n1"))])
    assert [e.ip for e in sp.cluster_endpoints("n1")] == ["10.42.0.2"]
    assert sp.endpoints[0].port == 8080
    # a slice for another port name does not apply
    (sp,) = service_ports(svc(), [slice_(("10.42.0.2", ready, "n1"), name="metrics")])
    assert sp.endpoints == ()


def test_terminating_fallback_and_local_policies() -> None:
    term = Endpoint("10.42.0.4", 80, ready=False, serving=True, terminating=True, node="n1")
    gone = Endpoint("10.42.0.5", 80, ready=False, serving=False, terminating=True, node="n1")
    assert usable([term, gone]) == [term]
    live = Endpoint("10.42.0.6", 80, node="n2")
    assert usable([term, live]) == [live]
    (sp,) = service_ports(
        svc(internalTrafficPolicy="Local", type="NodePort", externalTrafficPolicy="Local", sessionAffinity="ClientIP"),
        [slice_(("10.42.0.2", {"ready": True}, "n1"), ("10.42.0.3", {"ready": True}, "n2"))],
    )
    assert [e.ip for e in sp.cluster_endpoints("n1")] == ["10.42.0.2"]
    assert [e.ip for e in sp.external_endpoints("n2")] == ["10.42.0.3"]
    assert sp.affinity_timeout == 10800
    assert service_ports(svc(type="ExternalName", externalName="x.test"), []) == []


def _ports() -> list[Any]:
    local = service_ports(
        {"metadata": {"name": "loc", "namespace": "default"},
         "spec": {"type": "NodePort", "clusterIP": "10.43.0.52", "clusterIPs": ["10.43.0.52"], "externalTrafficPolicy": "Local",
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30082}]}},
        [{**slice_(("10.42.0.9", {"ready": True}, "elsewhere")), "metadata": {"name": "loc-1", "namespace": "default"}}],
    )
    return service_ports(
        svc(type="LoadBalancer", sessionAffinity="ClientIP", externalIPs=["10.42.9.250"],
            ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}],
            **{"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}}}),
        [slice_(("10.42.0.2", {"ready": True}, "n1"), ("10.42.0.3", {"ready": True}, "n1"))],
    ) + service_ports(
        {"metadata": {"name": "empty", "namespace": "default"}, "spec": {"clusterIP": "10.43.0.51", "clusterIPs": ["10.43.0.51"],
                                                                        "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}},
        [],
    ) + local


def test_render_shapes_the_table() -> None:
    r = Renderer("kyb-test", "n1", "10.42.0.0/16")
    rs = r.render(_ports(), None, fresh=True)
    s = rs.script
    assert s.startswith("add table ip kyb-test\ndelete table ip kyb-test\n")
    assert "10.43.0.50 . tcp . 80 : goto svc-" in s and "10.42.9.250 . tcp . 80 : goto ext-" in s
    assert "fib daddr type local meta l4proto . th dport vmap {" in s and "tcp . 30080 : goto ext-" in s
    assert "numgen random mod 2 vmap" in s
    assert "dnat to 10.42.0.2:8080" in s and "dnat to 10.42.0.3:8080" in s
    assert "flags dynamic,timeout; timeout 30s;" in s and "update @aff-" in s
    assert "ip saddr 10.42.0.2 jump mark-masq" in s  # hairpin
    assert "10.43.0.51 . udp . 53 } reject" in s  # no endpoints: reject at once
    # The next sync deletes chains that disappeared, but never flushes affinity sets.
    rs2 = r.render(_ports()[1:], rs, fresh=False)
    assert "delete table" not in rs2.script
    assert any(line.startswith("delete chain ip kyb-test ep-") for line in rs2.script.splitlines())
    assert any(line.startswith("delete set ip kyb-test aff-") for line in rs2.script.splitlines())
    assert "flush set" not in rs2.script
    # Nothing changed: nothing rewritten. One endpoint changed: only the chains that mention it.
    assert r.render(_ports()[1:], rs2, fresh=False).script == "add table ip kyb-test\n"
    many = [replace(sp, service=f"s{i}") for i in range(50) for sp in _ports()[:1]]
    base = r.render(many, None, fresh=True)
    moved = [replace(many[0], endpoints=many[0].endpoints[:1]), *many[1:]]
    delta = r.render(moved, base, fresh=False).script
    assert len(delta.splitlines()) < 15, delta
    assert r.delete_script() == "add table ip kyb-test\ndelete table ip kyb-test\n"


def test_external_traffic_ignores_internal_local_policy() -> None:
    """iTP=Local narrows the ClusterIP to this node's endpoints; NodePort traffic (eTP=Cluster) still uses all."""
    (sp,) = service_ports(
        svc(type="NodePort", internalTrafficPolicy="Local", ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30081}]),
        [slice_(("10.42.0.2", {"ready": True}, "n1"), ("10.42.0.3", {"ready": True}, "n2"))],
    )
    chains = Renderer("kyb-test", "n1", "10.42.0.0/16").render([sp], None, fresh=True).chains
    svc_chain = next(v for k, v in chains.items() if k.startswith("svc-"))
    all_chain = next(v for k, v in chains.items() if k.startswith("all-"))
    assert not any("numgen" in r for r in svc_chain)  # one local endpoint
    assert any("numgen random mod 2" in r for r in all_chain)
    ext = next(v for k, v in chains.items() if k.startswith("ext-"))
    assert ext[-1].startswith("goto all-")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="nft -c needs root and nftables")
def test_rendered_scripts_pass_nft_check() -> None:
    r = Renderer("kyb-syntaxcheck", "n1", "10.42.0.0/16")
    rs = r.render(_ports(), None, fresh=True)
    # -c checks the whole transaction without committing anything (incremental syncs run in the e2e tests).
    res = subprocess.run(["nft", "-c", "-f", "-"], input=rs.script, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_servicelb_prefers_external_addresses() -> None:
    nodes = [
        {"metadata": {"name": "b"}, "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.20"}]}},
        {"metadata": {"name": "a"}, "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.10"},
                                                             {"type": "ExternalIP", "address": "198.51.100.1"}]}},
    ]
    assert node_addresses(nodes) == ["198.51.100.1", "192.0.2.20"]
