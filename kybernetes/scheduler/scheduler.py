"""The scheduler component: informers feed the cache and the queue; one loop makes decisions; bindings are async.

It is a pure API client (`kyb server` runs it in-process, but it talks HTTPS with its own token). Informers on
pods, nodes, namespaces, PriorityClasses and PodDisruptionBudgets keep the cache current; a pod is ours when it
is unassigned, not terminal, not being deleted and names our schedulerName (empty counts as
"default-scheduler": the API server does not default it).

Each decision is synchronous (no await between reading the cache and assuming the pod), so the cache needs no
snapshot; the binding POST, the status patch and the events run as tasks, bounded by a semaphore, so the next
decision does not wait for the previous HTTP round trip. Upstream's PodScheduled=False condition and
FailedScheduling event carry the "0/N nodes are available: ..." message.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from kybernetes.client.informer import Handlers, Informer
from kybernetes.client.rest import STRATEGIC_PATCH, ApiError, Client, resource_path
from kybernetes.machinery.meta import now_rfc3339
from kybernetes.machinery.selectors import LabelSelector, Requirement, selector_from_object
from kybernetes.scheduler.algorithm import Algorithm, Decision
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.events import EventRecorder
from kybernetes.scheduler.framework import Code, CycleState, Framework, Handle, Plugin, Status
from kybernetes.scheduler.plugins import DEFAULT_PLUGINS, DEFAULT_WEIGHTS, REGISTRY
from kybernetes.scheduler.podinfo import DEFAULT_SCHEDULER, PodInfo
from kybernetes.scheduler.queue import QueuedPod, SchedulingQueue

log = logging.getLogger(__name__)
Obj = dict[str, Any]

SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

# Which rejections a cluster event can cure (a simplified form of upstream's queueing hints).
POD_DELETED_HELPS = ("NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread", "DefaultPreemption")
POD_ADDED_HELPS = ("InterPodAffinity", "PodTopologySpread")


def build_framework(handle: Handle, scheduler_name: str = DEFAULT_SCHEDULER, plugins: Sequence[str] | None = None,
                    weights: Mapping[str, int] | None = None, percentage_of_nodes_to_score: int = 0,
                    plugin_args: Mapping[str, Mapping[str, Any]] | None = None) -> Framework:
    """A profile: plugins chosen by name from the registry, in registry order."""
    names = list(plugins) if plugins is not None else DEFAULT_PLUGINS
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown scheduler plugins: {unknown}")
    args = plugin_args or {}
    chosen: list[Plugin] = [REGISTRY[n](handle, args.get(n)) for n in REGISTRY if n in names]
    w = dict(DEFAULT_WEIGHTS)
    w.update(weights or {})
    return Framework(handle, chosen, w, scheduler_name, percentage_of_nodes_to_score)


class Metrics:
    def __init__(self) -> None:
        self.attempts = 0
        self.scheduled = 0
        self.unschedulable = 0
        self.errors = 0
        self.preemptions = 0
        self.algorithm_seconds = 0.0
        self.bind_seconds = 0.0


class Scheduler:
    def __init__(
        self,
        client: Client,
        *,
        scheduler_name: str = DEFAULT_SCHEDULER,
        plugins: Sequence[str] | None = None,
        weights: Mapping[str, int] | None = None,
        percentage_of_nodes_to_score: int = 0,
        bind_concurrency: int = 128,
        leader_elect: bool = False,
        leader_election: Mapping[str, Any] | None = None,
        tune_gc: bool = False,
    ) -> None:
        self.client = client
        self.scheduler_name = scheduler_name
        self._profile = (plugins, weights, percentage_of_nodes_to_score)
        self._bind_concurrency = bind_concurrency
        self.metrics = Metrics()
        self.leader_elect = leader_elect
        self.leader_election = dict(leader_election or {})  # LeaderElector options (lease_duration, ...)
        self.tune_gc = tune_gc
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._elector: Any = None
        self._running = False
        self._build()

    def _build(self) -> None:
        """Fresh cache, queue, informers and plugins (again after each lost leadership term)."""
        client = self.client
        plugins, weights, percentage = self._profile
        self.cache = Cache()
        self.queue = SchedulingQueue()
        self.handle = Handle(self.cache, client=client)
        self.framework = build_framework(self.handle, self.scheduler_name, plugins, weights, percentage)
        self.algorithm = Algorithm(self.framework)
        self.recorder = EventRecorder(client, component=self.scheduler_name, idle=self.queue.idle)
        self._bind_slots = asyncio.Semaphore(self._bind_concurrency)
        self.priority_values: dict[str, int] = {}
        self.default_priority = 0
        self.pods = Informer(client, "", "v1", "pods")
        self.nodes = Informer(client, "", "v1", "nodes")
        self.namespaces = Informer(client, "", "v1", "namespaces")
        self.priority_classes = Informer(client, "scheduling.k8s.io", "v1", "priorityclasses")
        self.pdbs = Informer(client, "policy", "v1", "poddisruptionbudgets")
        self.handle.pdb_lister = lambda: list(self.pdbs.store.values())
        # For the system default spreading: what selects a pod (Services, its controller).
        self.services = Informer(client, "", "v1", "services")
        self.rcs = Informer(client, "", "v1", "replicationcontrollers")
        self.replicasets = Informer(client, "apps", "v1", "replicasets")
        self.statefulsets = Informer(client, "apps", "v1", "statefulsets")
        self.handle.default_selector = self.default_selector
        self.synced = asyncio.Event()
        self._wire()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Returns at once; informers sync and the loop starts in the background (after winning the Lease
        when leader election is on)."""
        if self.leader_elect:
            from kybernetes.client.leaderelection import LeaderElector

            opts: dict[str, Any] = {"name": "kube-scheduler", **self.leader_election}
            self._elector = LeaderElector(self.client, on_started_leading=self._run_components,
                                          on_stopped_leading=self._stop_components, **opts)
            await self._elector.start()
        else:
            await self._run_components()

    @property
    def is_active(self) -> bool:
        """Scheduling now (always, unless leader election is on and another instance holds the Lease)."""
        return self._running

    async def _run_components(self) -> None:
        if self._loop_task is not None or self.queue.closed:
            self._build()
        self._running = True
        self.recorder.start()
        for inf in self._informers():
            await inf.start()
        self._loop_task = asyncio.create_task(self._run(), name="scheduler")

    async def _stop_components(self) -> None:
        self._running = False
        self.queue.close()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
            self._loop_task = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for inf in reversed(self._informers()):
            await inf.stop()
        await self.recorder.stop()

    async def stop(self) -> None:
        if self._elector is not None:
            await self._elector.stop()
        await self._stop_components()

    async def wait_synced(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    # ------------------------------------------------------------- informers
    def _wire(self) -> None:
        self.pods.add_handlers(Handlers(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handlers(Handlers(self._node_added, self._node_updated, self._node_deleted))
        self.namespaces.add_handlers(Handlers(self._ns_changed, lambda o, n: self._ns_changed(n), self._ns_deleted))
        self.priority_classes.add_handlers(Handlers(self._pc_changed, lambda o, n: self._pc_changed(n), self._pc_deleted))

    def _informers(self) -> list[Informer]:
        return [self.priority_classes, self.namespaces, self.pdbs, self.services, self.rcs, self.replicasets,
                self.statefulsets, self.nodes, self.pods]

    def default_selector(self, p: PodInfo) -> LabelSelector | None:
        """upstream helper.DefaultSelector: the merged selectors of the Services selecting the pod and of its
        controlling ReplicationController / ReplicaSet / StatefulSet."""
        match: dict[str, str] = {}
        for svc in self.services.by_index("namespace", p.namespace):
            sel = (svc.get("spec") or {}).get("selector") or {}
            if sel and all(p.labels.get(k) == v for k, v in sel.items()):
                match.update(sel)
        extra: tuple[Requirement, ...] = ()
        owner = next((o for o in (p.pod.get("metadata") or {}).get("ownerReferences") or () if o.get("controller")), None)
        if owner is not None:
            kind, api, name = owner.get("kind"), owner.get("apiVersion"), str(owner.get("name") or "")
            if kind == "ReplicationController" and api == "v1":
                rc = self.rcs.get_by(p.namespace, name)
                if rc is not None:
                    match.update((rc.get("spec") or {}).get("selector") or {})
            elif kind in ("ReplicaSet", "StatefulSet") and api == "apps/v1":
                obj = (self.replicasets if kind == "ReplicaSet" else self.statefulsets).get_by(p.namespace, name)
                if obj is not None:
                    with contextlib.suppress(ValueError):
                        extra = selector_from_object((obj.get("spec") or {}).get("selector")).requirements
        if not match and not extra:
            return None
        return LabelSelector((*selector_from_object({"matchLabels": match}).requirements, *extra))

    def priority_of(self, pod: Obj) -> int:
        spec = pod.get("spec") or {}
        if spec.get("priority") is not None:
            return int(spec["priority"])
        name = spec.get("priorityClassName")
        if name:
            if name in self.priority_values:
                return self.priority_values[name]
            return SYSTEM_PRIORITIES.get(str(name), self.default_priority)
        return self.default_priority

    def _ours(self, p: PodInfo) -> bool:
        return p.scheduler_name == self.scheduler_name and not p.node_name and not p.terminal and not p.deleting

    def _pod_added(self, pod: Obj) -> None:
        p = PodInfo(pod, self.priority_of(pod))
        if p.node_name:
            self.cache.add_or_update_pod(p)
            self.queue.move_all(POD_ADDED_HELPS)
        elif self._ours(p):
            if p.nominated_node:
                self.handle.nominator.add(p, p.nominated_node)
            if p.gated:
                self._spawn(self._report_gated(p))
            else:
                self.queue.add(p)

    def _pod_updated(self, old: Obj, pod: Obj) -> None:
        if not (old.get("spec") or {}).get("nodeName") and self.cache.confirm(pod):
            key = self.cache_key(pod)
            self.queue.delete(key)
            self.handle.nominator.remove(key)
            self.queue.move_all(POD_ADDED_HELPS)
            return
        p = PodInfo(pod, self.priority_of(pod))
        if p.node_name:
            key = p.key
            self.queue.delete(key)
            self.handle.nominator.remove(key)
            was_assigned = bool((old.get("spec") or {}).get("nodeName"))
            if p.terminal:
                if self.cache.remove_pod(key) is not None:
                    self.queue.move_all(POD_DELETED_HELPS)
                return
            self.cache.add_or_update_pod(p)
            if not was_assigned or (old.get("metadata") or {}).get("labels") != p.labels:
                self.queue.move_all(POD_ADDED_HELPS)
            return
        if self._ours(p):
            if p.nominated_node:
                self.handle.nominator.add(p, p.nominated_node)
            if p.gated:
                self._spawn(self._report_gated(p))
            else:
                self.queue.update(p)
        else:
            self.queue.delete(p.key)
            self.handle.nominator.remove(p.key)

    @staticmethod
    def cache_key(pod: Obj) -> str:
        meta = pod.get("metadata") or {}
        return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"

    def _pod_deleted(self, pod: Obj) -> None:
        key = self.cache_key(pod)
        self.queue.delete(key)
        self.handle.nominator.remove(key)
        if self.cache.remove_pod(key) is not None:
            self.queue.move_all(POD_DELETED_HELPS)

    def _node_added(self, node: Obj) -> None:
        self.cache.set_node(node)
        self.queue.move_all()

    def _node_updated(self, old: Obj, node: Obj) -> None:
        self.cache.set_node(node)
        if _node_scheduling_changed(old, node):
            self.queue.move_all()

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(str((node.get("metadata") or {}).get("name") or ""))

    def _ns_changed(self, ns: Obj) -> None:
        meta = ns.get("metadata") or {}
        name = str(meta.get("name") or "")
        labels = dict(meta.get("labels") or {})
        if self.cache.namespaces.get(name) != labels:
            self.cache.namespaces[name] = labels
            self.queue.move_all(("InterPodAffinity",))

    def _ns_deleted(self, ns: Obj) -> None:
        self.cache.namespaces.pop(str((ns.get("metadata") or {}).get("name") or ""), None)

    def _pc_changed(self, pc: Obj) -> None:
        name = str((pc.get("metadata") or {}).get("name") or "")
        self.priority_values[name] = int(pc.get("value") or 0)
        self._recompute_default_priority()

    def _pc_deleted(self, pc: Obj) -> None:
        self.priority_values.pop(str((pc.get("metadata") or {}).get("name") or ""), None)
        self._recompute_default_priority()

    def _recompute_default_priority(self) -> None:
        defaults = [int(pc.get("value") or 0) for pc in self.priority_classes.store.values() if pc.get("globalDefault")]
        self.default_priority = min(defaults) if defaults else 0

    # ------------------------------------------------------------------ loop
    async def _run(self) -> None:
        for inf in self._informers():
            while True:
                try:
                    await inf.wait_synced(timeout=30)
                    break
                except TimeoutError:
                    log.warning("scheduler: still waiting for the %s informer to sync", inf.path)
        if self.tune_gc:
            # Informer caches are long-lived and acyclic (freed by reference counting): freeze what the sync
            # loaded and collect young objects far less often. Process-wide, so only on request.
            gc.freeze()
            gc.set_threshold(50_000, 50, 100)
        self.synced.set()
        log.info("scheduler %s: caches synced (%d nodes, %d pods queued)", self.scheduler_name,
                 len(self.cache.nodes), len(self.queue))
        while True:
            await self._bind_slots.acquire()
            qp = await self.queue.pop()
            if qp is None:
                self._bind_slots.release()
                return
            try:
                self.schedule_one(qp)
            except Exception:
                log.exception("scheduling %s failed", qp.pod.key)
                self._bind_slots.release()
                self.metrics.errors += 1
                self.queue.add_backoff(qp)
            await asyncio.sleep(0)

    def explain(self, pod: Obj) -> Decision:
        """Where would this pod go now, and why not elsewhere: every evaluated node's verdict and each plugin's
        scores, without assuming or binding anything (what a `why` command shows)."""
        p = PodInfo(pod, self.priority_of(pod))
        return Algorithm(self.framework).schedule(CycleState(), p, explain=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        t = asyncio.create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def schedule_one(self, qp: QueuedPod) -> None:
        """One scheduling cycle. Owns one bind slot, released when the binding (or the failure) is done."""
        pod = qp.pod
        self.metrics.attempts += 1
        current = self.pods.get(pod.key)
        if current is None or (current.get("metadata") or {}).get("uid") != pod.uid or not self._ours(pod):
            self.queue.done(pod.key)
            self._bind_slots.release()
            return
        fw = self.framework
        state = CycleState()
        t0 = time.perf_counter()
        d = self.algorithm.schedule(state, pod)
        if d.ok:
            assumed = self.cache.assume(pod, d.node)
            st = fw.run_reserve(state, assumed, d.node)
            self.metrics.algorithm_seconds += time.perf_counter() - t0
            if st is not None:
                self.cache.forget(assumed)
                self._fail(qp, d, st.message)
                return
            self.handle.nominator.remove(pod.key)
            self._spawn(self._bind(qp, state, assumed, d.node))
            return
        post_msg = ""
        nominated = ""
        if fw.post_filter and d.num_nodes and (d.pre_filter is None or d.pre_filter.code in (Code.UNSCHEDULABLE, Code.UNRESOLVABLE)):
            result, st = fw.run_post_filter(state, pod, d.failed)
            if st is not None:
                post_msg = st.message
            if result is not None and result.nominated_node:
                nominated = result.nominated_node
                self.handle.nominator.add(pod, nominated)
                self.metrics.preemptions += 1
                self._spawn(self._preempt(pod, nominated, result.victims))
        self.metrics.algorithm_seconds += time.perf_counter() - t0
        clear = not nominated and post_msg != ""
        if clear:
            self.handle.nominator.remove(pod.key)
        self._fail(qp, d, d.message(post_msg), nominated, clear_nominated=clear)

    def _fail(self, qp: QueuedPod, d: Decision | None, message: str, nominated: str = "", clear_nominated: bool = False) -> None:
        self.metrics.unschedulable += 1
        plugins = d.unschedulable_plugins() if d is not None else set()
        self.queue.add_unschedulable(qp, plugins)
        self._bind_slots.release()
        self._spawn(self._report_failure(qp.pod, message, nominated, clear_nominated))

    # -------------------------------------------------------------- API side
    async def _bind(self, qp: QueuedPod, state: CycleState, pod: PodInfo, node: str) -> None:
        t0 = time.perf_counter()
        try:
            st = await self.framework.run_bind(state, pod, node)
        except Exception as e:  # network trouble: treat like a rejected binding
            st = Status(Code.ERROR, (f"binding failed: {e}",))
        finally:
            self.metrics.bind_seconds += time.perf_counter() - t0
            self._bind_slots.release()
        if st is None:
            self.queue.done(pod.key)
            self.metrics.scheduled += 1
            self.recorder.event(pod.pod, "Normal", "Scheduled", "Binding", f"Successfully assigned {pod.key} to {node}")
            return
        self.cache.forget(pod)
        self.framework.run_unreserve(state, pod, node)
        self.metrics.errors += 1
        log.info("binding %s to %s failed: %s", pod.key, node, st.message)
        self.queue.add_backoff(qp)
        if self.pods.get(pod.key) is not None:
            self.recorder.event(pod.pod, "Warning", "FailedScheduling", "Scheduling", st.message)

    async def _report_failure(self, pod: PodInfo, message: str, nominated: str, clear_nominated: bool) -> None:
        """PodScheduled=False/Unschedulable (only when it changed) and a FailedScheduling event."""
        self.recorder.event(pod.pod, "Warning", "FailedScheduling", "Scheduling", message)
        status = pod.pod.get("status") or {}
        cond = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
        want_nominated = nominated or ("" if clear_nominated else pod.nominated_node)
        if (cond is not None and cond.get("status") == "False" and cond.get("reason") == "Unschedulable"
                and cond.get("message") == message and want_nominated == pod.nominated_node):
            return
        patch: Obj = {"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": (cond or {}).get("lastTransitionTime") if cond and cond.get("status") == "False" else now_rfc3339(),
        }]}}
        if want_nominated != pod.nominated_node:
            patch["status"]["nominatedNodeName"] = want_nominated or None
        try:
            await self.client.patch(resource_path("", "v1", "pods", pod.namespace, pod.name, "status"), patch,
                                    content_type=STRATEGIC_PATCH)
        except ApiError as e:
            if e.status != 404:
                log.info("updating status of %s: %s", pod.key, e)

    async def _report_gated(self, pod: PodInfo) -> None:
        """upstream: PodScheduled=False, reason SchedulingGated, while spec.schedulingGates is non-empty."""
        cond = next((c for c in (pod.pod.get("status") or {}).get("conditions") or () if c.get("type") == "PodScheduled"), None)
        if cond is not None and cond.get("reason") == "SchedulingGated":
            return
        patch = {"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
            "message": "Scheduling is blocked due to non-empty scheduling gates", "lastProbeTime": None,
            "lastTransitionTime": now_rfc3339()}]}}
        with contextlib.suppress(ApiError):
            await self.client.patch(resource_path("", "v1", "pods", pod.namespace, pod.name, "status"), patch,
                                    content_type=STRATEGIC_PATCH)

    async def _preempt(self, pod: PodInfo, node: str, victims: list[PodInfo]) -> None:
        """Delete the victims (after marking them DisruptionTarget), and clear weaker nominations on the node."""
        for v in victims:
            self.recorder.event(v.pod, "Normal", "Preempted", "Preempting", f"Preempted by pod {pod.uid} on node {node}")
            path = resource_path("", "v1", "pods", v.namespace, v.name)
            with contextlib.suppress(ApiError):
                await self.client.patch(path + "/status", {"status": {"conditions": [{
                    "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                    "message": f"{self.scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": now_rfc3339()}]}}, content_type=STRATEGIC_PATCH)
            try:
                await self.client.delete(path, {"preconditions": {"uid": v.uid}})
            except ApiError as e:
                if e.status not in (404, 409):
                    log.warning("preempting %s: %s", v.key, e)
        for other in self.handle.nominator.pods_on(node):
            if other.priority < pod.priority:
                self.handle.nominator.remove(other.key)
                with contextlib.suppress(ApiError):
                    await self.client.patch(resource_path("", "v1", "pods", other.namespace, other.name, "status"),
                                            {"status": {"nominatedNodeName": None}}, content_type=STRATEGIC_PATCH)


def _node_scheduling_changed(old: Obj, new: Obj) -> bool:
    """Only changes a filter or score could see wake unschedulable pods (not heartbeats)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if om.get("labels") != nm.get("labels"):
        return True
    if (old.get("spec") or {}) != (new.get("spec") or {}):
        return True
    os_, ns_ = old.get("status") or {}, new.get("status") or {}
    return bool(os_.get("allocatable") != ns_.get("allocatable") or os_.get("images") != ns_.get("images"))
