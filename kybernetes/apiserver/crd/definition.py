"""Defaulting and validation of CustomResourceDefinition objects (apiextensions.k8s.io/v1).

A bad definition must be refused with 422 before anything tries to serve it, as upstream's
`ValidateCustomResourceDefinition` does: the name must be `<plural>.<group>`, exactly one version is the storage
version, every version has a structural schema, subresource and printer-column paths are simple JSON paths. Field
paths and wording follow upstream so kubectl prints the same `* spec.versions[0]...` lines.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.apiserver.crd.schema_rules import validate_schema
from kybernetes.machinery.errors import FieldError
from kybernetes.machinery.meta import is_dns1035_label, is_dns1123_subdomain

GROUP = "apiextensions.k8s.io"
KIND = "CustomResourceDefinition"
PRINTER_TYPES = ("boolean", "date", "integer", "number", "string")
PRINTER_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"


def storage_version(crd: dict[str, Any]) -> str | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            name = v.get("name")
            return name if isinstance(name, str) else None
    return None


def default_crd(crd: dict[str, Any]) -> None:
    """SetDefaults for v1: singular and listKind from kind, conversion strategy None."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind")
        if isinstance(kind, str) and kind:
            if not names.get("singular"):
                names["singular"] = kind.lower()
            if not names.get("listKind"):
                names["listKind"] = kind + "List"
    conv = spec.get("conversion")
    if not isinstance(conv, dict):
        spec["conversion"] = {"strategy": "None"}
    elif not conv.get("strategy"):
        conv["strategy"] = "None"


def _dns1035(value: Any, path: str, errs: list[FieldError], mixed_case: bool = False) -> None:
    if not isinstance(value, str) or not value:
        return
    msgs = is_dns1035_label(value.lower() if mixed_case else value)
    if msgs:
        detail = ",".join(msgs)
        if mixed_case:
            detail = "may have mixed case, but should otherwise match: " + detail
        errs.append(FieldError("invalid", path, value, detail))


