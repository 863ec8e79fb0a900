"""Deployment arithmetic and bookkeeping, kept free of I/O: template hashes, revisions, surge/unavailability
fenceposts with upstream's rounding, proportional scaling and the Progressing/Available conditions.

The numbers here are what users reason about (`maxSurge: 25%` of 10 replicas is 3, `maxUnavailable: 25%` is 2),
so they follow upstream `pkg/controller/deployment/util` exactly.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import orjson

from kybernetes.client.informer import Obj
from kybernetes.controllers.pods import meta, ts
from kybernetes.machinery.meta import now_rfc3339

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SKIPPED_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}

NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
RS_UPDATED = "ReplicaSetUpdated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_CREATED = "NewReplicaSetCreated"
FAILED_RS_CREATE = "FailedRSCreate"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


# ---------------------------------------------------------------- spec access
def replicas(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def rs_replicas(rs: Obj) -> int:
    return replicas(rs)


def status_int(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def strategy(d: Obj) -> dict[str, Any]:
    s: dict[str, Any] = (d.get("spec") or {}).get("strategy") or {}
    return s


def is_rolling(d: Obj) -> bool:
    return bool(strategy(d).get("type", "RollingUpdate") == "RollingUpdate")


def revision_history_limit(d: Obj) -> int:
    v = (d.get("spec") or {}).get("revisionHistoryLimit")
    return 10 if v is None else int(v)


def progress_deadline(d: Obj) -> int | None:
    v = (d.get("spec") or {}).get("progressDeadlineSeconds")
    if v is None:
        return 600
    return None if int(v) >= 2**31 - 1 else int(v)


# ---------------------------------------------------------------- fenceposts
def scaled_value(v: Any, total: int, round_up: bool) -> int:
    """An int-or-percent against total, rounded like upstream's GetScaledValueFromIntOrPercent."""
    if isinstance(v, bool):
        raise ValueError(f"invalid value {v!r}")
    if isinstance(v, int):
        return v
    s = str(v)
    if s.endswith("%"):
        pct = int(s[:-1])
        x = pct * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(s)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; both zero would deadlock, so unavailable becomes 1."""
    ru = strategy(d).get("rollingUpdate") or {}
    want = replicas(d)
    surge = scaled_value(ru.get("maxSurge", "25%"), want, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), want, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Obj) -> int:
    want = replicas(d)
    if not is_rolling(d) or want == 0:
        return 0
    return min(fenceposts(d)[1], want)


# -------------------------------------------------------------------- hashes
def _prune(v: Any) -> Any:
    """Drop what Go's omitempty would: nulls, empty maps/lists, false, 0 and "" (semantic equality)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            p = _prune(x)
            if p is None or p == {} or p == [] or p is False or p == "" or (p == 0 and not isinstance(p, bool)):
                continue
            out[k] = p
        return out
    if isinstance(v, list):
        return [_prune(x) for x in v]
    return v


