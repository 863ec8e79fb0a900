"""Preemption decisions (victims, PDBs, messages) and the scheduling queue (backoff, ordering, wake-ups)."""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.scheduler.framework import Status
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.queue import SchedulingQueue

from .helpers import Harness, node, pod


def _preempt(h: Harness, p: dict[str, Any]) -> tuple[str, list[str], str]:
    d, state, pi = h.decide(p)
    assert not d.ok
    result, st = h.fw.run_post_filter(state, pi, d.failed)
    if result is None or not result.nominated_node:
        return "", [], d.message(st.message if st else "")
    return result.nominated_node, sorted(v.name for v in result.victims), d.message()


def test_preemption_picks_minimal_lowest_priority_victims() -> None:
    h = Harness([node("a", cpu="2"), node("b", cpu="2")])
    h.place(pod("a-low", cpu="1", priority=1, labels={"x": "1"}), "a")
    h.place(pod("a-mid", cpu="1", priority=5), "a")
    h.place(pod("b-mid1", cpu="1", priority=5), "b")
    h.place(pod("b-mid2", cpu="1", priority=5), "b")
    node_name, victims, msg = _preempt(h, pod("vip", cpu="1", priority=10))
    # One victim is enough on either node; the node whose highest victim priority is lowest wins.
    assert (node_name, victims) == ("a", ["a-low"])
    assert msg == "0/2 nodes are available: 2 Insufficient cpu."


def test_preemption_respects_pdbs_when_possible() -> None:
    h = Harness([node("a", cpu="1"), node("b", cpu="1")])
    h.place(pod("guarded", cpu="1", priority=1, labels={"app": "db"}), "a")
    h.place(pod("free", cpu="1", priority=1, labels={"app": "batch"}), "b")
    h.pdbs.append({"metadata": {"name": "db", "namespace": "default"},
                   "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 0}})
    for _ in range(5):  # the random starting offset must not matter
        assert _preempt(h, pod("vip", cpu="1", priority=10))[:2] == ("b", ["free"])


def test_preemption_not_helpful_and_no_victims_messages() -> None:
    h = Harness([node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
                 node("w", cpu="1")])
    h.place(pod("same", cpu="1", priority=10), "w")
    _, _, msg = _preempt(h, pod("p", cpu="1", priority=10))
    assert msg == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: "
        "1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    )
    _, _, msg = _preempt(h, pod("never", cpu="1", priority=100, preemptionPolicy="Never"))
    assert msg.endswith(" preemption: not eligible due to preemptionPolicy=Never.")


def test_preemption_keeps_pods_it_can_reprieve() -> None:
    h = Harness([node("a", cpu="4")])
    for i, prio in enumerate([1, 2, 3, 4]):
        h.place(pod(f"p{i}", cpu="1", priority=prio), "a")
    node_name, victims, _ = _preempt(h, pod("vip", cpu="2", priority=10))
    assert (node_name, victims) == ("a", ["p0", "p1"])  # the two least important go


def test_nominated_pods_hold_their_room() -> None:
    h = Harness([node("a", cpu="2"), node("b", cpu="2")])
    vip = PodInfo(pod("vip", cpu="2", priority=100), 100)
    h.handle.nominator.add(vip, "a")
    d = h.schedule(pod("low", cpu="1", priority=0))
    assert d.node == "b"
    assert d.failed["a"].reasons == ("Insufficient cpu",)


# ----------------------------------------------------------------------------- queue
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _pi(name: str, prio: int = 0) -> PodInfo:
    return PodInfo(pod(name, priority=prio), prio)


async def test_queue_orders_by_priority_then_age() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(_pi("old"))
    clock.t += 1
    q.add(_pi("young"))
    q.add(_pi("vip", 10))
    got = [(await q.pop()) for _ in range(3)]
    assert [g.pod.name for g in got if g] == ["vip", "old", "young"]


async def test_queue_backoff_doubles_to_ten_seconds() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(_pi("p"))
    durations = []
    for _ in range(6):
        qp = await q.pop()
        assert qp is not None
        durations.append(q.backoff_duration(qp))
        q.add_backoff(qp)
        clock.t += 100
    assert durations == [1, 2, 4, 8, 10, 10]


async def test_unschedulable_pods_wait_for_a_relevant_event() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(_pi("p"))
    qp = await q.pop()
    assert qp is not None
    q.add_unschedulable(qp, {"NodeAffinity"})
    assert q.stats()["unschedulable"] == 1
    assert q.move_all(["NodeResourcesFit"]) == 0  # a pod deletion cannot fix a node-affinity mismatch
    assert q.move_all(None) == 1  # a node event can
    assert q.stats()["backoff"] == 1  # still inside its 1 s backoff
    clock.t += 1.5
    assert (await asyncio.wait_for(q.pop(), 1)) is not None


async def test_event_during_the_attempt_is_not_lost() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(_pi("p"))
    qp = await q.pop()
    assert qp is not None
    q.move_all(None)  # a node was added while the pod was being scheduled
    q.add_unschedulable(qp, {"NodeResourcesFit"})
    assert q.stats()["unschedulable"] == 0 and q.stats()["backoff"] == 1


async def test_deleted_while_in_flight_is_dropped() -> None:
    q = SchedulingQueue()
    q.add(_pi("p"))
    qp = await q.pop()
    assert qp is not None
    q.delete(qp.pod.key)
    q.add_unschedulable(qp, {"NodeResourcesFit"})
    assert len(q) == 0


def test_status_helpers() -> None:
    assert Status(0, ("a", "b")).message == "a, b"  # type: ignore[arg-type]


async def test_only_relevant_events_during_the_attempt_count() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(_pi("a"))
    q.add(_pi("b"))
    qa, qb = await q.pop(), await q.pop()
    assert qa is not None and qb is not None
    q.move_all(["InterPodAffinity"])  # e.g. a pod was bound somewhere
    q.add_unschedulable(qa, {"InterPodAffinity"})
    q.add_unschedulable(qb, {"NodeResourcesFit"})
    assert set(q.unschedulable) == {qb.pod.key}
    assert q.stats()["backoff"] == 1
    assert q.move_all(["NodeResourcesFit", "NodePorts"]) == 1
