"""The in-tree plugins, registered by name, and the default profile (upstream's default plugin set/weights).

The order of filters matters: a node's failure reason is the first failing filter's, exactly as upstream
(so a tainted control-plane node reports its taint even when it is also full).
"""

from __future__ import annotations

from kybernetes.scheduler.framework import Plugin
from kybernetes.scheduler.plugins.defaultbinder import DefaultBinder
from kybernetes.scheduler.plugins.defaultpreemption import DefaultPreemption
from kybernetes.scheduler.plugins.imagelocality import ImageLocality
from kybernetes.scheduler.plugins.interpodaffinity import InterPodAffinity
from kybernetes.scheduler.plugins.nodeaffinity import NodeAffinity
from kybernetes.scheduler.plugins.nodebasics import NodeName, NodeUnschedulable, TaintToleration
from kybernetes.scheduler.plugins.nodeports import NodePorts
from kybernetes.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from kybernetes.scheduler.plugins.podtopologyspread import PodTopologySpread

REGISTRY: dict[str, type[Plugin]] = {
    p.name: p
    for p in (
        NodeUnschedulable,
        NodeName,
        TaintToleration,
        NodeAffinity,
        NodePorts,
        NodeResourcesFit,
        PodTopologySpread,
        InterPodAffinity,
        DefaultPreemption,
        NodeResourcesBalancedAllocation,
        ImageLocality,
        DefaultBinder,
    )
}

DEFAULT_PLUGINS: list[str] = list(REGISTRY)

DEFAULT_WEIGHTS: dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesFit": 1,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}
