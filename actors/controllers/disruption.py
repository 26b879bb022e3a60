"""The disruption controller (``pkg/controller/disruption``): keeps every PodDisruptionBudget's
status — what the eviction subresource consults — up to date; the actor shell around
``reconcile_disruption_budget`` and ``reconcile_stale_pod_disruption``.

What it is: informers on PodDisruptionBudgets, pods, ReplicationControllers, ReplicaSets,
Deployments and StatefulSets (the last four are only read: the scale of a pod's controller,
for percentages and maxUnavailable). Keys:
- ``namespace/name`` of a budget: enqueued on its own add, update and delete, and on any
  add, update or delete of a pod it selects. A pod selected by several budgets enqueues the
  first (by name) and gets a Warning ``MultiplePodDisruptionBudgets`` event, as Kubernetes
  ("Chose ... arbitrarily"). A budget whose ``disruptedPods`` entries will expire asks to be
  looked at again then (the recheck queue);
- ``("stale-pod", namespace/name)`` for a pod with a DisruptionTarget condition that nothing
  deletes: looked at when the condition turns 2 minutes old, then reset to False.
Events are recorded as Kubernetes' disruption controller records them, from the source
component ``controllermanager``.

Concurrency model: the manager's actor; 2 workers (kube-controller-manager runs the budget
worker and the stale-pod worker side by side); a key is never reconciled twice at once.
Invariants: see ``_base``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from actors.api import SelectorError, selector_from_api
from actors.client import meta_namespace_key

from ._base import Controller, obj_of, register_controller
from ._logic_disruption import (
    reconcile_disruption_budget,
    reconcile_stale_pod_disruption,
    stale_disruption_wait,
)
from ._plan import WARNING, Event, ObjectRef, Plan, labels_of, name_of, namespace_of

__all__ = ["DisruptionController"]

STALE = "stale-pod"


@register_controller
class DisruptionController(Controller):
    name = "disruption"
    component = "controllermanager"
    service_account = "disruption-controller"
    workers = 2

    def setup(self) -> None:
        self.pdbs = self.informer("poddisruptionbudgets")
        self.pods = self.informer("pods")
        self.owners = {"ReplicationController": self.informer("replicationcontrollers"),
                       "ReplicaSet": self.informer("replicasets"),
                       "Deployment": self.informer("deployments"),
                       "StatefulSet": self.informer("statefulsets")}
        self.handle(self.pdbs)
        self.pods.add_event_handler(on_add=self._pod_changed,
                                    on_update=lambda _old, new: self._pod_changed(new),
                                    on_delete=lambda obj: self._enqueue_budget_of(obj_of(obj)))

    # ---- handlers ---------------------------------------------------------------------------
    def _budgets_of(self, pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """``GetPodPodDisruptionBudgets``: the budgets of the pod's namespace selecting it."""
        labels = labels_of(pod)
        out = []
        for pdb in self.pdbs.indexer.by_index("namespace", namespace_of(pod)):
            try:
                selector = selector_from_api((pdb.get("spec") or {}).get("selector"))
            except SelectorError:
                continue
            if selector.matches(labels):
                out.append(pdb)
        return sorted(out, key=name_of)

    def _enqueue_budget_of(self, pod: Mapping[str, Any]) -> None:
        budgets = self._budgets_of(pod)
        if not budgets:
            return
        if len(budgets) > 1:
            q = json.dumps
            self.recorder.record(Event(
                type=WARNING, reason="MultiplePodDisruptionBudgets",
                message=f"Pod {q(namespace_of(pod))}/{q(name_of(pod))} matches multiple "
                        f"PodDisruptionBudgets.  Chose {q(name_of(budgets[0]))} arbitrarily.",
                involved=ObjectRef.of(pod, api_version="v1", kind="Pod")))
        self.enqueue(budgets[0])

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        self._enqueue_budget_of(pod)
        wait = stale_disruption_wait(pod, self.now())
        if wait is not None:
            self.queue.add_after((STALE, meta_namespace_key(pod)), wait)

    # ---- reconcile ----------------------------------------------------------------------------
    def _lookup(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        informer = self.owners.get(kind)
        return None if informer is None else informer.indexer.get_by_key(f"{namespace}/{name}")

    def plan(self, key: Any) -> Plan | None:
        if isinstance(key, tuple):
            pod = self.pods.indexer.get_by_key(key[1])
            return None if pod is None else reconcile_stale_pod_disruption(pod, now=self.now())
        pdb = self.pdbs.indexer.get_by_key(key)
        if pdb is None:
            return None
        pods = self.pods.indexer.by_index("namespace", namespace_of(pdb))
        return reconcile_disruption_budget(pdb, pods, lookup=self._lookup, now=self.now())
