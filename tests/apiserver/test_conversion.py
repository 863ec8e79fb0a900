"""Versions sharing one stored object convert both ways (HPA v1/v2, Event core/events.k8s.io)."""

from __future__ import annotations

from kybernetes.api.conversion import convert


def test_hpa_v1_v2_round_trip() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 50,
        },
        "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 70},
    }
    v2 = convert(v1, "autoscaling/v2")
    assert v2["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    ]
    assert v2["status"]["currentMetrics"][0]["resource"]["current"] == {"averageUtilization": 70}
    assert convert(v2, "autoscaling/v1") == v1


def test_event_core_and_events_v1() -> None:
    core = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "message": "hello",
        "reason": "Started",
        "count": 2,
        "source": {"component": "kubelet"},
        "type": "Normal",
    }
    ev = convert(core, "events.k8s.io/v1")
    assert ev["regarding"] == {"kind": "Pod", "name": "p"} and ev["note"] == "hello"
    assert ev["deprecatedCount"] == 2 and ev["deprecatedSource"] == {"component": "kubelet"}
    assert convert(ev, "v1") == core
