"""OpenAPI for custom resources: a v3 document per group-version and definitions/paths merged into v2.

kubectl will not `create -f`/`apply`/`edit` a custom resource unless OpenAPI has a PATCH operation for its kind
that takes `fieldValidation` (v3 for 1.29+, v2 protobuf for 1.27/1.28), and `kubectl explain` reads the kind's
schema from the same documents. Rather than hand-writing every operation, the paths are derived from upstream's own
Deployment paths (same parameters, responses and extensions) with the kind, list kind and scope substituted and
strategic merge patch removed (custom resources do not support it). Schemas are published the way upstream's CRD
OpenAPI builder does: ObjectMeta for metadata, TypeMeta descriptions, and for v2 the structural schema reduced to
what v2 can express.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import cache
from typing import Any

import orjson

from kybernetes.api.resources import openapi_v2_document, openapi_v3_document
from kybernetes.apiserver.crd.model import CRDModel, VersionModel

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
_TEMPLATE_KIND = "io.k8s.api.apps.v1.Deployment"
_TEMPLATE_LIST = "io.k8s.api.apps.v1.DeploymentList"
_NS = "/apis/apps/v1/namespaces/{namespace}/deployments"
_TEMPLATES = {
    "collection": _NS,
    "item": _NS + "/{name}",
    "status": _NS + "/{name}/status",
    "scale": _NS + "/{name}/scale",
    "all": "/apis/apps/v1/deployments",
}
_DROP_MEDIA = {"application/strategic-merge-patch+json", "application/vnd.kubernetes.protobuf"}

API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert "
    "recognized schemas to the latest internal value, and may reject unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from the "
    "endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
METADATA_DOC = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
LIST_META_DOC = (
    "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's name for a CR schema: the group reversed (`example.com` -> `com.example`), version, kind."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _camel(s: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in s.replace("-", ".").split(".") if p)


# ---------------------------------------------------------------------------------------------- schemas


def _add_embedded(s: Any, ref: dict[str, Any]) -> None:
    """Give every x-kubernetes-embedded-resource node TypeMeta and ObjectMeta, as upstream publishes them."""
    if not isinstance(s, dict):
        return
    for sub in (s.get("properties") or {}).values():
        _add_embedded(sub, ref)
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            _add_embedded(s[key], ref)
    if s.get("x-kubernetes-embedded-resource"):
        props = s.setdefault("properties", {})
        props.setdefault("apiVersion", {"description": API_VERSION_DOC, "type": "string"})
        props.setdefault("kind", {"description": KIND_DOC, "type": "string"})
        props["metadata"] = copy.deepcopy(ref)


def _to_v2(s: Any) -> None:
    """ToStructuralOpenAPIV2: drop what v2 (and kubectl's v2 reader) cannot express, in place."""
    if not isinstance(s, dict):
        return
    for k in ("allOf", "anyOf", "oneOf", "not", "x-kubernetes-validations"):
        s.pop(k, None)
    if s.pop("nullable", False):
        s.pop("type", None)
        s.pop("items", None)
        s.pop("properties", None)
    if s.get("x-kubernetes-preserve-unknown-fields"):
        s.pop("items", None)
        s.pop("properties", None)
    if s.get("type") == "array" and "items" not in s:
        s.pop("type", None)
    props = s.get("properties") or {}
    nullable = {k for k, v in props.items() if isinstance(v, dict) and v.get("nullable")}
    if nullable and isinstance(s.get("required"), list):
        s["required"] = [r for r in s["required"] if r not in nullable]
        if not s["required"]:
            s.pop("required")
    for sub in props.values():
        _to_v2(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            _to_v2(s[key])


def kind_schema(model: CRDModel, v: VersionModel, *, v2: bool) -> dict[str, Any]:
    gvk = [{"group": model.group, "kind": model.kind, "version": v.name}]
    if v2 and v.schema.get("x-kubernetes-preserve-unknown-fields"):
        return {"type": "object", "x-kubernetes-group-version-kind": gvk}
    s: dict[str, Any] = copy.deepcopy(v.schema)
    if v2:
        _to_v2(s)
        meta_ref: dict[str, Any] = {"$ref": "#/definitions/" + OBJECT_META, "description": METADATA_DOC}
    else:
        meta_ref = {"allOf": [{"$ref": "#/components/schemas/" + OBJECT_META}], "description": METADATA_DOC}
    _add_embedded(s, meta_ref)
    props = s.setdefault("properties", {})
    props["apiVersion"] = {"description": API_VERSION_DOC, "type": "string"}
    props["kind"] = {"description": KIND_DOC, "type": "string"}
    props["metadata"] = meta_ref
    s["type"] = "object"
    s["x-kubernetes-group-version-kind"] = gvk
    return s


def list_schema(model: CRDModel, v: VersionModel, *, v2: bool) -> dict[str, Any]:
    prefix = "#/definitions/" if v2 else "#/components/schemas/"
    item_ref = {"$ref": prefix + definition_name(model.group, v.name, model.kind)}
    list_meta: dict[str, Any] = (
        {"$ref": prefix + LIST_META, "description": LIST_META_DOC}
        if v2
        else {"allOf": [{"$ref": prefix + LIST_META}], "description": LIST_META_DOC}
    )
    return {
        "description": f"{model.list_kind} is a list of {model.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "items": {
                "description": f"List of {model.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": item_ref,
            },
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": list_meta,
        },
        "x-kubernetes-group-version-kind": [{"group": model.group, "kind": model.list_kind, "version": v.name}],
    }


