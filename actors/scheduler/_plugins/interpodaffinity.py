"""InterPodAffinity: required pod (anti-)affinity filters; preferred terms score.

Concurrency model: none; per-cycle data lives in the CycleState (the PreFilter state is
cloned and updated incrementally during preemption dry runs).

Invariants (``plugins/interpodaffinity``):
- Counts are keyed by (topologyKey, value) of the node an existing pod runs on.
- Filter, in this order: every required affinity term needs its topology key on the node
  and a matching pod in that domain, except the first pod of a group that matches its own
  terms while nothing else does ("node(s) didn't match pod affinity rules",
  unresolvable); no pod in the node's domain may match a required anti-affinity term of
  the pod ("... pod anti-affinity rules"); and the pod must not match a required
  anti-affinity term of a pod in any domain of the node ("node(s) didn't satisfy existing
  pods anti-affinity rules").
- Score: preferred terms of the pod (+/- weight per matching existing pod), required
  affinity terms of existing pods matching the pod (+hardPodAffinityWeight, default 1)
  and their preferred terms (+/- weight), summed per domain; normalized by min-max.
- A namespaceSelector is evaluated against the labels in ``Snapshot.namespace_labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status
from actors.scheduler._plugins.helper import MAX_NODE_SCORE, AffinityTerm

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilterInterPodAffinity"
_PRE_SCORE_KEY = "PreScoreInterPodAffinity"

Counts = dict[tuple[str, str], int]


def _update(m: Counts, node: NodeInfo, key: str, value: int) -> None:
    tv = node.labels.get(key)
    if tv is None:
        return
    pair = (key, tv)
    n = m.get(pair, 0) + value
    if n == 0:
        m.pop(pair, None)
    else:
        m[pair] = n


def _matches_all(terms: Sequence[AffinityTerm], pod: PodInfo, snapshot: Snapshot) -> bool:
    if not terms:
        return False
    ns_labels = snapshot.namespace_labels.get(pod.namespace)
    return all(t.matches(pod.namespace, pod.labels, ns_labels) for t in terms)


class _PreFilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.existing_anti_affinity: Counts = {}
        self.affinity: Counts = {}
        self.anti_affinity: Counts = {}

    def clone(self) -> _PreFilterState:
        c = _PreFilterState(self.snapshot)
        c.existing_anti_affinity = dict(self.existing_anti_affinity)
        c.affinity = dict(self.affinity)
        c.anti_affinity = dict(self.anti_affinity)
        return c


class InterPodAffinity:
    name = "InterPodAffinity"

    def __init__(self, hard_pod_affinity_weight: int = 1) -> None:
        self.hard_pod_affinity_weight = hard_pod_affinity_weight

    # -- filtering ------------------------------------------------------------------------

    def _account(self, s: _PreFilterState, pod: PodInfo, other: PodInfo, node: NodeInfo,
                 snapshot: Snapshot, delta: int) -> None:
        """``updateWithPod``: fold one existing pod on ``node`` into the counts."""
        pod_ns = snapshot.namespace_labels.get(pod.namespace)
        for t in other.required_anti_affinity_terms:
            if t.matches(pod.namespace, pod.labels, pod_ns):
                _update(s.existing_anti_affinity, node, t.topology_key, delta)
        if _matches_all(pod.required_affinity_terms, other, snapshot):
            for t in pod.required_affinity_terms:
                _update(s.affinity, node, t.topology_key, delta)
        other_ns = snapshot.namespace_labels.get(other.namespace)
        for t in pod.required_anti_affinity_terms:
            if t.matches(other.namespace, other.labels, other_ns):
                _update(s.anti_affinity, node, t.topology_key, delta)

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot
                   ) -> tuple[None, Status | None]:
        s = _PreFilterState(snapshot)
        pod_ns = snapshot.namespace_labels.get(pod.namespace)
        # Pods of one template share their (interned) terms: match each term once.
        verdicts: dict[int, bool] = {}
        for node in snapshot.have_pods_with_required_anti_affinity:
            for other in node.pods_with_required_anti_affinity:
                for t in other.required_anti_affinity_terms:
                    hit = verdicts.get(id(t))
                    if hit is None:
                        hit = verdicts[id(t)] = t.matches(pod.namespace, pod.labels, pod_ns)
                    if hit:
                        _update(s.existing_anti_affinity, node, t.topology_key, 1)
        terms, anti = pod.required_affinity_terms, pod.required_anti_affinity_terms
        if terms or anti:
            ns_labels = snapshot.namespace_labels
            need_ns = any(t.namespace_selector is not None for t in anti)
            for node in snapshot.node_info_list:
                for other in node.pods:
                    if terms and _matches_all(terms, other, snapshot):
                        for t in terms:
                            _update(s.affinity, node, t.topology_key, 1)
                    other_ns = ns_labels.get(other.namespace) if need_ns else None
                    for t in anti:
                        if t.matches(other.namespace, other.labels, other_ns):
                            _update(s.anti_affinity, node, t.topology_key, 1)
        if not s.existing_anti_affinity and not terms and not anti:
            return None, Status.skip()
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        if not self._satisfies_affinity(s, pod, node, s.snapshot):
            return Status.unresolvable(ERR_REASON_AFFINITY)
        if s.anti_affinity:
            for t in pod.required_anti_affinity_terms:
                tv = node.labels.get(t.topology_key)
                if tv is not None and s.anti_affinity.get((t.topology_key, tv), 0) > 0:
                    return Status.unschedulable(ERR_REASON_ANTI_AFFINITY)
        if s.existing_anti_affinity:
            for pair in node.labels.items():
                if s.existing_anti_affinity.get(pair, 0) > 0:
                    return Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        """``filter`` per node; without required affinity terms only the two anti-affinity
        checks remain, inlined here with shared statuses."""
        if pod.required_affinity_terms:
            return [self.filter(state, pod, n) for n in nodes]
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        anti, existing = s.anti_affinity, s.existing_anti_affinity
        keys = [t.topology_key for t in pod.required_anti_affinity_terms] if anti else []
        own = Status.unschedulable(ERR_REASON_ANTI_AFFINITY)
        theirs = Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        out: list[Status | None] = []
        for n in nodes:
            labels = n.labels
            verdict = None
            for key in keys:
                tv = labels.get(key)
                if tv is not None and anti.get((key, tv), 0) > 0:
                    verdict = own
                    break
            if verdict is None and existing:
                for pair in labels.items():
                    if existing.get(pair, 0) > 0:
                        verdict = theirs
                        break
            out.append(verdict)
        return out

    @staticmethod
    def _satisfies_affinity(s: _PreFilterState, pod: PodInfo, node: NodeInfo,
                            snapshot: Snapshot) -> bool:
        pods_exist = True
        for t in pod.required_affinity_terms:
            tv = node.labels.get(t.topology_key)
            if tv is None:
                return False  # every topology key must be on the node
            if s.affinity.get((t.topology_key, tv), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a series with affinity to itself: allow it when no pod in the
        # cluster matches and it matches its own terms.
        return not s.affinity and _matches_all(pod.required_affinity_terms, pod, snapshot)

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo,
                snapshot: Snapshot) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None:
            self._account(s, pod, to_add, node, snapshot, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                   node: NodeInfo, snapshot: Snapshot) -> Status | None:
        s = state.get(_PRE_FILTER_KEY)
        if s is not None:
            self._account(s, pod, to_remove, node, snapshot, -1)
        return None

    # -- scoring --------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        if not nodes:
            return Status.skip()
        has_constraints = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        all_nodes = snapshot.node_info_list if has_constraints else snapshot.have_pods_with_affinity
        topology: dict[str, dict[str, int]] = {}
        for node in all_nodes:
            if not node.labels:
                continue
            for other in (node.pods if has_constraints else node.pods_with_affinity):
                if not has_constraints and not (
                        (other.required_affinity_terms and self.hard_pod_affinity_weight > 0)
                        or other.preferred_affinity_terms
                        or other.preferred_anti_affinity_terms):
                    continue  # e.g. only required anti-affinity: nothing to score
                self._process_existing(topology, pod, other, node, snapshot)
        if not topology:
            return Status.skip()
        state.write(_PRE_SCORE_KEY, topology)
        return None

    def _process_existing(self, topology: dict[str, dict[str, int]], pod: PodInfo,
                          other: PodInfo, node: NodeInfo, snapshot: Snapshot) -> None:
        def add(term: AffinityTerm, weight: int, target: PodInfo) -> None:
            ns_labels = snapshot.namespace_labels.get(target.namespace)
            if term.matches(target.namespace, target.labels, ns_labels):
                tv = node.labels.get(term.topology_key)
                if tv is not None:
                    values = topology.setdefault(term.topology_key, {})
                    values[tv] = values.get(tv, 0) + weight

        for wt in pod.preferred_affinity_terms:
            add(wt.term, wt.weight, other)
        for wt in pod.preferred_anti_affinity_terms:
            add(wt.term, -wt.weight, other)
        if self.hard_pod_affinity_weight > 0:
            for t in other.required_affinity_terms:
                add(t, self.hard_pod_affinity_weight, pod)
        for wt in other.preferred_affinity_terms:
            add(wt.term, wt.weight, pod)
        for wt in other.preferred_anti_affinity_terms:
            add(wt.term, -wt.weight, pod)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        topology: dict[str, dict[str, int]] = state.read(_PRE_SCORE_KEY)
        total = 0
        for key, values in topology.items():
            tv = node.labels.get(key)
            if tv is not None:
                total += values.get(tv, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: Sequence[int]) -> list[int]:
        if not scores:
            return []
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        if diff <= 0:
            return [0] * len(scores)
        return [int(float(MAX_NODE_SCORE) * (float(s - lo) / float(diff))) for s in scores]

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Pod", ActionType.ALL),
                ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_LABEL))
