"""Printers for the remaining groups: certificates, coordination, scheduling, node, admission
registration, flow control, apiserver-internal, resource (DRA), storage migration and the
aggregator's APIService.
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.printers._common import (
    AGE,
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    creation_age,
    dicts,
    gbool,
    gdict,
    get,
    gint,
    glist,
    gstr,
    human_duration,
    is_deleting,
    list_with_more,
    name_of,
)
from kybernetes.apiserver.printers._descriptions import doc

# ---------------------------------------------------------------------------------------------
# certificates.k8s.io
# ---------------------------------------------------------------------------------------------

CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "string", doc("CertificateSigningRequestSpec.signerName")),
    Column("Requestor", "string", doc("CertificateSigningRequestSpec.request")),
    Column("RequestedDuration", "string", doc("CertificateSigningRequestSpec.expirationSeconds")),
    Column("Condition", "string", doc("CertificateSigningRequestStatus.conditions")),
)


def csr_condition(obj: JSONDict) -> str:
    """extractCSRStatus: Denied > Approved > Pending, then ",Failed" and ",Issued" when they apply."""
    types = {gstr(c, "type") for c in dicts(glist(obj, "status", "conditions"))}
    if "Denied" in types:
        status = "Denied"
    elif "Approved" in types:
        status = "Approved"
    else:
        status = "Pending"
    if "Failed" in types:
        status += ",Failed"
    if gstr(obj, "status", "certificate"):
        status += ",Issued"
    return status


def csr_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printCertificateSigningRequest: REQUESTOR is spec.username, REQUESTEDDURATION from expirationSeconds."""
    expiration = get(obj, "spec", "expirationSeconds")
    duration = "<none>"
    if expiration is not None:
        duration = human_duration(gint(obj, "spec", "expirationSeconds"))
    return [
        name_of(obj),
        creation_age(obj, ctx.now),
        gstr(obj, "spec", "signerName") or "<none>",
        gstr(obj, "spec", "username"),
        duration,
        csr_condition(obj),
    ]


CLUSTER_TRUST_BUNDLE_COLUMNS = (
    NAME,
    Column("SignerName", "string", doc("ClusterTrustBundleSpec.signerName")),
)


def cluster_trust_bundle_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printClusterTrustBundle."""
    return [name_of(obj), gstr(obj, "spec", "signerName") or "<none>"]


# ---------------------------------------------------------------------------------------------
# coordination.k8s.io
# ---------------------------------------------------------------------------------------------

LEASE_COLUMNS = (NAME, Column("Holder", "string", doc("LeaseSpec.holderIdentity")), AGE)


def lease_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printLease: the holder identity ("" when free)."""
    return [name_of(obj), gstr(obj, "spec", "holderIdentity"), creation_age(obj, ctx.now)]


LEASE_CANDIDATE_COLUMNS = (
    NAME,
    Column("LeaseName", "string", doc("LeaseCandidateSpec.leaseName")),
    # upstream looks these descriptions up on ObjectMeta, where they do not exist: empty
    Column("BinaryVersion", "string", ""),
    Column("EmulationVersion", "string", ""),
    AGE,
)


def lease_candidate_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printLeaseCandidate."""
    spec = gdict(obj, "spec")
    return [
        name_of(obj),
        gstr(spec, "leaseName"),
        gstr(spec, "binaryVersion"),
        gstr(spec, "emulationVersion"),
        creation_age(obj, ctx.now),
    ]


# ---------------------------------------------------------------------------------------------
# scheduling.k8s.io, node.k8s.io
# ---------------------------------------------------------------------------------------------

PRIORITY_CLASS_COLUMNS = (
    NAME,
    Column("Value", "integer", doc("PriorityClass.value")),
    Column("Global-Default", "boolean", doc("PriorityClass.globalDefault")),
    AGE,
    Column("PreemptionPolicy", "string", doc("PriorityClass.preemptionPolicy")),
)


def priority_class_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPriorityClass."""
    return [
        name_of(obj),
        gint(obj, "value"),
        gbool(obj, "globalDefault"),
        creation_age(obj, ctx.now),
        gstr(obj, "preemptionPolicy"),
    ]


RUNTIME_CLASS_COLUMNS = (NAME, Column("Handler", "string", ""), AGE)


