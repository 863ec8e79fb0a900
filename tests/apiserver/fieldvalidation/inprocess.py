"""An API server in the test's own event loop, spoken to over real HTTP (plain, bearer tokens).

Why: the features under test (field validation, defaults, reviews) live behind the HTTP layer (query
parameters, raw bodies, Warning headers), so they are driven through aiohttp's test client rather than
by calling internals; it is much faster than starting `kyb server` and still goes through dispatch.
Shared by the fieldvalidation, defaults and reviews tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from kybernetes.apiserver import features
from kybernetes.apiserver.auth import Authenticator
from kybernetes.apiserver.bootstrap import bootstrap
from kybernetes.apiserver.server import APIServer
from kybernetes.storage import open_backend


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any

    @property
    def warnings(self) -> list[str]:
        return list(self.headers.getall("Warning", []))


@dataclass
class InProcess:
    api: APIServer
    client: TestClient[Any, Any]
    token: str

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        h = {"Authorization": f"Bearer {token or self.token}"}
        if raw is None and body is not None:
            raw = orjson.dumps(body)
        if raw is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        resp = await self.client.request(method, path, data=raw, headers=h)
        data = await resp.read()
        try:
            parsed: Any = orjson.loads(data) if data else None
        except orjson.JSONDecodeError:
            parsed = data
        return Reply(resp.status, resp.headers, parsed)

    def user_token(self, name: str, groups: list[str]) -> str:
        return self.api.authn.add_token(name, groups)


@contextlib.asynccontextmanager
async def in_process_api(data_dir: Path, **api_options: Any) -> AsyncIterator[InProcess]:
    backend = open_backend("sqlite", data_dir=str(data_dir))
    await backend.start()
    api = APIServer(backend, authenticator=Authenticator(), **api_options)
    api.data_dir = data_dir
    features.install(api)
    await api.start()
    await bootstrap(api, service_cidr="10.43.0.0/16", advertise_address="127.0.0.1", port=6443)
    token = api.authn.add_token("test-admin", ["system:masters"])
    client: TestClient[Any, Any] = TestClient(TestServer(api.build_app()))
    await client.start_server()
    try:
        yield InProcess(api, client, token)
    finally:
        await client.close()
        await api.stop()
        await backend.close()
