"""The Job controller (``pkg/controller/job``): runs a Job's pods to completion — the actor
shell around ``reconcile_job``.

What it is: informers on Jobs and pods. Job events enqueue the Job; pod events enqueue the
pod's controlling Job (resolved by name, checked by uid) and lower its expectations, as in
``replicaset``. ``reconcile(key)`` hands the logic the Job, its pods and the namespace's
orphans, whether the expectations are satisfied, and the back-off record Kubernetes keeps in
memory (``podBackoffStore``: failures since the last success and when the last one
finished), which decides when pods are created again after a failure (10 s doubling, capped).
The record the logic returns is kept once the plan's first status write succeeded, as
``updateBackoffRecord`` runs after the first flush. Pods are created as
``<job>-<5 random>`` (``<job>-<index>-<5 random>`` for Indexed Jobs) with the
``batch.kubernetes.io/job-tracking`` finalizer; a pod's end is counted once, through
``status.uncountedTerminatedPods``, before the finalizer is removed. A deleted Job leaves
its pods' tracking finalizers to be removed (key ``("orphans", uid)``), so they can go.

Concurrency model: the manager's actor; 5 workers (``--concurrent-job-syncs``).
Invariants: see ``_base``; the same-object writes of a plan are chained (``_workloads``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.client import Result

from ._base import CONTROLLER_INDEX, PlanFailed, obj_of, register_controller
from ._logic_job import TRACKING_FINALIZER, BackoffRecord, reconcile_job
from ._plan import ObjectRef, Plan, PlanBuilder, Update, controller_ref_of, meta_of, uid_of
from ._workloads import PodOwnerController

__all__ = ["JobController"]


def _has_tracking_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (meta_of(pod).get("finalizers") or ())


@register_controller
class JobController(PodOwnerController):
    name = "job"
    component = "job-controller"
    service_account = "job-controller"
    owner_kind = "Job"
    uses_expectations = True
    workers = 5

    def setup(self) -> None:
        self.backoff: dict[str, BackoffRecord] = {}
        self._failed_action: dict[Any, Any] = {}
        self.owners = self.jobs = self.informer("jobs")
        self.jobs.add_event_handler(on_add=self.enqueue, on_update=lambda _old, new: self.enqueue(new),
                                    on_delete=self._job_deleted)
        self.watch_pods()
        self.pods.add_event_handler(on_add=self._maybe_orphaned,
                                    on_update=lambda _old, new: self._maybe_orphaned(new))

    # ---- handlers ---------------------------------------------------------------------------------
    def _job_deleted(self, obj: Any) -> None:
        job = obj_of(obj)
        self.owner_deleted(job)
        if uid_of(job):
            self.queue.add(("orphans", uid_of(job)))

    def _maybe_orphaned(self, pod: Mapping[str, Any]) -> None:
        """A pod still tracked by a Job that is gone: its finalizer must go (``orphanQueue``)."""
        ref = controller_ref_of(pod)
        if (ref is None or ref.get("kind") != "Job" or not _has_tracking_finalizer(pod)
                or self.resolve_controller(pod, "Job", self.jobs) is not None):
            return
        self.queue.add(("orphans", ref.get("uid") or ""))

    # ---- reconcile ------------------------------------------------------------------------------
    async def reconcile(self, key: Any) -> Result:
        self.counts["reconciles"] += 1
        if isinstance(key, tuple):
            plan = self._orphans_plan(key[1])
            return await self.run_plan(key, plan) if plan.actions else Result()
        job = self.jobs.indexer.get_by_key(key)
        if job is None:
            self.backoff.pop(key, None)
            if self.expectations is not None:
                self.expectations.forget(key)
            self.last_error.pop(key, None)
            return Result()
        result = reconcile_job(job, self.pods_of(job), now=self.now(), backoff=self.backoff.get(key),
                               expectations_satisfied=self.expectations_satisfied(key))
        out = await self.run_plan(key, result.plan)
        if _first_flush_done(result.plan, self._failed_action.pop(key, None)):
            self.backoff[key] = result.backoff
        return out

    def plan(self, key: Any) -> Plan | None:
        raise NotImplementedError("the Job controller reconciles in reconcile()")

    async def execute(self, plan: Plan, *, key: Any = None) -> None:
        try:
            await super().execute(plan, key=key)
        except PlanFailed as e:
            self._failed_action[key] = e.action
            raise

    def _orphans_plan(self, job_uid: str) -> Plan:
        """Remove the tracking finalizer of pods whose Job is gone (``handleOrphanPod``)."""
        b = PlanBuilder()
        for pod in self.pods.indexer.by_index(CONTROLLER_INDEX, job_uid):
            if _has_tracking_finalizer(pod) and self.resolve_controller(pod, "Job", self.jobs) is None:
                b.patch(ObjectRef.of(pod, api_version="v1", kind="Pod"),
                        {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}},
                        patch_type="strategic")
        return b.build()


def _first_flush_done(plan: Plan, failed: Any) -> bool:
    """Whether the plan's first Job status write went through (or there was none)."""
    if failed is None:
        return True
    for action in plan.actions:
        if action is failed:
            return False
        if isinstance(action, Update) and action.ref.kind == "Job" and action.subresource == "status":
            return True
    return True
