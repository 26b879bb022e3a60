"""Deployment rollout arithmetic (``pkg/controller/deployment``: rolling.go, recreate.go,
sync.go's ``scale``, util/deployment_util.go).

What it is: the pieces of a Deployment sync that decide ReplicaSet sizes: maxSurge and
maxUnavailable resolved from int-or-percent (surge rounds up, unavailable down; both zero
means unavailable 1), ``NewRSNewReplicas``, ``reconcileNewReplicaSet``,
``reconcileOldReplicaSets`` (unhealthy replicas first, then scale down while availability
stays above ``replicas - maxUnavailable``), Recreate's scale-down-then-up, and proportional
scaling of every active ReplicaSet during a rollout (the ``desired-replicas`` and
``max-replicas`` annotations); and rollbacks: the ``deprecated.deployment.rollback.to``
request the controller serves, and ``rollback_deployment``, what ``kubectl rollout undo``
writes. ``DeploymentSync`` is one sync's working state: a copy of the Deployment, working
copies of its ReplicaSets, and the plan being built.

One deliberate difference from Kubernetes: ``scale`` refreshes a stale desired-replicas
annotation on the only active set, applying the fix of kubernetes/kubernetes#138036 (else a
scale during a maxSurge=0 rollout can leave the Deployment stuck forever).

Concurrency model: none; one ``DeploymentSync`` lives inside one reconcile call.

Invariants: ReplicaSets are working copies (deep copies of the cache) and every size or
annotation change goes through ``DeploymentSync.write_rs``, so the plan holds one write per
ReplicaSet carrying its final state; "ScalingReplicaSet" events use the seed's wording
("Scaled up replica set nginx-879cf7b8c to 1") and are recorded only when the write succeeds.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._plan import (
    NORMAL,
    WARNING,
    Event,
    ObjectRef,
    PlanBuilder,
    annotations_of,
    controller_ref_of,
    creation_time,
    deep_copy,
    name_of,
    scaled_value,
    uid_of,
)

__all__ = [
    "DESIRED_REPLICAS_ANNOTATION",
    "RollbackError",
    "MAX_REPLICAS_ANNOTATION",
    "REVISION_ANNOTATION",
    "DeploymentSync",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "resolve_fenceposts",
    "rollback_deployment",
]

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
SKIP_COPY = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION,
    ROLLBACK_TO_ANNOTATION,
})



# -- spec accessors ---------------------------------------------------------------------


def replicas_of(obj: Mapping[str, Any]) -> int:
    """``*spec.replicas`` (the API server defaults it to 1)."""
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def status_of(obj: Mapping[str, Any], field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    return (strategy.get("type") or "RollingUpdate") == "RollingUpdate"


def _rolling_params(d: Mapping[str, Any]) -> tuple[Any, Any]:
    ru = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    # apps/v1 defaulting: both "25%" when rollingUpdate is absent.
    return ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounds up, unavailable down; if both resolve to zero,
    unavailable is 1 ("surge might not work due to quota")."""
    s = scaled_value(0 if surge is None else surge, desired, round_up=True)
    u = scaled_value(0 if unavailable is None else unavailable, desired, round_up=False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas_of(d))[0]


def max_unavailable(d: Mapping[str, Any]) -> int:
    """``MaxUnavailable``: 0 for Recreate or zero replicas, never more than replicas."""
    replicas = replicas_of(d)
    if not is_rolling_update(d) or replicas == 0:
        return 0
    return min(resolve_fenceposts(*_rolling_params(d), replicas)[1], replicas)


def revision_of(rs: Mapping[str, Any]) -> int | None:
    raw = annotations_of(rs).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return None


def max_revision(rss: Iterable[Mapping[str, Any]]) -> int:
    return max((r for rs in rss if (r := revision_of(rs)) is not None), default=0)


def total_replicas(rss: Iterable[Mapping[str, Any]]) -> int:
    return sum(replicas_of(rs) for rs in rss)


def total_status(rss: Iterable[Mapping[str, Any]], field: str) -> int:
    return sum(status_of(rs, field) for rs in rss)


