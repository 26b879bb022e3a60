"""ReplicaSet and ReplicationController reconcile (``pkg/controller/replicaset``), and the
pod vocabulary the other controllers share (``pkg/controller/controller_utils.go``).

What it is: ``reconcile_replicaset(rs, pods, *, now)`` returns the plan of one
``syncReplicaSet``: claim pods (adopt orphans that match, release owned pods that no longer
match), create missing pods in slow-start batches (1, 2, 4, ... capped at 500 per sync,
``burstReplicas``), delete surplus pods chosen by ``controller.ActivePodsWithRanks``, and write
the status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, the
ReplicaFailure condition). ``reconcile_replication_controller`` is the same code with a map
selector, as Kubernetes runs the ReplicaSet controller for RCs too. ``Expectations`` is a
pure ``ControllerExpectations`` for the shell.

Concurrency model: none; pure functions of their arguments. The shell decides whether
expectations are satisfied and passes the previous sync's error (``manage_error``) so the
ReplicaFailure condition can be written (Go writes it in the same sync).

Invariants: cached objects are never mutated; pods the plan creates use ``generateName``
``<rs>-`` and carry the template's labels, annotations and finalizers and a controller
reference; events use Kubernetes' wording ("Created pod: x", "Deleted pod: x").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.api import selector_from_api, selector_from_set

from ._plan import (
    NORMAL,
    WARNING,
    Create,
    Delete,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
    controller_ref_of,
    creation_time,
    deep_copy,
    format_time,
    get_condition,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    new_controller_ref,
    parse_time,
    uid_of,
)

__all__ = [
    "BURST_REPLICAS",
    "Expectations",
    "claim_objects",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "pod_from_template",
    "pods_to_delete",
    "rank_pods_for_deletion",
    "reconcile_replicaset",
    "reconcile_replication_controller",
    "slow_start_batches",
]

BURST_REPLICAS = 500  # replicaset.BurstReplicas
SLOW_START_INITIAL_BATCH_SIZE = 1  # controller.SlowStartInitialBatchSize
EXPECTATIONS_TIMEOUT = 300.0  # controller.ExpectationsTimeout (5 minutes)
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# -- pod predicates (pkg/api/v1/pod, controller_utils) ---------------------------------


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """``controller.IsPodActive``: not terminal and not being deleted."""
    return not is_pod_terminal(pod) and not meta_of(pod).get("deletionTimestamp")


def is_pod_terminating(pod: Mapping[str, Any]) -> bool:
    return not is_pod_terminal(pod) and bool(meta_of(pod).get("deletionTimestamp"))


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = get_condition(pod.get("status"), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ready_time(pod: Mapping[str, Any]) -> float | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime)."""
    cond = get_condition(pod.get("status"), "Ready")
    if cond is None or cond.get("status") != "True":
        return None
    return parse_time(cond.get("lastTransitionTime"))


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """``podutil.IsPodAvailable``: ready for more than ``minReadySeconds`` (strictly)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = pod_ready_time(pod)
    return since is not None and since + min_ready_seconds < now


def _max_restarts(pod: Mapping[str, Any]) -> tuple[int, int]:
    """Highest restart count of regular containers, then of restartable init (sidecars)."""
    status = pod.get("status") or {}
    regular = max((c.get("restartCount") or 0 for c in status.get("containerStatuses") or ()),
                  default=0)
    always = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or ()
              if c.get("restartPolicy") == "Always"}
    sidecar = max((c.get("restartCount") or 0 for c in status.get("initContainerStatuses") or ()
                   if c.get("name") in always), default=0)
    return regular, sidecar


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    raw = annotations_of(pod).get(DELETION_COST_ANNOTATION)
    try:
        cost = int(raw) if raw is not None else 0
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


# -- deletion ranking (controller.ActivePodsWithRanks) --------------------------------


def _after_or_zero(t1: float | None, t2: float | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _log_rank_diff(t1: float, t2: float, now: float) -> int:
    """``logarithmicRankDiff``: compare floor(log2(age in ns)); -1 for a non-positive age."""
    d1, d2 = (now - t1) * 1e9, (now - t2) * 1e9
    r1 = int(math.log2(d1)) if d1 > 0 else -1
    r2 = int(math.log2(d2)) if d2 > 0 else -1
    return r1 - r2


def _time_order(a: Mapping[str, Any], b: Mapping[str, Any], ta: float | None, tb: float | None,
                now: float | None) -> int:
    """Newer (or unset) first; with LogarithmicScaleDown, ages in the same power-of-two
    bucket tie and the UID decides (Kubernetes randomises scale-down that way)."""
    if ta == tb:
        return 0
    if now is None or ta is None or tb is None:
        return -1 if _after_or_zero(ta, tb) else 1
    diff = _log_rank_diff(ta, tb, now)
    if diff == 0:
        ua, ub = uid_of(a), uid_of(b)
        return (ua > ub) - (ua < ub)
    return -1 if diff < 0 else 1


def _compare(a: tuple[Mapping[str, Any], int], b: tuple[Mapping[str, Any], int],
             now: float | None) -> int:
    (pa, rank_a), (pb, rank_b) = a, b
    na, nb = (pa.get("spec") or {}).get("nodeName") or "", (pb.get("spec") or {}).get("nodeName") or ""
    if na != nb and (not na or not nb):  # 1. unassigned < assigned
        return -1 if not na else 1
    pha = _PHASE_ORDINAL.get((pa.get("status") or {}).get("phase"), 0)
    phb = _PHASE_ORDINAL.get((pb.get("status") or {}).get("phase"), 0)
    if pha != phb:  # 2. Pending < Unknown < Running
        return -1 if pha < phb else 1
    ra, rb = is_pod_ready(pa), is_pod_ready(pb)
    if ra != rb:  # 3. not ready < ready
        return -1 if not ra else 1
    ca, cb = _deletion_cost(pa), _deletion_cost(pb)
    if ca != cb:  # 4. lower pod-deletion-cost first
        return -1 if ca < cb else 1
    if rank_a != rank_b:  # 5. doubled up (more related pods on the node) first
        return -1 if rank_a > rank_b else 1
    if ra and rb:  # 6. ready for less time first
        if order := _time_order(pa, pb, pod_ready_time(pa), pod_ready_time(pb), now):
            return order
    xa, xb = _max_restarts(pa), _max_restarts(pb)
    if xa != xb:  # 7. more restarts first (regular containers, then sidecars)
        return -1 if xa > xb else 1
    return _time_order(pa, pb, creation_time(pa), creation_time(pb), now)  # 8. newer first


def rank_pods_for_deletion(pods: Sequence[Mapping[str, Any]], *,
                           ranks: Sequence[int] | None = None,
                           now: float | None = None) -> list[Mapping[str, Any]]:
    """Pods sorted so that the first should be deleted first (``ActivePodsWithRanks``).
    Without ``now`` the plain ``ActivePods`` time order is used (no logarithmic buckets)."""
    ranked = list(zip(pods, ranks if ranks is not None else [0] * len(pods), strict=True))
    ranked.sort(key=functools.cmp_to_key(lambda x, y: _compare(x, y, now)))
    return [p for p, _ in ranked]


def pods_to_delete(owned: Sequence[Mapping[str, Any]], related: Iterable[Mapping[str, Any]],
                   count: int, now: float) -> list[Mapping[str, Any]]:
    """``getPodsToDelete``: rank by active related pods sharing the node, then take the first."""
    if count >= len(owned):
        return list(owned)[:count]
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = (p.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranks = [on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in owned]
    return rank_pods_for_deletion(owned, ranks=ranks, now=now)[:count]


# -- shared controller machinery ------------------------------------------------------


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH_SIZE) -> list[int]:
    """``slowStartBatch``'s batch sizes: 1, 2, 4, ... until ``count`` is reached."""
    sizes, remaining, size = [], count, min(count, initial)
    while size > 0:
        sizes.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return sizes


