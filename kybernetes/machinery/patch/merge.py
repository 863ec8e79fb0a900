"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Why: ``application/merge-patch+json`` and ``application/json-patch+json`` are schema-free, so they need
no navigator; they live together because the API server handles both the same way: apply to the
object's JSON, then decode and validate the result.  JSON patch is delegated to the ``jsonpatch``
library; its exceptions are turned into :class:`JSONPatchError` with upstream's status codes
(400 for an undecodable patch, 422 for an operation that does not apply, 413 for too many operations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonpatch

from .errors import JSONPatchError, MergePatchError
from .jsonvalue import deep_copy

MAX_JSON_PATCH_OPERATIONS = 10000


def apply_merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces.

    Neither argument is modified; the result shares no mutable data with them.
    """
    if not isinstance(patch, dict):
        return deep_copy(patch)
    target = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = apply_merge_patch(target.get(key), value)
    for key, value in target.items():
        if key not in patch:
            target[key] = deep_copy(value)
    return target


def apply_merge_patch_object(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """A merge patch whose result must be an object (what the API server needs)."""
    if not isinstance(patch, dict):
        raise MergePatchError("merge patch must be a JSON object")
    result = apply_merge_patch(original, patch)
    assert isinstance(result, dict)
    return result


def apply_json_patch(original: Any, patch: Any) -> Any:
    """RFC 6902 operations applied in order to a copy of ``original``."""
    if not isinstance(patch, Sequence) or isinstance(patch, str | bytes):
        raise JSONPatchError("json patch must be a list of operations", status=400, reason="BadRequest")
    if len(patch) > MAX_JSON_PATCH_OPERATIONS:
        raise JSONPatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(patch)}",
            status=413,
            reason="RequestEntityTooLarge",
        )
    for i, op in enumerate(patch):
        if not isinstance(op, dict):
            raise JSONPatchError(f"operation {i} is not an object", status=400, reason="BadRequest")
    try:
        compiled = jsonpatch.JsonPatch(list(patch))
    except jsonpatch.InvalidJsonPatch as exc:
        raise JSONPatchError(str(exc), status=400, reason="BadRequest") from None
    except jsonpatch.JsonPointerException as exc:  # a malformed path only fails when applied upstream
        raise JSONPatchError(f"the patch operation does not apply: {exc}") from None
    try:
        return compiled.apply(deep_copy(original), in_place=True)
    except jsonpatch.InvalidJsonPatch as exc:
        raise JSONPatchError(str(exc), status=400, reason="BadRequest") from None
    except jsonpatch.JsonPatchTestFailed as exc:
        raise JSONPatchError(f"testing value failed: {exc}") from None
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
        raise JSONPatchError(f"the patch operation does not apply: {exc}") from None
