"""TaintToleration: NoSchedule/NoExecute taints filter, PreferNoSchedule taints score.

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants (``plugins/tainttoleration``): the Filter reports the first untolerated
NoSchedule/NoExecute taint in the node's order; the Score counts PreferNoSchedule taints
not tolerated by the pod's tolerations whose effect is empty or PreferNoSchedule, then is
normalized in reverse (fewest intolerable taints -> 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status
from actors.scheduler._plugins.helper import (
    DO_NOT_SCHEDULE_EFFECTS,
    EFFECT_PREFER_NO_SCHEDULE,
    default_normalize_score,
    find_untolerated_taint,
    tolerations_tolerate_taint,
)

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

_PRE_SCORE_KEY = "PreScoreTaintToleration"


class TaintToleration:
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taint = find_untolerated_taint(node.taints, pod.tolerations, DO_NOT_SCHEDULE_EFFECTS)
        if taint is None:
            return None
        return Status.unresolvable(f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}")

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        return [self.filter(state, pod, n) if n.taints else None for n in nodes]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        prefer = tuple(t for t in pod.tolerations
                       if t.effect in ("", EFFECT_PREFER_NO_SCHEDULE))
        state.write(_PRE_SCORE_KEY, prefer)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.get(_PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = tuple(t for t in pod.tolerations
                                if t.effect in ("", EFFECT_PREFER_NO_SCHEDULE))
        return sum(
            1 for taint in node.taints
            if taint.effect == EFFECT_PREFER_NO_SCHEDULE
            and not tolerations_tolerate_taint(tolerations, taint)
        )

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        return [self.score(state, pod, n) if n.taints else 0 for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: Sequence[int]) -> list[int]:
        return default_normalize_score(scores, reverse=True)

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                ClusterEvent("UnscheduledPod", ActionType.UPDATE_POD_TOLERATIONS))
