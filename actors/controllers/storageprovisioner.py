"""minikube's ``storage-provisioner`` addon: the default StorageClass ``standard`` and the
``k8s.io/minikube-hostpath`` external provisioner — the seed's ``storage-provisioner`` pod.

What it is: one actor per cluster at address ``storage-provisioner``, registered as the
``storage-provisioner`` component (in the default ``ClusterSpec.addons``). It plays two parts:

- The addon manager's: at start-up it creates, create-if-absent and with the admin's
  credentials (as minikube's addon manager applies ``storageclass.yaml`` and
  ``storage-provisioner.yaml``), the StorageClass ``standard`` annotated
  ``storageclass.kubernetes.io/is-default-class: "true"`` (provisioner
  ``k8s.io/minikube-hostpath``, reclaimPolicy Delete, Immediate binding), the
  ``kube-system/storage-provisioner`` ServiceAccount bound to
  ``system:persistent-volume-provisioner``, and the bare pod ``kube-system/storage-provisioner``
  (hostNetwork, image ``gcr.io/k8s-minikube/storage-provisioner:v5``), bound to the first
  node when no scheduler runs.
- The provisioner's (sig-storage-lib-external-provisioner): under its ServiceAccount,
  informers on claims, volumes and classes; a claim that the PV binder annotated
  ``volume.kubernetes.io/storage-provisioner: k8s.io/minikube-hostpath`` gets a hostPath
  volume ``pvc-<claim uid>`` pre-bound to it (``provision_claim``), announced on the claim
  as "Provisioning" and "ProvisioningSucceeded"; the binder then binds the pair.

Concurrency model: an actor; the bootstrap, the informers and one queue worker run as tasks
on it. The provisioner is level-triggered: each claim key is looked at from the caches.

Invariants: a volume is created at most once per claim (its name is the claim's uid, and a
claim whose volume is already cached is skipped); objects are only ever created, never
overwritten, so a user's edits to the StorageClass survive a restart. Not modelled: the
provisioner's leader election on the ``kube-system/k8s.io-minikube-hostpath`` Endpoints (one
replica runs), and deleting provisioned volumes (the binder deletes Delete-policy volumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.api import ApiError
from actors.client import (
    Client,
    ClientActorMixin,
    RateLimitingQueue,
    Result,
    SharedInformerFactory,
    TransportError,
    meta_namespace_key,
    new_identity,
)
from actors.cluster._components import (
    ADMIN_USER,
    BuildContext,
    Component,
    register_component,
    registered,
)
from runtime import Actor

from ._base import ControllerRecorder
from ._logic_pv import MINIKUBE_PROVISIONER, provision_claim
from ._plan import Create, uid_of

__all__ = ["STORAGE_CLASS", "StorageProvisioner", "StorageProvisionerConfig", "addon_objects"]

SA_USER = "system:serviceaccount:kube-system:storage-provisioner"
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")
IMAGE = "gcr.io/k8s-minikube/storage-provisioner:v5"
RETRY = 1.0

STORAGE_CLASS: dict[str, Any] = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "standard", "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"},
                 "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": MINIKUBE_PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def addon_objects(node: str | None) -> list[tuple[str, dict[str, Any]]]:
    """What minikube's addon manager applies, in order; the pod bound to ``node`` if given."""
    reconcile = {"addonmanager.kubernetes.io/mode": "Reconcile"}
    pod_spec: dict[str, Any] = {
        "serviceAccountName": "storage-provisioner", "hostNetwork": True,
        "containers": [{"name": "storage-provisioner", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                        "command": ["/storage-provisioner"],
                        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}]}],
        "volumes": [{"name": "tmp", "hostPath": {"path": "/tmp", "type": "Directory"}}]}
    if node:
        pod_spec["nodeName"] = node
    return [
        ("storageclasses", dict(STORAGE_CLASS)),
        ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "storage-provisioner", "namespace": "kube-system",
                                          "labels": reconcile}}),
        ("clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "storage-provisioner",
                         "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:persistent-volume-provisioner"},
            "subjects": [{"kind": "ServiceAccount", "name": "storage-provisioner",
                          "namespace": "kube-system"}]}),
        ("pods", {"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "storage-provisioner", "namespace": "kube-system",
                               "labels": {"integration-test": "storage-provisioner", **reconcile}},
                  "spec": pod_spec}),
    ]


