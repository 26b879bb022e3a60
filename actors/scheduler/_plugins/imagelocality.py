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


class _PriorityBySize(dict[int, int]):
    """One image's score for a node holding it, by the node's image size (memoized)."""

    def __init__(self, spread: float) -> None:
        super().__init__()
        self.spread = spread

    def __missing__(self, size: int) -> int:
        prio = self[size] = calculate_priority(int(float(size) * self.spread), 1)
        return prio


class ImageLocality:
    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        state.write(_KEY, snapshot.num_nodes())
        return None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        """``score`` per node. How many nodes hold an image is cluster-wide, so each image's
        spread is read once per cycle; a node then costs a lookup of its own image sizes."""
        images = pod.images
        if not images:
            return [0] * len(nodes)
        total = state.read(_KEY)
        none_present = calculate_priority(0, len(images))
        if len(images) == 1:
            image = images[0]
            holder = next((n for n in nodes if image in n.image_sizes), None)
            st = holder.image_states.get(image) if holder is not None else None
            if st is None:
                return [none_present] * len(nodes) if holder is None else [
                    self.score(state, pod, n) for n in nodes]
            prio = _PriorityBySize(float(st.num_nodes) / float(total))
            return [none_present if (size := n.image_sizes.get(image)) is None else prio[size]
                    for n in nodes]
        spreads: dict[str, float] = {}
        by_sum: dict[int, int] = {}
        out = []
        for n in nodes:
            sizes = n.image_sizes
            if not sizes:
                out.append(none_present)
                continue
            total_score = 0
            for image in images:
                size = sizes.get(image)
                if size is None:
                    continue
                spread = spreads.get(image)
                if spread is None:
                    st = n.image_states.get(image)
                    if st is None:  # not counted cluster-wide (yet): as score() sees it
                        continue
                    spread = spreads[image] = float(st.num_nodes) / float(total)
                total_score += int(float(size) * spread)
            prio = by_sum.get(total_score)
            if prio is None:
                prio = by_sum[total_score] = calculate_priority(total_score, len(images))
            out.append(prio)
        return out

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
