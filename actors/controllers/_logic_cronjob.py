"""CronJob reconcile (``pkg/controller/cronjob``, the v2 controller): one ``sync`` of a CronJob
against the Jobs it owns.

What it is: ``reconcile_cronjob(cronjob, jobs, *, now)`` does what ``ControllerV2.sync`` does:
1. ``cleanupFinishedJobs``: finished Jobs (a Complete or Failed condition that is True) beyond
   ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` are deleted oldest first (by
   ``status.startTime``, unstarted last, names breaking ties), with background propagation,
   each "SuccessfulDelete" "Deleted job <name>" (or "FailedDelete" "Deleted job: <error>").
2. ``syncCronJob``: an unfinished Job it owns that ``status.active`` lacks is an
   "UnexpectedJob"; a finished active one leaves the list with "SawCompletedJob" ("Saw
   completed job: <name>, condition: Complete"); a successful one moves
   ``status.lastSuccessfulTime`` to its completionTime; an active Job gone from the cache and
   from the apiserver is a "MissingJob". Then, unless the CronJob is being deleted, its
   ``timeZone`` is unknown ("UnknownTimeZone"), it is suspended, or its schedule does not
   parse ("UnparseableSchedule"/"InvalidSchedule"), the most recent unmet schedule time
   (``mostRecentScheduleTime``, from ``lastScheduleTime`` or the creation time, and no earlier
   than ``startingDeadlineSeconds`` ago) is started: too late for the deadline is a
   "MissSchedule"; already in the active list or equal to ``lastScheduleTime`` is nothing;
   Forbid with a Job active is "JobAlreadyActive"; Replace deletes the active Jobs first;
   otherwise the Job ``<cronjob>-<scheduled time in minutes since the epoch>`` is created from
   ``spec.jobTemplate`` with the ``batch.kubernetes.io/cronjob-scheduled-timestamp``
   annotation (RFC 3339 in the CronJob's zone), "SuccessfulCreate" "Created job <name>", and
   added to ``status.active`` with ``lastScheduleTime`` = the scheduled time.
3. One status write if anything changed, and a requeue 100 ms after the next schedule time
   (``nextScheduleTimeDuration``); none when suspended, deleted or unparseable.

Concurrency model: none; pure functions. What Kubernetes asks the apiserver during a sync
(an active Job missing from the cache, a fresh CronJob when an unexpected Job shows up) the
shell asks before calling: ``found_live`` names the active Jobs a GET found. The new Job's
reference in ``status.active`` has no uid yet: the shell fills uid and resourceVersion from
the create's answer (``getRef(jobResp)``) before writing the status.

Invariants: events carry Kubernetes' reasons and messages; a scheduled time produces at
most one Job (its name is deterministic, and the apiserver refuses a second create).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from ._logic_cron import CronSchedule, ScheduleError, load_zone, next_time, parse_schedule
from ._plan import (
    NORMAL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
    controller_ref_of,
    deep_copy,
    format_time,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    new_controller_ref,
    parse_time,
    uid_of,
)

__all__ = ["SCHEDULED_TIMESTAMP_ANNOTATION", "cronjob_job_name", "most_recent_schedule_time",
           "next_schedule_delay", "reconcile_cronjob"]

SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # nextScheduleDelta: 100 ms of padding for clock skew
_MANY_MISSED = 100
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _spec(cj: Mapping[str, Any]) -> Mapping[str, Any]:
    return cj.get("spec") or {}


def _finished(job: Mapping[str, Any]) -> str | None:
    """``getFinishedStatus``: "Complete" or "Failed" when that condition is True."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def cronjob_job_name(cronjob_name: str, scheduled: float) -> str:
    """``getJobName``: the scheduled time in minutes since the epoch."""
    return f"{cronjob_name}-{int(scheduled) // 60}"


def _rfc1123z(t: float) -> str:
    d = datetime.datetime.fromtimestamp(int(t), datetime.UTC)
    return (f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} +0000")


