"""Exceptions raised by the patch engines.

Why a module of its own: the API server turns these into ``metav1.Status`` responses, and it must do so
without knowing which engine failed.  Every class carries the HTTP ``status`` code and the ``reason`` that
upstream kube-apiserver answers with for the same failure, so the caller only copies them into the Status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class PatchError(Exception):
    """Base class: a patch could not be applied.

    ``status`` and ``reason`` are what upstream returns (e.g. 422 ``Invalid``, 400 ``BadRequest``).
    """

    status: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class MergePatchError(PatchError):
    """An RFC 7386 merge patch was not a JSON object where one was required."""

    status = 400
    reason = "BadRequest"


class JSONPatchError(PatchError):
    """An RFC 6902 JSON patch failed.

    Upstream answers 422 (``Invalid``) when an operation cannot be applied to the object (missing path,
    failed ``test``) and 400 (``BadRequest``) when the patch document itself is malformed.
    """

    status = 422
    reason = "Invalid"


class StrategicMergePatchError(PatchError):
    """A strategic merge patch could not be applied.

    Upstream maps the well-known malformed-directive errors to 400, a few content errors to 422 and
    passes every other error through as a 500; the subclasses/instances carry the matching code.
    """

    status = 500
    reason = "InternalError"


class SMPUnsupportedError(StrategicMergePatchError):
    """Strategic merge patch on a type without SMP metadata (custom resources): 415 like upstream."""

    status = 415
    reason = "UnsupportedMediaType"


class ApplyError(PatchError):
    """Server-side apply failed for a reason other than a field-manager conflict."""

    status = 500
    reason = "InternalError"


@dataclass(frozen=True)
class ConflictCause:
    """One ``metav1.StatusCause`` of an apply conflict."""

    manager: str
    field: str
    message: str
    reason: str = "FieldManagerConflict"

    def as_dict(self) -> dict[str, str]:
        """The cause in ``metav1.StatusCause`` JSON form."""
        return {"reason": self.reason, "message": self.message, "field": self.field}


class ApplyConflict(PatchError):
    """Server-side apply found fields owned by other managers with different values (HTTP 409).

    ``causes`` is ready for ``status.details.causes``; ``message`` is upstream's text
    (``Apply failed with 1 conflict: conflict with "mgr": .spec.replicas``).
    """

    status = 409
    reason = "Conflict"

    def __init__(self, message: str, causes: list[ConflictCause]) -> None:
        super().__init__(message)
        self.causes = causes

    def status_causes(self) -> list[dict[str, str]]:
        """All causes in ``metav1.StatusCause`` JSON form."""
        return [c.as_dict() for c in self.causes]


def bad_request(message: str) -> StrategicMergePatchError:
    """An SMP error upstream reports as 400 BadRequest."""
    return StrategicMergePatchError(message, status=400, reason="BadRequest")


def invalid(message: str) -> StrategicMergePatchError:
    """An SMP error upstream reports as 422 Invalid."""
    return StrategicMergePatchError(message, status=422, reason="Invalid")


def describe(value: Any) -> str:
    """A value as Go's ``%v`` prints decoded JSON (``map[image:nginx name:x]``), for error messages."""
    text = _go_format(value)
    return text if len(text) <= 400 else text[:397] + "..."


def _go_format(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    return str(value)
