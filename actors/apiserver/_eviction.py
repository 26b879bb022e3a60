"""``POST pods/<name>/eviction`` (policy/v1 Eviction): a delete that honours
PodDisruptionBudgets (``pkg/registry/core/pod/storage/eviction.go``).

What it is, in Kubernetes' order:
1. the Eviction must name the pod of the URL (400 otherwise); ``dryRun`` comes from the
   query or the Eviction's deleteOptions;
2. a pod that cannot disrupt anything — Succeeded, Failed, Pending or already being
   deleted (``canIgnorePDB``) — is deleted at once, guarded by its resourceVersion unless
   it is terminal or terminating; a lost race is retried (20 times), unless the caller gave
   a resourceVersion precondition;
3. otherwise the budgets of the pod's namespace whose selector matches its labels are read
   (a nil selector matches nothing, an empty one everything). More than one: a failure
   Status with code 500 ("This pod has more than one PodDisruptionBudget, ..."). None: the
   pod is deleted;
4. with one budget, a pod that is not Ready may go without spending the budget when the
   budget's ``unhealthyPodEvictionPolicy`` is AlwaysAllow, or (IfHealthyBudget, the default)
   when ``currentHealthy >= desiredHealthy > 0``; the delete is then guarded by the pod's
   resourceVersion, and losing that race is a 429 ("still being processed");
5. else ``checkAndDecrement``: a status the controller has not caught up with
   (observedGeneration < generation) is a 429 with retry-after 10; negative
   disruptionsAllowed or more than 2000 disruptedPods a 403; disruptionsAllowed 0 the 429
   "Cannot evict pod as it would violate the pod's disruption budget." with a cause of type
   DisruptionBudget ("The disruption budget <name> needs <desired> healthy pods and has
   <current> currently"). Otherwise ONE status write of the budget — disruptionsAllowed - 1
   (the DisruptionAllowed condition turned False at 0) and the pod recorded in
   ``disruptedPods`` at now — guarded by the budget's resourceVersion; a conflict re-reads
   the budget and decides again. Only then is the pod deleted;
6. the delete (``addConditionAndDeletePod``): unless dry-run, the pod first gets the
   ``DisruptionTarget`` condition (EvictionByEvictionAPI, "Eviction API: evicting") through
   its status, then it is deleted with the Eviction's deleteOptions (graceful, as any pod
   delete). The answer is a Success Status, 201.

The budget write goes through the apiserver's own pipeline as ``system:apiserver`` (the
loopback client kube-apiserver uses), so its status validation applies.

Concurrency model: coroutines in request tasks; every write is revision-guarded in etcd, so
two evictions racing for the last disruption serialize there: one wins, the other re-reads
and is refused.

Invariants: the budget is spent before the pod is deleted, never after; a refused eviction
writes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import replace as dc_replace
from typing import Any

from msgspec.structs import replace

from actors.api import (
    ApiError,
    ListMeta,
    SelectorError,
    Status,
    StatusCause,
    StatusDetails,
    bad_request,
    conflict,
    forbidden,
    lookup,
    selector_from_api,
    to_dict,
    too_many_requests,
)
from actors.api._pdb import (
    ALWAYS_ALLOW,
    DISRUPTION_BUDGET_CAUSE,
    update_disruption_allowed_condition,
)

from . import _deletion
from ._authn import SYSTEM_MASTERS, UserInfo
from ._context import Req, Services
from ._handlers import get_stored, guaranteed_update
from ._objects import get_meta, rfc3339, success
from ._storage import Stored, list_prefix

__all__ = ["MAX_DISRUPTED_POD_SIZE", "can_ignore_pdb", "check_and_decrement", "evict",
           "matching_budgets", "unhealthy_pod_may_go"]

MAX_DISRUPTED_POD_SIZE = 2000
EVICTIONS_RETRY_STEPS = 20  # EvictionsRetry.Steps
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE = ("This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support.")
_LOOPBACK = UserInfo("system:apiserver", groups=(SYSTEM_MASTERS,))


# --- the decisions (pure) -------------------------------------------------------------------


def _phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def can_ignore_pdb(pod: dict[str, Any]) -> bool:
    """``canIgnorePDB``: a pod that disrupts nothing by going."""
    return (_phase(pod) in ("Succeeded", "Failed", "Pending")
            or bool(get_meta(pod).get("deletionTimestamp")))


def should_enforce_resource_version(pod: dict[str, Any]) -> bool:
    """A terminal or terminating pod cannot become Ready again: no guard needed."""
    return not (_phase(pod) in ("Succeeded", "Failed") or get_meta(pod).get("deletionTimestamp"))


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def matching_budgets(budgets: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]]:
    """``getPodDisruptionBudgets``: the budgets of the pod's namespace selecting it (an
    invalid selector selects nothing)."""
    meta = get_meta(pod)
    labels = meta.get("labels") or {}
    out = []
    for pdb in budgets:
        if get_meta(pdb).get("namespace") != meta.get("namespace"):
            continue
        try:
            selector = selector_from_api((pdb.get("spec") or {}).get("selector"))
        except SelectorError:
            continue
        if selector.matches(labels):
            out.append(pdb)
    return out


def unhealthy_pod_may_go(pod: dict[str, Any], pdb: dict[str, Any]) -> bool:
    """An unready pod leaves without spending the budget (``unhealthyPodEvictionPolicy``)."""
    if _ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == ALWAYS_ALLOW:
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired > 0


def _too_many(message: str, retry: int, cause: str) -> ApiError:
    status = too_many_requests(message, retry)
    details = replace(status.details or StatusDetails(),
                      causes=[StatusCause(type=DISRUPTION_BUDGET_CAUSE, message=cause)])
    return ApiError(replace(status, details=details))


def still_processing(name: str) -> ApiError:
    """``createTooManyRequestsError``: the controller has not caught up yet."""
    return _too_many(VIOLATION, 10, f"The disruption budget {name} is still being processed "
                                    "by the server.")


def check_and_decrement(pdb: dict[str, Any], pod_name: str, *, now: str,
                        dry_run: bool) -> dict[str, Any]:
    """``checkAndDecrement``: the budget after admitting one eviction, or the refusal."""
    meta, status = get_meta(pdb), dict(pdb.get("status") or {})
    name = str(meta.get("name") or "")
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        raise still_processing(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise ApiError(forbidden("poddisruptionbudget", name,
                                 "pdb disruptions allowed is negative", "policy"))
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        raise ApiError(forbidden("poddisruptionbudget", name, "DisruptedPods map too big - too "
                                 "many evictions not confirmed by PDB controller", "policy"))
    if allowed == 0:
        raise _too_many(VIOLATION, 0, f"The disruption budget {name} needs "
                                      f"{int(status.get('desiredHealthy') or 0)} healthy pods "
                                      f"and has {int(status.get('currentHealthy') or 0)} currently")
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        status = update_disruption_allowed_condition(status, now)
    out = copy.deepcopy(pdb)
    if not dry_run:
        # The controller must not count this pod as available while its delete is on the way;
        # it forgets the entry if the pod is not being deleted within 2 minutes.
        status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: now}
    out["status"] = _ordered_status(status)
    return out


_STATUS_ORDER = ("observedGeneration", "disruptedPods", "disruptionsAllowed", "currentHealthy",
                 "desiredHealthy", "expectedPods", "conditions")


def _ordered_status(status: dict[str, Any]) -> dict[str, Any]:
    out = {k: status[k] for k in _STATUS_ORDER if k in status}
    return {**out, **status}


def _disruption_target(pod: dict[str, Any], now: str) -> dict[str, Any]:
    """``UpdatePodCondition`` with DisruptionTarget=True (EvictionByEvictionAPI)."""
    out = copy.deepcopy(pod)
    status = out.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    cond = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": now, "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting"}
    for i, old in enumerate(conditions):
        if old.get("type") == "DisruptionTarget":
            if old.get("status") == "True":
                cond["lastTransitionTime"] = old.get("lastTransitionTime")
            conditions[i] = cond
            return out
    conditions.append(cond)
    return out


# --- the handler ---------------------------------------------------------------------------


def _options(req: Req) -> tuple[dict[str, Any], bool]:
    """The Eviction's deleteOptions and whether this is a dry run (``propagateDryRun``)."""
    body = req.body if isinstance(req.body, dict) else {}
    if (get_meta(body).get("name") or "") != (req.name or ""):
        raise ApiError(bad_request("name in URL does not match name in Eviction object"))
    options = dict(body.get("deleteOptions") or {})
    dry_run = req.dry_run or "All" in (options.get("dryRun") or ())
    return options, dry_run


