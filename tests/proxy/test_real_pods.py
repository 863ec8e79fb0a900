"""The whole chain with real pods: kubectl creates a Deployment and exposes it; the kubelet runs the pods in their
network namespaces, the EndpointSlice controller fills the slices, and the proxy, DNS and ingress of the same
`kyb server` serve the Service by ClusterIP, by name and by Ingress host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proxy.helpers import apply, get, http_get, service_server, wait_until
from tests.proxy.netlab import need_root_tools, run
from tests.support.cluster import Server

pytestmark = [pytest.mark.root, pytest.mark.e2e]

CLIENT = """
import sys, urllib.request
ok = 0
for _ in range(int(sys.argv[2])):
    ok += urllib.request.urlopen(sys.argv[1], timeout=3).status == 200
print(ok)
"""


@pytest.fixture(scope="module")
def cluster_with_pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    need_root_tools("ip", "nft", "dig")
    with service_server(tmp_path_factory.mktemp("kyb"), agent=True) as (srv, _node, cidr):
        yield srv, cidr
        srv.kubectl("delete", "deployment", "web", "client", "--wait=true", "--timeout=60s", check=False)


def _ready_pods(srv: Server, app: str, n: int) -> list[dict[str, object]]:
    pods = json.loads(srv.kubectl("get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
    return ready if len(ready) == n else []


def test_deployment_service_dns_and_ingress(cluster_with_pods: tuple[Server, str], tmp_path: Path) -> None:
    srv, cidr = cluster_with_pods
    py = "python3"
    srv.kubectl("create", "deployment", "web", "--image=host", "--replicas=2", "--port=8080", "--", py, "-m", "http.server", "8080")
    srv.kubectl("create", "deployment", "client", "--image=host", "--", "sleep", "3600")
    srv.kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080")
    apply(srv, {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "web.test", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    })
    pods = wait_until(lambda: _ready_pods(srv, "web", 2), timeout=60, what="two ready web pods")
    pod_ips = sorted(str(p["status"]["podIP"]) for p in pods)  # type: ignore[index]
    slice_ips = lambda: sorted(  # noqa: E731
        a for s in json.loads(srv.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json").stdout)["items"]
        for e in s.get("endpoints") or [] for a in e["addresses"]
    )
    wait_until(lambda: slice_ips() == pod_ips, timeout=30, what="the EndpointSlice controller")
    vip = get(srv, "service", "web")["spec"]["clusterIP"]
    # From the host, by ClusterIP (the pods may need a moment to bind after turning Ready: no readiness probe).
    assert wait_until(lambda: all(http_get(f"http://{vip}/") for _ in range(10)), timeout=30)
    # By name, through the cluster DNS at the tenth service IP.
    dns_ip = str(cidr.split("/")[0].rsplit(".", 1)[0]) + ".10"
    out = run("dig", "+short", f"@{dns_ip}", "web.default.svc.cluster.local").stdout.split()
    assert out == [vip]
    # From another pod (not an endpoint of the Service), through its own network namespace.
    client = wait_until(lambda: _ready_pods(srv, "client", 1), timeout=60, what="client pod")[0]
    name = str(client["metadata"]["name"])  # type: ignore[index]
    ok = srv.kubectl("exec", name, "--", py, "-c", CLIENT, f"http://{vip}/", "10").stdout.strip()
    assert ok == "10"
    # Through the ingress controller, routed by host to the pods' endpoints.
    port = int(srv.extra_args[srv.extra_args.index("--ingress-http-port") + 1])
    assert wait_until(lambda: http_get(f"http://127.0.0.1:{port}/", headers={"Host": "web.test"}), timeout=10)