def pod_from_template(template: Mapping[str, Any], owner: Mapping[str, Any], *,
                      owner_api_version: str, owner_kind: str,
                      generate_name: str | None = None) -> dict[str, Any]:
    """``controller.GetPodFromTemplate``: labels, annotations and finalizers of the template,
    ``generateName`` ``<owner>-``, a controller reference, and the template's spec."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {"generateName": generate_name or f"{name_of(owner)}-",
                            "namespace": namespace_of(owner)}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta[field] = deep_copy(tmeta[field])
    meta["ownerReferences"] = [new_controller_ref(owner, api_version=owner_api_version,
                                                  kind=owner_kind)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": deep_copy(template.get("spec") or {})}


def claim_objects(owner: Mapping[str, Any], objs: Iterable[Mapping[str, Any]], matches: Any, *,
                  owner_ref: ObjectRef, child_api_version: str, child_kind: str,
                  builder: PlanBuilder) -> list[Mapping[str, Any]]:
    """``ControllerRefManager.ClaimObject`` over ``objs``: keep what we own and match,
    release what we own and no longer match (unless we are being deleted), adopt matching
    orphans in our namespace that are not being deleted. ``matches`` is a label selector
    (anything with ``.matches(labels)``). Adopt/release are strategic merge patches of
    ``ownerReferences`` (merge key uid) guarded by the child's uid, as Kubernetes sends."""
    owner_deleting = bool(meta_of(owner).get("deletionTimestamp"))
    claimed = []
    for obj in objs:
        ref = controller_ref_of(obj)
        child = ObjectRef.of(obj, api_version=child_api_version, kind=child_kind)
        ok = matches.matches(labels_of(obj))
        if ref is not None:
            if ref.get("uid") != owner_ref.uid:
                continue
            if ok:
                claimed.append(obj)
            elif not owner_deleting:
                builder.patch(child, {"metadata": {"ownerReferences": [
                    {"$patch": "delete", "uid": owner_ref.uid}], "uid": child.uid}},
                    patch_type="strategic")
            continue
        if owner_deleting or not ok or meta_of(obj).get("deletionTimestamp"):
            continue
        if owner_ref.namespace and child.namespace != owner_ref.namespace:
            continue
        builder.patch(child, {"metadata": {"ownerReferences": [new_controller_ref(
            owner, api_version=owner_ref.api_version, kind=owner_ref.kind)],
            "uid": child.uid}}, patch_type="strategic")
        claimed.append(obj)
    return claimed


