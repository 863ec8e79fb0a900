"""The kubelet proper: watches the pods bound to this node and gives each one a worker.

It is only an API client: pods come from an informer (fieldSelector spec.nodeName=<node>), ConfigMaps/Secrets are
read on demand, status goes back through the status manager and events through the recorder. Runtime state is the
source of truth for what runs: a relist loop (upstream's PLEG) catches exits the runtime could not report, a
housekeeping loop removes sandboxes of pods the API no longer has, and a restarted kubelet rebuilds everything
from the runtime's records and the API (no kubelet-side state is needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes.client.informer import Handlers, Informer
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.events import EventRecorder
from kybernetes.kubelet.pod_worker import LABEL_UID, PodWorker
from kybernetes.kubelet.probes import ProbeManager
from kybernetes.kubelet.runtime.api import ContainerEvent, ContainerState, RuntimeService
from kybernetes.kubelet.runtime.process import ProcessRuntime
from kybernetes.kubelet.status import StatusManager
from kybernetes.kubelet.volumes import VolumeManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OBJECT_TTL = 1.0


def default_run_dir(data_dir: Path) -> Path:
    """Host-wide runtime files (IP allocations, namespace files) as root; inside the data dir otherwise."""
    return Path("/run/kybernetes") if os.geteuid() == 0 else data_dir / "run"


@dataclass
class KubeletConfig:
    node_name: str
    data_dir: Path
    run_dir: Path | None = None
    bridge: str = "kyb0"
    cgroup_root: str = "kybernetes"
    root: bool | None = None
    """None: root mode when running as root."""
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    backoff_reset: float = 600.0
    resync_interval: float = 10.0
    volume_sync_interval: float = 10.0
    relist_interval: float = 1.0
    housekeeping_interval: float = 15.0
    stop_pods_on_exit: bool = False
    """On stop, kill every pod and remove its sandbox (a restarted kubelet starts them afresh, as after a reboot)."""
    shutdown_grace: float = 3.0
    egress: bool = True
    cluster_dns: list[str] | None = None
    """Cluster DNS servers for ClusterFirst pods; None: the kube-system/kube-dns Service's IP, if it exists."""
    cluster_domain: str = "cluster.local"
    start_concurrency: int = 0
    """Pods whose first start (sandbox + containers) runs at once; 0: twice the CPUs, at least 2."""
    extra_env: dict[str, str] = field(default_factory=dict)


