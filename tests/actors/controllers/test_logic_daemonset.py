"""DaemonSet logic: node eligibility with taints and selectors, one pod per node, rolling
updates with maxUnavailable and maxSurge, status counts."""

from __future__ import annotations

from typing import Any

from actors.controllers import (
    Create,
    Delete,
    Update,
    node_should_run_daemon_pod,
    reconcile_daemonset,
)
from actors.controllers._plan import format_time

NOW = 1_700_000_000.0


def ds(**spec: Any) -> dict:
    template = {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "agent:1"}]}}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system", "uid": "ds-uid", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template, **spec}}


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_taints_and_tolerations_decide_eligibility():
    d = ds()
    assert node_should_run_daemon_pod(node("n"), d) == (True, True)
    no_schedule = node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    assert node_should_run_daemon_pod(no_schedule, d) == (False, True)
    no_execute = node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}])
    assert node_should_run_daemon_pod(no_execute, d) == (False, False)
    # Daemon pods tolerate not-ready/unreachable and the pressure/unschedulable taints.
    for key, effect in (("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule")):
        assert node_should_run_daemon_pod(node("n", taints=[{"key": key, "effect": effect}]), d) == (True, True)
    tolerant = ds()
    tolerant["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Equal",
                                                            "value": "db", "effect": "NoExecute"}]
    assert node_should_run_daemon_pod(no_execute, tolerant) == (True, True)


