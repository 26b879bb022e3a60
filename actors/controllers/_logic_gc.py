"""The garbage collector (``pkg/controller/garbagecollector``) over a whole object graph.

What it is: ``collect_garbage(objects)`` looks at every object's ``ownerReferences`` as the
GC's ``attemptToDeleteItem`` and ``attemptToOrphan`` workers do, and plans:
- background propagation: an object none of whose owners exists any more (or whose owners
  are all dangling) is deleted, with the propagation its own finalizers ask for;
- foreground propagation: an owner being deleted with the ``foregroundDeletion`` finalizer
  gets its dependents deleted (in the foreground too when they have dependents of their
  own) and loses the finalizer once no dependent with ``blockOwnerDeletion`` is left;
- orphan propagation: an owner being deleted with the ``orphan`` finalizer has its
  reference removed from every dependent, then loses the finalizer;
- an object with a live owner keeps it, and only drops references that dangle or point to
  an owner waiting for its dependents.

Concurrency model: none; a pure function of the graph. Kubernetes builds the graph from
informers and double-checks an absent owner with a live GET (the "virtual node"); here the
caller passes caches that have synced, and an owner absent from them is taken as gone.

Invariants: deletes carry the dependent's uid as a precondition (never delete a new object
of the same name); ownerReferences are removed with a JSON merge patch of the remaining
list guarded by the resourceVersion, as the GC does for types without strategic merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._plan import ObjectRef, Plan, PlanBuilder, meta_of, namespace_of, uid_of

__all__ = ["collect_garbage"]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def _ref(obj: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(obj)


def _finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(meta_of(obj).get("finalizers") or ())


def _deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta_of(obj).get("deletionTimestamp"))


def _owner_refs(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(meta_of(obj).get("ownerReferences") or ())


class _Graph:
    def __init__(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self.by_uid = {uid_of(o): o for o in objects if uid_of(o)}
        self.dependents: dict[str, list[Mapping[str, Any]]] = {}
        for obj in self.by_uid.values():
            for ref in _owner_refs(obj):
                self.dependents.setdefault(ref.get("uid", ""), []).append(obj)

    def owner(self, dependent: Mapping[str, Any], ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The owner ``ref`` names, None when it dangles (absent, or in another namespace:
        a namespaced object's owner is in its namespace or cluster-scoped)."""
        owner = self.by_uid.get(ref.get("uid", ""))
        if owner is None or owner.get("kind", ref.get("kind")) != ref.get("kind"):
            return None
        if namespace_of(owner) and namespace_of(owner) != namespace_of(dependent):
            return None
        return owner

    def classify(self, obj: Mapping[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
        """``classifyReferences``: (solid, dangling, waiting for dependents' deletion)."""
        solid, dangling, waiting = [], [], []
        for ref in _owner_refs(obj):
            owner = self.owner(obj, ref)
            if owner is None:
                dangling.append(ref)
            elif _deleting(owner) and FOREGROUND in _finalizers(owner):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    def blocking_dependents(self, owner: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        uid = uid_of(owner)
        return [d for d in self.dependents.get(uid, [])
                if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _owner_refs(d))]


def _patch_owner_refs(b: PlanBuilder, obj: Mapping[str, Any], drop: set[str]) -> None:
    remaining = [dict(r) for r in _owner_refs(obj) if r.get("uid") not in drop]
    patch: dict[str, Any] = {"metadata": {"ownerReferences": remaining or None}}
    if meta_of(obj).get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta_of(obj)["resourceVersion"]
    b.patch(_ref(obj), patch)


def _remove_finalizer(b: PlanBuilder, obj: Mapping[str, Any], finalizer: str) -> None:
    remaining = [f for f in _finalizers(obj) if f != finalizer]
    patch: dict[str, Any] = {"metadata": {"finalizers": remaining or None}}
    if meta_of(obj).get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta_of(obj)["resourceVersion"]
    b.patch(_ref(obj), patch)


def _delete(b: PlanBuilder, obj: Mapping[str, Any], policy: str) -> None:
    b.delete(_ref(obj), propagation_policy=policy, preconditions_uid=uid_of(obj) or None)


def _attempt_to_delete(g: _Graph, b: PlanBuilder, obj: Mapping[str, Any], planned: set[str]) -> None:
    """``attemptToDeleteItem`` for an object that is not itself being deleted."""
    if not _owner_refs(obj) or uid_of(obj) in planned:
        return
    solid, dangling, waiting = g.classify(obj)
    if solid:
        if dangling or waiting:
            _patch_owner_refs(b, obj, {r.get("uid", "") for r in [*dangling, *waiting]})
        return
    planned.add(uid_of(obj))
    if waiting and g.dependents.get(uid_of(obj)):
        _delete(b, obj, "Foreground")  # keep the cascade going down, blocking upwards
    elif ORPHAN in _finalizers(obj):
        _delete(b, obj, "Orphan")
    elif FOREGROUND in _finalizers(obj):
        _delete(b, obj, "Foreground")
    else:
        _delete(b, obj, "Background")


def _process_deleting(g: _Graph, b: PlanBuilder, obj: Mapping[str, Any], planned: set[str]) -> None:
    finalizers = _finalizers(obj)
    uid = uid_of(obj)
    if ORPHAN in finalizers:  # attemptToOrphan: dependents first, then the finalizer
        for dep in g.dependents.get(uid, []):
            _patch_owner_refs(b, dep, {uid})
        _remove_finalizer(b, obj, ORPHAN)
    elif FOREGROUND in finalizers:  # processDeletingDependentsItem
        blocking = g.blocking_dependents(obj)
        if not blocking:
            _remove_finalizer(b, obj, FOREGROUND)
        for dep in blocking:
            if not _deleting(dep):
                _attempt_to_delete(g, b, dep, planned)


def collect_garbage(objects: Iterable[Mapping[str, Any]]) -> Plan:
    """Every object in the graph (with ``apiVersion`` and ``kind``), one pass."""
    g = _Graph(objects)
    b = PlanBuilder()
    planned: set[str] = set()
    for uid in sorted(g.by_uid):
        obj = g.by_uid[uid]
        if _deleting(obj):
            _process_deleting(g, b, obj, planned)
        else:
            _attempt_to_delete(g, b, obj, planned)
    return b.build()
