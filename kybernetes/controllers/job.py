"""The Job controller: runs pods until `completions` succeed (or the Job fails), `parallelism` at a time.

Pods carry the `batch.kubernetes.io/job-tracking` finalizer, so a finished pod is counted exactly once even if it
is deleted right away: its uid first goes into status.uncountedTerminatedPods, then the finalizer is removed, then
it moves into succeeded/failed (upstream's tracking with finalizers). Indexed Jobs give each pod its index
(annotation, label, JOB_COMPLETION_INDEX, hostname `<job>-<i>`) and report completedIndexes.

A Job fails when failures exceed backoffLimit, when it runs past activeDeadlineSeconds, or when a podFailurePolicy
rule says FailJob (Ignore rules do not count a failure); replacement pods after failures wait an exponential
backoff. Finished Jobs get SuccessCriteriaMet/FailureTarget first, then Complete/Failed once their pods are gone;
suspended Jobs have no pods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.client.informer import Handlers, InformerFactory, Obj, meta_key
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers import jobutil as ju
from kybernetes.controllers.base import Controller, Expectations, deepcopy
from kybernetes.controllers.owners import (
    ClaimManager,
    controller_ref,
    ensure_controller_index,
    owned_by,
    resolve_controller,
)
from kybernetes.controllers.pods import (
    colocation,
    deletion_order,
    is_active,
    is_ready,
    is_terminal,
    meta,
    phase,
    pod_from_template,
    ts,
)
from kybernetes.controllers.replicaset import SlowStartError, slow_start_batch
from kybernetes.machinery.meta import now_rfc3339
from kybernetes.machinery.selectors import selector_from_object

log = logging.getLogger(__name__)

MAX_BACKOFF = 360.0


def job_selector(job: Obj) -> dict[str, Any]:
    sel = (job.get("spec") or {}).get("selector")
    if sel:
        return dict(sel)
    return {"matchLabels": {"batch.kubernetes.io/controller-uid": meta(job).get("uid", "")}}


class JobController(Controller):
    name = "job-controller"
    workers = 4

    def __init__(self, client: Client, informers: InformerFactory, backoff_base: float = 10.0) -> None:
        super().__init__(client, informers)
        self.backoff_base = backoff_base
        self.expectations = Expectations()
        self.jobs = self.informer("batch", "v1", "jobs")
        self.pods = self.informer("", "v1", "pods")
        ensure_controller_index(self.pods)
        self.jobs.add_handlers(
            Handlers(on_add=self.enqueue, on_update=self._job_updated, on_delete=self._job_deleted)
        )
        self.pods.add_handlers(Handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))
        self._last_failure: dict[str, float] = {}

    # ------------------------------------------------------------- handlers
    def _job_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)
        ads = (new.get("spec") or {}).get("activeDeadlineSeconds")
        start = ts((new.get("status") or {}).get("startTime"))
        if ads and start:
            self.enqueue_after(new, max(start + ads - time.time(), 0.0) + 0.05)

    def _job_deleted(self, job: Obj) -> None:
        key = meta_key(job)
        self.expectations.forget(key)
        self._last_failure.pop(key, None)
        for p in owned_by(self.pods, meta(job).get("uid", "")):
            self._pod_changed(p)

    def _pod_added(self, pod: Obj) -> None:
        job = resolve_controller(self.jobs, pod, "Job")
        if job is not None:
            self.expectations.creation_observed(meta_key(job))
        self._pod_changed(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        job = resolve_controller(self.jobs, new, "Job")
        if job is not None and meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
            self.expectations.deletion_observed(meta_key(job), meta(new).get("uid", ""))
        self._pod_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        job = resolve_controller(self.jobs, pod, "Job")
        if job is not None:
            self.expectations.deletion_observed(meta_key(job), meta(pod).get("uid", ""))
            self.enqueue(job)

    def _pod_changed(self, pod: Obj) -> None:
        job = resolve_controller(self.jobs, pod, "Job")
        if job is not None:
            self.enqueue(job)
        elif ju.TRACKING_FINALIZER in (meta(pod).get("finalizers") or []):
            self.queue.add("pod:" + meta_key(pod))

    # --------------------------------------------------------------- writes
    def _pod_path(self, pod: Obj) -> str:
        return resource_path("", "v1", "pods", namespace=meta(pod).get("namespace"), name=meta(pod).get("name"))

    async def _remove_finalizer(self, pod: Obj) -> None:
        fins = [f for f in meta(pod).get("finalizers") or [] if f != ju.TRACKING_FINALIZER]
        patch = {"metadata": {"finalizers": fins or None, "resourceVersion": meta(pod).get("resourceVersion")}}
        try:
            await self.client.patch(self._pod_path(pod), patch)
        except ApiError as e:
            if e.status not in (404, 409):
                raise

    async def _release_orphan(self, key: str) -> None:
        """A tracked pod whose Job is gone (or finished and forgotten): nobody else will remove the finalizer."""
        pod = self.pods.get(key)
        if pod is None or ju.TRACKING_FINALIZER not in (meta(pod).get("finalizers") or []):
            return
        ref = controller_ref(pod)
        if ref is not None and ref.get("kind") == "Job":
            try:
                job = await self.client.get(
                    resource_path("batch", "v1", "jobs", namespace=meta(pod).get("namespace"), name=ref.get("name"))
                )
                if meta(job).get("uid") == ref.get("uid") and not ju.finished_condition(job):
                    self.enqueue(job)
                    return
            except ApiError as e:
                if e.status != 404:
                    raise
        await self._remove_finalizer(pod)

    async def _write_status(self, job: Obj, status: dict[str, Any]) -> None:
        if status == (job.get("status") or {}):
            return
        body = deepcopy(job)
        body["status"] = status
        ns, name = meta(job)["namespace"], meta(job)["name"]
        await self.client.update(resource_path("batch", "v1", "jobs", namespace=ns, name=name, subresource="status"), body)

    # ------------------------------------------------------------ reconcile
    async def reconcile(self, key: str) -> float | None:
        if key.startswith("pod:"):
            await self._release_orphan(key[4:])
            return None
        cached = self.jobs.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        job = deepcopy(cached)
        pods = await self._claim(job)
        if ju.finished_condition(job):
            await asyncio.gather(
                *(self._remove_finalizer(p) for p in pods if ju.TRACKING_FINALIZER in (meta(p).get("finalizers") or []))
            )
            return None
        return await self._sync(key, job, pods)

    async def _claim(self, job: Obj) -> list[Obj]:
        ns = meta(job)["namespace"]
        selector = selector_from_object(job_selector(job))
        pool = {meta(p)["uid"]: p for p in self.pods.list(ns) if controller_ref(p) is None}
        for p in owned_by(self.pods, meta(job)["uid"]):
            pool[meta(p)["uid"]] = p

        async def fresh() -> Obj | None:
            try:
                return await self.client.get(resource_path("batch", "v1", "jobs", namespace=ns, name=meta(job)["name"]))
            except ApiError as e:
                if e.status == 404:
                    return None
                raise

        return await ClaimManager(self.client, job, selector, self._pod_path, fresh).claim(list(pool.values()))

    async def _sync(self, key: str, job: Obj, pods: list[Obj]) -> float | None:
        spec = job.get("spec") or {}
        old = job.get("status") or {}
        now = time.time()
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = int(1 if spec.get("parallelism") is None else spec["parallelism"])
        backoff_limit = int(6 if spec.get("backoffLimit") is None else spec["backoffLimit"])
        replace_terminating = spec.get("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed") != "Failed"

        # 1. Account for finished pods (uncounted -> counted once their finalizer is gone).
        unc = old.get("uncountedTerminatedPods") or {}
        unc_s, unc_f = set(unc.get("succeeded") or []), set(unc.get("failed") or [])
        succeeded, failed = int(old.get("succeeded") or 0), int(old.get("failed") or 0)
        completed = ju.parse_indexes(old.get("completedIndexes"))
        by_uid = {meta(p)["uid"]: p for p in pods}

        def tracked(p: Obj | None) -> bool:
            return p is not None and ju.TRACKING_FINALIZER in (meta(p).get("finalizers") or [])

        for uid in list(unc_s):
            if not tracked(by_uid.get(uid)):
                unc_s.discard(uid)
                succeeded += 1
        for uid in list(unc_f):
            if not tracked(by_uid.get(uid)):
                unc_f.discard(uid)
                failed += 1
        fail: tuple[str, str] | None = None
        release: list[Obj] = []
        new_failures = 0
        for p in pods:
            uid = meta(p)["uid"]
            if not tracked(p) or uid in unc_s or uid in unc_f:
                continue
            if phase(p) == "Succeeded":
                unc_s.add(uid)
                idx = ju.pod_index(p)
                if indexed and idx is not None and completions is not None and 0 <= idx < int(completions):
                    completed.add(idx)
            elif phase(p) == "Failed" or (replace_terminating and meta(p).get("deletionTimestamp")):
                verdict = ju.match_failure_policy(job, p) if phase(p) == "Failed" else None
                if verdict is not None and verdict[0] == "Ignore":
                    release.append(p)
                    continue
                if verdict is not None and verdict[0] == "FailJob" and fail is None:
                    fail = ("PodFailurePolicy", verdict[1])
                unc_f.add(uid)
                new_failures += 1
        if new_failures:
            self._last_failure[key] = time.monotonic()
        if indexed:
            succeeded_total = len(completed)
        else:
            succeeded_total = succeeded + len(unc_s)
        failed_total = failed + len(unc_f)

        active = [p for p in pods if is_active(p)]
        terminating = [p for p in pods if meta(p).get("deletionTimestamp") and not is_terminal(p)]
        conds = [dict(c) for c in old.get("conditions") or []]
        has = {c["type"] for c in conds if c.get("status") == "True"}
        start = old.get("startTime")

        # 2. Decide: failed, succeeded, suspended or running.
        if "FailureTarget" not in has and "SuccessCriteriaMet" not in has:
            ads = spec.get("activeDeadlineSeconds")
            if fail is None and failed_total > backoff_limit:
                fail = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            if fail is None and ads and start and ts(start) + int(ads) <= now and not spec.get("suspend"):
                fail = ("DeadlineExceeded", "Job was active longer than specified deadline")
            if fail is not None:
                conds = ju.set_job_condition(conds, ju.job_condition("FailureTarget", fail[0], fail[1]))
                self.recorder.event(job, "Warning", fail[0], fail[1])
            elif (completions is None and succeeded_total > 0 and not active) or (
                completions is not None and succeeded_total >= int(completions)
            ):
                conds = ju.set_job_condition(
                    conds, ju.job_condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")
                )
            has = {c["type"] for c in conds if c.get("status") == "True"}
        again: float | None = None
        finishing = "FailureTarget" in has or "SuccessCriteriaMet" in has
        if finishing:
            await self._delete_pods(key, job, active)
            active = []
        elif spec.get("suspend"):
            if active:
                await self._delete_pods(key, job, active)
                active = []
            if "Suspended" not in has:
                conds = ju.set_job_condition(conds, ju.job_condition("Suspended", "JobSuspended", "Job suspended"))
                self.recorder.event(job, "Normal", "Suspended", "Job suspended")
        else:
            if "Suspended" in has:
                conds = ju.set_job_condition(conds, ju.job_condition("Suspended", "JobResumed", "Job resumed", "False"))
                start = now_rfc3339()
                self.recorder.event(job, "Normal", "Resumed", "Job resumed")
            if not start:
                start = now_rfc3339()
            if self.expectations.satisfied(key):
                wait = self._backoff_remaining(key, failed_total)
                if wait > 0:
                    again = wait
                else:
                    busy = active if replace_terminating else active + terminating
                    await self._manage(key, job, busy, completed, succeeded_total, completions, parallelism, indexed)
            ads = spec.get("activeDeadlineSeconds")
            if ads and start:
                left = ts(start) + int(ads) - now + 0.05
                again = left if again is None else min(again, left)

        # 3. Terminal conditions once nothing runs and everything is counted.
        done_counting = not unc_s and not unc_f
        if finishing and not active and not terminating and done_counting:
            if "FailureTarget" in has and "Failed" not in has:
                ft = next(c for c in conds if c["type"] == "FailureTarget")
                conds = ju.set_job_condition(conds, ju.job_condition("Failed", ft.get("reason", ""), ft.get("message", "")))
            elif "SuccessCriteriaMet" in has and "Complete" not in has:
                conds = ju.set_job_condition(conds, ju.job_condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"))
                self.recorder.event(job, "Normal", "Completed", "Job completed")
        status: dict[str, Any] = {
            "active": len(active),
            "ready": sum(1 for p in active if is_ready(p)),
            "terminating": len(terminating),
            "succeeded": succeeded_total if indexed else succeeded,
            "failed": failed,
            "startTime": start,
            "uncountedTerminatedPods": {k: sorted(v) for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v},
            "conditions": conds,
        }
        if indexed:
            status["completedIndexes"] = ju.format_indexes(completed)
        if any(c["type"] == "Complete" and c["status"] == "True" for c in conds):
            status["completionTime"] = old.get("completionTime") or now_rfc3339()
        status = {k: v for k, v in status.items() if v not in (0, None, "", []) or k in ("uncountedTerminatedPods", "ready", "terminating")}
        if old.get("completionTime") and "completionTime" not in status:
            status["completionTime"] = old["completionTime"]
        await self._write_status(job, status)
        # 4. Only now that the uids are recorded may the finalizers go.
        drop = [p for p in pods if tracked(p) and (meta(p)["uid"] in unc_s or meta(p)["uid"] in unc_f)] + release
        if drop:
            await asyncio.gather(*(self._remove_finalizer(p) for p in drop))
        return again

    def _backoff_remaining(self, key: str, failures: int) -> float:
        last = self._last_failure.get(key)
        if last is None or failures <= 0:
            return 0.0
        delay = min(self.backoff_base * 2.0 ** (failures - 1), MAX_BACKOFF)
        return float(max(last + delay - time.monotonic(), 0.0))

    async def _manage(
        self,
        key: str,
        job: Obj,
        active: list[Obj],
        completed: set[int],
        succeeded: int,
        completions: int | None,
        parallelism: int,
        indexed: bool,
    ) -> None:
        if indexed and completions is not None:
            by_index: dict[int, list[Obj]] = {}
            extra: list[Obj] = []
            for p in active:
                i = ju.pod_index(p)
                if i is None or i >= int(completions) or i in completed:
                    extra.append(p)
                else:
                    by_index.setdefault(i, []).append(p)
            for ps in by_index.values():
                extra.extend(sorted(ps, key=lambda p: ts(meta(p).get("creationTimestamp")))[1:])
            running = len(active) - len(extra)
            if running > parallelism:
                extra.extend(deletion_order([ps[0] for ps in by_index.values()])[: running - parallelism])
                running = parallelism
            pending = [i for i in range(int(completions)) if i not in completed and i not in by_index]
            await self._delete_pods(key, job, extra)
            await self._create_pods(key, job, list[int | None](pending[: max(parallelism - running, 0)]))
            return
        if completions is None:
            want = 0 if succeeded > 0 else parallelism
        else:
            want = min(parallelism, int(completions) - succeeded)
        want = max(want, 0)
        diff = len(active) - want
        if diff > 0:
            ns = meta(job)["namespace"]
            await self._delete_pods(key, job, deletion_order(active, colocation(self.pods.list(ns)))[:diff])
        elif diff < 0:
            await self._create_pods(key, job, [None] * (-diff))

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj]) -> None:
        if not pods:
            return
        self.expectations.expect_deletions(key, [meta(p)["uid"] for p in pods])

        async def one(p: Obj) -> None:
            try:
                await self.client.delete(self._pod_path(p), {"preconditions": {"uid": meta(p)["uid"]}})
            except ApiError as e:
                self.expectations.deletion_observed(key, meta(p)["uid"])
                if e.status not in (404, 409):
                    raise

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        errs = [r for r in results if isinstance(r, BaseException)]
        if errs:
            raise errs[0]

    async def _create_pods(self, key: str, job: Obj, indexes: list[int | None]) -> None:
        if not indexes:
            return
        ns, name = meta(job)["namespace"], meta(job)["name"]
        template = (job.get("spec") or {}).get("template") or {}
        todo = list(indexes)
        self.expectations.expect_creations(key, len(todo))

        async def create() -> None:
            idx = todo.pop(0)
            pod = pod_from_template(template, job, f"{name}-" if idx is None else f"{name}-{idx}-")
            labels = pod["metadata"]["labels"]
            for k in ju.JOB_NAME_LABELS:
                labels.setdefault(k, name)
            for k in ju.UID_LABELS:
                labels.setdefault(k, meta(job)["uid"])
            pod["metadata"]["finalizers"] = [*pod["metadata"].get("finalizers", []), ju.TRACKING_FINALIZER]
            if idx is not None:
                labels[ju.INDEX_LABEL] = str(idx)
                pod["metadata"].setdefault("annotations", {})[ju.INDEX_ANNOTATION] = str(idx)
                pod["spec"].setdefault("hostname", f"{name}-{idx}")
                env = {
                    "name": "JOB_COMPLETION_INDEX",
                    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{ju.INDEX_ANNOTATION}']"}},
                }
                for c in (pod["spec"].get("containers") or []) + (pod["spec"].get("initContainers") or []):
                    if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
                        c.setdefault("env", []).append(dict(env))
            try:
                await self.client.create(resource_path("", "v1", "pods", namespace=ns), pod)
            except ApiError as e:
                if e.status == 403 and "being terminated" in str(e.body.get("message", "")):
                    return
                raise

        try:
            n = await slow_start_batch(len(indexes), create)
        except SlowStartError as e:
            self.expectations.lower_creations(key, len(indexes) - e.succeeded)
            self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {e.cause}")
            raise e.cause from None
        self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created {n} pod(s)")

