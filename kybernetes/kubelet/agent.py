"""The node agent: registers this machine as a Node, heartbeats its Lease, reports status, and runs the kubelet.

It is an ordinary API client: it creates its Node (with a podCIDR picked from the cluster CIDR, since the API server
has no node IPAM), renews `kube-node-lease/<node>` every 10 s (the node lifecycle controller reads those), patches
node status with fresh conditions like upstream's node status loop, runs the `Kubelet` (pods bound to this node)
and the kubelet's HTTPS server (logs/exec/attach/port-forward/stats) when the cluster CA is at hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
from pathlib import Path
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.kubelet import node as nodeinfo
from kybernetes.kubelet.kubelet import Kubelet, KubeletConfig
from kybernetes.machinery.meta import now_micro

log = logging.getLogger(__name__)

LEASE_DURATION = 40
RENEW_INTERVAL = 10.0
STATUS_INTERVAL = 10.0
NODE_MASK = 24
MODE_KEY = "kybernetes.io/runtime-mode"


def pick_pod_cidr(cluster_cidr: str, used: set[str], mask: int = NODE_MASK) -> str:
    """The first /mask subnet of the cluster CIDR no other node has (deterministic for a given set of nodes)."""
    net = ipaddress.ip_network(cluster_cidr, strict=False)
    if net.prefixlen >= mask:
        return str(net)
    taken = set()
    for u in used:
        with contextlib.suppress(ValueError):
            taken.add(ipaddress.ip_network(u, strict=False))
    for sub in net.subnets(new_prefix=mask):
        if not any(sub.overlaps(t) for t in taken):
            return str(sub)
    raise RuntimeError(f"cluster CIDR {cluster_cidr} has no free /{mask} left")


class NodeAgent:
    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        data_dir: Path,
        runtime: str = "process://kybernetes",
        cluster_cidr: str = "10.42.0.0/16",
        kubelet_config: KubeletConfig | None = None,
        run_pods: bool = True,
        pki_dir: Path | None = None,
        kubelet_port: int = 10250,
        serve: bool = True,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.data_dir = data_dir
        self.runtime = runtime
        self.cluster_cidr = cluster_cidr
        self.pod_cidr = ""
        self._tasks: list[asyncio.Task[None]] = []
        self.host_ip = nodeinfo.host_ip()
        self.kubelet: Kubelet | None = None
        if run_pods:
            cfg = kubelet_config or KubeletConfig(node_name=node_name, data_dir=data_dir, stop_pods_on_exit=True)
            cfg.node_name = node_name
            self.kubelet = Kubelet(
                client, cfg, host_ip=self.host_ip, allocatable=lambda: nodeinfo.allocatable(self._capacity())
            )
        self.mode = self.kubelet.runtime.mode if self.kubelet else "none"
        self.pki_dir = pki_dir
        self.kubelet_port = kubelet_port
        self.serve = serve and run_pods
        self.server: Any = None

    def _capacity(self) -> dict[str, str]:
        return nodeinfo.capacity(str(self.data_dir))

    def node_object(self) -> dict[str, Any]:
        cap = self._capacity()
        arch = nodeinfo.node_info(self.runtime)["architecture"]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": arch,
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": arch,
                    "node-role.kubernetes.io/control-plane": "true",
                    MODE_KEY: self.mode,
                },
                "annotations": {MODE_KEY: self.mode},
            },
            "spec": {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]} if self.pod_cidr else {},
            "status": self.status(None, cap),
        }

    def status(self, previous: dict[str, Any] | None, cap: dict[str, str] | None = None) -> dict[str, Any]:
        cap = cap or self._capacity()
        prev_conds = (previous or {}).get("conditions")
        mode = {
            "root": "process runtime, root mode: pod network namespaces, cgroup limits",
            "rootless": "process runtime, rootless mode: pods share the host network, no resource limits",
        }.get(self.mode, "no pod runtime")
        return {
            "capacity": cap,
            "allocatable": nodeinfo.allocatable(cap),
            "conditions": nodeinfo.conditions(
                True, f"kubelet is posting ready status ({mode})", prev_conds, nodeinfo.pressure(str(self.data_dir))
            ),
            "addresses": [{"type": "InternalIP", "address": self.host_ip}, {"type": "Hostname", "address": self.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": nodeinfo.node_info(self.runtime),
        }

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.serve:
            await self._start_server()
        await self.register()
        self._tasks.append(asyncio.create_task(self._lease_loop(), name="node-lease"))
        self._tasks.append(asyncio.create_task(self._status_loop(), name="node-status"))
        if self.kubelet is not None:
            await self.kubelet.start(self.pod_cidr)

    async def _start_server(self) -> None:
        """The kubelet's HTTPS API (streaming, stats), if a serving certificate can be issued from the cluster CA."""
        pki = self.pki_dir or self.data_dir.parent / "pki"
        if self.kubelet is None or not (pki / "ca.key").exists():
            log.info("no cluster CA key at %s: the kubelet API (logs, exec, port-forward) is not served", pki)
            self.serve = False
            return
        from kybernetes.kubelet.streaming_runtime import KubeletStreamingRuntime
        from kybernetes.streaming.kubeletserver import (
            KubeletServer,
            ensure_serving_certificate,
            serving_ssl_context,
        )

        crt, key = ensure_serving_certificate(pki, self.node_name, [self.host_ip], out_dir=self.data_dir / "pki")
        ctx = serving_ssl_context(crt, key, pki / "ca.crt")
        for port in (self.kubelet_port, 0):
            server = KubeletServer(KubeletStreamingRuntime(self.kubelet), port=port, ssl_context=ctx)
            try:
                await server.start()
            except OSError as e:
                if e.errno != errno.EADDRINUSE or port == 0:
                    raise
                log.warning("port %d is taken (another kubelet on this host?); serving on a free port", port)
                continue
            self.server = server
            self.kubelet_port = server.port
            return

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.kubelet is not None:
            await self.kubelet.stop()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
        await self.client.close()

    async def register(self) -> None:
        nodes = resource_path("", "v1", "nodes")
        path = resource_path("", "v1", "nodes", name=self.node_name)
        try:
            existing: dict[str, Any] | None = await self.client.get(path)
        except ApiError as e:
            if e.status != 404:
                raise
            existing = None
        spec = (existing or {}).get("spec") or {}
        self.pod_cidr = str(spec.get("podCIDR") or "")
        if not self.pod_cidr:
            lst = await self.client.get(nodes)
            used = {
                str((n.get("spec") or {}).get("podCIDR"))
                for n in lst.get("items") or []
                if (n.get("spec") or {}).get("podCIDR") and n["metadata"]["name"] != self.node_name
            }
            self.pod_cidr = pick_pod_cidr(self.cluster_cidr, used)
        if existing is None:
            try:
                await self.client.create(nodes, self.node_object())
            except ApiError as e:
                if e.status != 409:
                    raise
                return await self.register()
        else:
            patch: dict[str, Any] = {
                "metadata": {"labels": {MODE_KEY: self.mode}, "annotations": {MODE_KEY: self.mode}},
            }
            if not spec.get("podCIDR"):
                patch["spec"] = {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}
            await self.client.patch(path, patch)
        await self.update_status()

    async def update_status(self) -> None:
        path = resource_path("", "v1", "nodes", name=self.node_name)
        cur = await self.client.get(path)
        st = self.status(cur.get("status"))
        await self.client.patch(path + "/status", {"status": st}, content_type="application/merge-patch+json")

    async def renew_lease(self) -> None:
        path = resource_path("coordination.k8s.io", "v1", "leases", namespace="kube-node-lease", name=self.node_name)
        spec = {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_DURATION, "renewTime": now_micro()}
        try:
            await self.client.patch(path, {"spec": spec})
        except ApiError as e:
            if e.status != 404:
                raise
            node = await self.client.get(resource_path("", "v1", "nodes", name=self.node_name))
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.node_name,
                    "namespace": "kube-node-lease",
                    "ownerReferences": [
                        {"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": node["metadata"]["uid"]}
                    ],
                },
                "spec": spec,
            }
            await self.client.create(
                resource_path("coordination.k8s.io", "v1", "leases", namespace="kube-node-lease"), lease
            )

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("lease renewal failed: %s", e)
            await asyncio.sleep(RENEW_INTERVAL)

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_INTERVAL)
            try:
                await self.update_status()
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.status == 404:
                    with contextlib.suppress(Exception):
                        await self.register()
                else:
                    log.warning("node status update failed: %s", e)
            except Exception as e:
                log.warning("node status update failed: %s", e)
