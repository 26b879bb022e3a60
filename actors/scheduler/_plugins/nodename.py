"""NodeName: a pod that names its node fits only there (``plugins/nodename``).

Concurrency model: none; stateless. Invariant: an empty ``spec.nodeName`` fits every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return Status.unresolvable(ERR_REASON)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        if not pod.node_name:
            return [None] * len(nodes)
        return [self.filter(state, pod, n) for n in nodes]

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Node", ActionType.ADD),)
