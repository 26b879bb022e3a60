"""Deployment reconcile (``pkg/controller/deployment``: deployment_controller.go syncDeployment,
sync.go, progress.go, rollback.go).

What it is: ``reconcile_deployment(deployment, replica_sets, pods, *, now)`` returns the plan
of one ``syncDeployment``: claim ReplicaSets, then in Kubernetes' order: status only while
being deleted; the DeploymentPaused/DeploymentResumed Progressing condition; a paused or
scaling sync (proportional scaling); a rollback requested with the
``deprecated.deployment.rollback.to`` annotation; else a Recreate or RollingUpdate step. It
finds or creates the new ReplicaSet (``<name>-<pod-template-hash>``, bumping
``status.collisionCount`` on a hash collision), keeps the ``deployment.kubernetes.io/revision``
annotations, deletes old ReplicaSets beyond ``revisionHistoryLimit`` once complete, and
writes the status with the Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded) and Available
(MinimumReplicasAvailable / MinimumReplicasUnavailable) conditions, requeueing a stuck
rollout at its deadline. The arithmetic and the rollback live in ``_logic_rollout``.

Concurrency model: none; pure functions. ``replica_sets`` are the namespace's ReplicaSets
(needed to adopt orphans and to see hash collisions), ``pods`` the namespace's pods.

Invariants: the status write carries the whole object including the revision annotation, as
Kubernetes' ``UpdateStatus`` does (its deployment status strategy keeps
``metadata.annotations``); at most one write per ReplicaSet per plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.api import pod_template_hash, selector_from_api

from . import _logic_rollout as ro
from ._logic_replicaset import claim_objects
from ._plan import (
    WARNING,
    Event,
    Plan,
    PlanBuilder,
    annotations_of,
    controller_ref_of,
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

__all__ = ["reconcile_deployment"]

MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
_MAX_INT32 = 2**31 - 1


# -- conditions (deployment_util.go) ----------------------------------------------------


def _new_condition(type_: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    t = format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def _set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """``SetDeploymentCondition``: same status and reason is a no-op; same status keeps
    lastTransitionTime; the condition moves to the end of the list."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] \
            and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    others = [c for c in status.get("conditions") or () if c.get("type") != cond["type"]]
    status["conditions"] = [*others, cond]


def _remove_condition(status: dict[str, Any], type_: str) -> None:
    conds = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def _progress_deadline(d: Mapping[str, Any]) -> int | None:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return None if pds is None or pds == _MAX_INT32 else int(pds)


# -- finding and creating the new ReplicaSet (sync.go) -------------------------------------


def _copy_annotations_to_rs(d: Mapping[str, Any], rs: dict[str, Any]) -> bool:
    annotations = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annotations_of(d).items():
        if k in ro.SKIP_COPY or annotations.get(k) == v:
            continue
        annotations[k] = v
        changed = True
    return changed


