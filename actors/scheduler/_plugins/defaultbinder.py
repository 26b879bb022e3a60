"""DefaultBinder: binds through the pods/binding subresource (``plugins/defaultbinder``).

Concurrency model: none. The core does no I/O: ``bind`` builds the ``v1.Binding`` the
shell must POST and leaves it in the CycleState under ``BINDING_KEY``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.scheduler._framework import CycleState, Status

if TYPE_CHECKING:
    from actors.scheduler._types import PodInfo

BINDING_KEY = "DefaultBinder/binding"


def binding_for(pod: PodInfo, node_name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
    if pod.uid:
        meta["uid"] = pod.uid
    return {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}


class DefaultBinder:
    name = "DefaultBinder"

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        state.write(BINDING_KEY, binding_for(pod, node_name))
        return None
