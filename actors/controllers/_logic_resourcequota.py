"""ResourceQuota reconcile (``pkg/controller/resourcequota``): a quota's ``status.used``
recalculated from what the namespace holds, as ``syncResourceQuota`` and
``quota.CalculateUsage`` do.

What it is: ``reconcile_resource_quota(quota, objects, *, now)``:
- ``status.hard`` mirrors ``spec.hard``;
- every resource named in ``spec.hard`` that an evaluator tracks is recounted
  (``quota_usage``): ``pods`` and the compute resources (``cpu``/``requests.cpu``,
  ``memory``/``requests.memory``, ``limits.*``, ``ephemeral-storage``, hugepages, extended
  requests) over the pods that are not terminal — a Succeeded or Failed pod, or one whose
  deletion grace period has run out, is charged only to ``count/pods``; ``services``,
  ``services.nodeports``, ``services.loadbalancers``; ``persistentvolumeclaims`` and
  ``requests.storage`` (also per storage class); the legacy object counts ``configmaps``,
  ``secrets``, ``replicationcontrollers``, ``resourcequotas``; and ``count/<resource>[.<group>]``
  for any resource. Pods are counted only if they match every scope of the quota
  (``spec.scopes``, ``spec.scopeSelector``); other resources match no scope, so a scoped
  quota counts none of them (``generic.MatchesNoScopeFunc``). A resource no evaluator tracks
  keeps the usage the status had;
- ``status.used`` holds exactly the resources of ``spec.hard``;
- the status is written (the whole object, ``UpdateStatus``) only when ``hard`` or ``used``
  differ semantically from what is stored, or either is missing.
The evaluators' usage and matching are those the ResourceQuota admission plugin charges with
(``actors.apiserver._admission``), so the controller releases exactly what admission charged.

Concurrency model: none; pure functions. ``objects(group, resource)`` returns the quota's
namespace's objects of that resource (the shell reads its informer caches, or lists).

Invariants: usage only ever comes from the objects passed in (never from the old status,
except for untracked resources); nothing is written when nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.api import Quantity, QuantityError
from actors.apiserver._admission import _compute_usage, _Evaluator, _pod_scope, pod_requests

from ._plan import ObjectRef, Plan, PlanBuilder, deep_copy, meta_of, parse_time

__all__ = ["evaluator_of", "quota_usage", "quota_v1_pod", "reconcile_resource_quota"]

GroupResource = tuple[str, str]
Objects = Callable[[str, str], Iterable[Mapping[str, Any]]]

# The evaluators with more than an object count, and the legacy counted names.
_CORE = (("", "pods"), ("", "services"), ("", "persistentvolumeclaims"))
_LEGACY = ("configmaps", "secrets", "replicationcontrollers", "resourcequotas")


def evaluator_of(name: str) -> GroupResource | None:
    """The (group, resource) whose evaluator tracks the quota resource ``name``, or None."""
    for group, resource in _CORE:
        if _Evaluator(resource, group).matching(name):
            return group, resource
    if name in _LEGACY:
        return "", name
    if name.startswith("count/") and len(name) > len("count/"):
        resource, _, group = name[len("count/"):].partition(".")
        return group, resource
    return None


def quota_v1_pod(pod: Mapping[str, Any], now: float) -> bool:
    """``QuotaV1Pod``: whether a pod is charged its compute resources — not terminal, and not
    stuck terminating past its deletion grace period (a lost node must not hold quota)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = meta_of(pod)
    deleted = parse_time(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    return not (deleted is not None and grace is not None and now > deleted + grace)


def _pod_usage(pod: Mapping[str, Any], now: float) -> dict[str, Quantity]:
    """``PodUsageFunc``: count/pods always; ``pods`` and compute resources while charged."""
    usage = {"count/pods": Quantity(1)}
    if not quota_v1_pod(pod, now):
        return usage
    p = dict(pod)
    return {**usage, **_compute_usage(pod_requests(p, "requests"), pod_requests(p, "limits"))}


def _scopes(quota: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
    return out + list((spec.get("scopeSelector") or {}).get("matchExpressions") or ())


def _usage_stats(gr: GroupResource, tracked: set[str], quota: Mapping[str, Any],
                 items: Iterable[Mapping[str, Any]], now: float) -> dict[str, Quantity]:
    """``CalculateUsageStats`` for one evaluator: zero for each tracked resource, plus the
    usage of every object matching the quota's scopes."""
    group, resource = gr
    ev = _Evaluator(resource, group)
    scopes = _scopes(quota)
    used = {r: Quantity(0) for r in tracked}
    for obj in items:
        if gr == ("", "pods"):
            if not all(_pod_scope(s, dict(obj)) for s in scopes):
                continue
            usage = _pod_usage(obj, now)
        elif scopes:
            continue
        else:
            usage = ev.usage(dict(obj))
        for k, v in usage.items():
            if k in used:
                used[k] = used[k] + v
    return used


def quota_usage(quota: Mapping[str, Any], objects: Objects, *, now: float) -> dict[str, Quantity]:
    """``quota.CalculateUsage``: the usage of every resource of ``spec.hard`` an evaluator
    tracks (resources it does not track are absent)."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    by_evaluator: dict[GroupResource, set[str]] = {}
    for name in hard:
        gr = evaluator_of(name)
        if gr is not None:
            by_evaluator.setdefault(gr, set()).add(name)
    used: dict[str, Quantity] = {}
    for gr, tracked in sorted(by_evaluator.items()):
        used.update(_usage_stats(gr, tracked, quota, objects(*gr), now))
    return used


def _quantities(rl: Mapping[str, Any] | None) -> dict[str, Quantity] | None:
    if rl is None:
        return None
    out = {}
    for k, v in rl.items():
        try:
            out[k] = Quantity.parse(v)
        except QuantityError:
            return None
    return out


def reconcile_resource_quota(quota: Mapping[str, Any], objects: Objects, *, now: float) -> Plan:
    """One ``syncResourceQuota`` (see the module docstring)."""
    spec_hard = dict((quota.get("spec") or {}).get("hard") or {})
    status = quota.get("status") or {}
    old_hard, old_used = status.get("hard"), status.get("used")
    dirty = old_hard is None or old_used is None or _quantities(spec_hard) != _quantities(old_hard)
    used = {k: str(v) for k, v in (old_used or {}).items()}
    used.update({k: str(v) for k, v in quota_usage(quota, objects, now=now).items()})
    used = {k: v for k, v in used.items() if k in spec_hard}
    dirty = dirty or _quantities(used) != _quantities(old_used or {})
    b = PlanBuilder()
    if dirty:
        body = deep_copy(dict(quota))
        body["status"] = {"hard": spec_hard, "used": used}
        b.update(ObjectRef.of(quota, api_version="v1", kind="ResourceQuota"), body, subresource="status")
    return b.build()