def _with_rv(options: dict[str, Any], rv: str) -> dict[str, Any]:
    return {**options, "preconditions": {**(options.get("preconditions") or {}),
                                         "resourceVersion": rv}}


def _rv_unset(options: dict[str, Any]) -> bool:
    return (options.get("preconditions") or {}).get("resourceVersion") is None


async def _delete_pod(req: Req, svc: Services, options: dict[str, Any], dry_run: bool) -> None:
    """``addConditionAndDeletePod``."""
    if not dry_run:
        status_req = Req(verb="update", ri=req.ri, user=req.user, namespace=req.namespace,
                         name=req.name, subresource="status", warnings=req.warnings)
        pre = options.get("preconditions") or {}
        now = rfc3339(svc.wall_time())

        def produce(cur: Stored) -> dict[str, Any]:
            meta = get_meta(cur.obj)
            for key, what, tail in (("uid", "UID", "deleted and then recreated"),
                                    ("resourceVersion", "ResourceVersion", "modified")):
                want = pre.get(key)
                if want and want != meta.get(key):
                    raise ApiError(conflict("Pod", req.name or "", reason=(
                        f"the {what} in the precondition ({want}) does not match the {what} "
                        f"in record ({meta.get(key)}). The object might have been {tail}")))
            return _disruption_target(cur.obj, now)

        _, pod = await guaranteed_update(status_req, svc, produce, mode="raw")
        if not _rv_unset(options):  # we modified the pod: the guard moves with it
            options = _with_rv(options, str(get_meta(pod).get("resourceVersion")))
    params = {**req.params, "dryRun": "All"} if dry_run else dict(req.params)
    await _deletion.delete(dc_replace(req, verb="delete", subresource=None, body=options,
                                      params=params), svc)


