"""Patch engines of the API server.

Why one package: every write path ends here.  ``merge`` (RFC 7386 merge patch, RFC 6902 JSON patch),
``strategic`` (strategic merge patch as kubectl sends it) and ``apply`` (server-side apply and the
``managedFields`` bookkeeping every write needs) share one schema navigator (``schema``) built from the
upstream OpenAPI documents, and one set of exceptions (``errors``) that carry upstream's HTTP status.
"""

from .apply import apply, build_last_applied, update_managed_fields
from .errors import (
    ApplyConflict,
    ApplyError,
    ConflictCause,
    JSONPatchError,
    MergePatchError,
    PatchError,
    SMPUnsupportedError,
    StrategicMergePatchError,
)
from .fieldpath import FieldSet, PathElement, make_path, path_string
from .merge import apply_json_patch, apply_merge_patch, apply_merge_patch_object
from .schema import Navigator, Node, builtin_navigator, builtin_root, structural_root, zero_value
from .strategic import apply_strategic_merge_patch

__all__ = [
    "ApplyConflict",
    "ApplyError",
    "ConflictCause",
    "FieldSet",
    "JSONPatchError",
    "MergePatchError",
    "Navigator",
    "Node",
    "PatchError",
    "PathElement",
    "SMPUnsupportedError",
    "StrategicMergePatchError",
    "apply",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_merge_patch_object",
    "apply_strategic_merge_patch",
    "build_last_applied",
    "builtin_navigator",
    "builtin_root",
    "make_path",
    "path_string",
    "structural_root",
    "update_managed_fields",
    "zero_value",
]