def _validate_names(names: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    _dns1035(names.get("plural"), f"{path}.plural", errs)
    _dns1035(names.get("singular"), f"{path}.singular", errs)
    _dns1035(names.get("kind"), f"{path}.kind", errs, mixed_case=True)
    _dns1035(names.get("listKind"), f"{path}.listKind", errs, mixed_case=True)
    for i, sn in enumerate(names.get("shortNames") or []):
        _dns1035(sn, f"{path}.shortNames[{i}]", errs)
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(FieldError("invalid", f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for i, c in enumerate(names.get("categories") or []):
        _dns1035(c, f"{path}.categories[{i}]", errs)
    for key in ("plural", "singular", "kind", "listKind"):
        if not names.get(key):
            errs.append(FieldError("required", f"{path}.{key}"))


def _simple_json_path(value: Any, path: str, errs: list[FieldError]) -> bool:
    if not isinstance(value, str) or not value:
        errs.append(FieldError("invalid", path, value if isinstance(value, str) else "", "must not be empty"))
        return False
    if value[0] != ".":
        errs.append(FieldError("invalid", path, value, "must be a simple json path starting with ."))
        return False
    return True


def _validate_subresources(sub: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    scale = sub.get("scale")
    if not isinstance(scale, dict):
        return
    spec_path = scale.get("specReplicasPath")
    if not spec_path:
        errs.append(FieldError("required", f"{path}.scale.specReplicasPath"))
    elif _simple_json_path(spec_path, f"{path}.scale.specReplicasPath", errs) and not spec_path.startswith(".spec."):
        errs.append(FieldError("invalid", f"{path}.scale.specReplicasPath", spec_path, "should be a json path under .spec"))
    status_path = scale.get("statusReplicasPath")
    if not status_path:
        errs.append(FieldError("required", f"{path}.scale.statusReplicasPath"))
    elif _simple_json_path(status_path, f"{path}.scale.statusReplicasPath", errs) and not status_path.startswith(
        ".status."
    ):
        errs.append(FieldError("invalid", f"{path}.scale.statusReplicasPath", status_path, "should be a json path under .status"))
    sel = scale.get("labelSelectorPath")
    if sel and _simple_json_path(sel, f"{path}.scale.labelSelectorPath", errs) and not sel.startswith((".spec.", ".status.")):
        errs.append(
            FieldError("invalid", f"{path}.scale.labelSelectorPath", sel, "should be a json path under either .spec or .status")
        )


def _validate_columns(cols: list[Any], path: str, errs: list[FieldError]) -> None:
    for i, col in enumerate(cols):
        p = f"{path}[{i}]"
        if not isinstance(col, dict):
            errs.append(FieldError("invalid", p, col, "must be an object"))
            continue
        if not col.get("name"):
            errs.append(FieldError("required", f"{p}.name"))
        typ = col.get("type")
        types = ",".join(PRINTER_TYPES)
        if not typ:
            errs.append(FieldError("required", f"{p}.type", detail=f"must be one of {types}"))
        elif typ not in PRINTER_TYPES:
            errs.append(FieldError("invalid", f"{p}.type", typ, f"must be one of {types}"))
        fmt = col.get("format")
        if fmt and fmt not in PRINTER_FORMATS:
            errs.append(FieldError("invalid", f"{p}.format", fmt, f"must be one of {','.join(PRINTER_FORMATS)}"))
        jp = col.get("jsonPath")
        if not jp:
            errs.append(FieldError("required", f"{p}.JSONPath"))
        else:
            _simple_json_path(jp, f"{p}.JSONPath", errs)


class GoValueError(FieldError):
    """An Invalid error whose value prints verbatim (Go's %#v of a struct, which JSON cannot mimic)."""

    __slots__ = ()

    def message(self) -> str:
        return f"Invalid value: {self.value}: {self.detail}"


def _versions_value(versions: list[Any]) -> str:
    items = []
    for v in versions:
        if isinstance(v, dict):
            items.append(
                "apiextensions.CustomResourceDefinitionVersion{"
                f"Name:{orjson.dumps(str(v.get('name', ''))).decode()}, Served:{str(bool(v.get('served'))).lower()}, "
                f"Storage:{str(bool(v.get('storage'))).lower()}}}"
            )
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(items) + "}"


def _validate_versions(spec: dict[str, Any], errs: list[FieldError]) -> None:
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(FieldError("required", "spec.versions", detail="must have exactly one version marked as storage version"))
        return
    storage = 0
    seen: set[str] = set()
    unique = True
    for i, v in enumerate(versions):
        p = f"spec.versions[{i}]"
        if not isinstance(v, dict):
            errs.append(FieldError("invalid", p, v, "must be an object"))
            continue
        if v.get("storage"):
            storage += 1
        name = v.get("name")
        if not isinstance(name, str) or not name:
            errs.append(FieldError("required", f"{p}.name"))
        else:
            if name in seen:
                unique = False
            seen.add(name)
            msgs = is_dns1035_label(name)
            if msgs:
                errs.append(FieldError("invalid", f"{p}.name", name, ",".join(msgs)))
        schema = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), dict) else None
        if not isinstance(schema, dict):
            errs.append(FieldError("required", f"{p}.schema.openAPIV3Schema", detail="schemas are required"))
        else:
            errs.extend(validate_schema(schema, f"{p}.schema.openAPIV3Schema"))
        sub = v.get("subresources")
        if isinstance(sub, dict):
            _validate_subresources(sub, f"{p}.subresources", errs)
        cols = v.get("additionalPrinterColumns")
        if isinstance(cols, list):
            _validate_columns(cols, f"{p}.additionalPrinterColumns", errs)
    if not unique:
        errs.append(GoValueError("invalid", "spec.versions", _versions_value(versions), "must contain unique version names"))
    if storage != 1:
        errs.append(
            GoValueError("invalid", "spec.versions", _versions_value(versions), "must have exactly one version marked as storage version")
        )


def _validate_conversion(spec: dict[str, Any], errs: list[FieldError]) -> None:
    conv = spec.get("conversion")
    if not isinstance(conv, dict):
        return
    strategy = conv.get("strategy")
    if strategy not in ("None", "Webhook"):
        errs.append(FieldError("notsupported", "spec.conversion.strategy", strategy, 'supported values: "None", "Webhook"'))
    elif strategy == "Webhook" and not conv.get("webhook"):
        errs.append(FieldError("required", "spec.conversion.webhook", detail="required when strategy is set to Webhook"))
    elif strategy == "None" and conv.get("webhook"):
        errs.append(FieldError("forbidden", "spec.conversion.webhook", detail="should not be set when strategy is not set to Webhook"))


def validate_crd(crd: dict[str, Any]) -> list[FieldError]:
    """Every problem with a (defaulted) CRD, as upstream's ValidateCustomResourceDefinition reports them."""
    errs: list[FieldError] = []
    meta = crd.get("metadata") or {}
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [FieldError("required", "spec")]
    names: dict[str, Any] = spec["names"] if isinstance(spec.get("names"), dict) else {}
    group = spec.get("group")
    name = meta.get("name")
    if isinstance(name, str) and name and name != f"{names.get('plural', '')}.{group or ''}":
        errs.append(FieldError("invalid", "metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(FieldError("required", "spec.group"))
    elif not isinstance(group, str) or is_dns1123_subdomain(group):
        errs.append(FieldError("invalid", "spec.group", group, ",".join(is_dns1123_subdomain(str(group)))))
    elif len(group.split(".")) < 2:
        errs.append(FieldError("invalid", "spec.group", group, "should be a domain with at least one dot"))
    elif group.endswith((".k8s.io", ".kubernetes.io")) or group in ("k8s.io", "kubernetes.io"):
        if APPROVAL_ANNOTATION not in (meta.get("annotations") or {}):
            errs.append(
                FieldError(
                    "required",
                    f"metadata.annotations[{APPROVAL_ANNOTATION}]",
                    detail=f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
                    "https://github.com/kubernetes/enhancements/pull/1111",
                )
            )
    scope = spec.get("scope")
    if not scope:
        errs.append(FieldError("required", "spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(FieldError("notsupported", "spec.scope", scope, 'supported values: "Cluster", "Namespaced"'))
    _validate_versions(spec, errs)
    if not isinstance(spec.get("names"), dict):
        errs.append(FieldError("required", "spec.names.plural"))
    else:
        _validate_names(names, "spec.names", errs)
    _validate_conversion(spec, errs)
    if spec.get("preserveUnknownFields") is True:
        errs.append(
            FieldError(
                "invalid",
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
            )
        )
    return errs


def _established(crd: dict[str, Any]) -> bool:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Established" and c.get("status") == "True":
            return True
    return False


def validate_crd_update(crd: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Update rules on top of validate_crd: immutable scope once established, stored versions kept."""
    errs = validate_crd(crd)
    spec, old_spec = crd.get("spec") or {}, old.get("spec") or {}
    if _established(old) and spec.get("scope") != old_spec.get("scope"):
        errs.append(FieldError("invalid", "spec.scope", spec.get("scope"), "field is immutable"))
    errs.extend(validate_stored_versions(crd))
    return errs


def validate_stored_versions(crd: dict[str, Any]) -> list[FieldError]:
    stored = (crd.get("status") or {}).get("storedVersions") or []
    versions = [v for v in (crd.get("spec") or {}).get("versions") or [] if isinstance(v, dict)]
    if not stored:
        return [FieldError("invalid", "status.storedVersions", "[]", "must have at least one stored version")]
    errs: list[FieldError] = []
    names = {v.get("name") for v in versions}
    for v in versions:
        if v.get("storage") and v.get("name") not in stored:
            errs.append(FieldError("invalid", "status.storedVersions", v.get("name"), f"must have the storage version {v.get('name')}"))
    for i, s in enumerate(stored):
        if s not in names:
            errs.append(FieldError("invalid", f"status.storedVersions[{i}]", s, "must appear in spec.versions"))
    return errs


def record_stored_version(crd: dict[str, Any]) -> None:
    """Keep status.storedVersions listing every version ever used for storage (upstream's strategy does this)."""
    sv = storage_version(crd)
    if sv is None:
        return
    status = crd.get("status")
    if not isinstance(status, dict):
        status = {}
        crd["status"] = status
    stored = status.get("storedVersions")
    if not isinstance(stored, list):
        stored = []
    if sv not in stored:
        stored = [*stored, sv]
    status["storedVersions"] = stored
