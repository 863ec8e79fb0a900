"""Printers for the core ("") group: the columns and cells of upstream pkg/printers/internalversion.

Each row function reads the external v1 JSON; where upstream relies on a value that v1 defaulting
always sets (replicas, protocol, service type, secret type), the same default is applied here so a
stored-but-undefaulted object prints like the defaulted one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kybernetes.apiserver.printers._common import (
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    NAME,
    Column,
    Context,
    JSONDict,
    Printer,
    Registry,
    creation_age,
    dicts,
    format_labels,
    gbool,
    gdict,
    get,
    gint,
    glist,
    gstr,
    human_duration,
    is_deleting,
    layout_container_cells,
    name_of,
    parse_time,
    since,
)
from kybernetes.apiserver.printers._descriptions import doc
from kybernetes.apiserver.printers._quantity import canonical_quantity

# ---------------------------------------------------------------------------------------------
# pods
# ---------------------------------------------------------------------------------------------

POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    Column("IP", "string", doc("PodStatus.podIP"), priority=1),
    Column("Node", "string", doc("PodSpec.nodeName"), priority=1),
    Column("Nominated Node", "string", doc("PodStatus.nominatedNodeName"), priority=1),
    Column("Readiness Gates", "string", doc("PodSpec.readinessGates"), priority=1),
)

NODE_UNREACHABLE_POD_REASON = "NodeLost"

_POD_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _is_restartable_init_container(container: JSONDict | None) -> bool:
    """podutil.IsRestartableInitContainer: a sidecar is an init container with restartPolicy Always."""
    return container is not None and gstr(container, "restartPolicy") == "Always"


def _condition_true(conditions: list[Any], ctype: str) -> bool:
    """First condition of the type decides (isPodInitializedConditionTrue)."""
    for c in dicts(conditions):
        if gstr(c, "type") == ctype:
            return gstr(c, "status") == "True"
    return False


def _has_ready_condition(conditions: list[Any]) -> bool:
    """hasPodReadyCondition: any Ready condition with status True."""
    return any(gstr(c, "type") == "Ready" and gstr(c, "status") == "True" for c in dicts(conditions))


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    ts = parse_time(candidate)
    if ts is None:
        return current
    if current is None or current < ts:
        return ts
    return current


def pod_row(pod: JSONDict, ctx: Context) -> list[Any]:
    """printPod: READY n/m, STATUS (the aggregate reason), RESTARTS "n (age ago)", AGE, and the wide cells."""
    spec = gdict(pod, "spec")
    status = gdict(pod, "status")
    conditions = glist(status, "conditions")
    init_specs = dicts(glist(spec, "initContainers"))

    restarts = 0
    restartable_init_restarts = 0
    total = len(dicts(glist(spec, "containers")))
    ready = 0
    last_restart: datetime | None = None
    last_restartable_init_restart: datetime | None = None

    phase = gstr(status, "phase")
    reason = gstr(status, "reason") or phase

    for c in dicts(conditions):
        if gstr(c, "type") == "PodScheduled" and gstr(c, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_by_name: dict[str, JSONDict] = {}
    for ic in init_specs:
        init_by_name[gstr(ic, "name")] = ic
        if _is_restartable_init_container(ic):
            total += 1

    initializing = False
    for i, cs in enumerate(dicts(glist(status, "initContainerStatuses"))):
        restarts += gint(cs, "restartCount")
        last_term = get(cs, "lastState", "terminated")
        if isinstance(last_term, dict):
            last_restart = _later(last_restart, last_term.get("finishedAt"))
        sidecar = _is_restartable_init_container(init_by_name.get(gstr(cs, "name")))
        if sidecar:
            restartable_init_restarts += gint(cs, "restartCount")
            if isinstance(last_term, dict):
                last_restartable_init_restart = _later(
                    last_restartable_init_restart, last_term.get("finishedAt")
                )
        terminated = get(cs, "state", "terminated")
        waiting = get(cs, "state", "waiting")
        if isinstance(terminated, dict) and gint(terminated, "exitCode") == 0:
            continue
        if sidecar and get(cs, "started") is True:
            if gbool(cs, "ready"):
                ready += 1
            continue
        if isinstance(terminated, dict):
            # initialization failed
            t_reason = gstr(terminated, "reason")
            if not t_reason:
                signal = gint(terminated, "signal")
                reason = (
                    f"Init:Signal:{signal}" if signal else f"Init:ExitCode:{gint(terminated, 'exitCode')}"
                )
            else:
                reason = "Init:" + t_reason
            initializing = True
        elif (
            isinstance(waiting, dict)
            and gstr(waiting, "reason")
            and gstr(waiting, "reason") != "PodInitializing"
        ):
            reason = "Init:" + gstr(waiting, "reason")
            initializing = True
        else:
            reason = f"Init:{i}/{len(init_specs)}"
            initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for cs in reversed(dicts(glist(status, "containerStatuses"))):
            restarts += gint(cs, "restartCount")
            last_term = get(cs, "lastState", "terminated")
            if isinstance(last_term, dict):
                last_restart = _later(last_restart, last_term.get("finishedAt"))
            waiting = get(cs, "state", "waiting")
            terminated = get(cs, "state", "terminated")
            if isinstance(waiting, dict) and gstr(waiting, "reason"):
                reason = gstr(waiting, "reason")
            elif isinstance(terminated, dict) and gstr(terminated, "reason"):
                reason = gstr(terminated, "reason")
            elif isinstance(terminated, dict):
                signal = gint(terminated, "signal")
                reason = f"Signal:{signal}" if signal else f"ExitCode:{gint(terminated, 'exitCode')}"
            elif gbool(cs, "ready") and isinstance(get(cs, "state", "running"), dict):
                has_running = True
                ready += 1

        # a pod whose containers mostly completed but one still runs is Running (or NotReady)
        if reason == "Completed" and has_running:
            reason = "Running" if _has_ready_condition(conditions) else "NotReady"

    if is_deleting(pod) and gstr(status, "reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif is_deleting(pod) and phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    restarts_str = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration(since(last_restart, ctx.now))} ago)"

    # v1 -> internal conversion makes podIP authoritative for PodIPs[0]
    pod_ip = gstr(status, "podIP")
    if not pod_ip:
        ips = dicts(glist(status, "podIPs"))
        pod_ip = gstr(ips[0], "ip") if ips else ""
    node_name = gstr(spec, "nodeName") or "<none>"
    nominated = gstr(status, "nominatedNodeName") or "<none>"

    readiness_gates = "<none>"
    gates = dicts(glist(spec, "readinessGates"))
    if gates:
        true_conditions = 0
        for gate in gates:
            for c in dicts(conditions):
                if gstr(c, "type") == gstr(gate, "conditionType"):
                    if gstr(c, "status") == "True":
                        true_conditions += 1
                    break
        readiness_gates = f"{true_conditions}/{len(gates)}"

    return [
        name_of(pod),
        f"{ready}/{total}",
        reason,
        restarts_str,
        creation_age(pod, ctx.now),
        pod_ip or "<none>",
        node_name,
        nominated,
        readiness_gates,
    ]


def pod_conditions(pod: JSONDict) -> list[JSONDict]:
    """Row conditions: Succeeded and Failed pods are marked Completed (kubectl may hide such rows)."""
    phase = gstr(pod, "status", "phase")
    if phase == "Succeeded":
        return [dict(c) for c in _POD_SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _POD_FAILED]
    return []


# ---------------------------------------------------------------------------------------------
# pod templates, replication controllers
# ---------------------------------------------------------------------------------------------

POD_TEMPLATE_COLUMNS = (
    NAME,
    Column("Containers", "string", "Names of each container in the template."),
    Column("Images", "string", "Images referenced by each container in the template."),
    Column("Pod Labels", "string", "The labels for the pod template."),
)


def pod_template_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPodTemplate: containers, images and the template's labels."""
    names, images = layout_container_cells(get(obj, "template", "spec", "containers"))
    return [name_of(obj), names, images, format_labels(get(obj, "template", "metadata", "labels"))]


