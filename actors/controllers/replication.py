"""The ReplicationController controller (``pkg/controller/replication``): Kubernetes runs the
ReplicaSet controller's code for ReplicationControllers, with a map selector (defaulted by the
apiserver to the template's labels) and the ``v1`` owner reference — so does this shell
(``ReplicaSetLikeController`` around ``reconcile_replication_controller``).

Concurrency model: the manager's actor; 5 workers (``--concurrent-rc-syncs``).
Invariants: see ``replicaset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.api import selector_from_set

from ._base import register_controller
from ._logic_replicaset import reconcile_replication_controller
from ._plan import Plan
from .replicaset import ReplicaSetLikeController

__all__ = ["ReplicationController"]


@register_controller
class ReplicationController(ReplicaSetLikeController):
    name = "replicationcontroller"
    component = "replication-controller"
    service_account = "replication-controller"
    resource = "replicationcontrollers"
    kind = "ReplicationController"

    def selector(self, owner: Mapping[str, Any]) -> Any:
        spec = owner.get("spec") or {}
        raw = spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        return selector_from_set(raw or {})

    def _selector_empty(self, owner: Mapping[str, Any]) -> bool:
        spec = owner.get("spec") or {}
        return not (spec.get("selector") or ((spec.get("template") or {}).get("metadata") or {}).get("labels"))

    def siblings(self, owner: Mapping[str, Any]) -> list[Any]:
        return []  # nothing controls ReplicationControllers

    def sync(self, owner: Mapping[str, Any], pods: list[Any], siblings: list[Any], key: str) -> Plan:
        return reconcile_replication_controller(
            owner, pods, now=self.now(), expectations_satisfied=self.expectations_satisfied(key),
            manage_error=self.last_error.get(key))