def active(rss: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``FilterActiveReplicaSets``: spec.replicas > 0."""
    return [rs for rs in rss if rs is not None and replicas_of(rs) > 0]  # type: ignore[misc]


# -- orderings (controller_utils.go) ------------------------------------------------------


def _by_creation(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    ta, tb = creation_time(a) or 0.0, creation_time(b) or 0.0
    if ta != tb:
        return -1 if ta < tb else 1
    na, nb = name_of(a), name_of(b)
    return (na > nb) - (na < nb)


def sort_by_creation(rss: Iterable[dict[str, Any]], *, reverse: bool = False) -> list[dict[str, Any]]:
    return sorted(rss, key=functools.cmp_to_key(_by_creation), reverse=reverse)


def _by_size(newer_first: bool) -> Any:
    def cmp(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        ra, rb = replicas_of(a), replicas_of(b)
        if ra != rb:
            return -1 if ra > rb else 1
        return _by_creation(b, a) if newer_first else _by_creation(a, b)
    return functools.cmp_to_key(cmp)


def sort_by_revision(rss: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def cmp(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        ra, rb = revision_of(a) or 0, revision_of(b) or 0
        return (ra > rb) - (ra < rb) or _by_creation(a, b)
    return sorted(rss, key=functools.cmp_to_key(cmp))


# -- one sync's working state -------------------------------------------------------------


class DeploymentSync:
    """A Deployment sync in progress: ``d`` is a working copy whose status and annotations
    collect the changes to write; ``write_rs`` records ReplicaSet writes in the plan."""

    def __init__(self, deployment: Mapping[str, Any], now: float, builder: PlanBuilder) -> None:
        self.original = deployment
        self.d: dict[str, Any] = deep_copy(dict(deployment))
        self.d.setdefault("status", {})
        self.now = now
        self.b = builder
        self.ref = ObjectRef.of(deployment, api_version="apps/v1", kind="Deployment")
        self.created: set[str] = set()  # names of ReplicaSets this plan creates

    @property
    def replicas(self) -> int:
        return replicas_of(self.d)

    def rs_ref(self, rs: Mapping[str, Any]) -> ObjectRef:
        return ObjectRef.of(rs, api_version="apps/v1", kind="ReplicaSet")

    def write_rs(self, rs: dict[str, Any], events: Sequence[Event] = ()) -> None:
        self.b.update(self.rs_ref(rs), deep_copy(rs), on_success=events)

    def scaling_event(self, rs: Mapping[str, Any], operation: str, scale: int) -> Event:
        return Event(type=NORMAL, reason="ScalingReplicaSet", involved=self.ref,
                     message=f"Scaled {operation} replica set {name_of(rs)} to {scale}")

    def scale_rs(self, rs: dict[str, Any], new_scale: int, operation: str) -> bool:
        """``scaleReplicaSet``: write the size and the replicas annotations if either changed;
        report "scaled" (and the event) only for a size change."""
        max_replicas = self.replicas + max_surge(self.d)
        size_changed = replicas_of(rs) != new_scale
        annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
        want = {DESIRED_REPLICAS_ANNOTATION: str(self.replicas),
                MAX_REPLICAS_ANNOTATION: str(max_replicas)}
        if not size_changed and all(annotations.get(k) == v for k, v in want.items()):
            return False
        rs.setdefault("spec", {})["replicas"] = new_scale
        annotations.update(want)
        events = [self.scaling_event(rs, operation, new_scale)] if size_changed else []
        self.write_rs(rs, events)
        return size_changed

    def scale_and_record(self, rs: dict[str, Any], new_scale: int) -> bool:
        """``scaleReplicaSetAndRecordEvent``: nothing to do when the size already matches."""
        if replicas_of(rs) == new_scale:
            return False
        return self.scale_rs(rs, new_scale, "up" if replicas_of(rs) < new_scale else "down")


# -- rolling update (rolling.go) ------------------------------------------------------------


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Mapping[str, Any]],
                        new_rs: Mapping[str, Any]) -> int:
    """``NewRSNewReplicas``: how far the new ReplicaSet may grow now."""
    if not is_rolling_update(d):
        return replicas_of(d)
    replicas = replicas_of(d)
    max_total = replicas + max_surge(d)
    current = total_replicas(all_rss)
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def reconcile_new_replica_set(sync: DeploymentSync, all_rss: Sequence[dict[str, Any]],
                              new_rs: dict[str, Any]) -> bool:
    if replicas_of(new_rs) == sync.replicas:
        return False
    if replicas_of(new_rs) > sync.replicas:
        return sync.scale_and_record(new_rs, sync.replicas)
    return sync.scale_and_record(new_rs, new_rs_new_replicas(sync.d, all_rss, new_rs))


class CleanupError(RuntimeError):
    """The error ``cleanupUnhealthyReplicas`` returns when an old set reports more available
    replicas than it asks for (a status not yet caught up with a scale-down): the sync fails
    and the key is retried with back-off, as ``syncDeployment`` returning an error is."""


def _cleanup_unhealthy(sync: DeploymentSync, old_rss: list[dict[str, Any]], max_cleanup: int) -> int:
    """``cleanupUnhealthyReplicas``: scale old sets down by their unavailable pods first,
    oldest first, so unhealthy replicas never block a rollout (kubernetes#16737)."""
    total = 0
    for rs in sort_by_creation(old_rss):
        if total >= max_cleanup:
            break
        spec_replicas, available = replicas_of(rs), status_of(rs, "availableReplicas")
        if spec_replicas == 0 or spec_replicas == available:
            continue
        count = min(max_cleanup - total, spec_replicas - available)
        if count < 0:
            raise CleanupError(f"when cleaning up unhealthy replicas, got invalid request to "
                                 f"scale down {name_of(rs)} {spec_replicas} -> {spec_replicas - count}")
        sync.scale_and_record(rs, spec_replicas - count)
        total += count
    return total


def _scale_down_old_for_rolling(sync: DeploymentSync, all_rss: Sequence[dict[str, Any]],
                                old_rss: list[dict[str, Any]]) -> int:
    """``scaleDownOldReplicaSetsForRollingUpdate``: remove available old pods while the
    available count stays at least ``replicas - maxUnavailable``."""
    min_available = sync.replicas - max_unavailable(sync.d)
    available = total_status(all_rss, "availableReplicas")
    if available <= min_available:
        return 0
    total, target = 0, available - min_available
    for rs in sort_by_creation(old_rss):
        if total >= target:
            break
        if replicas_of(rs) == 0:
            continue
        count = min(replicas_of(rs), target - total)
        sync.scale_and_record(rs, replicas_of(rs) - count)
        total += count
    return total


def reconcile_old_replica_sets(sync: DeploymentSync, all_rss: Sequence[dict[str, Any]],
                               old_rss: list[dict[str, Any]], new_rs: dict[str, Any]) -> bool:
    """``reconcileOldReplicaSets``: maxScaledDown = allPods - minAvailable - newRSUnavailable."""
    if total_replicas(old_rss) == 0:
        return False
    min_available = sync.replicas - max_unavailable(sync.d)
    new_unavailable = replicas_of(new_rs) - status_of(new_rs, "availableReplicas")
    max_scaled_down = total_replicas(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    cleaned = _cleanup_unhealthy(sync, old_rss, max_scaled_down)
    scaled = _scale_down_old_for_rolling(sync, [*old_rss, new_rs], old_rss)
    return cleaned + scaled > 0


# -- recreate (recreate.go) ---------------------------------------------------------------


def scale_down_old_for_recreate(sync: DeploymentSync, old_rss: Sequence[dict[str, Any]]) -> bool:
    scaled = False
    for rs in old_rss:
        if replicas_of(rs) == 0:
            continue
        scaled = sync.scale_and_record(rs, 0) or scaled
    return scaled


def old_pods_running(new_rs: Mapping[str, Any] | None, old_rss: Sequence[Mapping[str, Any]],
                     pod_map: Mapping[str, Sequence[Mapping[str, Any]]]) -> bool:
    """``oldPodsRunning``: any old pod not Succeeded/Failed (Unknown counts as running)."""
    if total_status(old_rss, "replicas") > 0:
        return True
    new_uid = uid_of(new_rs) if new_rs is not None else None
    for rs_uid, pods in pod_map.items():
        if new_uid and rs_uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


# -- scaling events and proportional scaling (sync.go scale, util GetProportion) ----------


def find_active_or_latest(new_rs: dict[str, Any] | None,
                          old_rss: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    if new_rs is None and not old_rss:
        return None
    old_sorted = sort_by_creation(old_rss, reverse=True)
    actives = active([*old_sorted, *([new_rs] if new_rs is not None else [])])
    if len(actives) == 0:
        return new_rs if new_rs is not None else old_sorted[0]
    if len(actives) == 1:
        return actives[0]
    return None


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS_ANNOTATION, ""))
    except ValueError:
        return False
    replicas = replicas_of(d)
    return (replicas_of(rs) == replicas and desired == replicas
            and status_of(rs, "availableReplicas") == replicas)


def _round_half_away(num: int, den: int) -> int:
    """``integer.RoundToInt32(float(num)/float(den))`` for num, den > 0, exactly."""
    return (2 * num + den) // (2 * den)


def _rs_fraction(rs: Mapping[str, Any], d: Mapping[str, Any]) -> int:
    """``getReplicaSetFraction``: rs.replicas scaled from the max-replicas it was sized for
    to the deployment's new replicas + maxSurge."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    d_max = replicas_of(d) + max_surge(d)
    try:
        before = int(annotations_of(rs).get(MAX_REPLICAS_ANNOTATION, ""))
    except ValueError:
        before = 0
    if before == 0:
        # No annotation (edited by hand, or scaled to zero and back): assume the set was
        # sized for the deployment's current size, else for its new maximum.
        before = status_of(d, "replicas") or d_max
    return _round_half_away(replicas_of(rs) * d_max, before) - replicas_of(rs)


def get_proportion(rs: Mapping[str, Any], d: Mapping[str, Any], to_add: int, added: int) -> int:
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = _rs_fraction(rs, d), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def scale(sync: DeploymentSync, new_rs: dict[str, Any] | None, old_rss: list[dict[str, Any]]) -> None:
    """``scale``: one active set takes the whole size; a saturated new set empties the old
    ones; otherwise every active set grows or shrinks in proportion, leftovers to the largest
    (newer sets first when scaling up, older first when scaling down)."""
    target = find_active_or_latest(new_rs, old_rss)
    if target is not None:
        # Kubernetes returns here when the size already matches, leaving a stale
        # desired-replicas annotation: isScalingEvent then stays true and the rollout never
        # resumes (kubernetes/kubernetes#138036, found by this package's property test).
        # We apply that PR's fix: refresh the annotations without a scaling event.
        sync.scale_rs(target, sync.replicas, "up" if replicas_of(target) < sync.replicas else "down")
        return
    if is_saturated(sync.d, new_rs):
        for rs in active(old_rss):
            sync.scale_and_record(rs, 0)
        return
    if not is_rolling_update(sync.d):
        return
    all_rss = active([*old_rss, *([new_rs] if new_rs is not None else [])])
    allowed = sync.replicas + max_surge(sync.d) if sync.replicas > 0 else 0
    to_add = allowed - total_replicas(all_rss)
    operation = ""
    if to_add > 0:
        all_rss.sort(key=_by_size(newer_first=True))
        operation = "up"
    elif to_add < 0:
        all_rss.sort(key=_by_size(newer_first=False))
        operation = "down"
    added, sizes = 0, []
    for rs in all_rss:
        proportion = get_proportion(rs, sync.d, to_add, added) if to_add else 0
        sizes.append(replicas_of(rs) + proportion)
        added += proportion
    if all_rss and to_add:
        sizes[0] = max(0, sizes[0] + to_add - added)
    for rs, size in zip(all_rss, sizes, strict=True):
        sync.scale_rs(rs, size, operation)


# -- rollback (rollback.go, kubectl rollout undo) ---------------------------------------------


class RollbackError(ValueError):
    """``kubectl rollout undo`` cannot roll back (kubectl's message)."""


def _strip_hash(template: Mapping[str, Any]) -> Any:
    t = deep_copy(dict(template or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
        if not labels:
            del t["metadata"]["labels"]
    return _normalized(t)


def _normalized(x: Any) -> Any:
    """JSON with empty maps/lists and nulls dropped (``omitempty``), for comparisons."""
    if isinstance(x, Mapping):
        out = {k: _normalized(v) for k, v in x.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(x, list):
        return [_normalized(v) for v in x]
    return x


def equal_ignore_hash(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> bool:
    """``EqualIgnoreHash``: templates equal once the pod-template-hash label is removed."""
    return _strip_hash(t1) == _strip_hash(t2)


def rollback_to(d: Mapping[str, Any]) -> int | None:
    raw = annotations_of(d).get(ROLLBACK_TO_ANNOTATION)
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def rollback(sync: DeploymentSync, all_rss: Sequence[Mapping[str, Any]]) -> None:
    """rollback.go: copy the template of the requested revision (0: the previous one) into
    the deployment and clear the request, with Kubernetes' events. ``all_rss`` are the
    sets after ``getAllReplicaSetsAndSyncRevision(create=True)``."""
    revision = rollback_to(sync.d) or 0
    if revision == 0:
        revs = sorted({r for rs in all_rss if (r := revision_of(rs))}, reverse=True)
        revision = revs[1] if len(revs) > 1 else 0
        if revision == 0:
            sync.b.event(WARNING, "DeploymentRollbackRevisionNotFound", "Unable to find last revision.", sync.ref)
            return _clear_rollback(sync)
    target = next((rs for rs in all_rss if revision_of(rs) == revision), None)
    if target is None:
        sync.b.event(WARNING, "DeploymentRollbackRevisionNotFound",
                     "Unable to find the revision to rollback to.", sync.ref)
        return _clear_rollback(sync)
    spec = sync.d.setdefault("spec", {})
    if equal_ignore_hash(spec.get("template") or {}, (target.get("spec") or {}).get("template") or {}):
        sync.b.event(WARNING, "DeploymentRollbackTemplateUnchanged",
                     f'The rollback revision contains the same template as current deployment "{name_of(sync.d)}"',
                     sync.ref)
        return _clear_rollback(sync)
    _apply_template(sync.d, target)
    _clear_rollback(sync, [Event(type=NORMAL, reason="DeploymentRollback", involved=sync.ref,
                                 message=f'Rolled back deployment "{name_of(sync.d)}" to revision {revision}')])


def _apply_template(d: dict[str, Any], rs: Mapping[str, Any]) -> None:
    """``SetFromReplicaSetTemplate`` + ``SetDeploymentAnnotationsTo``."""
    template = deep_copy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    d.setdefault("spec", {})["template"] = template
    meta = d.setdefault("metadata", {})
    kept = {k: v for k, v in (meta.get("annotations") or {}).items() if k in SKIP_COPY}
    kept.update({k: v for k, v in annotations_of(rs).items() if k not in SKIP_COPY})
    meta["annotations"] = kept


def _clear_rollback(sync: DeploymentSync, events: Sequence[Event] = ()) -> None:
    """``updateDeploymentAndClearRollbackTo``: an update of the whole deployment."""
    (sync.d.get("metadata", {}).get("annotations") or {}).pop(ROLLBACK_TO_ANNOTATION, None)
    body = deep_copy(sync.d)
    body["status"] = deep_copy(sync.original.get("status") or {})
    sync.b.update(sync.ref, body, on_success=events)


def rollback_deployment(deployment: Mapping[str, Any], replica_sets: Iterable[Mapping[str, Any]],
                        to_revision: int = 0) -> dict[str, Any]:
    """What ``kubectl rollout undo [--to-revision=N]`` writes: the deployment with the pod
    template and annotations of revision N (0: the previous one). Raises ``RollbackError``
    with kubectl's messages."""
    owned = [rs for rs in replica_sets if (controller_ref_of(rs) or {}).get("uid") == uid_of(deployment)]
    by_rev = {r: rs for rs in owned if (r := revision_of(rs))}
    if not by_rev:
        raise RollbackError(f'no rollout history found for deployment "{name_of(deployment)}"')
    if to_revision == 0:
        revs = sorted(by_rev, reverse=True)
        if len(revs) < 2:
            raise RollbackError("no revision found for deployment")
        to_revision = revs[1]
    target = by_rev.get(to_revision)
    if target is None:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    d = deep_copy(dict(deployment))
    if equal_ignore_hash((d.get("spec") or {}).get("template") or {},
                         (target.get("spec") or {}).get("template") or {}):
        raise RollbackError(f"skipped rollback (current template already matches revision {to_revision})")
    _apply_template(d, target)
    return d
