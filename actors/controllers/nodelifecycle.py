"""The node lifecycle controller (``pkg/controller/nodelifecycle``) and the taint-eviction
controller (``pkg/controller/tainteviction``) — the actor shells around
``monitor_node_health``, ``reconcile_node_condition_taints`` and ``reconcile_taint_eviction``.

``NodeLifecycleController`` (``nodelifecycle``, events from ``node-controller``):
- a ``monitor`` key reconciled every ``--node-monitor-period`` (5 s) from the caches of Nodes,
  node Leases (``kube-node-lease``) and pods: a node silent (no Ready heartbeat, no Lease
  renewal) for the grace period (40 s) gets its conditions set to Unknown, a NodeNotReady
  event, its pods marked not ready, and — rate limited per zone (0.1 nodes/s, less or none
  under disruption) — the ``node.kubernetes.io/unreachable`` (or ``not-ready``) NoExecute taint.
  The health records, zone states and tainting queues are what Kubernetes keeps in memory:
  kept here between passes, lost on failover (a new leader gives every node a fresh grace
  period, as Kubernetes does);
- per-node keys keep the NoSchedule taints mirroring the node's conditions
  (TaintNodesByCondition), so the scheduler avoids an unreachable node at once.

``TaintEvictionController`` (``taint-eviction-controller``): per-node keys; a node whose
NoExecute taints change, or a pod bound to a node with NoExecute taints, enqueues the node.
Pods that do not tolerate a taint are evicted (a DisruptionTarget condition, then a graceful
delete) at once, or when their smallest ``tolerationSeconds`` runs out (300 s for the
tolerations the DefaultTolerationSeconds admission adds) — the node key is requeued for that
moment; the timers' start times are kept between reconciles, as the controller's
TimedWorkers are. The evicted pods' ReplicaSets replace them and the scheduler, which avoids
the tainted node, places the replacements elsewhere.

Options: ``ControllerManagerConfig.options["nodelifecycle"]`` is a ``NodeLifecycleConfig``.

Concurrency model: the manager's actor; the monitor is one key (one pass at a time);
taint eviction runs 8 workers (``UpdateWorkerSize``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.client import NODE_NAME_INDEX, Result
from actors.client import meta_namespace_key as _key

from ._base import Controller, obj_of, register_controller
from ._logic_nodelifecycle import (
    NodeLifecycleConfig,
    NodeLifecycleState,
    monitor_node_health,
    reconcile_node_condition_taints,
    reconcile_taint_eviction,
)
from ._plan import Plan, meta_of

__all__ = ["NodeLifecycleController", "TaintEvictionController"]

MONITOR = "monitor"


def _no_execute(node: Mapping[str, Any] | None) -> list[Any]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or () if t.get("effect") == "NoExecute"]


@register_controller
class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    component = "node-controller"
    service_account = "node-controller"
    workers = 1

    def setup(self) -> None:
        opts = self.host.options_for(self.name)
        self.config = opts if isinstance(opts, NodeLifecycleConfig) else NodeLifecycleConfig()
        self.state = NodeLifecycleState()
        self.nodes = self.informer("nodes")
        self.leases = self.informer("leases")
        self.pods = self.informer("pods")
        self.nodes.add_event_handler(on_add=self._node_changed,
                                     on_update=lambda _old, new: self._node_changed(new))

    def _node_changed(self, node: Mapping[str, Any]) -> None:
        self.queue.add(("taints", _key(node)))

    def start(self) -> None:
        super().start()
        self.queue.add(MONITOR)

    def plan(self, key: Any) -> Plan | None:
        if key == MONITOR:
            leases = self.leases.indexer.by_index("namespace", "kube-node-lease")
            result = monitor_node_health(self.nodes.indexer.list(), leases, self.pods.indexer.list(),
                                         self.state, now=self.now(), config=self.config)
            self.state = result.state  # in memory, whatever the writes do (Kubernetes too)
            return result.plan
        node = self.nodes.indexer.get_by_key(key[1])
        if node is None:
            return None
        return reconcile_node_condition_taints(node, now=self.now())

    async def reconcile(self, key: Any) -> Result:
        result = await super().reconcile(key)
        if key == MONITOR and result.requeue_after is None:
            # The monitor never stops: a failed pass is retried at the next period.
            return Result(requeue_after=self.config.monitor_period)
        return result


@register_controller
class TaintEvictionController(Controller):
    name = "taint-eviction-controller"
    component = "taint-eviction-controller"
    service_account = "node-controller"
    workers = 8

    def setup(self) -> None:
        self.scheduled: dict[str, dict[str, float]] = {}  # node -> pod key -> timer start
        self.nodes = self.informer("nodes")
        self.pods = self.informer("pods")
        self.nodes.add_event_handler(on_add=self._node_added, on_update=self._node_updated,
                                     on_delete=lambda obj: self.enqueue(obj))
        self.pods.add_event_handler(on_add=self._pod_changed,
                                    on_update=lambda _old, new: self._pod_changed(new),
                                    on_delete=lambda obj: self._pod_changed(obj_of(obj)))

    def _node_added(self, node: Mapping[str, Any]) -> None:
        if _no_execute(node):
            self.enqueue(node)

    def _node_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if _no_execute(old) != _no_execute(cur):
            self.enqueue(cur)

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and (_no_execute(self.nodes.indexer.get_by_key(node)) or node in self.scheduled):
            self.queue.add(node)

    def plan(self, key: Any) -> Plan | None:
        node = self.nodes.indexer.get_by_key(key)
        if node is None and key not in self.scheduled:
            return None
        pods = [p for p in self.pods.indexer.by_index(NODE_NAME_INDEX, key)
                if not meta_of(p).get("deletionTimestamp")]
        result = reconcile_taint_eviction(node, pods, self.scheduled.get(key), now=self.now())
        if result.scheduled:
            self.scheduled[key] = result.scheduled
        else:
            self.scheduled.pop(key, None)
        return result.plan
