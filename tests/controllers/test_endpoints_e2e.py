"""Endpoints and EndpointSlices from Service selectors and pod readiness, with named targetPorts per pod."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.controllers.support import Watch, client, is_ready, name_of
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


def pod(name: str, port: int, annotations: str = "{}", finalizers: str = "[]") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, labels: {{app: svc}}, annotations: {annotations}, finalizers: {finalizers}}}
        spec:
          containers: [{{name: c, image: x, ports: [{{name: http, containerPort: {port}}}, {{containerPort: 9100}}]}}]
        ---
        """
    )


SERVICE = textwrap.dedent(
    """
    apiVersion: v1
    kind: Service
    metadata: {name: svc, labels: {team: a}}
    spec:
      selector: {app: svc}
      ports: [{name: web, port: 80, targetPort: http}, {name: metrics, port: 9100, targetPort: 9100}]
    """
)


async def test_endpoints_and_slices_follow_pods(hollow: Server, ns: str) -> None:
    k = lambda *a, **kw: hollow.kubectl("-n", ns, *a, **kw)  # noqa: E731
    k("apply", "-f", "-", input=SERVICE)
    k(
        "apply", "-f", "-",
        input=pod("a", 8080) + pod("b", 8080) + pod("c", 9090) + pod("slow", 8080, '{"hollow.kybernetes.io/ready": "false"}')
        + pod("leaving", 8080, finalizers='["example.com/hold"]'),
    )
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods, Watch(api, "", "v1", "endpoints", ns) as eps, Watch(
            api, "discovery.k8s.io", "v1", "endpointslices", ns
        ) as slices:
            await pods.until(lambda ps: sum(1 for p in ps if is_ready(p)) == 4 and len(ps) == 5 and all(p["status"].get("podIP") for p in ps), what="pods up")
            ip = {name_of(p): p["status"]["podIP"] for p in pods.items}
            k("delete", "pod", "leaving", "--wait=false")

            def subsets() -> list[tuple[list[str], list[str], list[tuple[str, int]]]]:
                ep = eps.get("svc")
                return sorted(
                    (
                        sorted(a["ip"] for a in s.get("addresses") or []),
                        sorted(a["ip"] for a in s.get("notReadyAddresses") or []),
                        sorted((p["name"], p["port"]) for p in s.get("ports") or []),
                    )
                    for s in ((ep or {}).get("subsets") or [])
                )

            want = sorted(
                [
                    (sorted([ip["a"], ip["b"]]), [ip["slow"]], [("metrics", 9100), ("web", 8080)]),
                    ([ip["c"]], [], [("metrics", 9100), ("web", 9090)]),
                ]
            )
            await eps.until(lambda _: subsets() == want, what=f"endpoints {want}")
            ep = eps.get("svc")
            assert ep is not None
            assert ep["metadata"]["labels"]["team"] == "a"
            addr = next(a for s in ep["subsets"] for a in s.get("addresses", []) if a["ip"] == ip["c"])
            assert addr["targetRef"]["name"] == "c" and addr["nodeName"]

            def endpoints_by_pod() -> dict[str, tuple[dict[str, bool], list[int]]]:
                out = {}
                for s in slices.items:
                    ports = sorted(p["port"] for p in s.get("ports") or [])
                    for e in s.get("endpoints") or []:
                        out[e["targetRef"]["name"]] = (e["conditions"], ports)
                return out

            await slices.until(lambda _: set(endpoints_by_pod()) == {"a", "b", "c", "slow", "leaving"}
                               and endpoints_by_pod()["leaving"][0]["terminating"], what="slices with the terminating pod")
            by = endpoints_by_pod()
            assert by["a"] == ({"ready": True, "serving": True, "terminating": False}, [8080, 9100])
            assert by["c"] == ({"ready": True, "serving": True, "terminating": False}, [9090, 9100])
            assert by["slow"][0] == {"ready": False, "serving": False, "terminating": False}
            assert by["leaving"][0] == {"ready": False, "serving": True, "terminating": True}
            for s in slices.items:
                assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "svc"
                assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
                assert s["metadata"]["ownerReferences"][0]["kind"] == "Service" and s["addressType"] == "IPv4"
            k("patch", "pod", "leaving", "--type=merge", "-p", json.dumps({"metadata": {"finalizers": None}}))
            await slices.until(lambda _: "leaving" not in endpoints_by_pod(), what="the terminated pod leaves the slices")

            k("delete", "service", "svc")
            await eps.until(lambda items: eps.get("svc") is None, what="endpoints deleted with the service")
            await slices.until(lambda items: not items, what="slices collected with their service")
    finally:
        await api.close()
