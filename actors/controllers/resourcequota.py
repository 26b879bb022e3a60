"""The resource quota controller (``pkg/controller/resourcequota``): keeps every
ResourceQuota's ``status.used`` true to what its namespace holds — the actor shell around
``reconcile_resource_quota``.

What it is: an informer on ResourceQuotas and, as the ``QuotaMonitor`` does, on the resources
whose usage it counts: pods, services, persistentvolumeclaims, configmaps, secrets,
replicationcontrollers, resourcequotas, and the apps and batch workloads (for their
``count/…`` quotas). Keys are ``namespace/name`` of quotas:
- a quota is enqueued when added, deleted, or when its ``spec.hard`` changes (its own status
  writes do not enqueue it);
- replenishment: a monitored object deleted, or updated in a way that lowers its usage (a pod
  turning terminal, a Service changing type, a claim's storage request changing), enqueues
  the quotas of its namespace that track that resource, so a delete frees quota promptly;
- the full resync: every quota is enqueued every ``--resource-quota-sync-period`` (5 min;
  option ``sync_period`` under ``"resourcequota"``).
A ``count/<resource>.<group>`` of a resource not monitored is counted by listing it from the
apiserver at sync time (it is then only recounted on the resync and on quota changes).

Concurrency model: the manager's actor; 5 workers (``--concurrent-resource-quota-syncs``).
Invariants: see ``_base``; a status is written only when it changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.api import ApiError, UnknownResource, lookup
from actors.client import Result, SharedInformer, TransportError

from ._base import Controller, obj_of, register_controller
from ._logic_resourcequota import evaluator_of, quota_v1_pod, reconcile_resource_quota
from ._plan import Plan, meta_of, namespace_of

__all__ = ["RESOURCE_QUOTA_SYNC_PERIOD", "ResourceQuotaController"]

RESOURCE_QUOTA_SYNC_PERIOD = 300.0  # --resource-quota-sync-period
RESYNC = ("resync",)
_MONITORED = (("", "pods"), ("", "services"), ("", "persistentvolumeclaims"), ("", "configmaps"),
              ("", "secrets"), ("", "replicationcontrollers"), ("", "resourcequotas"),
              ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
              ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs"))


def _service_type(svc: Mapping[str, Any]) -> str:
    """``GetQuotaServiceType``: NodePort and LoadBalancer count, anything else does not."""
    t = (svc.get("spec") or {}).get("type") or ""
    return t if t in ("NodePort", "LoadBalancer") else ""


def _claim_request(pvc: Mapping[str, Any]) -> Any:
    return (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


@register_controller
class ResourceQuotaController(Controller):
    name = "resourcequota"
    component = "resourcequota-controller"
    service_account = "resourcequota-controller"
    workers = 5

    def setup(self) -> None:
        opts = self.host.options_for(self.name) or {}
        self.sync_period = float(opts.get("sync_period", RESOURCE_QUOTA_SYNC_PERIOD))
        self.quotas = self.informer("resourcequotas")
        self.quotas.add_event_handler(on_add=self.enqueue, on_update=self._quota_updated,
                                      on_delete=self.enqueue)
        self.monitors: dict[tuple[str, str], SharedInformer] = {}
        for gr in _MONITORED:
            inf = self.quotas if gr == ("", "resourcequotas") else self.informer(gr[1])
            self.monitors[gr] = inf
            inf.add_event_handler(on_update=lambda old, new, gr=gr: self._updated(gr, old, new),
                                  on_delete=lambda obj, gr=gr: self._replenish(gr, obj_of(obj)))

    def start(self) -> None:
        super().start()
        self.queue.add_after(RESYNC, self.sync_period)

    # ---- handlers ---------------------------------------------------------------------------
    def _quota_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """Only a change of ``spec.hard`` matters; status updates are this controller's own."""
        if (old.get("spec") or {}).get("hard") != (new.get("spec") or {}).get("hard"):
            self.enqueue(new)

    def _updated(self, gr: tuple[str, str], old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """The QuotaMonitor's update filter: only changes that can lower usage."""
        now = self.now()
        if gr == ("", "pods"):
            release = quota_v1_pod(old, now) and not quota_v1_pod(new, now)
        elif gr == ("", "services"):
            release = _service_type(old) != _service_type(new)
        elif gr == ("", "persistentvolumeclaims"):
            release = _claim_request(old) != _claim_request(new)
        else:
            release = False
        if release:
            self._replenish(gr, new)

    def _replenish(self, gr: tuple[str, str], obj: Mapping[str, Any]) -> None:
        """``replenishQuota``: the namespace's quotas tracking a resource of ``gr``."""
        for q in self.quotas.indexer.by_index("namespace", namespace_of(obj)):
            hard = (q.get("status") or {}).get("hard") or {}
            if any(evaluator_of(r) == gr for r in hard):
                self.enqueue(q)

    # ---- reconcile ----------------------------------------------------------------------------
    async def reconcile(self, key: Any) -> Result:
        if key == RESYNC:  # enqueueAll
            for q in self.quotas.indexer.list():
                self.enqueue(q)
            return Result(requeue_after=self.sync_period)
        self.counts["reconciles"] += 1
        quota = self.quotas.indexer.get_by_key(key)
        if quota is None:
            self.last_error.pop(key, None)
            return Result()
        try:
            listed = await self._list_unmonitored(quota)
        except (ApiError, TransportError) as e:
            self.counts["failures"] += 1
            self.last_error[key] = str(e)
            return Result(requeue=True)
        ns = namespace_of(quota)

        def objects(group: str, resource: str) -> Iterable[Mapping[str, Any]]:
            inf = self.monitors.get((group, resource))
            if inf is not None:
                return inf.indexer.by_index("namespace", ns)
            return listed.get((group, resource), ())

        plan = reconcile_resource_quota(quota, objects, now=self.now())
        return await self.run_plan(key, plan)

    def plan(self, key: Any) -> Plan | None:
        raise NotImplementedError("the resource quota controller reconciles in reconcile()")

    async def _list_unmonitored(self, quota: Mapping[str, Any]) -> dict[tuple[str, str], list[Any]]:
        """``count/`` resources without an informer, listed live (unknown ones: none)."""
        out: dict[tuple[str, str], list[Any]] = {}
        for name in (quota.get("spec") or {}).get("hard") or {}:
            gr = evaluator_of(name)
            if gr is None or gr in self.monitors or gr in out:
                continue
            try:
                ri = lookup(f"{gr[1]}.{gr[0]}" if gr[0] else gr[1])
            except UnknownResource:
                continue
            if ri.group != gr[0] or not ri.namespaced:
                continue
            page = await self.client.list(ri.resource, meta_of(quota).get("namespace"))
            out[gr] = list(page.get("items") or ())
        return out
