"""Printers for the apps group: deployments, replica sets, stateful sets, daemon sets, controller revisions."""

from __future__ import annotations

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
    SelectorError,
    creation_age,
    dicts,
    format_label_selector,
    format_labels,
    get,
    gint,
    glist,
    gstr,
    label_selector_string,
    layout_container_cells,
    name_of,
)
from kybernetes.apiserver.printers._descriptions import doc
from kybernetes.apiserver.printers.core import replicas


def _template_cells(obj: JSONDict) -> tuple[str, str]:
    return layout_container_cells(get(obj, "spec", "template", "spec", "containers"))


DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", doc("DeploymentStatus.updatedReplicas")),
    Column("Available", "string", doc("DeploymentStatus.availableReplicas")),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("DeploymentSpec.selector"), priority=1),
)


def deployment_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printDeployment: READY ready/desired; the wide selector is "" (not "<none>") when empty."""
    try:
        selector = label_selector_string(get(obj, "spec", "selector"))
    except SelectorError:
        selector = "<invalid>"
    names, images = _template_cells(obj)
    return [
        name_of(obj),
        f"{gint(obj, 'status', 'readyReplicas')}/{replicas(obj)}",
        gint(obj, "status", "updatedReplicas"),
        gint(obj, "status", "availableReplicas"),
        creation_age(obj, ctx.now),
        names,
        images,
        selector,
    ]


REPLICA_SET_COLUMNS = (
    NAME,
    Column("Desired", "integer", doc("ReplicaSetSpec.replicas")),
    Column("Current", "integer", doc("ReplicaSetStatus.replicas")),
    Column("Ready", "integer", doc("ReplicaSetStatus.readyReplicas")),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("ReplicaSetSpec.selector"), priority=1),
)


def replica_set_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printReplicaSet."""
    names, images = _template_cells(obj)
    return [
        name_of(obj),
        replicas(obj),
        gint(obj, "status", "replicas"),
        gint(obj, "status", "readyReplicas"),
        creation_age(obj, ctx.now),
        names,
        images,
        format_label_selector(get(obj, "spec", "selector")),
    ]


STATEFUL_SET_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
)


def stateful_set_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printStatefulSet: READY ready/desired."""
    names, images = _template_cells(obj)
    return [
        name_of(obj),
        f"{gint(obj, 'status', 'readyReplicas')}/{replicas(obj)}",
        creation_age(obj, ctx.now),
        names,
        images,
    ]


DAEMON_SET_COLUMNS = (
    NAME,
    Column("Desired", "integer", doc("DaemonSetStatus.desiredNumberScheduled")),
    Column("Current", "integer", doc("DaemonSetStatus.currentNumberScheduled")),
    Column("Ready", "integer", doc("DaemonSetStatus.numberReady")),
    Column("Up-to-date", "integer", doc("DaemonSetStatus.updatedNumberScheduled")),
    Column("Available", "integer", doc("DaemonSetStatus.numberAvailable")),
    Column("Node Selector", "string", doc("PodSpec.nodeSelector")),
    AGE,
    CONTAINERS_WIDE,
    IMAGES_WIDE,
    Column("Selector", "string", doc("DaemonSetSpec.selector"), priority=1),
)


def daemon_set_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printDaemonSet."""
    status = obj.get("status")
    names, images = _template_cells(obj)
    return [
        name_of(obj),
        gint(status, "desiredNumberScheduled"),
        gint(status, "currentNumberScheduled"),
        gint(status, "numberReady"),
        gint(status, "updatedNumberScheduled"),
        gint(status, "numberAvailable"),
        format_labels(get(obj, "spec", "template", "spec", "nodeSelector")),
        creation_age(obj, ctx.now),
        names,
        images,
        format_label_selector(get(obj, "spec", "selector")),
    ]


CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", doc("ControllerRevision.revision")),
    AGE,
)


def controller_of(obj: JSONDict) -> str:
    """metav1.GetControllerOf rendered by formatResourceName: "kind.group/name" in lower case, or "<none>"."""
    for ref in dicts(glist(obj, "metadata", "ownerReferences")):
        if get(ref, "controller") is True:
            api_version = gstr(ref, "apiVersion")
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            kind = gstr(ref, "kind")
            if not group and not kind:
                return gstr(ref, "name")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{gstr(ref, 'name')}"
    return "<none>"


def controller_revision_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printControllerRevision."""
    return [name_of(obj), controller_of(obj), gint(obj, "revision"), creation_age(obj, ctx.now)]


# autoscaling/v1 Scale, served by the */scale subresources (`kubectl get deploy web --subresource=scale`).
# Upstream's Name column here has no "name" format.
SCALE_COLUMNS = (
    Column("Name", "string", doc("ObjectMeta.name")),
    Column("Desired", "integer", doc("ScaleSpec.replicas")),
    Column("Available", "integer", doc("ScaleStatus.replicas")),
    AGE,
)


def scale_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printScale: desired (spec) and current (status) replicas."""
    return [
        name_of(obj),
        gint(obj, "spec", "replicas"),
        gint(obj, "status", "replicas"),
        creation_age(obj, ctx.now),
    ]


_SCALE = Printer(SCALE_COLUMNS, scale_row)

PRINTERS: Registry = {
    ("apps", "deployments/scale"): _SCALE,
    ("apps", "replicasets/scale"): _SCALE,
    ("apps", "statefulsets/scale"): _SCALE,
    ("", "replicationcontrollers/scale"): _SCALE,
    ("apps", "deployments"): Printer(DEPLOYMENT_COLUMNS, deployment_row),
    ("apps", "replicasets"): Printer(REPLICA_SET_COLUMNS, replica_set_row),
    ("apps", "statefulsets"): Printer(STATEFUL_SET_COLUMNS, stateful_set_row),
    ("apps", "daemonsets"): Printer(DAEMON_SET_COLUMNS, daemon_set_row),
    ("apps", "controllerrevisions"): Printer(CONTROLLER_REVISION_COLUMNS, controller_revision_row),
}
