"""DefaultBinder: POST pods/{name}/binding, the only way the scheduler writes a placement."""

from __future__ import annotations

from kybernetes.client.rest import ApiError, resource_path
from kybernetes.scheduler.framework import Code, CycleState, Plugin, Status
from kybernetes.scheduler.podinfo import PodInfo


class DefaultBinder(Plugin):
    name = "DefaultBinder"

    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        path = resource_path("", "v1", "pods", pod.namespace, pod.name, "binding")
        try:
            await self.handle.client.create(path, body)
        except ApiError as e:
            return Status(Code.ERROR, (f"binding rejected: {e}",), self.name)
        return None
