"""policy/v1 PodDisruptionBudget, and the helpers the eviction subresource and the disruption
controller share (``k8s.io/component-helpers/apps/poddisruptionbudget``).

What it is: frozen msgspec Structs mirroring ``k8s.io/api/policy/v1`` types.go —
``spec`` {minAvailable, selector, maxUnavailable, unhealthyPodEvictionPolicy} and ``status``
{observedGeneration, disruptedPods, disruptionsAllowed, currentHealthy, desiredHealthy,
expectedPods, conditions} — and, over the Kubernetes JSON form (plain dicts), the
``DisruptionAllowed`` condition helpers: ``update_disruption_allowed_condition`` (what the
eviction handler calls after a decrement and the controller after every sync) and
``conditions_are_up_to_date``.

Concurrency model: none; values and pure functions (the caller passes the time as text).

Invariants:
- ``minAvailable``/``maxUnavailable`` are IntOrString (``int | str``); the four status
  counters are plain ``int32`` in Go (no ``omitempty``), so the apiserver writes them even
  when 0 — here they are ``int | None`` and the apiserver and the controller always set them;
- ``disruptedPods`` maps a pod name to the ``metav1.Time`` (RFC 3339) the eviction handler
  admitted it at;
- the condition helpers return new dicts; their inputs are never mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from ._meta import Condition, LabelSelector, Obj, ObjectMeta, TopLevel

__all__ = [
    "ALWAYS_ALLOW",
    "DISRUPTION_ALLOWED_CONDITION",
    "DISRUPTION_BUDGET_CAUSE",
    "IF_HEALTHY_BUDGET",
    "INSUFFICIENT_PODS_REASON",
    "PodDisruptionBudget",
    "PodDisruptionBudgetSpec",
    "PodDisruptionBudgetStatus",
    "SUFFICIENT_PODS_REASON",
    "SYNC_FAILED_REASON",
    "conditions_are_up_to_date",
    "set_status_condition",
    "update_disruption_allowed_condition",
]

# policy/v1 constants (types.go).
DISRUPTION_ALLOWED_CONDITION = "DisruptionAllowed"
SYNC_FAILED_REASON = "SyncFailed"
SUFFICIENT_PODS_REASON = "SufficientPods"
INSUFFICIENT_PODS_REASON = "InsufficientPods"
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"  # the StatusCause type of a refused eviction
IF_HEALTHY_BUDGET = "IfHealthyBudget"
ALWAYS_ALLOW = "AlwaysAllow"


class PodDisruptionBudgetSpec(Obj, kw_only=True):
    min_available: int | str | None = None
    selector: LabelSelector | None = None
    max_unavailable: int | str | None = None
    unhealthy_pod_eviction_policy: str | None = None  # IfHealthyBudget | AlwaysAllow


class PodDisruptionBudgetStatus(Obj, kw_only=True):
    observed_generation: int | None = None
    disrupted_pods: dict[str, str] | None = None
    disruptions_allowed: int | None = None
    current_healthy: int | None = None
    desired_healthy: int | None = None
    expected_pods: int | None = None
    conditions: list[Condition] | None = None


class PodDisruptionBudget(TopLevel, tag="PodDisruptionBudget", kw_only=True):
    API_VERSION: ClassVar[str] = "policy/v1"

    metadata: ObjectMeta | None = None
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None


# -- the DisruptionAllowed condition (component-helpers/apps/poddisruptionbudget) ----------


def _find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def set_status_condition(conditions: list[dict[str, Any]] | None, new: Mapping[str, Any],
                         now: str) -> list[dict[str, Any]]:
    """``apimeta.SetStatusCondition``: a new condition is appended (stamped ``now`` unless it
    carries a time); an existing one takes the new status (its transition time moving only
    when the status changes), reason, message and observedGeneration. Returns a new list."""
    out = [dict(c) for c in conditions or ()]
    cur = _find(out, str(new.get("type")))
    if cur is None:
        added = {"type": new.get("type"), "status": new.get("status")}
        if new.get("observedGeneration"):
            added["observedGeneration"] = new["observedGeneration"]
        added["lastTransitionTime"] = new.get("lastTransitionTime") or now
        added["reason"] = new.get("reason") or ""
        added["message"] = new.get("message") or ""
        out.append(added)
        return out
    if cur.get("status") != new.get("status"):
        cur["status"] = new.get("status")
        cur["lastTransitionTime"] = new.get("lastTransitionTime") or now
    cur["reason"] = new.get("reason") or ""
    cur["message"] = new.get("message") or ""
    if new.get("observedGeneration"):
        cur["observedGeneration"] = new["observedGeneration"]
    else:
        cur.pop("observedGeneration", None)
    return out


def update_disruption_allowed_condition(status: Mapping[str, Any], now: str) -> dict[str, Any]:
    """``UpdateDisruptionAllowedCondition``: True/SufficientPods while disruptions are
    allowed, else False/InsufficientPods; observedGeneration is the status's."""
    out = copy.deepcopy(dict(status))
    allowed = int(out.get("disruptionsAllowed") or 0) > 0
    cond = {"type": DISRUPTION_ALLOWED_CONDITION, "status": "True" if allowed else "False",
            "reason": SUFFICIENT_PODS_REASON if allowed else INSUFFICIENT_PODS_REASON,
            "observedGeneration": out.get("observedGeneration") or 0}
    out["conditions"] = set_status_condition(out.get("conditions"), cond, now)
    return out


def conditions_are_up_to_date(pdb: Mapping[str, Any]) -> bool:
    """``ConditionsAreUpToDate``: the DisruptionAllowed condition exists, the status observed
    the current generation, and status and reason agree with disruptionsAllowed."""
    status = pdb.get("status") or {}
    cond = _find(list(status.get("conditions") or ()), DISRUPTION_ALLOWED_CONDITION)
    if cond is None:
        return False
    generation = (pdb.get("metadata") or {}).get("generation") or 0
    if (status.get("observedGeneration") or 0) != generation:
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS_REASON
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS_REASON
