"""Job logic: finalizer-tracked counting, completions and parallelism, back-off, the
backoff limit, active deadlines, Indexed completions, suspend, TTL after finished."""

from __future__ import annotations

import copy
from typing import Any

from actors.controllers import (
    BackoffRecord,
    Create,
    Delete,
    Patch,
    Update,
    format_indexes,
    parse_indexes,
    reconcile_job,
    reconcile_ttl_after_finished,
)
from actors.controllers._plan import format_time

T0 = 1_700_000_000.0
FINALIZER = "batch.kubernetes.io/job-tracking"


def job(**spec: Any) -> dict:
    s = {"parallelism": 1, "completions": 1, "backoffLimit": 6,
         "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "job-uid"}},
         "template": {"metadata": {"labels": {"batch.kubernetes.io/controller-uid": "job-uid",
                                              "job-name": "pi"}},
                      "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}
    s.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "job-uid", "generation": 1},
            "spec": s}


class JobSim:
    def __init__(self, j: dict) -> None:
        self.job = copy.deepcopy(j)
        self.pods: dict[str, dict] = {}
        self.now = T0
        self.seq = 0
        self.events: list[tuple[str, str, str]] = []
        self.backoff: BackoffRecord | None = None
        self.plans: list = []

    def sync(self):
        result = reconcile_job(self.job, list(self.pods.values()), now=self.now, backoff=self.backoff)
        self.backoff = result.backoff
        self.plans.append(result.plan)
        for e in result.plan.events:
            self.events.append((e.type, e.reason, e.message))
        for a in result.plan.actions:
            name = a.ref.name
            if isinstance(a, Create):
                self.seq += 1
                body = copy.deepcopy(a.body)
                name = f"{body['metadata']['generateName']}{self.seq:05d}"
                body["metadata"].update(name=name, uid=f"pod-{self.seq}",
                                        creationTimestamp=format_time(self.now))
                body["status"] = {"phase": "Pending"}
                self.pods[name] = body
            elif isinstance(a, Update):
                assert a.subresource == "status"
                self.job["status"] = copy.deepcopy(a.body["status"])
            elif isinstance(a, Patch):
                pod = self.pods.get(name)
                if pod is not None:
                    drop = a.patch["metadata"]["$deleteFromPrimitiveList/finalizers"]
                    pod["metadata"]["finalizers"] = [f for f in pod["metadata"].get("finalizers", [])
                                                     if f not in drop]
                    self._maybe_gone(name)
            elif isinstance(a, Delete):
                pod = self.pods.get(name)
                if pod is not None:
                    pod["metadata"]["deletionTimestamp"] = format_time(self.now)
                    self._maybe_gone(name)
            for e in a.on_success:
                self.events.append((e.type, e.reason, e.render(name=name).message))
        return result

    def _maybe_gone(self, name: str) -> None:
        """Graceful deletion: gone once the kubelet has ended it and no finalizer holds it."""
        pod = self.pods[name]
        if (pod["metadata"].get("deletionTimestamp") and not pod["metadata"].get("finalizers")
                and pod["status"]["phase"] in ("Succeeded", "Failed")):
            del self.pods[name]

    def finish(self, name: str, phase: str) -> None:
        pod = self.pods[name]
        pod["status"] = {"phase": phase, "containerStatuses": [{"name": "pi", "state": {
            "terminated": {"exitCode": 0 if phase == "Succeeded" else 1,
                           "finishedAt": format_time(self.now)}}}]}

    def kill_terminating(self) -> None:
        """The kubelet ends pods being deleted."""
        for name, pod in list(self.pods.items()):
            if pod["metadata"].get("deletionTimestamp") and pod["status"]["phase"] not in ("Succeeded", "Failed"):
                self.finish(name, "Failed")
                self._maybe_gone(name)

    def conditions(self) -> dict[str, tuple[str, str, str]]:
        return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", ""))
                for c in self.job.get("status", {}).get("conditions", [])}


