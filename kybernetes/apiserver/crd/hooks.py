"""Wiring CustomResourceDefinitions into the API server's request path.

The generic store and handlers already serve any registered resource; what CRDs add is judged here, at the hooks
the server exposes: defaulting (prune and default custom resources with their version's schema), admission
(default and validate CRDs, add the cleanup finalizer on delete; validate custom resources, refuse creates while
the CRD terminates), field
validation (`fieldValidation=Strict` rejects unknown fields), Table columns, scale paths, the storage version and
the server-side apply schema.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.crd import structural, validator
from kybernetes.apiserver.crd.controller import CLEANUP_FINALIZER, RESOURCE, CRDController
from kybernetes.apiserver.crd.definition import (
    GROUP,
    KIND,
    default_crd,
    record_stored_version,
    validate_crd,
    validate_crd_update,
)
from kybernetes.apiserver.crd.model import CRDModel
from kybernetes.apiserver.fieldvalidation import report
from kybernetes.apiserver.fieldvalidation.duplicates import parse_pairs
from kybernetes.apiserver.fieldvalidation.walk import scan_pairs, undeclared_fields
from kybernetes.apiserver.handlers import RAW_BODY_KEY
from kybernetes.apiserver.printers import CRD_DEFAULT_COLUMNS
from kybernetes.apiserver.request import APPLY_PATCH, JSON, MERGE_PATCH, media_type
from kybernetes.apiserver.responses import add_warning
from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError, StatusError
from kybernetes.machinery.patch.schema import Node

if TYPE_CHECKING:
    from kybernetes.apiserver.server import APIServer

# The version a write came in as: admission sees the object already converted to the storage version, but
# upstream prunes, defaults and validates with the schema of the version the client used.
_request_version: ContextVar[tuple[str, str, str] | None] = ContextVar("kyb_crd_request_version", default=None)


def request_version(info: ResourceInfo) -> str:
    """The version the current request wrote `info`'s resource in (the storage version's info otherwise)."""
    rv = _request_version.get()
    if rv is not None and rv[0] == info.group and rv[1] == info.resource:
        return rv[2]
    return info.version


class CRDHooks:
    def __init__(self, api: APIServer, controller: CRDController) -> None:
        self.api = api
        self.ctl = controller

    # ------------------------------------------------------------------------------------ admission
    async def admit(self, operation: str, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if info.group == GROUP and info.resource == RESOURCE:
            self._admit_crd(operation, obj, old)
        elif info.custom:
            self._admit_custom(operation, info, obj)

    def _admit_crd(self, operation: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if operation == "DELETE":
            meta = obj.setdefault("metadata", {})
            if not meta.get("deletionTimestamp") and CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
                meta["finalizers"] = [*(meta.get("finalizers") or []), CLEANUP_FINALIZER]
            return
        default_crd(obj)
        record_stored_version(obj)
        errs = validate_crd(obj) if operation == "CREATE" or old is None else validate_crd_update(obj, old)
        if errs:
            raise errors.invalid(KIND, GROUP, (obj.get("metadata") or {}).get("name", ""), errs)

    def _admit_custom(self, operation: str, info: ResourceInfo, obj: dict[str, Any]) -> None:
        model = self.ctl.model_for(info)
        if model is None:
            return
        name = (obj.get("metadata") or {}).get("name", "")
        if operation == "CREATE" and model.terminating:
            raise StatusError(
                405,
                "MethodNotAllowed",
                "create not allowed while custom resource definition is terminating",
                {"group": info.group, "kind": info.resource},
            )
        if operation not in ("CREATE", "UPDATE"):
            return
        version = request_version(info)
        schema = model.schema(version)
        errs = validator.validate(obj, schema)
        errs += _scale_errors(model.versions[version].scale if version in model.versions else None, obj)
        if errs:
            raise errors.invalid(model.kind, model.group, name, errs)

    def default(self, info: ResourceInfo, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Decode-time processing of a custom resource: drop non-nullable nulls, fill defaults, prune unknown fields.

        Runs before managedFields are computed, so pruned fields are never owned by anyone.
        """
        if not info.custom:
            return
        model = self.ctl.model_for(info)
        if model is not None:
            structural.normalize(obj, model.schema(request_version(info)))

    # ------------------------------------------------------------------------------ field validation
    def field_validation(self, request: web.Request, info: ResourceInfo, obj: dict[str, Any], mode: str) -> None:
        """Unknown and duplicate fields under Strict (errors) and Warn (warnings), worded like upstream.

        Pruning itself happens in admission, for every write path; this only reports, and records the version the
        client wrote in so admission uses that version's schema.
        """
        model = self.ctl.model_for(info)
        if model is None:
            return
        _request_version.set((info.group, info.resource, info.version))
        content_type = media_type(request.headers.get("Content-Type"))
        raw = request.get(RAW_BODY_KEY)
        if request.method == "PATCH" and content_type == APPLY_PATCH:
            self._apply(model, info, raw)
            return
        if mode == "Ignore":
            return
        findings: list[str] = []
        if isinstance(raw, bytes) and content_type in ("", JSON, MERGE_PATCH):
            pairs = parse_pairs(raw)
            if pairs is not None:
                findings += scan_pairs(None, pairs)
        probe = orjson.loads(orjson.dumps(obj))
        findings += [f'unknown field "{p}"' for p in sorted(structural.prune(probe, model.schema(info.version)))]
        if not findings:
            return
        if mode != "Strict":
            for text in findings:
                add_warning(request, text)
        elif request.method == "PATCH":
            raise report.patch_error(findings, report.compact_json(obj))
        else:
            raise report.decode_error(model.kind, info.version, findings)

    def _apply(self, model: CRDModel, info: ResourceInfo, raw: Any) -> None:
        """Server-side apply refuses undeclared fields while typing the applied object (a 500, like upstream)."""
        if not isinstance(raw, bytes):
            return
        try:
            applied = yaml.safe_load(raw)
        except yaml.YAMLError:
            return
        if not isinstance(applied, dict):
            return
        undeclared = undeclared_fields(model.node(info.version), applied)
        if undeclared:
            meta = applied.get("metadata") if isinstance(applied.get("metadata"), dict) else {}
            assert isinstance(meta, dict)
            where = report.gvknn(applied, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            raise report.apply_undeclared_error(where, undeclared)

    # ------------------------------------------------------------------------------- other answers
    def printer_columns(self, info: ResourceInfo) -> list[dict[str, Any]] | None:
        model = self.ctl.model_for(info)
        if model is None:
            return None
        v = model.versions.get(info.version)
        if v is None or not v.columns:
            return [dict(c) for c in CRD_DEFAULT_COLUMNS]
        return [dict(c) for c in v.columns]

    def scale_paths(self, info: ResourceInfo) -> tuple[str, str, str] | None:
        model = self.ctl.model_for(info)
        v = model.versions.get(info.version) if model is not None else None
        if v is None or v.scale is None:
            return None
        return (
            str(v.scale.get("specReplicasPath") or ".spec.replicas"),
            str(v.scale.get("statusReplicasPath") or ".status.replicas"),
            str(v.scale.get("labelSelectorPath") or ""),
        )

    def schema_node(self, info: ResourceInfo) -> Node | None:
        model = self.ctl.model_for(info)
        return model.node(info.version) if model is not None else None


def _scale_errors(scale: dict[str, Any] | None, obj: dict[str, Any]) -> list[FieldError]:
    """The spec replicas a scale subresource points at must be a non-negative int32 when present."""
    if not scale or not scale.get("specReplicasPath"):
        return []
    path = str(scale["specReplicasPath"])
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict) or part not in cur:
            return []
        cur = cur[part]
    if cur is None:
        return []
    if isinstance(cur, bool) or not isinstance(cur, int):
        return [FieldError("invalid", path, 0, f"{path} accessor error: {cur!r} is of the type {validator.type_name(cur)}, expected int64")]
    if cur < 0:
        return [FieldError("invalid", path, cur, "should be a non-negative integer")]
    if cur > 2**31 - 1:
        return [FieldError("invalid", path, cur, f"should be less than or equal to {2**31 - 1}")]
    return []


def install(api: APIServer) -> CRDController:
    """Connect CRD serving to `api`; returns the controller (started with the server)."""
    ctl = CRDController(api)
    hooks = CRDHooks(api, ctl)
    api.store.admission.append(hooks.admit)
    api.store.defaulters.append(hooks.default)
    previous = api.field_validation_impl

    def field_validation(request: web.Request, info: ResourceInfo, obj: dict[str, Any], mode: str) -> None:
        if info.custom:
            hooks.field_validation(request, info, obj, mode)
        elif previous is not None:
            previous(request, info, obj, mode)

    api.field_validation_impl = field_validation
    api.printer_columns_impl = hooks.printer_columns
    api.scale_paths_impl = hooks.scale_paths
    api.custom_storage_impl = ctl.storage_info
    api.post_start_hooks.append(ctl.start)
    setattr(api, "custom_schema_node", hooks.schema_node)  # noqa: B010 - optional attribute features.py probes
    setattr(api, "crd_controller", ctl)  # noqa: B010 - for tests and debugging
    return ctl
