"""Turning a URL into what it asks for (upstream's RequestInfo) and negotiating media types.

`/api/v1/namespaces/ns/pods/web/status` and `/apis/apps/v1/watch/deployments` are parsed once, here, into
group, version, namespace, resource, name, subresource and verb; every later layer (authorization, handlers)
works on that record instead of re-reading the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from kybernetes.machinery import errors

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"


@dataclass(slots=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str = ""
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    parts: list[str] = field(default_factory=list)


_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


def parse_request(method: str, path: str, query: Any) -> RequestInfo:
    """Parse a request the way upstream's RequestInfoFactory does."""
    segs = [s for s in path.strip("/").split("/") if s != ""]
    info = RequestInfo(is_resource=False, path=path, verb=method.lower())
    if not segs or segs[0] not in ("api", "apis"):
        return info
    info.api_prefix = segs[0]
    cur = segs[1:]
    if info.api_prefix == "api":
        if not cur:
            return info
        info.version = cur[0]
        cur = cur[1:]
    else:
        if len(cur) < 2:
            return info
        info.group, info.version = cur[0], cur[1]
        cur = cur[2:]
    if not cur:
        return info
    info.is_resource = True
    m = method.upper()
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        m, m.lower()
    )
    watch_prefix = False
    if cur[0] == "watch":
        watch_prefix = True
        verb = "watch"
        cur = cur[1:]
    if cur and cur[0] == "namespaces":
        if len(cur) > 1:
            info.namespace = cur[1]
            if len(cur) > 2 and cur[2] not in _NAMESPACE_SUBRESOURCES:
                cur = cur[2:]
            else:
                # /namespaces/{name}[/status|finalize]: the namespace object itself
                info.namespace = ""
                cur = ["namespaces", *cur[1:]]
    info.parts = cur
    if cur:
        info.resource = cur[0]
    if len(cur) >= 2:
        info.name = cur[1]
    if len(cur) >= 3:
        info.subresource = cur[2]
    if info.resource == "namespaces" and info.name:
        info.namespace = info.name
    if verb == "get" and not info.name:
        verb = "list"
        q = query.get("watch") if query is not None else None
        if q in ("true", "1", "True"):
            verb = "watch"
    elif verb == "delete" and not info.name:
        verb = "deletecollection"
    elif verb == "get" and info.name and not watch_prefix:
        q = query.get("watch") if query is not None else None
        if q in ("true", "1"):
            verb = "watch"
    info.verb = verb
    return info


def media_type(header: str | None) -> str:
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str) -> Any:
    """Decode a JSON, YAML or Kubernetes protobuf request body. Bad input raises a 400/415 StatusError."""
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*", "text/plain", MERGE_PATCH, JSON_PATCH, STRATEGIC_PATCH):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            if mt == "" and body:
                try:
                    return _yaml_load(body)
                except errors.StatusError:
                    pass
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    if mt in (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH):
        return _yaml_load(body)
    if mt == PROTOBUF:
        from kybernetes.apiserver.protobuf_bodies import decode_protobuf_body

        return decode_protobuf_body(body)
    raise errors.unsupported_media_type(content_type)


def _yaml_load(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        raise errors.bad_request(f"error converting YAML to JSON: {e}") from None


@dataclass(slots=True)
class Negotiated:
    table: bool = False
    table_version: str = "v1"
    partial_metadata: bool = False
    partial_list: bool = False  # PartialObjectMetadataList rather than PartialObjectMetadata was asked for
    partial_version: str = "v1"
    yaml: bool = False


def negotiate(accept: str | None) -> Negotiated:
    """Pick the response form from Accept: Table, PartialObjectMetadata(List), YAML or plain JSON."""
    n = Negotiated()
    if not accept:
        return n
    acceptable = False
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        mt = parts[0].lower()
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        if mt in (JSON, "*/*", "application/*", YAML, PROTOBUF):
            as_ = params.get("as")
            if as_:
                if params.get("g") != "meta.k8s.io":
                    continue
                if as_ == "Table" and params.get("v") in ("v1", "v1beta1"):
                    n.table = True
                    n.table_version = params["v"]
                    return n
                if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and params.get("v") in ("v1", "v1beta1"):
                    n.partial_metadata = True
                    n.partial_list = as_ == "PartialObjectMetadataList"
                    n.partial_version = params["v"]
                    return n
                continue
            if mt == PROTOBUF:
                continue
            if mt == YAML:
                n.yaml = True
            acceptable = True
            return n
    if not acceptable:
        raise errors.not_acceptable(accept)
    return n
