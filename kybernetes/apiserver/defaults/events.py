"""Field selectors of events.k8s.io/v1 Events, which are stored as core/v1 Events.

Upstream registers, next to the version's defaults and conversions, the selector names each version accepts and
the storage field each one means (`regarding.name` is `involvedObject.name`); the store only knows the core names.
"""

from __future__ import annotations

EVENTS_V1_FIELD_LABELS = {
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
}
