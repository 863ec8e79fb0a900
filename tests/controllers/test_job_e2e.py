"""Jobs on hollow nodes (pods of Jobs finish after a moment; `hollow.kybernetes.io/exit-code` makes them fail)."""

from __future__ import annotations

import json
import textwrap

import pytest

from kybernetes.controllers.jobutil import INDEX_ANNOTATION, TRACKING_FINALIZER
from tests.controllers.support import Obj, Watch, client, condition, is_active
from tests.support.cluster import Server

pytestmark = pytest.mark.e2e


def job(name: str, spec: str, annotations: str = "{}") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: batch/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          {spec}
          template:
            metadata: {{annotations: {annotations}}}
            spec: {{restartPolicy: Never, containers: [{{name: main, image: busybox}}]}}
        """
    )


def finished(kind: str):  # type: ignore[no-untyped-def]
    def pred(jobs: list[Obj]) -> bool:
        return bool(jobs) and all((condition(j, kind) or {}).get("status") == "True" for j in jobs)

    return pred


async def test_completions_with_parallelism(hollow: Server, ns: str) -> None:
    most = {"active": 0}

    def track(_k: str, _o: Obj) -> None:
        most["active"] = max(most["active"], sum(1 for p in pods.items if is_active(p)))

    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns, on_event=track) as pods, Watch(api, "batch", "v1", "jobs", ns) as jobs:
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("five", "completions: 5\n          parallelism: 2"))
            done = await jobs.until(finished("Complete"), what="job complete")
            await pods.until(lambda ps: all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in ps))
    finally:
        await api.close()
    st = done[0]["status"]
    assert st["succeeded"] == 5 and st.get("failed", 0) == 0 and st.get("active", 0) == 0
    assert st["completionTime"] and st["startTime"]
    assert (condition(done[0], "SuccessCriteriaMet") or {}).get("status") == "True"
    assert most["active"] <= 2
    assert len([p for p in pods.items if p["status"].get("phase") == "Succeeded"]) == 5
    for p in pods.items:
        labels = p["metadata"]["labels"]
        assert labels["job-name"] == "five" and labels["batch.kubernetes.io/job-name"] == "five"
        assert labels["controller-uid"] == done[0]["metadata"]["uid"]
    out = hollow.kubectl("-n", ns, "wait", "--for=condition=complete", "job/five", "--timeout=5s")
    assert "condition met" in out.stdout


async def test_indexed_job(hollow: Server, ns: str) -> None:
    api = client(hollow)
    try:
        async with Watch(api, "", "v1", "pods", ns) as pods, Watch(api, "batch", "v1", "jobs", ns) as jobs:
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("idx", "completions: 3\n          parallelism: 3\n          completionMode: Indexed"))
            done = await jobs.until(finished("Complete"), what="indexed job complete")
            ps = pods.items
    finally:
        await api.close()
    assert done[0]["status"]["completedIndexes"] == "0-2" and done[0]["status"]["succeeded"] == 3
    seen = set()
    for p in ps:
        i = p["metadata"]["annotations"][INDEX_ANNOTATION]
        seen.add(i)
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == i
        assert p["metadata"]["name"].startswith(f"idx-{i}-")
        assert p["spec"]["hostname"] == f"idx-{i}"
        env = {e["name"]: e for e in p["spec"]["containers"][0]["env"]}
        assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.annotations['{INDEX_ANNOTATION}']"
    assert seen == {"0", "1", "2"}


async def test_backoff_limit_and_pod_failure_policy(hollow: Server, ns: str) -> None:
    api = client(hollow)
    try:
        async with Watch(api, "batch", "v1", "jobs", ns) as jobs:
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("flaky", "backoffLimit: 2", '{"hollow.kybernetes.io/exit-code": "3"}'))
            policy = "backoffLimit: 6\n          podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {containerName: main, operator: In, values: [42]}}]}"
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("fatal", policy, '{"hollow.kybernetes.io/exit-code": "42"}'))
            failed = await jobs.until(lambda js: len(js) == 2 and finished("Failed")(js), what="both jobs failed")
    finally:
        await api.close()
    by = {j["metadata"]["name"]: j for j in failed}
    assert condition(by["flaky"], "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    assert by["flaky"]["status"]["failed"] == 3
    f = condition(by["fatal"], "Failed")
    assert f is not None and f["reason"] == "PodFailurePolicy"
    assert "failed with exit code 42 matching FailJob rule at index 0" in f["message"]
    assert by["fatal"]["status"]["failed"] == 1
    assert (condition(by["fatal"], "FailureTarget") or {}).get("status") == "True"


async def test_ttl_after_finished_and_suspend(hollow: Server, ns: str) -> None:
    api = client(hollow)
    try:
        async with Watch(api, "batch", "v1", "jobs", ns) as jobs, Watch(api, "", "v1", "pods", ns) as pods:
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("brief", "ttlSecondsAfterFinished: 1"))
            await jobs.until(finished("Complete"), what="brief complete")
            await jobs.until(lambda js: not js, what="the finished job deleted after its TTL")
            await pods.until(lambda ps: not ps, what="its pods gone too")
            hollow.kubectl("-n", ns, "apply", "-f", "-", input=job("later", "suspend: true\n          parallelism: 2\n          completions: 2"))
            susp = await jobs.until(lambda js: bool(js) and (condition(js[0], "Suspended") or {}).get("status") == "True", what="suspended")
            assert not pods.items and susp[0]["status"].get("startTime") is None
            hollow.kubectl("-n", ns, "patch", "job/later", "--type=merge", "-p", json.dumps({"spec": {"suspend": False}}))
            done = await jobs.until(finished("Complete"), what="resumed job completes")
            assert (condition(done[0], "Suspended") or {}).get("reason") == "JobResumed"
    finally:
        await api.close()
