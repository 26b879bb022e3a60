"""The ``kube-proxy`` component: one ``KubeProxy`` per node of the spec.

What it is: the factory registered as ``kube-proxy``. Each actor gets the ``system:kube-proxy``
identity (bound to ``system:node-proxier`` by the bootstrap policy), the simulation's shared
``netsim.Fabric`` (created by the kubelet component's ``cluster_fabric`` if it is not there
yet) and the admin's token for making its pod visible: the DaemonSet when a controller
manager runs (only the first node's actor creates it), else each node's own pod.

Concurrency model: none; runs while the simulation is built.
"""

from __future__ import annotations

from actors.cluster._components import (
    ADMIN_USER,
    BuildContext,
    Component,
    register_component,
    registered,
)
from actors.kubelet._component import cluster_fabric

from ._actor import KubeProxy, KubeProxyConfig

__all__: list[str] = []


def _build(ctx: BuildContext) -> list[Component]:
    spec = ctx.spec
    if not spec.nodes:
        return []
    fabric = cluster_fabric(ctx)
    token = ctx.add_user("system:kube-proxy")
    admin = ctx.token(ADMIN_USER)
    with_cm = spec.controller_managers > 0 and "kube-controller-manager" in registered()
    out = []
    for i, n in enumerate(spec.nodes):
        mode = ("daemonset" if i == 0 else "") if with_cm else "pod"
        cfg = KubeProxyConfig(node=n.name, apiservers=ctx.apiservers, token=token,
                              fabric=fabric, admin_token=admin, pod_mode=mode)
        out.append(Component(f"kube-proxy/{n.name}",
                             lambda cfg=cfg: KubeProxy(cfg)))  # type: ignore[misc]
    return out


register_component("kube-proxy", _build)