def test_indexes_format_and_parse():
    assert format_indexes([0, 1, 2, 4]) == "0-2,4"
    assert format_indexes([0, 1]) == "0,1"
    assert format_indexes([3, 5, 6, 7, 9, 10]) == "3,5-7,9,10"
    assert format_indexes([]) == ""
    assert parse_indexes("0-2,4,9", 5) == [0, 1, 2, 4]


def test_creates_parallelism_pods_with_tracking_finalizer_and_counts_through_uncounted():
    sim = JobSim(job(completions=3, parallelism=2))
    sim.sync()
    assert sorted(sim.pods) == ["pi-00001", "pi-00002"]
    pod = sim.pods["pi-00001"]
    assert pod["metadata"]["finalizers"] == [FINALIZER]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert ("Normal", "SuccessfulCreate", "Created pod: pi-00001") in sim.events
    assert sim.job["status"]["active"] == 2 and sim.job["status"]["startTime"] == format_time(T0)
    sim.now += 5
    sim.finish("pi-00001", "Succeeded")
    plan = sim.sync().plan
    kinds = [(type(a).__name__, a.ref.kind) for a in plan.actions]
    # a replacement pod, then: status with the uid uncounted, the finalizer off, the counter.
    assert kinds == [("Create", "Pod"), ("Update", "Job"), ("Patch", "Pod"), ("Update", "Job")]
    assert plan.actions[1].body["status"]["uncountedTerminatedPods"] == {"succeeded": ["pod-1"]}
    assert plan.actions[3].body["status"]["succeeded"] == 1
    assert plan.actions[3].body["status"]["uncountedTerminatedPods"] == {}


def test_job_completes_with_success_criteria_then_complete():
    sim = JobSim(job(completions=2, parallelism=2))
    sim.sync()
    sim.now += 3
    for name in list(sim.pods):
        sim.finish(name, "Succeeded")
    sim.sync()
    status = sim.job["status"]
    assert status["succeeded"] == 2
    conds = sim.conditions()
    assert conds["SuccessCriteriaMet"] == ("True", "CompletionsReached",
                                           "Reached expected number of succeeded pods")
    assert conds["Complete"] == ("True", "CompletionsReached", "Reached expected number of succeeded pods")
    assert status["completionTime"] == format_time(sim.now)
    assert ("Normal", "Completed", "Job completed") in sim.events
    # Finalizers gone; terminal pods stay until the pod garbage collector or a cascade.
    assert not any(p["metadata"]["finalizers"] for p in sim.pods.values())
    # A finished job is left alone.
    assert not sim.sync().plan.actions


def test_failures_back_off_exponentially():
    sim = JobSim(job(completions=1, backoffLimit=6))
    sim.sync()
    sim.now += 2
    sim.finish("pi-00001", "Failed")
    result = sim.sync()
    assert result.backoff == BackoffRecord(failures_after_last_success=1, last_failure_time=sim.now)
    assert not result.plan.of_type(Create) and result.plan.requeue_after == 10
    assert sim.job["status"]["failed"] == 1
    sim.now += 10
    sim.sync()
    assert len([p for p in sim.pods.values() if p["status"]["phase"] == "Pending"]) == 1
    sim.now += 1
    sim.finish("pi-00002", "Failed")
    result = sim.sync()
    assert result.plan.requeue_after == 20  # 10 s * 2^(2-1)
    assert BackoffRecord(failures_after_last_success=9, last_failure_time=T0).remaining(T0) == 360


