"""The kubelet as a `StreamingRuntime`: what its HTTPS server (kybernetes.streaming.kubeletserver) serves.

Pod and container names are resolved through the kubelet's own view (its pod informer and the runtime's container
records); the byte work is the runtime's (exec, attach, port-forward) or the CRI log reader's (logs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from kybernetes.kubelet.runtime.api import ContainerState, ContainerStatus
from kybernetes.kubelet.stats import StatsProvider
from kybernetes.streaming.crilog import read_log
from kybernetes.streaming.runtime_api import (
    ContainerNotFound,
    ContainerNotRunning,
    InputStream,
    LogOptions,
    OutputStream,
    PodNotFound,
    PortForwardError,
    ResizeQueue,
)

if TYPE_CHECKING:
    from kybernetes.kubelet.kubelet import Kubelet
    from kybernetes.kubelet.pod_worker import PodWorker


class KubeletStreamingRuntime:
    def __init__(self, kubelet: Kubelet) -> None:
        self.k = kubelet
        self.stats = StatsProvider(kubelet)

    def find_pod(self, namespace: str, name: str) -> str | None:
        pod = self.k.pod_by_name(namespace, name)
        if pod is None:
            return None
        return str((pod.get("metadata") or {}).get("uid", "")) or None

    def _worker(self, pod_uid: str) -> PodWorker:
        w = self.k.workers.get(pod_uid)
        if w is None:
            raise PodNotFound(f"pod with uid {pod_uid} not found on this node")
        return w

    def _instances(self, pod_uid: str, container: str) -> tuple[PodWorker, list[ContainerStatus]]:
        w = self._worker(pod_uid)
        spec = w.pod.get("spec") or {}
        names = [c.get("name") for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
                                         *(spec.get("ephemeralContainers") or [])]]
        if container not in names:
            raise ContainerNotFound(f'container "{container}" in pod "{w.name}" is not valid')
        return w, w.instances().get(container) or []

    def _running(self, pod_uid: str, container: str) -> str:
        w, inst = self._instances(pod_uid, container)
        if not inst or inst[-1].state != ContainerState.RUNNING:
            raise ContainerNotRunning(f"container {container} is not running in pod {w.name}")
        return inst[-1].id

    async def exec(
        self,
        pod_uid: str,
        container: str,
        cmd: Sequence[str],
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> int:
        cid = self._running(pod_uid, container)
        return await self.k.runtime.exec(cid, cmd, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty, resize=resize)

    async def attach(
        self,
        pod_uid: str,
        container: str,
        *,
        stdin: InputStream | None,
        stdout: OutputStream | None,
        stderr: OutputStream | None,
        tty: bool,
        resize: ResizeQueue | None,
    ) -> None:
        cid = self._running(pod_uid, container)
        await self.k.runtime.attach(cid, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty, resize=resize)

    async def port_forward(self, pod_uid: str, port: int) -> Any:
        w = self._worker(pod_uid)
        sb = w.sandbox()
        if sb is None:
            raise PortForwardError(f"pod {w.name} has no running sandbox")
        return await self.k.runtime.port_forward(sb[0], port)

    async def logs(self, pod_uid: str, container: str, options: LogOptions) -> AsyncIterator[bytes]:
        w, inst = self._instances(pod_uid, container)
        if options.previous:
            if len(inst) < 2:
                raise ContainerNotFound(f'previous terminated container "{container}" in pod "{w.name}" not found')
            target = inst[-2]
        else:
            if not inst:
                reason = w.view(container).waiting_reason or "ContainerCreating"
                raise ContainerNotRunning(f'container "{container}" in pod "{w.name}" is waiting to start: {reason}')
            target = inst[-1]
        runtime = self.k.runtime

        def running() -> bool:
            st = runtime.container_status(target.id)
            return st is not None and st.state == ContainerState.RUNNING

        async for chunk in read_log(target.log_path, options, running):
            yield chunk

    def pods(self) -> list[dict[str, Any]]:
        return [w.pod for w in self.k.workers.values()]

    async def stats_summary(self) -> dict[str, Any]:
        return self.stats.summary()