def _set_new_rs_annotations(d: Mapping[str, Any], rs: dict[str, Any], new_revision: int,
                            exists: bool) -> bool:
    """``SetNewReplicaSetAnnotations``: copy the deployment's annotations, raise the revision
    to ``new_revision`` (remembering the old one in revision-history: a rollback), and on
    creation set the replicas annotations."""
    changed = _copy_annotations_to_rs(d, rs)
    annotations = rs["metadata"]["annotations"]
    old = annotations.get(ro.REVISION_ANNOTATION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    if old_int < new_revision:
        annotations[ro.REVISION_ANNOTATION] = str(new_revision)
        changed = True
        if old:
            history = annotations.get(ro.REVISION_HISTORY_ANNOTATION, "")
            parts = history.split(",") if history else []
            total = len(history) + len(old) + 1
            start = 0
            while total > MAX_REV_HISTORY_LENGTH_IN_CHARS and start < len(parts):
                total -= len(parts[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS:
                annotations[ro.REVISION_HISTORY_ANNOTATION] = ",".join([*parts[start:], old])
    if not exists:
        annotations[ro.DESIRED_REPLICAS_ANNOTATION] = str(ro.replicas_of(d))
        annotations[ro.MAX_REPLICAS_ANNOTATION] = str(ro.replicas_of(d) + ro.max_surge(d))
        changed = True
    return changed


def _set_deployment_revision(sync: ro.DeploymentSync, revision: str) -> None:
    annotations = sync.d.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[ro.REVISION_ANNOTATION] = revision


class _Collision(Exception):
    """The new ReplicaSet's name is taken by a different template: collisionCount bumped."""


def _new_rs_body(sync: ro.DeploymentSync) -> tuple[str, dict[str, Any]]:
    d = sync.d
    spec = d.get("spec") or {}
    template = deep_copy(spec.get("template") or {})
    h = pod_template_hash(template, (d.get("status") or {}).get("collisionCount"))
    template.setdefault("metadata", {}).setdefault("labels", {})[ro.POD_TEMPLATE_HASH_LABEL] = h
    selector = deep_copy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[ro.POD_TEMPLATE_HASH_LABEL] = h
    name = f"{name_of(d)}-{h}"
    body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace_of(d),
                         "labels": dict(template["metadata"]["labels"]),
                         "ownerReferences": [new_controller_ref(d, api_version="apps/v1",
                                                                kind="Deployment")]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
            "status": {}}
    return name, body


def get_all_replica_sets(sync: ro.DeploymentSync, rss: list[dict[str, Any]],
                         namespace_rss: Sequence[Mapping[str, Any]], *,
                         create: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``getAllReplicaSetsAndSyncRevision``: the new set (created when ``create``) and the
    old ones; raises ``_Collision`` after planning the collisionCount bump."""
    template = (sync.d.get("spec") or {}).get("template") or {}
    new_rs = next((rs for rs in ro.sort_by_creation(rss)
                   if ro.equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template)), None)
    old = [rs for rs in rss if rs is not new_rs]
    new_revision = ro.max_revision(old) + 1
    if new_rs is not None:
        changed = _set_new_rs_annotations(sync.d, new_rs, new_revision, exists=True)
        min_ready = (sync.d.get("spec") or {}).get("minReadySeconds") or 0
        if changed or ((new_rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
            new_rs.setdefault("spec", {})["minReadySeconds"] = min_ready
            sync.write_rs(new_rs)
            return new_rs, old
        _set_deployment_revision(sync, annotations_of(new_rs).get(ro.REVISION_ANNOTATION, ""))
        if _progress_deadline(sync.d) is not None and get_condition(sync.d["status"], "Progressing") is None:
            _set_condition(sync.d["status"], _new_condition(
                "Progressing", "True", "FoundNewReplicaSet",
                f'Found new replica set "{name_of(new_rs)}"', sync.now))
        return new_rs, old
    if not create:
        return None, old
    name, body = _new_rs_body(sync)
    if any(name_of(rs) == name for rs in namespace_rss):
        # Same name, different template (else it would be our new set): a hash collision.
        sync.d["status"]["collisionCount"] = int(sync.d["status"].get("collisionCount") or 0) + 1
        raise _Collision(name)
    body["spec"]["replicas"] = ro.new_rs_new_replicas(sync.d, [*old, body], body)
    _set_new_rs_annotations(sync.d, body, new_revision, exists=False)
    count = body["spec"]["replicas"]
    ok = [sync.scaling_event(body, "up", count)] if count > 0 else []
    bad = [Event(type=WARNING, reason="FailedCreate", involved=sync.ref,
                 message=f'Failed to create new replica set "{name}": {{error}}')]
    sync.b.create(sync.rs_ref(body), {k: deep_copy(v) for k, v in body.items() if k != "status"},
                  on_success=ok, on_failure=bad)
    sync.created.add(name)
    _set_deployment_revision(sync, str(new_revision))
    if _progress_deadline(sync.d) is not None:
        _set_condition(sync.d["status"], _new_condition(
            "Progressing", "True", "NewReplicaSetCreated",
            f'Created new replica set "{name}"', sync.now))
    return body, old


# -- status (sync.go calculateStatus, progress.go) --------------------------------------------


def _calculate_status(sync: ro.DeploymentSync, all_rss: Sequence[dict[str, Any]],
                      new_rs: Mapping[str, Any] | None) -> dict[str, Any]:
    d = sync.d
    available = ro.total_status(all_rss, "availableReplicas")
    status: dict[str, Any] = {
        "observedGeneration": meta_of(d).get("generation", 0),
        "replicas": ro.total_status(all_rss, "replicas"),
        "updatedReplicas": ro.status_of(new_rs, "replicas") if new_rs is not None else 0,
        "readyReplicas": ro.total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(0, ro.total_replicas(all_rss) - available),
    }
    if d["status"].get("collisionCount") is not None:
        status["collisionCount"] = d["status"]["collisionCount"]
    if d["status"].get("conditions"):
        status["conditions"] = deep_copy(d["status"]["conditions"])
    if available >= sync.replicas - ro.max_unavailable(d):
        cond = _new_condition("Available", "True", "MinimumReplicasAvailable",
                              "Deployment has minimum availability.", sync.now)
    else:
        cond = _new_condition("Available", "False", "MinimumReplicasUnavailable",
                              "Deployment does not have minimum availability.", sync.now)
    _set_condition(status, cond)
    return status


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    r = ro.replicas_of(d)
    return (status.get("updatedReplicas", 0) == r and status.get("replicas", 0) == r
            and status.get("availableReplicas", 0) == r
            and status.get("observedGeneration", 0) >= meta_of(d).get("generation", 0))


def _progressing(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    def g(s: Mapping[str, Any], k: str) -> int:
        return int(s.get(k) or 0)
    return (g(new, "updatedReplicas") > g(old, "updatedReplicas")
            or g(new, "replicas") - g(new, "updatedReplicas") < g(old, "replicas") - g(old, "updatedReplicas")
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas"))


def _timed_out(d: Mapping[str, Any], status: Mapping[str, Any], now: float) -> bool:
    deadline = _progress_deadline(d)
    cond = get_condition(status, "Progressing")
    if deadline is None or cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    return since is not None and since + deadline < now


def _rollout_conditions(sync: ro.DeploymentSync, status: dict[str, Any],
                        new_rs: Mapping[str, Any] | None) -> None:
    d, now = sync.d, sync.now
    what = f'ReplicaSet "{name_of(new_rs)}"' if new_rs is not None else f'Deployment "{name_of(d)}"'
    current = get_condition(d["status"], "Progressing")
    if deployment_complete(d, status):
        _set_condition(status, _new_condition("Progressing", "True", "NewReplicaSetAvailable",
                                              f"{what} has successfully progressed.", now))
    elif _progressing(d["status"], status):
        cond = _new_condition("Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.", now)
        # Progressing is special: with the same reason, only lastUpdateTime moves on progress.
        if current is not None:
            if current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            _remove_condition(status, "Progressing")
        _set_condition(status, cond)
    elif _timed_out(d, status, now):
        _set_condition(status, _new_condition("Progressing", "False", "ProgressDeadlineExceeded",
                                              f"{what} has timed out progressing.", now))


def _replica_failure(all_rss: Sequence[Mapping[str, Any]],
                     new_rs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    for group in ([new_rs] if new_rs is not None else [], all_rss):
        for rs in group:
            c = get_condition(rs.get("status"), "ReplicaFailure")
            if c is not None:
                return {"type": "ReplicaFailure", "status": c.get("status"),
                        "lastUpdateTime": c.get("lastTransitionTime"),
                        "lastTransitionTime": c.get("lastTransitionTime"),
                        "reason": c.get("reason"), "message": c.get("message")}
    return None


def _requeue_stuck(sync: ro.DeploymentSync, status: Mapping[str, Any]) -> None:
    """``requeueStuckDeployment``: check again when the progress deadline passes."""
    deadline = _progress_deadline(sync.d)
    current = get_condition(sync.d["status"], "Progressing")
    if deadline is None or current is None or deployment_complete(sync.d, status):
        return
    if current.get("reason") == "ProgressDeadlineExceeded":
        return
    since = parse_time(current.get("lastUpdateTime")) or sync.now
    after = since + deadline - sync.now
    sync.b.requeue_after(0.0 if after < 1 else after + 1)


def sync_rollout_status(sync: ro.DeploymentSync, all_rss: Sequence[dict[str, Any]],
                        new_rs: Mapping[str, Any] | None) -> None:
    status = _calculate_status(sync, all_rss, new_rs)
    if _progress_deadline(sync.d) is None:
        _remove_condition(status, "Progressing")
    current = get_condition(sync.d["status"], "Progressing")
    complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                and current.get("reason") == "NewReplicaSetAvailable")
    if _progress_deadline(sync.d) is not None and not complete:
        _rollout_conditions(sync, status, new_rs)
    if (failure := _replica_failure(all_rss, new_rs)) is not None:
        _set_condition(status, failure)
    else:
        _remove_condition(status, "ReplicaFailure")
    if status == sync.d["status"]:
        _requeue_stuck(sync, status)
    sync.d["status"] = status


def sync_deployment_status(sync: ro.DeploymentSync, all_rss: Sequence[dict[str, Any]],
                           new_rs: Mapping[str, Any] | None) -> None:
    sync.d["status"] = _calculate_status(sync, all_rss, new_rs)


# -- the sync paths -----------------------------------------------------------------------


def _rss_with(new_rs: dict[str, Any] | None, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*old, new_rs] if new_rs is not None else list(old)


def _cleanup(sync: ro.DeploymentSync, old: Sequence[dict[str, Any]]) -> None:
    """``cleanupDeployment``: delete the oldest revisions beyond revisionHistoryLimit, never
    one with replicas, unobserved changes or already being deleted."""
    limit = (sync.d.get("spec") or {}).get("revisionHistoryLimit")
    if limit is None or limit == _MAX_INT32:
        return
    alive = [rs for rs in old if not meta_of(rs).get("deletionTimestamp")]
    for rs in ro.sort_by_revision(alive)[: max(0, len(alive) - int(limit))]:
        if (ro.status_of(rs, "replicas") != 0 or ro.replicas_of(rs) != 0
                or meta_of(rs).get("generation", 0) > ro.status_of(rs, "observedGeneration")):
            continue
        sync.b.delete(sync.rs_ref(rs))


def _sync_scale(sync: ro.DeploymentSync, rss: list[dict[str, Any]], ns_rss: Sequence[Any]) -> None:
    """``sync``: scaling events and paused deployments (no rollout progress)."""
    new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=False)
    ro.scale(sync, new_rs, old)
    if (sync.d.get("spec") or {}).get("paused") and ro.rollback_to(sync.d) is None:
        _cleanup(sync, old)
    sync_deployment_status(sync, _rss_with(new_rs, old), new_rs)


def _rolling(sync: ro.DeploymentSync, rss: list[dict[str, Any]], ns_rss: Sequence[Any]) -> None:
    new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=True)
    assert new_rs is not None
    all_rss = _rss_with(new_rs, old)
    if not ro.reconcile_new_replica_set(sync, all_rss, new_rs):
        if not ro.reconcile_old_replica_sets(sync, all_rss, ro.active(old), new_rs):
            if deployment_complete(sync.d, sync.original.get("status") or {}):
                _cleanup(sync, old)
    sync_rollout_status(sync, all_rss, new_rs)


def _recreate(sync: ro.DeploymentSync, rss: list[dict[str, Any]], ns_rss: Sequence[Any],
              pod_map: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=False)
    all_rss = _rss_with(new_rs, old)
    if ro.scale_down_old_for_recreate(sync, ro.active(old)) or ro.old_pods_running(new_rs, old, pod_map):
        sync_rollout_status(sync, all_rss, new_rs)
        return
    if new_rs is None:
        new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=True)
        assert new_rs is not None
        all_rss = _rss_with(new_rs, old)
    sync.scale_and_record(new_rs, sync.replicas)
    if deployment_complete(sync.d, sync.original.get("status") or {}):
        _cleanup(sync, old)
    sync_rollout_status(sync, all_rss, new_rs)


def _is_scaling_event(sync: ro.DeploymentSync, rss: list[dict[str, Any]], ns_rss: Sequence[Any]) -> bool:
    new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=False)
    for rs in ro.active(_rss_with(new_rs, old)):
        raw = annotations_of(rs).get(ro.DESIRED_REPLICAS_ANNOTATION)
        try:
            desired = int(raw) if raw is not None else None
        except ValueError:
            desired = None
        if desired is not None and desired != sync.replicas:
            return True
    return False


def _check_paused(sync: ro.DeploymentSync) -> None:
    if _progress_deadline(sync.d) is None:
        return
    cond = get_condition(sync.d["status"], "Progressing")
    if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
        return
    paused_cond = cond is not None and cond.get("reason") == "DeploymentPaused"
    paused = bool((sync.d.get("spec") or {}).get("paused"))
    if paused and not paused_cond:
        _set_condition(sync.d["status"], _new_condition("Progressing", "Unknown", "DeploymentPaused",
                                                        "Deployment is paused", sync.now))
    elif not paused and paused_cond:
        _set_condition(sync.d["status"], _new_condition("Progressing", "Unknown", "DeploymentResumed",
                                                        "Deployment is resumed", sync.now))


def _flush_status(sync: ro.DeploymentSync) -> None:
    original = sync.original
    if (sync.d.get("status") or {}) != (original.get("status") or {}) \
            or annotations_of(sync.d) != annotations_of(original):
        body = deep_copy(sync.d)
        if not body.get("status"):
            body.pop("status", None)
        sync.b.update(sync.ref, body, subresource="status")


def reconcile_deployment(deployment: Mapping[str, Any], replica_sets: Iterable[Mapping[str, Any]],
                         pods: Iterable[Mapping[str, Any]], *, now: float) -> Plan:
    """One ``syncDeployment`` of ``deployment`` against the namespace's ReplicaSets and pods."""
    b = PlanBuilder()
    sync = ro.DeploymentSync(deployment, now, b)
    ns = namespace_of(deployment)
    ns_rss = [rs for rs in replica_sets if namespace_of(rs) == ns]
    raw_selector = (deployment.get("spec") or {}).get("selector")
    if raw_selector == {}:
        b.event(WARNING, "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.", sync.ref)
        if (sync.d["status"].get("observedGeneration") or 0) < (meta_of(deployment).get("generation") or 0):
            sync.d["status"]["observedGeneration"] = meta_of(deployment).get("generation")
            _flush_status(sync)
        return b.build()
    selector = selector_from_api(raw_selector)
    owned = claim_objects(deployment, ns_rss, selector, owner_ref=sync.ref,
                          child_api_version="apps/v1", child_kind="ReplicaSet", builder=b)
    rss = [deep_copy(dict(rs)) for rs in owned]
    try:
        _dispatch(sync, rss, ns_rss, _pod_map(rss, pods, selector, ns))
    except _Collision:
        pass
    _flush_status(sync)
    return b.build()


def _pod_map(rss: Sequence[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]], selector: Any,
             ns: str) -> dict[str, list[Mapping[str, Any]]]:
    """``getPodMapForDeployment``: the deployment's pods grouped by owning ReplicaSet uid."""
    out: dict[str, list[Mapping[str, Any]]] = {uid_of(rs): [] for rs in rss}
    for pod in pods:
        ref = controller_ref_of(pod)
        if namespace_of(pod) == ns and ref is not None and ref.get("uid") in out \
                and selector.matches(labels_of(pod)):
            out[ref["uid"]].append(pod)
    return out


def _dispatch(sync: ro.DeploymentSync, rss: list[dict[str, Any]], ns_rss: Sequence[Any],
              pod_map: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    if meta_of(sync.d).get("deletionTimestamp"):
        new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=False)
        return sync_deployment_status(sync, _rss_with(new_rs, old), new_rs)
    _check_paused(sync)
    if (sync.d.get("spec") or {}).get("paused"):
        return _sync_scale(sync, rss, ns_rss)
    if ro.rollback_to(sync.d) is not None:
        new_rs, old = get_all_replica_sets(sync, rss, ns_rss, create=True)
        return ro.rollback(sync, _rss_with(new_rs, old))
    if _is_scaling_event(sync, rss, ns_rss):
        return _sync_scale(sync, rss, ns_rss)
    if ro.is_rolling_update(sync.d):
        return _rolling(sync, rss, ns_rss)
    return _recreate(sync, rss, ns_rss, pod_map)
