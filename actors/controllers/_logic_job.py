"""Job reconcile (``pkg/controller/job``) and the TTL-after-finished controller
(``pkg/controller/ttlafterfinished``).

What it is: ``reconcile_job(job, pods, *, now, backoff)`` returns one ``syncJob``: pods are
counted through the ``batch.kubernetes.io/job-tracking`` finalizer (a finished pod goes into
``status.uncountedTerminatedPods``, its finalizer is removed, then it moves into
``succeeded``/``failed``: a pod is never counted twice nor lost when deleted); failures past
``backoffLimit`` (or container restarts past it with restartPolicy OnFailure) fail the Job
with BackoffLimitExceeded, ``activeDeadlineSeconds`` with DeadlineExceeded; pods are created
``parallelism`` at a time, not more than the completions left, in slow-start batches, after
the failure back-off (10 s doubling per failure since the last success, capped); Indexed Jobs
create the lowest pending completion indexes and report ``completedIndexes`` ("0-2,4").
Finishing follows Kubernetes 1.31+: the interim SuccessCriteriaMet / FailureTarget condition
first, Complete / Failed once no pod is left terminating, with the "Completed" "Job completed"
or the failure event. ``reconcile_ttl_after_finished`` deletes a finished Job (foreground)
``ttlSecondsAfterFinished`` after its finish.

Concurrency model: none; pure functions. Kubernetes keeps the back-off record in memory: the
result carries the new ``BackoffRecord`` for the shell to keep once the plan's first status
write has succeeded (as ``updateBackoffRecord`` after the first flush).

Invariants: a pod without the tracking finalizer is taken as already counted; the status is
written before finalizers are removed and again after (two chained writes of one plan).
Not modelled: podFailurePolicy, successPolicy, backoffLimitPerIndex, managedBy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from actors.api import selector_from_api

from ._logic_replicaset import (
    claim_objects,
    is_pod_active,
    is_pod_ready,
    rank_pods_for_deletion,
    slow_start_batches,
)
from ._plan import (
    NORMAL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
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
    "BackoffRecord",
    "JobResult",
    "format_indexes",
    "parse_indexes",
    "reconcile_job",
    "reconcile_ttl_after_finished",
]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"
DEFAULT_POD_FAILURE_BACKOFF = 10.0
# The documented cap ("capped at six minutes"); the controller's code uses ten since 1.26.
MAX_POD_FAILURE_BACKOFF = 360.0
MAX_POD_CREATE_DELETE_PER_SYNC = 500
MAX_UNCOUNTED_PODS = 500


class BackoffRecord(msgspec.Struct, frozen=True, kw_only=True):
    """``backoffRecord``: failures since the last success and the last failure's time."""

    failures_after_last_success: int = 0
    last_failure_time: float | None = None

    def remaining(self, now: float, *, base: float = DEFAULT_POD_FAILURE_BACKOFF,
                  cap: float = MAX_POD_FAILURE_BACKOFF) -> float:
        """``getRemainingTime``: 10 s * 2^(failures-1), capped, minus the time since."""
        if self.failures_after_last_success == 0 or self.last_failure_time is None:
            return 0.0
        delay = min(cap, base * 2 ** (self.failures_after_last_success - 1))
        return max(0.0, delay - (now - self.last_failure_time))


class JobResult(msgspec.Struct, frozen=True, kw_only=True):
    plan: Plan
    backoff: BackoffRecord


# -- completion indexes (indexed_job_utils.go) -----------------------------------------------


