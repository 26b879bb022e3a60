"""The CronJob controller through ``simulate()``: ``*/1 * * * *`` starts a Job each virtual
minute named ``<cronjob>-<minutes since the epoch>``, finished Jobs beyond the history limits
are deleted oldest first, and Forbid skips the schedule while a Job is still running. Pods
really run: busybox's shell sleeps and exits."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster

SPEC = ClusterSpec(nodes=[NodeSpec("node-1")], addons=())
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def cronjob(name: str, script: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/1 * * * *", **spec, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}]}}}}}}


def jobs_of(c: Cluster, name: str) -> list[dict[str, Any]]:
    items = [j for j in c.list("jobs", "default")["items"]
             if any(r.get("kind") == "CronJob" and r.get("name") == name
                    for r in j["metadata"].get("ownerReferences") or ())]
    return sorted(items, key=lambda j: j["metadata"]["name"])


def events(c: Cluster, name: str) -> list[tuple[str, str]]:
    items = [e for e in c.list("events", "default")["items"]
             if e["involvedObject"]["kind"] == "CronJob" and e["involvedObject"]["name"] == name]
    items.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["reason"], e["message"]) for e in items]


def complete(job: dict[str, Any]) -> bool:
    return any(x["type"] == "Complete" and x["status"] == "True"
               for x in (job.get("status") or {}).get("conditions") or ())


def test_every_minute_creates_a_job_named_by_its_minute() -> None:
    with simulate(SPEC, seed=3) as c:
        c.create(cronjob("tick", "exit 0"))
        start = c.now
        c.run_until(lambda c: len(jobs_of(c, "tick")) >= 2, timeout=150)
        first, second = jobs_of(c, "tick")[:2]
        m1 = int(first["metadata"]["name"].rsplit("-", 1)[1])
        assert int(second["metadata"]["name"].rsplit("-", 1)[1]) == m1 + 1
        assert first["metadata"]["annotations"][SCHEDULED].endswith(":00Z")
        ref = first["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("CronJob", True, True)
        assert c.now - start < 150
        c.run_until(lambda c: (c.get("cronjobs", "tick").get("status") or {}).get("lastSuccessfulTime"),
                    timeout=60)
        status = c.get("cronjobs", "tick")["status"]
        assert status["lastScheduleTime"].endswith(":00Z")
        got = events(c, "tick")
        assert ("SuccessfulCreate", f"Created job {first['metadata']['name']}") in got
        assert ("SawCompletedJob", f"Saw completed job: {first['metadata']['name']}, condition: Complete") in got


def test_history_limits_keep_the_newest_finished_jobs() -> None:
    with simulate(SPEC, seed=5) as c:
        c.create(cronjob("hist", "exit 0", successfulJobsHistoryLimit=2))
        c.run_until(lambda c: sum(1 for e in events(c, "hist") if e[0] == "SuccessfulDelete") >= 2,
                    timeout=400)
        c.advance(5)
        names = [e[1].split()[-1] for e in events(c, "hist") if e[0] == "SuccessfulCreate"]
        deleted = [e[1].split()[-1] for e in events(c, "hist") if e[0] == "SuccessfulDelete"]
        assert deleted[:2] == names[:2]  # oldest first
        done = [j for j in jobs_of(c, "hist") if complete(j)]
        assert len(done) <= 2


def test_forbid_skips_while_a_job_is_running() -> None:
    with simulate(SPEC, seed=7) as c:
        c.create(cronjob("slow", "sleep 150", concurrencyPolicy="Forbid"))
        c.run_until(lambda c: any(e[0] == "JobAlreadyActive" for e in events(c, "slow")), timeout=200)
        assert len(jobs_of(c, "slow")) == 1
        assert ("JobAlreadyActive", "Not starting job because prior execution is running and "
                "concurrency policy is Forbid") in events(c, "slow")
        assert len(c.get("cronjobs", "slow")["status"]["active"]) == 1
        c.run_until(lambda c: len(jobs_of(c, "slow")) == 2, timeout=240)
        first = jobs_of(c, "slow")[0]
        assert complete(c.get("jobs", first["metadata"]["name"]))
