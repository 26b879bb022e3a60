"""PodTopologySpread: spread matching pods across topology domains.

Concurrency model: none; per-cycle data lives in the CycleState (the PreFilter state is
cloned and updated incrementally during preemption dry runs).

Invariants (``plugins/podtopologyspread``):
- Filter (DoNotSchedule): for each constraint, matching pods in the node's domain, plus 1
  if the pod matches itself, minus the global minimum must not exceed maxSkew. The global
  minimum is 0 while fewer than minDomains domains exist. Domains and counts come only from
  nodes holding every constraint's topology key and passing the node inclusion policies
  (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore by default); terminating pods and other
  namespaces do not count.
- Score (ScheduleAnyway): per constraint, count * log(domains + 2) + (maxSkew - 1), summed,
  rounded; normalized as 100 * (max + min - s) / max (fewest matches best).
- A pod without constraints gets the system defaults (hostname maxSkew 3, zone maxSkew 5,
  both ScheduleAnyway) with a selector built from the Services and the controller that
  select it; then nodes need not carry every topology key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status
from actors.scheduler._plugins.helper import (
    DO_NOT_SCHEDULE_EFFECTS,
    MAX_NODE_SCORE,
    SpreadConstraintSpec,
    find_untolerated_taint,
    label_matcher,
    required_node_affinity_matches,
)

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = (
    SpreadConstraintSpec(3, LABEL_HOSTNAME, "ScheduleAnyway", None),
    SpreadConstraintSpec(5, LABEL_ZONE, "ScheduleAnyway", None),
)
_PRE_FILTER_KEY = "PreFilterPodTopologySpread"
_PRE_SCORE_KEY = "PreScorePodTopologySpread"
_INT32_MAX = 2**31 - 1


class Constraint(msgspec.Struct, frozen=True):
    max_skew: int
    topology_key: str
    selector: Any
    min_domains: int
    node_affinity_policy: str
    node_taints_policy: str

    def includes_node(self, pod: PodInfo, node: NodeInfo) -> bool:
        """``matchNodeInclusionPolicies``."""
        if self.node_affinity_policy == "Honor" and not required_node_affinity_matches(
                pod.node_selector, pod.required_node_affinity, node.labels, node.name):
            return False
        return not (self.node_taints_policy == "Honor" and find_untolerated_taint(
            node.taints, pod.tolerations, DO_NOT_SCHEDULE_EFFECTS) is not None)


def _merged_selector(spec: SpreadConstraintSpec, pod_labels: Mapping[str, str]) -> Any:
    sel = spec.label_selector
    keys = [k for k in spec.match_label_keys if k in pod_labels]
    if keys:
        # matchLabelKeys: AND the pod's own values for those keys into the selector.
        sel = dict(sel or {})
        exprs = list(sel.get("matchExpressions") or ())
        exprs += [{"key": k, "operator": "In", "values": [pod_labels[k]]} for k in keys]
        sel["matchExpressions"] = exprs
    return label_matcher(sel)


def default_selector(pod: PodInfo, snapshot: Snapshot) -> dict[str, Any] | None:
    """``helper.DefaultSelector``: Services selecting the pod, and its controller."""
    match_labels: dict[str, str] = {}
    for svc in snapshot.services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        sel = spec.get("selector")
        if (meta.get("namespace") or "default") != pod.namespace or sel is None:
            continue  # a nil Service selector matches nothing
        if all(pod.labels.get(k) == v for k, v in sel.items()):
            match_labels.update(sel)
    exprs: list[dict[str, Any]] = []
    owner = pod.owner
    if owner is not None:
        sel = snapshot.controllers.get((owner.kind, pod.namespace, owner.name))
        if sel is not None and owner.kind == "ReplicationController":
            match_labels.update(sel)
        elif sel is not None and owner.kind in ("ReplicaSet", "StatefulSet"):
            exprs += [{"key": k, "operator": "In", "values": [v]}
                      for k, v in (sel.get("matchLabels") or {}).items()]
            exprs += list(sel.get("matchExpressions") or ())
    if not match_labels and not exprs:
        return None
    return {"matchLabels": match_labels, "matchExpressions": exprs}


def count_pods_match(node: NodeInfo, selector: Any, namespace: str) -> int:
    """``countPodsMatchSelector``: live pods of the namespace the selector matches."""
    return node.count_matching(selector, namespace)


def _has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


class _CriticalPaths:
    """The two domains with the fewest matches (``criticalPaths``): [0] is the minimum."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths = [["", _INT32_MAX], ["", _INT32_MAX]]

    def clone(self) -> _CriticalPaths:
        c = _CriticalPaths()
        c.paths = [list(self.paths[0]), list(self.paths[1])]
        return c

    def update(self, value: str, num: int) -> None:
        p = self.paths
        i = 0 if value == p[0][0] else 1 if value == p[1][0] else -1
        if i >= 0:
            p[i][1] = num
            if p[0][1] > p[1][1]:
                p[0], p[1] = p[1], p[0]
        elif num < p[0][1]:
            p[1] = p[0]
            p[0] = [value, num]
        elif num < p[1][1]:
            p[1] = [value, num]


