"""The nftables service proxy end to end: a real kyb server, "pods" in network namespaces, real traffic.

Only loopback, the node's own address and addresses this test created (its bridge and pod range, Service VIPs of
its private service range) receive traffic; everything is removed afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kybernetes.proxy.nftables import _h
from kybernetes.proxy.nodeaddr import primary_ipv4
from kybernetes.proxy.proxier import table_name
from tests.proxy.helpers import (
    apply,
    endpoint_slice,
    get,
    http_get,
    service,
    service_server,
    udp_ask,
    wait_until,
    who,
)
from tests.proxy.netlab import NetLab, Pod, need_root_tools, run
from tests.support.cluster import Server

pytestmark = [pytest.mark.root, pytest.mark.e2e]

PORT = 8080


@dataclass
class Env:
    srv: Server
    node: str
    lab: NetLab
    a: Pod
    b: Pod
    c: Pod
    outside: Pod  # a client outside the cluster CIDR (10.42.<third>.0/25), like a machine on the node's network

    @property
    def table(self) -> str:
        return table_name(self.node)

    def ruleset(self) -> str:
        res = run("nft", "list", "table", "ip", self.table, check=False)
        return res.stdout if res.returncode == 0 else ""

    def vip(self, name: str) -> str:
        return str(get(self.srv, "service", name)["spec"]["clusterIP"])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    need_root_tools("ip", "bridge", "nft")
    lab = NetLab()
    lab.setup(tmp_path_factory.mktemp("netlab"))
    try:
        a, b, c = lab.pod("pod-a"), lab.pod("pod-b"), lab.pod("pod-c")
        outside = lab.pod("outside", host=200)
        lab.serve(a, PORT)
        lab.serve(b, PORT)
        args = ("--disable-ingress", "--disable-dns", "--cluster-cidr", f"10.42.{lab.third}.0/25")
        with service_server(tmp_path_factory.mktemp("kyb"), *args) as (srv, node, _):
            yield Env(srv, node, lab, a, b, c, outside)
    finally:
        lab.cleanup()


def two_endpoints(env: Env, name: str, ready_b: bool = True, node_b: str = "") -> dict[str, object]:
    return endpoint_slice(
        name,
        [(env.a.ip, True, env.node), (env.b.ip, ready_b, node_b or env.node)],
        [("http", PORT, "TCP"), ("dns", PORT, "UDP")],
    )


def test_cluster_ip_from_host_and_pod_with_hairpin(env: Env) -> None:
    apply(
        env.srv,
        service("web", [{"name": "http", "port": 80, "targetPort": "web-port"}, {"name": "dns", "port": 53, "protocol": "UDP"}]),
        two_endpoints(env, "web"),
    )
    vip = env.vip("web")
    url = f"http://{vip}/"
    wait_until(lambda: http_get(url), what="VIP to answer")
    assert set(wait_until(lambda: (s := set(who(url, 40))) == {"pod-a", "pod-b"} and s, what="both endpoints")) == {"pod-a", "pod-b"}
    # From another pod, and from a pod to itself through its own Service (hairpin).
    script = f"import urllib.request as u; print(' '.join(u.urlopen('{url}', timeout=3).read().decode().split()[0] for _ in range(30)))"
    for pod in (env.c, env.a):
        seen = set(env.lab.exec(pod, "python3", "-c", script).stdout.split())
        assert seen == {"pod-a", "pod-b"}, (pod.name, seen)
    # UDP to the same VIP.
    assert wait_until(lambda: udp_ask(vip, 53)).split()[0] in {"pod-a", "pod-b"}


def test_session_affinity_sticks(env: Env) -> None:
    apply(
        env.srv,
        service("sticky", [{"name": "http", "port": 80}], sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
        two_endpoints(env, "sticky"),
    )
    url = f"http://{env.vip('sticky')}/"
    wait_until(lambda: http_get(url), what="sticky VIP")
    first = who(url, 1)[0]
    assert set(who(url, 30)) == {first}


def test_not_ready_endpoint_leaves_rotation_without_failures(env: Env) -> None:
    apply(env.srv, service("rot", [{"name": "http", "port": 80}]), two_endpoints(env, "rot"))
    url = f"http://{env.vip('rot')}/"
    wait_until(lambda: set(who(url, 20)) == {"pod-a", "pod-b"}, what="both endpoints")
    assert f"ep-{_h('default/rot:http/TCP', env.b.ip, str(PORT))}" in env.ruleset()
    failures: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                http_get(url)
            except BaseException as e:
                failures.append(e)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        apply(env.srv, two_endpoints(env, "rot", ready_b=False))
        t0 = time.monotonic()
        chain = f"ep-{_h('default/rot:http/TCP', env.b.ip, str(PORT))}"  # pod-b's endpoint chain for this port
        wait_until(lambda: chain not in env.ruleset(), what="pod-b's rule to go")
        assert time.monotonic() - t0 < 1.0  # changes apply within a second
        wait_until(lambda: set(who(url, 20)) == {"pod-a"}, what="pod-b to leave rotation")
    finally:
        stop.set()
        t.join()
    assert not failures, failures[:3]


def test_node_port_on_loopback_and_node_ip(env: Env) -> None:
    apply(env.srv, service("np", [{"name": "http", "port": 80}], type="NodePort"), two_endpoints(env, "np"))
    np_ = get(env.srv, "service", "np")["spec"]["ports"][0]["nodePort"]
    node_ip = asyncio.run(primary_ipv4())
    for host in ("127.0.0.1", node_ip):
        url = f"http://{host}:{np_}/"
        assert set(wait_until(lambda url=url: (s := set(who(url, 30))) == {"pod-a", "pod-b"} and s, what=url)) == {"pod-a", "pod-b"}
    # and from a pod, to the node's address
    out = env.lab.exec(env.c, "curl", "-s", "-m", "3", f"http://{node_ip}:{np_}/", check=False).stdout
    assert out.split()[:1] in (["pod-a"], ["pod-b"]), out


def test_load_balancer_gets_address_and_serves(env: Env) -> None:
    apply(env.srv, service("lb", [{"name": "http", "port": 18080 + int(env.lab.third)}], type="LoadBalancer"), two_endpoints(env, "lb"))

    def lb_ip() -> str:
        ing = (get(env.srv, "service", "lb").get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        return str(ing[0]["ip"]) if ing else ""

    ip = wait_until(lb_ip, what="LoadBalancer ingress")
    url = f"http://{ip}:{18080 + env.lab.third}/"
    assert wait_until(lambda: http_get(url)).split()[0] in {"pod-a", "pod-b"}


def test_external_ip_and_traffic_policies(env: Env) -> None:
    ext = f"10.42.{env.lab.third}.250"  # in this test's range, assigned to nothing: only the DNAT answers
    apply(
        env.srv,
        service("local", [{"name": "http", "port": 80}], externalIPs=[ext], internalTrafficPolicy="Local"),
        two_endpoints(env, "local", node_b="some-other-node"),
    )
    url = f"http://{env.vip('local')}/"
    wait_until(lambda: http_get(url), what="local VIP")
    assert set(who(url, 20)) == {"pod-a"}  # only this node's endpoint
    assert wait_until(lambda: http_get(f"http://{ext}/")).split()[0] in {"pod-a", "pod-b"}


def test_external_traffic_policy_local_keeps_source_and_node(env: Env) -> None:
    """From outside the cluster CIDR to a NodePort: Local sends only to this node's endpoints, unmasqueraded."""
    apply(env.srv, service("etp", [{"name": "http", "port": 80}], type="NodePort", externalTrafficPolicy="Local"),
          two_endpoints(env, "etp", node_b="some-other-node"))
    np_ = get(env.srv, "service", "etp")["spec"]["ports"][0]["nodePort"]
    url = f"http://{env.lab.gateway}:{np_}/"  # the node's address on the pods' bridge

    def ask() -> list[str]:
        return env.lab.exec(env.outside, "curl", "-s", "-m", "3", url, check=False).stdout.split()

    answers = [wait_until(ask, what="NodePort from outside") for _ in range(10)]
    assert {a[0] for a in answers} == {"pod-a"}
    assert {a[2] for a in answers} == {env.outside.ip}  # client address preserved
    env.srv.kubectl("patch", "service", "etp", "-p", '{"spec":{"externalTrafficPolicy":"Cluster"}}')
    wait_until(lambda: {tuple(ask()[:1]) for _ in range(20)} == {("pod-a",), ("pod-b",)}, what="both endpoints")
    assert ask()[2] == env.lab.gateway  # masqueraded to the node


