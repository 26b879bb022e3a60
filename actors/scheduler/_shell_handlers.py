"""The scheduler shell's informer event handlers (kube-scheduler's ``eventhandlers.go``).

What it is: how watch events reach the pure core, on every replica (leader or not — the
followers keep warm caches and queues so they can take over at once):
- **pods** (one informer, ``status.phase!=Succeeded,status.phase!=Failed`` as
  kube-scheduler's pod informer): an *assigned* pod (``spec.nodeName`` set) goes to the
  ``SchedulerCache`` — its Add confirms a pod this scheduler assumed — and its add, update
  or delete moves unschedulable pods the change may help (``AssignedPodAdd/Update/Delete``);
  an *unassigned* pod whose ``schedulerName`` has a profile here goes to the
  ``SchedulingQueue``, with its ``status.nominatedNodeName`` fed to the nominator (so a new
  leader honours an earlier preemption). An unassigned pod turning assigned leaves the queue
  and enters the cache, as the two filtering handlers of Kubernetes see a delete and an add.
  An update of a pod this scheduler has assumed is skipped (``skipPodUpdate``).
- **nodes**: the cache, then ``MoveAllToActiveOrBackoffQueue`` with NodeAdd, or with the
  update event naming what changed (allocatable, labels, taints, conditions).
- **namespaces, services, replicasets, statefulsets, replicationcontrollers**: the cluster
  context the plugins read from the ``Snapshot`` (namespace labels for affinity's
  namespaceSelector; Services and controllers for default topology spreading).
  PodDisruptionBudgets are not served by this apiserver yet, so preemption sees none.

Concurrency model: handlers run synchronously inside the informers' reflector tasks on the
scheduler actor's loop, one at a time; they never await. A ``CacheError`` (an event the
cache's state does not allow, e.g. a duplicate add after a relist race) is logged and
skipped, as Kubernetes logs it; a ``CacheInvariantError`` propagates and crashes the actor.

Invariants: cached objects are never mutated; every handler that may make a pod active
calls ``_kick`` so the scheduling loop wakes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from actors.client import DeletedFinalStateUnknown
from actors.scheduler._cache import CacheError
from actors.scheduler._queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    NODE_ADD,
    node_update_event,
)
from actors.scheduler._types import PodInfo

if TYPE_CHECKING:
    from actors.client import SharedInformer, SharedInformerFactory
    from actors.scheduler._cache import SchedulerCache
    from actors.scheduler._framework import ClusterEvent, Profile
    from actors.scheduler._queue import SchedulingQueue
    from actors.scheduler._types import Snapshot

__all__ = ["POD_FIELD_SELECTOR", "InformerHandlers"]

# newPodInformer: terminal pods are of no interest to the scheduler.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
_CONTROLLER_KINDS = {"replicasets": "ReplicaSet", "statefulsets": "StatefulSet",
                     "replicationcontrollers": "ReplicationController"}


def _unwrap(obj: Any) -> Mapping[str, Any]:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def assigned(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


class InformerHandlers:
    """Mixed into ``KubeScheduler``: the attributes below are set in its ``on_start``."""

    cache: SchedulerCache
    queue: SchedulingQueue
    snapshot: Snapshot
    profiles: dict[str, Profile]
    factory: SharedInformerFactory
    pods: SharedInformer
    log: Any

    if TYPE_CHECKING:  # provided by Actor and KubeScheduler
        def now(self) -> float: ...
        def _kick(self) -> None: ...

    # ---- wiring -------------------------------------------------------------------------
    def _register_handlers(self) -> None:
        f = self.factory
        self.pods = f.informer_for("pods", field_selector=POD_FIELD_SELECTOR, indexers={})
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)
        f.informer_for("nodes", indexers={}).add_event_handler(
            on_add=self._node_added, on_update=self._node_updated, on_delete=self._node_deleted)
        f.informer_for("namespaces", indexers={}).add_event_handler(
            on_add=self._namespace_changed, on_update=lambda o, n: self._namespace_changed(n),
            on_delete=self._namespace_deleted)
        svcs = f.informer_for("services", indexers={})
        svcs.add_event_handler(on_add=lambda o: self._services_changed(svcs),
                               on_update=lambda o, n: self._services_changed(svcs),
                               on_delete=lambda o: self._services_changed(svcs))
        for resource, kind in _CONTROLLER_KINDS.items():
            inf = f.informer_for(resource, indexers={})
            inf.add_event_handler(
                on_add=lambda o, k=kind: self._controller_changed(k, o),
                on_update=lambda o, n, k=kind: self._controller_changed(k, n),
                on_delete=lambda o, k=kind: self._controller_deleted(k, _unwrap(o)))

    def _move(self, event: ClusterEvent, pre_check: Any = None) -> None:
        if self.queue.move_all_to_active_or_backoff(event, self.now(), pre_check):
            self._kick()

    def _cache_op(self, what: str, fn: Any, *args: Any) -> bool:
        try:
            fn(*args)
        except CacheError as e:
            self.log.info("scheduler cache", op=what, error=str(e))
            return False
        return True

    # ---- pods ---------------------------------------------------------------------------
    def _responsible(self, pod: Mapping[str, Any]) -> bool:
        name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return name in self.profiles

    def _queue_add(self, pod: Mapping[str, Any]) -> None:
        pi = PodInfo.from_api(pod)
        self.queue.add(pi, self.now())
        if pi.nominated_node_name:
            self.queue.add_nominated_pod(pi, pi.nominated_node_name)
        self._kick()

    def _pod_added(self, pod: Mapping[str, Any]) -> None:
        if assigned(pod):
            if self._cache_op("add pod", self.cache.add_pod, pod):
                self._move(ASSIGNED_POD_ADD)
        elif self._responsible(pod):
            self._queue_add(pod)

    def _pod_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if assigned(new):
            if not assigned(old):
                # Bound (by us or another scheduler): out of the queue, into the cache.
                self.queue.delete(old)
                if self._cache_op("add pod", self.cache.add_pod, new):
                    self._move(ASSIGNED_POD_ADD)
            elif self._cache_op("update pod", self.cache.update_pod, old, new):
                self._move(ASSIGNED_POD_UPDATE)
            return
        if assigned(old):  # cannot happen through the API; keep the cache honest anyway
            self._cache_op("remove pod", self.cache.remove_pod, old)
        if not self._responsible(new):
            self.queue.delete(new)
            return
        if self.cache.is_assumed_pod(new):
            return  # skipPodUpdate: our own binding is in flight
        pi = PodInfo.from_api(new)
        self.queue.update(old, pi, self.now())
        if pi.nominated_node_name:
            self.queue.add_nominated_pod(pi, pi.nominated_node_name)
        else:
            self.queue.delete_nominated_pod(pi)
        self._kick()

    def _pod_deleted(self, obj: Any) -> None:
        pod = _unwrap(obj)
        if assigned(pod):
            if self._cache_op("remove pod", self.cache.remove_pod, pod):
                self._move(ASSIGNED_POD_DELETE)
            return
        self.queue.delete(pod)
        # An assumed pod deleted while its binding is in flight stays in the cache until the
        # binding fails and forgets it (deletePodFromSchedulingQueue does no more).

    # ---- nodes --------------------------------------------------------------------------
    def _node_added(self, node: Mapping[str, Any]) -> None:
        self.cache.add_node(node)
        self._move(NODE_ADD)

    def _node_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.cache.update_node(old, new)
        event = node_update_event(old, new)
        if event.action:
            self._move(event)

    def _node_deleted(self, obj: Any) -> None:
        self._cache_op("remove node", self.cache.remove_node, _unwrap(obj))

    # ---- cluster context ------------------------------------------------------------------
    def _namespace_changed(self, ns: Mapping[str, Any]) -> None:
        meta = _meta(ns)
        self.snapshot.namespace_labels[meta.get("name", "")] = dict(meta.get("labels") or {})

    def _namespace_deleted(self, obj: Any) -> None:
        self.snapshot.namespace_labels.pop(_meta(_unwrap(obj)).get("name", ""), None)

    def _services_changed(self, informer: SharedInformer) -> None:
        self.snapshot.services = list(informer.list())  # type: ignore[arg-type]

    def _controller_changed(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = _meta(obj)
        key = (kind, meta.get("namespace") or "default", meta.get("name", ""))
        selector = (obj.get("spec") or {}).get("selector")
        if selector is None:
            self.snapshot.controllers.pop(key, None)
        else:
            self.snapshot.controllers[key] = selector

    def _controller_deleted(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = _meta(obj)
        self.snapshot.controllers.pop((kind, meta.get("namespace") or "default",
                                       meta.get("name", "")), None)
