"""apps/v1, batch/v1 and autoscaling defaults (upstream's apps, batch and autoscaling v1/v2 defaults.go).

Pod templates inside these kinds get the PodSpec and Container defaults from the walker; only what the kinds
themselves add is here. Feature gates are taken at their 1.33 defaults (StatefulSetAutoDeletePVC and
JobPodReplacementPolicy on, MaxUnavailableStatefulSet off).
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.defaults.fields import existing, if_empty, if_nil, items, struct
from kybernetes.apiserver.defaults.walker import Setter

APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."
AUTOSCALING_V1 = "io.k8s.api.autoscaling.v1."
AUTOSCALING_V2 = "io.k8s.api.autoscaling.v2."
MAX_INT32 = 2**31 - 1


def _rolling(strategy: dict[str, Any], max_unavailable: Any, max_surge: Any) -> None:
    rolling = struct(strategy, "rollingUpdate")
    if rolling is not None:
        if_nil(rolling, "maxUnavailable", max_unavailable)
        if_nil(rolling, "maxSurge", max_surge)


def deployment(d: dict[str, Any]) -> None:
    spec = struct(d, "spec")
    if spec is None:
        return
    if_nil(spec, "replicas", 1)
    strategy = struct(spec, "strategy")
    if strategy is not None:
        if_empty(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            _rolling(strategy, "25%", "25%")
    if_nil(spec, "revisionHistoryLimit", 10)
    if_nil(spec, "progressDeadlineSeconds", 600)


def daemon_set(ds: dict[str, Any]) -> None:
    spec = struct(ds, "spec")
    if spec is None:
        return
    strategy = struct(spec, "updateStrategy")
    if strategy is not None:
        if_empty(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            _rolling(strategy, 1, 0)
    if_nil(spec, "revisionHistoryLimit", 10)


def stateful_set(sts: dict[str, Any]) -> None:
    spec = struct(sts, "spec")
    if spec is None:
        return
    if_empty(spec, "podManagementPolicy", "OrderedReady")
    strategy = struct(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            if_nil(strategy, "rollingUpdate", {})
        rolling = existing(strategy, "rollingUpdate")
        if strategy["type"] == "RollingUpdate" and rolling is not None:
            if_nil(rolling, "partition", 0)
    policy = struct(spec, "persistentVolumeClaimRetentionPolicy")
    if policy is not None:
        if_empty(policy, "whenDeleted", "Retain")
        if_empty(policy, "whenScaled", "Retain")
    if_nil(spec, "replicas", 1)
    if_nil(spec, "revisionHistoryLimit", 10)


def replica_set(rs: dict[str, Any]) -> None:
    spec = struct(rs, "spec")
    if spec is not None:
        if_nil(spec, "replicas", 1)


def job(j: dict[str, Any]) -> None:
    spec = struct(j, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if_nil(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    labels = (((spec.get("template") or {}).get("metadata")) or {}).get("labels")
    meta = struct(j, "metadata")
    if labels is not None and meta is not None and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if_nil(spec, "completionMode", "NonIndexed")
    if_nil(spec, "suspend", False)
    failure_policy = existing(spec, "podFailurePolicy")
    if failure_policy is not None:
        for rule in items(failure_policy, "rules"):
            for pattern in items(rule, "onPodConditions"):
                if_empty(pattern, "status", "True")
    if_nil(spec, "manualSelector", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"


def cron_job(cj: dict[str, Any]) -> None:
    spec = struct(cj, "spec")
    if spec is None:
        return
    if_empty(spec, "concurrencyPolicy", "Allow")
    if_nil(spec, "suspend", False)
    if_nil(spec, "successfulJobsHistoryLimit", 3)
    if_nil(spec, "failedJobsHistoryLimit", 1)


def hpa_v1(hpa: dict[str, Any]) -> None:
    spec = struct(hpa, "spec")
    if spec is not None:
        if_nil(spec, "minReplicas", 1)


def _scale_up_rules() -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def _scale_down_rules() -> dict[str, Any]:
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _fill_rules(behavior: dict[str, Any], key: str, defaults: dict[str, Any]) -> None:
    rules = behavior.get(key)
    if not isinstance(rules, dict):
        behavior[key] = defaults
        return
    for field in ("stabilizationWindowSeconds", "selectPolicy"):
        if rules.get(field) is None and field in defaults:
            rules[field] = defaults[field]
    if not rules.get("policies"):
        rules["policies"] = defaults["policies"]


def hpa_v2(hpa: dict[str, Any]) -> None:
    spec = struct(hpa, "spec")
    if spec is None:
        return
    if_nil(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}
        ]
    behavior = existing(spec, "behavior")
    if behavior is not None:
        _fill_rules(behavior, "scaleUp", _scale_up_rules())
        _fill_rules(behavior, "scaleDown", _scale_down_rules())


SETTERS: dict[str, list[Setter]] = {
    APPS + "Deployment": [deployment],
    APPS + "DaemonSet": [daemon_set],
    APPS + "StatefulSet": [stateful_set],
    APPS + "ReplicaSet": [replica_set],
    BATCH + "Job": [job],
    BATCH + "CronJob": [cron_job],
    AUTOSCALING_V1 + "HorizontalPodAutoscaler": [hpa_v1],
    AUTOSCALING_V2 + "HorizontalPodAutoscaler": [hpa_v2],
}
