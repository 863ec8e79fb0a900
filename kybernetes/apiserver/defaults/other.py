"""Defaults of the remaining groups: networking, rbac, scheduling, storage, discovery, admissionregistration,
apiextensions, flowcontrol and certificates (each from upstream's pkg/apis/<group>/v1/defaults.go)."""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.defaults.fields import existing, if_empty, if_nil, struct
from kybernetes.apiserver.defaults.walker import Setter

NETWORKING = "io.k8s.api.networking.v1."
RBAC = "io.k8s.api.rbac.v1."
SCHEDULING = "io.k8s.api.scheduling.v1."
STORAGE = "io.k8s.api.storage.v1."
DISCOVERY = "io.k8s.api.discovery.v1."
ADMISSION = "io.k8s.api.admissionregistration.v1."
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
FLOWCONTROL = "io.k8s.api.flowcontrol.v1."
CERTIFICATES = "io.k8s.api.certificates.v1."
RBAC_GROUP = "rbac.authorization.k8s.io"


def network_policy(np: dict[str, Any]) -> None:
    spec = struct(np, "spec")
    if spec is not None and not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def network_policy_port(port: dict[str, Any]) -> None:
    if_nil(port, "protocol", "TCP")


def ingress_class(ic: dict[str, Any]) -> None:
    params = existing(struct(ic, "spec") or {}, "parameters")
    if params is not None:
        if_nil(params, "scope", "Cluster")


def role_binding(binding: dict[str, Any]) -> None:
    ref = struct(binding, "roleRef")
    if ref is not None:
        if_empty(ref, "apiGroup", RBAC_GROUP)


def subject(s: dict[str, Any]) -> None:
    if not s.get("apiGroup"):
        if s.get("kind") in ("User", "Group"):
            s["apiGroup"] = RBAC_GROUP
        elif s.get("kind") == "ServiceAccount":
            s["apiGroup"] = ""


def priority_class(pc: dict[str, Any]) -> None:
    if_nil(pc, "preemptionPolicy", "PreemptLowerPriority")


def storage_class(sc: dict[str, Any]) -> None:
    if_nil(sc, "reclaimPolicy", "Delete")
    if_nil(sc, "volumeBindingMode", "Immediate")


def csi_driver_spec(spec: dict[str, Any]) -> None:
    if_nil(spec, "attachRequired", True)
    if_nil(spec, "podInfoOnMount", False)
    if_nil(spec, "storageCapacity", False)
    if_nil(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if_nil(spec, "requiresRepublish", False)
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    if_nil(spec, "seLinuxMount", False)


def discovery_endpoint_port(port: dict[str, Any]) -> None:
    if_nil(port, "name", "")
    if_nil(port, "protocol", "TCP")


def _webhook(hook: dict[str, Any]) -> None:
    if_nil(hook, "failurePolicy", "Fail")
    if_nil(hook, "matchPolicy", "Equivalent")
    if_nil(hook, "namespaceSelector", {})
    if_nil(hook, "objectSelector", {})
    if_nil(hook, "timeoutSeconds", 10)


def validating_webhook(hook: dict[str, Any]) -> None:
    _webhook(hook)


def mutating_webhook(hook: dict[str, Any]) -> None:
    _webhook(hook)
    if_nil(hook, "reinvocationPolicy", "Never")


def rule(r: dict[str, Any]) -> None:
    if_nil(r, "scope", "*")


def service_reference(ref: dict[str, Any]) -> None:
    if_nil(ref, "port", 443)


def policy_spec(spec: dict[str, Any]) -> None:
    if_nil(spec, "failurePolicy", "Fail")


def match_resources(m: dict[str, Any]) -> None:
    if_nil(m, "matchPolicy", "Equivalent")
    if_nil(m, "namespaceSelector", {})
    if_nil(m, "objectSelector", {})


def crd_spec(spec: dict[str, Any]) -> None:
    if_nil(spec, "conversion", {"strategy": "None"})


def flow_schema_spec(spec: dict[str, Any]) -> None:
    if_empty(spec, "matchingPrecedence", 1000)


def priority_level_spec(spec: dict[str, Any]) -> None:
    if spec.get("type") == "Exempt":
        if_nil(spec, "exempt", {})
    exempt = existing(spec, "exempt")
    if exempt is not None:
        if_nil(exempt, "nominalConcurrencyShares", 0)
        if_nil(exempt, "lendablePercent", 0)


def limited_priority_level(limited: dict[str, Any]) -> None:
    if_nil(limited, "nominalConcurrencyShares", 30)
    if_nil(limited, "lendablePercent", 0)


def queuing(q: dict[str, Any]) -> None:
    if_empty(q, "handSize", 8)
    if_empty(q, "queues", 64)
    if_empty(q, "queueLengthLimit", 50)


def csr_condition(c: dict[str, Any]) -> None:
    if_empty(c, "status", "True")


SETTERS: dict[str, list[Setter]] = {
    NETWORKING + "NetworkPolicy": [network_policy],
    NETWORKING + "NetworkPolicyPort": [network_policy_port],
    NETWORKING + "IngressClass": [ingress_class],
    RBAC + "RoleBinding": [role_binding],
    RBAC + "ClusterRoleBinding": [role_binding],
    RBAC + "Subject": [subject],
    SCHEDULING + "PriorityClass": [priority_class],
    STORAGE + "StorageClass": [storage_class],
    STORAGE + "CSIDriverSpec": [csi_driver_spec],
    DISCOVERY + "EndpointPort": [discovery_endpoint_port],
    ADMISSION + "ValidatingWebhook": [validating_webhook],
    ADMISSION + "MutatingWebhook": [mutating_webhook],
    ADMISSION + "RuleWithOperations": [rule],
    ADMISSION + "NamedRuleWithOperations": [rule],
    ADMISSION + "ServiceReference": [service_reference],
    ADMISSION + "ValidatingAdmissionPolicySpec": [policy_spec],
    ADMISSION + "MatchResources": [match_resources],
    APIEXT + "CustomResourceDefinitionSpec": [crd_spec],
    APIEXT + "ServiceReference": [service_reference],
    FLOWCONTROL + "FlowSchemaSpec": [flow_schema_spec],
    FLOWCONTROL + "PriorityLevelConfigurationSpec": [priority_level_spec],
    FLOWCONTROL + "LimitedPriorityLevelConfiguration": [limited_priority_level],
    FLOWCONTROL + "QueuingConfiguration": [queuing],
    CERTIFICATES + "CertificateSigningRequestCondition": [csr_condition],
}
