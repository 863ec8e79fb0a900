"""Optional API features wired into the server at start: field managers and server-side apply, CRDs.

They live in their own modules so the core request path does not depend on them; `install` connects whatever is
present to the server's hooks.
"""

from __future__ import annotations

from kybernetes.apiserver.server import APIServer


def install(api: APIServer) -> None:
    """Connect optional features to `api`'s hooks."""
    return None
