"""``KubeProxy``: one per node at ``kube-proxy/<node>``, programming the node's Service NAT.

What it is: the iptables proxier's control loop. Informers on Services and EndpointSlices
(all namespaces, as ``system:kube-proxy``) — not Endpoints: kube-proxy has read only
EndpointSlices since 1.22 — feed a ``ChangeTracker`` (``_tracker``) that marks the Services
whose rules may have changed; a sync asks the tracker for a plan and installs it:

- a **partial** sync (``MinimizeIPTablesRestore``, on by default since 1.27) recomputes the
  marked Services only and updates just their rules (``Fabric.update_service_rules``: a
  partial iptables-restore);
- a **full** sync recomputes every Service (``_rules.service_rules`` over the caches) and
  replaces the table whole (``Fabric.replace_service_rules``). As in ``syncProxyRules``, a
  sync is full when ``needFullSync`` is set — the first sync, any sync after a failed one,
  and when the monitor below finds the table rewritten — or when the last full sync is at
  least ``FullSyncPeriod`` (one hour) old.

Syncs are rate-limited as kube-proxy's ``BoundedFrequencyRunner`` does with the iptables
defaults: at most one per ``minSyncPeriod`` (1 s since kubernetes/kubernetes#92836; a change
after a quiet second syncs at once, changes within it are folded into one sync when the
second is up) and at least one per ``FullSyncPeriod`` (the runner's maxInterval). The
``syncPeriod`` (30 s) is the iptables monitor's: every syncPeriod it checks its canary chain
and, if someone flushed the tables, forces a full sync (``forceSyncProxyRules``). Here the
canary is the node's NAT table's ``generation``: a change the proxy did not make (a flush, a
rule set by hand, a fresh table) forces the full sync that repairs it. The first sync waits
for both informers to have synced, as kube-proxy waits for its caches. A node not on the
network yet (its kubelet has no podCIDR) is a failed sync, retried after minSyncPeriod.

Kubernetes runs kube-proxy as the ``kube-proxy`` DaemonSet; the actor stands for the process,
and its pod is made visible as Kubernetes would show it: when a controller manager runs, the
actor on the first node creates (create-if-absent) the ``kube-proxy`` ConfigMap and DaemonSet,
as kubeadm's addon phase does, and the DaemonSet controller makes the pods; when none runs,
each actor creates its node's pod ``kube-proxy-<xxxxx>`` (hostNetwork, bound to the node), as
an addon manager applying bare pods would.

Concurrency model: an actor; informers and the pod bootstrap are spawned tasks, syncs run in
handlers (one at a time, synchronously against the fabric).

Invariants: after each successful sync the node's rules are exactly what ``node_rules``
computes from the caches (a partial sync touches only the rules of the Services it
recomputed); no two syncs are closer than minSyncPeriod; every sync reads the caches, events
only choose which Services it recomputes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec

from actors.api import ApiError
from actors.client import (
    Client,
    ClientActorMixin,
    DeletedFinalStateUnknown,
    Indexer,
    SharedInformerFactory,
    TransportError,
)
from netsim import Fabric, NatTable, NodePortRule, ServiceRule, UnknownNode
from runtime import Actor, Timer, handler

from ._manifests import daemonset_objects, node_pod
from ._rules import Key, slice_service
from ._tracker import FULL_SYNC_PERIOD, ChangeTracker, SyncPlan

__all__ = ["FULL_SYNC_PERIOD", "MIN_SYNC_PERIOD", "SYNC_PERIOD", "KubeProxy", "KubeProxyConfig",
           "ProxyMonitor", "ProxyStats", "ProxySync"]

MIN_SYNC_PERIOD = 1.0  # iptables.minSyncPeriod default (1 s since kubernetes#92836; 0 before)
SYNC_PERIOD = 30.0  # iptables.syncPeriod default: the iptables monitor's period
KINDS = ("services", "endpointslices")
SERVICE_INDEX = "kube-proxy:service"  # EndpointSlices by "namespace/service-name"
RETRY = 1.0
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class KubeProxyConfig:
    node: str
    apiservers: tuple[str, ...]
    token: str  # system:kube-proxy
    fabric: Fabric
    admin_token: str = ""  # the addon manager's, for the DaemonSet or the node's pod
    pod_mode: str = ""  # "daemonset" | "pod" | "" (show nothing)
    min_sync_period: float = MIN_SYNC_PERIOD
    sync_period: float = SYNC_PERIOD
    full_sync_period: float = FULL_SYNC_PERIOD


class ProxySync(msgspec.Struct, frozen=True, tag="kube-proxy.sync"):
    periodic: bool = False  # the runner's maxInterval run


class ProxyMonitor(msgspec.Struct, frozen=True, tag="kube-proxy.monitor"):
    """The iptables monitor's tick (every syncPeriod)."""


