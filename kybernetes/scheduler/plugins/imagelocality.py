"""ImageLocality: prefer nodes that already have the pod's images (upstream plugins/imagelocality).

Each image present on the node contributes its size scaled by the fraction of nodes that have it (so an image
everywhere gives no advantage); the sum is clamped to [23 MB, 1000 MB x containers] and mapped to 0-100.
Skipped when no node reports images (hollow nodes, fresh clusters): every node would score the same.
"""

from __future__ import annotations

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, ScorePlugin, Status
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


class ImageLocality(ScorePlugin):
    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if self.handle.cache.image_nodes == 0 or not pod.images:
            return SKIP
        images = [normalized_image_name(i) for i in pod.images]
        total = len(self.handle.cache.node_list())
        spread = {i: sum(1 for n in self.handle.cache.node_list() if i in n.images) for i in set(images)}
        state.data[self.name] = (images, spread, total)
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        images, spread, total = state.data[self.name]
        max_threshold = MAX_CONTAINER_THRESHOLD * len(images)
        out: list[int] = []
        for n in nodes:
            s = 0
            for i in images:
                size = n.images.get(i)
                if size is not None and total:
                    s += int(size * (spread[i] / total))
            s = min(max(s, MIN_THRESHOLD), max_threshold)
            out.append(MAX_NODE_SCORE * (s - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD))
        return out