@dataclass(frozen=True)
class StorageProvisionerConfig:
    apiservers: tuple[str, ...]
    admin_token: str  # the addon manager's credentials
    token: str  # system:serviceaccount:kube-system:storage-provisioner
    node: str = "minikube"  # the node its pod runs on (part of its identity)
    bind_to: str | None = None  # no scheduler: bind the pod to this node


class StorageProvisioner(ClientActorMixin, Actor):
    """The addon (see the module docstring)."""

    def __init__(self, config: StorageProvisionerConfig) -> None:
        self.config = config
        self.bootstrapped = False

    def on_start(self) -> None:
        cfg = self.config
        self.admin = Client(self, apiservers=list(cfg.apiservers), token=cfg.admin_token, qps=-1,
                            user_agent="kube-addon-manager")
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             user_agent="storage-provisioner")
        self.factory = SharedInformerFactory(self.client)
        self.claims = self.factory.informer_for("persistentvolumeclaims")
        self.volumes = self.factory.informer_for("persistentvolumes")
        self.classes = self.factory.informer_for("storageclasses")
        self.claims.add_event_handler(on_add=self._enqueue, on_update=lambda _old, new: self._enqueue(new))
        self.classes.add_event_handler(on_add=lambda _sc: self._enqueue_all())
        # Its events' source, as the provisioner library names it: <provisioner>_<node>_<uuid>.
        self.recorder = ControllerRecorder(self.client, new_identity(self, f"{MINIKUBE_PROVISIONER}_{cfg.node}"))
        self.queue = RateLimitingQueue(name="claims", actor=self)
        self.spawn(self._run(), name="storage-provisioner:bootstrap")

    def on_stop(self) -> None:
        self.factory.shutdown()

    # -- the addon manager ---------------------------------------------------------------------
    async def _run(self) -> None:
        for resource, obj in addon_objects(self.config.bind_to):
            await self._ensure(resource, obj)
            if resource == "clusterrolebindings":
                self.factory.start()  # the service account may list and watch from now on
        self.bootstrapped = True
        await self.factory.wait_for_cache_sync()
        self.queue.run_workers(1, self._provision)

    async def _ensure(self, resource: str, obj: dict[str, Any]) -> None:
        await self.admin.ensure(resource, obj, retry=RETRY, what="addon object")

    # -- the provisioner -------------------------------------------------------------------------
    def _enqueue(self, claim: Any) -> None:
        self.queue.add(meta_namespace_key(claim))

    def _enqueue_all(self) -> None:
        for claim in self.claims.indexer.list():
            self._enqueue(claim)

    async def _provision(self, key: str) -> Result:
        claim = self.claims.indexer.get_by_key(key)
        if claim is None or self.volumes.indexer.get_by_key(f"pvc-{uid_of(claim)}") is not None:
            return Result()
        plan = provision_claim(claim, self.classes.indexer.list(), now=self.wall_time())
        for event in plan.events:
            self.recorder.record(event)
        for action in plan.actions:
            assert isinstance(action, Create)
            try:
                await self.client.create("persistentvolumes", action.body)
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    continue
                self.log.info("provisioning failed", claim=key, error=str(e))
                return Result(requeue=True)
            except TransportError:
                return Result(requeue=True)
            for event in action.on_success:
                self.recorder.record(event.render(name=action.ref.name))
        return Result()


def _build(ctx: BuildContext) -> list[Component]:
    spec = ctx.spec
    if not spec.nodes:
        return []  # nowhere to run its pod: a node-less control plane stays lean (as coredns)
    with_scheduler = spec.schedulers > 0 and "kube-scheduler" in registered()
    first = spec.nodes[0].name
    cfg = StorageProvisionerConfig(
        apiservers=ctx.apiservers, admin_token=ctx.token(ADMIN_USER), token=ctx.add_user(SA_USER, SA_GROUPS),
        node=first, bind_to=None if with_scheduler else first)
    return [Component("storage-provisioner", lambda: StorageProvisioner(cfg))]


register_component("storage-provisioner", _build)
