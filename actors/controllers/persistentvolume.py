"""The PersistentVolume binder (``pkg/controller/volume/persistentvolume``, the
``persistentvolume-binder`` controller): binds claims to volumes and reclaims released
volumes — the actor shell around ``reconcile_claim`` and ``reconcile_volume``.

What it is: informers on PersistentVolumeClaims, PersistentVolumes and StorageClasses, and
one work queue holding two kinds of keys, as Kubernetes' ``claimQueue`` and
``volumeQueue``: ``("claim", "<ns>/<name>")`` and ``("volume", "<name>")``. A claim event
enqueues the claim (a deleted claim enqueues the volume it was bound to, so it is
reclaimed); a volume event enqueues the volume and the claim its ``claimRef`` names; a new
StorageClass enqueues every claim (one waiting for a default class may now get it). Both
informers resync every 15 s (``--pvclaimbinder-sync-period``), so a claim still pending is
looked at again. Binding writes the volume, its status, the claim, its status, in that
order (``bind``); a volume whose claim is gone is Released, then kept (Retain) or deleted
(Delete). A claim of a class with an external provisioner is annotated
``volume.kubernetes.io/storage-provisioner`` and left to it ("ExternalProvisioning"):
minikube's ``storage-provisioner`` addon (``storageprovisioner``) provisions
``k8s.io/minikube-hostpath`` volumes for the default class ``standard``.

This module also imports ``storageprovisioner`` so that the addon registers its component
factory whenever the controller manager's controllers are loaded.

Concurrency model: the manager's actor; one worker (the binder syncs one object at a time).
Invariants: see ``_base``; a plan's writes to one object are chained (``_workloads``), so
a volume's status write follows its spec write without a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.client import meta_namespace_key

from . import storageprovisioner  # noqa: F401  (registers the "storage-provisioner" addon)
from ._base import obj_of, register_controller
from ._logic_pv import reconcile_claim, reconcile_volume
from ._plan import Plan
from ._workloads import ChainedController

__all__ = ["PersistentVolumeBinderController", "RESYNC_PERIOD"]

RESYNC_PERIOD = 15.0  # --pvclaimbinder-sync-period


@register_controller
class PersistentVolumeBinderController(ChainedController):
    name = "persistentvolume-binder"
    component = "persistentvolume-controller"
    service_account = "persistent-volume-binder"
    workers = 1

    def setup(self) -> None:
        self.claims = self.informer("persistentvolumeclaims")
        self.volumes = self.informer("persistentvolumes")
        self.classes = self.informer("storageclasses")
        self.claims.add_event_handler(on_add=self._claim_changed,
                                      on_update=lambda _old, new: self._claim_changed(new),
                                      on_delete=self._claim_deleted, resync_period=RESYNC_PERIOD)
        self.volumes.add_event_handler(on_add=self._volume_changed,
                                       on_update=lambda _old, new: self._volume_changed(new),
                                       on_delete=lambda obj: self._volume_changed(obj_of(obj)),
                                       resync_period=RESYNC_PERIOD)
        self.classes.add_event_handler(on_add=lambda _sc: self._all_claims())

    # ---- handlers ---------------------------------------------------------------------------------
    def _claim_changed(self, claim: Mapping[str, Any]) -> None:
        self.queue.add(("claim", meta_namespace_key(claim)))

    def _claim_deleted(self, obj: Any) -> None:
        claim = obj_of(obj)
        self.queue.add(("claim", meta_namespace_key(claim)))
        volume = (claim.get("spec") or {}).get("volumeName")
        if volume:
            self.queue.add(("volume", volume))

    def _volume_changed(self, volume: Mapping[str, Any]) -> None:
        self.queue.add(("volume", meta_namespace_key(volume)))
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(("claim", f"{ref.get('namespace') or 'default'}/{ref['name']}"))

    def _all_claims(self) -> None:
        for claim in self.claims.indexer.list():
            self._claim_changed(claim)

    # ---- reconcile ------------------------------------------------------------------------------
    def plan(self, key: Any) -> Plan | None:
        kind, name = key
        if kind == "claim":
            claim = self.claims.indexer.get_by_key(name)
            if claim is None:
                return None
            return reconcile_claim(claim, self.volumes.indexer.list(), self.classes.indexer.list(),
                                   now=self.now())
        volume = self.volumes.indexer.get_by_key(name)
        if volume is None:
            return None
        return reconcile_volume(volume, self.claims.indexer.list(), now=self.now())
