"""One scheduling attempt as a pure function over a snapshot (``schedule_one.go``).

What it is: ``schedule_one(pod, snapshot, profile, state)`` runs PreFilter, Filter (over a
share of the nodes, starting where the last attempt stopped), PostFilter when nothing
fits, then PreScore/Score, and picks the best node, breaking ties at random.

Concurrency model: none. The only state carried between attempts is ``AlgorithmState``
(the round-robin start index and the seeded random generator); the caller owns it and
must not share it between concurrent attempts.

Invariants:
- Nodes are examined in snapshot order starting at ``next_start_node_index``; the search
  stops after ``num_feasible_nodes_to_find`` feasible nodes; the index then advances by the
  number of nodes examined (feasible or not), modulo the node count.
- The snapshot is never mutated (preemption dry runs use clones).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from actors.scheduler._framework import (
    Code,
    CycleState,
    Diagnosis,
    Handle,
    PostFilterResult,
    Profile,
    Status,
    fit_error_message,
)
from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

__all__ = [
    "AlgorithmState",
    "NoNodesAvailable",
    "ScheduleResult",
    "fit_error_message",
    "num_feasible_nodes_to_find",
    "schedule_one",
    "select_host",
]

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 0  # 0: adaptive


class NoNodesAvailable(Exception):
    """The snapshot has no nodes (``ErrNoNodesAvailable``)."""

    def __init__(self) -> None:
        super().__init__("no nodes available to schedule pods")


@dataclass
class AlgorithmState:
    """What survives between scheduling attempts: chance and the round-robin index."""

    rng: random.Random
    next_start_node_index: int = 0
    percentage_of_nodes_to_score: int = DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE


@dataclass
class ScheduleResult:
    """The outcome of one attempt. ``node`` is None when the pod fits nowhere; then
    ``diagnosis`` says why and ``post_filter`` holds any preemption decision."""

    node: str | None
    feasible_count: int
    evaluated: int
    diagnosis: Diagnosis
    cycle_state: CycleState
    post_filter: PostFilterResult | None = None
    scores: dict[str, int] = field(default_factory=dict)

    def message(self, num_nodes: int) -> str:
        return fit_error_message(self.diagnosis, num_nodes)


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes end the search (``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def select_host(names: Sequence[str], scores: Sequence[int], rng: random.Random) -> str:
    """The highest total; ties broken uniformly at random (``selectHost``'s reservoir
    sampling gives the same distribution; one draw among the tied nodes is cheaper)."""
    if not names:
        raise ValueError("empty priority list")
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s == best]
    return names[tied[rng.randrange(len(tied))] if len(tied) > 1 else tied[0]]


def _find_nodes_that_pass_filters(
    profile: Profile, cstate: CycleState, pod: PodInfo, snapshot: Snapshot,
    nodes: Sequence[NodeInfo], diagnosis: Diagnosis, start: int, percentage: int,
    nominated: Mapping[str, Sequence[PodInfo]] | None,
) -> list[NodeInfo]:
    n = len(nodes)
    to_find = num_feasible_nodes_to_find(percentage, n)
    if not profile.score:
        to_find = min(1, n)  # nothing to compare: the first feasible node will do
    if not profile.filter:
        return [nodes[(start + i) % n] for i in range(to_find)]
    feasible: list[NodeInfo] = []
    # Nodes with equal-or-higher priority pods nominated to them need the two-pass filter.
    special = {name for name, pods in (nominated or {}).items()
               if any(p.priority >= pod.priority and p.key != pod.key for p in pods)}
    i = 0
    while i < n and len(feasible) < to_find:
        # Filter in chunks no larger than the feasible nodes still wanted, so exactly the
        # nodes a node-by-node search would examine are examined, and in the same order.
        chunk = [nodes[(start + j) % n] for j in range(i, min(n, i + to_find - len(feasible)))]
        i += len(chunk)
        if special and any(node.name in special for node in chunk):
            statuses = [profile.run_filter_plugins_with_nominated_pods(
                cstate, pod, node, snapshot, nominated) for node in chunk]
        else:
            statuses = profile.run_filter_plugins_batch(cstate, pod, chunk)
        last = None
        for node, s in zip(chunk, statuses):
            if s is None or s.code == Code.SUCCESS:
                feasible.append(node)
            else:
                diagnosis.node_to_status[node.name] = s
                if s is not last:
                    diagnosis.add_plugin_status(s)
                    last = s
    return feasible


def _find_nodes_that_fit(
    profile: Profile, cstate: CycleState, pod: PodInfo, snapshot: Snapshot,
    state: AlgorithmState, diagnosis: Diagnosis,
    nominated: Mapping[str, Sequence[PodInfo]] | None,
) -> list[NodeInfo]:
    all_nodes = snapshot.node_info_list
    pre_res, s, narrowed = profile.run_pre_filter_plugins(cstate, pod, snapshot)
    diagnosis.unschedulable_plugins |= narrowed
    if s is not None:
        # Every node gets the PreFilter's status, so preemption sees it.
        diagnosis.absent_nodes_status = s
        diagnosis.pre_filter_msg = s.message
        diagnosis.add_plugin_status(s)
        return []
    percentage = profile.percentage_of_nodes_to_score
    if percentage is None:
        percentage = state.percentage_of_nodes_to_score
    nom = pod.nominated_node_name
    if nom and nom in snapshot.node_info_map:
        # The node preemption made room on is likely the only fit: try it first.
        feasible = _find_nodes_that_pass_filters(
            profile, cstate, pod, snapshot, [snapshot.node_info_map[nom]], diagnosis, 0,
            percentage, nominated)
        if feasible:
            return feasible
    nodes: Sequence[NodeInfo] = all_nodes
    if pre_res.node_names is not None:
        nodes = [n for n in all_nodes if n.name in pre_res.node_names]
        diagnosis.absent_nodes_status = Status.unresolvable(
            f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(narrowed))}]")
    feasible = _find_nodes_that_pass_filters(
        profile, cstate, pod, snapshot, nodes, diagnosis,
        state.next_start_node_index, percentage, nominated)
    processed = len(feasible) + len(diagnosis.node_to_status)
    state.next_start_node_index = (state.next_start_node_index + processed) % len(all_nodes)
    return feasible


def schedule_one(
    pod: PodInfo, snapshot: Snapshot, profile: Profile, state: AlgorithmState, *,
    cycle_state: CycleState | None = None,
    nominated: Mapping[str, Sequence[PodInfo]] | None = None,
) -> ScheduleResult:
    """Find a node for ``pod``; raise ``NoNodesAvailable`` on an empty cluster.

    ``nominated`` maps node names to pods nominated there (by earlier preemptions); pods
    of equal or higher priority are treated as already running while filtering.
    """
    if snapshot.num_nodes() == 0:
        raise NoNodesAvailable()
    cstate = cycle_state if cycle_state is not None else CycleState()
    diagnosis = Diagnosis()
    feasible = _find_nodes_that_fit(profile, cstate, pod, snapshot, state, diagnosis,
                                    nominated)
    if not feasible:
        result = ScheduleResult(None, 0, len(diagnosis.node_to_status), diagnosis, cstate)
        if profile.post_filter:
            handle = Handle(profile, state.rng, nominated)
            pf, s = profile.run_post_filter_plugins(cstate, pod, snapshot, diagnosis, handle)
            diagnosis.post_filter_msg = s.message if s is not None else ""
            result.post_filter = pf
        return result
    evaluated = len(feasible) + len(diagnosis.node_to_status)
    if len(feasible) == 1:
        return ScheduleResult(feasible[0].name, 1, evaluated, diagnosis, cstate)
    names = [n.name for n in feasible]
    if not profile.score:
        totals = [1] * len(feasible)
    else:
        profile.run_pre_score_plugins(cstate, pod, feasible, snapshot)
        totals, _ = profile.run_score_plugins(cstate, pod, feasible)
    host = select_host(names, totals, state.rng)
    return ScheduleResult(host, len(feasible), evaluated, diagnosis, cstate,
                          scores=dict(zip(names, totals)))