def test_backoff_limit_exceeded_fails_the_job():
    sim = JobSim(job(completions=3, parallelism=3, backoffLimit=1))
    sim.sync()
    sim.now += 1
    sim.finish("pi-00001", "Failed")
    sim.finish("pi-00002", "Failed")
    sim.sync()
    conds = sim.conditions()
    assert conds["FailureTarget"] == ("True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert "Failed" not in conds  # the third pod is still terminating
    assert sim.pods["pi-00003"]["metadata"].get("deletionTimestamp")
    sim.kill_terminating()
    sim.sync()
    assert sim.conditions()["Failed"] == ("True", "BackoffLimitExceeded",
                                          "Job has reached the specified backoff limit")
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in sim.events
    assert sim.job["status"]["failed"] == 3


def test_restart_policy_on_failure_counts_restarts():
    sim = JobSim(job(backoffLimit=2))
    sim.job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    sim.sync()
    sim.pods["pi-00001"]["status"] = {"phase": "Running", "containerStatuses": [{"name": "pi", "restartCount": 2}]}
    sim.sync()
    assert sim.conditions()["FailureTarget"][1] == "BackoffLimitExceeded"


def test_active_deadline_exceeded():
    sim = JobSim(job(activeDeadlineSeconds=30))
    result = sim.sync()
    assert result.plan.requeue_after == 30
    sim.now += 30
    sim.sync()
    assert sim.conditions()["FailureTarget"][1:] == ("DeadlineExceeded",
                                                     "Job was active longer than specified deadline")
    sim.kill_terminating()
    sim.sync()
    assert sim.conditions()["Failed"][1] == "DeadlineExceeded"
    assert ("Warning", "DeadlineExceeded", "Job was active longer than specified deadline") in sim.events


def test_indexed_job_creates_lowest_pending_indexes_and_reports_completed_indexes():
    sim = JobSim(job(completions=5, parallelism=3, completionMode="Indexed"))
    sim.sync()
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p
                for p in sim.pods.values()}
    assert sorted(by_index) == ["0", "1", "2"]
    p0 = by_index["0"]
    assert p0["metadata"]["generateName"] == "pi-0-"
    assert p0["spec"]["hostname"] == "pi-0"
    assert p0["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
    assert p0["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
    sim.now += 1
    sim.finish(by_index["0"]["metadata"]["name"], "Succeeded")
    sim.finish(by_index["2"]["metadata"]["name"], "Succeeded")
    sim.sync()
    assert sim.job["status"]["completedIndexes"] == "0,2"
    assert sim.job["status"]["succeeded"] == 2
    pending = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                     for p in sim.pods.values() if p["status"]["phase"] == "Pending")
    assert pending == ["1", "3", "4"]
    for p in list(sim.pods.values()):
        if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] in ("1", "4"):
            sim.finish(p["metadata"]["name"], "Succeeded")
    sim.sync()
    assert sim.job["status"]["completedIndexes"] == "0-2,4"


def test_suspend_deletes_active_pods_and_sets_condition():
    sim = JobSim(job(completions=2, parallelism=2))
    sim.sync()
    sim.job["spec"]["suspend"] = True
    sim.sync()
    assert all(p["metadata"]["deletionTimestamp"] and not p["metadata"]["finalizers"]
               for p in sim.pods.values())  # finalizer removed first: not counted as failed
    assert sim.job["status"]["terminating"] == 2 and "active" not in sim.job["status"]
    sim.kill_terminating()
    assert not sim.pods
    sim.sync()
    assert "failed" not in sim.job["status"]
    assert sim.conditions()["Suspended"] == ("True", "JobSuspended", "Job suspended")
    assert ("Normal", "Suspended", "Job suspended") in sim.events
    sim.job["spec"]["suspend"] = False
    sim.now += 60
    sim.sync()
    assert sim.conditions()["Suspended"] == ("False", "JobResumed", "Job resumed")
    assert sim.job["status"]["startTime"] == format_time(sim.now)


def test_ttl_after_finished():
    j = job(ttlSecondsAfterFinished=100)
    j["status"] = {"conditions": [{"type": "Complete", "status": "True",
                                   "lastTransitionTime": format_time(T0)}]}
    assert reconcile_ttl_after_finished(j, now=T0 + 40).requeue_after == 60
    plan = reconcile_ttl_after_finished(j, now=T0 + 100)
    delete = plan.actions[0]
    assert isinstance(delete, Delete) and delete.propagation_policy == "Foreground"
    assert delete.preconditions_uid == "job-uid"
    assert not reconcile_ttl_after_finished(job(), now=T0).actions
