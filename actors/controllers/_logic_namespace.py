"""Namespace deletion (``pkg/controller/namespace``, ``deletion/namespaced_resources_deleter.go``).

What it is: ``reconcile_namespace(namespace, contents, *, now)`` is one
``NamespacedResourcesDeleter.Delete``: a namespace being deleted goes to phase Terminating,
every object in it is deleted, and while anything remains the namespace carries Kubernetes'
conditions ("Some resources are remaining: pods. has 2 resource instances", "Some content
in the namespace has finalizers remaining: ...") and the key is requeued after half the
estimate plus one second (pods' grace periods, else 15 s); once the namespace is empty, the
``kubernetes`` finalizer is removed through the ``finalize`` subresource, after which the
API server removes the namespace.

Concurrency model: none; a pure function. ``contents`` are the namespace's objects of every
namespaced resource (with ``apiVersion`` and ``kind``), as discovery plus lists give them.

Invariants: nothing happens to a namespace that is not being deleted or that has no
``kubernetes`` finalizer left; objects already being deleted are not deleted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.api import UnknownResource, by_kind

from ._plan import ObjectRef, Plan, PlanBuilder, deep_copy, format_time, meta_of

__all__ = ["reconcile_namespace"]

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15
_CONDITIONS = (  # type, ok reason, ok message
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    ("NamespaceDeletionContentFailure", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
)


def _resource(obj: Mapping[str, Any]) -> str:
    """``<resource>.<group>`` as the conditions print it ("pods.", "deployments.apps")."""
    api_version = str(obj.get("apiVersion") or "v1")
    group = api_version.rpartition("/")[0]
    kind = str(obj.get("kind") or "")
    try:
        resource = by_kind(group, kind).resource
    except UnknownResource:
        resource = kind.lower() + "s"
    return f"{resource}.{group}"


def _estimate(contents: Iterable[Mapping[str, Any]]) -> int:
    """``estimateGracefulTermination`` for pods, else the finalizer estimate."""
    estimate = 0
    for obj in contents:
        if obj.get("kind") == "Pod":
            grace = meta_of(obj).get("deletionGracePeriodSeconds")
            if grace is None:
                grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            estimate = max(estimate, int(grace))
    return estimate or FINALIZER_ESTIMATE_SECONDS


def _conditions(contents: list[Mapping[str, Any]], old: list[Mapping[str, Any]], now: float) -> list[dict[str, Any]]:
    by_resource: dict[str, int] = {}
    by_finalizer: dict[str, int] = {}
    for obj in contents:
        by_resource[_resource(obj)] = by_resource.get(_resource(obj), 0) + 1
        for f in meta_of(obj).get("finalizers") or ():
            by_finalizer[f] = by_finalizer.get(f, 0) + 1
    failing = {}
    if by_resource:
        failing["NamespaceContentRemaining"] = ("SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
            sorted(f"{r} has {n} resource instances" for r, n in by_resource.items())))
    if by_finalizer:
        failing["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + ", ".join(
                sorted(f"{f} in {n} resource instances" for f, n in by_finalizer.items())))
    previous = {c.get("type"): c for c in old}
    out = []
    for type_, reason, message in _CONDITIONS:
        status, (reason, message) = ("True", failing[type_]) if type_ in failing else ("False", (reason, message))
        cond = {"type": type_, "status": status, "lastTransitionTime": format_time(now),
                "reason": reason, "message": message}
        prev = previous.get(type_)
        if prev is not None and (prev.get("status"), prev.get("reason"), prev.get("message")) == (status, reason, message):
            cond = dict(prev)
        out.append(cond)
    return out


def reconcile_namespace(namespace: Mapping[str, Any], contents: Iterable[Mapping[str, Any]], *,
                        now: float) -> Plan:
    b = PlanBuilder()
    if not meta_of(namespace).get("deletionTimestamp"):
        return b.build()
    ref = ObjectRef.of(namespace, api_version="v1", kind="Namespace")
    name = ref.name
    contents = [o for o in contents if (meta_of(o).get("namespace") or "") == name]
    finalizers = list((namespace.get("spec") or {}).get("finalizers") or ())
    status = deep_copy(dict(namespace.get("status") or {}))
    status["phase"] = "Terminating"
    if FINALIZER in finalizers:
        status["conditions"] = _conditions(contents, list(status.get("conditions") or ()), now)
    if status != (namespace.get("status") or {}):
        b.update(ref, {**deep_copy(dict(namespace)), "status": status}, subresource="status")
    if FINALIZER not in finalizers:
        return b.build()
    for obj in sorted(contents, key=lambda o: (_resource(o), meta_of(o).get("name") or "")):
        if not meta_of(obj).get("deletionTimestamp"):
            b.delete(ObjectRef.of(obj), propagation_policy="Background")
    if contents:
        b.requeue_after(_estimate(contents) // 2 + 1)
        return b.build()
    body = {**deep_copy(dict(namespace)), "status": status}
    body["spec"] = {**deep_copy(dict(namespace.get("spec") or {})),
                    "finalizers": [f for f in finalizers if f != FINALIZER]}
    b.update(ref, body, subresource="finalize")
    return b.build()