def test_no_endpoints_rejects_at_once(env: Env) -> None:
    apply(env.srv, service("empty", [{"name": "http", "port": 80}]))
    vip = env.vip("empty")
    wait_until(lambda: vip in env.ruleset(), what="reject rule")
    with pytest.raises(OSError):
        http_get(f"http://{vip}/", timeout=2)


def test_udp_flow_follows_endpoint_change(env: Env) -> None:
    """A UDP client keeps its 5-tuple; once its endpoint is gone the proxy clears the conntrack entry."""
    need_root_tools("conntrack")
    only = lambda pod: endpoint_slice("udp", [(pod.ip, True, env.node)], [("dns", PORT, "UDP")])  # noqa: E731
    apply(env.srv, service("udp", [{"name": "dns", "port": 53, "protocol": "UDP"}]), only(env.a))
    vip = env.vip("udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)

        def ask() -> str:
            s.sendto(b"ping", (vip, 53))
            return s.recv(2048).decode().split()[0]

        assert wait_until(ask, what="UDP via VIP") == "pod-a"
        apply(env.srv, only(env.b))
        assert wait_until(lambda: ask() == "pod-b", what="the same socket to reach pod-b")


def test_table_deleted_behind_our_back_is_rebuilt(env: Env) -> None:
    apply(env.srv, service("gone", [{"name": "http", "port": 80}]), two_endpoints(env, "gone"))
    url = f"http://{env.vip('gone')}/"
    wait_until(lambda: http_get(url), what="VIP")
    run("nft", "delete", "table", "ip", env.table)
    apply(env.srv, two_endpoints(env, "gone", ready_b=False))  # any change triggers a sync
    assert wait_until(lambda: set(who(url, 10)) == {"pod-a"} and env.table, what="table rebuilt")


def test_restart_rebuilds_and_clean_stop_removes_rules(env: Env, tmp_path: Path) -> None:
    apply(env.srv, service("rs", [{"name": "http", "port": 80}]), two_endpoints(env, "rs"))
    url = f"http://{env.vip('rs')}/"
    wait_until(lambda: http_get(url), what="VIP before restart")
    before = _shape(env.ruleset())
    env.srv.stop()
    assert env.ruleset() == "", "clean shutdown must delete the proxy's table"
    env.srv.start()
    wait_until(lambda: http_get(url), what="VIP after restart")
    after = wait_until(lambda: (r := _shape(env.ruleset())) and len(r) == len(before) and r, what="rules after restart")
    assert after == before, (set(after) ^ set(before))
    # Nothing of ours outside our table.
    full = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout
    outside = full.replace(env.ruleset(), "")
    assert env.table not in outside


def _shape(ruleset: str) -> list[str]:
    """The ruleset without handles and comments, to compare two builds."""
    return sorted(ln.strip() for ln in ruleset.splitlines() if ln.strip() and not any(w in ln for w in ("comment", "elements", "expires", "}")))
