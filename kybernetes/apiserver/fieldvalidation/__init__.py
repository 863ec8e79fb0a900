"""Server-side field validation (`?fieldValidation=Strict|Warn|Ignore`) for the built-in kinds.

Upstream decodes every write body strictly: unknown and duplicate fields become a 400/422 under Strict, `Warning`
headers under Warn (the default when the client does not say) and nothing under Ignore; in every mode the unknown
fields are dropped, because a Go struct has nowhere to keep them. `install` connects that to the API server's
`field_validation_impl` hook; custom resources are left to the hook that was installed before (the CRD feature).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api.resources import ResourceInfo
from kybernetes.apiserver.fieldvalidation.validator import FieldValidator
from kybernetes.apiserver.server import APIServer

__all__ = ["FieldValidator", "install"]


def install(api: APIServer) -> None:
    """Make `api` validate and prune built-in write bodies; earlier hooks keep handling custom resources."""
    previous = api.field_validation_impl
    validator = FieldValidator()

    def field_validation(request: web.Request, info: ResourceInfo, obj: dict[str, Any], mode: str) -> None:
        if info.custom:
            if previous is not None:
                previous(request, info, obj, mode)
            return
        validator.validate(request, info, obj, mode)

    api.field_validation_impl = field_validation
