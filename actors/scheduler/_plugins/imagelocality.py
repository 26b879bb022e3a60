"""ImageLocality: favour nodes that already hold the pod's images (``plugins/imagelocality``).

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants: each present image scores its size scaled by the share of nodes holding it
(the "node heating" guard); the sum is clamped to [23MB, 1000MB x containers] and mapped
linearly onto [0, 100]. Init containers count, images are matched by their normalized name
(an untagged name means ``:latest``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import CycleState, Status
from actors.scheduler._plugins.helper import MAX_NODE_SCORE

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_KEY = "PreScoreImageLocality"


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def scaled_image_score(size: int, num_nodes: int, total_nodes: int) -> int:
    spread = float(num_nodes) / float(total_nodes)
    return int(float(size) * spread)


class ImageLocality:
    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        state.write(_KEY, snapshot.num_nodes())
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        if not pod.images:
            return [0] * len(nodes)
        none_present = calculate_priority(0, len(pod.images))
        return [self.score(state, pod, n) if n.image_states else none_present for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not pod.images:
            return 0
        total = state.read(_KEY)
        total_score = 0
        for image in pod.images:
            st = node.image_states.get(image)
            if st is not None:
                total_score += scaled_image_score(st.size, st.num_nodes, total)
        return calculate_priority(total_score, len(pod.images))
