"""Turning strict-decoding findings into upstream's answers: a 400, a 422, a 500 or `Warning` headers.

The wording depends on where upstream noticed the problem, and clients (kubectl's error printer, scripts grepping
for `strict decoding error`) depend on the wording:

- create/update bodies fail while decoding: 400 `Pod in version "v1" cannot be handled as a Pod: strict decoding
  error: unknown field "spec.foo"`;
- JSON/merge/strategic patches fail after patching: 422 Invalid on the field `patch`, whose value is the patched
  object (JSON and merge patch) or the patch map in Go's `%+v` form (strategic merge patch);
- server-side apply rejects undeclared fields while building the typed patch (500, whatever fieldValidation says)
  and repeated keys with yaml.v2's message;
- in Warn mode every finding becomes one warning with the same text.
"""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.machinery import errors
from kybernetes.machinery.errors import FieldError, StatusError


def strict_decoding_error(findings: list[str]) -> str:
    return "strict decoding error: " + ", ".join(findings)


def decode_error(kind: str, version: str, findings: list[str]) -> StatusError:
    """Create/update: what upstream's transformDecodeError makes of a strict decoding error."""
    return errors.bad_request(
        f'{kind} in version "{version}" cannot be handled as a {kind}: {strict_decoding_error(findings)}'
    )


def patch_error(findings: list[str], value: str) -> StatusError:
    """Patches: `field.Invalid(field.NewPath("patch"), value, <strict decoding error>)` on an unnamed object."""
    cause = FieldError("invalid", "patch", value, strict_decoding_error(findings))
    return StatusError(
        422,
        "Invalid",
        f' "" is invalid: {cause}',
        {"causes": [{"reason": cause.reason, "message": cause.message(), "field": cause.field}]},
    )


def apply_undeclared_error(gvknn: str, paths: list[str]) -> StatusError:
    """Server-side apply: structured-merge-diff's ValidationErrors from converting the applied object."""
    msgs = [f"{p}: field not declared in schema" for p in paths]
    text = msgs[0] if len(msgs) == 1 else "errors:\n  " + "\n  ".join(msgs)
    return StatusError(500, "", f"failed to create typed patch object ({gvknn}): {text}")


def yaml_duplicates_text(lines: list[str]) -> str:
    """sigs.k8s.io/yaml's wrapping of yaml.v2's strict unmarshal errors."""
    return "error converting YAML to JSON: yaml: unmarshal errors:\n  " + "\n  ".join(lines)


def apply_duplicates_error(lines: list[str]) -> StatusError:
    return errors.bad_request(f"error strict decoding YAML: {yaml_duplicates_text(lines)}")


def gvknn(obj: dict[str, Any], namespace: str, name: str) -> str:
    """Upstream's objectGVKNN: `namespace/name; group/version, Kind=kind`."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return f"{namespace}/{name}; {group}/{version}, Kind={obj.get('kind') or ''}"


def go_format(value: Any) -> str:
    """Go's `%+v` of a decoded JSON value (map[string]interface{}): `map[a:1 b:[x y]]`, keys sorted."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()
