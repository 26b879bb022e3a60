"""NodePorts: a pod's host ports must be free on the node (``plugins/nodeports``).

Concurrency model: none; stateless. Invariants: a host IP of 0.0.0.0 conflicts with the
same protocol/port on any IP and the other way round; pods without host ports skip the
filter (PreFilter Skip).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.scheduler._framework import (
    ActionType,
    ClusterEvent,
    CycleState,
    PreFilterResult,
    Status,
)
from actors.scheduler._plugins.helper import ports_conflict

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Snapshot

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot
                   ) -> tuple[PreFilterResult | None, Status | None]:
        return None, (None if pod.host_ports else Status.skip())

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for hp in pod.host_ports:
            if ports_conflict(node.used_ports, hp):
                return Status.unschedulable(ERR_REASON)
        return None

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (ClusterEvent("Pod", ActionType.DELETE), ClusterEvent("Node", ActionType.ADD))