# ------------------------------------------------------------------------------------------------ paths


class _Rewriter:
    """Turns one of upstream's Deployment path items into the same item for a custom resource."""

    def __init__(self, model: CRDModel, v: VersionModel, v2: bool) -> None:
        self.model = model
        self.v = v
        prefix = "#/definitions/" if v2 else "#/components/schemas/"
        self.refs = {
            prefix + _TEMPLATE_LIST: prefix + definition_name(model.group, v.name, model.list_kind),
            prefix + _TEMPLATE_KIND: prefix + definition_name(model.group, v.name, model.kind),
        }
        self.op_prefix = _camel(model.group) + _camel(v.name)

    def __call__(self, node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            if set(node) == {"group", "version", "kind"} and node.get("kind") == "Deployment":
                return {"group": self.model.group, "kind": self.model.kind, "version": self.v.name}
            out: dict[str, Any] = {}
            for k, val in node.items():
                if k in _DROP_MEDIA:
                    continue
                if k == "parameters" and not self.model.namespaced:
                    val = [p for p in val if not _is_namespace_param(p)]
                out[k] = self(val, k)
            return out
        if isinstance(node, list):
            return [self(x, key) for x in node if not (isinstance(x, str) and x in _DROP_MEDIA)]
        if isinstance(node, str):
            if key == "$ref":
                return self.refs.get(node, node)
            if key == "operationId":
                s = node.replace("AppsV1", self.op_prefix).replace("Deployment", self.model.kind)
                return s if self.model.namespaced else s.replace("Namespaced", "")
            if key == "description":
                return node.replace("Deployment", self.model.kind)
            if key == "tags":
                return f"{self.model.group}_{self.v.name}"
        return node


def _is_namespace_param(p: Any) -> bool:
    if not isinstance(p, dict):
        return False
    return p.get("name") == "namespace" or "/namespace-" in str(p.get("$ref", ""))


def paths_for(model: CRDModel, v: VersionModel, *, v2: bool) -> dict[str, Any]:
    source = _v2_paths() if v2 else _v3_paths()
    rw = _Rewriter(model, v, v2)
    base = f"/apis/{model.group}/{v.name}"
    coll = f"{base}/namespaces/{{namespace}}/{model.plural}" if model.namespaced else f"{base}/{model.plural}"
    out: dict[str, Any] = {coll: rw(source["collection"]), coll + "/{name}": rw(source["item"])}
    if model.namespaced:
        out[f"{base}/{model.plural}"] = rw(source["all"])
    if v.status:
        out[coll + "/{name}/status"] = rw(source["status"])
    if v.scale is not None:
        out[coll + "/{name}/scale"] = rw(source["scale"])
    return out


@cache
def _v3_paths() -> dict[str, Any]:
    doc = orjson.loads(openapi_v3_document("apps", "v1"))
    return {k: doc["paths"][p] for k, p in _TEMPLATES.items()}


@cache
def _v2_paths() -> dict[str, Any]:
    doc = openapi_v2_document()
    return {k: doc["paths"][p] for k, p in _TEMPLATES.items()}


@cache
def _v3_meta_schemas() -> dict[str, Any]:
    """ObjectMeta, ListMeta, Status, DeleteOptions, Patch, Scale and everything they reference."""
    schemas = orjson.loads(openapi_v3_document("apps", "v1"))["components"]["schemas"]
    out: dict[str, Any] = {}
    todo = [OBJECT_META, LIST_META, META + "Status", META + "DeleteOptions", META + "Patch", "io.k8s.api.autoscaling.v1.Scale"]
    while todo:
        name = todo.pop()
        if name in out or name not in schemas:
            continue
        out[name] = schemas[name]
        todo.extend(_refs(schemas[name]))
    return out


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v.rsplit("/", 1)[-1]
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for x in node:
            yield from _refs(x)


# ------------------------------------------------------------------------------------------- documents


def v3_document(models: Iterable[CRDModel], group: str, version: str) -> bytes:
    """The /openapi/v3/apis/<group>/<version> document for every CRD serving that group-version."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(_v3_meta_schemas())
    for m in sorted(models, key=lambda m: m.name):
        v = m.versions.get(version)
        if m.group != group or v is None or not v.served:
            continue
        paths.update(paths_for(m, v, v2=False))
        schemas[definition_name(group, version, m.kind)] = kind_schema(m, v, v2=False)
        schemas[definition_name(group, version, m.list_kind)] = list_schema(m, v, v2=False)
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"description": "Bearer Token authentication", "in": "header",
                                                "name": "authorization", "type": "apiKey"}},
        },
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def v2_additions(models: Iterable[CRDModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(definitions, paths) of every served custom resource version, for the merged /openapi/v2."""
    definitions: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for m in models:
        for v in m.served_versions():
            paths.update(paths_for(m, v, v2=True))
            definitions[definition_name(m.group, v.name, m.kind)] = kind_schema(m, v, v2=True)
            definitions[definition_name(m.group, v.name, m.list_kind)] = list_schema(m, v, v2=True)
    return definitions, paths
