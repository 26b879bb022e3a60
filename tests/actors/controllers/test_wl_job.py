"""The Job and TTL-after-finished controllers through ``simulate()``: completions and
parallelism, a failing Job backing off (10 s, 20 s) to BackoffLimitExceeded with each failure
counted once, an Indexed Job's completedIndexes, activeDeadlineSeconds, and
ttlSecondsAfterFinished. Pods really run: busybox's shell sleeps and exits."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.client import parse_time
from actors.cluster import Cluster

TWO = ClusterSpec(nodes=[NodeSpec("node-1"), NodeSpec("node-2")])
TRACKING = "batch.kubernetes.io/job-tracking"


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}}}


def condition(c: Cluster, name: str, type_: str) -> dict[str, Any] | None:
    for cond in (c.get("jobs", name).get("status") or {}).get("conditions") or ():
        if cond["type"] == type_ and cond["status"] == "True":
            return cond
    return None


def pods_of(c: Cluster, name: str) -> list[dict[str, Any]]:
    items = c.list("pods", "default", label_selector=f"job-name={name}")["items"]
    return sorted(items, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))


def job_events(c: Cluster, name: str) -> list[tuple[str, str, str]]:
    items = [e for e in c.list("events", "default")["items"]
             if e["involvedObject"]["kind"] == "Job" and e["involvedObject"]["name"] == name]
    items.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["type"], e["reason"], e["message"]) for e in items]


def test_completions_three_parallelism_two_completes() -> None:
    with simulate(TWO, seed=1) as c:
        watch = c.watch("pods", "default")
        c.create(job("pi", "sleep 2; exit 0", completions=3, parallelism=2))
        c.run_until(lambda c: condition(c, "pi", "Complete") is not None, timeout=60)
        active: dict[str, bool] = {}
        most = 0
        for ev in watch.drain():
            p = ev["object"]
            active[p["metadata"]["name"]] = ev["type"] != "DELETED" and p["status"].get("phase") not in (
                "Succeeded", "Failed")
            most = max(most, sum(active.values()))
        assert most == 2  # parallelism
        pods = pods_of(c, "pi")
        assert len(pods) == 3 and all(p["status"]["phase"] == "Succeeded" for p in pods)
        assert all(TRACKING not in (p["metadata"].get("finalizers") or ()) for p in pods)
        status = c.get("jobs", "pi")["status"]
        assert (status["succeeded"], status.get("failed", 0), status.get("active", 0)) == (3, 0, 0)
        assert status["uncountedTerminatedPods"] == {}
        assert parse_time(status["completionTime"]) >= parse_time(status["startTime"]) + 4  # two rounds of 2 s
        complete = condition(c, "pi", "Complete")
        assert complete is not None and complete["reason"] == "CompletionsReached"
        events = job_events(c, "pi")
        assert sorted(events[:3]) == sorted(("Normal", "SuccessfulCreate", f"Created pod: {p['metadata']['name']}")
                                            for p in pods)
        assert events[3:] == [("Normal", "Completed", "Job completed")]
        assert {e["source"]["component"] for e in c.list("events", "default")["items"]
                if e["involvedObject"]["kind"] == "Job"} == {"job-controller"}
        assert not [e for e in c.list("events", "default")["items"]
                    if e["type"] == "Warning" and e["source"]["component"] == "job-controller"]


def test_a_failing_job_backs_off_then_exceeds_its_backoff_limit() -> None:
    with simulate(ClusterSpec(), seed=2) as c:
        c.create(job("bad", "exit 1", backoffLimit=2))
        c.run_until(lambda c: condition(c, "bad", "Failed") is not None, timeout=120)
        pods = pods_of(c, "bad")
        assert len(pods) == 3 and all(p["status"]["phase"] == "Failed" for p in pods)
        # Each new pod waits 10 s * 2^(failures-1) after the last failure.
        created = [parse_time(p["metadata"]["creationTimestamp"]) for p in pods]
        finished = [parse_time(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"])
                    for p in pods]
        assert [round(created[i + 1] - finished[i]) for i in range(2)] == [10, 20]
        failed = condition(c, "bad", "Failed")
        assert failed is not None
        assert (failed["reason"], failed["message"]) == ("BackoffLimitExceeded",
                                                          "Job has reached the specified backoff limit")
        assert job_events(c, "bad")[-1] == ("Warning", "BackoffLimitExceeded",
                                            "Job has reached the specified backoff limit")
        c.advance(30)  # failures are counted once, and nothing more is created
        status = c.get("jobs", "bad")["status"]
        assert (status["failed"], status.get("succeeded", 0), len(pods_of(c, "bad"))) == (3, 0, 3)
        assert all(TRACKING not in (p["metadata"].get("finalizers") or ()) for p in pods_of(c, "bad"))


def test_an_indexed_job_reports_completed_indexes() -> None:
    with simulate(TWO, seed=3) as c:
        c.create(job("idx", "sleep 1; exit 0", completions=3, parallelism=3, completionMode="Indexed"))
        c.run_until(lambda c: condition(c, "idx", "Complete") is not None, timeout=60)
        pods = pods_of(c, "idx")
        by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
        assert sorted(by_index) == ["0", "1", "2"]
        for ix, p in by_index.items():
            assert p["metadata"]["name"].startswith(f"idx-{ix}-")
            assert p["spec"]["hostname"] == f"idx-{ix}"
            (env,) = [e for e in p["spec"]["containers"][0]["env"] if e["name"] == "JOB_COMPLETION_INDEX"]
            assert env["valueFrom"]["fieldRef"]["fieldPath"] == \
                "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        status = c.get("jobs", "idx")["status"]
        assert (status["completedIndexes"], status["succeeded"]) == ("0-2", 3)


def test_active_deadline_seconds_fails_the_job_and_stops_its_pods() -> None:
    with simulate(ClusterSpec(), seed=4) as c:
        c.create(job("slow", "sleep 100", activeDeadlineSeconds=15))
        c.run_until(lambda c: condition(c, "slow", "Failed") is not None, timeout=60)
        status = c.get("jobs", "slow")["status"]
        failed = condition(c, "slow", "Failed")
        assert failed is not None and failed["reason"] == "DeadlineExceeded"
        assert parse_time(failed["lastTransitionTime"]) - parse_time(status["startTime"]) >= 15
        assert job_events(c, "slow")[-1] == ("Warning", "DeadlineExceeded",
                                             "Job was active longer than specified deadline")
        assert status["failed"] == 1 and status.get("active", 0) == 0
        c.run_until(lambda c: all(p["metadata"].get("deletionTimestamp") or p["status"]["phase"] == "Failed"
                                  for p in pods_of(c, "slow")), timeout=40)


def test_ttl_seconds_after_finished_deletes_the_job_and_its_pods() -> None:
    with simulate(ClusterSpec(), seed=5) as c:
        c.create(job("once", "exit 0", ttlSecondsAfterFinished=10))
        c.run_until(lambda c: condition(c, "once", "Complete") is not None, timeout=60)
        done = parse_time(condition(c, "once", "Complete")["lastTransitionTime"])  # type: ignore[index]
        deleting = c.watch("jobs", "default")

        def gone(c: Cluster) -> bool:
            return not c.list("jobs", "default")["items"]

        c.run_until(gone, timeout=30)
        updates = [e["object"] for e in deleting.drain() if e["object"]["metadata"].get("deletionTimestamp")]
        assert updates, "deleted with a deletionTimestamp first (foreground propagation)"
        marked = parse_time(updates[0]["metadata"]["deletionTimestamp"])
        assert 10 <= marked - done < 11
        assert "foregroundDeletion" in (updates[0]["metadata"].get("finalizers") or ())
        c.run_until(lambda c: not pods_of(c, "once"), timeout=30)
