"""NodeAffinity: nodeSelector and required node affinity filter; preferred terms score.

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants (``plugins/nodeaffinity``): the filter needs nodeSelector AND one of the
required terms; PreFilter narrows the node set when every required term names nodes
with ``metadata.name In``; the score is the sum of the weights of matching preferred
terms, normalized by the maximum (DefaultNormalizeScore).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import (
    ActionType,
    ClusterEvent,
    CycleState,
    PreFilterResult,
    Status,
)
from actors.scheduler._plugins.helper import (
    default_normalize_score,
    required_node_affinity_matches,
)

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"


class NodeAffinity:
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot
                   ) -> tuple[PreFilterResult | None, Status | None]:
        required = pod.required_node_affinity
        if required is None and not pod.node_selector:
            return None, Status.skip()
        if required is None or not required.terms:
            return None, None
        names: frozenset[str] = frozenset()
        for term_names in required.metadata_name_sets():
            if term_names is None:
                return None, None  # a term without node names: any node may match
            names |= term_names
        if not names:
            return None, Status.unresolvable(ERR_REASON_CONFLICT)
        return PreFilterResult(names), None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if required_node_affinity_matches(pod.node_selector, pod.required_node_affinity,
                                          node.labels, node.name):
            return None
        return Status.unresolvable(ERR_REASON_POD)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        return None if pod.preferred_node_affinity else Status.skip()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(t.weight for t in pod.preferred_node_affinity
                   if t.term.matches(node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: Sequence[int]) -> list[int]:
        return default_normalize_score(scores, reverse=False)

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL),)
