"""CronJobs driven by a fake clock: the controller runs in-process against a real server (whose own controllers
are off), and Jobs are marked finished by the test, so schedules, policies and history limits are checked without
waiting for real minutes."""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kybernetes.client.informer import InformerFactory
from kybernetes.client.rest import Client, resource_path
from kybernetes.controllers.cron import FakeClock
from kybernetes.controllers.cronjob import SCHEDULED_ANNOTATION, CronJobController
from tests.controllers.support import Obj, Watch, client, hollow_server, name_of, new_namespace
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hollow_server(tmp_path_factory.mktemp("kyb-cron"), 0, extra=["--disable-controllers", "--disable-scheduler"]) as srv:
        yield srv


class Rig:
    def __init__(self, srv: Server, api: Client, ns: str, clock: FakeClock, jobs: Watch, cronjobs: Watch) -> None:
        self.srv, self.api, self.ns, self.clock, self.jobs, self.cronjobs = srv, api, ns, clock, jobs, cronjobs

    def create(self, name: str, schedule: str, extra: str = "") -> Obj:
        self.srv.kubectl("-n", self.ns, "apply", "-f", "-", input=textwrap.dedent(
            f"""
            apiVersion: batch/v1
            kind: CronJob
            metadata: {{name: {name}}}
            spec:
              schedule: "{schedule}"
              {extra}
              jobTemplate:
                metadata: {{labels: {{from: {name}}}}}
                spec:
                  template:
                    spec: {{restartPolicy: Never, containers: [{{name: c, image: busybox}}]}}
            """
        ))
        return dict(json.loads(self.srv.kubectl("-n", self.ns, "get", "cronjob", name, "-o", "json").stdout))

    async def finish(self, job: str, kind: str = "Complete") -> None:
        path = resource_path("batch", "v1", "jobs", namespace=self.ns, name=job)
        cur = await self.api.get(path)
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        cond = lambda t: {"type": t, "status": "True", "lastTransitionTime": now, "lastProbeTime": now, "reason": "Test", "message": "test"}  # noqa: E731
        st: dict[str, Any] = {"startTime": now, "conditions": [cond("SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"), cond(kind)]}
        if kind == "Complete":
            st.update(completionTime=now, succeeded=1)
        else:
            st["failed"] = 1
        cur["status"] = st
        await self.api.update(path + "/status", cur)
        await self.jobs.until(lambda _: any(c.get("type") == kind for c in (self.jobs.get(job) or {}).get("status", {}).get("conditions", [])))

    async def tick(self, to: datetime, expect: str, what: str = "") -> list[str]:
        """Move the clock and wait until the Job named `expect` exists."""
        self.clock.set(to)
        got = await self.jobs.until(lambda _: self.jobs.get(expect) is not None, what=what or expect)
        return sorted(name_of(j) for j in got)


@pytest.fixture
async def rig(bare: Server) -> AsyncIterator[Rig]:
    ns = new_namespace(bare)
    api = client(bare)
    factory = InformerFactory(api)
    clock = FakeClock(datetime.now(UTC))
    ctrl = CronJobController(api, factory, clock)
    await factory.start()
    await ctrl.start()
    try:
        async with Watch(api, "batch", "v1", "jobs", ns) as jobs, Watch(api, "batch", "v1", "cronjobs", ns) as cjs:
            yield Rig(bare, api, ns, clock, jobs, cjs)
    finally:
        await ctrl.stop()
        await factory.stop()
        await api.close()
        bare.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def minute_after(t: datetime, n: int = 1) -> datetime:
    return t.replace(second=0, microsecond=0) + timedelta(minutes=n)


