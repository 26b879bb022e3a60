"""The StatefulSet controller (``pkg/controller/statefulset``): pods with stable names, storage
and network identity — the actor shell around ``reconcile_statefulset``.

What it is: informers on StatefulSets, pods, ControllerRevisions and PersistentVolumeClaims.
StatefulSet events enqueue the set; pod events enqueue the pod's controlling set (an orphan
enqueues the sets of its namespace selecting it, for adoption); a ControllerRevision
enqueues its owner. The claims informer is only read: the logic creates a pod's claims
``<claim>-<set>-<ordinal>`` before the pod, and never deletes them (they outlive the pods,
the default ``Retain`` retention policy). ``plan(key)`` hands the logic the set, its pods and
the namespace's orphans, its namespace's revisions and claims. Pods are named
``<set>-<ordinal>`` with hostname = the pod name and subdomain = ``serviceName`` (the
headless Service gives them their DNS names); OrderedReady creates them one at a time,
each once the previous one is Running and Ready, and removes them from the highest
ordinal; a RollingUpdate replaces them from the highest ordinal down to the partition.
Events use Kubernetes' wording: "create Pod web-0 in StatefulSet web successful".

Claims it created are assumed to exist until the claims informer shows them (as the
scheduler assumes its bindings): a pod still Pending has its missing claims created on every
sync (``createMissingPersistentVolumeClaims``), and a cache that lags behind the create would
otherwise fail the sync with AlreadyExists.

Concurrency model: the manager's actor; 5 workers (``--concurrent-statefulset-syncs``).
Like Kubernetes' controller it keeps no expectations: it creates pods by name, so a sync
from a stale pod cache can only fail with AlreadyExists and is retried.
Invariants: see ``_base``.
"""

from __future__ import annotations

from typing import Any

from actors.client import meta_namespace_key

from ._base import obj_of, register_controller
from ._logic_statefulset import reconcile_statefulset
from ._plan import Action, Create, Plan, namespace_of
from ._workloads import PodOwnerController

__all__ = ["StatefulSetController"]


@register_controller
class StatefulSetController(PodOwnerController):
    name = "statefulset"
    component = "statefulset-controller"
    service_account = "statefulset-controller"
    owner_kind = "StatefulSet"
    workers = 5

    def setup(self) -> None:
        self.owners = self.sets = self.informer("statefulsets")
        self.revisions = self.informer("controllerrevisions")
        self.claims = self.informer("persistentvolumeclaims")
        self.assumed_claims: dict[str, str] = {}  # "<ns>/<name>" -> namespace, created, not yet seen
        self.claims.add_event_handler(on_add=lambda pvc: self.assumed_claims.pop(meta_namespace_key(pvc), None))
        self.handle(self.sets)
        self.revisions.add_event_handler(on_add=self._revision_changed,
                                         on_update=lambda _old, new: self._revision_changed(new),
                                         on_delete=self._revision_changed)
        self.watch_pods()

    def _revision_changed(self, obj: Any) -> None:
        key = self.resolve_controller(obj_of(obj), "StatefulSet", self.sets)
        if key is not None:
            self.queue.add(key)

    def plan(self, key: Any) -> Plan | None:
        sts = self.sets.indexer.get_by_key(key)
        if sts is None:
            return None
        ns = namespace_of(sts)
        claims = [*self.claims.indexer.by_index("namespace", ns),
                  *({"metadata": {"name": k.partition("/")[2], "namespace": n}}
                    for k, n in self.assumed_claims.items() if n == ns)]
        return reconcile_statefulset(sts, self.pods_of(sts), self.revisions.indexer.by_index("namespace", ns),
                                     claims, now=self.now())

    async def _write(self, action: Action) -> dict[str, Any] | None:
        result = await super()._write(action)
        if isinstance(action, Create) and action.ref.kind == "PersistentVolumeClaim":
            key = action.ref.key()
            if self.claims.indexer.get_by_key(key) is None:
                self.assumed_claims[key] = action.ref.namespace
        return result
