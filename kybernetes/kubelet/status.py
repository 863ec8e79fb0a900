"""Pod status: computed from the runtime's containers and the probes (pure functions), written by one manager.

`pod_status` mirrors upstream's generateAPIPodStatus/getPhase: container states with last states and restart counts,
readiness from probes, the pod phase from the containers and the restart policy, the five pod conditions with
stable transition times. `StatusManager` is the only writer of pods/status: it patches (strategic merge, so other
components' conditions survive) only when the computed status differs from what the API server holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kybernetes.client.rest import STRATEGIC_PATCH, ApiError, Client, resource_path
from kybernetes.kubelet.runtime.api import ContainerState, ContainerStatus

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ID_SCHEME = "process://"


def rfc3339(ns: int | float) -> str:
    secs = ns / 1e9 if ns > 1e12 else ns
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    return rfc3339(time.time())


@dataclass
class ContainerView:
    """What the worker knows about one container name beyond the runtime: why it waits, probe results."""

    waiting_reason: str = ""
    waiting_message: str = ""
    ready: bool = False
    started: bool = False
    termination_message: dict[str, str] = field(default_factory=dict)
    """container id -> termination message read when it exited."""
    termination_reason: dict[str, str] = field(default_factory=dict)
    """container id -> a reason the kubelet knows better than the runtime (PostStartHookError)."""
    backoff_reported: str = ""


@dataclass
class PodView:
    pod: Obj
    instances: dict[str, list[ContainerStatus]]
    """container name -> its instances in the runtime, oldest attempt first."""
    views: dict[str, ContainerView]
    sandbox_ready: bool
    pod_ip: str
    host_ip: str
    start_time: str | None
    terminal_reason: str = ""
    terminal_message: str = ""
    terminating: bool = False


def _terminated(c: ContainerStatus, message: str = "", reason: str = "") -> Obj:
    t: Obj = {
        "exitCode": c.exit_code,
        "reason": reason or c.reason or ("Completed" if c.exit_code == 0 else "Error"),
        "startedAt": rfc3339(c.started_at) if c.started_at else None,
        "finishedAt": rfc3339(c.finished_at) if c.finished_at else None,
        "containerID": ID_SCHEME + c.id,
    }
    if c.exit_code > 128 and c.reason != "StartError":
        t["signal"] = c.exit_code - 128
    msg = message or c.message
    if msg:
        t["message"] = msg
    return t


def container_status(spec: Obj, instances: list[ContainerStatus], view: ContainerView, default_wait: str) -> Obj:
    name = str(spec.get("name", ""))
    cur = instances[-1] if instances else None
    prev = instances[-2] if len(instances) > 1 else None
    st: Obj = {
        "name": name,
        "image": str(spec.get("image", "")),
        "imageID": "",
        "ready": False,
        "restartCount": cur.attempt if cur else 0,
        "started": False,
        "state": {},
        "lastState": {},
    }
    if cur is None:
        st["state"] = {"waiting": {"reason": view.waiting_reason or default_wait}}
        if view.waiting_message:
            st["state"]["waiting"]["message"] = view.waiting_message
        return st
    st["containerID"] = ID_SCHEME + cur.id
    if cur.state == ContainerState.RUNNING:
        st["state"] = {"running": {"startedAt": rfc3339(cur.started_at)}}
        st["ready"] = view.ready
        st["started"] = view.started
        if prev is not None:
            st["lastState"] = {"terminated": _terminated(prev, view.termination_message.get(prev.id, ""), view.termination_reason.get(prev.id, ""))}
    elif cur.state == ContainerState.EXITED:
        term = _terminated(cur, view.termination_message.get(cur.id, ""), view.termination_reason.get(cur.id, ""))
        if view.waiting_reason:
            w: Obj = {"reason": view.waiting_reason}
            if view.waiting_message:
                w["message"] = view.waiting_message
            st["state"] = {"waiting": w}
            st["lastState"] = {"terminated": term}
        else:
            st["state"] = {"terminated": term}
            if prev is not None:
                st["lastState"] = {"terminated": _terminated(prev, view.termination_message.get(prev.id, ""), view.termination_reason.get(prev.id, ""))}
    else:
        st["state"] = {"waiting": {"reason": view.waiting_reason or "ContainerCreating"}}
    return st


def _is_sidecar(spec: Obj) -> bool:
    return spec.get("restartPolicy") == "Always"


def init_done(pv: PodView) -> tuple[bool, list[str]]:
    """Whether every init container has succeeded (sidecars: started); the names still pending."""
    pending: list[str] = []
    for c in (pv.pod.get("spec") or {}).get("initContainers") or []:
        inst = pv.instances.get(c["name"]) or []
        cur = inst[-1] if inst else None
        if _is_sidecar(c):
            if not (cur and cur.state == ContainerState.RUNNING and pv.views.get(c["name"], ContainerView()).started):
                # A sidecar that ran once counts as initialized even while it restarts.
                if not any(i.state != ContainerState.CREATED for i in inst):
                    pending.append(c["name"])
            continue
        if not any(i.state == ContainerState.EXITED and i.exit_code == 0 for i in inst):
            pending.append(c["name"])
    return not pending, pending


def init_failed(pv: PodView) -> bool:
    """restartPolicy Never and an init container failed: the pod can never start."""
    if (pv.pod.get("spec") or {}).get("restartPolicy", "Always") != "Never":
        return False
    for c in (pv.pod.get("spec") or {}).get("initContainers") or []:
        inst = pv.instances.get(c["name"]) or []
        if inst and inst[-1].state == ContainerState.EXITED and inst[-1].exit_code != 0 and not _is_sidecar(c):
            return True
    return False


def phase(pv: PodView) -> str:
    spec = pv.pod.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    if pv.terminal_reason:
        return "Failed"
    if init_failed(pv):
        return "Failed"
    done, _ = init_done(pv)
    if not done:
        return "Pending"
    running = waiting = stopped = succeeded = 0
    for c in spec.get("containers") or []:
        inst = pv.instances.get(c["name"]) or []
        cur = inst[-1] if inst else None
        if cur is None or cur.state == ContainerState.CREATED:
            waiting += 1
        elif cur.state == ContainerState.RUNNING:
            running += 1
        else:
            stopped += 1
            if cur.exit_code == 0:
                succeeded += 1
    if waiting > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if policy == "Always" and not pv.terminating:
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never" or pv.terminating:
            return "Failed"
        return "Running"
    return "Pending"


def _cond(t: str, ok: bool, reason: str = "", message: str = "", previous: Mapping[str, Obj] | None = None) -> Obj:
    status = "True" if ok else "False"
    prev = (previous or {}).get(t)
    c: Obj = {"type": t, "status": status, "lastProbeTime": None}
    c["lastTransitionTime"] = prev.get("lastTransitionTime") if prev and prev.get("status") == status else now()
    # Explicit nulls: the strategic merge patch merges conditions by type, so absent keys would survive.
    c["reason"] = reason or None
    c["message"] = message or None
    return c


def pod_status(pv: PodView, previous: Obj | None) -> Obj:
    spec = pv.pod.get("spec") or {}
    prev_conds = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    ph = phase(pv)
    init_ok, pending = init_done(pv)
    inits = [
        container_status(c, pv.instances.get(c["name"]) or [], pv.views.get(c["name"], ContainerView()), "PodInitializing")
        for c in spec.get("initContainers") or []
    ]
    apps = [
        container_status(
            c, pv.instances.get(c["name"]) or [], pv.views.get(c["name"], ContainerView()),
            "ContainerCreating" if init_ok else "PodInitializing",
        )
        for c in spec.get("containers") or []
    ]
    # An init container that has finished is not "ready" upstream unless it is a running sidecar.
    for st, c in zip(inits, spec.get("initContainers") or [], strict=False):
        if not _is_sidecar(c):
            st["ready"] = "terminated" in st["state"] and st["state"]["terminated"].get("exitCode") == 0
    unready = [s["name"] for s in apps if not s["ready"]]
    terminal = ph in ("Succeeded", "Failed")
    conds = [
        _cond("PodReadyToStartContainers", pv.sandbox_ready, previous=prev_conds),
        _cond(
            "Initialized",
            init_ok or (terminal and not pending),
            "" if init_ok else "ContainersNotInitialized",
            "" if init_ok else f"containers with incomplete status: [{' '.join(pending)}]",
            prev_conds,
        ),
    ]
    if terminal:
        conds.append(_cond("Ready", False, "PodCompleted", previous=prev_conds))
        conds.append(_cond("ContainersReady", False, "PodCompleted", previous=prev_conds))
    else:
        msg = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
        gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
        gate_missing = [g for g in gates if (prev_conds.get(g) or {}).get("status") != "True"]
        ready_ok = not unready and not gate_missing
        ready_reason = "" if ready_ok else ("ContainersNotReady" if unready else "ReadinessGatesNotReady")
        ready_msg = msg if unready else (
            f"corresponding condition of pod readiness gate \"{gate_missing[0]}\" does not exist." if gate_missing else ""
        )
        conds.append(_cond("Ready", ready_ok, ready_reason, ready_msg, prev_conds))
        conds.append(_cond("ContainersReady", not unready, "" if not unready else "ContainersNotReady", msg, prev_conds))
    sched = prev_conds.get("PodScheduled")
    conds.append(sched if sched else _cond("PodScheduled", True, previous=prev_conds))
    status: Obj = {
        "phase": ph,
        "conditions": conds,
        "hostIP": pv.host_ip,
        "hostIPs": [{"ip": pv.host_ip}],
        "containerStatuses": apps,
    }
    if inits:
        status["initContainerStatuses"] = inits
    if pv.pod_ip:
        status["podIP"] = pv.pod_ip
        status["podIPs"] = [{"ip": pv.pod_ip}]
    if pv.start_time:
        status["startTime"] = pv.start_time
    status["reason"] = pv.terminal_reason or None
    status["message"] = pv.terminal_message or None
    return status


_VOLATILE = ("lastProbeTime", "lastHeartbeatTime")


def _normalize(status: Obj) -> Obj:
    out = {k: v for k, v in status.items() if k not in ("qosClass", "nominatedNodeName", "resize") and v is not None}
    out["conditions"] = sorted(
        (
            {k: v for k, v in c.items() if k not in _VOLATILE and v is not None}
            for c in status.get("conditions") or []
        ),
        key=lambda c: str(c.get("type")),
    )
    return out


def same_status(ours: Obj, theirs: Obj) -> bool:
    """Whether the API already holds `ours` (conditions we do not manage are ignored)."""
    mine = _normalize(ours)
    api = _normalize(theirs)
    types = {c["type"] for c in mine["conditions"]}
    api["conditions"] = [c for c in api["conditions"] if c.get("type") in types]
    return all(api.get(k) == mine.get(k) for k in ours)


class StatusManager:
    """The single writer of pods/status for this node, coalescing updates per pod."""

    def __init__(
        self,
        client: Client,
        api_status: Callable[[str], Obj | None],
        concurrency: int = 16,
        current_uid: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.client = client
        self.api_status = api_status
        self.current_uid = current_uid
        """namespace, name -> uid of the pod the API has under that name now (None: unknown)."""
        self._pending: dict[str, tuple[str, str, Obj]] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._sem = asyncio.Semaphore(concurrency)
        self._sent: dict[str, Obj] = {}

    def set(self, uid: str, namespace: str, name: str, status: Obj) -> None:
        current = self.api_status(uid)
        last = self._sent.get(uid)
        if last is not None and same_status(status, last) and uid not in self._pending:
            return
        if last is None and current is not None and same_status(status, current):
            return
        self._pending[uid] = (namespace, name, status)
        if uid not in self._inflight:
            self._inflight[uid] = asyncio.create_task(self._write(uid), name=f"status {name}")

    async def _write(self, uid: str) -> None:
        try:
            while uid in self._pending:
                namespace, name, status = self._pending.pop(uid)
                async with self._sem:
                    await self._patch(uid, namespace, name, status)
        finally:
            self._inflight.pop(uid, None)

    async def _patch(self, uid: str, namespace: str, name: str, status: Obj) -> None:
        path = resource_path("", "v1", "pods", namespace=namespace, name=name, subresource="status")
        for attempt in range(5):
            if self.current_uid is not None and self.current_uid(namespace, name) not in (uid, None):
                return  # a new pod took the name: this status is not its (metadata.uid also says so to the API)
            try:
                t = time.perf_counter()
                await self.client.patch(path, {"metadata": {"uid": uid}, "status": status}, content_type=STRATEGIC_PATCH)
                log.debug("pod %s/%s: status patched in %.1f ms", namespace, name, (time.perf_counter() - t) * 1000)
                self._sent[uid] = status
                return
            except ApiError as e:
                if e.status == 404:
                    return
                if e.status == 409 and "uid" in str(e).lower():
                    return
                log.warning("status of pod %s/%s: %s", namespace, name, e)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("status of pod %s/%s: %s", namespace, name, e)
            await asyncio.sleep(0.2 * 2**attempt)

    async def flush(self, uid: str, timeout: float = 10.0) -> None:
        t = self._inflight.get(uid)
        if t is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(t), timeout)

    def forget(self, uid: str) -> None:
        self._sent.pop(uid, None)
        self._pending.pop(uid, None)

    async def close(self) -> None:
        for t in list(self._inflight.values()):
            t.cancel()
        for t in list(self._inflight.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
