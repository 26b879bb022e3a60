"""The framework's extension points as structural types (``framework/interface.go``).

What it is: one ``typing.Protocol`` per extension point; a plugin takes part in every point
whose methods it has (``Profile`` sorts them with ``isinstance`` once, at construction).
Beyond these, a Filter or Score plugin may offer ``filter_nodes``/``score_nodes``, the same
verdicts for a list of nodes in one call (the hot path; see ``Profile``).

Concurrency model: none; these are types only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from actors.scheduler._framework import (
        ClusterEvent,
        CycleState,
        Diagnosis,
        Handle,
        PostFilterResult,
        PreFilterResult,
        Status,
    )
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

__all__ = [
    "BindPlugin",
    "EnqueueExtensions",
    "FilterPlugin",
    "PermitPlugin",
    "Plugin",
    "PostBindPlugin",
    "PostFilterPlugin",
    "PreBindPlugin",
    "PreFilterExtensions",
    "PreFilterPlugin",
    "PreScorePlugin",
    "ReservePlugin",
    "ScoreExtensions",
    "ScorePlugin",
]


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> tuple[
        PreFilterResult | None, Status | None]: ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Incremental updates of PreFilter state, used for nominated pods and preemption."""

    name: str

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                node: NodeInfo, snapshot: Snapshot) -> Status | None: ...

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                   node: NodeInfo, snapshot: Snapshot) -> Status | None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    name: str

    def post_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot,
                    diagnosis: Diagnosis, handle: Handle) -> tuple[
        PostFilterResult | None, Status | None]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class ScoreExtensions(Protocol):
    name: str

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: Sequence[int]) -> list[int]: ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    """Returns (status, timeout seconds); a WAIT status asks the shell to hold the pod."""

    name: str

    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[
        Status | None, float]: ...


@runtime_checkable
class PreBindPlugin(Protocol):
    name: str

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Protocol):
    name: str

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...


@runtime_checkable
class PostBindPlugin(Protocol):
    name: str

    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    name: str

    def events_to_register(self) -> Sequence[ClusterEvent]: ...
