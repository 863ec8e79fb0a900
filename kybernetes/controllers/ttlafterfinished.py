"""The TTL-after-finished controller: deletes a finished Job `ttlSecondsAfterFinished` seconds after it finished.

The Job is re-read before deletion (the TTL may have been changed or removed meanwhile) and deleted with
propagationPolicy=Foreground, so its pods go first, as upstream.
"""

from __future__ import annotations

import time

from kybernetes.client.informer import InformerFactory, Obj
from kybernetes.client.rest import ApiError, Client, resource_path
from kybernetes.controllers.base import Controller
from kybernetes.controllers.jobutil import finished_condition
from kybernetes.controllers.pods import meta, ts


def finished_at(job: Obj) -> float:
    st = job.get("status") or {}
    kind = finished_condition(job)
    for c in st.get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return ts(c.get("lastTransitionTime")) or ts(st.get("completionTime"))
    return 0.0


def expires_in(job: Obj, now: float) -> float | None:
    """Seconds until the Job may be deleted (<= 0: now), or None if it never expires."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or meta(job).get("deletionTimestamp") or not finished_condition(job):
        return None
    done = finished_at(job)
    if not done:
        return None
    return done + int(ttl) - now


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.jobs = self.informer("batch", "v1", "jobs")
        self.watch_primary(self.jobs)

    async def reconcile(self, key: str) -> float | None:
        job = self.jobs.get(key)
        if job is None:
            return None
        left = expires_in(job, time.time())
        if left is None:
            return None
        if left > 0:
            return left
        path = resource_path("batch", "v1", "jobs", namespace=meta(job)["namespace"], name=meta(job)["name"])
        try:
            fresh = await self.client.get(path)
            left = expires_in(fresh, time.time())
            if left is None:
                return None
            if left > 0:
                return left
            await self.client.delete(
                path,
                {
                    "propagationPolicy": "Foreground",
                    "preconditions": {"uid": meta(fresh)["uid"], "resourceVersion": meta(fresh)["resourceVersion"]},
                },
            )
        except ApiError as e:
            if e.status not in (404, 409):
                raise
            if e.status == 409:
                return 0.5
        return None