class Expectations:
    """``controller.ControllerExpectations`` keyed by controller key, with ``now`` passed in.

    A key is satisfied when nothing is expected, when every expected create/delete was
    observed, or when the record is older than five minutes (a lost watch event must not
    wedge the controller)."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._timeout = timeout
        self._records: dict[str, list[Any]] = {}  # key -> [adds, deleting pod keys, timestamp]

    def expect(self, key: str, *, creations: int = 0, deletions: Iterable[str] = (),
               now: float) -> None:
        self._records[key] = [creations, set(deletions), now]

    def expect_plan(self, key: str, plan: Plan, now: float) -> None:
        """Record what a plan's pod creates and deletes will make the informer observe."""
        adds = sum(1 for a in plan.actions if isinstance(a, Create) and a.ref.kind == "Pod")
        dels = {a.ref.key() for a in plan.actions if isinstance(a, Delete) and a.ref.kind == "Pod"}
        if adds or dels:
            self.expect(key, creations=adds, deletions=dels, now=now)

    def creation_observed(self, key: str) -> None:
        if rec := self._records.get(key):
            rec[0] -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        if rec := self._records.get(key):
            rec[1].discard(pod_key)

    def satisfied(self, key: str, now: float) -> bool:
        rec = self._records.get(key)
        if rec is None:
            return True
        return (rec[0] <= 0 and not rec[1]) or now - rec[2] > self._timeout

    def forget(self, key: str) -> None:
        self._records.pop(key, None)


# -- the ReplicaSet sync --------------------------------------------------------------