def runtime_class_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printRuntimeClass."""
    return [name_of(obj), gstr(obj, "handler"), creation_age(obj, ctx.now)]


# ---------------------------------------------------------------------------------------------
# admissionregistration.k8s.io
# ---------------------------------------------------------------------------------------------

_WEBHOOKS = Column(
    "Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"
)
WEBHOOK_COLUMNS = (NAME, _WEBHOOKS, AGE)


def webhook_configuration_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printMutatingWebhook / printValidatingWebhook: the number of webhooks."""
    return [name_of(obj), len(glist(obj, "webhooks")), creation_age(obj, ctx.now)]


_PARAM_KIND = Column(
    "ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy"
)
VALIDATING_ADMISSION_POLICY_COLUMNS = (
    NAME,
    Column(
        "Validations",
        "integer",
        "Validations indicates the number of validation rules defined in this configuration",
    ),
    _PARAM_KIND,
    AGE,
)
MUTATING_ADMISSION_POLICY_COLUMNS = (
    NAME,
    Column(
        "Mutations",
        "integer",
        "Mutation indicates the number of mutations rules defined in this configuration",
    ),
    _PARAM_KIND,
    AGE,
)


def _param_kind(obj: JSONDict) -> str:
    pk = get(obj, "spec", "paramKind")
    if not isinstance(pk, dict):
        return "<unset>"
    return f"{gstr(pk, 'apiVersion')}/{gstr(pk, 'kind')}"


def validating_admission_policy_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printValidatingAdmissionPolicy."""
    return [
        name_of(obj),
        len(glist(obj, "spec", "validations")),
        _param_kind(obj),
        creation_age(obj, ctx.now),
    ]


def mutating_admission_policy_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printMutatingAdmissionPolicy."""
    return [name_of(obj), len(glist(obj, "spec", "mutations")), _param_kind(obj), creation_age(obj, ctx.now)]


POLICY_BINDING_COLUMNS = (
    NAME,
    Column(
        "PolicyName",
        "string",
        "PolicyName indicates the policy definition which the policy binding binded to",
    ),
    Column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
    AGE,
)


def go_label_selector_debug_string(sel: JSONDict) -> str:
    """metav1.LabelSelector.String(), the generated Go debug form upstream prints for selector paramRefs."""
    exprs = ""
    for e in dicts(glist(sel, "matchExpressions")):
        values = " ".join(v if isinstance(v, str) else str(v) for v in glist(e, "values"))
        exprs += f"LabelSelectorRequirement{{Key:{gstr(e, 'key')},Operator:{gstr(e, 'operator')},Values:[{values}],}},"
    match_labels = gdict(sel, "matchLabels")
    labels = "".join(f"{k}: {match_labels[k]}," for k in sorted(match_labels))
    return (
        "&LabelSelector{"
        f"MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},"
        "}"
    )


def policy_binding_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """print{Validating,Mutating}AdmissionPolicyBinding: PARAMREF as ns/name, */name or the selector."""
    param = "<unset>"
    ref = get(obj, "spec", "paramRef")
    if isinstance(ref, dict):
        if gstr(ref, "name"):
            ns = gstr(ref, "namespace")
            # cluster-scoped params cannot be told apart here, so no namespace prints as "*"
            param = f"{ns}/{gstr(ref, 'name')}" if ns else f"*/{gstr(ref, 'name')}"
        elif isinstance(ref.get("selector"), dict):
            param = go_label_selector_debug_string(gdict(ref, "selector"))
    return [name_of(obj), gstr(obj, "spec", "policyName"), param, creation_age(obj, ctx.now)]


# ---------------------------------------------------------------------------------------------
# flowcontrol.apiserver.k8s.io
# ---------------------------------------------------------------------------------------------

FLOW_SCHEMA_COLUMNS = (
    NAME,
    Column("PriorityLevel", "string", doc("PriorityLevelConfigurationReference.name")),
    Column("MatchingPrecedence", "string", doc("FlowSchemaSpec.matchingPrecedence")),
    Column("DistinguisherMethod", "string", doc("FlowSchemaSpec.distinguisherMethod")),
    AGE,
    Column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration"),
)


def flow_schema_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printFlowSchema: MISSINGPL is the Dangling condition's status, "?" before it is computed."""
    method = get(obj, "spec", "distinguisherMethod")
    missing = "?"
    for c in dicts(glist(obj, "status", "conditions")):
        if gstr(c, "type") == "Dangling":
            missing = gstr(c, "status")
            break
    return [
        name_of(obj),
        gstr(obj, "spec", "priorityLevelConfiguration", "name"),
        gint(obj, "spec", "matchingPrecedence"),
        gstr(method, "type") if isinstance(method, dict) else "<none>",
        creation_age(obj, ctx.now),
        missing,
    ]


