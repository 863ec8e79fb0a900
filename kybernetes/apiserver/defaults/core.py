"""core/v1 defaults: upstream's pkg/apis/core/v1/defaults.go, keyed by the OpenAPI definition they apply to."""

from __future__ import annotations

import re
from typing import Any

from kybernetes.apiserver.defaults.fields import existing, if_empty, if_nil, items, struct
from kybernetes.apiserver.defaults.walker import Setter

CORE = "io.k8s.api.core.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."

# The file mode upstream gives projected, secret, configMap and downwardAPI volumes (0644).
DEFAULT_MODE = 0o644
_REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def image_tag(image: str) -> str:
    """The tag upstream's ParseImageName finds: `latest` when neither tag nor digest is given, "" on bad names."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            return ""
    path = name.split("/", 1)[1] if "/" in name and _looks_like_registry(name.split("/", 1)[0]) else name
    if not name or not _REPOSITORY.match(path):
        return ""
    if not tag and not digest:
        return "latest"
    return tag


def _looks_like_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost"


def container(c: dict[str, Any]) -> None:
    """SetDefaults_Container (and EphemeralContainer)."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if image_tag(str(c.get("image") or "")) == "latest" else "IfNotPresent"
    if_empty(c, "terminationMessagePath", "/dev/termination-log")
    if_empty(c, "terminationMessagePolicy", "File")


