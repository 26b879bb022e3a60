"""How a ``ClusterSpec`` gets its kube-scheduler replicas: the ``kube-scheduler`` component.

What it is: a factory for the component registry (``actors.cluster._components``), which
imports this module so that the registration below runs. ``ClusterSpec.schedulers`` replicas
are built as actors ``kube-scheduler-0``, ``kube-scheduler-1``, …, all authenticating as
``system:kube-scheduler`` (the bootstrap RBAC policy's scheduler role) against every
apiserver of the spec, and restarted by their supervisor after a crash or a lost lease (a
kubelet restarting the static pod; the back-off is capped at 10 s).

Configuration: ``scheduler_components(config)`` builds a factory for a ``SchedulerConfig``
or a KubeSchedulerConfiguration dict; ``register_component("kube-scheduler",
scheduler_components(cfg))`` installs it. The default factory reads the optional
``ClusterSpec.scheduler_config`` attribute (a KubeSchedulerConfiguration dict) when the
spec has one — the field is not part of ``ClusterSpec`` yet; until it is, configure
through ``scheduler_components``.

The legacy Endpoints/ConfigMap locks: today's bootstrap policy (like Kubernetes ≥ 1.24)
grants ``system:kube-scheduler`` leases only, not the Endpoints rules of the 1.17 era of
the seed. With those locks the leader-election client therefore authenticates as
``system:kube-scheduler:legacy-lock`` in ``system:masters`` — a stand-in until the
bootstrap policy carries the old rules.

Concurrency model: none; factories run synchronously while the simulation is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.cluster._components import BuildContext, Component, register_component
from actors.scheduler._actor import KubeScheduler
from actors.scheduler._shell_config import SchedulerConfig
from runtime import RestartPolicy

__all__ = ["LEGACY_LOCK_USER", "RESTART_POLICY", "SCHEDULER_USER", "scheduler_components"]

SCHEDULER_USER = "system:kube-scheduler"
LEGACY_LOCK_USER = "system:kube-scheduler:legacy-lock"
# A kubelet restarts a crashed static pod with back-off (capped here at 10 s); it never
# gives up, so neither does this policy within any realistic test.
RESTART_POLICY = RestartPolicy(max_restarts=1000, within=60.0, backoff=1.0, backoff_max=10.0)

Factory = Callable[[BuildContext], list[Component]]


def _config_for(ctx: BuildContext, config: SchedulerConfig | Mapping[str, Any] | None
                ) -> SchedulerConfig:
    if isinstance(config, SchedulerConfig):
        return config
    if config is None:
        config = getattr(ctx.spec, "scheduler_config", None)
    return SchedulerConfig.from_api(config)


def scheduler_components(config: SchedulerConfig | Mapping[str, Any] | None = None) -> Factory:
    """A component factory: ``spec.schedulers`` replicas running ``config``."""

    def build(ctx: BuildContext) -> list[Component]:
        n = ctx.spec.schedulers
        if n <= 0:
            return []
        cfg = _config_for(ctx, config)
        token = ctx.add_user(SCHEDULER_USER)
        le_token = token
        if cfg.resource_lock != "leases":
            le_token = ctx.add_user(LEGACY_LOCK_USER, ("system:masters",))
        apiservers = list(ctx.apiservers)

        def make() -> KubeScheduler:
            return KubeScheduler(apiservers, token, config=cfg, leader_election_token=le_token)

        return [Component(f"kube-scheduler-{i}", make, RESTART_POLICY) for i in range(n)]

    return build


register_component("kube-scheduler", scheduler_components())
