"""The in-tree plugins and Kubernetes' default profile (``apis/config/v1/default_plugins.go``).

Concurrency model: none. ``default_plugins()`` builds fresh instances each call.
Invariant: the order below is Kubernetes' MultiPoint order, which is the order Filters
run in, so the first rejecting plugin named in a node's status matches Kubernetes'.
"""

from __future__ import annotations

from typing import Any

from actors.scheduler._plugins.balanced_allocation import BalancedAllocation
from actors.scheduler._plugins.defaultbinder import BINDING_KEY, DefaultBinder
from actors.scheduler._plugins.defaultpreemption import DefaultPreemption
from actors.scheduler._plugins.imagelocality import ImageLocality
from actors.scheduler._plugins.interpodaffinity import InterPodAffinity
from actors.scheduler._plugins.nodeaffinity import NodeAffinity
from actors.scheduler._plugins.nodename import NodeName
from actors.scheduler._plugins.nodeports import NodePorts
from actors.scheduler._plugins.noderesources_fit import NodeResourcesFit
from actors.scheduler._plugins.nodeunschedulable import NodeUnschedulable
from actors.scheduler._plugins.podtopologyspread import PodTopologySpread
from actors.scheduler._plugins.tainttoleration import TaintToleration

__all__ = [
    "BINDING_KEY",
    "DEFAULT_WEIGHTS",
    "BalancedAllocation",
    "DefaultBinder",
    "DefaultPreemption",
    "ImageLocality",
    "InterPodAffinity",
    "NodeAffinity",
    "NodeName",
    "NodePorts",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "PodTopologySpread",
    "TaintToleration",
    "default_plugins",
]

DEFAULT_WEIGHTS: dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}


def default_plugins() -> list[Any]:
    return [
        NodeUnschedulable(),
        NodeName(),
        TaintToleration(),
        NodeAffinity(),
        NodePorts(),
        NodeResourcesFit(),
        PodTopologySpread(),
        InterPodAffinity(),
        DefaultPreemption(),
        BalancedAllocation(),
        ImageLocality(),
        DefaultBinder(),
    ]
