"""Garbage collector and namespace deletion logic."""

from __future__ import annotations

from typing import Any

from actors.controllers import Delete, Patch, Update, collect_garbage, reconcile_namespace

NOW = 1_700_000_000.0


def obj(kind: str, name: str, uid: str, *, owners: list | None = None, api_version: str = "apps/v1",
        ns: str = "default", deleting: bool = False, finalizers: list | None = None) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": uid, "resourceVersion": "7"}
    if owners:
        meta["ownerReferences"] = owners
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def owner(kind: str, name: str, uid: str, block: bool = True) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True,
            "blockOwnerDeletion": block}


def deletes(plan) -> list[tuple[str, str | None]]:
    return [(a.ref.name, a.propagation_policy) for a in plan.actions if isinstance(a, Delete)]


def test_background_dependents_of_a_gone_owner_are_deleted():
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep")])
    pod = obj("Pod", "web-1-x", "p", owners=[owner("ReplicaSet", "web-1", "rs")], api_version="v1")
    plan = collect_garbage([rs, pod])  # the Deployment is gone
    assert deletes(plan) == [("web-1", "Background")]
    d = plan.actions[0]
    assert d.preconditions_uid == "rs" and d.ref.kind == "ReplicaSet" and d.ref.api_version == "apps/v1"
    # Next pass, the ReplicaSet gone: its pod goes too.
    assert deletes(collect_garbage([pod])) == [("web-1-x", "Background")]


def test_live_owner_keeps_dependent_and_dangling_refs_are_dropped():
    dep = obj("Deployment", "web", "dep")
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep"),
                                                  owner("Deployment", "gone", "zzz")])
    plan = collect_garbage([dep, rs])
    assert not deletes(plan)
    patch = plan.actions[0]
    assert isinstance(patch, Patch) and patch.patch == {"metadata": {
        "ownerReferences": [owner("Deployment", "web", "dep")], "resourceVersion": "7"}}


def test_foreground_deletes_dependents_then_removes_finalizer():
    dep = obj("Deployment", "web", "dep", deleting=True, finalizers=["foregroundDeletion"])
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep")])
    pod = obj("Pod", "web-1-x", "p", owners=[owner("ReplicaSet", "web-1", "rs")], api_version="v1")
    plan = collect_garbage([dep, rs, pod])
    # The ReplicaSet has dependents of its own: deleted in the foreground as well.
    assert deletes(plan) == [("web-1", "Foreground")]
    assert not [a for a in plan.actions if isinstance(a, Patch)]
    rs_deleting = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep")], deleting=True,
                      finalizers=["foregroundDeletion"])
    plan = collect_garbage([dep, rs_deleting, pod])
    assert deletes(plan) == [("web-1-x", "Background")]
    plan = collect_garbage([dep, rs_deleting])
    patch = plan.actions[0]
    assert patch.ref.name == "web-1" and patch.patch["metadata"]["finalizers"] is None
    plan = collect_garbage([dep])
    assert plan.actions[0].ref.name == "web" and plan.actions[0].patch["metadata"]["finalizers"] is None


def test_non_blocking_dependents_do_not_hold_foreground_owner():
    dep = obj("Deployment", "web", "dep", deleting=True, finalizers=["foregroundDeletion"])
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep", block=False)])
    plan = collect_garbage([dep, rs])
    assert [a.ref.name for a in plan.actions if isinstance(a, Patch)] == ["web"]
    assert deletes(plan) == [("web-1", "Background")]


def test_orphan_removes_owner_refs_then_finalizer():
    dep = obj("Deployment", "web", "dep", deleting=True, finalizers=["orphan"])
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep")])
    plan = collect_garbage([dep, rs])
    assert [(a.ref.name, a.patch["metadata"].get("ownerReferences", "-"), a.patch["metadata"].get("finalizers", "-"))
            for a in plan.actions] == [("web-1", None, "-"), ("web", "-", None)]
    assert not deletes(plan)


def test_owner_in_another_namespace_dangles():
    dep = obj("Deployment", "web", "dep", ns="other")
    rs = obj("ReplicaSet", "web-1", "rs", owners=[owner("Deployment", "web", "dep")])
    assert deletes(collect_garbage([dep, rs])) == [("web-1", "Background")]


def ns(deleting: bool = True, finalizers: tuple = ("kubernetes",)) -> dict:
    n = {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "team", "uid": "ns-uid"},
         "spec": {"finalizers": list(finalizers)}, "status": {"phase": "Active"}}
    if deleting:
        n["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return n


def test_namespace_deletion_phases():
    assert not reconcile_namespace(ns(deleting=False), [], now=NOW).actions
    pods = [obj("Pod", f"p{i}", f"p{i}", api_version="v1", ns="team") for i in range(2)]
    rs = obj("ReplicaSet", "r", "r", ns="team", finalizers=["example.com/hold"])
    plan = reconcile_namespace(ns(), [*pods, rs], now=NOW)
    status = plan.actions[0]
    assert isinstance(status, Update) and status.subresource == "status"
    assert status.body["status"]["phase"] == "Terminating"
    conds = {c["type"]: c for c in status.body["status"]["conditions"]}
    assert conds["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: pods. has 2 resource instances, replicasets.apps has 1 resource instances")
    assert conds["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conds["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    assert conds["NamespaceDeletionDiscoveryFailure"] == {
        "type": "NamespaceDeletionDiscoveryFailure", "status": "False", "lastTransitionTime": conds[
            "NamespaceDeletionDiscoveryFailure"]["lastTransitionTime"],
        "reason": "ResourcesDiscovered", "message": "All resources successfully discovered"}
    assert [(a.ref.kind, a.ref.name) for a in plan.actions if isinstance(a, Delete)] == [
        ("Pod", "p0"), ("Pod", "p1"), ("ReplicaSet", "r")]
    assert plan.requeue_after == 16  # 30 s pod grace / 2 + 1
    plan = reconcile_namespace(ns(), [], now=NOW)
    final = plan.actions[-1]
    assert isinstance(final, Update) and final.subresource == "finalize"
    assert final.body["spec"]["finalizers"] == []
    assert not reconcile_namespace(ns(finalizers=()), [], now=NOW).of_type(Delete)