def _rfc3339_in(t: float, zone: str) -> str:
    """Go's ``Format(time.RFC3339)`` in ``zone``: "Z" when the offset is zero."""
    d = datetime.datetime.fromtimestamp(int(t), load_zone(zone))
    off = d.utcoffset() or datetime.timedelta(0)
    if not off:
        return d.strftime("%Y-%m-%dT%H:%M:%SZ")
    mins = int(off.total_seconds()) // 60
    sign = "+" if mins >= 0 else "-"
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def format_schedule(cj: Mapping[str, Any]) -> tuple[str, bool]:
    """``formatSchedule``: the schedule with ``TZ=<timeZone>`` in front, and whether the user
    wrote TZ themselves (an "UnsupportedSchedule" warning)."""
    schedule = str(_spec(cj).get("schedule") or "")
    if "TZ" in schedule:
        return schedule, True
    tz = _spec(cj).get("timeZone")
    if tz is not None:
        try:
            load_zone(tz)
        except ScheduleError:
            return schedule, False
        return f"TZ={tz} {schedule}", False
    return schedule, False


def most_recent_schedule_time(cj: Mapping[str, Any], now: float, schedule: CronSchedule,
                              include_deadline: bool) -> tuple[float, float | None, str]:
    """``mostRecentScheduleTime``: (earliest time considered, the most recent unmet schedule
    time or None, "none"/"few"/"many" missed). Raises ScheduleError for a schedule that
    never fires twice ("time difference between two schedules is less than 1 second")."""
    earliest = parse_time(meta_of(cj).get("creationTimestamp")) or 0.0
    last = parse_time((cj.get("status") or {}).get("lastScheduleTime"))
    if last is not None:
        earliest = last
    deadline = _spec(cj).get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        earliest = max(earliest, now - deadline)
    t1 = next_time(schedule, earliest)
    if t1 is not None and now < t1:
        return earliest, None, "none"
    t2 = None if t1 is None else next_time(schedule, t1)
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, "none"
    between = 0 if t1 is None or t2 is None else round(t2 - t1)
    if between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    assert t1 is not None
    missed = int(now - t1) // between + 1
    # As Kubernetes: jump near the end by the interval of the first two, then walk forwards.
    recent: float | None = None
    t = next_time(schedule, t1 + (missed - 2) * between)
    while t is not None and t <= now:
        recent = t
        t = next_time(schedule, t)
    kind = "many" if missed > _MANY_MISSED else "few" if missed > 0 else "none"
    return earliest, recent, kind


def _next_delay(cj: Mapping[str, Any], now: float, schedule: CronSchedule) -> float:
    """``nextScheduleTimeDuration``."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, schedule, False)
    except ScheduleError:
        earliest, recent, missed = now, now, "none"
    if recent is None:
        recent = earliest if missed == "none" else now
    nxt = next_time(schedule, recent)
    if nxt is None:  # never again: Go's zero time, a negative delay (run at once)
        return 0.0
    return nxt + NEXT_SCHEDULE_DELTA - now


def next_schedule_delay(cj: Mapping[str, Any], now: float) -> float | None:
    """When to look at ``cj`` again after its schedule changed (``updateCronJob``); None
    when the schedule does not parse."""
    try:
        schedule = parse_schedule(format_schedule(cj)[0])
    except ScheduleError:
        return None
    return _next_delay(cj, now, schedule)


def _start_time(job: Mapping[str, Any]) -> tuple[int, float, str]:
    start = parse_time((job.get("status") or {}).get("startTime"))
    return (1, 0.0, name_of(job)) if start is None else (0, start, name_of(job))


class _Sync:
    """One sync's working state: the CronJob copy whose status is written once."""

    def __init__(self, cj: Mapping[str, Any], now: float) -> None:
        self.cj = deep_copy(dict(cj))
        self.status: dict[str, Any] = self.cj.setdefault("status", {})
        self.now = now
        self.ref = ObjectRef.of(cj, api_version="batch/v1", kind="CronJob")
        self.b = PlanBuilder()
        self.dirty = False

    @property
    def active(self) -> list[dict[str, Any]]:
        return list(self.status.get("active") or ())

    def set_active(self, refs: list[dict[str, Any]]) -> None:
        if refs:
            self.status["active"] = refs
        else:
            self.status.pop("active", None)

    def drop_active(self, uid: str) -> None:
        self.set_active([r for r in self.active if r.get("uid") != uid])

    def event(self, type_: str, reason: str, message: str) -> None:
        self.b.event(type_, reason, message, self.ref)

    def delete_job(self, job: Mapping[str, Any]) -> None:
        """``deleteJob``: the Job (background propagation) and its active entry."""
        self.b.delete(ObjectRef.of(job, api_version="batch/v1", kind="Job"),
                      propagation_policy="Background",
                      on_success=[Event(type=NORMAL, reason="SuccessfulDelete",
                                        message=f"Deleted job {name_of(job)}", involved=self.ref)],
                      on_failure=[Event(type=WARNING, reason="FailedDelete",
                                        message="Deleted job: {error}", involved=self.ref)])
        if any(r.get("uid") == uid_of(job) for r in self.active):
            self.drop_active(uid_of(job))
            self.dirty = True


