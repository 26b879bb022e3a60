"""``KubeControllerManager``: kube-controller-manager as an actor — one shared informer factory,
one leader Lease, and the enabled controllers running on the leader.

What it is, as kube-controller-manager's ``Run`` does it:
1. Clients over the bus, each with kube-controller-manager's client defaults (QPS 20,
   burst 30, its own token bucket): one for the shared informers and one for leader election
   (timeout = renewDeadline), both as ``system:kube-controller-manager``; and, as with
   ``--use-service-account-credentials`` (kubeadm's and minikube's setting), one client per
   controller authenticating as its kube-system ServiceAccount
   (``system:serviceaccount:kube-system:deployment-controller``…), so each controller has the
   RBAC role and the rate limit of its own, as in Kubernetes.
2. Leader election on the Lease ``kube-system/kube-controller-manager`` (holderIdentity
   ``kube-controller-manager-<i>_<uuid>``, the uuid from the actor's seeded generator;
   leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s). Several managers run; one leads.
3. **Followers keep no caches.** As in kube-controller-manager, the controllers — and the
   informers they ask for — are built and started in ``OnStartedLeading``: a follower holds
   only its elector. A new leader therefore lists everything once before it reconciles
   (``WaitForCacheSync``), which is what bounds failover time beyond the lease duration.
4. Losing the lease ends the process ("leaderelection lost" is fatal): ``LeaderElectionLost``
   crashes the actor and its supervisor restarts it — a fresh identity, empty caches, and a
   new campaign.
5. ``controllers`` is ``--controllers``: ``"*"`` (every controller enabled by default),
   ``"name"`` to enable one, ``"-name"`` to disable one; unknown names are refused at start.
   Workers per controller follow Kubernetes' ``--concurrent-*-syncs`` defaults (class
   attribute ``workers``), overridable with ``concurrent_syncs``.

Concurrency model: one actor; the elector, the informers, every controller's workers and its
event sender are tasks on it, touching state one handler at a time on the loop thread.

Invariants: only a replica whose elector leads has controllers (they are created in the
leader task); without fencing, a replica that just lost the lease may still have writes in
flight — Kubernetes has the same window, and optimistic concurrency (resourceVersion
preconditions, uid preconditions on deletes) keeps those writes from undoing the new leader's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import msgspec

from actors.client import (
    Client,
    ClientActorMixin,
    LeaderElector,
    SharedInformerFactory,
    new_identity,
)

# The built-in controllers register themselves when imported.
from actors.controllers import (  # noqa: F401
    cronjob,
    daemonset,
    deployment,
    disruption,
    endpoints,
    endpointslice,
    endpointslicemirroring,
    garbagecollector,
    job,
    namespace,
    nodeipam,
    nodelifecycle,
    persistentvolume,
    replicaset,
    replication,
    resourcequota,
    serviceaccount,
    statefulset,
    ttlafterfinished,
)
from runtime import Actor

from ._base import CONTROLLERS, Controller, ControllerHost

__all__ = [
    "ControllerManagerConfig",
    "ControllerManagerStats",
    "KubeControllerManager",
    "LeaderElectionLost",
    "enabled_controllers",
]


class LeaderElectionLost(RuntimeError):
    """The lease was lost: kube-controller-manager exits, so does this actor (by crashing)."""


class ControllerManagerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """kube-controller-manager's flags that the twin models (Kubernetes' defaults)."""

    controllers: tuple[str, ...] = ("*",)  # --controllers
    qps: float = 20.0  # --kube-api-qps
    burst: int = 30  # --kube-api-burst
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_name: str = "kube-controller-manager"
    resource_namespace: str = "kube-system"
    resource_lock: str = "leases"
    concurrent_syncs: dict[str, int] = {}  # controller name -> workers (--concurrent-*-syncs)
    cache_sync_timeout: float | None = None
    # Virtual seconds a sync spends per cached object it reads (a model of the controller's
    # CPU time, charged before its writes; events for the key arriving meanwhile coalesce
    # into one more sync, as in a real controller manager). 0 (the default): computation
    # takes no virtual time, so an O(objects) sync runs once per event.
    sync_cost_per_object: float = 0.0
    # Per-controller options (e.g. "nodelifecycle": NodeLifecycleConfig, "nodeipam": {...}).
    options: dict[str, Any] = {}


class ControllerManagerStats(msgspec.Struct, frozen=True):
    identity: str
    leading: bool
    synced: bool
    controllers: dict[str, dict[str, int]]


def enabled_controllers(flags: tuple[str, ...] | list[str]) -> list[str]:
    """``--controllers``: names in registry order. ``*`` enables the default set, ``name``
    adds one, ``-name`` removes one (a ``-name`` wins)."""
    known = list(CONTROLLERS)
    for f in flags:
        bare = f[1:] if f.startswith("-") else f
        if bare != "*" and bare not in CONTROLLERS:
            raise ValueError(f'"{bare}" is not in the list of known controllers: {sorted(known)}')
    star = "*" in flags
    out = []
    for name in known:
        if f"-{name}" in flags:
            continue
        if name in flags or (star and CONTROLLERS[name].enabled_by_default):
            out.append(name)
    return out


class KubeControllerManager(ClientActorMixin, ControllerHost, Actor):
    """One kube-controller-manager replica (see the module docstring)."""

    def __init__(self, apiservers: list[str], token: str, *,
                 config: ControllerManagerConfig | None = None,
                 service_account_tokens: Mapping[str, str] | None = None) -> None:
        self.apiservers = list(apiservers)
        self.token = token
        self.config = config or ControllerManagerConfig()
        self.sa_tokens = dict(service_account_tokens or {})
        self.enabled = enabled_controllers(self.config.controllers)

    def on_start(self) -> None:
        cfg = self.config
        conn = {"apiservers": self.apiservers, "qps": cfg.qps, "burst": cfg.burst}
        self.client = Client(self, token=self.token, user_agent="kube-controller-manager/shared-informers",
                             **conn)
        self.le_client = Client(self, token=self.token,
                                user_agent="kube-controller-manager/leader-election",
                                timeout=cfg.renew_deadline, **conn)
        self.factory = SharedInformerFactory(self.client)
        self.actor = self
        self.controllers: dict[str, Controller] = {}
        self.leading = False
        self.synced = False
        self.identity = new_identity(self, self.name)
        self.elector = LeaderElector(
            self.le_client, name=cfg.resource_name, namespace=cfg.resource_namespace,
            identity=self.identity, lock_type=cfg.resource_lock,
            lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline,
            retry_period=cfg.retry_period, on_started_leading=self._lead,
            on_stopped_leading=self._lost)
        if cfg.leader_elect:
            self.elector.start()
        else:
            self.spawn(self._lead(), name=f"{self.name}:run")

    # ---- ControllerHost -------------------------------------------------------------------------
    def client_for(self, controller: Controller) -> Client:
        sa = controller.service_account
        token = self.sa_tokens.get(sa, self.token)
        return Client(self, apiservers=self.apiservers, token=token, qps=self.config.qps,
                      burst=self.config.burst, user_agent=f"kube-controller-manager/{sa or controller.name}")

    def options_for(self, name: str) -> Any:
        return self.config.options.get(name)

    # ---- lifecycle --------------------------------------------------------------------------------
    async def _lead(self) -> None:
        """``OnStartedLeading``: build the controllers, start the informers, wait for the
        caches, run. Cancelled by the elector when leadership ends."""
        self.leading = True
        self.log.info("started leading", identity=self.identity, controllers=self.enabled)
        for name in self.enabled:
            ctrl = CONTROLLERS[name](self)
            ctrl.setup()
            self.controllers[name] = ctrl
        self.factory.start()
        await self.factory.wait_for_cache_sync(self.config.cache_sync_timeout)
        self.synced = True
        for name, ctrl in self.controllers.items():
            n = self.config.concurrent_syncs.get(name)
            if n is not None:
                ctrl.workers = n  # type: ignore[misc]
            ctrl.start()
        await asyncio.Event().wait()  # the controllers' tasks do the work from here

    def _lost(self) -> None:
        raise LeaderElectionLost(f"{self.identity}: leaderelection lost")

    # ---- inspection -------------------------------------------------------------------------------
    def statistics(self) -> ControllerManagerStats:
        out = {}
        for name, ctrl in self.controllers.items():
            q = ctrl.queue.statistics()
            out[name] = {**ctrl.counts, "depth": q.depth, "adds": q.adds,
                         "processing": q.processing, "waiting": q.waiting}
        return ControllerManagerStats(identity=self.identity, leading=self.leading,
                                      synced=self.synced, controllers=out)
