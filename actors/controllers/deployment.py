"""The Deployment controller (``pkg/controller/deployment``): rolls a Deployment's ReplicaSets
— the actor shell around ``reconcile_deployment``.

What it is: informers on Deployments, ReplicaSets and pods. Deployment events enqueue the
Deployment; ReplicaSet events enqueue the set's controlling Deployment (resolved and checked
by uid) or, for an orphan set, every Deployment of its namespace whose selector matches it
(adoption); a deleted pod enqueues its Deployment when that Deployment uses the Recreate
strategy (the only strategy waiting for old pods to be gone). ``plan(key)`` hands the logic
the namespace's ReplicaSets and, for Recreate, the pods of the Deployment's sets (the rolling
path never looks at pods, so it is given none). New ReplicaSets are named
``<deployment>-<pod-template-hash>``; scaling is announced as ``ScalingReplicaSet`` "Scaled up
replica set nginx-879cf7b8c to 1".

Concurrency model: the manager's actor; 5 workers (``--concurrent-deployment-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import (
    CONTROLLER_INDEX,
    Controller,
    InformerSpec,
    index_by_controller_or_orphan,
    obj_of,
    owners_selecting,
    register_controller,
)
from ._logic_deployment import reconcile_deployment
from ._plan import Plan, meta_of, namespace_of, uid_of

__all__ = ["DeploymentController"]


def _recreate(d: Mapping[str, Any]) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate"


@register_controller
class DeploymentController(Controller):
    name = "deployment"
    component = "deployment-controller"
    service_account = "deployment-controller"
    workers = 5

    def setup(self) -> None:
        self.deployments = self.informer("deployments")
        self.sets = self.informer("replicasets")
        self.pods = self.informer(InformerSpec("pods", indexers={CONTROLLER_INDEX: index_by_controller_or_orphan}))
        self.handle(self.deployments)
        self.sets.add_event_handler(on_add=self._set_changed,
                                    on_update=lambda old, new: self._set_updated(old, new),
                                    on_delete=self._set_deleted)
        self.pods.add_event_handler(on_delete=self._pod_deleted)

    # ---- handlers -----------------------------------------------------------------------------------
    def _matching(self, rs: Mapping[str, Any]) -> list[str]:
        """``getDeploymentsForReplicaSet``: Deployments of the namespace selecting the set."""
        return owners_selecting(self.deployments, rs)

    def _set_changed(self, rs: Mapping[str, Any]) -> None:
        key = self.resolve_controller(rs, "Deployment", self.deployments)
        if key is not None:
            self.queue.add(key)
        elif not any(r.get("controller") for r in meta_of(rs).get("ownerReferences") or ()):
            for k in self._matching(rs):
                self.queue.add(k)

    def _set_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta_of(old).get("resourceVersion") == meta_of(cur).get("resourceVersion"):
            return
        old_key = self.resolve_controller(old, "Deployment", self.deployments)
        if old_key is not None and old_key != self.resolve_controller(cur, "Deployment", self.deployments):
            self.queue.add(old_key)
        self._set_changed(cur)

    def _set_deleted(self, obj: Any) -> None:
        key = self.resolve_controller(obj_of(obj), "Deployment", self.deployments)
        if key is not None:
            self.queue.add(key)

    def _pod_deleted(self, obj: Any) -> None:
        pod = obj_of(obj)
        rs_key = self.resolve_controller(pod, "ReplicaSet", self.sets)
        if rs_key is None:
            return
        rs = self.sets.indexer.get_by_key(rs_key)
        key = self.resolve_controller(rs, "Deployment", self.deployments) if rs is not None else None
        if key is not None:
            d = self.deployments.indexer.get_by_key(key)
            if d is not None and _recreate(d):
                self.queue.add(key)

    # ---- reconcile ---------------------------------------------------------------------------------
    def plan(self, key: Any) -> Plan | None:
        d = self.deployments.indexer.get_by_key(key)
        if d is None:
            return None
        rss = self.sets.indexer.by_index("namespace", namespace_of(d))
        pods: list[Any] = []
        if _recreate(d):
            for rs in rss:
                pods.extend(self.pods.indexer.by_index(CONTROLLER_INDEX, uid_of(rs)))
        return reconcile_deployment(d, rss, pods, now=self.now())
