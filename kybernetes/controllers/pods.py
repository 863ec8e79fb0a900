"""Pod facts every workload controller needs: active/ready/available, creation from a template, deletion order.

These mirror upstream's `controller_utils.go` so that replica counts, availability (minReadySeconds) and which pod
goes first on scale-down agree with what users expect from Kubernetes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from kybernetes.client.informer import Obj
from kybernetes.controllers.base import deepcopy
from kybernetes.machinery.meta import parse_time

PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def meta(obj: Obj) -> dict[str, Any]:
    m: dict[str, Any] = obj.get("metadata") or {}
    return m


def ts(s: str | None) -> float:
    """An RFC 3339 timestamp as epoch seconds (0 when absent)."""
    t = parse_time(s)
    return t.timestamp() if t is not None else 0.0


def condition(obj: Obj, type_: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_terminal(pod: Obj) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Neither finished nor being deleted: it counts towards replicas."""
    return not is_terminal(pod) and not meta(pod).get("deletionTimestamp")


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def ready_since(pod: Obj) -> float:
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return 0.0
    return ts(c.get("lastTransitionTime")) or ts(meta(pod).get("creationTimestamp"))


def is_available(pod: Obj, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least minReadySeconds."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since > 0 and since + min_ready_seconds <= (now if now is not None else time.time())


def restarts(pod: Obj) -> int:
    return sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or [])


def deletion_order(pods: Iterable[Obj], colocated: dict[str, int] | None = None) -> list[Obj]:
    """Pods sorted so the ones to delete first come first (upstream ActivePodsWithRanks):
    unscheduled, then pending/unknown/running, not ready, more siblings on the same node, ready for less time,
    more restarts, newer."""
    ranks = colocated or {}

    def key(p: Obj) -> tuple[int, int, int, int, float, int, float]:
        node = (p.get("spec") or {}).get("nodeName") or ""
        ready = is_ready(p)
        return (
            1 if node else 0,
            PHASE_RANK.get(phase(p), 0),
            1 if ready else 0,
            -ranks.get(node, 0),
            -ready_since(p) if ready else 0.0,
            -restarts(p),
            -ts(meta(p).get("creationTimestamp")),
        )

    return sorted(pods, key=key)


def owner_reference(owner: Obj, *, controller: bool = True, block: bool = True) -> dict[str, Any]:
    m = meta(owner)
    ref: dict[str, Any] = {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": m.get("name", ""),
        "uid": m.get("uid", ""),
    }
    if controller:
        ref["controller"] = True
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def pod_from_template(template: dict[str, Any], owner: Obj, generate_name: str = "") -> Obj:
    """A new pod for owner from its pod template (labels, annotations, finalizers and spec copied)."""
    t = deepcopy(template)
    tm = t.get("metadata") or {}
    m: dict[str, Any] = {
        "namespace": meta(owner).get("namespace", ""),
        "labels": dict(tm.get("labels") or {}),
        "ownerReferences": [owner_reference(owner)],
    }
    if tm.get("annotations"):
        m["annotations"] = dict(tm["annotations"])
    if tm.get("finalizers"):
        m["finalizers"] = list(tm["finalizers"])
    if generate_name:
        m["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": t.get("spec") or {}}


def colocation(pods: Iterable[Obj]) -> dict[str, int]:
    """Active pods per node, the 'rank' of upstream's scale-down ordering."""
    out: dict[str, int] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName") or ""
        if node and is_active(p):
            out[node] = out.get(node, 0) + 1
    return out


def set_condition(conditions: list[dict[str, Any]], new: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """Replace the condition of new's type, keeping lastTransitionTime when the status did not change."""
    out = []
    found = False
    for c in conditions:
        if c.get("type") != new["type"]:
            out.append(c)
            continue
        found = True
        merged = dict(new)
        if c.get("status") == new.get("status") and c.get("lastTransitionTime"):
            merged["lastTransitionTime"] = c["lastTransitionTime"]
        else:
            merged.setdefault("lastTransitionTime", now)
        out.append(merged)
    if not found:
        n = dict(new)
        n.setdefault("lastTransitionTime", now)
        out.append(n)
    return out
