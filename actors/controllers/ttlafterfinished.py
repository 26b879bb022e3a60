"""The TTL-after-finished controller (``pkg/controller/ttlafterfinished``): deletes a finished
Job ``spec.ttlSecondsAfterFinished`` seconds after it finished — the actor shell around
``reconcile_ttl_after_finished``.

What it is: one informer on Jobs. A Job added or updated that has a TTL and is finished
(``needsCleanup``: a Complete or Failed condition that is True) is enqueued; the reconcile
deletes it once the TTL has passed since the condition's lastTransitionTime, with
``propagationPolicy: Foreground`` and a uid precondition (so the garbage collector removes
its pods first, and a new Job of the same name is never deleted by mistake), else asks to
look again when it expires (``AddAfter``). Like Kubernetes, it records no events.

Concurrency model: the manager's actor; 5 workers (``--concurrent-ttl-after-finished-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Controller, register_controller
from ._logic_job import reconcile_ttl_after_finished
from ._plan import Plan, meta_of

__all__ = ["TTLAfterFinishedController"]


def _needs_cleanup(job: Mapping[str, Any]) -> bool:
    if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is None or meta_of(job).get("deletionTimestamp"):
        return False
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


@register_controller
class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    component = "ttl-after-finished-controller"
    service_account = "ttl-after-finished-controller"
    workers = 5

    def setup(self) -> None:
        self.jobs = self.informer("jobs")
        self.jobs.add_event_handler(on_add=self._maybe_enqueue,
                                    on_update=lambda _old, new: self._maybe_enqueue(new))

    def _maybe_enqueue(self, job: Mapping[str, Any]) -> None:
        if _needs_cleanup(job):
            self.enqueue(job)

    def plan(self, key: Any) -> Plan | None:
        job = self.jobs.indexer.get_by_key(key)
        if job is None or not _needs_cleanup(job):
            return None
        return reconcile_ttl_after_finished(job, now=self.now())
