"""NodeUnschedulable: cordoned nodes take only pods that tolerate the unschedulable taint.

Concurrency model: none; stateless. Invariant: tolerating
``node.kubernetes.io/unschedulable:NoSchedule`` is what lets a pod onto a cordoned node,
as ``plugins/nodeunschedulable`` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status
from actors.scheduler._plugins.helper import Taint, tolerations_tolerate_taint

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo

ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerations_tolerate_taint(pod.tolerations, UNSCHEDULABLE_TAINT):
            return None
        return Status.unresolvable(ERR_REASON)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        return [self.filter(state, pod, n) if n.unschedulable else None for n in nodes]

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_TAINT),)
