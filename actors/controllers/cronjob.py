"""The CronJob controller (``pkg/controller/cronjob``, ``ControllerV2``): starts a CronJob's
Jobs on its schedule — the actor shell around ``reconcile_cronjob``.

What it is: informers on CronJobs and Jobs. A Job's add, update or delete enqueues its
controlling CronJob (resolved by name, checked by uid); a CronJob's add or delete enqueues it,
and an update enqueues it at once — unless ``schedule`` or ``timeZone`` changed, when it is
enqueued for its next schedule time (or, if the new schedule does not parse, gets a Warning
"UnParseableCronJobSchedule" "unparseable schedule for cronjob: <schedule>"). Each sync asks
to be looked at again 100 ms after the next schedule time, in virtual time (``AddAfter``).

Before the pure logic runs, the shell does the reads Kubernetes does inside a sync: a GET of
each active Job the cache lacks (only a 404 makes it "MissingJob"), and, when an unfinished
Job of the CronJob is missing from the cached ``status.active``, a GET of the CronJob (its
fresher status may list it). A Job create answered 409 AlreadyExists is looked up: one the
CronJob controls is added to ``status.active`` without a "SuccessfulCreate" (the status write
of an earlier sync was lost); anyone else's is left alone. The new Job's reference in
``status.active`` gets its uid and resourceVersion from the create's answer.

Concurrency model: the manager's actor; 5 workers (``--concurrent-cron-job-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.api import ApiError
from actors.client import Result, TransportError

from ._base import Controller, PlanFailed, obj_of, register_controller
from ._logic_cronjob import next_schedule_delay, reconcile_cronjob
from ._plan import (
    WARNING,
    Action,
    Create,
    Event,
    ObjectRef,
    Plan,
    Update,
    controller_ref_of,
    meta_of,
    name_of,
    namespace_of,
)

__all__ = ["CronJobController"]


def _finished(job: Mapping[str, Any]) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


@register_controller
class CronJobController(Controller):
    name = "cronjob"
    component = "cronjob-controller"
    service_account = "cronjob-controller"
    workers = 5

    def setup(self) -> None:
        self.cronjobs = self.informer("cronjobs")
        self.jobs = self.informer("jobs")
        self._created: dict[str, dict[str, Any] | None] = {}  # job key -> create answer (None: not ours)
        self.cronjobs.add_event_handler(on_add=self.enqueue, on_update=self._cronjob_updated,
                                        on_delete=self.enqueue)
        self.jobs.add_event_handler(on_add=self._job_changed,
                                    on_update=lambda _old, new: self._job_changed(new),
                                    on_delete=lambda obj: self._job_changed(obj_of(obj)))

    # ---- handlers ---------------------------------------------------------------------------
    def _job_changed(self, job: Mapping[str, Any]) -> None:
        key = self.resolve_controller(job, "CronJob", self.cronjobs)
        if key is not None:
            self.queue.add(key)

    def _cronjob_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        o, n = old.get("spec") or {}, new.get("spec") or {}
        if o.get("schedule") == n.get("schedule") and o.get("timeZone") == n.get("timeZone"):
            self.enqueue(new)
            return
        delay = next_schedule_delay(new, self.now())
        if delay is None:
            self.recorder.record(Event(
                type=WARNING, reason="UnParseableCronJobSchedule",
                message=f"unparseable schedule for cronjob: {n.get('schedule') or ''}",
                involved=ObjectRef.of(new, api_version="batch/v1", kind="CronJob")))
            return
        self.queue.add_after(f"{namespace_of(new)}/{name_of(new)}", max(delay, 0.0))

    # ---- reconcile ----------------------------------------------------------------------------
    async def reconcile(self, key: Any) -> Result:
        self.counts["reconciles"] += 1
        cj = self.cronjobs.indexer.get_by_key(key)
        if cj is None:
            self.last_error.pop(key, None)
            return Result()
        jobs = self.jobs.indexer.by_index("namespace", namespace_of(cj))
        try:
            cj, found = await self._live_reads(cj, jobs)
        except (ApiError, TransportError) as e:
            self.counts["failures"] += 1
            self.last_error[key] = str(e)
            return Result(requeue=True)
        plan = reconcile_cronjob(cj, jobs, now=self.now(), found_live=found)
        return await self.run_plan(key, plan)

    def plan(self, key: Any) -> Plan | None:
        raise NotImplementedError("the CronJob controller reconciles in reconcile()")

    async def _live_reads(self, cj: Mapping[str, Any], jobs: list[Mapping[str, Any]]
                          ) -> tuple[Mapping[str, Any], set[str]]:
        """The GETs ``syncCronJob`` makes: a fresher CronJob when an unfinished Job of it is
        not in the active list, and each active Job the cache does not hold."""
        ns = namespace_of(cj)
        active = (cj.get("status") or {}).get("active") or ()
        uids = {r.get("uid") for r in active}
        mine = [j for j in jobs if (controller_ref_of(j) or {}).get("name") == name_of(cj)]
        if any(not _finished(j) and meta_of(j).get("uid") not in uids for j in mine):
            fresh = await self.client.get("cronjobs", name_of(cj), ns)
            fresh_uids = {r.get("uid") for r in (fresh.get("status") or {}).get("active") or ()}
            if any(meta_of(j).get("uid") in fresh_uids - uids for j in mine):
                cj, active = fresh, (fresh.get("status") or {}).get("active") or ()
        cached = {meta_of(j).get("uid") for j in mine}
        found: set[str] = set()
        for r in active:
            if r.get("uid") in cached:
                continue
            try:
                await self.client.get("jobs", r.get("name") or "", r.get("namespace") or ns)
            except ApiError as e:
                if e.code != 404:
                    raise
                continue
            found.add(r.get("name") or "")
        return cj, found

    # ---- plan execution: the created Job's reference goes into the status ---------------------
    async def _run_one(self, action: Action, key: Any) -> None:
        if not (isinstance(action, Create) and action.ref.kind == "Job"):
            if isinstance(action, Update) and action.ref.kind == "CronJob":
                action = self._with_job_refs(action)
                if action is None:
                    return
            await super()._run_one(action, key)
            return
        job_key = action.ref.key()
        try:
            job = await self.client.create("jobs", action.body, action.ref.namespace)
        except ApiError as e:
            if e.code == 409:
                self._created[job_key] = await self._existing(action)
                return
            self._failed(action, e)
            raise PlanFailed(action, e) from e
        except TransportError as e:
            self._failed(action, e)
            raise PlanFailed(action, e) from e
        self.counts["writes"] += 1
        self._created[job_key] = job
        for ev in action.on_success:
            self.recorder.record(ev.render(name=name_of(job) or action.ref.name))

    def _failed(self, action: Create, e: BaseException) -> None:
        message = e.message if isinstance(e, ApiError) and e.message else str(e)
        for ev in action.on_failure:
            self.recorder.record(ev.render(name=action.ref.name, error=message))

    async def _existing(self, action: Create) -> dict[str, Any] | None:
        """The Job a create collided with, if this CronJob controls it (else None)."""
        try:
            job = await self.client.get("jobs", action.ref.name, action.ref.namespace)
        except ApiError as e:
            raise PlanFailed(action, e) from e
        ours = (action.body["metadata"]["ownerReferences"][0] or {}).get("uid")
        ref = controller_ref_of(job) or {}
        return job if ref.get("uid") == ours else None

    def _with_job_refs(self, action: Update) -> Update | None:
        """Fill the new active entry from the create's answer; drop it (and keep the old
        lastScheduleTime) when the name was taken by someone else's Job."""
        body = action.body
        status = dict(body.get("status") or {})
        refs = []
        for r in status.get("active") or ():
            if r.get("uid"):
                refs.append(r)
                continue
            job = self._created.pop(f"{r.get('namespace')}/{r.get('name')}", None)
            if job is None:
                old = (self._cached_status(action) or {}).get("lastScheduleTime")
                status.pop("lastScheduleTime", None)
                if old is not None:
                    status["lastScheduleTime"] = old
                continue
            m = meta_of(job)
            refs.append({**r, "uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")})
        if refs:
            status["active"] = refs
        else:
            status.pop("active", None)
        if status == self._cached_status(action):
            return None
        return Update(ref=action.ref, body={**body, "status": status}, subresource=action.subresource,
                      on_success=action.on_success, on_failure=action.on_failure)

    def _cached_status(self, action: Update) -> dict[str, Any] | None:
        cj = self.cronjobs.indexer.get_by_key(action.ref.key())
        return None if cj is None else dict(cj.get("status") or {})
