"""The garbage collector's owner graph: what each change asks the collector to look at."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.gcgraph import FOREGROUND, ORPHAN, Graph


def obj(uid: str, *owners: str, block: bool = True, deleting: bool = False, finalizers: tuple[str, ...] = ()) -> dict[str, Any]:
    m: dict[str, Any] = {
        "uid": uid,
        "name": uid,
        "namespace": "ns",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Thing", "name": o, "uid": o, "blockOwnerDeletion": block} for o in owners],
    }
    if deleting:
        m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if finalizers:
        m["finalizers"] = list(finalizers)
    return {"apiVersion": "v1", "kind": "Thing", "metadata": m}


def test_unseen_owner_becomes_virtual_and_is_checked() -> None:
    g = Graph()
    w = g.observe(obj("child", "parent"))
    assert w.attempt_delete == {"parent"}
    parent = g.get("parent")
    assert parent is not None and parent.virtual and parent.dependents == {"child"}
    w = g.observe(obj("parent"))
    assert not w.attempt_delete and not g.get("parent").virtual  # type: ignore[union-attr]


def test_owner_deleted_enqueues_dependents() -> None:
    g = Graph()
    g.observe(obj("parent"))
    g.observe(obj("a", "parent"))
    g.observe(obj("b", "parent"))
    w = g.deleted(obj("parent"))
    assert w.attempt_delete == {"a", "b"}
    assert g.get("parent") is not None and g.get("parent").virtual  # type: ignore[union-attr]
    g.deleted(obj("a"))
    g.deleted(obj("b"))
    assert g.get("parent") is None


def test_foreground_and_orphan_transitions() -> None:
    g = Graph()
    g.observe(obj("p"))
    g.observe(obj("c1", "p"))
    g.observe(obj("c2", "p", block=False))
    w = g.observe(obj("p", deleting=True, finalizers=(FOREGROUND,)))
    assert w.attempt_delete == {"p", "c1", "c2"}
    p = g.get("p")
    assert p is not None and [d.uid for d in g.blocking_dependents(p)] == ["c1"]
    w = g.deleted(obj("c1"))
    assert "p" in w.attempt_delete
    q = Graph()
    q.observe(obj("p"))
    q.observe(obj("c", "p"))
    w = q.observe(obj("p", deleting=True, finalizers=(ORPHAN,)))
    assert w.orphan == {"p"}


def test_dropping_a_blocking_reference_unblocks_the_owner() -> None:
    g = Graph()
    g.observe(obj("p", deleting=True, finalizers=(FOREGROUND,)))
    g.observe(obj("c", "p"))
    w = g.observe(obj("c"))
    assert "p" in w.attempt_delete
    assert g.get("p").dependents == set()  # type: ignore[union-attr]