def pod(p: dict[str, Any]) -> None:
    """SetDefaults_Pod: only real Pods (not templates) get these."""
    spec = struct(p, "spec")
    if spec is None:
        return
    for key in ("containers", "initContainers"):
        for c in items(spec, key):
            resources = existing(c, "resources")
            limits = existing(resources, "limits") if resources is not None else None
            if resources is not None and limits is not None:
                requests = struct(resources, "requests")
                if requests is not None:
                    for name, quantity in limits.items():
                        requests.setdefault(name, quantity)
    if_nil(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in items(spec, key):
                for port in items(c, "ports"):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec: every PodSpec, in Pods and in templates."""
    if_empty(spec, "dnsPolicy", "ClusterFirst")
    if_empty(spec, "restartPolicy", "Always")
    if_nil(spec, "securityContext", {})
    if_nil(spec, "terminationGracePeriodSeconds", 30)
    if_empty(spec, "schedulerName", "default-scheduler")


def probe(p: dict[str, Any]) -> None:
    if_empty(p, "timeoutSeconds", 1)
    if_empty(p, "periodSeconds", 10)
    if_empty(p, "successThreshold", 1)
    if_empty(p, "failureThreshold", 3)


def http_get(action: dict[str, Any]) -> None:
    if_empty(action, "path", "/")
    if_empty(action, "scheme", "HTTP")


def volume(v: dict[str, Any]) -> None:
    """A volume with no source is an emptyDir."""
    if all(value is None for key, value in v.items() if key != "name"):
        v["emptyDir"] = {}


def default_mode(source: dict[str, Any]) -> None:
    if_nil(source, "defaultMode", DEFAULT_MODE)


def token_projection(source: dict[str, Any]) -> None:
    if_nil(source, "expirationSeconds", 3600)


def host_path(source: dict[str, Any]) -> None:
    if_nil(source, "type", "")


def object_field_selector(sel: dict[str, Any]) -> None:
    if_empty(sel, "apiVersion", "v1")


def persistent_volume(pv: dict[str, Any]) -> None:
    status, spec = struct(pv, "status"), struct(pv, "spec")
    if status is not None:
        if_empty(status, "phase", "Pending")
    if spec is not None:
        if_empty(spec, "persistentVolumeReclaimPolicy", "Retain")
        if_nil(spec, "volumeMode", "Filesystem")


def persistent_volume_claim(pvc: dict[str, Any]) -> None:
    status = struct(pvc, "status")
    if status is not None:
        if_empty(status, "phase", "Pending")


def claim_spec(spec: dict[str, Any]) -> None:
    if_nil(spec, "volumeMode", "Filesystem")


def endpoint_port(port: dict[str, Any]) -> None:
    if_empty(port, "protocol", "TCP")


def namespace(ns: dict[str, Any]) -> None:
    meta = struct(ns, "metadata")
    if meta is not None and meta.get("name"):
        labels = struct(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = meta["name"]


def namespace_status(status: dict[str, Any]) -> None:
    if_empty(status, "phase", "Active")


def node_status(status: dict[str, Any]) -> None:
    if status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def limit_range_item(item: dict[str, Any]) -> None:
    if item.get("type") != "Container":
        return
    default, request = struct(item, "default"), struct(item, "defaultRequest")
    if default is None or request is None:
        return
    for key, value in (item.get("max") or {}).items():
        default.setdefault(key, value)
    for key, value in default.items():
        request.setdefault(key, value)
    for key, value in (item.get("min") or {}).items():
        request.setdefault(key, value)


def secret(s: dict[str, Any]) -> None:
    if_empty(s, "type", "Opaque")


def replication_controller(rc: dict[str, Any]) -> None:
    spec = struct(rc, "spec")
    if spec is None:
        return
    template = existing(spec, "template")
    labels = ((template or {}).get("metadata") or {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = struct(rc, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)


def service(svc: dict[str, Any]) -> None:
    """SetDefaults_Service (cluster IPs and node ports are allocated later, by the service allocator)."""
    spec = struct(svc, "spec")
    if spec is None:
        return
    if_empty(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    if_empty(spec, "type", "ClusterIP")
    for port in items(spec, "ports"):
        if_empty(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    kind = spec["type"]
    externally_accessible = kind in ("LoadBalancer", "NodePort") or (kind == "ClusterIP" and spec.get("externalIPs"))
    if externally_accessible:
        if_empty(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        if_nil(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        if_nil(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in items(((svc.get("status") or {}).get("loadBalancer") or {}), "ingress"):
            if ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = "VIP"


def event(ev: dict[str, Any]) -> None:
    """Not a SetDefaults_ upstream, but how Go renders a core Event's zero fields (`firstTimestamp: null`...).

    Events written through events.k8s.io/v1 are stored as core Events; reading them back in either version then
    shows the same fields upstream shows, e.g. `deprecatedFirstTimestamp: null` in events.k8s.io/v1.
    """
    for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
        ev.setdefault(key, None)
    for key in ("reportingComponent", "reportingInstance"):
        ev.setdefault(key, "")


def object_meta(meta: dict[str, Any]) -> None:
    """Go always renders ObjectMeta.creationTimestamp; in templates it is the zero Time, `null`."""
    if "creationTimestamp" not in meta:
        meta["creationTimestamp"] = None


SETTERS: dict[str, list[Setter]] = {
    META + "ObjectMeta": [object_meta],
    CORE + "Container": [container],
    CORE + "EphemeralContainer": [container],
    CORE + "Pod": [pod],
    CORE + "PodSpec": [pod_spec],
    CORE + "Probe": [probe],
    CORE + "HTTPGetAction": [http_get],
    CORE + "Volume": [volume],
    CORE + "SecretVolumeSource": [default_mode],
    CORE + "ConfigMapVolumeSource": [default_mode],
    CORE + "DownwardAPIVolumeSource": [default_mode],
    CORE + "ProjectedVolumeSource": [default_mode],
    CORE + "ServiceAccountTokenProjection": [token_projection],
    CORE + "HostPathVolumeSource": [host_path],
    CORE + "ObjectFieldSelector": [object_field_selector],
    CORE + "PersistentVolume": [persistent_volume],
    CORE + "PersistentVolumeClaim": [persistent_volume_claim],
    CORE + "PersistentVolumeClaimSpec": [claim_spec],
    CORE + "EndpointPort": [endpoint_port],
    CORE + "Namespace": [namespace],
    CORE + "NamespaceStatus": [namespace_status],
    CORE + "NodeStatus": [node_status],
    CORE + "LimitRangeItem": [limit_range_item],
    CORE + "Secret": [secret],
    CORE + "ReplicationController": [replication_controller],
    CORE + "Service": [service],
    CORE + "Event": [event],
}
