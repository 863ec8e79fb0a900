"""Which nodes a pod may run on, as far as controllers need to know: taints/tolerations and node selection.

The DaemonSet controller decides per node whether a daemon pod belongs there (nodeSelector, required node
affinity, taints it does not tolerate), and the node lifecycle controller decides which pods a NoExecute taint
evicts and when (tolerationSeconds). Both use upstream's matching rules from `component-helpers`.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated_by(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> dict[str, Any] | None:
    return next((t for t in tolerations if tolerates(t, taint)), None)


def untolerated(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]], effects: tuple[str, ...]) -> list[dict[str, Any]]:
    return [t for t in taints if t.get("effect") in effects and tolerated_by(tolerations, t) is None]


def _requirement_matches(req: dict[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        try:
            v, limit = int(value or ""), int(values[0])
        except (ValueError, IndexError):
            return False
        return v > limit if op == "Gt" else v < limit
    return False


def term_matches(term: dict[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm: all matchExpressions (labels) and matchFields (metadata.name) hold; empty matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    for r in exprs:
        if not _requirement_matches(r, labels.get(r.get("key", ""))):
            return False
    for r in fields:
        value = (node.get("metadata") or {}).get("name") if r.get("key") == "metadata.name" else None
        if not _requirement_matches(r, value):
            return False
    return True


def required_terms(pod_spec: dict[str, Any]) -> list[dict[str, Any]] | None:
    na = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if na is None:
        return None
    return list(na.get("nodeSelectorTerms") or [])


def selects_node(pod_spec: dict[str, Any], node: Obj) -> bool:
    """nodeSelector and required node affinity (terms are ORed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    terms = required_terms(pod_spec)
    if terms is not None and not any(term_matches(t, node) for t in terms):
        return False
    return True


def target_node(pod: Obj) -> str:
    """The node a pod is bound to, or the one its node affinity pins it to (daemon pods before binding)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    for term in required_terms(spec) or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return ""


def node_taints(node: Obj) -> list[dict[str, Any]]:
    return list((node.get("spec") or {}).get("taints") or [])
