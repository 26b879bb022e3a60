"""Nodes joining a running cluster: ``Cluster.add_node`` (what ``minikube node add`` does).

What it is: ``add_node(cluster, node)`` extends the cluster's ``ClusterSpec`` with one more
``NodeSpec`` and starts what the component registry builds for it — the node's kubelet and
kube-proxy today, and any per-node component registered later — by calling every registered
factory with the extended spec and spawning only the actors that do not exist yet. The new
node is the i-th of the spec, so it gets what the kubelet component gives the i-th node
(minikube's ``192.168.49.(2+i)``; its podCIDR from the node IPAM controller); the kubelet
registers the Node, the DaemonSet controller gives it its kube-proxy pod, and the scheduler
starts placing pods on it once it is Ready.

Credentials: the node's kubelet authenticates as ``system:node:<name>``. A real join
(``kubeadm join`` with a bootstrap token, then the kubelet's TLS bootstrap) is not modelled;
instead the new identity's bearer token is added to the token table the apiservers are built
from (so a restarted apiserver knows it) and to each running apiserver's authenticator, as
one more row of ``--token-auth-file`` would be after a reload.

Concurrency model: synchronous, from the driver, between simulation steps (the simulation is
not running while this executes), like every ``Cluster`` call.

Invariants: node names stay unique (a duplicate is refused before anything starts); existing
actors are never rebuilt or restarted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ._components import components_for
from ._spec import NodeSpec

if TYPE_CHECKING:
    from ._cluster import Cluster

__all__ = ["add_node"]


def add_node(cluster: Cluster, node: NodeSpec) -> list[str]:
    """Add ``node`` to the running cluster; returns the addresses of the actors started."""
    if any(n.name == node.name for n in cluster.spec.nodes):
        raise ValueError(f"node {node.name!r} already exists")
    spec = msgspec.structs.replace(cluster.spec, nodes=[*cluster.spec.nodes, node])
    ctx = cluster._ctx
    tokens_before = dict(ctx.tokens)
    previous = ctx.spec
    ctx.spec = spec
    try:
        existing = set(cluster.actors)
        new = [c for c in components_for(ctx) if c.name not in existing]
    except BaseException:
        ctx.spec = previous
        raise
    minted = {t: u for t, u in ctx.tokens.items() if t not in tokens_before}
    for name in cluster.apiservers:
        if minted and cluster.sim.system.status(name) == "running":
            authn = cluster.sim.actor(name).authn
            for token, user in minted.items():
                authn.add_token(token, user)
    for c in new:
        cluster.sim.spawn(c.name, c.factory, policy=c.policy)
    cluster._components.extend(new)
    cluster.spec = spec
    return [c.name for c in new]
