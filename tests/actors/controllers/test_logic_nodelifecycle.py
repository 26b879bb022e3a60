"""Node lifecycle logic: grace period, Unknown conditions, NoExecute taints with rate limits
and zone disruption states, condition taints, taint-based eviction with tolerationSeconds."""

from __future__ import annotations

import copy

from actors.controllers import (
    Delete,
    NodeLifecycleConfig,
    Patch,
    Update,
    compute_zone_state,
    monitor_node_health,
    reconcile_node_condition_taints,
    reconcile_taint_eviction,
    zone_key,
)
from actors.controllers._plan import format_time

T0 = 1_700_000_000.0


def node(name: str, ready: str = "True", *, beat: float = T0, zone: str = "z1", taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": format_time(T0 - 1000),
                         "labels": {"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": zone}},
            "spec": {"taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": format_time(beat),
                                       "lastTransitionTime": format_time(T0 - 1000)},
                                      {"type": "MemoryPressure", "status": "False"}]}}


def pod(name: str, node_name: str, tolerations: list | None = None) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
            "spec": {"nodeName": node_name, "tolerations": tolerations or []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def apply_node_writes(nodes: dict[str, dict], plan) -> None:
    for a in plan.actions:
        if a.ref.kind != "Node":
            continue
        if isinstance(a, Update):
            nodes[a.ref.name]["status"] = copy.deepcopy(a.body["status"])
        elif isinstance(a, Patch):
            nodes[a.ref.name]["spec"]["taints"] = copy.deepcopy(a.patch["spec"]["taints"]) or []


def taint_keys(n: dict) -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in n["spec"]["taints"]]


def test_zone_key_and_zone_states():
    assert zone_key(node("a")) == "r:\x00:z1"
    assert zone_key({"metadata": {"name": "x"}}) == ""
    assert compute_zone_state(["True", "True"]) == (0, "Normal")
    assert compute_zone_state(["Unknown", "False"]) == (2, "FullDisruption")
    assert compute_zone_state(["True"] * 4 + ["Unknown"] * 5) == (5, "PartialDisruption")
    assert compute_zone_state(["True"] * 1 + ["Unknown"] * 2) == (2, "Normal")  # needs more than 2


