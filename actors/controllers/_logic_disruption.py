"""The disruption controller's reconcile (``pkg/controller/disruption``): a
PodDisruptionBudget's status from the pods it selects and the scale of their controllers.

What it is, as ``trySync`` computes it:
- the pods: those of the budget's namespace its selector matches (nil selects nothing, {}
  everything). None: a Normal ``NoPods`` event "No matching pods found";
- ``expectedPods`` and ``desiredHealthy`` (``getExpectedPodCount``): an integer
  ``minAvailable`` needs no owners — desired = minAvailable, expected = the pods counted; a
  percentage ``minAvailable`` or any ``maxUnavailable`` is resolved against the sum of the
  scales (``spec.replicas``) of the pods' controllers, each counted once. A pod's controller is
  found as the finders do: a ReplicationController, the Deployment of its ReplicaSet, a
  ReplicaSet without a Deployment, a StatefulSet, else any kind with a ``scale`` subresource
  (these four, here). A pod without a controller is *unmanaged* (a Warning ``UnmanagedPods``
  event, the count goes on without it); a controller that cannot be found is an error;
- ``currentHealthy``: the pods not being deleted, not in ``disruptedPods`` (admitted by the
  eviction handler within the last 2 minutes), and Ready;
- ``disruptionsAllowed`` = currentHealthy - desiredHealthy, and 0 whenever expectedPods is 0
  (a budget whose first pods appear must not allow anything before its status is right);
- ``disruptedPods``: entries of pods still there and not yet being deleted are kept for 2
  minutes (``DeletionTimeout``) after admission — an expired one is dropped with a Warning
  ``NotDeleted`` event on the pod — and the key is looked at again when the next one expires;
- the ``DisruptionAllowed`` condition (True/SufficientPods or False/InsufficientPods), and
  ``observedGeneration``. Nothing is written when all of that is already the status.
An error (a bad selector, a controller that cannot be found) fails safe: disruptionsAllowed 0
and DisruptionAllowed False/SyncFailed with the error as message (``failSafe``).

``reconcile_stale_pod_disruption`` is the controller's other loop: a pod that got a
``DisruptionTarget`` condition (not from the kubelet) but is neither being deleted nor
finished after 2 minutes has the condition reset to False.

Concurrency model: none; pure functions of the budget, the cached pods and owners, and
``now`` (seconds since the epoch). Owners are read through ``lookup(kind, namespace, name)``.

Invariants: cached objects are never mutated; 0 <= disruptionsAllowed, and when it is
positive currentHealthy - disruptionsAllowed >= desiredHealthy: spending every allowed
disruption leaves the desired healthy pods.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.api import SelectorError, UnknownResource, by_kind, selector_from_api
from actors.api._pdb import (
    DISRUPTION_ALLOWED_CONDITION,
    SYNC_FAILED_REASON,
    conditions_are_up_to_date,
    set_status_condition,
    update_disruption_allowed_condition,
)

from ._logic_replicaset import is_pod_ready
from ._plan import (
    NORMAL,
    WARNING,
    ObjectRef,
    Plan,
    PlanBuilder,
    controller_ref_of,
    format_time,
    get_condition,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    parse_time,
    scaled_value,
    uid_of,
)

__all__ = ["DELETION_TIMEOUT", "STALE_POD_DISRUPTION_TIMEOUT", "expected_pod_count",
           "reconcile_disruption_budget", "reconcile_stale_pod_disruption", "stale_disruption_wait"]

DELETION_TIMEOUT = 120.0  # DeletionTimeout
STALE_POD_DISRUPTION_TIMEOUT = 120.0  # stalePodDisruptionTimeout
PDB_API = "policy/v1"

# ``lookup(kind, namespace, name)``: the cached ReplicationController, ReplicaSet, Deployment or
# StatefulSet of that name, or None.
OwnerLookup = Callable[[str, str, str], Mapping[str, Any] | None]


class CountError(Exception):
    """``getExpectedPodCount`` failed (the message is Kubernetes' error text)."""


# -- finding a pod's controller and its scale ---------------------------------------------


def _group_of(ref: Mapping[str, Any]) -> str:
    """``schema.ParseGroupVersion(apiVersion).Group``."""
    api_version = str(ref.get("apiVersion") or "")
    if api_version.count("/") > 1:
        raise CountError(f"unexpected GroupVersion string: {api_version}")
    return api_version.rpartition("/")[0]


def _is(ref: Mapping[str, Any], kind: str, groups: tuple[str, ...]) -> bool:
    """``verifyGroupKind``."""
    group = _group_of(ref)
    return ref.get("kind") == kind and group in groups


def _replicas(obj: Mapping[str, Any]) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def _owned(lookup: OwnerLookup, kind: str, ns: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
    obj = lookup(kind, ns, str(ref.get("name") or ""))
    return obj if obj is not None and uid_of(obj) == ref.get("uid") else None


def _rc(ref: Mapping[str, Any], ns: str, lookup: OwnerLookup) -> tuple[str, int] | None:
    if not _is(ref, "ReplicationController", ("",)):
        return None
    rc = _owned(lookup, "ReplicationController", ns, ref)
    return None if rc is None else (uid_of(rc), _replicas(rc))


def _deployment(ref: Mapping[str, Any], ns: str, lookup: OwnerLookup) -> tuple[str, int] | None:
    if not _is(ref, "ReplicaSet", ("apps", "extensions")):
        return None
    rs = _owned(lookup, "ReplicaSet", ns, ref)
    owner = None if rs is None else controller_ref_of(rs)
    if owner is None or not _is(owner, "Deployment", ("apps", "extensions")):
        return None
    d = _owned(lookup, "Deployment", ns, owner)
    return None if d is None else (uid_of(d), _replicas(d))


def _replica_set(ref: Mapping[str, Any], ns: str, lookup: OwnerLookup) -> tuple[str, int] | None:
    if not _is(ref, "ReplicaSet", ("apps", "extensions")):
        return None
    rs = _owned(lookup, "ReplicaSet", ns, ref)
    if rs is None or (controller_ref_of(rs) or {}).get("kind") == "Deployment":
        return None  # a Deployment's set: the Deployment's scale counts
    return uid_of(rs), _replicas(rs)


def _stateful_set(ref: Mapping[str, Any], ns: str, lookup: OwnerLookup) -> tuple[str, int] | None:
    if not _is(ref, "StatefulSet", ("apps",)):
        return None
    ss = _owned(lookup, "StatefulSet", ns, ref)
    return None if ss is None else (uid_of(ss), _replicas(ss))


def _scale(ref: Mapping[str, Any], ns: str, lookup: OwnerLookup) -> tuple[str, int] | None:
    """``getScaleController``: any kind with a ``scale`` subresource, through its Scale."""
    api_version = str(ref.get("apiVersion") or "")
    group, kind = _group_of(ref), str(ref.get("kind") or "")
    try:
        ri = by_kind(group, kind)
    except UnknownResource:
        raise CountError(f"no matches for kind {json.dumps(kind)} in version "
                         f"{json.dumps(api_version)}") from None
    if "scale" not in ri.subresources:
        gr = f"{ri.resource}.{ri.group}" if ri.group else ri.resource
        raise CountError(f"{gr} does not implement the scale subresource")
    obj = _owned(lookup, kind, ns, ref)  # the Scale of a missing object is a 404: no controller
    return None if obj is None else (uid_of(obj), _replicas(obj))


_FINDERS = (_rc, _deployment, _replica_set, _stateful_set, _scale)


def _expected_scale(pods: list[Mapping[str, Any]], lookup: OwnerLookup) -> tuple[int, list[str]]:
    """``getExpectedScale``: the sum of the pods' controllers' scales, and unmanaged pods."""
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref_of(pod)
        if ref is None:
            unmanaged.append(name_of(pod))
            continue
        if ref.get("uid") in scales:
            continue
        for finder in _FINDERS:
            found = finder(ref, namespace_of(pod), lookup)
            if found is not None:
                scales[found[0]] = found[1]
                break
        else:
            raise CountError(f"found no controllers for pod {json.dumps(name_of(pod))}")
    return sum(scales.values()), unmanaged


def _scaled(value: int | str, total: int) -> int:
    try:
        return scaled_value(value, total, round_up=True)
    except ValueError as e:
        raise CountError(str(e)) from None


def expected_pod_count(pdb: Mapping[str, Any], pods: list[Mapping[str, Any]],
                       lookup: OwnerLookup) -> tuple[int, int, list[str]]:
    """``getExpectedPodCount``: (expectedPods, desiredHealthy, unmanaged pod names); raises
    ``CountError``. A budget with neither field expects nothing (so allows nothing)."""
    spec = pdb.get("spec") or {}
    max_unavailable, min_available = spec.get("maxUnavailable"), spec.get("minAvailable")
    if max_unavailable is not None:
        expected, unmanaged = _expected_scale(pods, lookup)
        return expected, max(0, expected - _scaled(max_unavailable, expected)), unmanaged
    if isinstance(min_available, int):
        return len(pods), min_available, []
    if isinstance(min_available, str):
        expected, unmanaged = _expected_scale(pods, lookup)
        return expected, _scaled(min_available, expected), unmanaged
    return 0, 0, []


# -- healthy pods and the disrupted-pods map ----------------------------------------------


def _disrupted_at(pdb: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for name, text in ((pdb.get("status") or {}).get("disruptedPods") or {}).items():
        t = parse_time(text)
        if t is not None:
            out[name] = t
    return out


def count_healthy(pods: Iterable[Mapping[str, Any]], disrupted: Mapping[str, float],
                  now: float) -> int:
    """``countHealthyPods``: Ready pods neither being deleted nor about to be."""
    n = 0
    for pod in pods:
        if meta_of(pod).get("deletionTimestamp"):
            continue
        at = disrupted.get(name_of(pod))
        if at is not None and at + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            n += 1
    return n


def _build_disrupted(pdb: Mapping[str, Any], pods: list[Mapping[str, Any]], now: float,
                     b: PlanBuilder) -> tuple[dict[str, str], float | None]:
    """``buildDisruptedPodMap``: the entries to keep and when the first of them expires."""
    texts = (pdb.get("status") or {}).get("disruptedPods") or {}
    at = _disrupted_at(pdb)
    kept: dict[str, str] = {}
    recheck: float | None = None
    for pod in pods:
        name = name_of(pod)
        if meta_of(pod).get("deletionTimestamp") or name not in at:
            continue
        expected = at[name] + DELETION_TIMEOUT
        if expected < now:
            # Kubernetes prints the budget's namespace twice here; so does the twin.
            b.event(WARNING, "NotDeleted", "Pod was expected by PDB "
                    f"{namespace_of(pdb)}/{namespace_of(pdb)} to be deleted but it wasn't",
                    ObjectRef.of(pod, api_version="v1", kind="Pod"))
            continue
        recheck = expected if recheck is None else min(recheck, expected)
        kept[name] = texts[name]
    return kept, recheck


# -- the status write -----------------------------------------------------------------------


def _ref(pdb: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(pdb, api_version=PDB_API, kind="PodDisruptionBudget")


def _with_status(pdb: Mapping[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(pdb))
    out["status"] = status
    return out


def _fail_safe(pdb: Mapping[str, Any], error: str, now: float, b: PlanBuilder) -> None:
    """``failSafe``: at least make the eviction handler refuse."""
    status = copy.deepcopy(dict(pdb.get("status") or {}))
    status["disruptionsAllowed"] = 0
    cond = {"type": DISRUPTION_ALLOWED_CONDITION, "status": "False",
            "reason": SYNC_FAILED_REASON, "message": error,
            "observedGeneration": status.get("observedGeneration") or 0}
    status["conditions"] = set_status_condition(status.get("conditions"), cond, format_time(now))
    b.update(_ref(pdb), _with_status(pdb, status), subresource="status")


def _status_write(pdb: Mapping[str, Any], current: int, desired: int, expected: int,
                  disrupted: dict[str, str], now: float, b: PlanBuilder) -> None:
    """``updatePdbStatus``: nothing when the status already says all of it."""
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status = pdb.get("status") or {}
    generation = int(meta_of(pdb).get("generation") or 0)
    if (int(status.get("currentHealthy") or 0) == current
            and int(status.get("desiredHealthy") or 0) == desired
            and int(status.get("expectedPods") or 0) == expected
            and int(status.get("disruptionsAllowed") or 0) == allowed
            and dict(status.get("disruptedPods") or {}) == disrupted
            and int(status.get("observedGeneration") or 0) == generation
            and conditions_are_up_to_date(pdb)):
        return
    new: dict[str, Any] = {"observedGeneration": generation}
    if disrupted:
        new["disruptedPods"] = disrupted
    new.update(disruptionsAllowed=allowed, currentHealthy=current, desiredHealthy=desired,
               expectedPods=expected)
    if status.get("conditions") is not None:
        new["conditions"] = copy.deepcopy(status["conditions"])
    b.update(_ref(pdb), _with_status(pdb, update_disruption_allowed_condition(
        new, format_time(now))), subresource="status")


def _selected(pdb: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``getPodsForPdb`` (raises ``SelectorError``)."""
    selector = selector_from_api((pdb.get("spec") or {}).get("selector"))
    ns = namespace_of(pdb)
    return sorted((p for p in pods if namespace_of(p) == ns and selector.matches(labels_of(p))),
                  key=name_of)


def go_label_selector(sel: Mapping[str, Any] | None) -> str:
    """``%v`` of a ``*metav1.LabelSelector`` (its generated ``String()``)."""
    if sel is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((sel.get("matchLabels") or {}).items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key') or ''},Operator:{e.get('operator') or ''},"
        f"Values:[{' '.join(e.get('values') or ())}],}},"
        for e in sel.get("matchExpressions") or ())
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def reconcile_disruption_budget(pdb: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], *,
                                lookup: OwnerLookup, now: float) -> Plan:
    """``trySync`` (and ``failSafe`` when it fails) for one budget; ``pods`` may hold any
    pods (those of the budget's namespace are enough), the budget's selector picks its own."""
    b = PlanBuilder()
    ref = _ref(pdb)
    try:
        selected = _selected(pdb, pods)
    except SelectorError as e:
        b.event(WARNING, "NoPods", f"Failed to get pods: {e}", ref)
        _fail_safe(pdb, str(e), now, b)
        return b.build()
    if not selected:
        b.event(NORMAL, "NoPods", "No matching pods found", ref)
    try:
        expected, desired, unmanaged = expected_pod_count(pdb, selected, lookup)
    except CountError as e:
        b.event(WARNING, "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {e}", ref)
        _fail_safe(pdb, str(e), now, b)
        return b.build()
    if unmanaged:
        b.event(WARNING, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: "
                f"{go_label_selector((pdb.get('spec') or {}).get('selector'))}) were found to be "
                "unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                "which may result in undefined behavior. To account for these pods please set "
                "\".spec.minAvailable\" field of the PDB to an integer value.", ref)
    disrupted, recheck = _build_disrupted(pdb, selected, now, b)
    current = count_healthy(selected, _disrupted_at({"status": {"disruptedPods": disrupted}}), now)
    _status_write(pdb, current, desired, expected, disrupted, now, b)
    if recheck is not None:
        b.requeue_after(recheck - now)
    return b.build()


# -- stale DisruptionTarget conditions ------------------------------------------------------


def stale_disruption_wait(pod: Mapping[str, Any], now: float) -> float | None:
    """``nonTerminatingPodHasStaleDisruptionCondition``: None when the pod has no such
    condition, else how long until it is stale (0: now)."""
    if meta_of(pod).get("deletionTimestamp"):
        return None
    status = pod.get("status") or {}
    cond = get_condition(status, "DisruptionTarget")
    if (cond is None or cond.get("status") != "True"
            or cond.get("reason") == "TerminationByKubelet"
            or status.get("phase") in ("Succeeded", "Failed")):
        return None
    since = parse_time(cond.get("lastTransitionTime")) or 0.0
    return max(0.0, STALE_POD_DISRUPTION_TIMEOUT - (now - since))


def reconcile_stale_pod_disruption(pod: Mapping[str, Any], *, now: float) -> Plan:
    """``syncStalePodDisruption``: reset a stale DisruptionTarget condition to False."""
    b = PlanBuilder()
    wait = stale_disruption_wait(pod, now)
    if wait is None:
        return b.build()
    if wait > 0:
        b.requeue_after(wait)
        return b.build()
    out = copy.deepcopy(dict(pod))
    conditions = out["status"]["conditions"]
    for i, c in enumerate(conditions):
        if c.get("type") == "DisruptionTarget":
            conditions[i] = {"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                             "lastTransitionTime": format_time(now)}
    b.update(ObjectRef.of(pod, api_version="v1", kind="Pod"), out, subresource="status")
    return b.build()
