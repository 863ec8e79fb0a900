"""The controller manager: starts every controller, each an API client of its own."""

from __future__ import annotations

from typing import Any

from kybernetes.client.rest import Client
from kybernetes.controllers.namespace import NamespaceController


class ControllerManager:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.controllers: list[Any] = [NamespaceController(client)]

    async def start(self) -> None:
        for c in self.controllers:
            await c.start()

    async def stop(self) -> None:
        for c in reversed(self.controllers):
            await c.stop()
        await self.client.close()
