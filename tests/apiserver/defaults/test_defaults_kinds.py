"""Upstream's SetDefaults_* for the built-in kinds, applied by the schema walker (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.apiserver.defaults import builtin_defaulter
from kybernetes.apiserver.defaults.admission import default_toleration_seconds
from kybernetes.apiserver.defaults.core import image_tag
from kybernetes.apiserver.defaults.jobs import generate_selector

DEFAULTER = builtin_defaulter()

CONTAINER = {"name": "c", "image": "nginx:1.25"}
POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}
CONTAINER_DEFAULTS = {
    "resources": {},
    "imagePullPolicy": "IfNotPresent",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}


def defaulted(obj: dict[str, Any]) -> dict[str, Any]:
    DEFAULTER.default(obj)
    return obj


def template(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [dict(CONTAINER)], **spec}}


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("nginx", "latest"),
        ("nginx:latest", "latest"),
        ("nginx:1.25", "1.25"),
        ("localhost:5000/app", "latest"),
        ("registry.example.com:443/team/app:v2", "v2"),
        ("nginx@sha256:" + "a" * 64, ""),
        ("nginx:latest@sha256:" + "a" * 64, "latest"),
        ("Upper/Case", ""),
        ("", ""),
    ],
)
def test_image_tag_like_parse_image_name(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_pod_defaults() -> None:
    pod = defaulted(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                        "readinessProbe": {"httpGet": {"port": 80}},
                        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    }
                ],
                "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}],
            },
        }
    )
    spec = pod["spec"]
    assert {k: spec[k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "Always"
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x", "defaultMode": 420}}]


def test_explicit_values_win_and_defaulting_is_idempotent() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Never"}]},
    }
    once = defaulted(pod)
    assert once["spec"]["restartPolicy"] == "Never"
    assert once["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    import copy

    assert defaulted(copy.deepcopy(once)) == once


def test_deployment_defaults_and_template() -> None:
    d = defaulted(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template()}}
    )
    spec = d["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["metadata"]["creationTimestamp"] is None
    assert {k: spec["template"]["spec"][k] for k in POD_SPEC_DEFAULTS} == POD_SPEC_DEFAULTS
    assert "enableServiceLinks" not in spec["template"]["spec"]  # Pod-only default
    assert spec["template"]["spec"]["containers"][0] == {**CONTAINER, **CONTAINER_DEFAULTS}
    assert d["status"] == {}


def test_recreate_strategy_gets_no_rolling_update() -> None:
    d = defaulted({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"strategy": {"type": "Recreate"}}})
    assert d["spec"]["strategy"] == {"type": "Recreate"}


def test_statefulset_daemonset_replicaset_defaults() -> None:
    sts = defaulted({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"template": template()}})["spec"]
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert sts["replicas"] == 1 and sts["revisionHistoryLimit"] == 10
    ds = defaulted({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {"template": template()}})["spec"]
    assert ds["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["revisionHistoryLimit"] == 10
    rs = defaulted({"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": {"template": template()}})
    assert rs["spec"]["replicas"] == 1 and rs["status"] == {"replicas": 0}


def test_volume_claim_templates_are_claims() -> None:
    sts = defaulted(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "spec": {"template": template(), "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]},
        }
    )
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}


def test_job_and_cronjob_defaults() -> None:
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "uid": "u-1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [dict(CONTAINER)]}}},
    }
    generate_selector(job)
    defaulted(job)
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False and spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    labels = {"job-name": "j", "batch.kubernetes.io/job-name": "j", "controller-uid": "u-1",
              "batch.kubernetes.io/controller-uid": "u-1"}
    assert spec["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["labels"] == labels
    manual: dict[str, Any] = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "m", "uid": "u"},
                              "spec": {"manualSelector": True, "parallelism": 3}}
    generate_selector(manual)
    defaulted(manual)
    assert "selector" not in manual["spec"] and "completions" not in manual["spec"]
    cj = defaulted({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "* * * * *",
                    "jobTemplate": {"spec": {"template": {"spec": {"containers": [dict(CONTAINER)]}}}}}})["spec"]
    assert (cj["concurrencyPolicy"], cj["suspend"], cj["successfulJobsHistoryLimit"], cj["failedJobsHistoryLimit"]) == (
        "Allow", False, 3, 1)
    jt = cj["jobTemplate"]
    assert jt["metadata"] == {"creationTimestamp": None} and "backoffLimit" not in jt["spec"]
    assert jt["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_service_defaults() -> None:
    svc = defaulted({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}})
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None" and spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]
    assert "externalTrafficPolicy" not in spec
    lb = defaulted({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP"}})["spec"]
    assert lb["externalTrafficPolicy"] == "Cluster" and lb["allocateLoadBalancerNodePorts"] is True
    assert lb["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


@pytest.mark.parametrize(
    ("obj", "path", "value"),
    [
        ({"apiVersion": "v1", "kind": "Secret"}, ("type",), "Opaque"),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {}}, ("spec", "volumeMode"), "Filesystem"),
        ({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": {}}, ("status", "phase"), "Pending"),
        ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}, ("status", "phase"), "Active"),
        ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
         ("metadata", "labels", "kubernetes.io/metadata.name"), "n"),
        ({"apiVersion": "v1", "kind": "Node", "status": {"capacity": {"cpu": "2"}}}, ("status", "allocatable"), {"cpu": "2"}),
        ({"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": template()}}, ("spec", "replicas"), 1),
        ({"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": template()}}, ("spec", "selector"), {"app": "x"}),
        ({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 5}, ("preemptionPolicy",), "PreemptLowerPriority"),
        ({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {}}, ("spec", "minReplicas"), 1),
        ({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "spec": {}}, ("spec", "metrics"),
         [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        ({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "spec": {}}, ("spec", "minReplicas"), 1),
        ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "roleRef": {"kind": "Role", "name": "r"},
          "subjects": [{"kind": "User", "name": "u"}]}, ("subjects", 0, "apiGroup"), "rbac.authorization.k8s.io"),
        ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "roleRef": {"kind": "ClusterRole", "name": "r"}},
         ("roleRef", "apiGroup"), "rbac.authorization.k8s.io"),
        ({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": {"egress": [{}]}},
         ("spec", "policyTypes"), ["Ingress", "Egress"]),
        ({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "provisioner": "p"}, ("volumeBindingMode",), "Immediate"),
        ({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4", "ports": [{"port": 1}]},
         ("ports", 0, "protocol"), "TCP"),
        ({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
          "webhooks": [{"name": "w", "clientConfig": {"service": {"name": "s", "namespace": "n"}}}]},
         ("webhooks", 0, "clientConfig", "service", "port"), 443),
    ],
)
def test_kind_defaults(obj: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    cur: Any = defaulted(obj)
    for p in path:
        cur = cur[p]
    assert cur == value


def test_default_toleration_seconds() -> None:
    pod: dict[str, Any] = {"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]}}
    default_toleration_seconds(pod)
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    ]
    everything: dict[str, Any] = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    default_toleration_seconds(everything)
    assert everything["spec"]["tolerations"] == [{"operator": "Exists"}]
