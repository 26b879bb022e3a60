"""The scheduling framework: extension points, statuses, cycle state and profiles.

What it is: kube-scheduler's ``framework`` package in miniature. A ``Profile`` holds an
ordered list of plugins and their score weights; each plugin takes part in the extension
points whose methods it has (a ``typing.Protocol`` per point, checked structurally, so a
user's own plugin is just a class with ``name`` and the right methods). ``Profile`` runs the
points in Kubernetes' order and with its rules: the first rejecting Filter decides a node,
a PreFilter/PreScore ``Skip`` turns off that plugin's Filter/Score for the cycle, scores are
normalized, range-checked and weighted.

Concurrency model: none. A ``CycleState`` belongs to one scheduling attempt; a ``Profile``
is immutable after construction and may be shared.

Invariants:
- A status of ``None`` is success (Kubernetes' nil ``*Status``).
- Plugin scores after normalization lie in [0, 100]; anything else is a broken plugin and
  raises ``PluginError`` loudly.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from actors.scheduler._extension_points import (
    BindPlugin,
    EnqueueExtensions,
    FilterPlugin,
    PermitPlugin,
    Plugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreFilterExtensions,
    PreFilterPlugin,
    PreScorePlugin,
    ReservePlugin,
    ScoreExtensions,
    ScorePlugin,
)

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

__all__ = [
    "BindPlugin", "ClusterEvent", "Code", "CycleState", "Diagnosis", "EnqueueExtensions",
    "FilterPlugin", "Handle", "PermitPlugin", "Plugin", "PluginError", "PostBindPlugin",
    "PostFilterPlugin", "PostFilterResult", "PreBindPlugin", "PreFilterExtensions",
    "PreFilterPlugin", "PreFilterResult", "PreScorePlugin", "Profile", "ReservePlugin",
    "ScoreExtensions", "ScorePlugin", "Status", "fit_error_message",
]

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class PluginError(RuntimeError):
    """A plugin broke the framework's contract (an Error status, a score out of range)."""


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


class Status(msgspec.Struct, frozen=True):
    """A plugin's verdict. ``None`` stands for success wherever a status is returned."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE, reasons)

    @classmethod
    def unresolvable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)

    @classmethod
    def skip(cls) -> Status:
        return cls(Code.SKIP)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                             Code.PENDING)

    def with_plugin(self, name: str) -> Status:
        return msgspec.structs.replace(self, plugin=name)


def is_success(s: Status | None) -> bool:
    return s is None or s.code == Code.SUCCESS


class CycleState:
    """Per-attempt scratch space shared by plugins (``framework.CycleState``).

    Values that a preemption dry run mutates (through PreFilter AddPod/RemovePod) must
    have a ``clone()`` method; everything else is shared between clones.
    """

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def read(self, key: str) -> Any:
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        c = CycleState()
        c._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        c.skip_filter_plugins = set(self.skip_filter_plugins)
        c.skip_score_plugins = set(self.skip_score_plugins)
        return c


class PreFilterResult(msgspec.Struct, frozen=True):
    """Node names a PreFilter allows; ``None`` means all nodes."""

    node_names: frozenset[str] | None = None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class PostFilterResult(msgspec.Struct, frozen=True):
    """What a PostFilter (preemption) found: a node to nominate and the pods to evict."""

    nominated_node_name: str = ""
    victims: tuple[Any, ...] = ()  # PodInfo


class ClusterEvent(msgspec.Struct, frozen=True):
    """A change that may make pods schedulable: ``resource`` and an action bitmask."""

    resource: str  # "Node", "Pod" (assigned pods), "UnscheduledPod", "*"
    action: int  # ActionType bits

    def matches(self, other: ClusterEvent) -> bool:
        res_ok = self.resource == "*" or other.resource == "*" or self.resource == other.resource
        return res_ok and bool(self.action & other.action)


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_POD_LABEL = 64
    UPDATE_POD_SCALE_DOWN = 128
    UPDATE_POD_TOLERATIONS = 256
    UPDATE_POD_SCHEDULING_GATES = 512
    UPDATE = (UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT
              | UPDATE_NODE_CONDITION | UPDATE_POD_LABEL | UPDATE_POD_SCALE_DOWN
              | UPDATE_POD_TOLERATIONS | UPDATE_POD_SCHEDULING_GATES)
    ALL = ADD | DELETE | UPDATE


# -- diagnosis ------------------------------------------------------------------------------


class Diagnosis:
    """Why a pod fits nowhere: per-node statuses, plus one status for absent nodes."""

    __slots__ = ("absent_nodes_status", "node_to_status", "pending_plugins",
                 "post_filter_msg", "pre_filter_msg", "unschedulable_plugins")

    def __init__(self) -> None:
        self.node_to_status: dict[str, Status] = {}
        self.absent_nodes_status: Status = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.pre_filter_msg = ""
        self.post_filter_msg = ""

    def add_plugin_status(self, s: Status) -> None:
        if not s.plugin:
            return
        if s.is_rejected():
            self.unschedulable_plugins.add(s.plugin)
        if s.code == Code.PENDING:
            self.pending_plugins.add(s.plugin)

    def status_of(self, node_name: str) -> Status:
        return self.node_to_status.get(node_name, self.absent_nodes_status)

    def __repr__(self) -> str:
        return (f"Diagnosis(statuses={len(self.node_to_status)}, "
                f"unschedulable_plugins={sorted(self.unschedulable_plugins)})")


def fit_error_message(diagnosis: Diagnosis, num_nodes: int) -> str:
    """``FitError.Error()``: "0/N nodes are available: <prefilter|filter reasons>. <post>".

    Filter reasons are counted over nodes, printed "count reason", sorted as strings and
    joined with ", "; nodes without their own status count under the absent-node status.
    """
    msg = f"0/{num_nodes} nodes are available:"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        counts: dict[str, int] = {}
        for status in diagnosis.node_to_status.values():
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        absent = num_nodes - len(diagnosis.node_to_status)
        if absent > 0:
            for reason in diagnosis.absent_nodes_status.reasons:
                counts[reason] = counts.get(reason, 0) + absent
        if counts:
            msg += " " + ", ".join(sorted(f"{v} {k}" for k, v in counts.items())) + "."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg


class Handle:
    """What PostFilter plugins may use beyond the snapshot: the profile (to run filters
    in dry runs), the cycle's random generator and the nominated pods per node."""

    __slots__ = ("nominated", "profile", "rng")

    def __init__(self, profile: Profile, rng: random.Random,
                 nominated: Mapping[str, Sequence[PodInfo]] | None = None) -> None:
        self.profile = profile
        self.rng = rng
        self.nominated = nominated or {}


