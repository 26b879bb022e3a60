"""The node IPAM controller (``pkg/controller/nodeipam``, range allocator): every node gets a
``spec.podCIDR`` out of the cluster CIDR — the actor shell around ``allocate_pod_cidrs``.

What it is: an informer on Nodes; a node added (or updated while it still has no podCIDR)
or deleted (its range is free again) enqueues the one key ``nodes``; ``plan`` runs the
allocator over the whole node list (the logic is a function of the list, and the dedup queue
turns a burst of registrations into one pass). Options (``ControllerManagerConfig.options
["nodeipam"]``): ``cluster_cidr`` (``--cluster-cidr``, 10.244.0.0/16) and ``node_mask_size``
(``--node-cidr-mask-size``, 24).

Concurrency model: the manager's actor; one worker (one allocator).
Invariants: see ``_base``; a node's range is never changed once set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import Controller, register_controller
from ._logic_nodeipam import DEFAULT_CLUSTER_CIDR, DEFAULT_NODE_MASK_SIZE, allocate_pod_cidrs
from ._plan import Plan

__all__ = ["NodeIpamController"]

KEY = "nodes"


def _no_cidr(node: Mapping[str, Any]) -> bool:
    return not (node.get("spec") or {}).get("podCIDR")


@register_controller
class NodeIpamController(Controller):
    name = "nodeipam"
    component = "cidrAllocator"
    service_account = "node-controller"
    workers = 1

    def setup(self) -> None:
        opts = self.host.options_for(self.name) or {}
        self.cluster_cidr = opts.get("cluster_cidr", DEFAULT_CLUSTER_CIDR)
        self.node_mask_size = opts.get("node_mask_size", DEFAULT_NODE_MASK_SIZE)
        self.nodes = self.informer("nodes")
        self.nodes.add_event_handler(
            on_add=lambda n: self._kick() if _no_cidr(n) else None,
            on_update=lambda _old, new: self._kick() if _no_cidr(new) else None,
            on_delete=lambda _obj: self._kick())

    def _kick(self) -> None:
        self.queue.add(KEY)

    def plan(self, key: Any) -> Plan | None:
        nodes = self.nodes.indexer.list()
        if not any(_no_cidr(n) for n in nodes):
            return None
        return allocate_pod_cidrs(nodes, now=self.now(), cluster_cidr=self.cluster_cidr,
                                  node_mask_size=self.node_mask_size)
