"""NodeAffinity: nodeSelector and required node affinity filter; preferred terms score.

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants (``plugins/nodeaffinity``): the filter needs nodeSelector AND one of the
required terms; PreFilter narrows the node set when every required term names nodes
with ``metadata.name In``; the score is the sum of the weights of matching preferred
terms, normalized by the maximum (DefaultNormalizeScore).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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


_UNSEEN: Any = object()


def _label_keys(node_selector: Mapping[str, str], required: Any) -> tuple[str, ...] | None:
    """The node label keys a pod's nodeSelector and required terms read; None when a term
    also reads the node's name (``matchFields``) or is not a plain label selector."""
    keys = set(node_selector)
    for term in (required.terms if required is not None else ()):
        if term.fields is not None or (term.labels is not None
                                       and not hasattr(term.labels, "requirements")):
            return None
        if term.labels is not None:
            keys.update(r.key for r in term.labels.requirements)
    return tuple(sorted(keys))


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

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        """``filter`` per node. Without ``matchFields`` the verdict depends only on the
        values of the label keys the pod names, so it is computed once per distinct tuple
        of those values (nodes of a zone share one)."""
        sel, req = pod.node_selector, pod.required_node_affinity
        rejected = Status.unresolvable(ERR_REASON_POD)
        keys = _label_keys(sel, req)
        if keys is None:
            return [None if required_node_affinity_matches(sel, req, n.labels, n.name)
                    else rejected for n in nodes]
        seen: dict[Any, Status | None] = {}
        out: list[Status | None] = []
        only = keys[0] if len(keys) == 1 else None
        for n in nodes:
            labels = n.labels
            values = labels.get(only) if only is not None else tuple([labels.get(k) for k in keys])
            verdict = seen.get(values, _UNSEEN)
            if verdict is _UNSEEN:
                verdict = None if required_node_affinity_matches(
                    sel, req, labels, n.name) else rejected
                seen[values] = verdict
            out.append(verdict)  # type: ignore[arg-type]
        return out

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
