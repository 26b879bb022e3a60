"""kube-scheduler's pure core: framework, plugins, queue, cache and node selection.

Concurrency model: none here. Everything is synchronous and deterministic given the
``random.Random`` and ``now`` values passed in; the scheduler actor wraps it.
"""

from actors.scheduler._algorithm import (
    AlgorithmState,
    NoNodesAvailable,
    ScheduleResult,
    num_feasible_nodes_to_find,
    schedule_one,
    select_host,
)
from actors.scheduler._framework import (
    ActionType,
    ClusterEvent,
    Code,
    CycleState,
    Diagnosis,
    Handle,
    PluginError,
    PostFilterResult,
    PreFilterResult,
    Profile,
    Status,
    fit_error_message,
)
from actors.scheduler._plugins import BINDING_KEY, DEFAULT_WEIGHTS, default_plugins
from actors.scheduler._types import NodeInfo, PodInfo, Resource, Snapshot

__all__ = [
    "BINDING_KEY",
    "DEFAULT_WEIGHTS",
    "ActionType",
    "AlgorithmState",
    "ClusterEvent",
    "Code",
    "CycleState",
    "Diagnosis",
    "Handle",
    "NoNodesAvailable",
    "NodeInfo",
    "PluginError",
    "PodInfo",
    "PostFilterResult",
    "PreFilterResult",
    "Profile",
    "Resource",
    "ScheduleResult",
    "Snapshot",
    "Status",
    "default_plugins",
    "fit_error_message",
    "num_feasible_nodes_to_find",
    "schedule_one",
    "select_host",
]