def test_silent_node_goes_unknown_then_tainted_unreachable():
    nodes = {"a": node("a"), "b": node("b")}
    pods = [pod("web", "a")]
    r = monitor_node_health(list(nodes.values()), [], pods, now=T0)
    assert [(e.reason, e.message) for e in r.plan.events] == [
        ("RegisteredNode", "Node a event: Registered Node a in Controller"),
        ("RegisteredNode", "Node b event: Registered Node b in Controller")]
    assert r.plan.requeue_after == 5
    # b keeps posting; a falls silent. 40 s is still within the grace period.
    nodes["b"] = node("b", beat=T0 + 40)
    r = monitor_node_health(list(nodes.values()), [], pods, r.state, now=T0 + 40)
    assert not r.plan.actions
    nodes["b"] = node("b", beat=T0 + 41)
    r = monitor_node_health(list(nodes.values()), [], pods, r.state, now=T0 + 41)
    status = r.plan.actions[0]
    assert isinstance(status, Update) and status.ref.name == "a" and status.subresource == "status"
    conds = {c["type"]: c for c in status.body["status"]["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert conds["MemoryPressure"]["status"] == "Unknown"
    assert conds["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert ("NodeNotReady", "Node a status is now: NodeNotReady") in [(e.reason, e.message) for e in r.plan.events]
    pod_update = next(a for a in r.plan.actions if a.ref.kind == "Pod")
    assert pod_update.body["status"]["conditions"][0]["status"] == "False"
    assert pod_update.on_success[0].message == "Node is not ready"
    apply_node_writes(nodes, r.plan)
    nodes["b"] = node("b", beat=T0 + 46)
    r = monitor_node_health(list(nodes.values()), [], pods, r.state, now=T0 + 46)
    patch = next(a for a in r.plan.actions if isinstance(a, Patch))
    assert patch.ref.name == "a"
    assert patch.patch["spec"]["taints"] == [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                                              "timeAdded": format_time(T0 + 46)}]


def test_lease_renewal_keeps_node_alive():
    nodes = [node("a")]
    lease = {"metadata": {"name": "a", "namespace": "kube-node-lease"},
             "spec": {"renewTime": "2023-11-14T22:13:15.000000Z"}}
    r = monitor_node_health(nodes, [lease], [], now=T0)
    lease2 = copy.deepcopy(lease)
    lease2["spec"]["renewTime"] = format_time(T0 + 30)
    r = monitor_node_health(nodes, [lease2], [], r.state, now=T0 + 30)
    r = monitor_node_health(nodes, [lease2], [], r.state, now=T0 + 65)
    assert not r.plan.actions  # probed at T0+30 thanks to the lease: 35 s of silence only


def test_not_ready_swaps_unreachable_taint_at_once_and_ready_removes_taints():
    unreachable = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": format_time(T0)}]
    nodes = [node("a", "False", taints=unreachable), node("b")]
    r = monitor_node_health(nodes, [], [], now=T0)
    patch = next(a for a in r.plan.actions if isinstance(a, Patch))
    assert [t["key"] for t in patch.patch["spec"]["taints"]] == ["node.kubernetes.io/not-ready"]
    nodes = [node("a", "True", taints=unreachable), node("b")]
    r = monitor_node_health(nodes, [], [], now=T0)
    patch = next(a for a in r.plan.actions if isinstance(a, Patch))
    assert patch.patch["spec"]["taints"] is None


def test_eviction_rate_limit_one_node_per_ten_seconds_in_a_normal_zone():
    nodes = [node(f"n{i}") for i in range(8)] + [node("x1", "Unknown"), node("x2", "Unknown")]
    r = monitor_node_health(nodes, [], [], now=T0)
    tainted = [a.ref.name for a in r.plan.actions if isinstance(a, Patch)]
    assert tainted == ["x1"]
    assert r.state.zone_states == {"r:\x00:z1": "Normal"}
    assert r.plan.requeue_after == 5  # the monitor period comes before the next token (10 s)
    r = monitor_node_health(nodes, [], [], r.state, now=T0 + 5)
    assert not [a for a in r.plan.actions if isinstance(a, Patch)]
    r = monitor_node_health(nodes, [], [], r.state, now=T0 + 10)
    assert [a.ref.name for a in r.plan.actions if isinstance(a, Patch)] == ["x2"]


def test_partial_disruption_in_small_zone_stops_evictions_large_zone_slows_them():
    nodes = [node(f"n{i}") for i in range(4)] + [node(f"x{i}", "Unknown") for i in range(5)]
    r = monitor_node_health(nodes, [], [], now=T0)
    assert r.state.zone_states == {"r:\x00:z1": "PartialDisruption"}
    assert not [a for a in r.plan.actions if isinstance(a, Patch)]
    big = [node(f"n{i}") for i in range(20)] + [node(f"x{i}", "Unknown") for i in range(40)]
    r = monitor_node_health(big, [], [], now=T0)
    assert r.state.zone_states == {"r:\x00:z1": "PartialDisruption"}
    assert r.state.buckets["r:\x00:z1"].qps == 0.01


def test_full_disruption_everywhere_removes_taints_and_stops():
    unreachable = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    nodes = [node("a", "Unknown", taints=unreachable), node("b", "Unknown", zone="z2")]
    r = monitor_node_health(nodes, [], [], now=T0)
    assert set(r.state.zone_states.values()) == {"FullDisruption"}
    patches = [a for a in r.plan.actions if isinstance(a, Patch)]
    assert [(p.ref.name, p.patch["spec"]["taints"]) for p in patches] == [("a", None)]
    # One zone alone fully down, another healthy: that zone is tainted at the normal rate.
    nodes = [node("a", "Unknown"), node("b", zone="z2")]
    r = monitor_node_health(nodes, [], [], now=T0)
    assert r.state.zone_states["r:\x00:z1"] == "FullDisruption"
    assert [a.ref.name for a in r.plan.actions if isinstance(a, Patch)] == ["a"]


def test_removed_node_event_and_config_grace_period():
    r = monitor_node_health([node("a")], [], [], now=T0)
    r = monitor_node_health([], [], [], r.state, now=T0 + 1)
    assert [(e.reason, e.message) for e in r.plan.events] == [
        ("RemovingNode", "Node a event: Removing Node a from Controller")]
    cfg = NodeLifecycleConfig(grace_period=50)
    r = monitor_node_health([node("a")], [], [], now=T0, config=cfg)
    r = monitor_node_health([node("a")], [], [], r.state, now=T0 + 45, config=cfg)
    assert not r.plan.actions


def test_condition_taints_no_schedule():
    n = node("a", "False")
    n["spec"]["unschedulable"] = True
    plan = reconcile_node_condition_taints(n, now=T0)
    assert taint_keys({"spec": {"taints": plan.actions[0].patch["spec"]["taints"]}}) == [
        ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
    n = node("a", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
                          {"key": "dedicated", "effect": "NoSchedule"}])
    plan = reconcile_node_condition_taints(n, now=T0)
    assert plan.actions[0].patch["spec"]["taints"] == [{"key": "dedicated", "effect": "NoSchedule"}]
    assert not reconcile_node_condition_taints(node("a"), now=T0).actions


def test_taint_eviction_tolerations_and_seconds():
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    n = node("a", "Unknown", taints=[taint])
    default = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300}]
    forever = [{"operator": "Exists"}]
    pods = [pod("bare", "a"), pod("web", "a", default), pod("agent", "a", forever), pod("other", "b")]
    r = reconcile_taint_eviction(n, pods, {}, now=T0)
    assert [(e.reason, e.message) for e in r.plan.events] == [
        ("TaintManagerEviction", "Marking for deletion Pod default/bare")]
    assert [a.ref.name for a in r.plan.actions if isinstance(a, Delete)] == ["bare"]
    cond = r.plan.actions[0].patch["status"]["conditions"][0]
    assert (cond["type"], cond["reason"]) == ("DisruptionTarget", "DeletionByTaintManager")
    assert r.scheduled == {"default/web": T0} and r.plan.requeue_after == 300
    r = reconcile_taint_eviction(n, pods[1:], r.scheduled, now=T0 + 299)
    assert not r.plan.actions and r.plan.requeue_after == 1
    r = reconcile_taint_eviction(n, pods[1:], r.scheduled, now=T0 + 300)
    assert [a.ref.name for a in r.plan.actions if isinstance(a, Delete)] == ["web"]
    healed = node("a")
    r = reconcile_taint_eviction(healed, pods[1:], {"default/web": T0}, now=T0 + 10)
    assert [e.message for e in r.plan.events] == ["Cancelling deletion of Pod default/web"]
    assert r.scheduled == {}
