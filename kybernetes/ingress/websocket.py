"""WebSocket passthrough for the ingress: the handshake is redone towards the endpoint and messages are relayed.

The lean upstream client in `upstream.py` speaks plain request/response only; a WebSocket upgrade is rare enough per
connection that aiohttp's WebSocket client and server (which handle framing, ping/pong and close codes) are the
right tools here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiohttp import WSMsgType, web

from kybernetes.proxy.model import Endpoint

log = logging.getLogger(__name__)

SKIP = {"host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
        "sec-websocket-protocol", "content-length", "transfer-encoding"}


def is_websocket(request: web.BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket" and "upgrade" in request.headers.get("Connection", "").lower()


async def _pump(src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> None:
    async for msg in src:
        if msg.type == WSMsgType.TEXT:
            await dst.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        else:
            break
    await dst.close(code=src.close_code or 1000)


class WebSocketRelay:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def relay(self, request: web.BaseRequest, eps: list[Endpoint], extra: dict[str, str]) -> web.StreamResponse | None:
        """Relay one WebSocket to the first endpoint that accepts it; None if none could be reached."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP}
        headers.update(extra)
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        for ep in eps:
            try:
                up = await self.session.ws_connect(
                    f"http://{ep.ip}:{ep.port}{request.raw_path}", headers=headers, protocols=protocols,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                )
            except aiohttp.WSServerHandshakeError as e:
                return web.Response(status=e.status or 502, text=f"{e.status} websocket handshake refused\n")
            except (TimeoutError, aiohttp.ClientConnectionError) as e:
                log.debug("ingress websocket: endpoint %s:%d failed: %s", ep.ip, ep.port, e)
                continue
            ws = web.WebSocketResponse(protocols=[up.protocol] if up.protocol else ())
            try:
                await ws.prepare(request)
                tasks = [asyncio.ensure_future(_pump(ws, up)), asyncio.ensure_future(_pump(up, ws))]
                _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in pending:
                    t.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
            finally:
                await up.close()
                await ws.close()
            return ws
        return None
