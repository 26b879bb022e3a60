"""PersistentVolume binding, provisioning and reclaiming logic."""

from __future__ import annotations

from typing import Any

from actors.controllers import (
    Create,
    Delete,
    Update,
    default_storage_class,
    find_best_volume,
    provision_claim,
    reconcile_claim,
    reconcile_volume,
)

NOW = 1_700_000_000.0


def pvc(name: str = "data", request: str = "1Gi", modes: tuple = ("ReadWriteOnce",), cls: Any = "",
        **spec: Any) -> dict:
    s: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": request}}, **spec}
    if cls is not None:
        s["storageClassName"] = cls
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "3"},
            "spec": s, "status": {"phase": "Pending"}}


def pv(name: str, size: str, modes: tuple = ("ReadWriteOnce",), cls: str = "", phase: str = "Available",
       labels: dict | None = None, **spec: Any) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                     "persistentVolumeReclaimPolicy": "Retain", **spec},
            "status": {"phase": phase}}


def names(plan) -> list[tuple[str, str, str | None]]:
    return [(type(a).__name__, a.ref.name, getattr(a, "subresource", None)) for a in plan.actions]


def test_smallest_matching_volume_wins():
    vols = [pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi"), pv("other-class", "1Gi", cls="fast"),
            pv("rox", "1Gi", modes=("ReadOnlyMany",)), pv("taken", "1Gi", phase="Bound")]
    assert find_best_volume(pvc(), vols)["metadata"]["name"] == "small"
    # Fewer extra access modes first: an exact RWO volume beats a smaller RWO+RWX one.
    vols = [pv("rwo", "5Gi"), pv("rwo-rwx", "1Gi", modes=("ReadWriteOnce", "ReadWriteMany"))]
    assert find_best_volume(pvc(), vols)["metadata"]["name"] == "rwo"
    sel = pvc(selector={"matchLabels": {"tier": "gold"}})
    vols = [pv("plain", "1Gi"), pv("gold", "8Gi", labels={"tier": "gold"})]
    assert find_best_volume(sel, vols)["metadata"]["name"] == "gold"
    block = pvc(volumeMode="Block")
    assert find_best_volume(block, [pv("fs", "1Gi")]) is None


def test_bind_writes_volume_then_claim():
    claim = pvc()
    plan = reconcile_claim(claim, [pv("small", "2Gi")], now=NOW)
    assert names(plan) == [("Update", "small", None), ("Update", "small", "status"),
                           ("Update", "data", None), ("Update", "data", "status")]
    vol = plan.actions[0].body
    assert vol["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data",
                                       "uid": "uid-data", "apiVersion": "v1", "resourceVersion": "3"}
    assert vol["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert plan.actions[1].body["status"]["phase"] == "Bound"
    c = plan.actions[2].body
    assert c["spec"]["volumeName"] == "small"
    assert c["metadata"]["annotations"] == {"pv.kubernetes.io/bound-by-controller": "yes",
                                            "pv.kubernetes.io/bind-completed": "yes"}
    assert plan.actions[3].body["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                              "capacity": {"storage": "2Gi"}}


def test_no_match_without_class_and_default_class_assignment():
    plan = reconcile_claim(pvc(), [], now=NOW)
    assert [(e.reason, e.message) for e in plan.events] == [
        ("FailedBinding", "no persistent volumes available for this claim and no storage class is set")]
    standard = {"metadata": {"name": "standard", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "k8s.io/minikube-hostpath"}
    assert default_storage_class([standard]) is standard
    plan = reconcile_claim(pvc(cls=None), [], [standard], now=NOW)
    assert names(plan) == [("Update", "data", None)]
    assert plan.actions[0].body["spec"]["storageClassName"] == "standard"


def test_dynamic_provisioning_for_the_default_class():
    standard = {"metadata": {"name": "standard"}, "provisioner": "k8s.io/minikube-hostpath", "reclaimPolicy": "Delete"}
    claim = pvc(cls="standard")
    plan = reconcile_claim(claim, [], [standard], now=NOW)
    update = plan.actions[0]
    assert update.body["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == "k8s.io/minikube-hostpath"
    assert plan.events[0].reason == "ExternalProvisioning"
    assert plan.events[0].message.startswith(
        "Waiting for a volume to be created either by the external provisioner 'k8s.io/minikube-hostpath'")
    claim = update.body
    prov = provision_claim(claim, [standard], now=NOW)
    create = prov.actions[0]
    assert isinstance(create, Create) and create.ref.name == "pvc-uid-data"
    spec = create.body["spec"]
    assert spec["hostPath"] == {"path": "/tmp/hostpath-provisioner/default/data"}
    assert spec["persistentVolumeReclaimPolicy"] == "Delete" and spec["claimRef"]["uid"] == "uid-data"
    assert create.on_success[0].message == "Successfully provisioned volume pvc-uid-data"
    # The pre-bound volume is then bound by the claim's next sync.
    volume = dict(create.body, status={"phase": "Available"})
    plan = reconcile_claim(claim, [volume], [standard], now=NOW)
    assert names(plan)[-1] == ("Update", "data", "status")


def test_wait_for_first_consumer():
    wffc = {"metadata": {"name": "local"}, "provisioner": "x", "volumeBindingMode": "WaitForFirstConsumer"}
    plan = reconcile_claim(pvc(cls="local"), [pv("v", "5Gi", cls="local")], [wffc], now=NOW)
    assert [(e.reason, e.message) for e in plan.events] == [
        ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")]


def test_bound_claim_losing_its_volume():
    claim = pvc(volumeName="gone")
    claim["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes"}
    claim["status"] = {"phase": "Bound"}
    plan = reconcile_claim(claim, [], now=NOW)
    assert plan.actions[0].body["status"]["phase"] == "Lost"
    assert (plan.events[0].reason, plan.events[0].message) == (
        "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")


def test_released_volume_reclaim_policies():
    bound = pv("v", "1Gi", phase="Bound", claimRef={"namespace": "default", "name": "data", "uid": "uid-data"})
    plan = reconcile_volume(bound, [], now=NOW)  # the claim is gone; Retain keeps the volume
    assert names(plan) == [("Update", "v", "status")] and plan.actions[0].body["status"]["phase"] == "Released"
    deleting = dict(bound, spec=dict(bound["spec"], persistentVolumeReclaimPolicy="Delete"))
    plan = reconcile_volume(deleting, [], now=NOW)
    assert isinstance(plan.actions[-1], Delete)
    # A claim of the same name but another uid is a different claim.
    recreated = pvc()
    recreated["metadata"]["uid"] = "uid-new"
    assert reconcile_volume(deleting, [recreated], now=NOW).actions[0].body["status"]["phase"] == "Released"
    claim = pvc(volumeName="v")
    assert not reconcile_volume(dict(bound), [claim], now=NOW).actions
    assert reconcile_volume(pv("free", "1Gi", phase="Pending"), [], now=NOW).actions[0].body["status"]["phase"] == "Available"


def test_requested_volume_mismatch_and_taken():
    claim = pvc(volumeName="v", request="5Gi")
    plan = reconcile_claim(claim, [pv("v", "1Gi")], now=NOW)
    assert (plan.events[0].reason, plan.events[0].message) == (
        "VolumeMismatch", 'Cannot bind to requested volume "v": requested PV is too small')
    taken = pv("v", "10Gi", claimRef={"namespace": "default", "name": "other", "uid": "x"})
    plan = reconcile_claim(claim, [taken], now=NOW)
    assert plan.events[0].message == 'volume "v" already bound to a different claim.'
    assert not [a for a in plan.actions if isinstance(a, Update) and a.subresource is None]