class _PreFilterState:
    __slots__ = ("constraints", "counts", "paths")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.paths: list[_CriticalPaths] = [_CriticalPaths() for _ in constraints]

    def clone(self) -> _PreFilterState:
        c = _PreFilterState.__new__(_PreFilterState)
        c.constraints = self.constraints
        c.counts = [dict(m) for m in self.counts]
        c.paths = [p.clone() for p in self.paths]
        return c

    def min_match_num(self, i: int, min_domains: int) -> int:
        if len(self.counts[i]) < min_domains:
            return 0
        return self.paths[i].paths[0][1]


class _PreScoreState:
    __slots__ = ("constraints", "counts", "host_counts", "ignored", "weights")

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.ignored: set[str] = set()
        self.counts: list[dict[str, int]] = []
        # Per hostname constraint, matching pods per node (None: count on the node itself).
        self.host_counts: list[dict[str, int] | None] = []
        self.weights: list[float] = []


def _includes_every_node(c: Constraint, pod: PodInfo) -> bool:
    """``includes_node`` is true of every node: no node affinity to honour, no taints."""
    return c.node_taints_policy != "Honor" and (
        c.node_affinity_policy != "Honor"
        or (not pod.node_selector and pod.required_node_affinity is None))


def _round(x: float) -> int:
    r = math.floor(x)
    return int(r + 1 if x - r >= 0.5 else r)  # math.Round: half away from zero (x >= 0)


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, default_constraints: Sequence[SpreadConstraintSpec] | None = None
                 ) -> None:
        """``default_constraints=None`` means the system defaults (SystemDefaulting)."""
        self.system_defaulted = default_constraints is None
        self.default_constraints = tuple(
            SYSTEM_DEFAULT_CONSTRAINTS if default_constraints is None else default_constraints)

    def constraints(self, pod: PodInfo, action: str, snapshot: Snapshot) -> list[Constraint]:
        if pod.spread_constraints:
            return [self._constraint(c, _merged_selector(c, pod.labels))
                    for c in pod.spread_constraints if c.when_unsatisfiable == action]
        specs = [c for c in self.default_constraints if c.when_unsatisfiable == action]
        if not specs:
            return []
        sel = default_selector(pod, snapshot)
        if sel is None:
            return []
        matcher = label_matcher(sel)
        return [self._constraint(c, matcher) for c in specs]

    @staticmethod
    def _constraint(c: SpreadConstraintSpec, selector: Any) -> Constraint:
        return Constraint(c.max_skew, c.topology_key, selector, c.min_domains,
                          c.node_affinity_policy, c.node_taints_policy)

    # -- filtering ------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot
                   ) -> tuple[None, Status | None]:
        constraints = self.constraints(pod, "DoNotSchedule", snapshot)
        if not constraints:
            return None, Status.skip()
        s = _PreFilterState(constraints)
        for node in snapshot.node_info_list:
            if not _has_all_keys(node.labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes_node(pod, node):
                    continue
                value = node.labels[c.topology_key]
                n = count_pods_match(node, c.selector, pod.namespace)
                s.counts[i][value] = s.counts[i].get(value, 0) + n
        for i in range(len(constraints)):
            for value, num in s.counts[i].items():
                s.paths[i].update(value, num)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return Status.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.counts[i].get(value, 0) + self_match - s.min_match_num(i, c.min_domains)
            if skew > c.max_skew:
                return Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    def _update_with_pod(self, state: CycleState, pod: PodInfo, other: PodInfo,
                         node: NodeInfo, delta: int) -> None:
        s: _PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None or other.namespace != pod.namespace:
            return
        if not _has_all_keys(node.labels, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels) or not c.includes_node(pod, node):
                continue
            v = node.labels[c.topology_key]
            s.counts[i][v] = s.counts[i].get(v, 0) + delta
            s.paths[i].update(v, s.counts[i][v])

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo,
                snapshot: Snapshot) -> Status | None:
        self._update_with_pod(state, pod, to_add, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                   node: NodeInfo, snapshot: Snapshot) -> Status | None:
        self._update_with_pod(state, pod, to_remove, node, -1)
        return None

    # -- scoring --------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        if snapshot.num_nodes() == 0:
            return Status.skip()
        # Only non-default rules require every topology key: nodes without a zone label
        # still get hostname spreading from the system defaults.
        require_all = bool(pod.spread_constraints) or not self.system_defaulted
        s = _PreScoreState()
        s.constraints = self.constraints(pod, "ScheduleAnyway", snapshot)
        if not s.constraints:
            return Status.skip()
        counted = nodes
        if require_all:
            counted = []
            for node in nodes:
                if _has_all_keys(node.labels, s.constraints):
                    counted.append(node)
                else:
                    s.ignored.add(node.name)
        # each non-hostname constraint counts pods per topology value of the nodes scored
        s.counts = [{} if c.topology_key == LABEL_HOSTNAME else dict.fromkeys(
                        {n.labels.get(c.topology_key, "") for n in counted}, 0)
                    for c in s.constraints]
        for i, c in enumerate(s.constraints):
            size = (len(nodes) - len(s.ignored) if c.topology_key == LABEL_HOSTNAME
                    else len(s.counts[i]))
            s.weights.append(math.log(float(size + 2)))
        s.host_counts = [None] * len(s.constraints)
        if all(_includes_every_node(c, pod) for c in s.constraints):
            # Visit only the nodes holding matching pods, from the snapshot's label index
            # (the same sums as the loop below, which visits every node).
            matched: dict[int, dict[str, int]] = {}
            for i, c in enumerate(s.constraints):
                per_node = matched.get(id(c.selector))
                if per_node is None:
                    per_node = matched[id(c.selector)] = snapshot.matching_counts(
                        c.selector, pod.namespace)
                if c.topology_key == LABEL_HOSTNAME:
                    s.host_counts[i] = per_node
                    continue
                counts = s.counts[i]
                for name, n in per_node.items():
                    node = snapshot.node_info_map.get(name)
                    if node is None or (require_all
                                        and not _has_all_keys(node.labels, s.constraints)):
                        continue
                    value = node.labels.get(c.topology_key, "")
                    if value in counts:
                        counts[value] += n
            state.write(_PRE_SCORE_KEY, s)
            return None
        for node in snapshot.node_info_list:
            if require_all and not _has_all_keys(node.labels, s.constraints):
                continue
            for i, c in enumerate(s.constraints):
                if not c.includes_node(pod, node):
                    continue
                value = node.labels.get(c.topology_key, "")
                if value not in s.counts[i]:
                    continue
                s.counts[i][value] += count_pods_match(node, c.selector, pod.namespace)
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _PreScoreState = state.read(_PRE_SCORE_KEY)
        if node.name in s.ignored:
            return 0
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                per_node = s.host_counts[i]
                cnt = (per_node.get(node.name, 0) if per_node is not None
                       else count_pods_match(node, c.selector, pod.namespace))
            else:
                cnt = s.counts[i][value]
            total += float(cnt) * s.weights[i] + float(c.max_skew - 1)
        return _round(total)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        """``score`` per node, one constraint at a time over all nodes (the same sums in
        the same order)."""
        s: _PreScoreState = state.read(_PRE_SCORE_KEY)
        totals = [0.0] * len(nodes)
        for i, c in enumerate(s.constraints):
            key, weight, skew = c.topology_key, s.weights[i], float(c.max_skew - 1)
            per_node = s.host_counts[i] if key == LABEL_HOSTNAME else None
            if key != LABEL_HOSTNAME:
                counts = s.counts[i]
                totals = [t if (v := n.labels.get(key)) is None or n.name in s.ignored
                          else t + (float(counts[v]) * weight + skew)
                          for t, n in zip(totals, nodes)]
            elif per_node is not None:
                totals = [t + (float(per_node.get(n.name, 0)) * weight + skew)
                          if key in n.labels else t for t, n in zip(totals, nodes)]
            else:
                totals = [t + (float(count_pods_match(n, c.selector, pod.namespace)) * weight
                               + skew) if key in n.labels else t
                          for t, n in zip(totals, nodes)]
        ignored = s.ignored
        if not ignored:
            return [_round(t) for t in totals]
        return [0 if n.name in ignored else _round(t) for t, n in zip(totals, nodes)]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: Sequence[int]) -> list[int]:
        s: _PreScoreState = state.read(_PRE_SCORE_KEY)
        valid = [sc for n, sc in zip(nodes, scores) if n.name not in s.ignored]
        min_score = min(valid, default=0)
        max_score = max([0, *valid])
        out = []
        for n, sc in zip(nodes, scores):
            if n.name in s.ignored:
                out.append(0)
            elif max_score == 0:
                out.append(MAX_NODE_SCORE)
            else:
                out.append(MAX_NODE_SCORE * (max_score + min_score - sc) // max_score)
        return out

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Pod", ActionType.ALL),
                ClusterEvent("Node", ActionType.ADD | ActionType.DELETE
                             | ActionType.UPDATE_NODE_LABEL))
