"""The garbage collector and the namespace controller through ``simulate()``: deleting a
Deployment cascades to its ReplicaSet and pods (background), keeps them with
``propagationPolicy=Orphan``, and in the foreground the Deployment waits for its dependents;
a dangling owner reference is collected; namespace deletion empties and removes the namespace."""

from __future__ import annotations

from typing import Any

from actors import ApiError, ClusterSpec, simulate
from actors.cluster import Cluster

from ._ctrl_helpers import deployment, owned_pods, replica_sets_of, wait_available


def _gone(c: Cluster, resource: str, name: str, namespace: str | None = "default") -> bool:
    try:
        c.get(resource, name, namespace)
    except ApiError as e:
        if e.code == 404:
            return True
        raise
    return False


def _app_pods(c: Cluster, app: str, namespace: str = "default") -> list[dict[str, Any]]:
    return c.list("pods", namespace, label_selector=f"app={app}")["items"]


def _deployed(c: Cluster, name: str, replicas: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    c.create(deployment(name, replicas=replicas))
    wait_available(c, name, replicas)
    (rs,) = replica_sets_of(c, name)
    return rs, owned_pods(c, rs)


def test_background_deletion_removes_the_replicaset_and_its_pods() -> None:
    with simulate(ClusterSpec(), seed=21) as c:
        rs, pods = _deployed(c, "web", 3)
        c.delete("deployments", "web")  # kubectl's default: background
        assert _gone(c, "deployments", "web")
        c.run_until(lambda c: _gone(c, "replicasets", rs["metadata"]["name"]), timeout=30)
        c.run_until(lambda c: not _app_pods(c, "web"), timeout=120)
        events = {e["reason"] for e in c.list("events", "default")["items"]}
        assert "SuccessfulCreate" in events


def test_orphan_deletion_keeps_the_replicaset_and_pods_without_the_owner() -> None:
    with simulate(ClusterSpec(), seed=22) as c:
        rs, pods = _deployed(c, "web", 2)
        c.delete("deployments", "web", propagation_policy="Orphan")
        c.run_until(lambda c: _gone(c, "deployments", "web"), timeout=30)
        c.advance(20)
        kept = c.get("replicasets", rs["metadata"]["name"])
        assert not kept["metadata"].get("ownerReferences")
        assert {p["metadata"]["name"] for p in owned_pods(c, kept)} == {p["metadata"]["name"] for p in pods}
        assert all(not p["metadata"].get("deletionTimestamp") for p in _app_pods(c, "web"))


def test_foreground_deletion_deletes_dependents_first() -> None:
    with simulate(ClusterSpec(), seed=23) as c:
        rs, _ = _deployed(c, "web", 2)
        c.delete("deployments", "web", propagation_policy="Foreground")
        d = c.get("deployments", "web")  # still there, waiting for its dependents
        assert d["metadata"].get("deletionTimestamp") and "foregroundDeletion" in d["metadata"]["finalizers"]
        c.run_until(lambda c: _gone(c, "deployments", "web"), timeout=120)
        assert _gone(c, "replicasets", rs["metadata"]["name"])
        # Foreground all the way down: the ReplicaSet went only once its pods were gone.
        assert not _app_pods(c, "web")


def test_an_object_whose_owner_never_existed_is_collected() -> None:
    with simulate(ClusterSpec(), seed=24) as c:
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}})
        c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "stray", "labels": {"app": "stray"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ghost",
                                 "uid": "00000000-0000-0000-0000-000000000000"}]},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
        c.run_until(lambda c: _gone(c, "pods", "stray")
                    or bool(c.get("pods", "stray")["metadata"].get("deletionTimestamp")), timeout=30)
        assert not _gone(c, "configmaps", "keep")


def test_namespace_deletion_empties_it_then_removes_it() -> None:
    with simulate(ClusterSpec(), seed=25) as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        c.run_until(lambda c: not _gone(c, "serviceaccounts", "default", "team"), timeout=10)
        c.create(deployment("api", replicas=2, namespace="team"))
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "team"}})
        wait_available(c, "api", 2, namespace="team")
        c.delete("namespaces", "team", None)
        ns = c.get("namespaces", "team", None)
        assert ns["status"]["phase"] == "Terminating"
        c.run_until(lambda c: any(x["type"] == "NamespaceContentRemaining"
                                  for x in (c.get("namespaces", "team", None).get("status") or {}).get("conditions") or ()),
                    timeout=30)
        c.run_until(lambda c: _gone(c, "namespaces", "team", None), timeout=300)
        assert not c.list("pods", "team")["items"]
        assert not c.list("configmaps", "team")["items"]
        assert not c.list("deployments", "team")["items"]
