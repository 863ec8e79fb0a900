"""core/v1 and events.k8s.io/v1 Events: one storage, both versions, field selectors, and the TTL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.registry import strategy_for
from tests.apiserver.fieldvalidation.inprocess import InProcess, in_process_api

CORE = "/api/v1/namespaces/default/events"
V1 = "/apis/events.k8s.io/v1/namespaces/default/events"


@pytest.fixture
async def k(tmp_path: Path) -> AsyncIterator[InProcess]:
    async with in_process_api(tmp_path) as api:
        yield api


def core_event(name: str, pod: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "default"},
        "reason": "Pulled",
        "message": f"pulled for {pod}",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"},
        "count": 2,
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:01:00Z",
    }


def v1_event(name: str, pod: str) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "example.com/ctl",
        "reportingInstance": "ctl-1",
        "action": "Scheduling",
        "reason": "Scheduled",
        "type": "Normal",
        "regarding": {"kind": "Pod", "name": pod, "namespace": "default"},
        "note": f"scheduled {pod}",
    }


async def test_core_events_read_as_events_v1(k: InProcess) -> None:
    assert (await k.call("POST", CORE, core_event("c1", "web"))).status == 201
    r = await k.call("GET", f"{V1}/c1")
    assert r.status == 200
    ev = r.body
    assert (ev["apiVersion"], ev["kind"]) == ("events.k8s.io/v1", "Event")
    assert ev["regarding"]["name"] == "web" and ev["note"] == "pulled for web"
    assert ev["deprecatedSource"] == {"component": "kubelet", "host": "n1"}
    assert ev["deprecatedCount"] == 2 and ev["deprecatedFirstTimestamp"] == "2024-01-01T00:00:00Z"
    assert ev["eventTime"] is None
    assert not {"involvedObject", "message", "source", "count", "firstTimestamp"} & set(ev)


async def test_events_v1_read_as_core_events(k: InProcess) -> None:
    assert (await k.call("POST", V1, v1_event("e1", "db"))).status == 201
    ev = (await k.call("GET", f"{CORE}/e1")).body
    assert ev["apiVersion"] == "v1"
    assert ev["involvedObject"]["name"] == "db" and ev["message"] == "scheduled db"
    assert ev["reportingComponent"] == "example.com/ctl" and ev["reportingInstance"] == "ctl-1"
    assert ev["firstTimestamp"] is None and ev["lastTimestamp"] is None and ev["source"] == {}
    listed = (await k.call("GET", V1)).body
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    assert [i["regarding"]["name"] for i in listed["items"]] == ["db"]


async def test_field_selectors_in_both_versions(k: InProcess) -> None:
    for name, pod in (("a", "web"), ("b", "db")):
        assert (await k.call("POST", CORE, core_event(name, pod))).status == 201
    core = await k.call("GET", f"{CORE}?fieldSelector=involvedObject.name%3Dweb,reason%3DPulled")
    assert [i["metadata"]["name"] for i in core.body["items"]] == ["a"]
    v1 = await k.call("GET", f"{V1}?fieldSelector=regarding.name%3Ddb")
    assert [i["metadata"]["name"] for i in v1.body["items"]] == ["b"]
    v1 = await k.call("GET", f"{V1}?fieldSelector=reportingController%3D")
    assert len(v1.body["items"]) == 2
    bad = await k.call("GET", f"{V1}?fieldSelector=spec.nope%3Dx")
    assert bad.status == 400


async def test_events_expire_after_the_ttl(k: InProcess) -> None:
    strategy = strategy_for("", "events")
    saved = strategy.ttl
    strategy.ttl = 1
    try:
        assert (await k.call("POST", V1, v1_event("short", "p"))).status == 201
    finally:
        strategy.ttl = saved
    assert (await k.call("POST", CORE, core_event("long", "p"))).status == 201
    deadline = time.monotonic() + 20
    while (await k.call("GET", f"{CORE}/short")).status != 404:
        assert time.monotonic() < deadline, "the event outlived its TTL"
        await asyncio.sleep(0.2)
    assert (await k.call("GET", f"{CORE}/long")).status == 200
