"""How a ``ClusterSpec`` gets its kube-controller-manager replicas: the
``kube-controller-manager`` component.

What it is: a factory for the component registry (``actors.cluster._components`` imports this
module so that the registration below runs). ``ClusterSpec.controller_managers`` replicas are
built as actors ``kube-controller-manager-0``, ``-1``, …, authenticating as
``system:kube-controller-manager`` (informers, leader election) and — as
``--use-service-account-credentials`` does — each controller as its kube-system
ServiceAccount (``system:serviceaccount:kube-system:<controller SA>``, in
``system:serviceaccounts`` and ``system:serviceaccounts:kube-system``), which the bootstrap
policy binds to ``system:controller:<controller SA>``. They are restarted by their
supervisor after a crash or a lost lease (a kubelet restarting the static pod; back-off
capped at 10 s).

Configuration: ``controller_manager_components(config)`` builds a factory for a
``ControllerManagerConfig``; ``register_component("kube-controller-manager",
controller_manager_components(cfg))`` installs it (tests put the default back afterwards).

Concurrency model: none; factories run synchronously while the simulation is built.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from actors.cluster._components import BuildContext, Component, register_component
from runtime import RestartPolicy

from ._base import CONTROLLERS
from ._manager import ControllerManagerConfig, KubeControllerManager, enabled_controllers

__all__ = ["CONTROLLER_MANAGER_USER", "RESTART_POLICY", "controller_manager_components",
           "service_account_user"]

CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
RESTART_POLICY = RestartPolicy(max_restarts=1000, within=60.0, backoff=1.0, backoff_max=10.0)
_SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")

Factory = Callable[[BuildContext], list[Component]]


def service_account_user(sa: str) -> str:
    return f"system:serviceaccount:kube-system:{sa}"


def controller_manager_components(config: ControllerManagerConfig | None = None) -> Factory:
    """A component factory: ``spec.controller_managers`` replicas running ``config``."""

    def build(ctx: BuildContext) -> list[Component]:
        n = ctx.spec.controller_managers
        if n <= 0:
            return []
        cfg = config or ControllerManagerConfig()
        ipam = dict(cfg.options.get("nodeipam") or {})
        if "cluster_cidr" not in ipam and ctx.spec.nodes:
            # --cluster-cidr as the nodes are addressed: 10.244.0.0/16 holds 256 /24s, so
            # a larger cluster gets the wider range its kubelets were configured with.
            from actors.kubelet._shell_node import node_addressing

            ipam["cluster_cidr"] = node_addressing(0, len(ctx.spec.nodes))[3]
            cfg = msgspec.structs.replace(cfg, options={**cfg.options, "nodeipam": ipam})
        token = ctx.add_user(CONTROLLER_MANAGER_USER)
        sa_tokens = {}
        for name in enabled_controllers(cfg.controllers):
            sa = CONTROLLERS[name].service_account
            if sa:
                sa_tokens[sa] = ctx.add_user(service_account_user(sa), _SA_GROUPS)
        apiservers = list(ctx.apiservers)

        def make() -> KubeControllerManager:
            return KubeControllerManager(apiservers, token, config=cfg,
                                         service_account_tokens=sa_tokens)

        return [Component(f"kube-controller-manager-{i}", make, RESTART_POLICY) for i in range(n)]

    return build


register_component("kube-controller-manager", controller_manager_components())
