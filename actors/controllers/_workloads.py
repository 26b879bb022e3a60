"""Shell pieces the workload controllers (DaemonSet, Job, StatefulSet) and the PV binder share:
writes of one plan chained by resourceVersion, and pod handlers that resolve a pod's
controller.

What it is:
- ``ChainedController``: a ``Controller`` whose plan execution follows rule 5 of ``_plan``: a
  later ``Update`` of an object already written in the same plan carries the resourceVersion
  that earlier write returned, as Go keeps the object ``Update`` returned and writes it again
  (the Job controller writes its status before and after removing pod finalizers; the PV
  binder writes a volume, then its status). Without it the second write would be refused as
  a Conflict every time.
- ``PodOwnerController``: informers on pods indexed by controller uid; pod events choose keys
  exactly as ``replicaset`` does (the controller owner resolved by name and checked by uid,
  expectations lowered on add and on delete or when a deletionTimestamp appears; an orphan
  enqueues the owners of its namespace whose selector matches it, for adoption).

Concurrency model: the manager's actor. The chain of resourceVersions lives in a context
variable set per ``execute``: each worker task runs its own plan, and the concurrent writes
of one batch (tasks created inside it) share that plan's chain.

Invariants: only ``Update`` bodies are rewritten, and only their ``metadata.resourceVersion``;
a write without a resourceVersion in its answer leaves the chain as it was.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from actors.client import SharedInformer, meta_namespace_key

from ._base import (
    CONTROLLER_INDEX,
    Controller,
    InformerSpec,
    index_by_controller_or_orphan,
    obj_of,
    owners_selecting,
)
from ._plan import Action, Create, Patch, Plan, Update, labels_of, meta_of, namespace_of, uid_of

__all__ = ["POD_INDEXERS", "ChainedController", "PodOwnerController"]

POD_INDEXERS = {CONTROLLER_INDEX: index_by_controller_or_orphan}  # beside the standard ones

_Ident = tuple[str, str, str]
_CHAIN: contextvars.ContextVar[dict[_Ident, str] | None] = contextvars.ContextVar(
    "kubetwin_plan_chain", default=None)


def _ident(action: Action) -> _Ident:
    return (action.ref.kind, action.ref.namespace, action.ref.name)


class ChainedController(Controller):
    """A controller whose plans chain same-object writes (see the module docstring)."""

    async def execute(self, plan: Plan, *, key: Any = None) -> None:
        token = _CHAIN.set({})
        try:
            await super().execute(plan, key=key)
        finally:
            _CHAIN.reset(token)

    async def _write(self, action: Action) -> dict[str, Any] | None:
        chain = _CHAIN.get()
        ident = _ident(action)
        if chain is not None and isinstance(action, Update) and ident in chain:
            meta = {**(action.body.get("metadata") or {}), "resourceVersion": chain[ident]}
            action = msgspec.structs.replace(action, body={**action.body, "metadata": meta})
        result = await super()._write(action)
        rv = meta_of(result).get("resourceVersion") if isinstance(result, Mapping) else None
        if chain is not None and rv and action.ref.name and isinstance(action, Create | Update | Patch):
            chain[ident] = str(rv)
        return result


class PodEvents:
    """Pod informer handlers of a controller whose pods name it as their controller
    (ReplicaSet, ReplicationController, and every ``PodOwnerController``): a pod's event
    enqueues its owner's key (expectations observed), an orphan's the owners selecting it.
    The class using it provides ``owner_kind``, ``owners`` (the owners' informer),
    ``matching_owners(pod)`` and the ``Controller`` methods."""

    owner_kind: str
    owners: SharedInformer

    def _pod_added(self, pod: Mapping[str, Any]) -> None:
        if meta_of(pod).get("deletionTimestamp"):
            self._pod_deleted(pod)  # created already being deleted: count it gone
            return
        key = self.resolve_controller(pod, self.owner_kind, self.owners)
        if key is not None:
            self.creation_observed(key)
            self.queue.add(key)
        elif not _has_controller(pod):
            for k in self.matching_owners(pod):
                self.queue.add(k)

    def _pod_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta_of(old).get("resourceVersion") == meta_of(cur).get("resourceVersion"):
            return
        if meta_of(cur).get("deletionTimestamp") and not meta_of(old).get("deletionTimestamp"):
            key = self.resolve_controller(cur, self.owner_kind, self.owners)
            if key is not None:
                self.deletion_observed(key, meta_namespace_key(cur))
        old_key = self.resolve_controller(old, self.owner_kind, self.owners)
        cur_key = self.resolve_controller(cur, self.owner_kind, self.owners)
        if old_key is not None and old_key != cur_key:
            self.queue.add(old_key)
        if cur_key is not None:
            self.queue.add(cur_key)
        elif not _has_controller(cur) and (labels_of(old) != labels_of(cur) or old_key is not None):
            for k in self.matching_owners(cur):
                self.queue.add(k)

    def _pod_deleted(self, obj: Any) -> None:
        pod = obj_of(obj)
        key = self.resolve_controller(pod, self.owner_kind, self.owners)
        if key is None:
            return
        self.deletion_observed(key, meta_namespace_key(pod))
        self.queue.add(key)


class PodOwnerController(PodEvents, ChainedController):
    """Pods choose their controller's key (see the module docstring). Subclasses set
    ``owner_kind`` and assign ``self.owners`` (the owners' informer) before ``watch_pods``."""

    owner_kind: ClassVar[str] = ""
    owners: SharedInformer
    pods: SharedInformer

    def watch_pods(self) -> SharedInformer:
        self.pods = self.informer(InformerSpec("pods", indexers=POD_INDEXERS))
        self.pods.add_event_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                    on_delete=self._pod_deleted)
        return self.pods

    def pods_of(self, owner: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The owner's pods and its namespace's orphans (the logic claims or ignores them)."""
        idx = self.pods.indexer
        return [*idx.by_index(CONTROLLER_INDEX, uid_of(owner)),
                *idx.by_index(CONTROLLER_INDEX, f"orphan/{namespace_of(owner)}")]

    def matching_owners(self, pod: Mapping[str, Any]) -> list[str]:
        """Owners of the pod's namespace whose (non-empty) selector selects it."""
        return owners_selecting(self.owners, pod)

    def owner_deleted(self, obj: Any) -> None:
        key = meta_namespace_key(obj)
        if self.expectations is not None:
            self.expectations.forget(key)
        self.queue.add(key)


def _has_controller(obj: Mapping[str, Any]) -> bool:
    return any(r.get("controller") for r in meta_of(obj).get("ownerReferences") or ())