def _cleanup(s: _Sync, jobs: list[Mapping[str, Any]]) -> None:
    """``cleanupFinishedJobs``."""
    spec = _spec(s.cj)
    for kind, field in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(field)
        if limit is None:
            continue
        done = sorted((j for j in jobs if _finished(j) == kind), key=_start_time)
        for job in done[: max(0, len(done) - int(limit))]:
            s.delete_job(job)


def _observe_jobs(s: _Sync, jobs: list[Mapping[str, Any]], found_live: Collection[str]) -> None:
    """The first half of ``syncCronJob``: the active list against the Jobs that exist."""
    for j in jobs:
        in_active = any(r.get("uid") == uid_of(j) for r in s.active)
        cond = _finished(j)
        if cond is None:
            if not in_active:
                s.event(WARNING, "UnexpectedJob",
                        f"Saw a job that the controller did not create or forgot: {name_of(j)}")
            continue
        if in_active:
            s.drop_active(uid_of(j))
            s.event(NORMAL, "SawCompletedJob", f"Saw completed job: {name_of(j)}, condition: {cond}")
            s.dirty = True
        if cond == "Complete":
            done = (j.get("status") or {}).get("completionTime")
            last = parse_time(s.status.get("lastSuccessfulTime"))
            if done is not None and (last is None or (parse_time(done) or 0.0) > last):
                s.status["lastSuccessfulTime"] = done
                s.dirty = True
    uids = {uid_of(j) for j in jobs}
    for r in s.active:
        if r.get("uid") in uids or r.get("name") in found_live:
            continue
        s.event(NORMAL, "MissingJob", f"Active job went missing: {r.get('name', '')}")
        s.drop_active(str(r.get("uid") or ""))
        s.dirty = True


def _job_body(s: _Sync, scheduled: float) -> dict[str, Any]:
    """``getJobFromTemplate2``."""
    template = _spec(s.cj).get("jobTemplate") or {}
    annotations = annotations_of(template)
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = _rfc3339_in(scheduled, _spec(s.cj).get("timeZone") or "")
    meta: dict[str, Any] = {"name": cronjob_job_name(name_of(s.cj), scheduled),
                            "namespace": namespace_of(s.cj)}
    if labels_of(template):
        meta["labels"] = labels_of(template)
    meta["annotations"] = annotations
    meta["ownerReferences"] = [new_controller_ref(s.cj, api_version="batch/v1", kind="CronJob")]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": deep_copy(dict(template.get("spec") or {}))}


