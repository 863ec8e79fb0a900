"""Kubernetes `Status` errors.

Every failure the API server reports travels as a metav1.Status with the upstream code and reason, because kubectl
and the client libraries branch on them (NotFound, AlreadyExists, Conflict, Invalid, Expired...). Raising one of
these anywhere below the HTTP layer is the one way to fail a request.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """A request failure carrying the metav1.Status to send."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(resource: str, group: str, name: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = resource
    return d


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified(resource, group)} "{name}" not found', _details(resource, group, name)
    )


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified(resource, group)} "{name}" already exists',
        _details(resource, group, name),
    )


def conflict(resource: str, group: str, name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(resource, group, name),
    )


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_supported(resource: str, group: str, verb: str) -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        f"{verb} is not supported on resources of kind {qualified(resource, group)!r}",
        {"group": group, "kind": resource} if group else {"kind": resource},
    )


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got "{content_type}")')


def not_acceptable(accept: str) -> StatusError:
    return StatusError(406, "NotAcceptable", f'only the following media types are accepted: application/json, application/yaml (asked for "{accept}")')


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def forbidden(message: str, details: dict[str, Any] | None = None) -> StatusError:
    return StatusError(403, "Forbidden", message, details)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


class FieldError:
    """One cause of a 422 Invalid: a field path, a reason and the message upstream would print."""

    __slots__ = ("detail", "field", "type", "value")

    def __init__(self, type_: str, field: str, value: Any = None, detail: str = "") -> None:
        self.type = type_
        self.field = field
        self.value = value
        self.detail = detail

    @property
    def reason(self) -> str:
        return {
            "required": "FieldValueRequired",
            "invalid": "FieldValueInvalid",
            "forbidden": "FieldValueForbidden",
            "duplicate": "FieldValueDuplicate",
            "notsupported": "FieldValueNotSupported",
            "toolong": "FieldValueTooLong",
            "toomany": "FieldValueTooMany",
            "typeinvalid": "FieldValueTypeInvalid",
        }.get(self.type, "FieldValueInvalid")

    def message(self) -> str:
        from orjson import dumps

        if self.type == "required":
            body = "Required value"
        elif self.type == "forbidden":
            body = "Forbidden"
        elif self.type == "duplicate":
            body = f"Duplicate value: {_go_quote(self.value)}"
        elif self.type == "notsupported":
            body = f"Unsupported value: {_go_quote(self.value)}"
        elif self.type == "toolong":
            body = "Too long"
        elif self.type == "toomany":
            body = "Too many"
        elif self.type == "typeinvalid":
            body = f"Invalid value: {_go_quote(self.value)}"
        else:
            val = self.value
            body = "Invalid value: " + (
                _go_quote(val) if isinstance(val, str | int | float | bool) or val is None else dumps(val).decode()
            )
        if self.detail:
            return f"{body}: {self.detail}"
        return body

    def __str__(self) -> str:
        return f"{self.field}: {self.message()}"


def _go_quote(v: Any) -> str:
    if isinstance(v, str):
        import json

        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return str(v)


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid with field causes, the shape kubectl prints as `The X "n" is invalid: * field: msg`."""
    gk = f"{kind}.{group}" if group else kind
    if len(errors) == 1:
        summary = str(errors[0])
    else:
        summary = "[" + ", ".join(str(e) for e in errors) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    details["causes"] = [{"reason": e.reason, "message": e.message(), "field": e.field} for e in errors]
    return StatusError(422, "Invalid", f'{gk} "{name}" is invalid: {summary}', details)
