"""``CoreDNS``: the cluster DNS addon — its bootstrap, and CoreDNS's view of the cluster.

What it is: one actor per cluster at address ``coredns`` that plays two parts.

- The addon manager's: at start-up it creates, create-if-absent, the CoreDNS manifests of
  ``_addon`` (ServiceAccount, RBAC, ConfigMap, Deployment, the ``kube-dns`` Service at
  10.96.0.10) with the admin's credentials, as kubeadm applies its addons. The Deployment
  controller then makes the pods. When the cluster runs no controller manager there is no
  one to turn the Deployment into pods, so it creates the Deployment's ``replicas`` pods
  itself (``coredns-<hash>-<xxxxx>``), bound to the control-plane node when no scheduler
  runs either — what an addon manager applying bare pod manifests would leave behind.
- The ``kubernetes`` plugin's: informers on Services, EndpointSlices and Endpoints, under the
  ``coredns`` service account, feed the shared ``ClusterZone``. The coredns pods' port 53
  answers from that zone (the kubelet binds the zone's server to the socket the coredns
  container opens), so a query goes pod → kube-dns ClusterIP (kube-proxy's DNAT) → a
  coredns pod → this view. One view serves every replica: as if all replicas had synced
  the same informers (they watch the same apiserver).

Concurrency model: an actor; the bootstrap and the informers run as tasks spawned on it.
Handlers update the zone synchronously.

Invariants: the zone is reset from the informer caches once all three have synced (so a
restarted actor forgets objects deleted while it was down), then follows every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from actors.api import ApiError
from actors.client import (
    Client,
    ClientActorMixin,
    DeletedFinalStateUnknown,
    SharedInformerFactory,
    TransportError,
    split_key,
)
from runtime import Actor

from ._addon import COREDNS_LABELS, addon_objects, bare_pod
from ._resolver import KUBE_DNS_IP
from ._zone import ClusterZone

__all__ = ["CoreDNS", "CoreDNSConfig", "ZONE_KINDS"]

ZONE_KINDS = ("services", "endpointslices", "endpoints")
RETRY = 1.0


@dataclass(frozen=True)
class CoreDNSConfig:
    apiservers: tuple[str, ...]
    admin_token: str  # the addon manager's credentials (kubeadm applies addons as admin)
    token: str  # system:serviceaccount:kube-system:coredns
    zone: ClusterZone
    replicas: int = 2
    create_pods: bool = False  # no controller manager: make the Deployment's pods directly
    bind_to: str | None = None  # ...and bind them to this node when no scheduler runs
    cluster_ip: str = KUBE_DNS_IP


class CoreDNS(ClientActorMixin, Actor):
    def __init__(self, config: CoreDNSConfig) -> None:
        self.config = config
        self.zone = config.zone
        self.bootstrapped = False
        self._live = False

    def on_start(self) -> None:
        cfg = self.config
        self.admin = Client(self, apiservers=list(cfg.apiservers), token=cfg.admin_token,
                            qps=-1, user_agent="kube-addon-manager")
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             user_agent="coredns/v1.11.1")
        self.factory = SharedInformerFactory(self.client)
        for kind in ZONE_KINDS:
            self.factory.informer_for(kind).add_event_handler(
                on_add=lambda obj, k=kind: self._upsert(k, obj),
                on_update=lambda _old, new, k=kind: self._upsert(k, new),
                on_delete=lambda obj, k=kind: self._remove(k, obj))
        self.spawn(self._run(), name="coredns:bootstrap")

    def on_stop(self) -> None:
        self.factory.shutdown()

    # -- the addon manager ---------------------------------------------------------------------
    async def _run(self) -> None:
        for resource, obj in addon_objects(self.config.replicas, self.config.cluster_ip):
            await self._ensure(resource, obj)
            if resource == "clusterrolebindings":
                self.factory.start()  # the service account may list and watch from now on
        if self.config.create_pods:
            await self._ensure_pods()
        self.bootstrapped = True
        await self.factory.wait_for_cache_sync()
        self._go_live()

    async def _ensure(self, resource: str, obj: dict[str, Any]) -> None:
        await self.admin.ensure(resource, obj, retry=RETRY, what="addon object")

    async def _ensure_pods(self) -> None:
        deployment = next(o for r, o in addon_objects(self.config.replicas) if r == "deployments")
        selector = ",".join(f"{k}={v}" for k, v in COREDNS_LABELS.items())
        while True:
            try:
                have = await self.admin.list("pods", "kube-system", label_selector=selector)
                break
            except (ApiError, TransportError):
                await anyio.sleep(RETRY)
        for _ in range(self.config.replicas - len(have.get("items") or [])):
            await self._ensure("pods", bare_pod(deployment, self.rng, self.config.bind_to))

    # -- the kubernetes plugin's view --------------------------------------------------------
    def _synced(self) -> bool:
        return all(inf.has_synced() for inf in self.factory.informers)

    def _go_live(self) -> None:
        if self._live or not self._synced():
            return
        self.zone.reset({inf.resource: inf.store.list() for inf in self.factory.informers})
        self._live = True

    def _upsert(self, kind: str, obj: dict[str, Any]) -> None:
        if self._live:
            self.zone.upsert(kind, obj)
        else:
            self._go_live()  # the caches already hold this event

    def _remove(self, kind: str, obj: Any) -> None:
        if not self._live:
            self._go_live()
            return
        if isinstance(obj, DeletedFinalStateUnknown):
            ns, name = split_key(obj.key)
        else:
            meta = obj.get("metadata") or {}
            ns, name = meta.get("namespace"), meta.get("name") or ""
        self.zone.remove(kind, (ns or "default", name))