# -- Profile: the framework ---------------------------------------------------------------


class Profile:
    """A scheduler profile: named, ordered plugins with score weights (the framework).

    ``plugins`` defaults to Kubernetes' default plugin set in its order; ``weights``
    overrides score weights by plugin name (a score plugin without one weighs 1).
    """

    def __init__(self, name: str = "default-scheduler", plugins: Iterable[Any] | None = None,
                 weights: Mapping[str, int] | None = None,
                 percentage_of_nodes_to_score: int | None = None) -> None:
        from actors.scheduler._plugins import DEFAULT_WEIGHTS, default_plugins

        self.name = name
        self.plugins: tuple[Any, ...] = tuple(default_plugins() if plugins is None else plugins)
        names = [p.name for p in self.plugins]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate plugin names in profile {name!r}: {names}")
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        if any(w <= 0 for w in self.weights.values()):
            raise ValueError("score weights must be positive")
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        pick = self._pick
        self.pre_filter: tuple[Any, ...] = pick(PreFilterPlugin)
        self.filter: tuple[Any, ...] = pick(FilterPlugin)
        self.post_filter: tuple[Any, ...] = pick(PostFilterPlugin)
        self.pre_score: tuple[Any, ...] = pick(PreScorePlugin)
        self.score: tuple[Any, ...] = pick(ScorePlugin)
        self.reserve: tuple[Any, ...] = pick(ReservePlugin)
        self.permit: tuple[Any, ...] = pick(PermitPlugin)
        self.pre_bind: tuple[Any, ...] = pick(PreBindPlugin)
        self.bind: tuple[Any, ...] = pick(BindPlugin)
        self.post_bind: tuple[Any, ...] = pick(PostBindPlugin)
        self.pre_filter_extensions = {p.name: p for p in pick(PreFilterExtensions)}
        # Protocol isinstance checks are slow: decide once which scorers normalize.
        self._normalizers = frozenset(p.name for p in pick(ScoreExtensions))

    def _pick(self, proto: type) -> tuple[Any, ...]:
        return tuple(p for p in self.plugins if isinstance(p, proto))

    def plugin(self, name: str) -> Any:
        for p in self.plugins:
            if p.name == name:
                return p
        raise KeyError(name)

    def events_to_register(self) -> dict[str, tuple[ClusterEvent, ...]]:
        return {p.name: tuple(p.events_to_register()) for p in self.plugins
                if isinstance(p, EnqueueExtensions)}

    # -- PreFilter / Filter ---------------------------------------------------------------

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo, snapshot: Snapshot
                               ) -> tuple[PreFilterResult, Status | None, set[str]]:
        """PreFilter in order. Returns the merged result, a rejection, and the plugins
        that narrowed the node set."""
        result = PreFilterResult()
        narrowed: set[str] = set()
        rejection: Status | None = None
        for pl in self.pre_filter:
            r, s = pl.pre_filter(state, pod, snapshot)
            if s is not None and s.code == Code.SKIP:
                state.skip_filter_plugins.add(pl.name)
                continue
            if not is_success(s):
                assert s is not None
                s = s.with_plugin(pl.name)
                if s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return result, s, set()
                if s.code == Code.UNSCHEDULABLE:
                    # Keep running PreFilters: preemption may still help (kubernetes#119770).
                    rejection = s
                    continue
                raise PluginError(f"running PreFilter plugin {pl.name!r}: {s.message}")
            if r is not None and r.node_names is not None:
                narrowed.add(pl.name)
            result = result.merge(r)
            if result.node_names is not None and not result.node_names:
                names = sorted(narrowed)
                msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1 else
                       f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously")
                return result, Status.unresolvable(msg), narrowed
        return result, rejection, narrowed

    def run_filter_plugins_batch(self, state: CycleState, pod: PodInfo,
                                 nodes: Sequence[NodeInfo]) -> list[Status | None]:
        """``run_filter_plugins`` for each node, plugin by plugin over the nodes still
        passing (each node's status is still its first rejection, in plugin order). A
        plugin may offer ``filter_nodes(state, pod, nodes)``, its ``filter`` for each node
        in one call; it must agree with ``filter`` node by node."""
        statuses: list[Status | None] = [None] * len(nodes)
        pending = list(range(len(nodes)))
        for pl in self.filter:
            if not pending:
                break
            if pl.name in state.skip_filter_plugins:
                continue
            batch = getattr(pl, "filter_nodes", None)
            sub = nodes if len(pending) == len(nodes) else [nodes[i] for i in pending]
            res = (batch(state, pod, sub) if batch is not None
                   else [pl.filter(state, pod, n) for n in sub])
            if not any(res):
                continue  # every node passed (None is success)
            still = []
            last: Status | None = None
            tagged: Status | None = None
            for i, s in zip(pending, res):
                if s is None or s.code == Code.SUCCESS:
                    still.append(i)
                    continue
                if s is not last:  # plugins often return one shared status for many nodes
                    if not s.is_rejected():
                        raise PluginError(f"running {pl.name!r} filter plugin: {s.message}")
                    last, tagged = s, s.with_plugin(pl.name)
                statuses[i] = tagged
            pending = still
        return statuses

    def run_filter_plugins(self, state: CycleState, pod: PodInfo, node: NodeInfo
                           ) -> Status | None:
        for pl in self.filter:
            if pl.name in state.skip_filter_plugins:
                continue
            s = pl.filter(state, pod, node)
            if not is_success(s):
                assert s is not None
                if not s.is_rejected():
                    raise PluginError(f"running {pl.name!r} filter plugin: {s.message}")
                return s.with_plugin(pl.name)
        return None

    def run_pre_filter_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                               node: NodeInfo, snapshot: Snapshot) -> None:
        for name, pl in self.pre_filter_extensions.items():
            if name in state.skip_filter_plugins:
                continue
            s = pl.add_pod(state, pod, to_add, node, snapshot)
            if not is_success(s):
                raise PluginError(f"running AddPod on PreFilter plugin {name!r}")

    def run_pre_filter_remove_pod(self, state: CycleState, pod: PodInfo,
                                  to_remove: PodInfo, node: NodeInfo, snapshot: Snapshot
                                  ) -> None:
        for name, pl in self.pre_filter_extensions.items():
            if name in state.skip_filter_plugins:
                continue
            s = pl.remove_pod(state, pod, to_remove, node, snapshot)
            if not is_success(s):
                raise PluginError(f"running RemovePod on PreFilter plugin {name!r}")

    def run_filter_plugins_with_nominated_pods(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, snapshot: Snapshot,
        nominated: Mapping[str, Sequence[PodInfo]] | None,
    ) -> Status | None:
        """Filters, passing twice when equal-or-higher priority pods are nominated here:
        once as if they ran, once as if not; the pod must fit both ways."""
        others = [p for p in (nominated or {}).get(node.name, ())
                  if p.priority >= pod.priority and p.key != pod.key]
        if not others:
            return self.run_filter_plugins(state, pod, node)
        node_with = node.clone()
        state_with = state.clone()
        for p in others:
            node_with.add_pod(p)
            self.run_pre_filter_add_pod(state_with, pod, p, node_with, snapshot)
        s = self.run_filter_plugins(state_with, pod, node_with)
        if not is_success(s):
            return s
        return self.run_filter_plugins(state, pod, node)

    # -- PostFilter -----------------------------------------------------------------------

    def run_post_filter_plugins(self, state: CycleState, pod: PodInfo, snapshot: Snapshot,
                                diagnosis: Diagnosis, handle: Handle
                                ) -> tuple[PostFilterResult | None, Status | None]:
        """PostFilter until one succeeds; the last rejection's message is reported."""
        reasons: list[str] = []
        result: PostFilterResult | None = None
        for pl in self.post_filter:
            r, s = pl.post_filter(state, pod, snapshot, diagnosis, handle)
            if is_success(s):
                return r, None
            assert s is not None
            if not s.is_rejected():
                raise PluginError(f"running PostFilter plugin {pl.name!r}: {s.message}")
            reasons.extend(s.reasons)
            if r is not None:
                result = r
        return result, Status.unschedulable(*reasons) if reasons else None

    # -- PreScore / Score -----------------------------------------------------------------

    def run_pre_score_plugins(self, state: CycleState, pod: PodInfo,
                              nodes: Sequence[NodeInfo], snapshot: Snapshot) -> None:
        for pl in self.pre_score:
            s = pl.pre_score(state, pod, nodes, snapshot)
            if s is not None and s.code == Code.SKIP:
                state.skip_score_plugins.add(pl.name)
            elif not is_success(s):
                raise PluginError(f"running PreScore plugin {pl.name!r}: {s.message}")

    def run_score_plugins(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                          ) -> tuple[list[int], dict[str, list[int]]]:
        """Weighted totals per node, and each plugin's weighted scores.

        A plugin may offer ``score_nodes(state, pod, nodes)``, the list of its ``score``
        for each node computed in one call (the scoring hot path); it must agree with
        ``score`` node by node."""
        totals = [0] * len(nodes)
        by_plugin: dict[str, list[int]] = {}
        for pl in self.score:
            if pl.name in state.skip_score_plugins:
                continue
            batch = getattr(pl, "score_nodes", None)
            scores = (batch(state, pod, nodes) if batch is not None
                      else [pl.score(state, pod, n) for n in nodes])
            if pl.name in self._normalizers:
                scores = pl.normalize_score(state, pod, nodes, scores)
            if scores and (min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE):
                i, bad = next((i, s) for i, s in enumerate(scores)
                              if not MIN_NODE_SCORE <= s <= MAX_NODE_SCORE)
                raise PluginError(f"plugin {pl.name!r} returns an invalid score {bad} "
                                  f"for node {nodes[i].name!r}")
            weight = self.weights.get(pl.name, 1)
            weighted = scores if weight == 1 else [s * weight for s in scores]
            totals = [t + s for t, s in zip(totals, weighted)]
            by_plugin[pl.name] = list(weighted)
        return totals, by_plugin

    # -- Reserve / Permit / Bind ------------------------------------------------------------

    def run_reserve_plugins_reserve(self, state: CycleState, pod: PodInfo, node_name: str
                                    ) -> Status | None:
        for pl in self.reserve:
            s = pl.reserve(state, pod, node_name)
            if not is_success(s):
                assert s is not None
                return s.with_plugin(pl.name)
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: PodInfo,
                                      node_name: str) -> None:
        # Unreserve runs in reverse order, as Kubernetes does.
        for pl in reversed(self.reserve):
            pl.unreserve(state, pod, node_name)

    def run_permit_plugins(self, state: CycleState, pod: PodInfo, node_name: str
                           ) -> tuple[Status | None, float]:
        """The first rejection wins; otherwise WAIT with the longest requested timeout."""
        wait = 0.0
        waiting = False
        for pl in self.permit:
            s, timeout = pl.permit(state, pod, node_name)
            if s is not None and s.code == Code.WAIT:
                waiting = True
                wait = max(wait, timeout)
            elif not is_success(s):
                assert s is not None
                return s.with_plugin(pl.name), 0.0
        return (Status(Code.WAIT), wait) if waiting else (None, 0.0)

    def run_pre_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str
                             ) -> Status | None:
        for pl in self.pre_bind:
            s = pl.pre_bind(state, pod, node_name)
            if not is_success(s):
                assert s is not None
                return s.with_plugin(pl.name)
        return None

    def run_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str
                         ) -> Status | None:
        """Binders in order until one does not Skip."""
        for pl in self.bind:
            s = pl.bind(state, pod, node_name)
            if s is not None and s.code == Code.SKIP:
                continue
            return None if is_success(s) else s.with_plugin(pl.name)  # type: ignore[union-attr]
        return Status(Code.SKIP)

    def run_post_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for pl in self.post_bind:
            pl.post_bind(state, pod, node_name)