class Kubelet:
    def __init__(
        self,
        client: Client,
        config: KubeletConfig,
        *,
        host_ip: str,
        allocatable: Callable[[], dict[str, str]],
        runtime: RuntimeService | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.host_ip = host_ip
        self.allocatable = allocatable
        data = config.data_dir
        self.runtime: RuntimeService = runtime or ProcessRuntime(
            data,
            run_dir=config.run_dir or default_run_dir(data),
            host_ip=host_ip,
            bridge=config.bridge,
            cgroup_root=config.cgroup_root,
            root=config.root,
            egress=config.egress,
        )
        self.volumes = VolumeManager(
            data / "pods", self.get_object, root=self.runtime.mode == "root", allocatable=allocatable,
            token=self._token,
        )
        self.probes = ProbeManager(self.runtime.exec_sync, self._poke, self._probe_failed)
        self.status = StatusManager(client, self._api_status, current_uid=self._uid_of)
        self.events = EventRecorder(client, config.node_name)
        self.backoff = Backoff(config.backoff_base, config.backoff_cap, config.backoff_reset)
        self.workers: dict[str, PodWorker] = {}
        self.informer = Informer(client, "", "v1", "pods", field_selector=f"spec.nodeName={config.node_name}")
        self.host_path_env = os.environ.get("PATH") or DEFAULT_PATH
        self.shutting_down = False
        self.start_slots = asyncio.Semaphore(config.start_concurrency or max(2, 2 * (os.cpu_count() or 1)))
        self._tasks: list[asyncio.Task[None]] = []
        self._objects: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}
        self._dns: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self, pod_cidr: str) -> None:
        set_cidr = getattr(self.runtime, "set_pod_cidr", None)
        if set_cidr is not None:
            set_cidr(pod_cidr)
        await self.runtime.start()
        self.runtime.subscribe(self._on_container_event)
        self.events.start()
        self.informer.add_handlers(
            Handlers(on_add=self._on_pod, on_update=lambda _old, new: self._on_pod(new), on_delete=self._on_pod_deleted)
        )
        await self.refresh_cluster_dns()
        await self.informer.start()
        await self.informer.wait_synced(60)
        await self.housekeeping()
        self._tasks.append(asyncio.create_task(self._relist_loop(), name="kubelet relist"))
        self._tasks.append(asyncio.create_task(self._housekeeping_loop(), name="kubelet housekeeping"))

    async def stop(self) -> None:
        self.shutting_down = True
        await self.informer.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        workers = list(self.workers.values())
        for w in workers:
            w.cancel()
        for w in workers:
            await w.wait_done()
        await self.probes.close()
        if self.config.stop_pods_on_exit:
            await self._stop_all_pods()
        await self.status.close()
        await self.events.close()
        await self.runtime.close()

    async def _stop_all_pods(self) -> None:
        """Like a node shutdown: every container gets SIGTERM and a short grace, then all pod state goes."""
        grace = self.config.shutdown_grace
        running = [c for c in self.runtime.list_containers() if c.state == ContainerState.RUNNING]
        await asyncio.gather(*(self.runtime.stop_container(c.id, grace) for c in running), return_exceptions=True)
        for s in self.runtime.list_pod_sandboxes():
            try:
                await self.runtime.remove_pod_sandbox(s.id)
            except Exception:
                log.exception("removing sandbox of %s/%s", s.namespace, s.name)
        for c in self.runtime.list_containers():
            with contextlib.suppress(Exception):
                await self.runtime.remove_container(c.id)
        for uid in self.volumes.known_pods():
            await self.volumes.teardown(uid)

    # ------------------------------------------------------------------ dispatch
    def _on_pod(self, pod: Obj) -> None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        if not uid or self.shutting_down:
            return
        w = self.workers.get(uid)
        if w is not None:
            w.update(pod)
            return
        w = PodWorker(self, uid, pod)
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") and not self._has_running(uid):
            w.state = "terminated"
        self.workers[uid] = w
        w.start()
        w.poke()
        w.on_done(lambda: self._worker_done(uid, w))

    def _worker_done(self, uid: str, w: PodWorker) -> None:
        if self.workers.get(uid) is w:
            del self.workers[uid]

    def _on_pod_deleted(self, pod: Obj) -> None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        w = self.workers.get(uid)
        if w is not None:
            w.update(None)

    def _has_running(self, uid: str) -> bool:
        return any(
            c.labels.get(LABEL_UID) == uid and c.state == ContainerState.RUNNING for c in self.runtime.list_containers()
        )

    def _poke(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            w.poke()

    def _probe_failed(self, uid: str, container: str, kind: str, output: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            what = {"livenessProbe": "Liveness", "readinessProbe": "Readiness", "startupProbe": "Startup"}[kind]
            w.event("Unhealthy", f"{what} probe failed: {output}".strip(), "Warning", f"spec.containers{{{container}}}")

    def _on_container_event(self, ev: ContainerEvent) -> None:
        self._poke(ev.pod_uid)

    def _uid_of(self, namespace: str, name: str) -> str | None:
        pod = self.informer.get_by(namespace, name)
        return str((pod.get("metadata") or {}).get("uid", "")) if pod is not None else None

    def _api_status(self, uid: str) -> Obj | None:
        w = self.workers.get(uid)
        return (w.pod.get("status") or {}) if w is not None else None

    def pod_log_dir(self, pod: Obj) -> Path:
        m = pod.get("metadata") or {}
        return self.config.data_dir / "logs" / f"{m.get('namespace')}_{m.get('name')}_{m.get('uid')}"

    def pod_by_name(self, namespace: str, name: str) -> Obj | None:
        return self.informer.get_by(namespace, name)

    def cluster_dns(self) -> list[str]:
        return list(self.config.cluster_dns) if self.config.cluster_dns is not None else list(self._dns)

    async def refresh_cluster_dns(self) -> None:
        """The kube-dns Service's cluster IP (upstream passes it as --cluster-dns; here the API says where it is)."""
        if self.config.cluster_dns is not None:
            return
        try:
            svc = await self.client.get(resource_path("", "v1", "services", namespace="kube-system", name="kube-dns"))
        except ApiError as e:
            if e.status == 404:
                self._dns = []
            return
        ip = str((svc.get("spec") or {}).get("clusterIP") or "")
        self._dns = [ip] if ip and ip != "None" else []

    # ------------------------------------------------------------------ API reads
    async def get_object(self, kind: str, namespace: str, name: str) -> Obj | None:
        """A ConfigMap or Secret (None if absent), cached for a second so many pods share one read."""
        key = (kind, namespace, name)
        hit = self._objects.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < OBJECT_TTL:
            return hit[1]
        try:
            obj: Obj | None = await self.client.get(resource_path("", "v1", kind, namespace=namespace, name=name))
        except ApiError as e:
            if e.status != 404:
                raise
            obj = None
        self._objects[key] = (now, obj)
        if len(self._objects) > 4096:
            self._objects = {k: v for k, v in self._objects.items() if now - v[0] < OBJECT_TTL}
        return obj

    async def _token(self, pod: Obj, projection: Obj) -> str:
        """A service account token from the TokenRequest API, or a placeholder while the API has none."""
        meta = pod.get("metadata") or {}
        sa = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        aud = str(projection.get("audience") or "")
        key = (str(meta.get("uid")), aud)
        hit = self._tokens.get(key)
        if hit is not None and hit[0] > time.time():
            return hit[1]
        expiry = int(projection.get("expirationSeconds") or 3607)
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [aud] if aud else [],
                "expirationSeconds": expiry,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta.get("name"), "uid": meta.get("uid")},
            },
        }
        token = "kybernetes-placeholder-token"
        try:
            path = resource_path("", "v1", "serviceaccounts", namespace=str(meta.get("namespace")), name=sa,
                                 subresource="token")
            res = await self.client.create(path, body)
            token = str((res.get("status") or {}).get("token") or token)
        except ApiError as e:
            log.debug("TokenRequest for %s failed (%s); using a placeholder token", sa, e)
        self._tokens[key] = (time.time() + expiry * 0.8 if token != "kybernetes-placeholder-token" else time.time() + 60, token)
        return token

    def forget_tokens(self, uid: str) -> None:
        for k in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[k]

    # ------------------------------------------------------------------ loops
    async def _relist_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.relist_interval)
            try:
                await self.runtime.relist()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relist failed")

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            try:
                await self.housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed")

    async def housekeeping(self) -> None:
        """Remove what the runtime runs for pods that neither the API nor a worker knows any more."""
        janitor = getattr(self.runtime, "janitor", None)
        if janitor is not None:
            await janitor()
        with contextlib.suppress(Exception):
            await self.refresh_cluster_dns()
        known = {str((p.get("metadata") or {}).get("uid")) for p in self.informer.list()} | set(self.workers)
        for s in self.runtime.list_pod_sandboxes():
            if s.uid not in known:
                log.info("removing sandbox of orphaned pod %s/%s", s.namespace, s.name)
                await self.runtime.remove_pod_sandbox(s.id)
        for c in self.runtime.list_containers():
            uid = c.labels.get(LABEL_UID, "")
            if uid not in known:
                await self.runtime.remove_container(c.id)
        for uid in self.volumes.known_pods():
            if uid not in known:
                await self.volumes.teardown(uid)
        logs = self.config.data_dir / "logs"
        for d in await asyncio.to_thread(lambda: list(logs.iterdir()) if logs.is_dir() else []):
            if d.name.rsplit("_", 1)[-1] not in known:
                await asyncio.to_thread(_rmtree, d)
        self._objects.clear()


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)