class ProxyStats(msgspec.Struct, frozen=True):
    syncs: int  # successful ones
    full_syncs: int
    failed_syncs: int
    last_full: bool
    last_recomputed: int  # Services whose rules the last successful sync recomputed
    services: int  # Services with rules installed


def _slice_index(obj: Obj) -> list[str]:
    key = slice_service(obj)
    return [f"{key[0]}/{key[1]}"] if key else []


def _unwrap(obj: Any) -> Obj:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


class _InformerCaches:
    """The tracker's view of the informers' stores."""

    def __init__(self, services: Indexer, slices: Indexer) -> None:
        self._services, self._slices = services, slices

    def services(self) -> Iterable[Obj]:
        return self._services.list()

    def service(self, key: Key) -> Obj | None:
        return self._services.get_by_key(f"{key[0]}/{key[1]}")

    def slices(self, key: Key) -> list[Obj]:
        return self._slices.by_index(SERVICE_INDEX, f"{key[0]}/{key[1]}")


class KubeProxy(ClientActorMixin, Actor):
    def __init__(self, config: KubeProxyConfig) -> None:
        self.config = config
        self.synced = False
        self.syncs = 0
        self.full_syncs = 0
        self.failed_syncs = 0
        self.last_sync = float("-inf")
        self.last_plan: SyncPlan | None = None
        self.tracker = ChangeTracker(node=config.node, full_sync_period=config.full_sync_period)
        self._pending: Timer | None = None
        self._max_run: Timer | None = None
        self._table: tuple[NatTable, int] | None = None  # the table and its generation we left

    def on_start(self) -> None:
        cfg = self.config
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             user_agent="kube-proxy/v1.31.0 (linux/amd64) kubernetes/9edcffc")
        self.factory = SharedInformerFactory(self.client)
        # Only the index a sync reads: every node's proxy takes every Service and slice
        # update, and each standard index (namespace, node, owner, labels) would be
        # recomputed for each of them on every node.
        services = self.factory.informer_for("services", indexers={})
        slices = self.factory.informer_for("endpointslices",
                                           indexers={SERVICE_INDEX: _slice_index})
        self._caches = _InformerCaches(services.store, slices.store)
        for informer, changed in ((services, self.tracker.service_changed),
                                  (slices, self.tracker.slice_changed)):
            informer.add_event_handler(
                on_add=lambda o, f=changed: self._changed(f(None, o)),
                on_update=lambda o, n, f=changed: self._changed(f(o, n)),
                on_delete=lambda o, f=changed: self._changed(f(_unwrap(o), None)))
        self.factory.start()
        self.spawn(self._wait_for_caches(), name=f"{self.name}:caches")
        self.every(cfg.sync_period, ProxyMonitor())
        if cfg.pod_mode:
            self.spawn(self._show_pod(), name=f"{self.name}:pod")

    def on_stop(self) -> None:
        self.factory.shutdown()

    @property
    def rules(self) -> list[ServiceRule | NodePortRule]:
        """The rules this proxy installed, Service by Service."""
        return [r for rules in self.tracker.installed.values() for r in rules]

    def statistics(self) -> ProxyStats:
        plan = self.last_plan
        return ProxyStats(syncs=self.syncs, full_syncs=self.full_syncs,
                          failed_syncs=self.failed_syncs, last_full=bool(plan and plan.full),
                          last_recomputed=len(plan.rules) if plan else 0,
                          services=len(self.tracker.installed))

    # -- the bounded-frequency runner ---------------------------------------------------------
    async def _wait_for_caches(self) -> None:
        await self.factory.wait_for_cache_sync()
        self._mark_synced()

    def _mark_synced(self) -> None:
        if not self.synced and all(inf.has_synced() for inf in self.factory.informers):
            self.synced = True
            self._changed()

    def _changed(self, marked: bool = True) -> None:
        """Ask for a sync (``Sync()``), unless the event marked no Service."""
        if not marked:
            return
        if not self.synced:
            self._mark_synced()
            return
        if self._pending is not None:
            return  # a sync is already due: it will read the caches as they are then
        wait = self.last_sync + self.config.min_sync_period - self.now()
        self._pending = self.after(max(0.0, wait), ProxySync())

    @handler
    def _on_sync(self, msg: ProxySync) -> None:
        if msg.periodic:
            self._max_run = None
            self._changed()
            return
        self._pending = None
        self.sync()

    @handler
    def _on_monitor(self, _msg: ProxyMonitor) -> None:
        if self._table is None:
            return  # nothing installed yet: the first sync is full anyway
        try:
            nat = self.config.fabric.nat(self.config.node)
        except UnknownNode:
            return
        if (nat, nat.generation) != self._table:
            self.tracker.force_full()  # forceSyncProxyRules
            self._changed()

    def sync(self) -> None:
        """Install this node's rules, partially or whole (``syncProxyRules``)."""
        cfg = self.config
        plan = self.tracker.plan(self._caches, now=self.now())
        try:
            if plan.full:
                cfg.fabric.replace_service_rules(cfg.node, list(plan.add))
            elif plan.remove or plan.add:
                cfg.fabric.update_service_rules(cfg.node, list(plan.remove), list(plan.add))
            nat = cfg.fabric.nat(cfg.node)
        except UnknownNode:
            # The node is not on the pod network yet: a failed sync, retried (in full) after
            # minSyncPeriod.
            self.tracker.failed()
            self.failed_syncs += 1
            self.last_sync = self.now()
            self._pending = self.after(cfg.min_sync_period, ProxySync())
            return
        self.tracker.committed(plan, now=self.now())
        self._table = (nat, nat.generation)
        self.last_plan = plan
        self.syncs += 1
        self.full_syncs += plan.full
        self.last_sync = self.now()
        if self._max_run is not None:
            self._max_run.cancel()
        self._max_run = self.after(cfg.full_sync_period, ProxySync(periodic=True))

    # -- the pod that shows kube-proxy ---------------------------------------------------------
    async def _show_pod(self) -> None:
        admin = Client(self, apiservers=list(self.config.apiservers),
                       token=self.config.admin_token, qps=-1, user_agent="kube-addon-manager")
        objects = daemonset_objects()
        if self.config.pod_mode == "daemonset":
            for resource, obj in objects:
                await self._create(admin, resource, obj)
            return
        await self._create(admin, *objects[0])  # the pod's ServiceAccount
        selector = "k8s-app=kube-proxy"
        while True:
            try:
                have = await admin.list("pods", "kube-system", label_selector=selector,
                                        field_selector=f"spec.nodeName={self.config.node}")
                break
            except (ApiError, TransportError):
                await anyio.sleep(RETRY)
        if not have.get("items"):
            await self._create(admin, "pods", node_pod(self.config.node, self.rng))

    async def _create(self, admin: Client, resource: str, obj: dict[str, Any]) -> None:
        ns = (obj.get("metadata") or {}).get("namespace")
        while True:
            try:
                await admin.create(resource, obj, ns)
                return
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    return
                self.log.info("kube-proxy addon object not created yet", error=str(e))
            except TransportError as e:
                self.log.info("apiserver unreachable", error=str(e))
            await anyio.sleep(RETRY)
