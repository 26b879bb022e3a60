"""PersistentVolume binding and reclaiming (``pkg/controller/volume/persistentvolume``:
pv_controller.go syncClaim/syncVolume, index.go, ``storage/util``), and the plan of an
external provisioner for the default StorageClass (minikube's ``k8s.io/minikube-hostpath``).

What it is: ``reconcile_claim(claim, volumes, storage_classes, *, now)`` binds a pending
claim to the best volume: one pre-bound to it, else the smallest Available volume of the
claim's class whose capacity covers the request, whose access modes include the claim's
(volumes offering the fewest extra modes first, as the PV index searches), whose
volumeMode is the claim's and whose labels match the claim's selector. Without a match it
assigns the default class to a claim that has none, waits for the first consumer
(WaitForFirstConsumer), asks the class's provisioner ("ExternalProvisioning"), or reports
"no persistent volumes available for this claim and no storage class is set". A bound
claim whose volume disappeared is Lost. ``reconcile_volume(volume, claims, *, now)`` keeps a
volume's phase (Available, Bound, Released) and reclaims a released one: Retain keeps it,
Delete deletes it. ``provision_claim`` is what the provisioner does: a hostPath volume
pre-bound to the claim, named ``pvc-<claim uid>``.

Concurrency model: none; pure functions.

Invariants: binding writes the volume (claimRef, ``pv.kubernetes.io/bound-by-controller``),
its status (Bound), the claim (volumeName, ``pv.kubernetes.io/bind-completed``) and its
status (Bound, capacity, access modes), in that order, so a failure part-way is finished by
a later sync, as in Kubernetes. Not modelled: node affinity of local volumes, Recycle,
volume attributes classes, resizing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from actors.api import QuantityError, parse_quantity, selector_from_api

from ._plan import (
    NORMAL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
    creation_time,
    deep_copy,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    uid_of,
)

__all__ = ["default_storage_class", "find_best_volume", "provision_claim", "reconcile_claim", "reconcile_volume"]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
MINIKUBE_PROVISIONER = "k8s.io/minikube-hostpath"


def _claim_class(claim: Mapping[str, Any]) -> str:
    return annotations_of(claim).get(ANN_BETA_CLASS) or (claim.get("spec") or {}).get("storageClassName") or ""


def _volume_class(volume: Mapping[str, Any]) -> str:
    return annotations_of(volume).get(ANN_BETA_CLASS) or (volume.get("spec") or {}).get("storageClassName") or ""


def _quantity(raw: Any) -> Any:
    try:
        return parse_quantity(raw if raw is not None else "0")
    except QuantityError:
        return parse_quantity("0")


def _requested(claim: Mapping[str, Any]) -> Any:
    return _quantity((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))


def _capacity(volume: Mapping[str, Any]) -> Any:
    return _quantity(((volume.get("spec") or {}).get("capacity") or {}).get("storage"))


def _phase(obj: Mapping[str, Any]) -> str:
    return (obj.get("status") or {}).get("phase") or ""


def bound_to_claim(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    """``IsVolumeBoundToClaim``: claimRef names the claim (uid unset or equal)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref or ref.get("name") != name_of(claim) or ref.get("namespace") != namespace_of(claim):
        return False
    return not ref.get("uid") or ref.get("uid") == uid_of(claim)


def _mode_mismatch(claim: Mapping[str, Any], volume: Mapping[str, Any]) -> bool:
    return ((claim.get("spec") or {}).get("volumeMode") or "Filesystem") != (
        (volume.get("spec") or {}).get("volumeMode") or "Filesystem")