async def test_allow_creates_one_job_per_schedule_and_keeps_history_limits(rig: Rig) -> None:
    cj = rig.create("every", "*/1 * * * *", "successfulJobsHistoryLimit: 2\n              failedJobsHistoryLimit: 1")
    created = datetime.fromisoformat(cj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    names = []
    for i, outcome in enumerate(["Complete", "Failed", "Complete", "Failed", "Complete"]):
        at = minute_after(created, i + 1)
        name = f"every-{int(at.timestamp()) // 60}"
        await rig.tick(at + timedelta(seconds=5), name)
        job = rig.jobs.get(name)
        assert job is not None and job["metadata"]["labels"]["from"] == "every"
        assert job["metadata"]["annotations"][SCHEDULED_ANNOTATION] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        cur = await rig.cronjobs.until(lambda items, name=name: [a["name"] for a in (items[0].get("status") or {}).get("active", [])] == [name], what="active ref")
        assert cur[0]["status"]["lastScheduleTime"] == at.strftime("%Y-%m-%dT%H:%M:%SZ")
        await rig.finish(name, outcome)
        names.append((name, outcome))
    # History: the two newest successful and the newest failed job remain.
    want = sorted([names[2][0], names[4][0], names[3][0]])
    left = await rig.jobs.until(lambda items: sorted(name_of(j) for j in items) == want, what=f"history {want}")
    assert len(left) == 3
    st = (await rig.cronjobs.until(lambda items: "active" not in (items[0].get("status") or {}) and "lastSuccessfulTime" in (items[0].get("status") or {})))[0]["status"]
    assert st["lastSuccessfulTime"]


async def test_forbid_skips_while_running_and_replace_replaces(rig: Rig) -> None:
    fb = rig.create("forbid", "*/1 * * * *", "concurrencyPolicy: Forbid")
    created = datetime.fromisoformat(fb["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    first_name = f"forbid-{int(minute_after(created).timestamp()) // 60}"
    await rig.tick(minute_after(created) + timedelta(seconds=1), first_name)
    async with Watch(rig.api, "", "v1", "events", rig.ns) as events:
        rig.clock.set(minute_after(created, 2) + timedelta(seconds=1))
        rig.clock.set(minute_after(created, 3) + timedelta(seconds=1))
        # Nothing new while the first one runs: the controller looked and said so.
        await events.until(lambda evs: any(e.get("reason") == "JobAlreadyActive" for e in evs), what="JobAlreadyActive event")
    cj = await rig.cronjobs.until(lambda items: bool(items) and (items[0].get("status") or {}).get("active"), what="forbid active")
    assert len(rig.jobs.items) == 1 and cj[0]["status"]["lastScheduleTime"] == minute_after(created).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Once it finishes, the most recent missed time runs (the ones before it are not made up).
    await rig.finish(first_name)
    latest = f"forbid-{int(minute_after(created, 3).timestamp()) // 60}"
    got = await rig.jobs.until(lambda _: rig.jobs.get(latest) is not None, what=latest)
    assert sorted(name_of(j) for j in got) == sorted([first_name, latest])

    rp = rig.create("replace", "*/1 * * * *", "concurrencyPolicy: Replace")
    created = datetime.fromisoformat(rp["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    start = max(created, rig.clock.now())
    rig.clock.set(minute_after(start) + timedelta(seconds=1))
    one = f"replace-{int(minute_after(start).timestamp()) // 60}"
    await rig.jobs.until(lambda _: rig.jobs.get(one) is not None, what="first replace job")
    rig.clock.set(minute_after(start, 2) + timedelta(seconds=1))
    two = f"replace-{int(minute_after(start, 2).timestamp()) // 60}"
    await rig.jobs.until(lambda _: rig.jobs.get(two) is not None and (rig.jobs.get(one) is None or rig.jobs.get(one)["metadata"].get("deletionTimestamp")), what="replaced")  # type: ignore[index]


async def test_starting_deadline_suspend_and_time_zone(rig: Rig) -> None:
    hourly = rig.create("hourly", "0 * * * *", "startingDeadlineSeconds: 60")
    created = datetime.fromisoformat(hourly["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    next_hour = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    rig.create("paused", "*/1 * * * *", "suspend: true")
    tz = rig.create("tokyo", "0 9 * * *", "timeZone: Asia/Tokyo")
    # 30 minutes late is beyond the 60 s deadline: skipped.
    rig.clock.set(next_hour + timedelta(minutes=30))
    # 09:00 in Tokyo is 00:00 UTC.
    nine_tokyo = datetime.fromisoformat(tz["metadata"]["creationTimestamp"].replace("Z", "+00:00")).replace(hour=0, minute=0, second=0, microsecond=0)
    # Within the deadline: runs.
    got = await rig.tick(next_hour + timedelta(hours=1, seconds=20), f"hourly-{int((next_hour + timedelta(hours=1)).timestamp()) // 60}")
    assert got == [f"hourly-{int((next_hour + timedelta(hours=1)).timestamp()) // 60}"], "the missed hour must be skipped"
    if nine_tokyo <= rig.clock.now():
        nine_tokyo += timedelta(days=1)
    await rig.tick(nine_tokyo + timedelta(seconds=30), f"tokyo-{int(nine_tokyo.timestamp()) // 60}")
    tokyo = next(j for j in rig.jobs.items if name_of(j).startswith("tokyo-"))
    stamp = tokyo["metadata"]["annotations"][SCHEDULED_ANNOTATION]
    assert stamp.endswith("T09:00:00+09:00"), stamp
    assert not any(name_of(j).startswith("paused-") for j in rig.jobs.items)
