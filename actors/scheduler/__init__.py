"""kube-scheduler: the pure core (framework, plugins, queue, cache, node selection) and the
shell that runs it as an actor (``KubeScheduler``, configured by ``SchedulerConfig``,
registered as the ``kube-scheduler`` component of a ``ClusterSpec``).

Concurrency model: none in the core. Everything is synchronous and deterministic given the
``random.Random`` and ``now`` values passed in; the actor (``_actor``, ``_shell_*``) wraps it:

    cache.update_snapshot(snapshot)
    qp = queue.pop()
    result = schedule_one(qp.pod_info, snapshot, profile, algorithm_state,
                          nominated=queue.nominated_pods())
    if result.node: cache.assume_pod(qp.pod_info, result.node); reserve/permit/bind ...
    else: queue.add_unschedulable(qp, cycle, now, result.diagnosis.unschedulable_plugins)
          and report fit_error_message(result.diagnosis, snapshot.num_nodes())
"""

from actors.scheduler._actor import KubeScheduler, LeaderElectionLost, SchedulerStats
from actors.scheduler._algorithm import (
    AlgorithmState,
    NoNodesAvailable,
    ScheduleResult,
    num_feasible_nodes_to_find,
    schedule_one,
    select_host,
)
from actors.scheduler._cache import CacheError, CacheInvariantError, SchedulerCache
from actors.scheduler._component import scheduler_components
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
from actors.scheduler._plugins import (
    BINDING_KEY,
    DEFAULT_WEIGHTS,
    BalancedAllocation,
    DefaultBinder,
    DefaultPreemption,
    ImageLocality,
    InterPodAffinity,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeResourcesFit,
    NodeUnschedulable,
    PodTopologySpread,
    TaintToleration,
    default_plugins,
)
from actors.scheduler._queue import QueuedPodInfo, SchedulingQueue, node_update_event
from actors.scheduler._shell_config import SchedulerConfig, profile_from_api
from actors.scheduler._types import NodeInfo, PodInfo, Resource, Snapshot

__all__ = [
    "BINDING_KEY",
    "DEFAULT_WEIGHTS",
    "ActionType",
    "AlgorithmState",
    "BalancedAllocation",
    "CacheError",
    "CacheInvariantError",
    "ClusterEvent",
    "Code",
    "CycleState",
    "DefaultBinder",
    "DefaultPreemption",
    "Diagnosis",
    "Handle",
    "ImageLocality",
    "InterPodAffinity",
    "KubeScheduler",
    "LeaderElectionLost",
    "NoNodesAvailable",
    "NodeAffinity",
    "NodeInfo",
    "NodeName",
    "NodePorts",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "PluginError",
    "PodInfo",
    "PodTopologySpread",
    "PostFilterResult",
    "PreFilterResult",
    "Profile",
    "QueuedPodInfo",
    "Resource",
    "ScheduleResult",
    "SchedulerConfig",
    "SchedulerStats",
    "SchedulerCache",
    "SchedulingQueue",
    "Snapshot",
    "Status",
    "TaintToleration",
    "default_plugins",
    "fit_error_message",
    "node_update_event",
    "num_feasible_nodes_to_find",
    "profile_from_api",
    "scheduler_components",
    "schedule_one",
    "select_host",
]
