"""DefaultPreemption: the PostFilter that finds pods to evict so the pod fits somewhere.

Concurrency model: none. The dry runs work on clones of the snapshot's NodeInfos and of
the CycleState; nothing shared is mutated. The plugin only *chooses*: evicting the victims
and setting ``status.nominatedNodeName`` is the shell's job.

Invariants (``plugins/defaultpreemption``, ``framework/preemption``):
- Only nodes whose status is not UnschedulableAndUnresolvable are tried, starting at a
  random offset, until at least one PDB-respecting candidate is found and
  max(10% of them, 100) candidates are collected.
- On a node: remove every lower-priority pod; if the pod still does not fit, the node is
  out. Otherwise add pods back, most important first (PDB-violating ones first), keeping
  each one that still lets the pod fit; the rest are the victims.
- The chosen node has, in order: fewest PDB violations, the lowest highest-victim
  priority, the smallest sum of (priority + 2**31), fewest victims, the latest start time
  among its highest-priority victims, then the first in candidate order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from actors.scheduler._framework import (
    Code,
    CycleState,
    Diagnosis,
    Handle,
    PostFilterResult,
    Status,
    fit_error_message,
    is_success,
)
from actors.scheduler._plugins.helper import label_matcher

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."
_LATEST = "~"  # a missing startTime sorts as "now": after every RFC 3339 timestamp


def _start(p: PodInfo) -> str:
    return p.start_time or _LATEST


def importance_key(p: PodInfo) -> tuple[int, str]:
    """``MoreImportantPod`` as a sort key: higher priority, then earlier start, first."""
    return (-p.priority, _start(p))


class Candidate:
    __slots__ = ("name", "num_pdb_violations", "victims")

    def __init__(self, name: str, victims: list[PodInfo], num_pdb_violations: int) -> None:
        self.name, self.victims, self.num_pdb_violations = name, victims, num_pdb_violations


def split_by_pdb(pods: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
                 ) -> tuple[list[PodInfo], list[PodInfo]]:
    """``filterPodsWithPDBViolation``: (violating, non-violating), order kept."""
    parsed = []
    for pdb in pdbs:
        meta, spec, status = (pdb.get(k) or {} for k in ("metadata", "spec", "status"))
        sel = spec.get("selector")
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            continue  # a nil or empty PDB selector matches nothing
        parsed.append([meta.get("namespace") or "default", label_matcher(sel),
                       int(status.get("disruptionsAllowed") or 0),
                       set(status.get("disruptedPods") or {})])
    violating, ok = [], []
    for p in pods:
        violated = False
        if p.labels:
            for entry in parsed:
                ns, sel, _, disrupted = entry
                if ns != p.namespace or not sel.matches(p.labels) or p.name in disrupted:
                    continue
                entry[2] -= 1
                if entry[2] < 0:
                    violated = True
        (violating if violated else ok).append(p)
    return violating, ok


def _earliest_start_of_highest(victims: Sequence[PodInfo]) -> str:
    top = max(p.priority for p in victims)
    return min(_start(p) for p in victims if p.priority == top)


SCORE_FUNCS: tuple[Callable[[Candidate], Any], ...] = (
    lambda c: -c.num_pdb_violations,
    lambda c: -c.victims[0].priority,
    lambda c: -sum(p.priority + 2**31 for p in c.victims),
    lambda c: -len(c.victims),
    lambda c: _earliest_start_of_highest(c.victims),
)


def pick_one_node_for_preemption(candidates: Sequence[Candidate]) -> Candidate | None:
    """``pickOneNodeForPreemption``: each rule narrows the ties of the one before."""
    remaining = list(candidates)
    for f in SCORE_FUNCS:
        if len(remaining) <= 1:
            break
        best = max(f(c) for c in remaining)
        remaining = [c for c in remaining if f(c) == best]
    return remaining[0] if remaining else None


class DefaultPreemption:
    name = "DefaultPreemption"

    def __init__(self, min_candidate_nodes_percentage: int = 10,
                 min_candidate_nodes_absolute: int = 100) -> None:
        self.min_pct = min_candidate_nodes_percentage
        self.min_abs = min_candidate_nodes_absolute

    def num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_pct // 100
        return min(max(n, self.min_abs), num_nodes)

    def post_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot,
                    diagnosis: Diagnosis, handle: Handle
                    ) -> tuple[PostFilterResult | None, Status | None]:
        ok, why = self.eligible(pod, snapshot, diagnosis)
        if not ok:
            # No result (Kubernetes returns nil): the pod keeps any nomination it has.
            return None, Status.unschedulable("preemption: " + why)
        potential = [n for n in snapshot.node_info_list
                     if diagnosis.status_of(n.name).code != Code.UNSCHEDULABLE_AND_UNRESOLVABLE]
        candidates: list[Candidate] = []
        statuses: dict[str, Status] = {}
        if potential:
            offset = handle.rng.randrange(len(potential))
            candidates, statuses = self.dry_run(state, pod, snapshot, handle, potential,
                                                offset, self.num_candidates(len(potential)))
        best = pick_one_node_for_preemption(candidates)
        if best is None:
            d = Diagnosis()
            d.node_to_status = statuses
            d.absent_nodes_status = Status.unresolvable(NOT_HELPFUL)
            return PostFilterResult(), Status.unschedulable(
                "preemption: " + fit_error_message(d, snapshot.num_nodes()))
        return PostFilterResult(best.name, tuple(best.victims)), None

    def eligible(self, pod: PodInfo, snapshot: Snapshot, diagnosis: Diagnosis
                 ) -> tuple[bool, str]:
        """``PodEligibleToPreemptOthers``."""
        if pod.preemption_policy == "Never":
            return False, NOT_ELIGIBLE_NEVER
        nom = pod.nominated_node_name
        if nom:
            if diagnosis.status_of(nom).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = snapshot.node_info_map.get(nom)
            if node is not None and any(
                p.priority < pod.priority and p.terminating and p.preempted_by_scheduler
                for p in node.pods
            ):
                return False, NOT_ELIGIBLE_TERMINATING
        return True, ""

    def dry_run(self, state: CycleState, pod: PodInfo, snapshot: Snapshot, handle: Handle,
                potential: Sequence[NodeInfo], offset: int, wanted: int
                ) -> tuple[list[Candidate], dict[str, Status]]:
        ok: list[Candidate] = []
        violating: list[Candidate] = []
        statuses: dict[str, Status] = {}
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)].clone()
            victims, n_violating, status = self.select_victims_on_node(
                state.clone(), pod, node, snapshot, handle)
            if is_success(status) and victims:
                bucket = ok if n_violating == 0 else violating
                if len(bucket) < wanted:
                    bucket.append(Candidate(node.name, victims, n_violating))
                if ok and len(ok) + len(violating) >= wanted:
                    break
                continue
            statuses[node.name] = status if status is not None else Status(Code.ERROR)
        return ok + violating, statuses

    def select_victims_on_node(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                               snapshot: Snapshot, handle: Handle
                               ) -> tuple[list[PodInfo], int, Status | None]:
        """``SelectVictimsOnNode`` on a cloned node and cycle state."""
        profile = handle.profile

        def remove(p: PodInfo) -> None:
            node.remove_pod(p)
            profile.run_pre_filter_remove_pod(state, pod, p, node, snapshot)

        def add(p: PodInfo) -> None:
            node.add_pod(p)
            profile.run_pre_filter_add_pod(state, pod, p, node, snapshot)

        def fits() -> Status | None:
            return profile.run_filter_plugins_with_nominated_pods(
                state, pod, node, snapshot, handle.nominated)

        potential = [p for p in node.pods if p.priority < pod.priority]
        for p in potential:
            remove(p)
        if not potential:
            return [], 0, Status.unresolvable(NO_VICTIMS)
        s = fits()
        if not is_success(s):
            return [], 0, s
        potential.sort(key=importance_key)
        bad, good = split_by_pdb(potential, snapshot.pdbs)
        victims: list[PodInfo] = []
        n_violating = 0
        for group, counts in ((bad, True), (good, False)):
            for p in group:
                add(p)
                if not is_success(fits()):
                    remove(p)
                    victims.append(p)
                    n_violating += 1 if counts else 0
        if bad and good:
            victims.sort(key=importance_key)
        return victims, n_violating, None
