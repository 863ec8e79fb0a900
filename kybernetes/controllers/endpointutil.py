"""Shared by the Endpoints and EndpointSlice controllers: which pods back a Service and on which ports.

A pod backs a Service when the Service's selector matches it, it has an IP and it is not finished (a pod with
restartPolicy Never that ended, or OnFailure that succeeded, never serves again). A named targetPort is looked up
in each pod's own containers, so pods of different versions may serve the same Service port on different numbers;
a pod lacking the named port simply does not serve that Service port.
"""

from __future__ import annotations

from typing import Any

from kybernetes.client.informer import Handlers, Informer, Obj
from kybernetes.controllers.pods import is_ready, meta, phase
from kybernetes.machinery.selectors import selector_from_object

TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def service_selector(svc: Obj) -> dict[str, str] | None:
    spec = svc.get("spec") or {}
    sel = spec.get("selector")
    if not sel or spec.get("type") == "ExternalName":
        return None
    return dict(sel)


def selects(svc: Obj, pod: Obj) -> bool:
    sel = service_selector(svc)
    if sel is None:
        return False
    return selector_from_object({"matchLabels": sel}).matches(meta(pod).get("labels") or {})


def should_be_in_endpoints(pod: Obj) -> bool:
    st = pod.get("status") or {}
    if not st.get("podIP"):
        return False
    restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
    ph = phase(pod)
    if restart == "Never":
        return ph not in ("Failed", "Succeeded")
    if restart == "OnFailure":
        return ph != "Succeeded"
    return True


def find_port(pod: Obj, svc_port: dict[str, Any]) -> int | None:
    target = svc_port.get("targetPort")
    proto = svc_port.get("protocol") or "TCP"
    if target is None or target == "" or target == 0:
        return int(svc_port.get("port") or 0) or None
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p.get("containerPort") or 0) or None
    return None


def pod_ports(svc: Obj, pod: Obj) -> list[dict[str, Any]]:
    """The endpoint ports this pod serves for the Service, in Service port order."""
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        n = find_port(pod, sp)
        if n is None:
            continue
        ep: dict[str, Any] = {"name": sp.get("name", ""), "port": n, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            ep["appProtocol"] = sp["appProtocol"]
        out.append(ep)
    return out


def target_ref(pod: Obj) -> dict[str, Any]:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid")}


def hostname_for(svc: Obj, pod: Obj) -> str:
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == meta(svc).get("name"):
        return str(spec["hostname"])
    return ""


def pod_serving(pod: Obj) -> bool:
    return is_ready(pod)


def watch_service_pods(svcs: Informer, pods: Informer, enqueue: Any) -> None:
    """Enqueue every Service whose selector matches a pod before or after the change."""

    def touch(*objs: Obj) -> None:
        seen: set[str] = set()
        for pod in objs:
            for svc in svcs.list(meta(pod).get("namespace", "")):
                name = meta(svc).get("name", "")
                if name not in seen and selects(svc, pod):
                    seen.add(name)
                    enqueue(svc)

    def updated(old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        touch(old, new)

    pods.add_handlers(Handlers(on_add=touch, on_update=updated, on_delete=touch))
