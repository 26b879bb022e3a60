"""``KubeProxy``: one per node at ``kube-proxy/<node>``, programming the node's Service NAT.

What it is: the iptables proxier's control loop. Informers on Services, EndpointSlices and
Endpoints (all namespaces, as ``system:kube-proxy``) mark the proxy dirty; a sync computes
the node's whole rule set from the caches (``_rules.node_rules``) and swaps it in atomically
(``Fabric.replace_service_rules``: iptables-restore of the full table). Syncs are
rate-limited as kube-proxy's ``BoundedFrequencyRunner`` does with the iptables defaults
(``--iptables-min-sync-period`` 1 s since kubernetes/kubernetes#92836, ``--iptables-sync-period``
30 s): at most one per ``minSyncPeriod`` (a change after a quiet second syncs at once,
changes within it are folded into one sync when the second is up) and at least one per
``syncPeriod`` (30 s, the periodic resync that repairs anything that drifted). The first
sync waits for all three informers to have synced, as kube-proxy waits for its caches. A
node not on the network yet (its kubelet has no podCIDR) is retried every minSyncPeriod.

Kubernetes runs kube-proxy as the ``kube-proxy`` DaemonSet; the actor stands for the process,
and its pod is made visible as Kubernetes would show it: when a controller manager runs, the
actor on the first node creates (create-if-absent) the ``kube-proxy`` ConfigMap and DaemonSet,
as kubeadm's addon phase does, and the DaemonSet controller makes the pods; when none runs,
each actor creates its node's pod ``kube-proxy-<xxxxx>`` (hostNetwork, bound to the node), as
an addon manager applying bare pods would.

Concurrency model: an actor; informers and the pod bootstrap are spawned tasks, syncs run in
handlers (one at a time, synchronously against the fabric).

Invariants: a node's rules are only ever replaced whole; no two syncs are closer than
minSyncPeriod; every sync reads the caches, never an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import msgspec

from actors.api import ApiError
from actors.client import Client, ClientActorMixin, SharedInformerFactory, TransportError
from netsim import Fabric, NodePortRule, ServiceRule, UnknownNode
from runtime import Actor, Timer, handler

from ._manifests import daemonset_objects, node_pod
from ._rules import node_rules

__all__ = ["MIN_SYNC_PERIOD", "SYNC_PERIOD", "KubeProxy", "KubeProxyConfig", "ProxySync"]

MIN_SYNC_PERIOD = 1.0  # iptables.minSyncPeriod default (1 s since kubernetes#92836; 0 before)
SYNC_PERIOD = 30.0  # iptables.syncPeriod default
KINDS = ("services", "endpointslices", "endpoints")
RETRY = 1.0


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


class ProxySync(msgspec.Struct, frozen=True, tag="kube-proxy.sync"):
    periodic: bool = False


class KubeProxy(ClientActorMixin, Actor):
    def __init__(self, config: KubeProxyConfig) -> None:
        self.config = config
        self.synced = False
        self.syncs = 0
        self.last_sync = float("-inf")
        self.rules: list[ServiceRule | NodePortRule] = []
        self._pending: Timer | None = None

    def on_start(self) -> None:
        cfg = self.config
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             user_agent="kube-proxy/v1.31.0 (linux/amd64) kubernetes/9edcffc")
        self.factory = SharedInformerFactory(self.client)
        for kind in KINDS:
            self.factory.informer_for(kind).add_event_handler(
                on_add=lambda _o: self._changed(), on_update=lambda _o, _n: self._changed(),
                on_delete=lambda _o: self._changed())
        self.factory.start()
        self.spawn(self._wait_for_caches(), name=f"{self.name}:caches")
        self.every(cfg.sync_period, ProxySync(periodic=True))
        if cfg.pod_mode:
            self.spawn(self._show_pod(), name=f"{self.name}:pod")

    def on_stop(self) -> None:
        self.factory.shutdown()

    # -- the bounded-frequency runner ---------------------------------------------------------
    async def _wait_for_caches(self) -> None:
        await self.factory.wait_for_cache_sync()
        self._mark_synced()

    def _mark_synced(self) -> None:
        if not self.synced and all(inf.has_synced() for inf in self.factory.informers):
            self.synced = True
            self._changed()

    def _changed(self) -> None:
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
            if self.synced and self._pending is None:
                self._changed()
            return
        self._pending = None
        self.sync()

    def sync(self) -> None:
        """Recompute and install this node's rules (``syncProxyRules``)."""
        caches = {inf.resource: inf.store.list() for inf in self.factory.informers}
        rules = node_rules(caches.get("services", []), caches.get("endpointslices", []),
                           caches.get("endpoints", []), node=self.config.node)
        try:
            self.config.fabric.replace_service_rules(self.config.node, list(rules))
        except UnknownNode:
            # The node is not on the pod network yet: try again after minSyncPeriod.
            self.last_sync = self.now()
            self._pending = self.after(self.config.min_sync_period, ProxySync())
            return
        self.rules = rules
        self.syncs += 1
        self.last_sync = self.now()

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
