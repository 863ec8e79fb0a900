"""The controller manager: every controller of the cluster, sharing informers, behind one leader election.

Like kube-controller-manager it is an ordinary API client. All controllers share one InformerFactory (one
list+watch per resource however many controllers read it). Several copies may run (one per `kyb server` on a
shared etcd); a Lease named `kube-controller-manager` in kube-system decides which one acts, and the others wait
to take over.

Tunables come from `ControllerConfig`; `kyb server` reads them from the environment (KYB_NODE_MONITOR_GRACE_PERIOD,
KYB_POD_EVICTION_TIMEOUT ... see `ControllerConfig.from_env`), which tests use to shorten upstream's long timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from kybernetes.client.informer import InformerFactory
from kybernetes.client.leaderelection import LeaderElector
from kybernetes.client.rest import Client
from kybernetes.controllers.namespace import NamespaceController

log = logging.getLogger(__name__)


@dataclass
class ControllerConfig:
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    terminated_pod_gc_threshold: int = 12500
    pod_gc_period: float = 20.0
    pod_gc_quarantine: float = 40.0
    job_backoff_base: float = 10.0
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    gc_rediscovery_period: float = 30.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ControllerConfig:
        """Each field may be set as KYB_<FIELD_NAME_IN_CAPS>, e.g. KYB_NODE_MONITOR_GRACE_PERIOD=5."""
        env = os.environ if environ is None else environ
        cfg = cls()
        for f in fields(cls):
            raw = env.get("KYB_" + f.name.upper())
            if raw is None:
                continue
            try:
                if f.type in ("bool", bool):
                    setattr(cfg, f.name, raw.lower() in ("1", "true", "yes"))
                elif f.type in ("int", int):
                    setattr(cfg, f.name, int(raw))
                else:
                    setattr(cfg, f.name, float(raw))
            except ValueError:
                log.warning("ignoring KYB_%s=%r", f.name.upper(), raw)
        return cfg


def _builders(ca_pem: bytes | None, cfg: ControllerConfig) -> list[Callable[[Client, InformerFactory], Any]]:
    """Constructors of every controller, in start order (each takes the client and the shared factory)."""
    from kybernetes.controllers.cronjob import CronJobController
    from kybernetes.controllers.daemonset import DaemonSetController
    from kybernetes.controllers.deployment import DeploymentController
    from kybernetes.controllers.endpoints import EndpointsController
    from kybernetes.controllers.endpointslice import EndpointSliceController
    from kybernetes.controllers.garbagecollector import GarbageCollector
    from kybernetes.controllers.job import JobController
    from kybernetes.controllers.nodelifecycle import NodeLifecycleController
    from kybernetes.controllers.podgc import PodGC
    from kybernetes.controllers.replicaset import REPLICATION_CONTROLLER, ReplicaSetController
    from kybernetes.controllers.rootca import RootCAPublisher
    from kybernetes.controllers.serviceaccount import ServiceAccountController
    from kybernetes.controllers.statefulset import StatefulSetController
    from kybernetes.controllers.ttlafterfinished import TTLAfterFinishedController

    out: list[Callable[[Client, InformerFactory], Any]] = [
        lambda c, f: GarbageCollector(c, f, cfg.gc_rediscovery_period),
        lambda c, f: ServiceAccountController(c, f),
        lambda c, f: DeploymentController(c, f),
        lambda c, f: DaemonSetController(c, f),
        lambda c, f: JobController(c, f, cfg.job_backoff_base),
        lambda c, f: TTLAfterFinishedController(c, f),
        lambda c, f: CronJobController(c, f),
        lambda c, f: StatefulSetController(c, f),
        lambda c, f: EndpointsController(c, f),
        lambda c, f: EndpointSliceController(c, f),
        lambda c, f: NodeLifecycleController(
            c, f, grace_period=cfg.node_monitor_grace_period, monitor_period=cfg.node_monitor_period
        ),
        lambda c, f: PodGC(
            c, f, threshold=cfg.terminated_pod_gc_threshold, period=cfg.pod_gc_period, quarantine=cfg.pod_gc_quarantine
        ),
        lambda c, f: ReplicaSetController(c, f),
        lambda c, f: ReplicaSetController(c, f, REPLICATION_CONTROLLER),
    ]
    if ca_pem:
        out.append(lambda c, f: RootCAPublisher(c, f, ca_pem))
    return out


class ControllerManager:
    def __init__(
        self,
        client: Client,
        ca_pem: bytes | None = None,
        *,
        config: ControllerConfig | None = None,
        identity: str | None = None,
    ) -> None:
        self.client = client
        self.ca_pem = ca_pem
        self.config = config or ControllerConfig.from_env()
        self.namespace_controller = NamespaceController(client)
        self.factory: InformerFactory | None = None
        self.controllers: list[Any] = []
        self._lock = asyncio.Lock()
        self.elector: LeaderElector | None = None
        if self.config.leader_elect:
            self.elector = LeaderElector(
                client,
                name="kube-controller-manager",
                identity=identity,
                on_started_leading=self._start_controllers,
                on_stopped_leading=self._stop_controllers,
                lease_duration=self.config.lease_duration,
                renew_deadline=self.config.renew_deadline,
                retry_period=self.config.retry_period,
            )

    def controller(self, name: str) -> Any:
        """The running controller with this name (for tests and debugging)."""
        return next((c for c in self.controllers if getattr(c, "name", "") == name), None)

    async def start(self) -> None:
        if self.elector is not None:
            await self.elector.start()
        else:
            await self._start_controllers()

    async def stop(self) -> None:
        if self.elector is not None:
            await self.elector.stop()
        await self._stop_controllers()
        await self.client.close()

    async def _start_controllers(self) -> None:
        async with self._lock:
            if self.controllers:
                return
            factory = InformerFactory(self.client)
            built: list[Any] = [self.namespace_controller]
            for make in _builders(self.ca_pem, self.config):
                built.append(make(self.client, factory))
            self.factory = factory
            self.controllers = built
            await factory.start()
            results = await asyncio.gather(*(c.start() for c in built), return_exceptions=True)
            for c, r in zip(built, results, strict=True):
                if isinstance(r, BaseException):
                    log.error("controller %s failed to start: %s", getattr(c, "name", c), r)
            log.info("controller manager: %d controllers running", len(built))

    async def _stop_controllers(self) -> None:
        async with self._lock:
            for c in reversed(self.controllers):
                with contextlib.suppress(Exception):
                    await c.stop()
            self.controllers = []
            if self.factory is not None:
                await self.factory.stop()
                self.factory = None
