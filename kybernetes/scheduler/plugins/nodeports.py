"""NodePorts: a pod's hostPorts must be free on the node (upstream plugins/nodeports)."""

from __future__ import annotations

from kybernetes.scheduler.framework import SKIP, CycleState, FilterPlugin, Status, unschedulable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts(FilterPlugin):
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[Status | None, set[str] | None]:
        return (None if pod.host_ports else SKIP), None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.port_conflict(pod.host_ports):
            return unschedulable(self.name, REASON)
        return None
