"""The CronJob controller's pure logic: the cron parser and ``Next`` (checked against a
minute-by-minute scan), ``mostRecentScheduleTime``, and ``reconcile_cronjob``'s plans."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.controllers import (
    SCHEDULED_TIMESTAMP_ANNOTATION,
    Create,
    Delete,
    Update,
    cronjob_job_name,
    format_time,
    reconcile_cronjob,
)
from actors.controllers._logic_cron import ScheduleError, load_zone, next_time, parse_schedule

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday


def utc(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC).timestamp()


def brute_next(schedule_text: str, after: float, zone: str | None = None) -> float | None:
    s = parse_schedule(schedule_text)
    tz = load_zone(zone or "")
    t = (int(after // 60) + 1) * 60
    for _ in range(60 * 24 * 400):
        if s.matches(datetime.datetime.fromtimestamp(t, tz)):
            return float(t)
        t += 60
    return None


# -- parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "error"), [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("*/2/3 * * * *", "too many slashes: */2/3"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
])
def test_robfig_errors(text: str, error: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_schedule(text)
    assert str(e.value) == error


def test_fields_names_ranges_steps_and_lists() -> None:
    s = parse_schedule("5,10-20/5 */6 1,15 JAN-mar mon-FRI")
    assert s.minutes == {5, 10, 15, 20} and s.hours == {0, 6, 12, 18}
    assert s.dom == {1, 15} and s.months == {1, 2, 3} and s.dow == {1, 2, 3, 4, 5}
    assert not s.dom_star and not s.dow_star
    assert parse_schedule("30/10 * * * *").minutes == {30, 40, 50}  # "N/step": N to the maximum
    assert parse_schedule("@weekly") == parse_schedule("0 0 * * 0")
    assert parse_schedule("@hourly").minutes == {0} and parse_schedule("@hourly").hours == set(range(24))
    assert parse_schedule("@every 1h30m").every == 5400


def test_next_of_the_macros_and_day_rules() -> None:
    assert next_time(parse_schedule("@daily"), T0) == utc("2026-01-02T00:00:00")
    assert next_time(parse_schedule("@monthly"), T0) == utc("2026-02-01T00:00:00")
    assert next_time(parse_schedule("@yearly"), T0 + 1) == utc("2027-01-01T00:00:00")
    # Both day fields restricted: either matches (the 13th, or any Friday).
    assert next_time(parse_schedule("0 0 13 * 5"), T0) == utc("2026-01-02T00:00:00")
    # "*/1" keeps the star: both must match, so only Fridays.
    assert next_time(parse_schedule("0 0 */1 * 5"), T0) == utc("2026-01-02T00:00:00")
    assert next_time(parse_schedule("0 0 29 2 *"), T0) == utc("2028-02-29T00:00:00")
    assert next_time(parse_schedule("59 23 31 2 *"), T0) is None  # never, within 5 years
    assert next_time(parse_schedule("*/1 * * * *"), T0) == T0 + 60  # strictly after


def test_time_zones_and_daylight_saving() -> None:
    ny = "TZ=America/New_York "
    assert next_time(parse_schedule(ny + "0 9 * * *"), T0) == utc("2026-01-01T14:00:00")
    # 2026-03-08: 02:30 does not exist in New York; that day is skipped.
    spring = next_time(parse_schedule(ny + "30 2 * * *"), utc("2026-03-07T08:00:00"))
    assert spring == utc("2026-03-09T06:30:00")
    # 2026-11-01: 01:30 happens twice (EDT, then EST): both fire.
    first = next_time(parse_schedule(ny + "30 1 * * *"), utc("2026-11-01T04:00:00"))
    assert first == utc("2026-11-01T05:30:00")
    assert next_time(parse_schedule(ny + "30 1 * * *"), first) == utc("2026-11-01T06:30:00")


@st.composite
def schedules(draw: Any) -> str:
    minute = draw(st.sampled_from(["*", "0", "*/15", "7,37", "59", "10-20/5"]))
    hour = draw(st.sampled_from(["*", "0", "2", "*/5", "1-3", "23"]))
    dom = draw(st.sampled_from(["*", "1", "15", "28-31", "*/10", "29", "31"]))
    month = draw(st.sampled_from(["*", "2", "jan,jul", "*/3", "3-11"]))
    dow = draw(st.sampled_from(["*", "0", "mon-fri", "6", "sun,wed"]))
    return " ".join((minute, hour, dom, month, dow))


@settings(max_examples=100, deadline=None)
@given(schedules(), st.integers(0, 3 * 365 * 86400), st.sampled_from(
    [None, "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]))
def test_next_agrees_with_a_minute_by_minute_scan(text: str, offset: int, zone: str | None) -> None:
    after = T0 + offset + 0.5 * (offset % 2)
    full = f"TZ={zone} {text}" if zone else text
    expected = brute_next(text, after, zone)
    if expected is not None:
        assert next_time(parse_schedule(full), after) == expected
    else:  # nothing within the scan: robfig's five years may still find one, never earlier
        got = next_time(parse_schedule(full), after)
        assert got is None or got > after + 399 * 86400


# -- reconcile --------------------------------------------------------------------------------


def cronjob(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    full = {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow", "suspend": False,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
            **spec}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "cj", "namespace": "default", "uid": "cj-uid", "resourceVersion": "5",
                         "creationTimestamp": format_time(T0)},
            "spec": full, "status": status or {}}


def job(name: str, *, finished: str | None = None, start: float = T0, done: float | None = None,
        owner: str = "cj") -> dict[str, Any]:
    status: dict[str, Any] = {"startTime": format_time(start)}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
        if finished == "Complete":
            status["completionTime"] = format_time(done or start + 5)
    return {"metadata": {"name": name, "namespace": "default", "uid": f"{name}-uid",
                         "ownerReferences": [{"kind": "CronJob", "name": owner, "uid": "cj-uid",
                                              "controller": True}]},
            "status": status}


def active_ref(name: str) -> dict[str, Any]:
    return {"kind": "Job", "namespace": "default", "name": name, "uid": f"{name}-uid",
            "apiVersion": "batch/v1"}


def reasons(plan: Any) -> list[str]:
    return [e.reason for e in plan.events]


def test_creates_the_job_of_the_scheduled_minute() -> None:
    plan = reconcile_cronjob(cronjob(), [], now=T0 + 61)
    (create,) = plan.of_type(Create)
    name = cronjob_job_name("cj", T0 + 60)
    assert create.ref.name == name == f"cj-{int(T0 + 60) // 60}"
    meta = create.body["metadata"]
    assert meta["annotations"] == {SCHEDULED_TIMESTAMP_ANNOTATION: "2026-01-01T00:01:00Z"}
    assert meta["labels"] == {"team": "a"}
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj",
                                        "uid": "cj-uid", "controller": True, "blockOwnerDeletion": True}]
    assert create.on_success[0].message == "Created job {name}"
    (update,) = plan.of_type(Update)
    assert update.subresource == "status"
    assert update.body["status"]["lastScheduleTime"] == "2026-01-01T00:01:00Z"
    assert [r["name"] for r in update.body["status"]["active"]] == [name]
    assert plan.requeue_after == pytest.approx(59.1)


def test_time_zone_annotation_and_unknown_zone() -> None:
    plan = reconcile_cronjob(cronjob(timeZone="Asia/Kolkata"), [], now=T0 + 61)
    ann = plan.of_type(Create)[0].body["metadata"]["annotations"]
    assert ann[SCHEDULED_TIMESTAMP_ANNOTATION] == "2026-01-01T05:31:00+05:30"
    plan = reconcile_cronjob(cronjob(timeZone="Mars/Olympus"), [], now=T0 + 61)
    assert not plan.actions and plan.requeue_after is None
    assert plan.events[0].message == 'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus'


def test_nothing_due_requeues_at_the_next_minute() -> None:
    plan = reconcile_cronjob(cronjob(status={"lastScheduleTime": format_time(T0 + 60)}), [], now=T0 + 90)
    assert not plan.actions and plan.requeue_after == pytest.approx(30.1)


def test_suspended_and_unparseable_do_nothing() -> None:
    assert reconcile_cronjob(cronjob(suspend=True), [], now=T0 + 600).requeue_after is None
    plan = reconcile_cronjob(cronjob(schedule="61 * * * *"), [], now=T0 + 600)
    assert reasons(plan) == ["UnparseableSchedule"] and not plan.actions
    assert plan.events[0].message == 'unparseable schedule: "61 * * * *" : end of range (61) above maximum (59): 61'


def test_forbid_skips_and_replace_deletes_the_running_job() -> None:
    running = job("cj-100", start=T0)
    status = {"active": [active_ref("cj-100")], "lastScheduleTime": format_time(T0)}
    plan = reconcile_cronjob(cronjob(status=status, concurrencyPolicy="Forbid"), [running], now=T0 + 61)
    assert reasons(plan) == ["JobAlreadyActive"] and not plan.actions
    plan = reconcile_cronjob(cronjob(status=status, concurrencyPolicy="Replace"), [running], now=T0 + 61)
    delete, create, update = plan.actions
    assert isinstance(delete, Delete) and delete.ref.name == "cj-100"
    assert delete.propagation_policy == "Background" and delete.on_success[0].message == "Deleted job cj-100"
    assert isinstance(create, Create) and isinstance(update, Update)
    assert [r["name"] for r in update.body["status"]["active"]] == [create.ref.name]


def test_completed_jobs_leave_the_active_list_and_history_is_pruned() -> None:
    done = [job(f"cj-{i}", finished="Complete", start=T0 + i, done=T0 + i + 5) for i in range(5)]
    status = {"active": [active_ref("cj-4")], "lastScheduleTime": format_time(T0 + 60)}
    plan = reconcile_cronjob(cronjob(status=status), done, now=T0 + 90)
    deleted = [a.ref.name for a in plan.of_type(Delete)]
    assert deleted == ["cj-0", "cj-1"]  # oldest first, three kept
    assert ("SawCompletedJob", "Saw completed job: cj-4, condition: Complete") in [
        (e.reason, e.message) for e in plan.events]
    (update,) = plan.of_type(Update)
    assert "active" not in update.body["status"]
    assert update.body["status"]["lastSuccessfulTime"] == format_time(T0 + 9)
    failed = [job(f"f-{i}", finished="Failed", start=T0 + i) for i in range(3)]
    plan = reconcile_cronjob(cronjob(status=status | {"active": []}), failed, now=T0 + 90)
    assert [a.ref.name for a in plan.of_type(Delete)] == ["f-0", "f-1"]


def test_unexpected_and_missing_jobs() -> None:
    status = {"active": [active_ref("gone")], "lastScheduleTime": format_time(T0 + 60)}
    plan = reconcile_cronjob(cronjob(status=status), [job("stray")], now=T0 + 90)
    assert ("UnexpectedJob", "Saw a job that the controller did not create or forgot: stray") in [
        (e.reason, e.message) for e in plan.events]
    assert ("MissingJob", "Active job went missing: gone") in [(e.reason, e.message) for e in plan.events]
    plan = reconcile_cronjob(cronjob(status=status), [], now=T0 + 90, found_live={"gone"})
    assert not plan.events and not plan.actions  # the cache lags; the apiserver has it


def test_starting_deadline_misses_and_already_processed_times() -> None:
    late = cronjob(status={"lastScheduleTime": format_time(T0)}, schedule="0 * * * *",
                   startingDeadlineSeconds=10)
    plan = reconcile_cronjob(late, [], now=T0 + 3600 + 30)
    assert not plan.of_type(Create)  # the deadline window starts after 01:00:00
    plan = reconcile_cronjob(cronjob(status={"lastScheduleTime": format_time(T0)}, schedule="0 * * * *",
                                     startingDeadlineSeconds=100), [], now=T0 + 3600 + 30)
    assert len(plan.of_type(Create)) == 1
    # Missed many: only the most recent one is started.
    plan = reconcile_cronjob(cronjob(), [], now=T0 + 3 * 3600 + 5)
    (create,) = plan.of_type(Create)
    assert create.ref.name == cronjob_job_name("cj", T0 + 3 * 3600)
    assert "TooManyMissedTimes" in reasons(plan)
