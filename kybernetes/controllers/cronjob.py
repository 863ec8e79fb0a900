"""The CronJob controller: creates a Job for each scheduled time, within the concurrency policy and deadline,
and keeps the history of finished Jobs to the configured limits.

Time comes from an injectable `Clock` (see `cron`), so the schedule logic is tested by moving a fake clock. Each
sync looks at the most recent missed schedule time since lastScheduleTime (or creation): if it is older than
startingDeadlineSeconds it is skipped; Forbid skips while a Job is active, Replace deletes the active Jobs first.
The Job is named `<cronjob>-<minutes since epoch>` (so a retried create is idempotent) and annotated with
`batch.kubernetes.io/cronjob-scheduled-timestamp`. Status keeps active Job references, lastScheduleTime and
lastSuccessfulTime; finished Jobs beyond successfulJobsHistoryLimit (3) / failedJobsHistoryLimit (1) are deleted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kybernetes.client.informer import Handlers, InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller, deepcopy
from kybernetes.controllers.cron import Clock, CronError, FakeClock, Schedule, SystemClock, parse
from kybernetes.controllers.jobutil import finished_condition
from kybernetes.controllers.owners import ensure_controller_index, owned_by, resolve_controller
from kybernetes.controllers.pods import meta, owner_reference
from kybernetes.machinery.meta import parse_time

log = logging.getLogger(__name__)

SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc3339_local(t: datetime) -> str:
    """Go's time.RFC3339 in t's own zone: 'Z' for UTC, else the numeric offset."""
    off = t.utcoffset()
    if not off:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.isoformat(timespec="seconds")


def most_recent(schedule: Schedule, cj: Obj, now: datetime, tz: ZoneInfo | None) -> tuple[datetime | None, int]:
    """The latest schedule time <= now not yet run (and how many were missed in all), upstream's
    mostRecentScheduleTime."""
    st = cj.get("status") or {}
    earliest = parse_time(st.get("lastScheduleTime")) or parse_time(meta(cj).get("creationTimestamp")) or now
    sds = (cj.get("spec") or {}).get("startingDeadlineSeconds")
    if sds is not None:
        deadline = now - timedelta(seconds=int(sds))
        earliest = max(earliest, deadline)
    t = schedule.next(earliest, tz)
    latest: datetime | None = None
    missed = 0
    while t is not None and t <= now:
        latest = t
        missed += 1
        if missed > MAX_MISSED * 10:
            break
        t = schedule.next(t, tz)
    return latest, missed


class CronJobController(Controller):
    name = "cronjob-controller"

    def __init__(self, client: Client, informers: InformerFactory, clock: Clock | None = None) -> None:
        super().__init__(client, informers)
        self.clock: Clock = clock or SystemClock()
        if isinstance(self.clock, FakeClock):
            self.clock.listeners.append(self.resync)
        self.cronjobs = self.informer("batch", "v1", "cronjobs")
        self.jobs = self.informer("batch", "v1", "jobs")
        ensure_controller_index(self.jobs)
        self.watch_primary(self.cronjobs)
        self.jobs.add_handlers(
            Handlers(on_add=self._job_changed, on_update=lambda _o, n: self._job_changed(n), on_delete=self._job_changed)
        )

    def resync(self) -> None:
        """Look at every CronJob again (the fake clock moved)."""
        for cj in self.cronjobs.list():
            self.enqueue(cj)

    def _job_changed(self, job: Obj) -> None:
        cj = resolve_controller(self.cronjobs, job, "CronJob")
        if cj is not None:
            self.enqueue(cj)

    def _path(self, ns: str, resource: str, name: str = "", sub: str = "") -> str:
        return resource_path("batch", "v1", resource, namespace=ns, name=name or None, subresource=sub or None)

    async def reconcile(self, key: str) -> float | None:
        cached = self.cronjobs.get(key)
        if cached is None or meta(cached).get("deletionTimestamp"):
            return None
        cj = deepcopy(cached)
        ns = meta(cj)["namespace"]
        spec = cj.get("spec") or {}
        now = self.clock.now()
        jobs = owned_by(self.jobs, meta(cj)["uid"])
        status = dict(cj.get("status") or {})
        active_refs = {r.get("uid"): r for r in status.get("active") or []}
        job_uids = {meta(j)["uid"] for j in jobs}
        last_success = parse_time(status.get("lastSuccessfulTime"))
        for j in jobs:
            uid = meta(j)["uid"]
            kind = finished_condition(j)
            if kind is None and uid not in active_refs and not meta(j).get("deletionTimestamp"):
                active_refs[uid] = self._ref(j)
            elif kind is not None:
                active_refs.pop(uid, None)
                if kind == "Complete":
                    done = parse_time((j.get("status") or {}).get("completionTime"))
                    if done is not None and (last_success is None or done > last_success):
                        last_success = done
        for uid in [u for u in active_refs if u not in job_uids]:
            # Gone from the cache: make sure before dropping it.
            ref = active_refs[uid]
            try:
                live = await self.client.get(self._path(ns, "jobs", ref.get("name", "")))
                if meta(live).get("uid") != uid:
                    active_refs.pop(uid)
            except ApiError as e:
                if e.status != 404:
                    raise
                active_refs.pop(uid)
        await self._cleanup(cj, jobs)

        again: float | None = None
        tz_name = spec.get("timeZone")
        tz: ZoneInfo | None = None
        try:
            schedule = parse(spec.get("schedule", ""))
            if tz_name:
                tz = ZoneInfo(tz_name)
        except (CronError, ZoneInfoNotFoundError, ValueError) as e:
            reason = "UnknownTimeZone" if tz_name and not isinstance(e, CronError) else "UnparseableSchedule"
            self.recorder.event(cj, "Warning", reason, str(e))
            schedule = None
        if schedule is not None and not spec.get("suspend"):
            scheduled, missed = most_recent(schedule, cj, now, tz)
            if missed > MAX_MISSED:
                self.recorder.event(cj, "Warning", "TooManyMissedTimes", f"too many missed start times: {missed}")
            if scheduled is not None:
                sds = spec.get("startingDeadlineSeconds")
                policy = spec.get("concurrencyPolicy") or "Allow"
                if sds is not None and scheduled + timedelta(seconds=int(sds)) < now:
                    self.recorder.event(cj, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {_rfc3339(scheduled)}")
                elif policy == "Forbid" and active_refs:
                    self.recorder.event(cj, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
                else:
                    if policy == "Replace":
                        for ref in list(active_refs.values()):
                            await self._delete_job(ns, ref.get("name", ""), ref.get("uid", ""))
                            active_refs.pop(ref.get("uid"), None)
                    job = await self._create_job(cj, scheduled, tz or schedule.tz)
                    if job is not None:
                        active_refs[meta(job)["uid"]] = self._ref(job)
                    status["lastScheduleTime"] = _rfc3339(scheduled)
            nxt = schedule.next(now, tz)
            if nxt is not None and not isinstance(self.clock, FakeClock):
                again = max((nxt - now).total_seconds(), 0.0) + 0.1
        status["active"] = sorted(active_refs.values(), key=lambda r: r.get("name", ""))
        if not status["active"]:
            status.pop("active")
        if last_success is not None:
            status["lastSuccessfulTime"] = _rfc3339(last_success)
        if status != (cj.get("status") or {}):
            cj["status"] = status
            try:
                await self.client.update(self._path(ns, "cronjobs", meta(cj)["name"], "status"), cj)
            except ApiError as e:
                if e.status != 404:
                    raise
        return again

    def _ref(self, job: Obj) -> dict[str, Any]:
        m = meta(job)
        return {
            "kind": "Job",
            "namespace": m.get("namespace"),
            "name": m.get("name"),
            "uid": m.get("uid"),
            "apiVersion": "batch/v1",
            "resourceVersion": m.get("resourceVersion"),
        }

    async def _create_job(self, cj: Obj, scheduled: datetime, tz: ZoneInfo | None) -> Obj | None:
        ns = meta(cj)["namespace"]
        tmpl = deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
        tm = tmpl.get("metadata") or {}
        name = f"{meta(cj)['name']}-{int(scheduled.timestamp()) // 60}"
        local = scheduled.astimezone(tz) if tz is not None else scheduled.astimezone(UTC)
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict(tm.get("labels") or {}),
                "annotations": {**(tm.get("annotations") or {}), SCHEDULED_ANNOTATION: _rfc3339_local(local)},
                "ownerReferences": [owner_reference(cj)],
            },
            "spec": tmpl.get("spec") or {},
        }
        try:
            created = await self.client.create(self._path(ns, "jobs"), job)
        except ApiError as e:
            if e.status == 409:
                return None  # created by an earlier attempt; the informer will show it
            self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {e}")
            raise
        self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        return created

    async def _delete_job(self, ns: str, name: str, uid: str) -> None:
        try:
            await self.client.delete(
                self._path(ns, "jobs", name), {"propagationPolicy": "Background", "preconditions": {"uid": uid}}
            )
        except ApiError as e:
            if e.status not in (404, 409):
                raise

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        limits = {
            "Complete": spec.get("successfulJobsHistoryLimit", 3),
            "Failed": spec.get("failedJobsHistoryLimit", 1),
        }
        for kind, limit in limits.items():
            if limit is None:
                continue
            done = [j for j in jobs if finished_condition(j) == kind and not meta(j).get("deletionTimestamp")]
            done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or meta(j).get("creationTimestamp") or "", meta(j)["name"]))
            for j in done[: max(len(done) - int(limit), 0)]:
                await self._delete_job(meta(j)["namespace"], meta(j)["name"], meta(j)["uid"])
                self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {meta(j)['name']}")
