"""The ReplicaSet controller (``pkg/controller/replicaset``): keeps a ReplicaSet's pods at
``spec.replicas`` — the actor shell around ``reconcile_replicaset``.

What it is: informers on ReplicaSets and pods. ReplicaSet events enqueue the set's key; pod
events enqueue the pod's controller (resolved by name and checked by uid) and lower its
expectations — a new pod is a creation observed, a deleted pod or one that just got a
deletionTimestamp a deletion observed; an orphan pod (or one whose labels or owner changed)
enqueues every ReplicaSet of its namespace whose selector matches, so it can be adopted.
``plan(key)`` hands the logic the set, its own pods, its siblings' (same Deployment: they rank
deletions by node) and the namespace's orphans, whether expectations are satisfied, and the
previous sync's write error (the ReplicaFailure condition). Pods are created in slow-start
batches, named by ``generateName`` ``<rs>-`` (five random characters from the apiserver),
each announced as ``SuccessfulCreate`` "Created pod: <name>".

``ReplicaSetLikeController`` is shared with ``replication`` (ReplicationControllers run the
same code in Kubernetes).

Concurrency model: the manager's actor; 5 workers (``--concurrent-replicaset-syncs``).
Invariants: see ``_base``; expectations are recorded before any pod write is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from actors.api import selector_from_api
from actors.client import OWNER_UID_INDEX, meta_namespace_key

from ._base import (
    CONTROLLER_INDEX,
    Controller,
    InformerSpec,
    index_by_controller_or_orphan,
    register_controller,
)
from ._logic_replicaset import reconcile_replicaset
from ._plan import Plan, labels_of, meta_of, namespace_of, uid_of
from ._workloads import PodEvents

__all__ = ["ReplicaSetController", "ReplicaSetLikeController"]

POD_INDEXERS = {CONTROLLER_INDEX: index_by_controller_or_orphan}


class ReplicaSetLikeController(PodEvents, Controller):
    resource: ClassVar[str] = "replicasets"
    kind: ClassVar[str] = "ReplicaSet"
    uses_expectations = True
    workers = 5

    def setup(self) -> None:
        self.owner_kind = self.kind
        self.owners = self.sets = self.informer(self.resource)
        self.pods = self.informer(InformerSpec("pods", indexers=POD_INDEXERS))
        self.sets.add_event_handler(on_add=self.enqueue, on_update=self._set_updated,
                                    on_delete=self._set_deleted)
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)

    # ---- selectors -------------------------------------------------------------------------------
    def selector(self, owner: Mapping[str, Any]) -> Any:
        return selector_from_api((owner.get("spec") or {}).get("selector"))

    def _selector_empty(self, owner: Mapping[str, Any]) -> bool:
        return not (owner.get("spec") or {}).get("selector")

    def matching_owners(self, pod: Mapping[str, Any]) -> list[str]:
        """``getPodReplicaSets``: sets of the pod's namespace selecting it (never an empty
        selector: that would select everything)."""
        labels = labels_of(pod)
        out = []
        for owner in self.sets.indexer.by_index("namespace", namespace_of(pod)):
            if not self._selector_empty(owner) and self.selector(owner).matches(labels):
                out.append(meta_namespace_key(owner))
        return out

    # ---- handlers -------------------------------------------------------------------------------
    def _set_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.enqueue(new)

    def _set_deleted(self, obj: Any) -> None:
        key = meta_namespace_key(obj)
        if self.expectations is not None:
            self.expectations.forget(key)
        self.queue.add(key)

    # ---- reconcile ------------------------------------------------------------------------------
    def candidate_pods(self, owner: Mapping[str, Any], siblings: list[Any]) -> list[Any]:
        """The pods the logic may look at: its own, its siblings', the namespace's orphans
        (the logic ignores pods of other controllers, so the answer is the same as with all
        of the namespace's pods)."""
        idx = self.pods.indexer
        out = list(idx.by_index(CONTROLLER_INDEX, uid_of(owner)))
        for s in siblings:
            out.extend(idx.by_index(CONTROLLER_INDEX, uid_of(s)))
        out.extend(idx.by_index(CONTROLLER_INDEX, f"orphan/{namespace_of(owner)}"))
        return out

    def siblings(self, owner: Mapping[str, Any]) -> list[Any]:
        """Sets with the same controller (a Deployment's other ReplicaSets)."""
        for ref in meta_of(owner).get("ownerReferences") or ():
            if ref.get("controller") and ref.get("uid"):
                return [s for s in self.sets.indexer.by_index(OWNER_UID_INDEX, ref["uid"])
                        if uid_of(s) != uid_of(owner)]
        return []

    def plan(self, key: Any) -> Plan | None:
        owner = self.sets.indexer.get_by_key(key)
        if owner is None:
            if self.expectations is not None:
                self.expectations.forget(key)
            return None
        siblings = self.siblings(owner)
        return self.sync(owner, self.candidate_pods(owner, siblings), siblings, key)

    def sync(self, owner: Mapping[str, Any], pods: list[Any], siblings: list[Any], key: str) -> Plan:
        return reconcile_replicaset(owner, pods, now=self.now(), sibling_replica_sets=siblings,
                                    expectations_satisfied=self.expectations_satisfied(key),
                                    manage_error=self.last_error.get(key))


@register_controller
class ReplicaSetController(ReplicaSetLikeController):
    name = "replicaset"
    component = "replicaset-controller"
    service_account = "replicaset-controller"