def test_node_selector_and_affinity():
    d = ds()
    d["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert node_should_run_daemon_pod(node("n", {"disk": "ssd"}), d) == (True, True)
    assert node_should_run_daemon_pod(node("n", {"disk": "hdd"}), d) == (False, False)
    d = ds()
    d["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}]}}}
    assert node_should_run_daemon_pod(node("x", {"zone": "b"}), d)[0]
    assert node_should_run_daemon_pod(node("special"), d)[0]
    assert not node_should_run_daemon_pod(node("x", {"zone": "c"}), d)[0]


def daemon_pod(name: str, node_name: str, hash_: str, *, ready: bool = True, phase: str = "Running",
               created: float = NOW - 100) -> dict:
    p = {"metadata": {"name": name, "namespace": "kube-system", "uid": f"u-{name}",
                      "creationTimestamp": format_time(created),
                      "labels": {"app": "agent", "controller-revision-hash": hash_},
                      "ownerReferences": [{"uid": "ds-uid", "controller": True}]},
         "spec": {"nodeName": node_name}, "status": {"phase": phase}}
    if ready:
        p["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                      "lastTransitionTime": format_time(NOW - 50)}]
    return p


def current_hash(d: dict) -> str:
    plan = reconcile_daemonset(d, [], [], now=NOW)
    rev = next(a for a in plan.actions if isinstance(a, Create) and a.ref.kind == "ControllerRevision")
    return rev.body["metadata"]["labels"]["controller-revision-hash"], rev.body


def test_one_pod_per_eligible_node_with_node_affinity_and_tolerations():
    d = ds()
    nodes = [node("a"), node("b"), node("tainted", taints=[{"key": "k", "effect": "NoSchedule"}])]
    plan = reconcile_daemonset(d, nodes, [], now=NOW)
    creates = [a for a in plan.actions if isinstance(a, Create) and a.ref.kind == "Pod"]
    assert len(creates) == 2
    body = creates[0].body
    terms = body["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}
    keys = {(t["key"], t["effect"]) for t in body["spec"]["tolerations"]}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    assert body["metadata"]["generateName"] == "agent-"
    assert "controller-revision-hash" in body["metadata"]["labels"]
    assert creates[0].on_success[0].message == "Created pod: {name}"
    status = next(a for a in plan.actions if isinstance(a, Update)).body["status"]
    assert status["desiredNumberScheduled"] == 2 and status["currentNumberScheduled"] == 0


def test_failed_pod_is_deleted_with_event_and_surplus_pruned():
    d = ds()
    h, rev = current_hash(d)
    pods = [daemon_pod("p1", "a", h, phase="Failed", ready=False),
            daemon_pod("p2", "b", h, created=NOW - 200), daemon_pod("p3", "b", h, created=NOW - 10)]
    plan = reconcile_daemonset(d, [node("a"), node("b")], pods, [rev | {"metadata": {
        **rev["metadata"], "uid": "r1", "ownerReferences": [{"uid": "ds-uid", "controller": True}]}}],
        now=NOW)
    assert sorted(a.ref.name for a in plan.of_type(Delete)) == ["p1", "p3"]
    assert ("Warning", "FailedDaemonPod",
            "Found failed daemon pod kube-system/p1 on node a, will try to kill it") in [
        (e.type, e.reason, e.message) for e in plan.events]
    # back-off: a failed pod on a node in back-off is left alone and the key requeued.
    plan = reconcile_daemonset(d, [node("a")], pods[:1], now=NOW,
                               failed_pod_backoff_until={"a": NOW + 8})
    assert not plan.of_type(Delete) and plan.requeue_after == 8


def _rev_obj(rev: dict) -> dict:
    return rev | {"metadata": {**rev["metadata"], "uid": "r", "creationTimestamp": format_time(NOW - 1000),
                               "ownerReferences": [{"uid": "ds-uid", "controller": True}]}}


def test_rolling_update_max_unavailable_deletes_old_pods_within_budget():
    old = ds()
    old_hash, old_rev = current_hash(old)
    new = ds(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}})
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    nodes = [node(f"n{i}") for i in range(5)]
    pods = [daemon_pod(f"p{i}", f"n{i}", old_hash) for i in range(5)]
    plan = reconcile_daemonset(new, nodes, pods, [_rev_obj(old_rev)], now=NOW)
    assert [a.ref.name for a in plan.of_type(Delete)] == ["p0", "p1"]
    assert not [a for a in plan.of_type(Create) if a.ref.kind == "Pod"]
    # 25% of 5 nodes rounds up to 2 as well.
    new["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = "25%"
    plan = reconcile_daemonset(new, nodes, pods, [_rev_obj(old_rev)], now=NOW)
    assert len(plan.of_type(Delete)) == 2


def test_rolling_update_max_surge_creates_new_beside_old():
    old = ds()
    old_hash, old_rev = current_hash(old)
    new = ds(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    new_hash, _ = current_hash(new)
    nodes = [node("a"), node("b")]
    pods = [daemon_pod("pa", "a", old_hash), daemon_pod("pb", "b", old_hash)]
    plan = reconcile_daemonset(new, nodes, pods, [_rev_obj(old_rev)], now=NOW)
    creates = [a for a in plan.actions if isinstance(a, Create) and a.ref.kind == "Pod"]
    assert len(creates) == 1 and not plan.of_type(Delete)
    assert creates[0].body["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["a"]
    # Once the surge pod is available, the old one goes.
    pods.append(daemon_pod("pa2", "a", new_hash, created=NOW - 10))
    plan = reconcile_daemonset(new, nodes, pods, [_rev_obj(old_rev)], now=NOW)
    assert [a.ref.name for a in plan.of_type(Delete)] == ["pa"]


def test_pod_on_node_that_should_not_run_is_deleted_and_status_counts_misscheduled():
    d = ds()
    h, rev = current_hash(d)
    evicting = node("a", taints=[{"key": "k", "effect": "NoExecute"}])
    plan = reconcile_daemonset(d, [evicting], [daemon_pod("pa", "a", h)], [_rev_obj(rev)], now=NOW)
    assert [a.ref.name for a in plan.of_type(Delete)] == ["pa"]
    status = plan.of_type(Update)[0].body["status"]
    assert status["numberMisscheduled"] == 1 and status["desiredNumberScheduled"] == 0
