"""Printers for storage.k8s.io: storage classes, volume attributes classes, volume attachments,
CSI drivers and CSI nodes.

CSIStorageCapacity has a print function upstream, but its REST storage registers the default
table convertor, so `kubectl get csistoragecapacities` shows NAME and CREATED AT; it is
deliberately absent from this registry.
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
    glist,
    gstr,
    name_of,
)
from kybernetes.apiserver.printers._descriptions import doc

IS_DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
ALPHA_IS_DEFAULT_VAC_ANNOTATION = "volumeattributesclass.alpha.kubernetes.io/is-default-class"

STORAGE_CLASS_COLUMNS = (
    NAME,
    Column("Provisioner", "string", doc("StorageClass.provisioner")),
    Column("ReclaimPolicy", "string", doc("StorageClass.reclaimPolicy")),
    Column("VolumeBindingMode", "string", doc("StorageClass.volumeBindingMode")),
    Column("AllowVolumeExpansion", "string", doc("StorageClass.allowVolumeExpansion")),
    AGE,
)


def storage_class_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printStorageClass: "(default)" suffix, Delete/Immediate defaults, ALLOWVOLUMEEXPANSION as a bool."""
    annotations = gdict(obj, "metadata", "annotations")
    name = name_of(obj)
    if (
        annotations.get(IS_DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"
        or annotations.get(BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"
    ):
        name += " (default)"
    reclaim = get(obj, "reclaimPolicy")
    binding = get(obj, "volumeBindingMode")
    return [
        name,
        gstr(obj, "provisioner"),
        reclaim if isinstance(reclaim, str) else "Delete",
        binding if isinstance(binding, str) else "Immediate",
        gbool(obj, "allowVolumeExpansion"),
        creation_age(obj, ctx.now),
    ]


VOLUME_ATTRIBUTES_CLASS_COLUMNS = (
    NAME,
    Column("DriverName", "string", doc("VolumeAttributesClass.driverName")),
    AGE,
)


def volume_attributes_class_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printVolumeAttributesClass."""
    name = name_of(obj)
    if gdict(obj, "metadata", "annotations").get(ALPHA_IS_DEFAULT_VAC_ANNOTATION) == "true":
        name += " (default)"
    return [name, gstr(obj, "driverName"), creation_age(obj, ctx.now)]


VOLUME_ATTACHMENT_COLUMNS = (
    NAME,
    # upstream marks this column format "name" too; kept for identical column definitions
    Column("Attacher", "string", doc("VolumeAttachmentSpec.attacher"), format="name"),
    Column("PV", "string", doc("VolumeAttachmentSource.persistentVolumeName")),
    Column("Node", "string", doc("VolumeAttachmentSpec.nodeName")),
    Column("Attached", "boolean", doc("VolumeAttachmentStatus.attached")),
    AGE,
)


def volume_attachment_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printVolumeAttachment."""
    pv = get(obj, "spec", "source", "persistentVolumeName")
    return [
        name_of(obj),
        gstr(obj, "spec", "attacher"),
        pv if isinstance(pv, str) else "",
        gstr(obj, "spec", "nodeName"),
        gbool(obj, "status", "attached"),
        creation_age(obj, ctx.now),
    ]


CSI_NODE_COLUMNS = (
    NAME,
    Column("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
    AGE,
)


def csi_node_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printCSINode: the number of registered drivers."""
    return [name_of(obj), len(glist(obj, "spec", "drivers")), creation_age(obj, ctx.now)]


CSI_DRIVER_COLUMNS = (
    NAME,
    Column("AttachRequired", "boolean", doc("CSIDriverSpec.attachRequired")),
    Column("PodInfoOnMount", "boolean", doc("CSIDriverSpec.podInfoOnMount")),
    Column("StorageCapacity", "boolean", doc("CSIDriverSpec.storageCapacity")),
    Column("TokenRequests", "string", doc("CSIDriverSpec.tokenRequests")),
    Column("RequiresRepublish", "boolean", doc("CSIDriverSpec.requiresRepublish")),
    Column("Modes", "string", doc("CSIDriverSpec.volumeLifecycleModes")),
    AGE,
)


def csi_driver_row(obj: JSONDict, ctx: Context) -> list[Any]:
    """printCSIDriver: attachRequired defaults to true; tokenRequests "<unset>" only when absent."""
    spec = gdict(obj, "spec")
    modes = ",".join(m for m in glist(spec, "volumeLifecycleModes") if isinstance(m, str)) or "<none>"
    token_requests = "<unset>"
    if isinstance(spec.get("tokenRequests"), list):
        token_requests = ",".join(gstr(t, "audience") for t in dicts(glist(spec, "tokenRequests")))
    return [
        name_of(obj),
        gbool(spec, "attachRequired", default=True),
        gbool(spec, "podInfoOnMount"),
        gbool(spec, "storageCapacity"),
        token_requests,
        gbool(spec, "requiresRepublish"),
        modes,
        creation_age(obj, ctx.now),
    ]


PRINTERS: Registry = {
    ("storage.k8s.io", "storageclasses"): Printer(STORAGE_CLASS_COLUMNS, storage_class_row),
    ("storage.k8s.io", "volumeattributesclasses"): Printer(
        VOLUME_ATTRIBUTES_CLASS_COLUMNS, volume_attributes_class_row
    ),
    ("storage.k8s.io", "volumeattachments"): Printer(VOLUME_ATTACHMENT_COLUMNS, volume_attachment_row),
    ("storage.k8s.io", "csinodes"): Printer(CSI_NODE_COLUMNS, csi_node_row),
    ("storage.k8s.io", "csidrivers"): Printer(CSI_DRIVER_COLUMNS, csi_driver_row),
}
