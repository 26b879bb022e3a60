"""Per-resource registry strategies: what the apiserver does to an object on create, update,
status update and delete beyond generic storage (``pkg/registry/*/strategy.go``).

What it is, as Kubernetes does it:
- create (``rest.BeforeCreate`` + ``PrepareForCreate``): system fields (uid,
  creationTimestamp) set, deletion fields cleared, ``generation`` = 1 for kinds that track
  it, and the status reset for kinds whose status belongs to controllers (a Pod starts
  ``Pending`` with its QoS class, a Namespace ``Active``, a Deployment with no status);
- update (``rest.BeforeUpdate`` + ``PrepareForUpdate``): generation, uid, creation and
  deletion timestamps cannot be changed by a client; for kinds with a status subresource
  the status is kept (it changes only through ``/status``); ``generation`` is bumped when
  the spec changes (for Deployments also when annotations change, since they are copied to
  ReplicaSets);
- status update (``statusStrategy``): the stored object with only ``status`` taken from the
  request (``ResetObjectMetaForStatus``);
- delete: which kinds delete gracefully (pods: ``CheckGracefulDelete``), which return the
  deleted object rather than a Status, which may be created by an update.

Concurrency model: none; pure functions over dicts. Inputs are never mutated.
"""

from __future__ import annotations

from typing import Any

from actors.api import ResourceInfo

from ._objects import get_meta
from ._patch import json_copy, json_equal

__all__ = [
    "ALLOW_CREATE_ON_UPDATE",
    "GENERATION",
    "RETURN_DELETED_OBJECT",
    "TTL_SECONDS",
    "grace_period_for",
    "has_status",
    "prepare_for_create",
    "prepare_for_status_update",
    "prepare_for_update",
    "qos_class",
]

# Kinds whose strategies set metadata.generation (pods since Kubernetes 1.33).
GENERATION = frozenset({"pods", "deployments", "replicasets", "statefulsets", "daemonsets",
                        "jobs", "cronjobs", "replicationcontrollers", "poddisruptionbudgets"})
# AllowCreateOnUpdate() == true: a PUT of a missing object creates it.
ALLOW_CREATE_ON_UPDATE = frozenset({"events", "endpoints", "roles", "rolebindings",
                                    "clusterroles", "clusterrolebindings"})
# Stores built with ReturnDeletedObject: a DELETE answers with the object, not a Status.
RETURN_DELETED_OBJECT = frozenset({"pods", "serviceaccounts", "persistentvolumes",
                                   "persistentvolumeclaims", "services", "namespaces"})
# Objects stored under an etcd lease (the events registry's TTL, --event-ttl=1h).
TTL_SECONDS = {"events": 3600}
# Kinds whose status a client cannot set on create (controllers own it).
_RESET_STATUS = frozenset({"deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
                           "cronjobs", "replicationcontrollers", "services"})


def has_status(ri: ResourceInfo) -> bool:
    return "status" in ri.subresources


def qos_class(pod: dict[str, Any]) -> str:
    """``qos.GetPodQOS``: Guaranteed when every container's cpu and memory limits are set
    and equal to its requests; BestEffort when nothing is requested or limited; else
    Burstable."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim[r]) != lim[r]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _initial_status(ri: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any] | None:
    r = ri.resource
    if r == "pods":
        return {"phase": "Pending", "qosClass": qos_class(obj)}
    if r == "namespaces":
        return {"phase": "Active"}
    if r in ("persistentvolumeclaims", "persistentvolumes"):
        return {"phase": "Pending"}
    if r == "poddisruptionbudgets":
        # "create cannot set status": an empty PodDisruptionBudgetStatus, whose int32
        # counters have no omitempty.
        return {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                "expectedPods": 0}
    if r in _RESET_STATUS:
        return {}
    return obj.get("status")


def prepare_for_create(ri: ResourceInfo, obj: dict[str, Any], *, uid: str,
                       created: str) -> dict[str, Any]:
    """The object as it will be stored (name, namespace already settled by the caller)."""
    out = dict(obj)
    meta = {k: v for k, v in get_meta(obj).items()
            if k not in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                         "resourceVersion", "generation", "uid", "creationTimestamp")}
    meta["uid"] = uid
    meta["creationTimestamp"] = created
    if ri.resource in GENERATION:
        meta["generation"] = 1
    out["metadata"] = _ordered_meta(meta)
    if has_status(ri) or ri.resource in _RESET_STATUS:
        status = _initial_status(ri, obj)
        if status is None:
            out.pop("status", None)
        else:
            out["status"] = status
    return out


_META_ORDER = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
               "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "labels", "annotations", "ownerReferences", "finalizers", "managedFields")


def _ordered_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata in ObjectMeta's field order, as the apiserver encodes it."""
    out = {k: meta[k] for k in _META_ORDER if k in meta}
    for k, v in meta.items():
        out.setdefault(k, v)
    return out


