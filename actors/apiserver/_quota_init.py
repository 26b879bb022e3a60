"""A new ResourceQuota's first status, as the resource quota controller's first sync gives it.

kubetwin has no resource quota controller yet; so that a quota constrains at once (the
ResourceQuota admission plugin only counts quotas whose ``status.hard`` is set), the apiserver
fills ``status.hard`` from ``spec.hard`` and ``status.used`` from what its watch caches hold in
the namespace when the quota is created. Admission then charges every later create. Usage is
never recalculated downwards on deletes (that is the missing controller's job): a gap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.api import Quantity, lookup
from actors.api._registry import UnknownResource

from ._admission import pod_requests

__all__ = ["initial_quota_status"]

_COUNTED = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
            "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers",
            "resourcequotas": "resourcequotas"}


def _live_pod(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def initial_quota_status(quota: dict[str, Any], items: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
    """``quota`` with ``status.hard``/``status.used`` filled; ``items(resource)`` lists the
    namespace's objects of that resource from the caches."""
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    if not hard or (quota.get("status") or {}).get("hard"):
        return quota
    used: dict[str, str] = {}
    pods = [p for p in items("pods") if _live_pod(p)]
    for name in hard:
        if name in _COUNTED:
            used[name] = str(len(items(_COUNTED[name])) + (1 if name == "resourcequotas" else 0))
        elif name.startswith("count/"):
            resource = name[len("count/"):].split(".", 1)[0]
            try:
                lookup(resource)
            except UnknownResource:
                used[name] = "0"
                continue
            used[name] = str(len(items(resource)))
        elif name in ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"):
            field = "limits" if name.startswith("limits.") else "requests"
            res = name.split(".")[-1]
            total = Quantity.zero()
            for p in pods:
                q = pod_requests(p, field).get(res)
                if q is not None:
                    total = total + q
            used[name] = total.canonical()
    return {**quota, "status": {"hard": hard, "used": used}}