def normalized_template(template: dict[str, Any] | None, drop_hash: bool = True) -> Any:
    t = orjson.loads(orjson.dumps(template or {}))
    if drop_hash:
        labels = (t.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(HASH_LABEL, None)
    return _prune(t)


def equal_ignore_hash(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return bool(normalized_template(a) == normalized_template(b))


def safe_encode(s: str) -> str:
    return "".join(_SAFE[b % len(_SAFE)] for b in s.encode())


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: dict[str, Any] | None, collision_count: int | None = None) -> str:
    """Upstream's ComputeHash shape: FNV-32a of the template (here its canonical JSON), then the collision count
    as 4 little-endian bytes, rendered as the decimal string mapped onto safe characters."""
    data = orjson.dumps(normalized_template(template), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF)
    return safe_encode(str(fnv32a(data)))


# ------------------------------------------------------------------ revisions
def revision(obj: Obj) -> int:
    try:
        return int((meta(obj).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def max_revision(rss: list[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the deployment's annotations onto the new RS and bump its revision; True when anything changed."""
    m = rs.setdefault("metadata", {})
    ann: dict[str, str] = m.setdefault("annotations", {}) or {}
    m["annotations"] = ann
    changed = False
    for k, v in (meta(d).get("annotations") or {}).items():
        if k in SKIPPED_ANNOTATIONS:
            continue
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    old = ann.get(REVISION, "")
    try:
        old_n = int(old) if old else 0
    except ValueError:
        old_n = 0
    if old_n < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old:
            hist = ann.get(REVISION_HISTORY, "")
            ann[REVISION_HISTORY] = f"{hist},{old}" if hist else old
    if not exists:
        want = replicas(d)
        ann[DESIRED_REPLICAS] = str(want)
        ann[MAX_REPLICAS] = str(want + max_surge(d))
        changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = meta(rs).get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> None:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(max_replicas)


def desired_annotation(rs: Obj) -> int | None:
    v = (meta(rs).get("annotations") or {}).get(DESIRED_REPLICAS)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def max_replicas_annotation(rs: Obj) -> int | None:
    v = (meta(rs).get("annotations") or {}).get(MAX_REPLICAS)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


# ------------------------------------------------------------------ counting
def active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if rs_replicas(rs) > 0]


def spec_total(rss: list[Obj]) -> int:
    return sum(rs_replicas(rs) for rs in rss)


def pods_bound(rss: list[Obj]) -> int:
    """Pods that may exist right now: an RS scaled down still has its old pods until its controller acts."""
    return sum(max(rs_replicas(rs), status_int(rs, "replicas")) for rs in rss)


def available_total(rss: list[Obj]) -> int:
    """Available pods we can count on: an RS being scaled down is about to lose the pods above its spec."""
    return sum(min(status_int(rs, "availableReplicas"), rs_replicas(rs)) for rs in rss)


def by_creation(rss: list[Obj], newest_first: bool = False) -> list[Obj]:
    return sorted(
        rss, key=lambda r: (ts(meta(r).get("creationTimestamp")), meta(r).get("name", "")), reverse=newest_first
    )


def new_rs_new_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    if not is_rolling(d):
        return replicas(d)
    want = replicas(d)
    surge = fenceposts(d)[0]
    current = pods_bound(all_rss)
    max_total = want + surge
    if current >= max_total:
        return rs_replicas(new_rs)
    up = min(max_total - current, want - rs_replicas(new_rs))
    return rs_replicas(new_rs) + max(up, 0)


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    want = replicas(d)
    return (
        desired_annotation(rs) == want
        and rs_replicas(rs) == want
        and status_int(rs, "availableReplicas") == want
    )


def proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def rs_fraction(rs: Obj, d: Obj) -> int:
    want = replicas(d)
    if want == 0:
        return -rs_replicas(rs)
    deployment_replicas = want + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if annotated == 0:
        return 0
    size = rs_replicas(rs) * deployment_replicas / annotated
    return _round_half_away(size) - rs_replicas(rs)


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


# ---------------------------------------------------------------- conditions
def get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def new_condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
    now = now_rfc3339()
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """Upstream SetDeploymentCondition: no-op for the same status+reason; keep transition time on same status."""
    cur = get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=cur.get("lastTransitionTime", cond["lastTransitionTime"]))
    others = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    status["conditions"] = [*others, cond]


def remove_condition(status: dict[str, Any], type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def deployment_complete(d: Obj, st: dict[str, Any]) -> bool:
    want = replicas(d)
    return (
        int(st.get("updatedReplicas") or 0) == want
        and int(st.get("replicas") or 0) == want
        and int(st.get("availableReplicas") or 0) == want
        and int(st.get("observedGeneration") or 0) >= int(meta(d).get("generation") or 1)
    )


def deployment_progressing(d: Obj, st: dict[str, Any]) -> bool:
    old = d.get("status") or {}
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = int(st.get("replicas") or 0) - int(st.get("updatedReplicas") or 0)
    return (
        int(st.get("updatedReplicas") or 0) > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or int(st.get("readyReplicas") or 0) > int(old.get("readyReplicas") or 0)
        or int(st.get("availableReplicas") or 0) > int(old.get("availableReplicas") or 0)
    )


def deployment_timed_out(d: Obj, st: dict[str, Any], now: float) -> bool:
    deadline = progress_deadline(d)
    if deadline is None:
        return False
    cond = get_condition(st, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    return ts(cond.get("lastUpdateTime")) + deadline < now
