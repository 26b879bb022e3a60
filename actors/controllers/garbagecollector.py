"""The garbage collector (``pkg/controller/garbagecollector``): deletes objects whose owners are
gone, and carries out foreground and orphan deletion — the actor shell around
``collect_garbage``.

What it is: the GraphBuilder's view kept in informers — pods, ReplicaSets, Deployments,
StatefulSets, DaemonSets, Jobs, CronJobs, ControllerRevisions, EndpointSlices,
PersistentVolumeClaims, ReplicationControllers, Services and Nodes — each indexed by uid and by
the uids its ownerReferences name. Keys are object uids, enqueued as the GraphBuilder
enqueues ``attemptToDelete``: an object added with owners or already being deleted; an object
whose ownerReferences, finalizers or deletionTimestamp changed (with its old and new owners: a
foreground owner may be waiting for it); and, when an object goes away, its dependents (their
owner is gone) and its owners (one may be waiting for it).

``reconcile(uid)`` runs the pure logic on the *relevant subgraph*, not the whole graph: the
object, every owner up the chain (an object's fate depends on its owners), and, for an object
being deleted with the ``orphan`` or ``foregroundDeletion`` finalizer or waiting on a foreground
owner, its dependents — closed under the same rules. Everything the logic reads about an
object in that set is in the set, so the plan is what a whole-graph pass would plan for them.

Absent owners are verified live, as the GC's "virtual nodes" are: before deleting an object
or dropping an owner reference because an owner is not in the caches, the owner is fetched by
name; if it exists with that uid (a cache that lags — the dependent's watch event overtook
the owner's — or a kind without an informer here, such as a mirror pod's Node seen before
its informer synced), the action is dropped. Deletes carry the uid as a precondition.

Concurrency model: the manager's actor; 20 workers (``--concurrent-gc-syncs``); two workers
may plan overlapping subgraphs, and the preconditions make a repeated write harmless.
Invariants: see ``_base``; nothing is deleted on the word of a cache alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.api import ApiError, UnknownResource, by_kind, lookup
from actors.client import Result, SharedInformer

from ._base import Controller, InformerSpec, obj_of, register_controller
from ._logic_gc import FOREGROUND, ORPHAN, collect_garbage
from ._plan import Delete, Patch, Plan, meta_of, uid_of

__all__ = ["GarbageCollector", "GC_RESOURCES"]

GC_RESOURCES = ("pods", "replicasets", "deployments", "statefulsets", "daemonsets", "jobs",
                "cronjobs", "controllerrevisions", "endpointslices", "persistentvolumeclaims",
                "replicationcontrollers", "services", "nodes")
UID_INDEX = "gc_uid"
OWNER_INDEX = "gc_owner_uids"


def _index_uid(obj: Mapping[str, Any]) -> list[str]:
    uid = uid_of(obj)
    return [uid] if uid else []


def _index_owners(obj: Mapping[str, Any]) -> list[str]:
    return [r["uid"] for r in meta_of(obj).get("ownerReferences") or () if r.get("uid")]


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(meta_of(obj).get("finalizers") or ())


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta_of(obj).get("deletionTimestamp"))


@register_controller
class GarbageCollector(Controller):
    name = "garbagecollector"
    component = "garbage-collector-controller"
    service_account = "generic-garbage-collector"
    workers = 20

    def setup(self) -> None:
        self.graph: list[tuple[SharedInformer, str, str]] = []  # informer, apiVersion, kind
        indexers = {UID_INDEX: _index_uid, OWNER_INDEX: _index_owners}
        for resource in GC_RESOURCES:
            try:
                ri = lookup(resource)
            except UnknownResource:
                continue
            inf = self.informer(InformerSpec(resource, indexers=indexers))
            inf.add_event_handler(on_add=self._added, on_update=self._updated, on_delete=self._deleted)
            self.graph.append((inf, ri.api_version, ri.kind))

    # ---- the graph builder ----------------------------------------------------------------------
    def _added(self, obj: Mapping[str, Any]) -> None:
        if meta_of(obj).get("ownerReferences") or _deleting(obj):
            self._add(uid_of(obj))

    def _updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        mo, mc = meta_of(old), meta_of(cur)
        if (mo.get("ownerReferences") == mc.get("ownerReferences") and mo.get("finalizers") == mc.get("finalizers")
                and bool(mo.get("deletionTimestamp")) == bool(mc.get("deletionTimestamp"))):
            return
        self._add(uid_of(cur))
        for uid in {*_index_owners(old), *_index_owners(cur)}:
            self._add(uid)

    def _deleted(self, obj: Any) -> None:
        obj = obj_of(obj)
        for dep in self._dependents(uid_of(obj)):
            self._add(uid_of(dep))
        for uid in _index_owners(obj):
            self._add(uid)

    def _add(self, uid: str) -> None:
        if uid:
            self.queue.add(uid)

    # ---- lookups --------------------------------------------------------------------------------
    def _find(self, uid: str) -> dict[str, Any] | None:
        """The object with ``uid`` (apiVersion and kind set, as the logic needs them)."""
        for inf, api_version, kind in self.graph:
            found = inf.indexer.by_index(UID_INDEX, uid)
            if found:
                return {**found[0], "apiVersion": api_version, "kind": kind}
        return None

    def _dependents(self, uid: str) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        for inf, _, _ in self.graph:
            out.extend(inf.indexer.by_index(OWNER_INDEX, uid))
        return out

    def subgraph(self, uid: str) -> dict[str, dict[str, Any]]:
        """The objects whose treatment ``uid``'s needs (see the module docstring)."""
        seen: dict[str, dict[str, Any]] = {}
        todo = [uid]
        while todo:
            u = todo.pop()
            if u in seen:
                continue
            obj = self._find(u)
            if obj is None:
                continue
            seen[u] = obj
            todo.extend(_index_owners(obj))
            if self._needs_dependents(obj):
                todo.extend(uid_of(d) for d in self._dependents(u))
        return seen

    def _needs_dependents(self, obj: Mapping[str, Any]) -> bool:
        if _deleting(obj) and {ORPHAN, FOREGROUND} & set(_finalizers(obj)):
            return True
        for ref in meta_of(obj).get("ownerReferences") or ():
            owner = self._find(ref.get("uid") or "")
            if owner is not None and _deleting(owner) and FOREGROUND in _finalizers(owner):
                return True
        return False

    # ---- reconcile ------------------------------------------------------------------------------
    async def reconcile(self, key: Any) -> Result:
        self.counts["reconciles"] += 1
        graph = self.subgraph(key)
        if key not in graph:
            return Result()
        plan = collect_garbage(graph.values())
        if not plan.actions and not plan.events:
            return Result()
        plan = await self._verified(plan, graph)
        return await self.run_plan(key, plan)

    async def _verified(self, plan: Plan, graph: Mapping[str, Mapping[str, Any]]) -> Plan:
        """Drop the actions that rest on an owner the caches lack but the apiserver has: a
        delete of an object whose owners are absent, a patch dropping absent owners."""
        keep = []
        for action in plan.actions:
            target = graph.get(action.ref.uid)
            if target is not None and isinstance(action, Delete | Patch):
                relied = [r for r in _relied_on(action, target) if r.get("uid") not in graph]
                if relied and await self._any_exists(target, relied):
                    continue
            keep.append(action)
        return Plan(actions=tuple(keep), events=plan.events, requeue_after=plan.requeue_after)

    async def _any_exists(self, dependent: Mapping[str, Any], refs: Iterable[Mapping[str, Any]]) -> bool:
        for ref in refs:
            group = str(ref.get("apiVersion") or "").rpartition("/")[0]
            try:
                ri = by_kind(group, str(ref.get("kind") or ""))
            except UnknownResource:
                continue  # a kind the apiserver does not serve cannot exist
            ns = meta_of(dependent).get("namespace") if ri.namespaced else None
            try:
                owner = await self.client.get(ri.resource, str(ref.get("name") or ""), ns)
            except ApiError as e:
                if e.code == 404:
                    continue
                raise
            if uid_of(owner) == ref.get("uid"):
                return True
        return False


def _relied_on(action: Delete | Patch, target: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The owner references whose absence the action assumes."""
    refs = list(meta_of(target).get("ownerReferences") or ())
    if isinstance(action, Delete):
        return refs
    patch = action.patch if isinstance(action.patch, Mapping) else {}
    meta = patch.get("metadata") or {}
    if "ownerReferences" not in meta:
        return []  # a finalizer patch
    remaining = {r.get("uid") for r in meta.get("ownerReferences") or ()}
    return [r for r in refs if r.get("uid") not in remaining]
