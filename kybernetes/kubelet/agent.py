"""The node agent: registers this machine as a Node, heartbeats its Lease and reports status.

It is an ordinary API client: it creates its Node, renews `kube-node-lease/<node>` every 10 s (the node lifecycle
controller reads those) and patches node status with fresh conditions, like upstream's kubelet node status loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.kubelet import node as nodeinfo
from kybernetes.machinery.meta import now_micro

log = logging.getLogger(__name__)

LEASE_DURATION = 40
RENEW_INTERVAL = 10.0
STATUS_INTERVAL = 10.0


class NodeAgent:
    def __init__(self, client: Client, *, node_name: str, data_dir: Path, runtime: str = "process://kybernetes") -> None:
        self.client = client
        self.node_name = node_name
        self.data_dir = data_dir
        self.runtime = runtime
        self._tasks: list[asyncio.Task[None]] = []
        self.mode = "root" if os.geteuid() == 0 else "rootless"

    def node_object(self) -> dict[str, Any]:
        cap = nodeinfo.capacity(str(self.data_dir))
        ip = nodeinfo.host_ip()
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": nodeinfo.node_info(self.runtime)["architecture"],
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": nodeinfo.node_info(self.runtime)["architecture"],
                    "node-role.kubernetes.io/control-plane": "true",
                },
                "annotations": {"kybernetes.io/runtime-mode": self.mode},
            },
            "spec": {},
            "status": self.status(None, cap, ip),
        }

    def status(self, previous: dict[str, Any] | None, cap: dict[str, str] | None = None, ip: str | None = None) -> dict[str, Any]:
        cap = cap or nodeinfo.capacity(str(self.data_dir))
        ip = ip or nodeinfo.host_ip()
        prev_conds = (previous or {}).get("conditions")
        return {
            "capacity": cap,
            "allocatable": nodeinfo.allocatable(cap),
            "conditions": nodeinfo.conditions(True, "kubelet is posting ready status", prev_conds),
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": self.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": nodeinfo.node_info(self.runtime),
        }

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await self.register()
        self._tasks.append(asyncio.create_task(self._lease_loop(), name="node-lease"))
        self._tasks.append(asyncio.create_task(self._status_loop(), name="node-status"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.client.close()

    async def register(self) -> None:
        path = resource_path("", "v1", "nodes")
        try:
            await self.client.create(path, self.node_object())
        except ApiError as e:
            if e.status != 409:
                raise
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
