"""NodeResourcesBalancedAllocation: favour nodes whose cpu and memory use stay even.

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants (``plugins/noderesources/balanced_allocation.go``): with the node's requested
plus the pod's actual requests (no non-zero defaults), each resource's fraction is capped
at 1; the score is int((1 - std) * 100) where std is |f1 - f2| / 2 for two resources and
the population standard deviation for more. A pod requesting nothing (best effort) skips
this plugin (kubernetes#129138).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import CycleState, Status
from actors.scheduler._plugins.helper import MAX_NODE_SCORE
from actors.scheduler._plugins.noderesources_fit import (
    DEFAULT_RESOURCES,
    pod_request_list,
    resource_allocation_score,
)

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

_PRE_SCORE_KEY = "PreScoreNodeResourcesBalancedAllocation"


def balanced_resource_scorer(requested: list[int], allocatable: list[int]) -> int:
    fractions = []
    for req, alloc in zip(requested, allocatable):
        if alloc == 0:
            continue
        fractions.append(min(float(req) / float(alloc), 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * float(MAX_NODE_SCORE))


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, resources: Sequence[tuple[str, int]] = DEFAULT_RESOURCES) -> None:
        self.resources = tuple(resources)
        self._cpu_mem = sorted(name for name, _ in self.resources) == ["cpu", "memory"]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        reqs = pod_request_list(pod, self.resources, use_requested=True)
        if not any(reqs):
            return Status.skip()
        state.write(_PRE_SCORE_KEY, reqs)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = pod_request_list(pod, self.resources, use_requested=True)
            if not any(reqs):
                return 0
        return resource_allocation_score(node, reqs, self.resources,
                                         balanced_resource_scorer, use_requested=True)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        """``score`` per node; the two-resource (cpu, memory) case inlined."""
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None or not self._cpu_mem:
            return [self.score(state, pod, n) for n in nodes]
        want = dict(zip((name for name, _ in self.resources), reqs))
        pc, pm = want["cpu"], want["memory"]
        top = float(MAX_NODE_SCORE)
        out = []
        for n in nodes:
            a = n.allocatable
            ac, am = a.milli_cpu, a.memory
            if not (ac and am):
                out.append(int(top))  # one fraction or none: no deviation
                continue
            fc = float(n.req_cpu + pc) / float(ac)
            fm = float(n.req_memory + pm) / float(am)
            out.append(int((1 - abs(((fc if fc < 1.0 else 1.0)
                                     - (fm if fm < 1.0 else 1.0)) / 2)) * top))
        return out
