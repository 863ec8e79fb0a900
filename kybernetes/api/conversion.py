"""Conversions between versions that share one stored object (events.k8s.io/v1 <-> core/v1 Event,
autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler).

Objects are stored in one version; a request for another version of the same resource is converted on the way
out and on the way in, like upstream's conversion through the internal version.
"""

from __future__ import annotations

from typing import Any

# events.k8s.io/v1 field <- core/v1 field
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}


def core_event_to_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["apiVersion"] = "events.k8s.io/v1"
    for new, old in _EVENT_FIELDS.items():
        if old in out:
            out[new] = out.pop(old)
    if isinstance(out.get("deprecatedSource"), dict) and not out["deprecatedSource"]:
        out.pop("deprecatedSource")
    return out


def events_v1_to_core_event(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    out["apiVersion"] = "v1"
    for new, old in _EVENT_FIELDS.items():
        if new in out:
            out[old] = out.pop(new)
    out.setdefault("involvedObject", {})
    return out


def hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v1"
    spec = obj.get("spec") or {}
    nspec: dict[str, Any] = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    for m in spec.get("metrics") or []:
        res = m.get("resource") or {}
        target = res.get("target") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu" and target.get("type") == "Utilization":
            nspec["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
    out["spec"] = nspec
    if "status" in obj:
        st = obj.get("status") or {}
        nst: dict[str, Any] = {
            k: st[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas") if k in st
        }
        nst.setdefault("currentReplicas", 0)
        nst.setdefault("desiredReplicas", 0)
        for m in st.get("currentMetrics") or []:
            res = m.get("resource") or {}
            cur = res.get("current") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu" and "averageUtilization" in cur:
                nst["currentCPUUtilizationPercentage"] = cur["averageUtilization"]
        out["status"] = nst
    return out


def hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("spec", "status")}
    out["apiVersion"] = "autoscaling/v2"
    spec = obj.get("spec") or {}
    nspec: dict[str, Any] = {
        k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec
    }
    if spec.get("targetCPUUtilizationPercentage") is not None:
        nspec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": spec["targetCPUUtilizationPercentage"]},
                },
            }
        ]
    out["spec"] = nspec
    if "status" in obj:
        st = obj.get("status") or {}
        nst: dict[str, Any] = {
            k: st[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas") if k in st
        }
        if st.get("currentCPUUtilizationPercentage") is not None:
            nst["currentMetrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": st["currentCPUUtilizationPercentage"]},
                    },
                }
            ]
        out["status"] = nst
    return out


def needs_conversion(group: str, version: str, resource: str, stored_api_version: str) -> bool:
    expected = f"{group}/{version}" if group else version
    return expected != stored_api_version


def convert(obj: dict[str, Any], to_api_version: str) -> dict[str, Any]:
    frm = obj.get("apiVersion")
    kind = obj.get("kind")
    if frm == to_api_version:
        return obj
    if kind == "HorizontalPodAutoscaler":
        if frm == "autoscaling/v2" and to_api_version == "autoscaling/v1":
            return hpa_v2_to_v1(obj)
        if frm == "autoscaling/v1" and to_api_version == "autoscaling/v2":
            return hpa_v1_to_v2(obj)
    if kind == "Event":
        if to_api_version == "events.k8s.io/v1" and frm == "v1":
            return core_event_to_events_v1(obj)
        if to_api_version == "v1" and frm == "events.k8s.io/v1":
            return events_v1_to_core_event(obj)
    out = dict(obj)
    out["apiVersion"] = to_api_version
    return out