def _calculate_status(rs: Mapping[str, Any], pods: Sequence[Mapping[str, Any]],
                      manage_error: str | None, now: float) -> dict[str, Any]:
    spec = rs.get("spec") or {}
    status = deep_copy(rs.get("status") or {})
    template_labels = selector_from_set((spec.get("template") or {}).get("metadata", {})
                                        .get("labels") or {})
    min_ready = spec.get("minReadySeconds") or 0
    ready = [p for p in pods if is_pod_ready(p)]
    failure = get_condition(status, "ReplicaFailure")
    if manage_error and failure is None:
        diff = len(pods) - int(spec.get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        status.setdefault("conditions", []).append({
            "type": "ReplicaFailure", "status": "True", "lastTransitionTime": format_time(now),
            "reason": reason, "message": manage_error})
    elif not manage_error and failure is not None:
        status["conditions"] = [c for c in status["conditions"] if c is not failure]
        if not status["conditions"]:
            del status["conditions"]
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = sum(1 for p in pods if template_labels.matches(labels_of(p)))
    status["readyReplicas"] = len(ready)
    status["availableReplicas"] = sum(1 for p in ready if is_pod_available(p, min_ready, now))
    return status


def _manage_replicas(b: PlanBuilder, rs: Mapping[str, Any], ref: ObjectRef,
                     owned: Sequence[Mapping[str, Any]], related: Sequence[Mapping[str, Any]],
                     burst: int, now: float) -> None:
    spec = rs.get("spec") or {}
    diff = len(owned) - int(spec.get("replicas", 1))
    if diff < 0:
        body = pod_from_template(spec.get("template") or {}, rs, owner_api_version=ref.api_version,
                                 owner_kind=ref.kind)
        pod_ref = ObjectRef(api_version="v1", kind="Pod", namespace=ref.namespace)
        ok = Event(type=NORMAL, reason="SuccessfulCreate", message="Created pod: {name}",
                   involved=ref)
        bad = Event(type=WARNING, reason="FailedCreate", message="Error creating: {error}",
                    involved=ref)
        for i, size in enumerate(slow_start_batches(min(-diff, burst))):
            for _ in range(size):
                b.create(pod_ref, deep_copy(body), batch=i, on_success=[ok], on_failure=[bad])
    elif diff > 0:
        for pod in pods_to_delete(owned, related, min(diff, burst), now):
            pref = ObjectRef.of(pod, api_version="v1", kind="Pod")
            b.delete(pref, on_success=[Event(type=NORMAL, reason="SuccessfulDelete",
                                             message=f"Deleted pod: {pref.name}", involved=ref)],
                     on_failure=[Event(type=WARNING, reason="FailedDelete",
                                       message="Error deleting: {error}", involved=ref)])


def reconcile_replicaset(rs: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], *, now: float,
                         sibling_replica_sets: Iterable[Mapping[str, Any]] = (),
                         expectations_satisfied: bool = True, manage_error: str | None = None,
                         burst_replicas: int = BURST_REPLICAS, kind: str = "ReplicaSet",
                         api_version: str = "apps/v1", selector: Any = None) -> Plan:
    """One ``syncReplicaSet``. ``pods`` are the namespace's pods (the controller lists all
    of them to see stale controller refs); ``sibling_replica_sets`` are the ReplicaSets with
    the same controller (a Deployment's others), whose pods rank deletions by node."""
    b = PlanBuilder()
    ref = ObjectRef.of(rs, api_version=api_version, kind=kind)
    spec = rs.get("spec") or {}
    pods = [p for p in pods if namespace_of(p) == ref.namespace]
    matcher = selector if selector is not None else selector_from_api(spec.get("selector"))
    owned = claim_objects(rs, [p for p in pods if is_pod_active(p)], matcher, owner_ref=ref,
                          child_api_version="v1", child_kind="Pod", builder=b)
    if expectations_satisfied and not meta_of(rs).get("deletionTimestamp"):
        family = {ref.uid} | {uid_of(s) for s in sibling_replica_sets}
        related = [p for p in pods if (controller_ref_of(p) or {}).get("uid") in family]
        _manage_replicas(b, rs, ref, owned, related, burst_replicas, now)
    status = _calculate_status(rs, owned, manage_error, now)
    generation = meta_of(rs).get("generation")
    if generation is not None:
        status["observedGeneration"] = generation
    if status != (rs.get("status") or {}):
        b.update(ref, {**deep_copy(dict(rs)), "status": status}, subresource="status")
    # Resync after minReadySeconds as "a last line of defense to guard against clock-skew":
    # availability is a function of time, no informer event announces it.
    min_ready = spec.get("minReadySeconds") or 0
    replicas = int(spec.get("replicas", 1))
    if (not manage_error and min_ready > 0 and status["readyReplicas"] == replicas
            and status["availableReplicas"] != replicas):
        b.requeue_after(min_ready)
    return b.build()


def reconcile_replication_controller(rc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                                     *, now: float, **kwargs: Any) -> Plan:
    """The ReplicationController sync: the ReplicaSet logic with a map selector (an RC's
    nil selector was defaulted to its template's labels by the API server)."""
    spec = rc.get("spec") or {}
    raw = spec.get("selector") or (spec.get("template") or {}).get("metadata", {}).get("labels")
    return reconcile_replicaset(rc, pods, now=now, kind="ReplicationController", api_version="v1",
                                selector=selector_from_set(raw or {}), **kwargs)
