"""An asyncio client for the Kubernetes REST API, used by every kybernetes component.

Components never call each other or touch storage: they list, watch and write through this client over HTTPS,
so the same code runs inside `kyb server` or on another machine. Errors come back as `ApiError` carrying the
server's Status.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.reason = str(body.get("reason", ""))
        super().__init__(f"{status} {self.reason}: {body.get('message', '')}")


def resource_path(
    group: str,
    version: str,
    resource: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    p = base
    if namespace:
        p += f"/namespaces/{namespace}"
    p += f"/{resource}"
    if name:
        p += f"/{name}"
        if subresource:
            p += f"/{subresource}"
    return p


class Client:
    def __init__(
        self,
        server: str,
        *,
        ca_pem: bytes | None = None,
        token: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        user_agent: str = "kybernetes",
        insecure: bool = False,
    ) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.user_agent = user_agent
        ctx: ssl.SSLContext | bool = False
        if self.server.startswith("https"):
            sctx = ssl.create_default_context()
            if ca_pem:
                sctx.load_verify_locations(cadata=ca_pem.decode())
            if insecure:
                sctx.check_hostname = False
                sctx.verify_mode = ssl.CERT_NONE
            if cert_file and key_file:
                sctx.load_cert_chain(cert_file, key_file)
            ctx = sctx
        self._ssl = ctx
        self._session: aiohttp.ClientSession | None = None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Accept": JSON, "User-Agent": self.user_agent}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if extra:
            h.update(extra)
        return h

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        data = None if body is None else orjson.dumps(body)
        headers = self._headers({"Content-Type": content_type} if data is not None else None)
        q = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in (params or {}).items() if v is not None}
        async with self.session.request(
            method, self.server + path, params=q, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            raw = await resp.read()
            try:
                parsed = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                parsed = {"message": raw.decode(errors="replace")}
            if resp.status >= 400:
                raise ApiError(resp.status, parsed if isinstance(parsed, dict) else {"message": str(parsed)})
            if not isinstance(parsed, dict):
                return {"items": parsed}
            return parsed

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, obj: dict[str, Any], **params: Any) -> dict[str, Any]:
        return await self.request("POST", path, params=params, body=obj)

    async def update(self, path: str, obj: dict[str, Any], **params: Any) -> dict[str, Any]:
        return await self.request("PUT", path, params=params, body=obj)

    async def patch(self, path: str, patch: Any, content_type: str = MERGE_PATCH, **params: Any) -> dict[str, Any]:
        return await self.request("PATCH", path, params=params, body=patch, content_type=content_type)

    async def delete(self, path: str, options: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        return await self.request("DELETE", path, params=params, body=options or {})

    async def watch(
        self, path: str, resource_version: str = "", *, timeout_seconds: int = 300, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield watch events ({"type", "object"}) until the server ends the stream."""
        q: dict[str, str] = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            q["resourceVersion"] = resource_version
        for k, v in params.items():
            if v is not None:
                q[k] = str(v)
        async with self.session.get(
            self.server + path,
            params=q,
            headers=self._headers(),
            timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30),
        ) as resp:
            if resp.status >= 400:
                raw = await resp.read()
                try:
                    parsed = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    parsed = {"message": raw.decode(errors="replace")}
                raise ApiError(resp.status, parsed)
            buf = b""
            async for chunk in resp.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield orjson.loads(line)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                async with self.session.get(self.server + "/readyz", headers=self._headers()) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if loop.time() > deadline:
                raise TimeoutError("API server not ready")
            await asyncio.sleep(0.1)
