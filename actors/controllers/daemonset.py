"""The DaemonSet controller (``pkg/controller/daemon``): one pod per eligible node — the actor
shell around ``reconcile_daemonset``.

What it is: informers on DaemonSets, nodes, pods and ControllerRevisions. DaemonSet events
enqueue the set; pod events enqueue the pod's controlling DaemonSet and lower its
expectations (``_workloads.PodOwnerController``); a ControllerRevision enqueues its owner. A
node added enqueues the sets that should run on it; a node updated enqueues the sets for
which ``NodeShouldRunDaemonPod`` changed (labels, taints: ``updateNode``); a node deleted
enqueues every set (Kubernetes leaves that to the pod GC's deletes; enqueueing at once keeps
``desiredNumberScheduled`` current). ``plan(key)`` hands the logic the set, the nodes, its
pods and the namespace's orphans, its revisions, whether the expectations are satisfied,
and the failed-pod back-off Kubernetes keeps in memory (``failedPodsBackoff``, per set and
node, 1 s doubling to 15 min): a failed daemon pod is deleted (and so recreated) no more
often than that. It also hands the controller's ``DaemonSetMemo`` (what the last sync of
each set read of its nodes and pods), so a sync that finds little changed is cheap; the
plan is the same without it. Pods are created as ``<ds>-<5 random>`` with a required node affinity on
``metadata.name`` (the scheduler places them), announced as ``SuccessfulCreate``
"Created pod: <name>"; updates roll with ``maxUnavailable`` (or ``maxSurge``).

Concurrency model: the manager's actor; 2 workers (``--concurrent-daemonset-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import obj_of, register_controller
from ._logic_daemonset import DaemonSetMemo, _same, node_should_run_daemon_pod, reconcile_daemonset
from ._plan import Delete, Plan, labels_of, meta_of, name_of, namespace_of, uid_of
from ._workloads import PodOwnerController

__all__ = ["DaemonSetController", "FailedPodBackoff"]


class FailedPodBackoff:
    """``flowcontrol.Backoff`` as ``failedPodsBackoff`` uses it: per key, ``initial``
    doubling to ``cap`` on every ``next``; an entry idle for twice the cap starts over."""

    def __init__(self, initial: float = 1.0, cap: float = 900.0) -> None:
        self.initial, self.cap = initial, cap
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (duration, last update)

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.cap:
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.cap), now)

    def until(self, prefix: str) -> dict[str, float]:
        """Node name -> end of its back-off, for the keys ``<prefix><node>``."""
        return {k[len(prefix):]: last + d for k, (d, last) in self._entries.items() if k.startswith(prefix)}

    def forget(self, prefix: str) -> None:
        for k in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[k]


@register_controller
class DaemonSetController(PodOwnerController):
    name = "daemonset"
    component = "daemonset-controller"
    service_account = "daemon-set-controller"
    owner_kind = "DaemonSet"
    uses_expectations = True
    workers = 2

    def setup(self) -> None:
        self.failed_backoff = FailedPodBackoff()
        self.memo = DaemonSetMemo()  # this controller's own: never shared between simulations
        self.owners = self.sets = self.informer("daemonsets")
        self.nodes = self.informer("nodes")
        self.revisions = self.informer("controllerrevisions")
        self.sets.add_event_handler(on_add=self.enqueue, on_update=lambda _old, new: self.enqueue(new),
                                    on_delete=self._set_deleted)
        self.nodes.add_event_handler(on_add=self._node_added, on_update=self._node_updated,
                                     on_delete=lambda _obj: self._enqueue_all())
        self.revisions.add_event_handler(on_add=self._revision_changed,
                                         on_update=lambda _old, new: self._revision_changed(new),
                                         on_delete=self._revision_changed)
        self.watch_pods()

    # ---- handlers ---------------------------------------------------------------------------------
    def _set_deleted(self, obj: Any) -> None:
        self.failed_backoff.forget(f"{uid_of(obj_of(obj))}/")
        self.memo.forget(uid_of(obj_of(obj)))
        self.owner_deleted(obj)

    def _enqueue_all(self) -> None:
        for ds in self.sets.indexer.list():
            self.enqueue(ds)

    def _node_added(self, node: Mapping[str, Any]) -> None:
        for ds in self.sets.indexer.list():
            if node_should_run_daemon_pod(node, ds)[0]:
                self.enqueue(ds)

    def _node_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta_of(old).get("resourceVersion") == meta_of(cur).get("resourceVersion"):
            return
        if (_same(name_of(old), name_of(cur)) and _same(labels_of(old), labels_of(cur))
                and _same((old.get("spec") or {}).get("taints"), (cur.get("spec") or {}).get("taints"))):
            return  # a status update: node_should_run_daemon_pod reads only name, labels, taints
        for ds in self.sets.indexer.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(cur, ds):
                self.enqueue(ds)

    def _revision_changed(self, obj: Any) -> None:
        key = self.resolve_controller(obj_of(obj), "DaemonSet", self.sets)
        if key is not None:
            self.queue.add(key)

    # ---- reconcile ------------------------------------------------------------------------------
    def plan(self, key: Any) -> Plan | None:
        ds = self.sets.indexer.get_by_key(key)
        if ds is None:
            if self.expectations is not None:
                self.expectations.forget(key)
            return None
        prefix = f"{uid_of(ds)}/"
        now = self.now()
        revisions = self.revisions.indexer.by_index("namespace", namespace_of(ds))
        plan = reconcile_daemonset(ds, self.nodes.indexer.list(), self.pods_of(ds), revisions, now=now,
                                   expectations_satisfied=self.expectations_satisfied(key),
                                   failed_pod_backoff_until=self.failed_backoff.until(prefix),
                                   memo=self.memo)
        self._note_failed_deletes(plan, prefix, now)
        return plan

    def _note_failed_deletes(self, plan: Plan, prefix: str, now: float) -> None:
        """A failed daemon pod about to be deleted starts (or doubles) its node's back-off."""
        for action in plan.actions:
            if not isinstance(action, Delete) or action.ref.kind != "Pod":
                continue
            pod = self.pods.indexer.get_by_key(action.ref.key())
            if pod is not None and (pod.get("status") or {}).get("phase") == "Failed":
                node = (pod.get("spec") or {}).get("nodeName") or ""
                self.failed_backoff.next(prefix + node, now)

