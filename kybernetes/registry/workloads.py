"""Strategies of the workload and other grouped resources (apps, batch, autoscaling, networking, ...)."""

from __future__ import annotations

from typing import Any

from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.selectors import selector_from_object
from kybernetes.registry.base import Strategy


class GenerationStrategy(Strategy):
    tracks_generation = True


class PodTemplateOwnerStrategy(GenerationStrategy):
    """Deployments, ReplicaSets, StatefulSets, DaemonSets: a selector that must match the template."""

    selector_required = True

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        sel = spec.get("selector")
        if self.selector_required and sel is None:
            errs.append(FieldError("required", "spec.selector"))
            return errs
        if sel is not None and not (sel.get("matchLabels") or sel.get("matchExpressions")):
            errs.append(FieldError("invalid", "spec.selector", sel, "empty selector is invalid for deployment"))
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if sel:
            try:
                matches = selector_from_object(sel).matches(labels)
            except ValueError as e:
                return [FieldError("invalid", "spec.selector", sel, str(e))]
            if not matches:
                errs.append(
                    FieldError(
                        "invalid",
                        "spec.template.metadata.labels",
                        labels,
                        "`selector` does not match template `labels`",
                    )
                )
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers")
        if not containers:
            errs.append(FieldError("required", "spec.template.spec.containers"))
        else:
            for i, c in enumerate(containers):
                if not c.get("name"):
                    errs.append(FieldError("required", f"spec.template.spec.containers[{i}].name"))
                if not c.get("image"):
                    errs.append(FieldError("required", f"spec.template.spec.containers[{i}].image"))
        replicas = spec.get("replicas")
        if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
            errs.append(
                FieldError("invalid", "spec.replicas", replicas, "must be greater than or equal to 0")
            )
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(new)
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            errs.append(
                FieldError("invalid", "spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable")
            )
        return errs


class ReplicaSetStrategy(PodTemplateOwnerStrategy):
    selectable_fields = ("status.replicas",)


class JobStrategy(GenerationStrategy):
    selectable_fields = ("status.successful",)


class CSRStrategy(Strategy):
    selectable_fields = ("spec.signerName",)


class LeaseStrategy(Strategy):
    allow_create_on_update = True


STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("apps", "deployments"): PodTemplateOwnerStrategy(),
    ("apps", "replicasets"): ReplicaSetStrategy(),
    ("apps", "statefulsets"): PodTemplateOwnerStrategy(),
    ("apps", "daemonsets"): PodTemplateOwnerStrategy(),
    ("apps", "controllerrevisions"): Strategy(),
    ("batch", "jobs"): JobStrategy(),
    ("batch", "cronjobs"): GenerationStrategy(),
    ("autoscaling", "horizontalpodautoscalers"): GenerationStrategy(),
    ("networking.k8s.io", "ingresses"): GenerationStrategy(),
    ("networking.k8s.io", "networkpolicies"): GenerationStrategy(),
    ("policy", "poddisruptionbudgets"): GenerationStrategy(),
    ("apiextensions.k8s.io", "customresourcedefinitions"): GenerationStrategy(),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): GenerationStrategy(),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): GenerationStrategy(),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): GenerationStrategy(),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"): GenerationStrategy(),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"): GenerationStrategy(),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"): GenerationStrategy(),
    ("certificates.k8s.io", "certificatesigningrequests"): CSRStrategy(),
    ("coordination.k8s.io", "leases"): LeaseStrategy(),
    ("events.k8s.io", "events"): Strategy(),
}
