"""The namespace controller (``pkg/controller/namespace``): empties a namespace being deleted,
then removes its ``kubernetes`` finalizer — the actor shell around ``reconcile_namespace``.

What it is: an informer on Namespaces; a namespace with a deletionTimestamp is enqueued (on
add, update, and the periodic resync Kubernetes runs every 5 minutes). The reconcile does
what ``NamespacedResourcesDeleter`` does with discovery: it *lists live* every namespaced
resource the API serves with both ``list`` and ``delete`` (not from informers: a namespace's
content must not be missed because a cache lags), then the logic moves the namespace to
Terminating, deletes each object (background propagation), writes the remaining-content
conditions and requeues after the estimate; once nothing is left, the finalizer goes through
the ``namespaces/<name>/finalize`` subresource and the apiserver removes the namespace.

Concurrency model: the manager's actor; 10 workers (``--concurrent-namespace-syncs``).
Invariants: see ``_base``; only namespaces being deleted are touched.
"""

from __future__ import annotations

from typing import Any

from actors.api import all_resources
from actors.client import Result

from ._base import Controller, register_controller
from ._logic_namespace import reconcile_namespace
from ._plan import meta_of

__all__ = ["NamespaceController"]

RESYNC_PERIOD = 300.0  # --namespace-sync-period


def _deletable() -> list[Any]:
    return [ri for ri in all_resources()
            if ri.namespaced and "list" in ri.verbs and "delete" in ri.verbs]


@register_controller
class NamespaceController(Controller):
    name = "namespace"
    component = "namespace-controller"
    service_account = "namespace-controller"
    workers = 10

    def setup(self) -> None:
        self.namespaces = self.informer("namespaces")
        self.namespaces.add_event_handler(on_add=self._changed,
                                          on_update=lambda _old, new: self._changed(new),
                                          resync_period=RESYNC_PERIOD)

    def _changed(self, ns: Any) -> None:
        if meta_of(ns).get("deletionTimestamp"):
            self.enqueue(ns)

    async def contents(self, name: str) -> list[dict[str, Any]]:
        """Every object of the namespace, with apiVersion and kind (list items may lack them)."""
        out: list[dict[str, Any]] = []
        for ri in _deletable():
            page = await self.client.list(ri.resource, name)
            for item in page.get("items") or ():
                out.append({**item, "apiVersion": ri.api_version, "kind": ri.kind})
        return out

    async def reconcile(self, key: Any) -> Result:
        self.counts["reconciles"] += 1
        ns = self.namespaces.indexer.get_by_key(key)
        if ns is None or not meta_of(ns).get("deletionTimestamp"):
            return Result()
        contents = await self.contents(key)
        plan = reconcile_namespace(ns, contents, now=self.now())
        return await self.run_plan(key, plan)