RC_COLUMNS = (
    NAME,
    Column("Desired", "integer", doc("ReplicationControllerSpec.replicas")),
    Column("Current", "integer", doc("ReplicationControllerStatus.replicas")),
    Column("Ready", "integer", doc("ReplicationControllerStatus.readyReplicas")),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("ReplicationControllerSpec.selector"), priority=1),
)


def replicas(obj: JSONDict) -> int:
    """spec.replicas with the v1 default of 1 when unset."""
    v = get(obj, "spec", "replicas")
    return gint(obj, "spec", "replicas") if v is not None else 1


def rc_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printReplicationController."""
    names, images = layout_container_cells(get(obj, "spec", "template", "spec", "containers"))
    return [
        name_of(obj),
        replicas(obj),
        gint(obj, "status", "replicas"),
        gint(obj, "status", "readyReplicas"),
        creation_age(obj, ctx.now),
        names,
        images,
        format_labels(get(obj, "spec", "selector")),
    ]


# ---------------------------------------------------------------------------------------------
# services, endpoints
# ---------------------------------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", doc("ServiceSpec.type")),
    Column("Cluster-IP", "string", doc("ServiceSpec.clusterIP")),
    Column("External-IP", "string", doc("ServiceSpec.externalIPs")),
    Column("Port(s)", "string", doc("ServiceSpec.ports")),
    AGE,
    Column("Selector", "string", doc("ServiceSpec.selector"), priority=1),
)


def load_balancer_status(ingress: Any) -> str:
    """loadBalancerStatusStringer (wide): the sorted set of ingress IPs, or hostnames where no IP."""
    result: set[str] = set()
    for ing in dicts(ingress if isinstance(ingress, list) else []):
        if gstr(ing, "ip"):
            result.add(gstr(ing, "ip"))
        elif gstr(ing, "hostname"):
            result.add(gstr(ing, "hostname"))
    return ",".join(sorted(result))


def _service_external_ip(svc: JSONDict, svc_type: str) -> str:
    external_ips = [x for x in glist(svc, "spec", "externalIPs") if isinstance(x, str)]
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else "<none>"
    if svc_type == "LoadBalancer":
        lb = load_balancer_status(get(svc, "status", "loadBalancer", "ingress"))
        if external_ips:
            return ",".join(([*lb.split(",")] if lb else []) + external_ips)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return gstr(svc, "spec", "externalName")
    return "<unknown>"


def make_port_string(ports: Any) -> str:
    """makePortString: "80/TCP", "80:30080/TCP" when a node port is allocated, comma-joined."""
    pieces = []
    for p in dicts(ports if isinstance(ports, list) else []):
        protocol = gstr(p, "protocol") or "TCP"
        node_port = gint(p, "nodePort")
        if node_port > 0:
            pieces.append(f"{gint(p, 'port')}:{node_port}/{protocol}")
        else:
            pieces.append(f"{gint(p, 'port')}/{protocol}")
    return ",".join(pieces)


def service_row(svc: JSONDict, ctx: Context) -> list[Any]:
    """printService: TYPE, CLUSTER-IP (first of clusterIPs), EXTERNAL-IP, PORT(S), AGE, wide SELECTOR."""
    svc_type = gstr(svc, "spec", "type") or "ClusterIP"
    cluster_ips = [x for x in glist(svc, "spec", "clusterIPs") if isinstance(x, str)]
    internal_ip = gstr(svc, "spec", "clusterIP") or (cluster_ips[0] if cluster_ips else "") or "<none>"
    return [
        name_of(svc),
        svc_type,
        internal_ip,
        _service_external_ip(svc, svc_type),
        make_port_string(get(svc, "spec", "ports")) or "<none>",
        creation_age(svc, ctx.now),
        format_labels(get(svc, "spec", "selector")),
    ]


ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", "string", doc("Endpoints.subsets")), AGE)


def _join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: brackets around hosts containing a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(obj: JSONDict) -> str:
    """formatEndpoints: up to three ip:port pairs, then " + N more...", "<none>" without subsets."""
    subsets = dicts(glist(obj, "subsets"))
    if not subsets:
        return "<none>"
    limit = 3
    out: list[str] = []
    more = False
    count = 0
    for ss in subsets:
        addresses = dicts(glist(ss, "addresses"))
        ports = dicts(glist(ss, "ports"))
        if not ports:
            # headless services may have no ports
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(gstr(a, "ip"))
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(out) == limit:
                    more = True
                    break
                out.append(_join_host_port(gstr(a, "ip"), gint(port, "port")))
    ret = ",".join(out)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


def endpoints_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printEndpoints."""
    return [name_of(obj), format_endpoints(obj), creation_age(obj, ctx.now)]


