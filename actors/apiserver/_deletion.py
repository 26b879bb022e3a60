"""DELETE: graceful deletion, finalizers and propagation, as the generic store does it
(``registry/generic/registry/store.go`` Delete, ``registry/rest/delete.go`` BeforeDelete).

What it is:
- options: ``gracePeriodSeconds``, ``propagationPolicy`` (Orphan, Background, Foreground),
  ``orphanDependents`` and ``preconditions`` (uid, resourceVersion), from the query or a
  DeleteOptions body;
- graceful deletion (pods): the first delete sets ``deletionTimestamp`` = now + grace
  and ``deletionGracePeriodSeconds`` = grace (default the pod's
  terminationGracePeriodSeconds, 30; 0 for a pod never scheduled or already finished)
  and bumps ``generation``; the object stays until a delete with a shorter grace period —
  the kubelet's, with 0 — removes it. A later delete may only shorten the period;
- finalizers: an object with finalizers is only marked (``deletionTimestamp`` now, grace
  0); the update that removes the last finalizer deletes it (``_handlers``);
- propagation: Orphan adds the ``orphan`` finalizer, Foreground adds
  ``foregroundDeletion``, Background adds nothing (the garbage collector deletes the
  dependents afterwards). The garbage collector controller does the rest;
- namespaces: the first delete marks the namespace Terminating; it is removed by a later
  delete once ``spec.finalizers`` is empty (the namespace controller's job);
- the answer: 200 with the deleted object (or a Success Status for stores that do not
  return it) when the object is gone; 202 Accepted with the object when it stays.

Concurrency model: coroutines in request tasks; every write is guarded by the revision it
read and the whole decision is retried on a lost race.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from actors.api import ApiError, StatusDetails, bad_request, conflict, not_found, to_dict

from ._context import Req, Services
from ._ipalloc import release_service
from ._objects import get_meta, param_bool, parse_rfc3339, rfc3339, success
from ._storage import RevisionMismatch, Stored
from ._strategy import RETURN_DELETED_OBJECT, grace_period_for

__all__ = ["DeleteOptions", "delete", "delete_options", "finalized"]

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
_POLICIES = ("Orphan", "Background", "Foreground")


class DeleteOptions(NamedTuple):
    grace: int | None = None
    policy: str | None = None
    orphan: bool | None = None
    uid: str | None = None
    rv: str | None = None


def delete_options(req: Req) -> DeleteOptions:
    body = req.body if isinstance(req.body, dict) else {}
    params = req.params
    raw_grace = params.get("gracePeriodSeconds", body.get("gracePeriodSeconds"))
    try:
        grace = None if raw_grace in (None, "") else int(raw_grace)
    except (TypeError, ValueError):
        raise ApiError(bad_request(f"invalid gracePeriodSeconds {raw_grace!r}")) from None
    if grace is not None and grace < 0:
        grace = 1  # negative values are treated as 1 s on the delete path
    policy = params.get("propagationPolicy", body.get("propagationPolicy"))
    if policy is not None and policy not in _POLICIES:
        raise ApiError(bad_request(f'propagationPolicy: Unsupported value: "{policy}": '
                                   'supported values: "Foreground", "Background", "Orphan"'))
    orphan: bool | None = None
    if "orphanDependents" in params:
        orphan = param_bool(params, "orphanDependents")
    elif body.get("orphanDependents") is not None:
        orphan = bool(body["orphanDependents"])
    if orphan is not None and policy is not None:
        raise ApiError(bad_request("orphanDependents: Invalid value: "
                                   "Cannot both set OrphanDependents and PropagationPolicy"))
    pre = body.get("preconditions") or {}
    return DeleteOptions(grace, policy, orphan, pre.get("uid"), pre.get("resourceVersion"))


def _check_preconditions(req: Req, obj: dict[str, Any], opts: DeleteOptions) -> None:
    meta = get_meta(obj)
    name = req.name or ""
    if opts.uid is not None and opts.uid != meta.get("uid"):
        raise ApiError(conflict(req.ri.kind, name, req.ri.group, reason=(
            f"the UID in the precondition ({opts.uid}) does not match the UID in record "
            f"({meta.get('uid')}). The object might have been deleted and then recreated")))
    if opts.rv is not None and opts.rv != meta.get("resourceVersion"):
        raise ApiError(conflict(req.ri.kind, name, req.ri.group, reason=(
            f"the ResourceVersion in the precondition ({opts.rv}) does not match the "
            f"ResourceVersion in record ({meta.get('resourceVersion')}). The object might "
            "have been modified")))


# --- the decisions (pure) ----------------------------------------------------------------


class Plan(NamedTuple):
    """What to do with one object: ``write`` it (when not None), then delete it if
    ``delete_now``; ``pending`` means a graceful deletion is already under way."""

    write: dict[str, Any] | None
    delete_now: bool
    pending: bool = False


def _set_meta(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {**get_meta(obj), **changes}
    return out


def _before_delete(req: Req, obj: dict[str, Any], grace: int | None,
                   now: float) -> tuple[bool, bool, dict[str, Any], int]:
    """``rest.BeforeDelete``: (graceful, pending, object, grace period)."""
    meta = get_meta(obj)
    period = grace_period_for(req.ri, obj, grace)
    if period is None:
        return False, False, obj, 0
    if meta.get("deletionTimestamp"):
        current = meta.get("deletionGracePeriodSeconds")
        if not current:
            return False, False, obj, 0
        if grace is None or grace >= current:
            return False, True, obj, int(current)
        ts = parse_rfc3339(meta["deletionTimestamp"]) - current + grace
        return True, False, _set_meta(obj, deletionTimestamp=rfc3339(ts),
                                      deletionGracePeriodSeconds=grace), grace
    changes: dict[str, Any] = {"deletionTimestamp": rfc3339(now + period),
                               "deletionGracePeriodSeconds": period}
    if meta.get("generation"):
        changes["generation"] = int(meta["generation"]) + 1
    return True, False, _set_meta(obj, **changes), period


def _gc_finalizers(obj: dict[str, Any], opts: DeleteOptions) -> list[str]:
    """``deletionFinalizersForGarbageCollection``: the finalizers after the options say
    whether to orphan or to delete dependents in the foreground."""
    existing = list(get_meta(obj).get("finalizers") or ())
    orphan = foreground = False
    if opts.orphan is not None:
        orphan = opts.orphan
    elif opts.policy is not None:
        orphan, foreground = opts.policy == "Orphan", opts.policy == "Foreground"
    else:
        orphan, foreground = ORPHAN in existing, FOREGROUND in existing and ORPHAN not in existing
    out = [f for f in existing if f not in (ORPHAN, FOREGROUND)]
    if orphan:
        out.append(ORPHAN)
    if foreground:
        out.append(FOREGROUND)
    return out


def _mark_as_deleting(obj: dict[str, Any], now: float) -> dict[str, Any]:
    meta = get_meta(obj)
    changes: dict[str, Any] = {"deletionGracePeriodSeconds": 0}
    if not meta.get("deletionTimestamp") and meta.get("generation"):
        changes["generation"] = int(meta["generation"]) + 1
    ts = meta.get("deletionTimestamp")
    if not ts or parse_rfc3339(ts) > now:
        changes["deletionTimestamp"] = rfc3339(now)
    return _set_meta(obj, **changes)


def plan_delete(req: Req, obj: dict[str, Any], opts: DeleteOptions, now: float) -> Plan:
    graceful, pending, obj2, period = _before_delete(req, obj, opts.grace, now)
    if pending:
        return Plan(None, False, True)
    finalizers = _gc_finalizers(obj2, opts)
    changed = set(finalizers) != set(get_meta(obj2).get("finalizers") or ())
    if changed:
        obj2 = _set_meta(obj2, finalizers=finalizers or None)
        if not finalizers:
            obj2["metadata"].pop("finalizers", None)
    has_finalizers = bool(finalizers)
    if not (graceful or has_finalizers or changed):
        return Plan(None, True)
    if not graceful:
        if has_finalizers:
            return Plan(_mark_as_deleting(obj2, now), False)
        return Plan(obj2 if changed else None, True)
    return Plan(obj2, not has_finalizers and period == 0)


def _namespace_plan(req: Req, obj: dict[str, Any], opts: DeleteOptions, now: float) -> Plan:
    """The namespace registry's Delete: first mark Terminating, delete once finalized."""
    meta = get_meta(obj)
    if not meta.get("deletionTimestamp"):
        out = _set_meta(obj, deletionTimestamp=rfc3339(now))
        out["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
        finalizers = _gc_finalizers(out, opts)
        out["metadata"]["finalizers"] = finalizers
        if not finalizers:
            out["metadata"].pop("finalizers")
        return Plan(out, False)
    if (obj.get("spec") or {}).get("finalizers"):
        raise ApiError(conflict("namespaces", req.name or "", reason=(
            "The system is ensuring all content is removed from this namespace.  Upon "
            "completion, this namespace will automatically be purged by the system.")))
    return plan_delete(req, obj, opts, now)


# --- the verb ------------------------------------------------------------------------------


def finalized(req: Req, obj: dict[str, Any]) -> dict[str, Any]:
    """``finalizeDelete``: the object, or a Success Status naming it."""
    if req.ri.resource in RETURN_DELETED_OBJECT:
        return obj
    meta = get_meta(obj)
    details = StatusDetails(name=meta.get("name"), group=req.ri.group or None,
                            kind=req.ri.resource, uid=meta.get("uid"))
    return to_dict(success(details=details))


async def delete(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    opts = delete_options(req)
    key = req.key()
    cur = await svc.storage.get(key)
    while True:
        if cur is None:
            raise ApiError(not_found(req.ri.resource, req.name or "", req.ri.group))
        _check_preconditions(req, cur.obj, opts)
        await svc.admission.run(req, "DELETE", None, cur.obj)
        try:
            return await _execute(req, svc, cur, opts)
        except RevisionMismatch as e:
            cur = e.current


async def _execute(req: Req, svc: Services, cur: Stored,
                   opts: DeleteOptions) -> tuple[int, dict[str, Any]]:
    now = svc.wall_time()
    if req.ri.resource == "namespaces":
        plan = _namespace_plan(req, cur.obj, opts, now)
    else:
        plan = plan_delete(req, cur.obj, opts, now)
    if plan.pending:
        return 202, finalized(req, cur.obj)
    if req.dry_run:
        out = plan.write if plan.write is not None else cur.obj
        return (200, finalized(req, out)) if plan.delete_now else (202, out)
    key = req.key()
    rv, out = cur.rv, cur.obj
    if plan.write is not None:
        stored = await svc.storage.update(key, plan.write, rv)
        rv, out = stored.rv, stored.obj
    if not plan.delete_now:
        return 202, out
    gone = await svc.storage.delete(key, rv)
    if req.ri.resource == "services":
        await release_service(svc.storage, gone.obj)
    return 200, finalized(req, gone.obj)
