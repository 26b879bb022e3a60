"""Node IPAM (``pkg/controller/nodeipam/ipam/range_allocator.go``): pod CIDRs for nodes.

What it is: ``allocate_pod_cidrs(nodes, *, cluster_cidr, node_mask_size, now)`` gives every
node without ``spec.podCIDR`` a free /24 of the cluster CIDR (10.244.0.0/16 by default, the
range minikube and flannel use: 256 nodes), patching ``spec.podCIDR`` and
``spec.podCIDRs``; ranges already held by nodes are occupied first, so a deleted node's
range becomes free again. When the cluster CIDR is exhausted the node gets the
"CIDRNotAvailable" event ("Node n status is now: CIDRNotAvailable"), as Kubernetes records.

Concurrency model: none; a pure function of the node list.

Invariants: no two nodes are given the same range; a range outside the cluster CIDR is
left alone. One difference: Kubernetes' CidrSet hands out ranges round-robin from a moving
cursor (a released range is reused only after a wrap-around); we take the lowest free range,
which is deterministic without carrying the cursor.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ._plan import NORMAL, ObjectRef, Plan, PlanBuilder, name_of

__all__ = ["DEFAULT_CLUSTER_CIDR", "allocate_pod_cidrs"]

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_NODE_MASK_SIZE = 24


def _node_cidrs(node: Mapping[str, Any]) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


@functools.lru_cache(maxsize=16384)
def _parse(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def allocate_pod_cidrs(nodes: Iterable[Mapping[str, Any]], *, now: float,
                       cluster_cidr: str = DEFAULT_CLUSTER_CIDR,
                       node_mask_size: int = DEFAULT_NODE_MASK_SIZE) -> Plan:
    b = PlanBuilder()
    network = ipaddress.ip_network(cluster_cidr)
    if node_mask_size < network.prefixlen:
        raise ValueError(f"node mask size {node_mask_size} is larger than the cluster CIDR {cluster_cidr}")
    nodes = sorted(nodes, key=name_of)
    # Blocks of the node mask size, by index within the cluster CIDR (integers: this runs
    # on every registration, over every node).
    shift = network.max_prefixlen - node_mask_size
    base, blocks = int(network.network_address), 1 << (node_mask_size - network.prefixlen)
    used: set[int] = set()
    for node in nodes:
        for cidr in _node_cidrs(node):
            net = _parse(cidr)
            if net is None or net.version != network.version or not net.subnet_of(network):  # type: ignore[arg-type]
                continue
            first = (int(net.network_address) - base) >> shift
            last = (int(net.broadcast_address) - base) >> shift
            used.update(range(first, last + 1))
    free = (i for i in range(blocks) if i not in used)
    for node in nodes:
        if _node_cidrs(node):
            continue
        ref = ObjectRef.of(node, api_version="v1", kind="Node")
        index = next(free, None)
        if index is None:
            b.event(NORMAL, "CIDRNotAvailable", f"Node {ref.name} status is now: CIDRNotAvailable", ref)
            continue
        used.add(index)
        subnet = str(ipaddress.ip_network((base + (index << shift), node_mask_size)))
        b.patch(ref, {"spec": {"podCIDR": subnet, "podCIDRs": [subnet]}})
    return b.build()
