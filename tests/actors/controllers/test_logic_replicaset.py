"""ReplicaSet / ReplicationController logic: slow start, deletion ranking, claiming, status."""

from __future__ import annotations

from typing import Any

from actors.controllers import (
    Create,
    Delete,
    Expectations,
    Patch,
    Update,
    rank_pods_for_deletion,
    reconcile_replicaset,
    reconcile_replication_controller,
    slow_start_batches,
)
from actors.controllers._plan import format_time

NOW = 1_700_000_000.0


def rs(replicas: int = 3, **spec: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "nginx-879cf7b8c", "namespace": "default", "uid": "rs-uid",
                         "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}, "finalizers": ["x/y"]},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                     **spec}}


def pod(name: str, *, owner: str | None = "rs-uid", node: str = "n1", phase: str = "Running",
        ready_since: float | None = None, created: float = NOW - 100, restarts: int = 0,
        labels: dict | None = None, **meta: Any) -> dict:
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}",
                     "labels": {"app": "nginx"} if labels is None else labels,
                     "creationTimestamp": format_time(created), **meta},
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]},
    }
    if owner:
        p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": "nginx-879cf7b8c", "uid": owner,
                                             "controller": True}]
    if ready_since is not None:
        p["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                      "lastTransitionTime": format_time(ready_since)}]
    return p


def test_slow_start_batches_double():
    assert slow_start_batches(10) == [1, 2, 4, 3]
    assert slow_start_batches(1) == [1]
    assert slow_start_batches(0) == []
    assert sum(slow_start_batches(500)) == 500


def test_scale_up_creates_pods_from_template_in_slow_start_batches():
    plan = reconcile_replicaset(rs(10), [], now=NOW)
    creates = plan.of_type(Create)
    assert [c.batch for c in creates] == [0] + [1] * 2 + [2] * 4 + [3] * 3
    body = creates[0].body
    assert body["metadata"]["generateName"] == "nginx-879cf7b8c-"
    assert body["metadata"]["labels"] == {"app": "nginx"}
    assert body["metadata"]["finalizers"] == ["x/y"]
    assert body["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "nginx-879cf7b8c", "uid": "rs-uid",
        "controller": True, "blockOwnerDeletion": True}]
    ok = creates[0].on_success[0].render(name="nginx-879cf7b8c-fpfzn")
    assert (ok.type, ok.reason, ok.message) == ("Normal", "SuccessfulCreate",
                                                "Created pod: nginx-879cf7b8c-fpfzn")
    bad = creates[0].on_failure[0].render(error='pods "x" is forbidden')
    assert (bad.type, bad.reason, bad.message) == ("Warning", "FailedCreate",
                                                   'Error creating: pods "x" is forbidden')
    status = plan.of_type(Update)[0]
    assert status.subresource == "status" and status.body["status"]["replicas"] == 0


def test_burst_replicas_caps_one_sync():
    plan = reconcile_replicaset(rs(1200), [], now=NOW)
    assert len(plan.of_type(Create)) == 500


def test_expectations_not_satisfied_only_updates_status():
    plan = reconcile_replicaset(rs(3), [], now=NOW, expectations_satisfied=False)
    assert not plan.of_type(Create)


def test_deletion_ranking_follows_active_pods_order():
    unassigned = pod("unassigned", node="", phase="Pending")
    pending = pod("pending", phase="Pending")
    unknown = pod("unknown", phase="Unknown")
    not_ready = pod("not-ready")
    ready_recent = pod("ready-recent", ready_since=NOW - 10)
    ready_old = pod("ready-old", ready_since=NOW - 5000)
    ordered = rank_pods_for_deletion([ready_old, ready_recent, not_ready, unknown, pending, unassigned])
    assert [p["metadata"]["name"] for p in ordered] == [
        "unassigned", "pending", "unknown", "not-ready", "ready-recent", "ready-old"]


def test_deletion_ranking_restarts_then_newer_creation():
    a = pod("a", ready_since=NOW - 100, restarts=5)
    b = pod("b", ready_since=NOW - 100, restarts=0, created=NOW - 10)
    c = pod("c", ready_since=NOW - 100, restarts=0, created=NOW - 1000)
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([c, b, a])] == ["a", "b", "c"]


def test_deletion_cost_and_doubled_up_rank():
    cheap = pod("cheap", ready_since=NOW - 100,
                annotations={"controller.kubernetes.io/pod-deletion-cost": "-5"})
    normal = pod("normal", ready_since=NOW - 100)
    assert rank_pods_for_deletion([normal, cheap])[0] is cheap
    crowded, alone = pod("crowded", node="n1", ready_since=NOW - 100), pod("alone", node="n2",
                                                                         ready_since=NOW - 100)
    assert rank_pods_for_deletion([alone, crowded], ranks=[1, 3])[0] is crowded


