"""The PV binder and minikube's storage-provisioner through ``simulate()``: the default
StorageClass ``standard`` exists at bootstrap, a claim binds to the smallest matching volume,
a claim without a class gets ``standard`` and a provisioned hostPath volume, and released
volumes are kept (Retain) or deleted (Delete)."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, simulate
from actors.cluster import Cluster

BOUND = "Bound"


def volume(name: str, size: str, *, cls: str = "manual", policy: str = "Retain",
           modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/data/{name}"}}}


def claim(name: str, size: str, *, cls: str | None = "manual",
          modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": spec}


def phase(c: Cluster, resource: str, name: str) -> str:
    ns = "default" if resource == "persistentvolumeclaims" else None
    return str(c.get(resource, name, ns).get("status", {}).get("phase"))


def claim_events(c: Cluster, name: str) -> list[tuple[str, str, str]]:
    items = [e for e in c.list("events", "default")["items"] if e["involvedObject"]["name"] == name]
    items.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["reason"], e["message"], e["source"]["component"]) for e in items]


def test_the_default_storage_class_and_the_provisioner_pod_exist_at_bootstrap() -> None:
    with simulate(ClusterSpec(), seed=1) as c:
        c.run_until(lambda c: bool(c.list("storageclasses")["items"]), timeout=10)
        (sc,) = c.list("storageclasses")["items"]
        assert sc["metadata"]["name"] == "standard"
        assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        assert (sc["provisioner"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
            "k8s.io/minikube-hostpath", "Delete", "Immediate")

        def running(c: Cluster) -> bool:
            items = c.list("pods", "kube-system", field_selector="metadata.name=storage-provisioner")["items"]
            return bool(items) and items[0]["status"].get("phase") == "Running"

        c.run_until(running, timeout=60)
        pod = c.get("pods", "storage-provisioner", "kube-system")
        assert (pod["spec"]["nodeName"], pod["spec"]["serviceAccountName"]) == ("minikube", "storage-provisioner")


def test_a_claim_binds_to_the_smallest_matching_volume() -> None:
    with simulate(ClusterSpec(), seed=2) as c:
        c.create(volume("big", "10Gi"))
        c.create(volume("small", "2Gi"))
        c.create(volume("tiny", "500Mi"))
        c.create(volume("rox", "1Gi", modes=("ReadOnlyMany",)))
        c.create(claim("data", "1Gi"))
        took = c.run_until(lambda c: phase(c, "persistentvolumeclaims", "data") == BOUND, timeout=60)
        assert took < 20  # the binder's next 15 s resync, once the new volumes are Available
        pvc = c.get("persistentvolumeclaims", "data")
        assert pvc["spec"]["volumeName"] == "small"
        assert pvc["status"]["capacity"] == {"storage": "2Gi"}
        assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        pv = c.get("persistentvolumes", "small", None)
        assert pv["status"]["phase"] == BOUND
        ref = pv["spec"]["claimRef"]
        assert (ref["name"], ref["namespace"], ref["uid"]) == ("data", "default", pvc["metadata"]["uid"])
        assert {phase(c, "persistentvolumes", n) for n in ("big", "tiny", "rox")} == {"Available"}
        # Retain: the claim goes, the volume is Released and stays for the administrator.
        c.delete("persistentvolumeclaims", "data")
        c.run_until(lambda c: phase(c, "persistentvolumes", "small") == "Released", timeout=20)
        c.advance(20)
        assert phase(c, "persistentvolumes", "small") == "Released"


def test_a_claim_without_a_class_gets_a_provisioned_volume_deleted_with_it() -> None:
    with simulate(ClusterSpec(), seed=3) as c:
        c.create(claim("cache", "3Gi", cls=None))
        c.run_until(lambda c: phase(c, "persistentvolumeclaims", "cache") == BOUND, timeout=60)
        pvc = c.get("persistentvolumeclaims", "cache")
        uid = pvc["metadata"]["uid"]
        assert pvc["spec"]["storageClassName"] == "standard"  # the default class, given by the binder
        assert pvc["spec"]["volumeName"] == f"pvc-{uid}"
        assert pvc["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == "k8s.io/minikube-hostpath"
        pv = c.get("persistentvolumes", f"pvc-{uid}", None)
        assert pv["spec"]["hostPath"]["path"] == "/tmp/hostpath-provisioner/default/cache"
        assert (pv["spec"]["capacity"], pv["spec"]["persistentVolumeReclaimPolicy"]) == ({"storage": "3Gi"}, "Delete")
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "k8s.io/minikube-hostpath"
        # (events of one second from different components carry no reliable order)
        assert {"ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"} <= {
            r for r, _, _ in claim_events(c, "cache")}
        (ok,) = [e for e in claim_events(c, "cache") if e[0] == "ProvisioningSucceeded"]
        assert ok[1] == f"Successfully provisioned volume pvc-{uid}"
        assert ok[2].startswith("k8s.io/minikube-hostpath_minikube_")
        c.delete("persistentvolumeclaims", "cache")
        c.run_until(lambda c: not c.list("persistentvolumes")["items"], timeout=30)


def test_a_claim_with_no_match_and_no_class_waits() -> None:
    with simulate(ClusterSpec(), seed=4) as c:
        c.create(volume("small", "1Gi", cls=""))
        c.create(claim("huge", "5Gi", cls=""))
        c.advance(20)
        assert phase(c, "persistentvolumeclaims", "huge") == "Pending"
        assert ("FailedBinding", "no persistent volumes available for this claim and no storage class is set",
                "persistentvolume-controller") in claim_events(c, "huge")
        c.create(volume("large", "8Gi", cls=""))
        c.run_until(lambda c: phase(c, "persistentvolumeclaims", "huge") == BOUND, timeout=40)
        assert c.get("persistentvolumeclaims", "huge")["spec"]["volumeName"] == "large"
