"""Job bookkeeping without I/O: completion indexes, pod failure policy matching and Job conditions.

`completedIndexes` is written in upstream's interval form ("0-2,5"), and podFailurePolicy rules are matched the way
upstream does (only non-zero exit codes of terminated containers; the first matching rule wins).
"""

from __future__ import annotations

from typing import Any

from kybernetes.client.informer import Obj
from kybernetes.controllers.pods import condition, meta
from kybernetes.machinery.meta import now_rfc3339

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def parse_indexes(s: str | None) -> set[int]:
    out: set[int] = set()
    for part in (s or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if hi else a
        except ValueError:
            continue
        out.update(range(a, b + 1))
    return out


def format_indexes(idx: set[int]) -> str:
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(idx):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    m = meta(pod)
    raw = (m.get("annotations") or {}).get(INDEX_ANNOTATION) or (m.get("labels") or {}).get(INDEX_LABEL)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _exit_code_rule_matches(rule: dict[str, Any], pod: Obj) -> str | None:
    """The name of the first container whose non-zero exit code satisfies the rule, or None."""
    req = rule.get("onExitCodes")
    if not req:
        return None
    name = req.get("containerName")
    op = req.get("operator")
    values = set(req.get("values") or [])
    st = pod.get("status") or {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        if name and cs.get("name") != name:
            continue
        term = (cs.get("state") or {}).get("terminated")
        if not term:
            continue
        code = int(term.get("exitCode") or 0)
        if code == 0:
            continue
        if (op == "In" and code in values) or (op == "NotIn" and code not in values):
            return str(cs.get("name", ""))
    return None


def _condition_rule_matches(rule: dict[str, Any], pod: Obj) -> bool:
    for pat in rule.get("onPodConditions") or []:
        c = condition(pod, pat.get("type", ""))
        if c is not None and c.get("status") == pat.get("status", "True"):
            return True
    return False


def match_failure_policy(job: Obj, pod: Obj) -> tuple[str, str] | None:
    """(action, message) of the first podFailurePolicy rule matching a failed pod, or None."""
    policy = (job.get("spec") or {}).get("podFailurePolicy") or {}
    m = meta(pod)
    for i, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action", "")
        container = _exit_code_rule_matches(rule, pod)
        if container is not None:
            code = next(
                (
                    ((cs.get("state") or {}).get("terminated") or {}).get("exitCode")
                    for cs in ((pod.get("status") or {}).get("containerStatuses") or [])
                    if cs.get("name") == container
                ),
                None,
            )
            return action, (
                f"Container {container} for pod {m.get('namespace')}/{m.get('name')} failed with exit code {code} "
                f"matching {action} rule at index {i}"
            )
        if _condition_rule_matches(rule, pod):
            return action, f"Pod {m.get('namespace')}/{m.get('name')} has condition matching {action} rule at index {i}"
    return None


def finished_condition(job: Obj) -> str | None:
    """'Complete' or 'Failed' once the Job has that condition True."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_condition(type_: str, reason: str, message: str, status: str = "True") -> dict[str, Any]:
    now = now_rfc3339()
    return {
        "type": type_,
        "status": status,
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_job_condition(conds: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    found = False
    for c in conds:
        if c.get("type") == new["type"]:
            found = True
            if c.get("status") == new["status"] and c.get("reason") == new.get("reason"):
                out.append(c)
            else:
                out.append(new)
        else:
            out.append(c)
    if not found:
        out.append(new)
    return out