def default_storage_class(classes: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The default class; with several, the newest (Kubernetes 1.26+), then by name."""
    defaults = [c for c in classes if "true" in (annotations_of(c).get(ANN_DEFAULT_CLASS),
                                                 annotations_of(c).get(ANN_BETA_DEFAULT_CLASS))]
    defaults.sort(key=lambda c: (-(creation_time(c) or 0.0), name_of(c)))
    return defaults[0] if defaults else None


def find_best_volume(claim: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]], *,
                     delay_binding: bool = False) -> Mapping[str, Any] | None:
    """``findByClaim``: per access-mode set that includes the claim's (smallest first),
    a volume pre-bound to the claim wins, else the smallest Available match."""
    wanted = set((claim.get("spec") or {}).get("accessModes") or ())
    raw_selector = (claim.get("spec") or {}).get("selector")
    selector = selector_from_api(raw_selector) if raw_selector is not None else None
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for v in volumes:
        modes = tuple(sorted(set((v.get("spec") or {}).get("accessModes") or ())))
        if wanted <= set(modes):
            groups.setdefault(modes, []).append(v)
    request = _requested(claim)
    for modes in sorted(groups, key=lambda m: (len(m), m)):
        best = None
        for v in sorted(groups[modes], key=name_of):
            if (v.get("spec") or {}).get("claimRef") and not bound_to_claim(v, claim):
                continue
            if _capacity(v) < request or _mode_mismatch(claim, v) or meta_of(v).get("deletionTimestamp"):
                continue
            if bound_to_claim(v, claim):
                return v
            if delay_binding or _phase(v) != "Available":
                continue
            if selector is not None and not selector.matches(labels_of(v)):
                continue
            if _volume_class(v) != _claim_class(claim):
                continue
            if best is None or _capacity(best) > _capacity(v):
                best = v
        if best is not None:
            return best
    return None


# -- binding ---------------------------------------------------------------------------------


def _vref(volume: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(volume, api_version="v1", kind="PersistentVolume")


def _cref(claim: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(claim, api_version="v1", kind="PersistentVolumeClaim")


def _set_phase(b: PlanBuilder, obj: Mapping[str, Any], ref: ObjectRef, phase: str,
               extra: Mapping[str, Any] | None = None) -> None:
    status = {**deep_copy(dict(obj.get("status") or {})), "phase": phase, **(extra or {})}
    if status != (obj.get("status") or {}):
        b.update(ref, {**deep_copy(dict(obj)), "status": status}, subresource="status")


def _bind(b: PlanBuilder, volume: Mapping[str, Any], claim: Mapping[str, Any]) -> None:
    """``bind``: volume, volume status, claim, claim status (each only if it changes)."""
    v = deep_copy(dict(volume))
    ref = (v.get("spec") or {}).get("claimRef")
    if not ref or ref.get("uid") != uid_of(claim) or ref.get("name") != name_of(claim):
        if not ref:
            v.setdefault("metadata", {}).setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
        v.setdefault("spec", {})["claimRef"] = {
            "kind": "PersistentVolumeClaim", "namespace": namespace_of(claim), "name": name_of(claim),
            "uid": uid_of(claim), "apiVersion": "v1",
            "resourceVersion": meta_of(claim).get("resourceVersion", "")}
        b.update(_vref(v), v)
    _set_phase(b, v, _vref(v), "Bound")
    c = deep_copy(dict(claim))
    annotations = c.setdefault("metadata", {}).setdefault("annotations", {})
    spec = c.setdefault("spec", {})
    if spec.get("volumeName") != name_of(volume) or annotations.get(ANN_BIND_COMPLETED) != "yes":
        if spec.get("volumeName") != name_of(volume):
            annotations[ANN_BOUND_BY_CONTROLLER] = "yes"
            spec["volumeName"] = name_of(volume)
        annotations[ANN_BIND_COMPLETED] = "yes"
        b.update(_cref(c), c)
    vspec = volume.get("spec") or {}
    _set_phase(b, c, _cref(c), "Bound", {"accessModes": list(vspec.get("accessModes") or ()),
                                         "capacity": {"storage": (vspec.get("capacity") or {}).get("storage")}})


def _class(classes: Iterable[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((c for c in classes if name_of(c) == name), None)


def _unbound_claim_without_match(b: PlanBuilder, claim: Mapping[str, Any], classes: list[Mapping[str, Any]],
                                 delay: bool) -> None:
    spec = claim.get("spec") or {}
    if spec.get("storageClassName") is None and ANN_BETA_CLASS not in annotations_of(claim):
        default = default_storage_class(classes)
        if default is not None:  # RetroactiveDefaultStorageClass
            c = deep_copy(dict(claim))
            c.setdefault("spec", {})["storageClassName"] = name_of(default)
            b.update(_cref(c), c)
            return
    class_name = _claim_class(claim)
    if delay and ANN_SELECTED_NODE not in annotations_of(claim):
        b.event(NORMAL, "WaitForFirstConsumer", "waiting for first consumer to be created before binding", _cref(claim))
    elif class_name:
        sc = _class(classes, class_name)
        if sc is None:
            b.event(WARNING, "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found', _cref(claim))
        else:
            provisioner = sc.get("provisioner", "")
            c = deep_copy(dict(claim))
            annotations = c.setdefault("metadata", {}).setdefault("annotations", {})
            if annotations.get(ANN_STORAGE_PROVISIONER) != provisioner:
                annotations[ANN_STORAGE_PROVISIONER] = provisioner
                annotations[ANN_BETA_STORAGE_PROVISIONER] = provisioner
                b.update(_cref(c), c)
            b.event(NORMAL, "ExternalProvisioning",
                    f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                    "manually by the system administrator. If volume creation is delayed, please verify that "
                    "the provisioner is running and correctly registered.", _cref(claim))
            return
    else:
        b.event(NORMAL, "FailedBinding", "no persistent volumes available for this claim and no storage class is set",
                _cref(claim))
    _set_phase(b, claim, _cref(claim), "Pending")


def _bound_claim(b: PlanBuilder, claim: Mapping[str, Any], volumes: Mapping[str, Mapping[str, Any]]) -> None:
    """``syncBoundClaim``."""
    name = (claim.get("spec") or {}).get("volumeName")
    volume = volumes.get(name or "")
    if not name or volume is None:
        message = ("Bound claim has lost reference to PersistentVolume. Data on the volume is lost!" if not name
                   else "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
        if _phase(claim) != "Lost":
            _set_phase(b, claim, _cref(claim), "Lost")
            b.event(WARNING, "ClaimLost", message, _cref(claim))
        return
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref or ref.get("uid") == uid_of(claim):
        _bind(b, volume, claim)
    elif _phase(claim) != "Lost":
        _set_phase(b, claim, _cref(claim), "Lost")
        b.event(WARNING, "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly",
                _cref(claim))


def reconcile_claim(claim: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]],
                    storage_classes: Iterable[Mapping[str, Any]] = (), *, now: float) -> Plan:
    """``syncClaim`` (``syncUnboundClaim`` until ``bind-completed``, then ``syncBoundClaim``)."""
    b = PlanBuilder()
    volumes = list(volumes)
    classes = list(storage_classes)
    by_name = {name_of(v): v for v in volumes}
    if annotations_of(claim).get(ANN_BIND_COMPLETED):
        _bound_claim(b, claim, by_name)
        return b.build()
    requested = (claim.get("spec") or {}).get("volumeName")
    if not requested:
        sc = _class(classes, _claim_class(claim))
        delay = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        volume = find_best_volume(claim, volumes, delay_binding=delay)
        if volume is None:
            _unbound_claim_without_match(b, claim, classes, delay)
        else:
            _bind(b, volume, claim)
        return b.build()
    volume = by_name.get(requested)
    if volume is None:
        _set_phase(b, claim, _cref(claim), "Pending")
    elif not (volume.get("spec") or {}).get("claimRef") or bound_to_claim(volume, claim):
        problem = _mismatch(volume, claim) if not (volume.get("spec") or {}).get("claimRef") else None
        if problem:
            b.event(WARNING, "VolumeMismatch", f'Cannot bind to requested volume "{requested}": {problem}', _cref(claim))
            _set_phase(b, claim, _cref(claim), "Pending")
        else:
            _bind(b, volume, claim)
    else:
        b.event(WARNING, "FailedBinding", f'volume "{requested}" already bound to a different claim.', _cref(claim))
        _set_phase(b, claim, _cref(claim), "Pending")
    return b.build()


def _mismatch(volume: Mapping[str, Any], claim: Mapping[str, Any]) -> str | None:
    """``checkVolumeSatisfyClaim``'s messages."""
    if _capacity(volume) < _requested(claim):
        return "requested PV is too small"
    if _volume_class(volume) != _claim_class(claim):
        return "storageClassName does not match"
    if _mode_mismatch(claim, volume):
        return "incompatible volumeMode"
    if not set((claim.get("spec") or {}).get("accessModes") or ()) <= set((volume.get("spec") or {}).get("accessModes") or ()):
        return "incompatible accessMode"
    return None


def _unbind(b: PlanBuilder, volume: Mapping[str, Any]) -> None:
    """``unbindVolume``: forget a claim we bound; keep a user's pre-binding, minus the uid."""
    v = deep_copy(dict(volume))
    annotations = v.setdefault("metadata", {}).get("annotations") or {}
    if ANN_BOUND_BY_CONTROLLER in annotations:
        v["spec"].pop("claimRef", None)
        annotations.pop(ANN_BOUND_BY_CONTROLLER, None)
    else:
        v["spec"]["claimRef"] = {**v["spec"]["claimRef"], "uid": ""}
    b.update(_vref(v), v)
    _set_phase(b, v, _vref(v), "Available")


def _reclaim(b: PlanBuilder, volume: Mapping[str, Any]) -> None:
    """``reclaimVolume``: Released first; Delete deletes it, Retain keeps it for the admin."""
    if _phase(volume) not in ("Released", "Failed"):
        _set_phase(b, volume, _vref(volume), "Released")
    if (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain") == "Delete":
        b.delete(_vref(volume), preconditions_uid=uid_of(volume) or None)


def reconcile_volume(volume: Mapping[str, Any], claims: Iterable[Mapping[str, Any]], *, now: float) -> Plan:
    """``syncVolume``."""
    b = PlanBuilder()
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref or not ref.get("uid"):  # unused, or pre-bound by a user and waiting
        _set_phase(b, volume, _vref(volume), "Available")
        return b.build()
    claim = next((c for c in claims if name_of(c) == ref.get("name") and namespace_of(c) == ref.get("namespace")), None)
    if claim is not None and uid_of(claim) != ref.get("uid"):
        claim = None  # deleted and re-created under the same name
    if claim is None:
        _reclaim(b, volume)
    elif not (claim.get("spec") or {}).get("volumeName"):
        if _mode_mismatch(claim, volume):
            b.event(WARNING, "VolumeMismatch", f'Cannot bind PersistentVolume to requested PersistentVolumeClaim '
                    f'"{name_of(claim)}" due to incompatible volumeMode.', _vref(volume))
        # else the claim's sync finishes the binding
    elif claim["spec"]["volumeName"] == name_of(volume):
        _set_phase(b, volume, _vref(volume), "Bound")
    elif ANN_PROVISIONED_BY in annotations_of(volume) and \
            (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
        _reclaim(b, volume)  # provisioned for a claim that got bound elsewhere
    else:
        _unbind(b, volume)
    return b.build()


def provision_claim(claim: Mapping[str, Any], storage_classes: Iterable[Mapping[str, Any]], *, now: float,
                    provisioner: str = MINIKUBE_PROVISIONER) -> Plan:
    """The external provisioner: a hostPath volume for a claim that asked ``provisioner``
    (as minikube's storage-provisioner: ``/tmp/hostpath-provisioner/<ns>/<claim>``)."""
    b = PlanBuilder()
    ann = annotations_of(claim)
    sc = _class(storage_classes, _claim_class(claim))
    if (ann.get(ANN_STORAGE_PROVISIONER) != provisioner or sc is None or sc.get("provisioner") != provisioner
            or (claim.get("spec") or {}).get("volumeName") or ann.get(ANN_BIND_COMPLETED)):
        return b.build()
    spec = claim.get("spec") or {}
    name = f"pvc-{uid_of(claim)}"
    pv = {"apiVersion": "v1", "kind": "PersistentVolume",
          "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: provisioner}},
          "spec": {"capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage")},
                   "accessModes": list(spec.get("accessModes") or ()),
                   "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                   "storageClassName": name_of(sc), "volumeMode": spec.get("volumeMode") or "Filesystem",
                   "hostPath": {"path": f"/tmp/hostpath-provisioner/{namespace_of(claim)}/{name_of(claim)}"},
                   "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace_of(claim),
                                "name": name_of(claim), "uid": uid_of(claim),
                                "resourceVersion": meta_of(claim).get("resourceVersion", "")}}}
    if sc.get("mountOptions"):
        pv["spec"]["mountOptions"] = list(sc["mountOptions"])
    b.event(NORMAL, "Provisioning",
            f'External provisioner is provisioning volume for claim "{namespace_of(claim)}/{name_of(claim)}"', _cref(claim))
    b.create(ObjectRef(api_version="v1", kind="PersistentVolume", name=name), pv,
             on_success=[Event(type=NORMAL, reason="ProvisioningSucceeded", involved=_cref(claim),
                               message=f"Successfully provisioned volume {name}")])
    return b.build()