# ---------------------------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------------------------

NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", doc("NodeSystemInfo.kubeletVersion")),
    Column("Internal-IP", "string", doc("NodeStatus.addresses"), priority=1),
    Column("External-IP", "string", doc("NodeStatus.addresses"), priority=1),
    Column("OS-Image", "string", doc("NodeSystemInfo.osImage"), priority=1),
    Column("Kernel-Version", "string", doc("NodeSystemInfo.kernelVersion"), priority=1),
    Column("Container-Runtime", "string", doc("NodeSystemInfo.containerRuntimeVersion"), priority=1),
)

LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_LABEL_ROLE = "kubernetes.io/role"


def node_roles(node: JSONDict) -> list[str]:
    """findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role=<role> values, sorted."""
    roles: set[str] = set()
    for k, v in gdict(node, "metadata", "labels").items():
        if k.startswith(LABEL_NODE_ROLE_PREFIX):
            role = k[len(LABEL_NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif k == NODE_LABEL_ROLE and isinstance(v, str) and v:
            roles.add(v)
    return sorted(roles)


def _node_address(node: JSONDict, addr_type: str) -> str:
    for a in dicts(glist(node, "status", "addresses")):
        if gstr(a, "type") == addr_type:
            return gstr(a, "address")
    return "<none>"


def node_row(node: JSONDict, ctx: Context) -> list[Any]:
    """printNode: STATUS from the Ready condition (+SchedulingDisabled), ROLES, VERSION, wide node info."""
    conditions: dict[str, JSONDict] = {}
    for c in dicts(glist(node, "status", "conditions")):
        conditions[gstr(c, "type")] = c
    status: list[str] = []
    ready = conditions.get("Ready")
    if ready is not None:
        status.append("Ready" if gstr(ready, "status") == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if gbool(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    info = gdict(node, "status", "nodeInfo")
    return [
        name_of(node),
        ",".join(status),
        ",".join(node_roles(node)) or "<none>",
        creation_age(node, ctx.now),
        gstr(info, "kubeletVersion"),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        gstr(info, "osImage") or "<unknown>",
        gstr(info, "kernelVersion") or "<unknown>",
        gstr(info, "containerRuntimeVersion") or "<unknown>",
    ]


# ---------------------------------------------------------------------------------------------
# events (core/v1 and events.k8s.io/v1)
# ---------------------------------------------------------------------------------------------

EVENT_COLUMNS = (
    Column("Last Seen", "string", doc("Event.lastTimestamp")),
    Column("Type", "string", doc("Event.type")),
    Column("Reason", "string", doc("Event.reason")),
    Column("Object", "string", doc("Event.involvedObject")),
    Column("Subobject", "string", doc("ObjectReference.fieldPath"), priority=1),
    Column("Source", "string", doc("Event.source"), priority=1),
    Column("Message", "string", doc("Event.message")),
    Column("First Seen", "string", doc("Event.firstTimestamp"), priority=1),
    Column("Count", "string", doc("Event.count"), priority=1),
    Column("Name", "string", doc("ObjectMeta.name"), format="name", priority=1),
)


def events_v1_to_core(ev: JSONDict) -> JSONDict:
    """Map an events.k8s.io/v1 Event onto the core/v1 field names the printer reads.

    Upstream stores both as the internal core Event; the events.k8s.io shape renames fields
    (regarding, note, deprecated*), so translate them back before printing.
    """
    if "involvedObject" in ev or not any(k in ev for k in ("regarding", "note", "deprecatedCount")):
        return ev
    out: JSONDict = {
        "metadata": ev.get("metadata"),
        "involvedObject": ev.get("regarding"),
        "message": ev.get("note"),
        "reason": ev.get("reason"),
        "type": ev.get("type"),
        "source": ev.get("deprecatedSource"),
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount"),
        "eventTime": ev.get("eventTime"),
        "series": ev.get("series"),
        "reportingComponent": ev.get("reportingController"),
        "reportingInstance": ev.get("reportingInstance"),
    }
    return out


def format_event_source(ev: JSONDict) -> str:
    """formatEventSource: component (or reportingController), then ", host" (or reportingInstance)."""
    component = gstr(ev, "source", "component") or gstr(ev, "reportingComponent")
    instance = gstr(ev, "source", "host") or gstr(ev, "reportingInstance")
    return component if not instance else f"{component}, {instance}"


def event_row(ev: JSONDict, ctx: Context) -> list[Any]:
    """printEvent: LAST SEEN falls back to first seen, then eventTime; series events use the series."""
    first = ctx.age(ev.get("firstTimestamp"))
    if parse_time(ev.get("firstTimestamp")) is None:
        first = ctx.age(ev.get("eventTime"))
    last = ctx.age(ev.get("lastTimestamp"))
    if parse_time(ev.get("lastTimestamp")) is None:
        last = first
    count = gint(ev, "count")
    series = ev.get("series")
    if isinstance(series, dict):
        last = ctx.age(series.get("lastObservedTime"))
        count = gint(series, "count")
    elif count == 0:
        count = 1  # singleton events have no count in the new API
    kind = gstr(ev, "involvedObject", "kind").lower()
    obj_name = gstr(ev, "involvedObject", "name")
    target = f"{kind}/{obj_name}" if obj_name else kind
    return [
        last,
        gstr(ev, "type"),
        gstr(ev, "reason"),
        target,
        gstr(ev, "involvedObject", "fieldPath"),
        format_event_source(ev),
        gstr(ev, "message").strip(),
        first,
        count,
        name_of(ev),
    ]


# ---------------------------------------------------------------------------------------------
# namespaces, secrets, service accounts, config maps
# ---------------------------------------------------------------------------------------------

NAMESPACE_COLUMNS = (NAME, Column("Status", "string", "The status of the namespace"), AGE)


def namespace_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printNamespace: the phase."""
    return [name_of(obj), gstr(obj, "status", "phase"), creation_age(obj, ctx.now)]


SECRET_COLUMNS = (
    NAME,
    Column("Type", "string", doc("Secret.type")),
    Column("Data", "string", doc("Secret.data")),
    AGE,
)


def secret_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printSecret: TYPE (Opaque by default) and the number of data keys."""
    return [name_of(obj), gstr(obj, "type") or "Opaque", len(gdict(obj, "data")), creation_age(obj, ctx.now)]


SERVICE_ACCOUNT_COLUMNS = (NAME, Column("Secrets", "string", doc("ServiceAccount.secrets")), AGE)


def service_account_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printServiceAccount: the number of referenced secrets."""
    return [name_of(obj), len(glist(obj, "secrets")), creation_age(obj, ctx.now)]


CONFIG_MAP_COLUMNS = (NAME, Column("Data", "string", doc("ConfigMap.data")), AGE)


def config_map_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printConfigMap: data plus binaryData keys."""
    return [name_of(obj), len(gdict(obj, "data")) + len(gdict(obj, "binaryData")), creation_age(obj, ctx.now)]


# ---------------------------------------------------------------------------------------------
# persistent volumes and claims
# ---------------------------------------------------------------------------------------------

PV_COLUMNS = (
    NAME,
    Column("Capacity", "string", doc("PersistentVolumeSpec.capacity")),
    Column("Access Modes", "string", doc("PersistentVolumeSpec.accessModes")),
    Column("Reclaim Policy", "string", doc("PersistentVolumeSpec.persistentVolumeReclaimPolicy")),
    Column("Status", "string", doc("PersistentVolumeStatus.phase")),
    Column("Claim", "string", doc("PersistentVolumeSpec.claimRef")),
    Column("StorageClass", "string", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column("Reason", "string", doc("PersistentVolumeStatus.reason")),
    AGE,
    Column("VolumeMode", "string", doc("PersistentVolumeSpec.volumeMode"), priority=1),
)

BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def access_modes_string(modes: Any) -> str:
    """GetAccessModesAsString: RWO, ROX, RWX, RWOP in that fixed order, each once."""
    present = {m for m in (modes if isinstance(modes, list) else []) if isinstance(m, str)}
    order = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(short for mode, short in order if mode in present)


def _storage_class(obj: JSONDict) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    annotations = gdict(obj, "metadata", "annotations")
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        v = annotations[BETA_STORAGE_CLASS_ANNOTATION]
        return v if isinstance(v, str) else ""
    return gstr(obj, "spec", "storageClassName")


def _optional_str(obj: JSONDict, *path: str) -> str:
    v = get(obj, *path)
    return v if isinstance(v, str) else "<unset>"


def pv_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPersistentVolume."""
    claim = ""
    claim_ref = get(obj, "spec", "claimRef")
    if isinstance(claim_ref, dict):
        claim = f"{gstr(claim_ref, 'namespace')}/{gstr(claim_ref, 'name')}"
    phase = "Terminating" if is_deleting(obj) else gstr(obj, "status", "phase")
    capacity = get(obj, "spec", "capacity", "storage")
    return [
        name_of(obj),
        canonical_quantity(capacity) if capacity is not None else "0",
        access_modes_string(get(obj, "spec", "accessModes")),
        gstr(obj, "spec", "persistentVolumeReclaimPolicy"),
        phase,
        claim,
        _storage_class(obj),
        _optional_str(obj, "spec", "volumeAttributesClassName"),
        gstr(obj, "status", "reason"),
        creation_age(obj, ctx.now),
        _optional_str(obj, "spec", "volumeMode"),
    ]


PVC_COLUMNS = (
    NAME,
    Column("Status", "string", doc("PersistentVolumeClaimStatus.phase")),
    Column("Volume", "string", doc("PersistentVolumeClaimSpec.volumeName")),
    Column("Capacity", "string", doc("PersistentVolumeClaimStatus.capacity")),
    Column("Access Modes", "string", doc("PersistentVolumeClaimStatus.accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "string", doc("PersistentVolumeClaimSpec.volumeMode"), priority=1),
)


def pvc_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printPersistentVolumeClaim: capacity and access modes only once bound to a volume."""
    phase = "Terminating" if is_deleting(obj) else gstr(obj, "status", "phase")
    volume_name = gstr(obj, "spec", "volumeName")
    capacity = ""
    access_modes = ""
    if volume_name:
        access_modes = access_modes_string(get(obj, "status", "accessModes"))
        q = get(obj, "status", "capacity", "storage")
        capacity = canonical_quantity(q) if q is not None else "0"
    return [
        name_of(obj),
        phase,
        volume_name,
        capacity,
        access_modes,
        _storage_class(obj),
        _optional_str(obj, "spec", "volumeAttributesClassName"),
        creation_age(obj, ctx.now),
        _optional_str(obj, "spec", "volumeMode"),
    ]


# ---------------------------------------------------------------------------------------------
# component statuses, resource quotas
# ---------------------------------------------------------------------------------------------

COMPONENT_STATUS_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the component conditions"),
    Column("Message", "string", "Message of the component conditions"),
    Column("Error", "string", "Error of the component conditions"),
)


def component_status_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printComponentStatus: the Healthy condition."""
    status, message, error = "Unknown", "", ""
    for c in dicts(glist(obj, "conditions")):
        if gstr(c, "type") == "Healthy":
            status = "Healthy" if gstr(c, "status") == "True" else "Unhealthy"
            message = gstr(c, "message")
            error = gstr(c, "error")
            break
    return [name_of(obj), status, message, error]


RESOURCE_QUOTA_COLUMNS = (
    NAME,
    Column(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    Column(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
)


def resource_quota_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printResourceQuota: "resource: used/hard" for each hard limit; limits.* go to the LIMIT column."""
    hard = gdict(obj, "status", "hard")
    used = gdict(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        u = used.get(resource)
        target.append(
            f"{resource}: {canonical_quantity(u) if u is not None else '0'}/{canonical_quantity(hard[resource])}"
        )
    return [name_of(obj), ", ".join(requests), ", ".join(limits), creation_age(obj, ctx.now)]


# ---------------------------------------------------------------------------------------------


PRINTERS: Registry = {
    ("", "pods"): Printer(POD_COLUMNS, pod_row, conditions=pod_conditions),
    ("", "podtemplates"): Printer(POD_TEMPLATE_COLUMNS, pod_template_row),
    ("", "replicationcontrollers"): Printer(RC_COLUMNS, rc_row),
    ("", "services"): Printer(SERVICE_COLUMNS, service_row),
    ("", "endpoints"): Printer(ENDPOINTS_COLUMNS, endpoints_row),
    ("", "nodes"): Printer(NODE_COLUMNS, node_row),
    ("", "events"): Printer(EVENT_COLUMNS, event_row),
    ("events.k8s.io", "events"): Printer(EVENT_COLUMNS, event_row, prepare=events_v1_to_core),
    ("", "namespaces"): Printer(NAMESPACE_COLUMNS, namespace_row),
    ("", "secrets"): Printer(SECRET_COLUMNS, secret_row),
    ("", "serviceaccounts"): Printer(SERVICE_ACCOUNT_COLUMNS, service_account_row),
    ("", "configmaps"): Printer(CONFIG_MAP_COLUMNS, config_map_row),
    ("", "persistentvolumes"): Printer(PV_COLUMNS, pv_row),
    ("", "persistentvolumeclaims"): Printer(PVC_COLUMNS, pvc_row),
    ("", "componentstatuses"): Printer(COMPONENT_STATUS_COLUMNS, component_status_row),
    ("", "resourcequotas"): Printer(RESOURCE_QUOTA_COLUMNS, resource_quota_row),
}