def _schedule(s: _Sync) -> CronSchedule | None:
    """The CronJob's parsed schedule, or None (with the event) when it cannot run."""
    tz = _spec(s.cj).get("timeZone")
    if tz is not None:
        try:
            load_zone(tz)
        except ScheduleError as e:
            s.event(WARNING, "UnknownTimeZone", f"invalid timeZone: {json.dumps(tz)}: {e}")
            return None
    if _spec(s.cj).get("suspend"):
        return None
    text, tz_in_schedule = format_schedule(s.cj)
    if tz_in_schedule:
        s.event(WARNING, "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {json.dumps(text)} is not officially supported, "
                "see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")
    try:
        return parse_schedule(text)
    except ScheduleError as e:
        raw = str(_spec(s.cj).get("schedule") or "")
        s.event(WARNING, "UnparseableSchedule", f"unparseable schedule: {json.dumps(raw)} : {e}")
        return None


def _start(s: _Sync, schedule: CronSchedule) -> None:
    """The second half of ``syncCronJob``: start the most recent unmet schedule time."""
    raw = str(_spec(s.cj).get("schedule") or "")
    try:
        _, scheduled, missed = most_recent_schedule_time(s.cj, s.now, schedule, True)
    except ScheduleError as e:
        s.event(WARNING, "InvalidSchedule", f"invalid schedule: {raw} : {e}")
        return
    s.b.requeue_after(_next_delay(s.cj, s.now, schedule))
    if scheduled is None or scheduled > s.now:
        return
    if missed == "many":
        s.event(WARNING, "TooManyMissedTimes", "too many missed start times. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew")
    deadline = _spec(s.cj).get("startingDeadlineSeconds")
    if deadline is not None and scheduled + deadline < s.now:
        s.event(WARNING, "MissSchedule", f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}")
        return
    name = cronjob_job_name(name_of(s.cj), scheduled)
    if any(r.get("name") == name for r in s.active) or \
            parse_time(s.status.get("lastScheduleTime")) == scheduled:
        return
    policy = _spec(s.cj).get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and s.active:
        s.event(NORMAL, "JobAlreadyActive", "Not starting job because prior execution is running "
                "and concurrency policy is Forbid")
        return
    if policy == "Replace":
        for r in s.active:
            s.delete_job({"metadata": {"name": r.get("name"), "namespace": r.get("namespace")
                                       or namespace_of(s.cj), "uid": r.get("uid")}})
    body = _job_body(s, scheduled)
    s.b.create(ObjectRef(api_version="batch/v1", kind="Job", name=name, namespace=namespace_of(s.cj)),
               body, on_success=[Event(type=NORMAL, reason="SuccessfulCreate",
                                       message="Created job {name}", involved=s.ref)],
               on_failure=[Event(type=WARNING, reason="FailedCreate",
                                 message="Error creating job: {error}", involved=s.ref)])
    s.set_active([*s.active, {"kind": "Job", "namespace": namespace_of(s.cj), "name": name,
                              "apiVersion": "batch/v1"}])
    s.status["lastScheduleTime"] = format_time(scheduled)
    s.dirty = True


def _owned(cj: Mapping[str, Any], jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``getJobsToBeReconciled``: the namespace's Jobs whose controller is named like ``cj``."""
    out = []
    for j in jobs:
        ref = controller_ref_of(j)
        if ref is not None and ref.get("name") == name_of(cj) and namespace_of(j) == namespace_of(cj):
            out.append(j)
    return out


def reconcile_cronjob(cronjob: Mapping[str, Any], jobs: Iterable[Mapping[str, Any]], *, now: float,
                      found_live: Collection[str] = ()) -> Plan:
    """One ``sync`` of ``cronjob`` (see the module docstring). ``jobs``: the namespace's Jobs
    from the cache; ``found_live``: names of active Jobs the cache lacks but a GET found."""
    s = _Sync(cronjob, now)
    owned = _owned(cronjob, jobs)
    _cleanup(s, owned)
    _observe_jobs(s, owned, found_live)
    if not meta_of(cronjob).get("deletionTimestamp"):
        schedule = _schedule(s)
        if schedule is not None:
            _start(s, schedule)
    if s.dirty:
        s.b.update(s.ref, s.cj, subresource="status")
    return s.b.build()
