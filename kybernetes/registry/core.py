"""Strategies of the core (v1) resources that differ from the defaults."""

from __future__ import annotations

from typing import Any

from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.meta import is_dns1035_label, is_dns1123_label
from kybernetes.registry.base import Strategy


class NamespaceStrategy(Strategy):
    def name_errors(self, name: str) -> list[str]:
        return is_dns1123_label(name)

    def prepare_for_create(self, obj: dict[str, Any], has_status: bool) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        fins = spec.get("finalizers") or []
        if "kubernetes" not in fins:
            fins.append("kubernetes")
        spec["finalizers"] = fins
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any], has_status: bool) -> None:
        new["status"] = old.get("status", {"phase": "Active"})
        # spec.finalizers only change through /finalize.
        new["spec"] = dict(new.get("spec") or {})
        new["spec"]["finalizers"] = (old.get("spec") or {}).get("finalizers", [])
        labels = new["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = new["metadata"]["name"]

    selectable_fields = ("status.phase",)

    def delete_pending(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def mark_deleting(self, obj: dict[str, Any]) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class PodStrategy(Strategy):
    selectable_fields = (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    )

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        f = super().fields(obj)
        if f.get("spec.hostNetwork") == "":
            f["spec.hostNetwork"] = "false"
        return f

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return {"phase": "Pending", "qosClass": _qos_class(obj)}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs: list[FieldError] = []
        spec = obj.get("spec") or {}
        containers = spec.get("containers")
        if not containers:
            errs.append(FieldError("required", "spec.containers"))
            return errs
        seen: set[str] = set()
        for i, c in enumerate(containers):
            path = f"spec.containers[{i}]"
            name = c.get("name", "")
            if not name:
                errs.append(FieldError("required", f"{path}.name"))
            else:
                for msg in is_dns1123_label(name):
                    errs.append(FieldError("invalid", f"{path}.name", name, msg))
                if name in seen:
                    errs.append(FieldError("duplicate", f"{path}.name", name))
                seen.add(name)
            if not c.get("image"):
                errs.append(FieldError("required", f"{path}.image"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(new)
        if errs:
            return errs
        ns, os_ = dict(new.get("spec") or {}), dict(old.get("spec") or {})
        # Only images, activeDeadlineSeconds, tolerations (additions) and scheduling gates may change.
        for s in (ns, os_):
            s.pop("activeDeadlineSeconds", None)
            s.pop("tolerations", None)
            s.pop("schedulingGates", None)
            s["containers"] = [{k: v for k, v in c.items() if k != "image"} for c in s.get("containers") or []]
            s["initContainers"] = [
                {k: v for k, v in c.items() if k != "image"} for c in s.get("initContainers") or []
            ]
        if os_.get("nodeName") and not ns.get("nodeName"):
            ns["nodeName"] = os_["nodeName"]
        if ns != os_:
            return [
                FieldError(
                    "forbidden",
                    "spec",
                    detail="pod updates may not change fields other than `spec.containers[*].image`,"
                    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                    "(allow it to be set to 1 if it was previously negative)",
                )
            ]
        return []

    def graceful_delete_seconds(self, obj: dict[str, Any], requested: int | None) -> int:
        spec = obj.get("spec") or {}
        # An unscheduled pod or a finished one has no kubelet to wait for.
        if not spec.get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(requested, 0)
        g = spec.get("terminationGracePeriodSeconds")
        return 30 if g is None else max(int(g), 0)


def _qos_class(pod: dict[str, Any]) -> str:
    containers = list((pod.get("spec") or {}).get("containers") or []) + list(
        (pod.get("spec") or {}).get("initContainers") or []
    )
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim:
                guaranteed = False
            elif r in req and str(req[r]) != str(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class ServiceStrategy(Strategy):
    reset_status_on_create = True

    def name_errors(self, name: str) -> list[str]:
        return is_dns1035_label(name)

    def initial_status(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return {"loadBalancer": {}}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any], has_status: bool) -> None:
        super().prepare_for_update(new, old, has_status)
        ns, os_ = new.setdefault("spec", {}), old.get("spec") or {}
        for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if f not in ns and f in os_:
                ns[f] = os_[f]

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        stype = spec.get("type", "ClusterIP")
        if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            errs.append(
                FieldError("notsupported", "spec.type", stype, 'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')
            )
        ports = spec.get("ports") or []
        if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
            errs.append(FieldError("required", "spec.ports"))
        for i, p in enumerate(ports):
            port = p.get("port")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                errs.append(
                    FieldError("invalid", f"spec.ports[{i}].port", port, "must be between 1 and 65535, inclusive")
                )
            if len(ports) > 1 and not p.get("name"):
                errs.append(FieldError("required", f"spec.ports[{i}].name"))
        return errs


class NodeStrategy(Strategy):
    selectable_fields = ("spec.unschedulable",)

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        f = super().fields(obj)
        if f["spec.unschedulable"] == "":
            f["spec.unschedulable"] = "false"
        return f

    reset_status_on_create = False


class EventStrategy(Strategy):
    allow_create_on_update = True
    ttl = 3600
    selectable_fields = (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    )

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        f = super().fields(obj)
        src = obj.get("source") or {}
        f["source"] = src.get("component", "") if isinstance(src, dict) else ""
        return f


class SecretStrategy(Strategy):
    selectable_fields = ("type",)


class ReplicationControllerStrategy(Strategy):
    tracks_generation = True
    selectable_fields = ("status.replicas",)


class EndpointsStrategy(Strategy):
    allow_create_on_update = True


STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "namespaces"): NamespaceStrategy(),
    ("", "pods"): PodStrategy(),
    ("", "services"): ServiceStrategy(),
    ("", "nodes"): NodeStrategy(),
    ("", "events"): EventStrategy(),
    ("", "secrets"): SecretStrategy(),
    ("", "replicationcontrollers"): ReplicationControllerStrategy(),
    ("", "endpoints"): EndpointsStrategy(),
}