def parse_indexes(text: str | None, completions: int) -> list[int]:
    """``parseIndexesFromString``: "0-2,4" -> [0, 1, 2, 4], dropping what is out of range."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        out.update(i for i in range(lo, hi + 1) if 0 <= i < completions)
    return sorted(out)


def format_indexes(indexes: Iterable[int]) -> str:
    """``orderedIntervals.String``: runs as "a-b", a run of two as "a,b"."""
    parts: list[str] = []
    run: list[int] = []
    for i in sorted(set(indexes)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(_run(run))
        run = [i]
    if run:
        parts.append(_run(run))
    return ",".join(parts)


def _run(run: list[int]) -> str:
    if len(run) == 1:
        return str(run[0])
    return f"{run[0]},{run[-1]}" if len(run) == 2 else f"{run[0]}-{run[-1]}"


def completion_index(pod: Mapping[str, Any]) -> int:
    raw = annotations_of(pod).get(COMPLETION_INDEX_KEY, labels_of(pod).get(COMPLETION_INDEX_KEY))
    try:
        ix = int(raw) if raw is not None else -1
    except ValueError:
        return -1
    return ix if ix >= 0 else -1


# -- pod accounting ----------------------------------------------------------------------------


def _has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (meta_of(pod).get("finalizers") or ())


def _phase(pod: Mapping[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def _only_replace_failed(job: Mapping[str, Any]) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """``isPodFailed``: Failed, or (unless only failed pods are replaced) deleted before it
    succeeded: orphaned pods may never reach the Failed phase."""
    if _phase(pod) == "Failed":
        return True
    if _only_replace_failed(job):
        return False
    return bool(meta_of(pod).get("deletionTimestamp")) and _phase(pod) != "Succeeded"


def finished_time(pod: Mapping[str, Any]) -> float:
    """``getFinishedTime``: the latest container finish, else the Ready=False transition,
    else the deletion timestamp, else the creation time."""
    status = pod.get("status") or {}
    ends = [parse_time(((c.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            for c in status.get("containerStatuses") or ()]
    if (known := [t for t in ends if t is not None]):
        return max(known)
    ready = get_condition(status, "Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return parse_time(ready["lastTransitionTime"]) or 0.0
    return parse_time(meta_of(pod).get("deletionTimestamp")) or parse_time(
        meta_of(pod).get("creationTimestamp")) or 0.0


def next_backoff(prev: BackoffRecord | None, succeeded: Sequence[Mapping[str, Any]],
                 failed: Sequence[Mapping[str, Any]]) -> BackoffRecord:
    """``newBackoffRecord``: count failures that finished after the latest success."""
    rec = prev or BackoffRecord()
    fails = sorted(finished_time(p) for p in failed)
    if not succeeded:
        if not fails:
            return rec
        return BackoffRecord(failures_after_last_success=rec.failures_after_last_success + len(fails),
                             last_failure_time=fails[-1])
    last_success = max(finished_time(p) for p in succeeded)
    after = [t for t in fails if t > last_success]
    return BackoffRecord(failures_after_last_success=len(after),
                         last_failure_time=after[-1] if after else None)


def _past_backoff_limit_on_failure(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> bool:
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(c.get("restartCount") or 0 for p in pods if _phase(p) in ("Running", "Pending")
                   for c in [*((p.get("status") or {}).get("initContainerStatuses") or ()),
                             *((p.get("status") or {}).get("containerStatuses") or ())])
    limit = int(spec.get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def _condition(type_: str, status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    t = format_time(now)
    return {"type": type_, "status": status, "lastProbeTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def _ensure_condition(status: dict[str, Any], cond: dict[str, Any]) -> bool:
    """``ensureJobConditionStatus``: replace a differing condition, never add a False one."""
    conds = status.setdefault("conditions", [])
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if (c.get("status"), c.get("reason"), c.get("message")) != (
                    cond["status"], cond["reason"], cond["message"]):
                conds[i] = cond
                return True
            return False
    if cond["status"] != "False":
        conds.append(cond)
        return True
    if not conds:
        del status["conditions"]
    return False


def _is_finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


# -- one sync -----------------------------------------------------------------------------------


class _Sync:
    def __init__(self, job: Mapping[str, Any], pods: list[Mapping[str, Any]], now: float,
                 b: PlanBuilder) -> None:
        self.job, self.now, self.b = job, now, b
        self.ref = ObjectRef.of(job, api_version="batch/v1", kind="Job")
        self.j: dict[str, Any] = deep_copy(dict(job))
        self.status: dict[str, Any] = self.j.setdefault("status", {})
        spec = job.get("spec") or {}
        self.indexed = spec.get("completionMode") == "Indexed"
        self.completions: int | None = spec.get("completions")
        self.parallelism = int(spec.get("parallelism", 1))
        self.suspended = bool(spec.get("suspend"))
        self.pods = pods
        self.active_pods = [p for p in pods if is_pod_active(p)]
        self.ready = sum(1 for p in self.active_pods if is_pod_ready(p))
        self.terminating = sum(1 for p in pods if meta_of(p).get("deletionTimestamp")
                               and _phase(p) not in ("Succeeded", "Failed"))
        unc = self.status.get("uncountedTerminatedPods") or {}
        self.uncounted_succeeded: list[str] = list(unc.get("succeeded") or ())
        self.uncounted_failed: list[str] = list(unc.get("failed") or ())
        self.succeeded = 0
        self.prev_indexes: list[int] = []
        self.indexes: list[int] = []
        self.finished: dict[str, Any] | None = None

    def event_delete(self, pod: Mapping[str, Any], *, remove_finalizer: bool) -> None:
        ref = ObjectRef.of(pod, api_version="v1", kind="Pod")
        if remove_finalizer and _has_finalizer(pod):
            self.b.patch(ref, _remove_finalizer_patch(), patch_type="strategic")
        self.b.delete(ref, on_success=[Event(type=NORMAL, reason="SuccessfulDelete",
                                             message=f"Deleted pod: {ref.name}", involved=self.ref)],
                      on_failure=[Event(type=WARNING, reason="FailedDelete",
                                        message="Error deleting: {error}", involved=self.ref)])


def _remove_finalizer_patch() -> dict[str, Any]:
    """``removeTrackingFinalizerPatch``: a strategic merge patch deleting one finalizer."""
    return {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}


def _pods_for_removal(s: _Sync, count: int) -> list[Mapping[str, Any]]:
    """``activePodsForRemoval``: for Indexed Jobs first pods with bad or repeated indexes
    (keeping the most advanced of each index), then by ``controller.ActivePods`` order."""
    rm: list[Mapping[str, Any]] = []
    left = list(s.active_pods)
    if s.indexed:
        left = []
        groups: dict[int, list[Mapping[str, Any]]] = {}
        for p in s.active_pods:
            groups.setdefault(completion_index(p), []).append(p)
        for ix, group in sorted(groups.items()):
            if ix < 0 or ix >= (s.completions or 0):
                rm += group
            else:
                ordered = rank_pods_for_deletion(group)
                rm += ordered[:-1]
                left.append(ordered[-1])
    if len(rm) < count:
        rm += rank_pods_for_deletion(left)[: count - len(rm)]
    return rm


def _first_pending_indexes(s: _Sync, count: int) -> list[int]:
    busy = set(s.indexes) | {completion_index(p) for p in s.active_pods}
    return [i for i in range(s.completions or 0) if i not in busy][:count]


def _pod_body(s: _Sync, index: int | None) -> dict[str, Any]:
    spec = s.job.get("spec") or {}
    template = deep_copy(spec.get("template") or {})
    tmeta = template.setdefault("metadata", {})
    finalizers = list(tmeta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    pspec = template.setdefault("spec", {})
    gen = f"{name_of(s.job)}-"
    labels, annotations = dict(tmeta.get("labels") or {}), dict(tmeta.get("annotations") or {})
    if index is not None:
        annotations[COMPLETION_INDEX_KEY] = str(index)
        labels[COMPLETION_INDEX_KEY] = str(index)
        pspec["hostname"] = f"{name_of(s.job)}-{index}"
        gen = f"{name_of(s.job)}-{index}-"
        env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_KEY}']"}}}
        for c in [*(pspec.get("initContainers") or ()), *(pspec.get("containers") or ())]:
            if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or ()):
                c.setdefault("env", []).append(dict(env))
    meta: dict[str, Any] = {"generateName": gen, "namespace": namespace_of(s.job), "labels": labels,
                            "finalizers": finalizers,
                            "ownerReferences": [new_controller_ref(s.job, api_version="batch/v1",
                                                                   kind="Job")]}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pspec}


def _manage(s: _Sync, backoff: BackoffRecord, cap: float) -> int:
    """``manageJob``: returns the active count after the planned creates and deletes."""
    active = len(s.active_pods)
    if s.suspended:
        for pod in _pods_for_removal(s, active):
            s.event_delete(pod, remove_finalizer=True)
            s.ready -= 1 if is_pod_ready(pod) else 0
        s.terminating += active
        return 0
    if s.completions is None:
        want = active if s.succeeded > 0 else s.parallelism
    else:
        want = max(0, min(s.completions - s.succeeded, s.parallelism))
    victims = _pods_for_removal(s, max(0, active - want))[:MAX_POD_CREATE_DELETE_PER_SYNC]
    if victims:
        for pod in victims:
            s.event_delete(pod, remove_finalizer=True)
            s.ready -= 1 if is_pod_ready(pod) else 0
        s.terminating += len(victims)
        return active - len(victims)
    terminating = s.terminating if _only_replace_failed(s.job) else 0
    diff = want - terminating - active
    if diff <= 0:
        return active
    if (wait := backoff.remaining(s.now, cap=cap)) > 0:
        s.b.requeue_after(wait)
        return active  # Go returns 0 here; the pods are still there, so we keep the count
    diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
    indexes: list[int | None] = list(_first_pending_indexes(s, diff)) if s.indexed else [None] * diff
    ok = Event(type=NORMAL, reason="SuccessfulCreate", message="Created pod: {name}", involved=s.ref)
    bad = Event(type=WARNING, reason="FailedCreate", message="Error creating: {error}", involved=s.ref)
    pod_ref = ObjectRef(api_version="v1", kind="Pod", namespace=s.ref.namespace)
    queue = list(indexes)
    for batch, size in enumerate(slow_start_batches(len(queue))):
        for ix in queue[:size]:
            s.b.create(pod_ref, _pod_body(s, ix), batch=batch, on_success=[ok], on_failure=[bad])
        queue = queue[size:]
    return active + len(indexes)


def _finish_conditions(s: _Sync, backoff_failed: int) -> None:
    """The end state, evaluated in Kubernetes' order: an earlier SuccessCriteriaMet or
    FailureTarget, then the backoff limit, then the active deadline."""
    spec, status, now = s.job.get("spec") or {}, s.status, s.now
    met = get_condition(status, "SuccessCriteriaMet")
    target = get_condition(status, "FailureTarget")
    if met is not None and met.get("status") == "True":
        s.finished = met
    elif target is not None and target.get("status") == "True":
        s.finished = _condition("Failed", "True", target.get("reason", ""), target.get("message", ""), now)
    elif backoff_failed > int(spec.get("backoffLimit", 6)) or _past_backoff_limit_on_failure(s.job, s.pods):
        s.finished = _condition("FailureTarget", "True", "BackoffLimitExceeded",
                                "Job has reached the specified backoff limit", now)
    elif (deadline := spec.get("activeDeadlineSeconds")) is not None and not s.suspended:
        started = parse_time(status.get("startTime"))
        if started is not None and now - started >= deadline:
            s.finished = _condition("FailureTarget", "True", "DeadlineExceeded",
                                    "Job was active longer than specified deadline", now)
        elif started is not None:
            s.b.requeue_after(started + deadline - now)



def _set_count(status: dict[str, Any], key: str, n: int) -> None:
    if n:
        status[key] = n
    else:
        status.pop(key, None)  # omitempty, as the Go type prints it


def _clean_uncounted(s: _Sync, with_finalizer: set[str]) -> bool:
    """``cleanUncountedPodsWithoutFinalizers``: uncounted pods whose finalizer is gone move
    into the counters."""
    changed = False
    for key, attr in (("succeeded", "uncounted_succeeded"), ("failed", "uncounted_failed")):
        before: list[str] = getattr(s, attr)
        kept = [u for u in before if u in with_finalizer]
        if len(kept) != len(before):
            changed = True
            _set_count(s.status, key, int(s.status.get(key) or 0) + len(before) - len(kept))
            setattr(s, attr, kept)
    return changed


def _write_status(s: _Sync, *, again: bool, events: Sequence[Event] = ()) -> None:
    unc = {k: v for k, v in (("succeeded", s.uncounted_succeeded), ("failed", s.uncounted_failed)) if v}
    s.status["uncountedTerminatedPods"] = dict(unc)
    s.b.update(s.ref, {**deep_copy(s.j), "status": deep_copy(s.status)}, subresource="status",
               on_success=events, again=again)


def _count_finished(s: _Sync) -> tuple[list[Mapping[str, Any]], list[int], bool, bool]:
    """The loop of ``trackJobStatusAndRemoveFinalizers``: which finalizers go, which pods
    join the uncounted lists, which indexes completed."""
    to_remove: list[Mapping[str, Any]] = []
    new_indexes: list[int] = []
    flush = reached_max = False
    pods = sorted(s.pods, key=completion_index) if s.indexed else s.pods
    for pod in pods:
        if not _has_finalizer(pod):
            continue  # counted by an earlier sync
        failed = is_pod_failed(pod, s.job)
        if not (meta_of(s.job).get("deletionTimestamp") or s.finished is not None
                or _phase(pod) == "Succeeded" or failed):
            continue
        to_remove.append(pod)
        uid, ix = uid_of(pod), completion_index(pod)
        valid = 0 <= ix < (s.completions or 0)
        if _phase(pod) == "Succeeded" and uid not in s.uncounted_failed:
            if s.indexed:
                if valid and ix not in s.prev_indexes:
                    new_indexes.append(ix)
                    flush = True
            elif uid not in s.uncounted_succeeded:
                s.uncounted_succeeded.append(uid)
                flush = True
        elif failed or (s.finished is not None and s.finished["type"] != "SuccessCriteriaMet"):
            if uid not in s.uncounted_failed and (not s.indexed or valid):
                s.uncounted_failed.append(uid)
                flush = True
        if len(new_indexes) + len(s.uncounted_succeeded) + len(s.uncounted_failed) >= MAX_UNCOUNTED_PODS:
            reached_max = True  # keep status small; the next sync continues
            break
    return to_remove, new_indexes, flush, reached_max


def _finish_events(s: _Sync, cond: Mapping[str, Any]) -> list[Event]:
    if cond["type"] == "Complete":
        out = []
        if s.completions is not None and int(s.status.get("succeeded") or 0) > s.completions:
            out.append(Event(type=WARNING, reason="TooManySucceededPods", involved=s.ref,
                             message="Too many succeeded pods running after completion count reached"))
        return [*out, Event(type=NORMAL, reason="Completed", message="Job completed", involved=s.ref)]
    return [Event(type=WARNING, reason=cond["reason"], message=cond["message"], involved=s.ref)]


def _track(s: _Sync, needs_flush: bool) -> None:
    """``trackJobStatusAndRemoveFinalizers``: flush, remove finalizers, flush again."""
    with_finalizer = {uid_of(p) for p in s.pods if _has_finalizer(p)}
    needs_flush |= _clean_uncounted(s, with_finalizer)
    to_remove, new_indexes, flushed, reached_max = _count_finished(s)
    needs_flush |= flushed
    if s.indexed:
        s.indexes = sorted(set(s.indexes) | set(new_indexes))
        text = format_indexes(s.indexes)
        needs_flush |= text != (s.status.get("completedIndexes") or "")
        if text:
            s.status["completedIndexes"] = text
        _set_count(s.status, "succeeded", len(s.indexes))
    if s.finished is not None and s.finished["type"] == "FailureTarget":
        s.status.setdefault("conditions", []).append(s.finished)
        needs_flush = True
        s.finished = _condition("Failed", "True", s.finished["reason"], s.finished["message"], s.now)
    if s.finished is not None and s.finished["type"] == "SuccessCriteriaMet":
        if get_condition(s.status, "SuccessCriteriaMet") is None:
            s.status.setdefault("conditions", []).append(s.finished)
            needs_flush = True
        s.finished = _condition("Complete", "True", s.finished["reason"], s.finished["message"], s.now)
    wrote = False
    if needs_flush:
        _write_status(s, again=False)
        wrote = True
    for pod in to_remove:
        s.b.patch(ObjectRef.of(pod, api_version="v1", kind="Pod"), _remove_finalizer_patch(),
                  patch_type="strategic")
        with_finalizer.discard(uid_of(pod))
    needs_flush = _clean_uncounted(s, with_finalizer)
    events: list[Event] = []
    if (s.finished is not None and not reached_max and not s.uncounted_succeeded
            and not s.uncounted_failed and s.terminating == 0):
        _ensure_condition(s.status, _condition(s.finished["type"], "True", s.finished["reason"],
                                               s.finished["message"], s.now))
        if s.finished["type"] == "Complete":
            s.status["completionTime"] = format_time(s.now)
        events = _finish_events(s, s.finished)
        needs_flush = True
    if needs_flush:
        _write_status(s, again=wrote, events=events)


def _suspend_conditions(s: _Sync) -> bool:
    if s.suspended:
        if _ensure_condition(s.status, _condition("Suspended", "True", "JobSuspended", "Job suspended", s.now)):
            s.b.event(NORMAL, "Suspended", "Job suspended", s.ref)
            return True
        return False
    if _ensure_condition(s.status, _condition("Suspended", "False", "JobResumed", "Job resumed", s.now)):
        s.b.event(NORMAL, "Resumed", "Job resumed", s.ref)
        s.status["startTime"] = format_time(s.now)  # activeDeadlineSeconds counts from resuming
        return True
    return False


def reconcile_job(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], *, now: float,
                  backoff: BackoffRecord | None = None,
                  max_backoff: float = MAX_POD_FAILURE_BACKOFF,
                  expectations_satisfied: bool = True) -> JobResult:
    """One ``syncJob`` against the namespace's pods; ``backoff`` is the record the shell kept.
    Pods are only created or deleted once the shell's expectations are satisfied (Go calls
    ``manageJob`` only then: the cache may not show the pods of the previous sync yet)."""
    b = PlanBuilder()
    if _is_finished(job):
        return JobResult(plan=b.build(), backoff=BackoffRecord())
    spec = job.get("spec") or {}
    ref = ObjectRef.of(job, api_version="batch/v1", kind="Job")
    if spec.get("completionMode") not in (None, "NonIndexed", "Indexed"):
        b.event(WARNING, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown", ref)
        return JobResult(plan=b.build(), backoff=backoff or BackoffRecord())
    owned = claim_objects(job, [p for p in pods if namespace_of(p) == ref.namespace],
                          selector_from_api(spec.get("selector")), owner_ref=ref,
                          child_api_version="v1", child_kind="Pod", builder=b)
    s = _Sync(job, list(owned), now, b)
    valid = (lambda p: 0 <= completion_index(p) < (s.completions or 0)) if s.indexed else (lambda p: True)
    new_succeeded = [p for p in s.pods if _has_finalizer(p) and _phase(p) == "Succeeded" and valid(p)
                     and uid_of(p) not in s.uncounted_succeeded]
    new_failed = [p for p in s.pods if _has_finalizer(p) and is_pod_failed(p, job) and valid(p)
                  and uid_of(p) not in s.uncounted_failed]
    status = s.status
    s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(s.uncounted_succeeded)
    failed = int(status.get("failed") or 0) + len(new_failed) + len(s.uncounted_failed)
    if not status.get("startTime") and not s.suspended:
        status["startTime"] = format_time(now)
    record = next_backoff(backoff, new_succeeded, new_failed)
    _finish_conditions(s, failed)
    if s.indexed:
        s.prev_indexes = parse_indexes(status.get("completedIndexes"), s.completions or 0)
        s.indexes = sorted(set(s.prev_indexes) | {completion_index(p) for p in s.pods if _phase(p) == "Succeeded"
                                                   and valid(p) and _has_finalizer(p)})
        s.succeeded = len(s.indexes)
    active, changed = _act(s, record, max_backoff, expectations_satisfied)
    needs = changed or active != int(status.get("active") or 0) or s.ready != status.get("ready") \
        or s.terminating != status.get("terminating")
    _set_count(status, "active", active)
    status["ready"], status["terminating"] = s.ready, s.terminating
    _track(s, needs)
    return JobResult(plan=b.build(), backoff=record)


def _act(s: _Sync, record: BackoffRecord, max_backoff: float, satisfied: bool) -> tuple[int, bool]:
    """Delete everything once finished; else manage pods (when the expectations are
    satisfied) and evaluate completion."""
    if s.finished is not None:
        for pod in s.active_pods:  # keep finalizers: the tracking loop counts these as failed
            s.event_delete(pod, remove_finalizer=False)
            s.ready -= 1 if is_pod_ready(pod) else 0
        s.terminating += len(s.active_pods)
        return 0, False
    if meta_of(s.job).get("deletionTimestamp") or not satisfied:
        return len(s.active_pods), False
    active = _manage(s, record, max_backoff)
    if s.completions is None:
        complete = s.succeeded > 0 and active == 0
    else:
        complete = s.succeeded >= s.completions and active == 0
    if complete:
        s.finished = _condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                "Reached expected number of succeeded pods", s.now)
        return active, False
    return active, _suspend_conditions(s)


def reconcile_ttl_after_finished(job: Mapping[str, Any], *, now: float) -> Plan:
    """``processTTL``: delete a finished Job with foreground propagation once
    ``ttlSecondsAfterFinished`` has passed since its Complete/Failed transition."""
    b = PlanBuilder()
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or meta_of(job).get("deletionTimestamp"):
        return b.build()
    finish = next((parse_time(c.get("lastTransitionTime")) for c in (job.get("status") or {}).get("conditions") or ()
                   if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"), None)
    if finish is None:
        return b.build()
    left = finish + ttl - now
    if left > 0:
        b.requeue_after(left)
        return b.build()
    b.delete(ObjectRef.of(job, api_version="batch/v1", kind="Job"), propagation_policy="Foreground",
             preconditions_uid=uid_of(job) or None)
    return b.build()