def _spec_changed(ri: ResourceInfo, new: dict[str, Any], old: dict[str, Any]) -> bool:
    if not json_equal(new.get("spec"), old.get("spec")):
        return True
    if ri.resource == "deployments":
        return not json_equal(get_meta(new).get("annotations") or {},
                              get_meta(old).get("annotations") or {})
    return False


def prepare_for_update(ri: ResourceInfo, new: dict[str, Any], old: dict[str, Any], *,
                       finalize: bool = False) -> dict[str, Any]:
    """``rest.BeforeUpdate`` + ``PrepareForUpdate`` for a write to the main resource (or,
    with ``finalize``, to ``namespaces/<name>/finalize``, which may change finalizers)."""
    out = dict(new)
    meta = dict(get_meta(new))
    old_meta = get_meta(old)
    for k in ("generation", "creationTimestamp"):
        if k in old_meta:
            meta[k] = old_meta[k]
        else:
            meta.pop(k, None)
    if not meta.get("uid") and old_meta.get("uid"):
        meta["uid"] = old_meta["uid"]
    if old_meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
    else:
        meta.pop("deletionTimestamp", None)
    if old_meta.get("deletionGracePeriodSeconds") is not None:
        meta.setdefault("deletionGracePeriodSeconds", old_meta["deletionGracePeriodSeconds"])
    if ri.resource == "namespaces" and not finalize:
        # Spec finalizers change only through /finalize.
        spec = dict(out.get("spec") or {})
        if (old.get("spec") or {}).get("finalizers") is not None:
            spec["finalizers"] = old["spec"]["finalizers"]
        out["spec"] = spec
    if has_status(ri):
        if "status" in old:
            out["status"] = old["status"]
        else:
            out.pop("status", None)
    if ri.resource in GENERATION and _spec_changed(ri, out, old):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1
    out["metadata"] = _ordered_meta(meta)
    return out


# The older kinds' status strategies reset only spec and labels, so a status write may change
# annotations: the deployment controller keeps deployment.kubernetes.io/revision that way.
_STATUS_KEEPS_ANNOTATIONS = frozenset(
    {"deployments", "replicasets", "daemonsets", "statefulsets", "replicationcontrollers"}
)


def prepare_for_status_update(new: dict[str, Any], old: dict[str, Any], resource: str = "") -> dict[str, Any]:
    """The stored object with only ``status`` taken from the request (the request's
    resourceVersion still guards the write); for the apps kinds, annotations too."""
    out = json_copy(old)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    rv = get_meta(new).get("resourceVersion")
    meta = dict(out.get("metadata") or {})
    if resource in _STATUS_KEEPS_ANNOTATIONS:
        annotations = get_meta(new).get("annotations")
        if annotations:
            meta["annotations"] = json_copy(annotations)
        else:
            meta.pop("annotations", None)
    if rv:
        meta["resourceVersion"] = rv
    else:
        meta.pop("resourceVersion", None)
    out["metadata"] = meta
    return out


def grace_period_for(ri: ResourceInfo, obj: dict[str, Any], requested: int | None) -> int | None:
    """``CheckGracefulDelete``: the grace period of a delete, or None when the kind does
    not delete gracefully. Pods: the request's value, else the pod's
    ``terminationGracePeriodSeconds`` (30 by default); 0 for a pod never scheduled or
    already terminated, as Kubernetes does."""
    if ri.resource != "pods":
        return None
    spec = obj.get("spec") or {}
    if requested is not None:
        period = requested
    else:
        period = int(spec.get("terminationGracePeriodSeconds", 30) or 0)
    if not spec.get("nodeName"):
        period = 0
    if (obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        period = 0
    return period