def flow_schema_sort_key(obj: JSONDict) -> tuple[int, str]:
    """FlowSchemaSequence: lists print by ascending matching precedence, then name, as upstream sorts them."""
    return gint(obj, "spec", "matchingPrecedence"), name_of(obj)


PRIORITY_LEVEL_COLUMNS = (
    NAME,
    Column("Type", "string", doc("PriorityLevelConfigurationSpec.type")),
    Column(
        "NominalConcurrencyShares",
        "string",
        doc("LimitedPriorityLevelConfiguration.nominalConcurrencyShares"),
    ),
    Column("Queues", "string", doc("QueuingConfiguration.queues")),
    Column("HandSize", "string", doc("QueuingConfiguration.handSize")),
    Column("QueueLengthLimit", "string", doc("QueuingConfiguration.queueLengthLimit")),
    AGE,
)


def priority_level_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPriorityLevelConfiguration: numbers for limited levels, "<none>" otherwise."""
    ncs: Any = "<none>"
    queues: Any = "<none>"
    hand_size: Any = "<none>"
    queue_length: Any = "<none>"
    limited = get(obj, "spec", "limited")
    if isinstance(limited, dict):
        ncs = gint(limited, "nominalConcurrencyShares")
        queuing = get(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues = gint(queuing, "queues")
            hand_size = gint(queuing, "handSize")
            queue_length = gint(queuing, "queueLengthLimit")
    return [
        name_of(obj),
        gstr(obj, "spec", "type"),
        ncs,
        queues,
        hand_size,
        queue_length,
        creation_age(obj, ctx.now),
    ]


# ---------------------------------------------------------------------------------------------
# internal.apiserver.k8s.io, storagemigration.k8s.io
# ---------------------------------------------------------------------------------------------

STORAGE_VERSION_COLUMNS = (
    NAME,
    Column("CommonEncodingVersion", "string", doc("StorageVersionStatus.commonEncodingVersion")),
    Column("StorageVersions", "string", doc("StorageVersionStatus.storageVersions")),
    AGE,
)


def storage_version_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printStorageVersion: "apiServerID=encodingVersion" pairs, three at most."""
    common = get(obj, "status", "commonEncodingVersion")
    pairs = [
        f"{gstr(sv, 'apiServerID')}={gstr(sv, 'encodingVersion')}"
        for sv in dicts(glist(obj, "status", "storageVersions"))
    ]
    return [
        name_of(obj),
        common if isinstance(common, str) else "<unset>",
        list_with_more(pairs, len(pairs), 3),
        creation_age(obj, ctx.now),
    ]


# upstream's Name column here carries no "name" format
STORAGE_VERSION_MIGRATION_COLUMNS = (
    Column("Name", "string", doc("ObjectMeta.name")),
    Column("Resource", "string", "Fully qualified resource to migrate"),
)


def storage_version_migration_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printStorageVersionMigration: resource.version.group."""
    r = gdict(obj, "spec", "resource")
    return [name_of(obj), f"{gstr(r, 'resource')}.{gstr(r, 'version')}.{gstr(r, 'group')}"]


# ---------------------------------------------------------------------------------------------
# resource.k8s.io (dynamic resource allocation)
# ---------------------------------------------------------------------------------------------

NAME_AGE_COLUMNS = (NAME, AGE)


def name_age_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printDeviceClass / printResourceClaimTemplate: just name and age."""
    return [name_of(obj), creation_age(obj, ctx.now)]


RESOURCE_CLAIM_COLUMNS = (
    NAME,
    Column("State", "string", "A summary of the current state (allocated, pending, reserved, etc.)."),
    AGE,
)


def resource_claim_state(obj: JSONDict) -> str:
    """resourceClaimState: deleted / pending / allocated,reserved."""
    states: list[str] = []
    deleting = is_deleting(obj)
    if deleting:
        states.append("deleted")
    if get(obj, "status", "allocation") is None:
        if not deleting:
            states.append("pending")
    else:
        states.append("allocated")
        if glist(obj, "status", "reservedFor"):
            states.append("reserved")
    return ",".join(states)


