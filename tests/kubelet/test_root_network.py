"""Root mode: pods get their own network namespace and IP on the node bridge, and answer HTTP there."""

from __future__ import annotations

import asyncio
import socket

import pytest

from kybernetes.client.rest import Client
from tests.kubelet.conftest import PY, Agent, create_pod, pod_manifest, ready, wait_pod

pytestmark = [pytest.mark.root, pytest.mark.e2e]


def http_pod(name: str, node: str, port: int = 8080) -> dict[str, object]:
    return pod_manifest(
        name,
        node,
        [
            {
                "name": "web",
                "command": [PY, "-m", "http.server", str(port), "--bind", "0.0.0.0"],
                "readinessProbe": {"httpGet": {"port": port, "path": "/"}, "periodSeconds": 1},
                "ports": [{"containerPort": port, "name": "http"}],
            }
        ],
    )


def http_get(ip: str, port: int) -> int:
    with socket.create_connection((ip, port), timeout=5) as s:
        s.sendall(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
        head = s.recv(64).decode()
    return int(head.split()[1])


async def test_three_http_pods_become_ready_and_answer_on_their_ips(api: Client, ns: str, root_agent: Agent) -> None:
    names = [f"web-{i}" for i in range(3)]
    await asyncio.gather(*(create_pod(api, ns, http_pod(n, root_agent.node)) for n in names))
    pods = await asyncio.gather(*(wait_pod(api, ns, n, ready, 30, "to be Ready") for n in names))
    ips = [p["status"]["podIP"] for p in pods if p]
    assert len(set(ips)) == 3
    net = root_agent.cidr.rsplit(".", 1)[0]
    assert all(ip.startswith(net + ".") for ip in ips), ips
    for p in pods:
        assert p is not None
        st = p["status"]
        assert st["phase"] == "Running"
        assert {c["type"] for c in st["conditions"]} >= {
            "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"
        }
        assert st["hostIP"] and st["startTime"]
        cs = st["containerStatuses"][0]
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    # From the host, each pod answers on its own IP.
    for ip in ips:
        assert await asyncio.to_thread(http_get, ip, 8080) == 200
    # From another pod: run a client inside pod 0's namespaces against pods 1 and 2.
    client = (
        "import socket,sys\n"
        "for ip in sys.argv[1:]:\n"
        "    s=socket.create_connection((ip,8080),timeout=5); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
        "    print(ip, s.recv(12).decode().split()[1])\n"
    )
    out = root_agent.server.kubectl("exec", "-n", ns, names[0], "--", PY, "-c", client, ips[1], ips[2]).stdout
    assert out.split() == [ips[1], "200", ips[2], "200"]
    # Inside the pod, the pod's hostname is the pod name and localhost is its own.
    out = root_agent.server.kubectl("exec", "-n", ns, names[1], "--", "hostname").stdout.strip()
    assert out == names[1]


async def test_pods_resolve_cluster_names_through_cluster_dns(api: Client, ns: str, root_agent: Agent) -> None:
    # The service proxy may not have programmed the DNS VIP yet when the cluster is this young, and an in-process DNS
    # server on a loaded machine can be slow: retry (restartPolicy OnFailure) rather than hope.
    script = (
        "import socket,sys\n"
        "conf = open('/etc/resolv.conf').read()\n"
        "try: ip = socket.gethostbyname('kubernetes.default.svc.cluster.local')\n"
        "except OSError as e: sys.exit(f'{e}; resolv.conf: {conf!r}')\n"
        "print(ip)\n"
        "print(conf)\n"
    )
    custom = {"name": "c", "command": [PY, "-c", "print(open('/etc/resolv.conf').read())"]}
    await create_pod(api, ns, pod_manifest("dns", root_agent.node, [{"name": "c", "command": [PY, "-c", script]}],
                                           restartPolicy="OnFailure",
                                           dnsConfig={"options": [{"name": "timeout", "value": "2"},
                                                                  {"name": "attempts", "value": "3"}]}))
    await create_pod(api, ns, pod_manifest("custom", root_agent.node, [custom], restartPolicy="Never",
                                           dnsPolicy="None",
                                           dnsConfig={"nameservers": ["192.0.2.53"], "searches": ["example.test"],
                                                      "options": [{"name": "ndots", "value": "2"}]}))
    for name in ("dns", "custom"):
        try:
            await wait_pod(api, ns, name, lambda p: (p or {}).get("status", {}).get("phase") == "Succeeded", 90,
                           "to succeed")
        except AssertionError as e:
            logs = root_agent.server.kubectl("logs", "-n", ns, name, "--previous", check=False)
            raise AssertionError(f"{e}\nprevious logs:\n{logs.stdout}{logs.stderr}") from None
    svc = await api.get("/api/v1/namespaces/default/services/kubernetes")
    dns = await api.get("/api/v1/namespaces/kube-system/services/kube-dns")
    out = root_agent.server.kubectl("logs", "-n", ns, "dns").stdout.splitlines()
    assert out[0] == svc["spec"]["clusterIP"]
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in out
    assert f"nameserver {dns['spec']['clusterIP']}" in out and "options ndots:5 timeout:2 attempts:3" in out
    custom_out = root_agent.server.kubectl("logs", "-n", ns, "custom").stdout.splitlines()
    assert custom_out[:3] == ["search example.test", "nameserver 192.0.2.53", "options ndots:2"]
