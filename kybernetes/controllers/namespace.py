"""The namespace lifecycle controller: empties a Terminating namespace, then releases its finalizer.

When a namespace gets a deletionTimestamp, every namespaced resource in it is deleted through the API (using
discovery, so custom resources are included); once nothing is left, the `kubernetes` finalizer is removed through
the /finalize subresource and the API server deletes the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kybernetes.client.rest import ApiError, Client, resource_path

log = logging.getLogger(__name__)


class NamespaceController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._task: asyncio.Task[None] | None = None
        self._working: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="namespace-controller")

    async def stop(self) -> None:
        for t in [self._task, *self._tasks]:
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t

    async def _run(self) -> None:
        rv = ""
        while True:
            try:
                if not rv:
                    lst = await self.client.get("/api/v1/namespaces")
                    rv = lst["metadata"]["resourceVersion"]
                    for ns in lst.get("items", []):
                        self._consider(ns)
                async for ev in self.client.watch("/api/v1/namespaces", rv):
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        rv = ""
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if ev.get("type") in ("ADDED", "MODIFIED"):
                        self._consider(obj)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("namespace watch failed: %s", e)
                rv = ""
                await asyncio.sleep(1)

    def _consider(self, ns: dict[str, Any]) -> None:
        meta = ns.get("metadata") or {}
        name = meta.get("name", "")
        if not meta.get("deletionTimestamp") or name in self._working:
            return
        if "kubernetes" not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        self._working.add(name)
        t = asyncio.create_task(self._finalize(name))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _namespaced_resources(self) -> list[str]:
        paths: list[str] = []
        core = await self.client.get("/api/v1")
        for r in core.get("resources", []):
            if r.get("namespaced") and "/" not in r["name"] and "delete" in r.get("verbs", []) and "list" in r.get("verbs", []):
                paths.append(f"/api/v1/namespaces/{{ns}}/{r['name']}")
        groups = await self.client.get("/apis")
        for g in groups.get("groups", []):
            gv = g["preferredVersion"]["groupVersion"]
            try:
                rl = await self.client.get(f"/apis/{gv}")
            except ApiError:
                continue
            for r in rl.get("resources", []):
                if r.get("namespaced") and "/" not in r["name"] and "delete" in r.get("verbs", []) and "list" in r.get("verbs", []):
                    if gv == "events.k8s.io/v1":
                        continue
                    paths.append(f"/apis/{gv}/namespaces/{{ns}}/{r['name']}")
        return paths

    async def _finalize(self, name: str) -> None:
        try:
            delay = 0.05
            while True:
                remaining = 0
                for tmpl in await self._namespaced_resources():
                    path = tmpl.format(ns=name)
                    try:
                        lst = await self.client.get(path)
                    except ApiError:
                        continue
                    for item in lst.get("items", []):
                        remaining += 1
                        iname = item["metadata"]["name"]
                        if item["metadata"].get("deletionTimestamp"):
                            continue
                        with contextlib.suppress(ApiError):
                            await self.client.delete(f"{path}/{iname}", {"propagationPolicy": "Background"})
                if remaining == 0:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            try:
                ns = await self.client.get(resource_path("", "v1", "namespaces", name=name))
            except ApiError as e:
                if e.status == 404:
                    return
                raise
            fins = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
            ns.setdefault("spec", {})["finalizers"] = fins
            await self.client.update(resource_path("", "v1", "namespaces", name=name, subresource="finalize"), ns)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("finalizing namespace %s failed: %s", name, e)
        finally:
            self._working.discard(name)
