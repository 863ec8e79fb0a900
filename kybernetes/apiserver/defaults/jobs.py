"""The selector upstream's Job strategy generates on create (generateSelectorIfNeeded).

Unless `spec.manualSelector` is true, a Job's pods are tied to it by its uid: the template gets the job-name and
controller-uid labels (legacy and `batch.kubernetes.io/` spellings) and the selector matches the uid label. It
needs the uid, so it runs on create only, after the store assigned one.
"""

from __future__ import annotations

from typing import Any

from kybernetes.apiserver.defaults.fields import struct

JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")


def generate_selector(job: dict[str, Any]) -> None:
    meta = job.get("metadata") or {}
    spec = struct(job, "spec")
    if spec is None or spec.get("manualSelector") is True:
        return
    template = struct(spec, "template")
    tmeta = struct(template, "metadata") if template is not None else None
    labels = struct(tmeta, "labels") if tmeta is not None else None
    selector = struct(spec, "selector")
    match = struct(selector, "matchLabels") if selector is not None else None
    if labels is None or match is None:
        return
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, name)
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, uid)
    match.setdefault("batch.kubernetes.io/controller-uid", uid)