def test_logarithmic_buckets_tie_on_uid():
    # Ready 100 s and 110 s ago fall into the same power-of-two bucket: the uid decides.
    x = pod("x", ready_since=NOW - 110)
    y = pod("y", ready_since=NOW - 100)
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([y, x], now=NOW)] == ["x", "y"]
    assert [p["metadata"]["name"] for p in rank_pods_for_deletion([x, y])] == ["y", "x"]


def test_scale_down_deletes_lowest_ranked_with_wording():
    pods = [pod("a", ready_since=NOW - 500), pod("b"), pod("c", ready_since=NOW - 50)]
    plan = reconcile_replicaset(rs(1), pods, now=NOW)
    deletes = plan.of_type(Delete)
    assert [d.ref.name for d in deletes] == ["b", "c"]
    assert deletes[0].on_success[0].message == "Deleted pod: b"
    assert deletes[0].on_success[0].reason == "SuccessfulDelete"


def test_doubled_up_pods_of_sibling_sets_are_deleted_first():
    sibling = {"metadata": {"uid": "sib"}}
    mine = [pod("on-n1", node="n1", ready_since=NOW - 100),
            pod("on-n2", node="n2", ready_since=NOW - 100)]
    others = [pod(f"s{i}", node="n2", owner="sib", ready_since=NOW - 100) for i in range(3)]
    plan = reconcile_replicaset(rs(1), mine + others, now=NOW, sibling_replica_sets=[sibling])
    assert [d.ref.name for d in plan.of_type(Delete)] == ["on-n2"]


def test_status_counts_ready_available_and_fully_labeled():
    pods = [pod("a", ready_since=NOW - 100), pod("b", ready_since=NOW - 2),
            pod("c", labels={"app": "nginx"}), pod("gone", phase="Succeeded")]
    pods[2]["metadata"]["labels"] = {"app": "nginx"}
    plan = reconcile_replicaset(rs(3, minReadySeconds=5), pods, now=NOW)
    status = plan.of_type(Update)[0].body["status"]
    assert status == {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2,
                      "availableReplicas": 1, "observedGeneration": 1}
    assert plan.requeue_after is None  # not all ready: no minReadySeconds resync
    ready = [pod("a", ready_since=NOW - 100), pod("b", ready_since=NOW - 2)]
    plan = reconcile_replicaset(rs(2, minReadySeconds=5), ready, now=NOW)
    assert plan.requeue_after == 5


def test_replica_failure_condition_from_previous_error():
    plan = reconcile_replicaset(rs(2), [], now=NOW, manage_error="quota exceeded")
    cond = plan.of_type(Update)[0].body["status"]["conditions"][0]
    assert (cond["type"], cond["reason"], cond["message"]) == ("ReplicaFailure", "FailedCreate",
                                                               "quota exceeded")


def test_claim_adopts_orphans_and_releases_mismatches():
    orphan = pod("orphan", owner=None)
    stray = pod("stray", labels={"app": "other"})
    foreign = pod("foreign", owner="someone-else")
    plan = reconcile_replicaset(rs(1), [orphan, stray, foreign], now=NOW)
    patches = plan.of_type(Patch)
    assert [(p.ref.name, p.patch_type) for p in patches] == [("orphan", "strategic"),
                                                             ("stray", "strategic")]
    assert patches[0].patch["metadata"]["ownerReferences"][0]["uid"] == "rs-uid"
    assert patches[1].patch == {"metadata": {"ownerReferences": [
        {"$patch": "delete", "uid": "rs-uid"}], "uid": "u-stray"}}
    assert not plan.of_type(Create)  # the adopted orphan counts


def test_replication_controller_uses_map_selector_and_v1_owner():
    rc = {"apiVersion": "v1", "kind": "ReplicationController",
          "metadata": {"name": "web", "namespace": "default", "uid": "rc-uid"},
          "spec": {"replicas": 2, "selector": {"app": "web"},
                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {}}}}
    plan = reconcile_replication_controller(rc, [], now=NOW)
    creates = plan.of_type(Create)
    assert len(creates) == 2
    ref = creates[0].body["metadata"]["ownerReferences"][0]
    assert (ref["apiVersion"], ref["kind"]) == ("v1", "ReplicationController")
    assert creates[0].on_success[0].involved.kind == "ReplicationController"


def test_expectations_lifecycle():
    e = Expectations()
    plan = reconcile_replicaset(rs(2), [], now=NOW)
    e.expect_plan("default/nginx", plan, NOW)
    assert not e.satisfied("default/nginx", NOW)
    e.creation_observed("default/nginx")
    e.creation_observed("default/nginx")
    assert e.satisfied("default/nginx", NOW)
    e.expect("k", deletions=["default/p"], now=NOW)
    assert not e.satisfied("k", NOW + 10)
    assert e.satisfied("k", NOW + 301)  # expired after five minutes
    e.deletion_observed("k", "default/p")
    assert e.satisfied("k", NOW)
