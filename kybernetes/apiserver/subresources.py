"""Subresources with their own semantics: status, scale, binding, eviction, namespace finalize, tokens.

`/status` and `/scale` wrap the same generic store with a different view of the object; `binding` and
`eviction` are how the scheduler and `kubectl drain` act on pods. Streaming subresources (log, exec, attach,
portforward, proxy) are served by the node proxy when a kubelet is present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver import responses
from kybernetes.apiserver.handlers import _dry_run, read_body
from kybernetes.apiserver.request import RequestInfo, decode_body, media_type
from kybernetes.machinery import errors
from kybernetes.machinery.errors import StatusError
from kybernetes.machinery.meta import meta_of
from kybernetes.machinery.selectors import selector_to_string

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

# apps resources: spec.replicas, status.replicas, spec.selector (LabelSelector)
SCALABLE = {("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("", "replicationcontrollers")}


class Subresources:
    def __init__(self, server: APIServer) -> None:
        self.srv = server
        self.streaming: dict[str, Any] = {}

    async def handle(self, request: web.Request, ri: RequestInfo, info: ResourceInfo, ns: str) -> web.StreamResponse:
        sub = ri.subresource
        if sub not in info.subresources or (len(ri.parts) > 3 and sub != "proxy"):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        verb = ri.verb
        if sub in self.streaming:
            handler = self.streaming[sub]
            resp: web.StreamResponse = await handler(request, info, ns, ri.name, ri)
            return resp
        if sub == "status":
            return await self._status(request, info, ns, ri.name, verb)
        if sub == "scale":
            return await self._scale(request, info, ns, ri.name, verb)
        if sub == "binding" and verb == "create":
            return await self._binding(request, ns, ri.name)
        if sub == "finalize" and verb == "update":
            return await self._finalize(request, info, ri.name)
        if sub == "eviction" and verb == "create":
            return await self._eviction(request, info, ns, ri.name)
        ext = self.srv.extra_subresources.get((info.group, info.resource, sub))
        if ext is not None:
            r: web.StreamResponse = await ext(request, info, ns, ri.name, verb)
            return r
        raise errors.method_not_supported(f"{info.resource}/{sub}", info.group, verb)

    # ----------------------------------------------------------------- status
    async def _status(self, request: web.Request, info: ResourceInfo, ns: str, name: str, verb: str) -> web.Response:
        h = self.srv.handler
        if verb == "get":
            return await h.get(request, info, ns, name)
        if verb == "update":
            obj = await h._body_object(request)
            if not isinstance(obj, dict):
                raise errors.bad_request("the body of the request must be a JSON object")
            manager = self.srv.field_manager(request)
            result, _ = await self.srv.store.update(
                self.srv.storage_info(info), ns, name, self.srv.convert_in(info, obj), subresource="status",
                dry_run=_dry_run(request),
                prepare=lambda new, old: self.srv.track_fields(info, old, new, manager, "Update", "status"),
            )
            return h.render_one(request, info, result)
        if verb == "patch":
            return await h.patch(request, info, ns, name, subresource="status")
        raise errors.method_not_supported(f"{info.resource}/status", info.group, verb)

    # ------------------------------------------------------------------ scale
    def _scale_of(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata", {})
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        paths = self.srv.scale_paths(info)
        if paths is not None:
            spec_path, status_path, selector_path = paths
            replicas = _get_path(obj, spec_path) or 0
            st: dict[str, Any] = {"replicas": _get_path(obj, status_path) or 0}
            if selector_path:
                sel = _get_path(obj, selector_path)
                if sel:
                    st["selector"] = sel
        else:
            replicas = spec.get("replicas", 1)
            st = {"replicas": status.get("replicas", 0)}
            sel = spec.get("selector")
            if isinstance(sel, dict) and info.resource == "replicationcontrollers":
                st["selector"] = ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
            elif isinstance(sel, dict):
                st["selector"] = selector_to_string(sel)
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": replicas},
            "status": st,
        }

    async def _scale(self, request: web.Request, info: ResourceInfo, ns: str, name: str, verb: str) -> web.Response:
        if verb == "get":
            obj, _ = await self.srv.store.get_current(info, ns, name)
            return responses.obj_response(self._scale_of(info, obj))
        if verb not in ("update", "patch"):
            raise errors.method_not_supported(f"{info.resource}/scale", info.group, verb)
        body = await read_body(request)
        ct = media_type(request.headers.get("Content-Type"))
        payload = decode_body(body, ct if verb == "patch" else request.headers.get("Content-Type", ""))
        paths = self.srv.scale_paths(info)
        spec_path = paths[0] if paths else ".spec.replicas"

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            scale = self._scale_of(info, cur)
            if verb == "update":
                new_scale = payload
                want = (new_scale.get("metadata") or {}).get("resourceVersion")
                if want and want != meta_of(cur).get("resourceVersion"):
                    raise errors.conflict(info.resource, info.group, name, errors.MODIFIED)
            else:
                from kybernetes.apiserver.patching import json_patch, merge_patch

                if ct == "application/json-patch+json":
                    new_scale = json_patch(scale, payload)
                else:
                    new_scale = merge_patch(scale, payload)
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid(
                    "Scale", "autoscaling", name,
                    [errors.FieldError("invalid", "spec.replicas", replicas, "must be greater than or equal to 0")],
                )
            _set_path(cur, spec_path, replicas)
            return cur

        result = await self.srv.store.guaranteed_update(
            self.srv.storage_info(info), ns, name, mutate, subresource="scale", dry_run=_dry_run(request)
        )
        return responses.obj_response(self._scale_of(info, result))

    # ---------------------------------------------------------------- binding
    async def _binding(self, request: web.Request, ns: str, name: str) -> web.Response:
        body = decode_body(await read_body(request), request.headers.get("Content-Type", ""))
        pods = self.srv.resources.get("", "v1", "pods")
        assert pods is not None
        return await self.bind(request, pods, ns, name, body)

    async def bind(self, request: web.Request, pods: ResourceInfo, ns: str, name: str, body: Any) -> web.Response:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        target = body.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid("Binding", "", name, [errors.FieldError("required", "target.name")])
        bmeta = body.get("metadata") or {}
        if bmeta.get("name") and bmeta["name"] != name:
            raise errors.bad_request("the name of the binding does not match the pod name")

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            m = meta_of(cur)
            if m.get("deletionTimestamp"):
                raise errors.conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
            spec = cur.setdefault("spec", {})
            if spec.get("nodeName"):
                raise errors.conflict("pods", "", name, f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
            uid = (bmeta.get("uid"))
            if uid and uid != m.get("uid"):
                raise errors.conflict("pods", "", name, "Precondition failed: UID")
            spec["nodeName"] = node
            ann = bmeta.get("annotations")
            if ann:
                m.setdefault("annotations", {}).update(ann)
            status = cur.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": responses.now().strftime("%Y-%m-%dT%H:%M:%SZ")})
            status["conditions"] = conds
            return cur

        await self.srv.store.guaranteed_update(pods, ns, name, _bypass_pod_validation(mutate), subresource="binding")
        return responses.obj_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)

    # --------------------------------------------------------------- finalize
    async def _finalize(self, request: web.Request, info: ResourceInfo, name: str) -> web.Response:
        obj = decode_body(await read_body(request), request.headers.get("Content-Type", ""))
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        fins = (obj.get("spec") or {}).get("finalizers") or []

        def mutate(cur: dict[str, Any]) -> dict[str, Any]:
            cur.setdefault("spec", {})["finalizers"] = fins
            return cur

        result = await self.srv.store.guaranteed_update(info, "", name, mutate, subresource="finalize")
        return responses.obj_response(result)

    # --------------------------------------------------------------- eviction
    async def _eviction(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.Response:
        body = decode_body(await read_body(request), request.headers.get("Content-Type", ""))
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        await self.srv.check_disruption_budget(ns, name)
        options = body.get("deleteOptions") or {}
        await self.srv.store.delete(info, ns, name, options)
        return responses.obj_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)


def _bypass_pod_validation(mutate: Any) -> Any:
    """Binding changes spec.nodeName, which ordinary pod updates may not touch; mark the write as a binding."""
    return mutate


def _get_path(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for p in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value


__all__ = ["Subresources", "orjson"]