async def _delete_if_harmless(req: Req, svc: Services, options: dict[str, Any],
                              dry_run: bool) -> dict[str, Any] | None:
    """Step 2: None when the pod was deleted, else the pod to check against budgets."""
    for attempt in range(EVICTIONS_RETRY_STEPS):
        pod = (await get_stored(req, svc)).obj
        if not can_ignore_pdb(pod):
            return pod
        opts = options
        if should_enforce_resource_version(pod) and _rv_unset(options):
            opts = _with_rv(options, str(get_meta(pod).get("resourceVersion")))
        try:
            await _delete_pod(req, svc, opts, dry_run)
            return None
        except ApiError as e:
            if e.code != 409 or not _rv_unset(options) or attempt == EVICTIONS_RETRY_STEPS - 1:
                raise
    raise AssertionError("unreachable")


async def _spend_budget(svc: Services, pdb: dict[str, Any], pod_name: str,
                        dry_run: bool) -> None:
    """Step 5: check and decrement in one revision-guarded status write, re-read on conflict."""
    now = rfc3339(svc.wall_time())
    if dry_run:
        check_and_decrement(pdb, pod_name, now=now, dry_run=True)
        return
    meta = get_meta(pdb)
    pdb_req = Req(verb="update", ri=lookup("poddisruptionbudgets"), user=_LOOPBACK,
                  namespace=meta.get("namespace"), name=meta.get("name"), subresource="status")
    await guaranteed_update(pdb_req, svc, lambda cur: check_and_decrement(
        cur.obj, pod_name, now=now, dry_run=False), mode="status")


async def evict(req: Req, svc: Services) -> tuple[int, Any]:
    options, dry_run = _options(req)
    pod = await _delete_if_harmless(req, svc, options, dry_run)
    if pod is None:
        return 201, to_dict(success(201))
    ri = lookup("poddisruptionbudgets")
    assert ri.etcd_prefix is not None
    stored, _ = await svc.storage.list(list_prefix(ri.etcd_prefix, True, req.namespace))
    budgets = matching_budgets([s.obj for s in stored], pod)
    if len(budgets) > 1:
        # kube-apiserver returns this Status as the created object (HTTP 201); every client
        # reads it as the failure it is, with code 500.
        raise ApiError(Status(metadata=ListMeta(), status="Failure", message=MULTIPLE, code=500))
    guard = False
    if budgets:
        pdb = budgets[0]
        guard = unhealthy_pod_may_go(pod, pdb)
        if not guard:
            await _spend_budget(svc, pdb, str(get_meta(pod).get("name")), dry_run)
    opts = _with_rv(options, str(get_meta(pod).get("resourceVersion"))) if guard else options
    try:
        await _delete_pod(req, svc, opts, dry_run)
    except ApiError as e:
        if e.code == 409 and guard and _rv_unset(options):
            raise still_processing(str(get_meta(budgets[0]).get("name"))) from None
        raise
    return 201, to_dict(success(201))