def resource_claim_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printResourceClaim."""
    return [name_of(obj), resource_claim_state(obj), creation_age(obj, ctx.now)]


RESOURCE_SLICE_COLUMNS = (
    NAME,
    Column("Node", "string", doc("ResourceSliceSpec.nodeName")),
    Column("Driver", "string", doc("ResourceSliceSpec.driver")),
    Column("Pool", "string", doc("ResourcePool.name")),
    AGE,
)


def resource_slice_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printResourceSlice."""
    return [
        name_of(obj),
        gstr(obj, "spec", "nodeName"),
        gstr(obj, "spec", "driver"),
        gstr(obj, "spec", "pool", "name"),
        creation_age(obj, ctx.now),
    ]


# ---------------------------------------------------------------------------------------------
# apiregistration.k8s.io (kube-aggregator's own convertor)
# ---------------------------------------------------------------------------------------------

API_SERVICE_COLUMNS = (
    NAME,
    Column("Service", "string", "The reference to the service that hosts this API endpoint."),
    Column("Available", "string", "Whether this service is available."),
    AGE,
)


def api_service_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """APIService: SERVICE ns/name or Local, AVAILABLE "True" or "False (Reason)"."""
    service = "Local"
    svc = get(obj, "spec", "service")
    if isinstance(svc, dict):
        service = f"{gstr(svc, 'namespace')}/{gstr(svc, 'name')}"
    available = "Unknown"
    for c in dicts(glist(obj, "status", "conditions")):
        if gstr(c, "type") == "Available":
            status = gstr(c, "status")
            if status == "True":
                available = status
            elif gstr(c, "reason"):
                available = f"{status} ({gstr(c, 'reason')})"
            else:
                available = status
            break
    return [name_of(obj), service, available, creation_age(obj, ctx.now)]


_ADM = "admissionregistration.k8s.io"
_RES = "resource.k8s.io"

PRINTERS: Registry = {
    ("certificates.k8s.io", "certificatesigningrequests"): Printer(CSR_COLUMNS, csr_row),
    ("certificates.k8s.io", "clustertrustbundles"): Printer(
        CLUSTER_TRUST_BUNDLE_COLUMNS, cluster_trust_bundle_row
    ),
    ("coordination.k8s.io", "leases"): Printer(LEASE_COLUMNS, lease_row),
    ("coordination.k8s.io", "leasecandidates"): Printer(LEASE_CANDIDATE_COLUMNS, lease_candidate_row),
    ("scheduling.k8s.io", "priorityclasses"): Printer(PRIORITY_CLASS_COLUMNS, priority_class_row),
    ("node.k8s.io", "runtimeclasses"): Printer(RUNTIME_CLASS_COLUMNS, runtime_class_row),
    (_ADM, "mutatingwebhookconfigurations"): Printer(WEBHOOK_COLUMNS, webhook_configuration_row),
    (_ADM, "validatingwebhookconfigurations"): Printer(WEBHOOK_COLUMNS, webhook_configuration_row),
    (_ADM, "validatingadmissionpolicies"): Printer(
        VALIDATING_ADMISSION_POLICY_COLUMNS, validating_admission_policy_row
    ),
    (_ADM, "validatingadmissionpolicybindings"): Printer(POLICY_BINDING_COLUMNS, policy_binding_row),
    (_ADM, "mutatingadmissionpolicies"): Printer(
        MUTATING_ADMISSION_POLICY_COLUMNS, mutating_admission_policy_row
    ),
    (_ADM, "mutatingadmissionpolicybindings"): Printer(POLICY_BINDING_COLUMNS, policy_binding_row),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): Printer(
        FLOW_SCHEMA_COLUMNS, flow_schema_row, sort_key=flow_schema_sort_key
    ),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): Printer(
        PRIORITY_LEVEL_COLUMNS, priority_level_row
    ),
    ("internal.apiserver.k8s.io", "storageversions"): Printer(STORAGE_VERSION_COLUMNS, storage_version_row),
    ("storagemigration.k8s.io", "storageversionmigrations"): Printer(
        STORAGE_VERSION_MIGRATION_COLUMNS, storage_version_migration_row
    ),
    (_RES, "deviceclasses"): Printer(NAME_AGE_COLUMNS, name_age_row),
    (_RES, "resourceclaims"): Printer(RESOURCE_CLAIM_COLUMNS, resource_claim_row),
    (_RES, "resourceclaimtemplates"): Printer(NAME_AGE_COLUMNS, name_age_row),
    (_RES, "resourceslices"): Printer(RESOURCE_SLICE_COLUMNS, resource_slice_row),
    ("apiregistration.k8s.io", "apiservices"): Printer(
        API_SERVICE_COLUMNS, api_service_row, always_headers=True
    ),
}
