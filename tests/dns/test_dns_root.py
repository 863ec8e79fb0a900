"""Cluster DNS end to end: `kube-dns` at the tenth service IP, reached through the proxy from the host (dig) and
from a network-namespace "pod" whose resolv.conf carries the cluster search path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from kybernetes.dns import cluster_dns_ip, resolv_conf
from tests.proxy.helpers import apply, endpoint_slice, get, http_get, service, service_server, wait_until
from tests.proxy.netlab import NetLab, Pod, need_root_tools, run
from tests.support.cluster import Server

pytestmark = [pytest.mark.root, pytest.mark.e2e]


@dataclass
class Env:
    srv: Server
    dns_ip: str
    lab: NetLab
    pod: Pod

    def dig(self, *args: str) -> list[str]:
        out = run("dig", "+short", "+time=2", "+tries=2", f"@{self.dns_ip}", *args).stdout
        return [ln.strip() for ln in out.splitlines() if ln.strip() and not ln.startswith(";;")]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    need_root_tools("ip", "bridge", "nft", "dig")
    lab = NetLab()
    lab.setup(tmp_path_factory.mktemp("netlab"))
    try:
        pod = lab.pod("client")
        with service_server(tmp_path_factory.mktemp("kyb"), "--disable-ingress") as (srv, _node, cidr):
            dns_ip = cluster_dns_ip(cidr)
            lab.set_resolv_conf(pod, resolv_conf("default", dns_ip))
            e = Env(srv, dns_ip, lab, pod)
            wait_until(lambda: e.dig("kube-dns.kube-system.svc.cluster.local") == [dns_ip], what="cluster DNS", timeout=20)
            yield e
    finally:
        lab.cleanup()


def test_kube_dns_service_takes_the_tenth_ip(env: Env) -> None:
    svc = get(env.srv, "service", "kube-dns", namespace="kube-system")
    assert svc["spec"]["clusterIP"] == env.dns_ip
    assert {(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]} == {
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")
    }
    text = wait_until(lambda: http_get(f"http://{env.dns_ip}:9153/metrics"), what="metrics through the Service IP")
    assert 'kybernetes_dns_requests_total{proto="udp",type="A",answered_by="cluster"}' in text


def test_names_resolve_from_host_and_through_search_path(env: Env) -> None:
    apply(env.srv, service("web", [{"name": "http", "port": 80}]))
    vip = get(env.srv, "service", "web")["spec"]["clusterIP"]
    assert wait_until(lambda: env.dig("web.default.svc.cluster.local")) == [vip]
    assert env.dig("+tcp", "web.default.svc.cluster.local") == [vip]
    assert env.dig("-x", vip) == ["web.default.svc.cluster.local."]
    script = "import socket,sys; print(' '.join(socket.gethostbyname(n) for n in sys.argv[1:]))"
    out = env.lab.exec(env.pod, "python3", "-c", script, "web", "web.default", "web.default.svc.cluster.local").stdout.split()
    assert out == [vip, vip, vip]


def test_headless_srv_and_external_name(env: Env) -> None:
    a, b = f"10.42.{env.lab.third}.77", f"10.42.{env.lab.third}.78"
    sl = endpoint_slice("db", [(a, True, ""), (b, True, "")], [("pg", 5432, "TCP")])
    sl["endpoints"][0]["hostname"] = "db-0"
    apply(
        env.srv,
        service("db", [{"name": "pg", "port": 5432}], clusterIP="None"),
        sl,
        service("alias", [], type="ExternalName", externalName="web.default.svc.cluster.local"),
        service("web2", [{"name": "http", "port": 80}]),
    )
    assert sorted(wait_until(lambda: (r := env.dig("db.default.svc.cluster.local")) and len(r) == 2 and r)) == sorted([a, b])
    assert env.dig("db-0.db.default.svc.cluster.local") == [a]
    srv = env.dig("SRV", "_pg._tcp.db.default.svc.cluster.local")
    assert sorted(s.split()[2:] for s in srv) == sorted(
        [["5432", "db-0.db.default.svc.cluster.local."], ["5432", f"10-42-{env.lab.third}-78.db.default.svc.cluster.local."]]
    )
    vip2 = get(env.srv, "service", "web2")["spec"]["clusterIP"]
    assert env.dig("SRV", "_http._tcp.web2.default.svc.cluster.local") == ["0 100 80 web2.default.svc.cluster.local."]
    assert wait_until(lambda: env.dig("alias.default.svc.cluster.local"))[0] == "web.default.svc.cluster.local."
    assert vip2


def test_restart_keeps_dns_working(env: Env) -> None:
    port = _dns_port(env)
    env.srv.stop()
    env.srv.start()
    assert wait_until(lambda: env.dig("kube-dns.kube-system.svc.cluster.local"), timeout=20) == [env.dns_ip]
    assert _dns_port(env) == port  # the same listener port again: the Service's rules did not change
    # one EndpointSlice for the DNS of this node, pointing at the new listener
    slices = env.srv.kubectl("get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o", "name").stdout.split()
    assert len(slices) == 1


def _dns_port(env: Env) -> int:
    out = env.srv.kubectl("get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o", "json").stdout
    import json

    return int(json.loads(out)["items"][0]["ports"][0]["port"])
