"""schedule_one: the share of nodes scored, round-robin start, tie breaking, FailedScheduling
wording, profiles with custom plugins and weights."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from actors.scheduler import (
    AlgorithmState,
    Code,
    CycleState,
    NoNodesAvailable,
    PluginError,
    Profile,
    Status,
    fit_error_message,
    num_feasible_nodes_to_find,
    schedule_one,
    select_host,
)
from actors.scheduler._framework import Diagnosis
from actors.scheduler._plugins import BINDING_KEY, NodeName, default_plugins
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot


@pytest.mark.parametrize("nodes,want", [
    (1, 1), (99, 99), (100, 100), (101, 100), (250, 120), (1000, 420), (2000, 680),
    (5000, 500), (5624, 337), (6000, 300), (10000, 500), (15000, 750),
])
def test_num_feasible_nodes_to_find_adaptive(nodes, want):
    # all nodes below 100; else (50 - n/125)% with a 5% floor, never below 100 nodes.
    assert num_feasible_nodes_to_find(0, nodes) == want


def test_num_feasible_nodes_to_find_configured_percentage():
    assert num_feasible_nodes_to_find(50, 1000) == 500
    assert num_feasible_nodes_to_find(1, 1000) == 100
    assert num_feasible_nodes_to_find(100, 5000) == 5000


def nodes(n, **kw):
    return [make_node(f"n{i:04d}", **kw) for i in range(n)]


def test_round_robin_start_index_and_evaluated_counts():
    snap = snapshot(nodes(1000))
    state = AlgorithmState(random.Random(0))
    r = schedule_one(pi(make_pod("p", cpu="100m")), snap, Profile(), state)
    # 1000 nodes: 42% -> stop after 420 feasible nodes, all of them examined
    assert (r.feasible_count, r.evaluated, state.next_start_node_index) == (420, 420, 420)
    r = schedule_one(pi(make_pod("q", cpu="100m")), snap, Profile(), state)
    assert state.next_start_node_index == 840
    r = schedule_one(pi(make_pod("r", cpu="100m")), snap, Profile(), state)
    assert state.next_start_node_index == (840 + 420) % 1000
    assert r.node in {f"n{i:04d}" for i in list(range(840, 1000)) + list(range(0, 260))}


def test_infeasible_nodes_count_as_processed():
    ns = nodes(200) + nodes(0)
    for n in ns[:50]:
        n["spec"]["unschedulable"] = True
    snap = snapshot(ns)
    state = AlgorithmState(random.Random(0))
    r = schedule_one(pi(make_pod("p")), snap, Profile(), state)
    # 200 nodes -> 100 feasible needed; the 50 cordoned ones are examined on the way
    assert (r.feasible_count, r.evaluated, state.next_start_node_index) == (100, 150, 150)


def test_select_host_reservoir_sampling_is_uniform_among_ties():
    rng = random.Random(7)
    picks = Counter(select_host(["a", "b", "c", "d"], [5, 9, 9, 9], rng) for _ in range(3000))
    assert set(picks) == {"b", "c", "d"}
    assert all(900 < c < 1100 for c in picks.values())
    assert select_host(["a", "b"], [3, 1], rng) == "a"


def test_schedule_one_prefers_the_emptier_node_and_is_seeded():
    snap = snapshot([make_node("busy"), make_node("idle")],
                    [make_pod("x", cpu="3", memory="6Gi", node="busy")])
    r = schedule_one(pi(make_pod("p", cpu="500m", memory="1Gi")), snap, Profile(),
                     AlgorithmState(random.Random(1)))
    assert r.node == "idle" and r.scores["idle"] > r.scores["busy"]
    picks = {schedule_one(pi(make_pod("p")), snapshot(nodes(5)), Profile(),
                          AlgorithmState(random.Random(s))).node for s in range(3)}
    again = {schedule_one(pi(make_pod("p")), snapshot(nodes(5)), Profile(),
                          AlgorithmState(random.Random(s))).node for s in range(3)}
    assert picks == again


def test_empty_cluster_raises():
    with pytest.raises(NoNodesAvailable):
        schedule_one(pi(make_pod("p")), snapshot([]), Profile(), AlgorithmState(random.Random()))


# -- FailedScheduling wording -----------------------------------------------------------------


def fail(pod, ns, existing=(), profile=None):
    snap = snapshot(ns, list(existing))
    r = schedule_one(pi(pod), snap, profile or Profile(), AlgorithmState(random.Random(0)))
    assert r.node is None
    return fit_error_message(r.diagnosis, len(ns)), r


def test_fit_error_insufficient_cpu_with_preemption_suffix():
    msg, r = fail(make_pod("p", cpu="3"), nodes(3, cpu="4"),
                  [make_pod(f"x{i}", cpu="2", node=f"n{i:04d}", priority=5) for i in range(3)])
    assert msg == ("0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
                   "available: 3 No preemption victims found for incoming pod.")
    assert r.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}


def test_fit_error_reasons_sorted_as_strings_and_counted():
    ns = [make_node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
          make_node("b", unschedulable=True), make_node("c", cpu="1"), make_node("d", cpu="1")]
    ns += [make_node(f"e{i}", cpu="1") for i in range(8)]
    msg, _ = fail(make_pod("p", cpu="2"), ns)
    assert msg == (
        "0/12 nodes are available: 1 node(s) had untolerated taint {k: v}, "
        "1 node(s) were unschedulable, 10 Insufficient cpu. preemption: 0/12 nodes are "
        "available: 12 Preemption is not helpful for scheduling.")


def test_fit_error_without_post_filter_and_for_prefilter_rejection():
    profile = Profile(plugins=[p for p in default_plugins() if p.name != "DefaultPreemption"])
    msg, _ = fail(make_pod("p", cpu="8"), nodes(2), profile=profile)
    assert msg == "0/2 nodes are available: 2 Insufficient cpu."
    conflict = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["nowhere"]}]}]}}}
    msg, _ = fail(make_pod("p", affinity=conflict), nodes(2), profile=profile)
    assert msg == ("0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) "
                   "[NodeAffinity].")


def test_fit_error_message_shapes():
    d = Diagnosis()
    d.node_to_status = {"a": Status.unschedulable("Too many pods", "Insufficient cpu"),
                        "b": Status.unschedulable("Insufficient cpu")}
    assert fit_error_message(d, 2) == (
        "0/2 nodes are available: 1 Too many pods, 2 Insufficient cpu.")
    d.pre_filter_msg = "pod affinity terms conflict"
    assert fit_error_message(d, 2) == "0/2 nodes are available: pod affinity terms conflict."


def test_preemption_policy_never_message():
    msg, r = fail(make_pod("p", cpu="3", priority=100, preemption_policy="Never"),
                  nodes(1, cpu="4"), [make_pod("x", cpu="2", node="n0000")])
    assert msg == ("0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible "
                   "due to preemptionPolicy=Never.")
    assert r.post_filter is None  # Kubernetes' Preempt returns nil: any nomination is kept


# -- profiles and custom plugins ------------------------------------------------------------


class PreferNode:
    """A user plugin: score 100 on one node, 0 elsewhere."""

    def __init__(self, favourite):
        self.name, self.favourite = "PreferNode", favourite

    def score(self, state, pod, node):
        return 100 if node.name == self.favourite else 0


class OnlyEven:
    name = "OnlyEven"

    def filter(self, state, pod, node):
        return None if int(node.name[1:]) % 2 == 0 else Status.unschedulable("odd node")


class Recorder:
    name = "Recorder"

    def __init__(self):
        self.calls = []

    def reserve(self, state, pod, node_name):
        self.calls.append(("reserve", node_name))
        return None

    def unreserve(self, state, pod, node_name):
        self.calls.append(("unreserve", node_name))

    def permit(self, state, pod, node_name):
        return Status(Code.WAIT), 5.0

    def post_bind(self, state, pod, node_name):
        self.calls.append(("post_bind", node_name))


def test_custom_plugins_take_part_in_their_extension_points():
    rec = Recorder()
    profile = Profile(name="mine", plugins=[*default_plugins(), OnlyEven(), PreferNode("n0003"),
                                            rec], weights={"PreferNode": 50})
    snap = snapshot(nodes(5))
    r = schedule_one(pi(make_pod("p")), snap, profile, AlgorithmState(random.Random(3)))
    assert r.node in {"n0000", "n0002", "n0004"}
    assert r.diagnosis.node_to_status["n0001"].plugin == "OnlyEven"
    state = r.cycle_state
    assert profile.run_reserve_plugins_reserve(state, pi(make_pod("p")), r.node) is None
    status, timeout = profile.run_permit_plugins(state, pi(make_pod("p")), r.node)
    assert status.code == Code.WAIT and timeout == 5.0
    profile.run_reserve_plugins_unreserve(state, pi(make_pod("p")), r.node)
    assert profile.run_bind_plugins(state, pi(make_pod("p")), r.node) is None
    assert state.read(BINDING_KEY)["target"] == {"apiVersion": "v1", "kind": "Node",
                                                 "name": r.node}
    profile.run_post_bind_plugins(state, pi(make_pod("p")), r.node)
    assert [c[0] for c in rec.calls] == ["reserve", "unreserve", "post_bind"]


def test_weights_change_the_winner():
    snap = snapshot(nodes(3))
    heavy = Profile(plugins=[*default_plugins(), PreferNode("n0001")],
                    weights={"PreferNode": 10})
    r = schedule_one(pi(make_pod("p")), snap, heavy, AlgorithmState(random.Random(0)))
    assert r.node == "n0001"


def test_profile_without_score_plugins_takes_the_first_feasible_node():
    profile = Profile(plugins=[NodeName(), OnlyEven()])
    state = AlgorithmState(random.Random(0), next_start_node_index=1)
    r = schedule_one(pi(make_pod("p")), snapshot(nodes(6)), profile, state)
    assert (r.node, r.evaluated, state.next_start_node_index) == ("n0002", 2, 3)


def test_bad_plugin_scores_raise():
    class Broken:
        name = "Broken"

        def score(self, state, pod, node):
            return 101

    with pytest.raises(PluginError, match="invalid score 101"):
        schedule_one(pi(make_pod("p")), snapshot(nodes(2)), Profile(plugins=[Broken()]),
                     AlgorithmState(random.Random(0)))
    with pytest.raises(ValueError, match="duplicate"):
        Profile(plugins=[OnlyEven(), OnlyEven()])


def test_nominated_pods_count_when_filtering():
    # a higher-priority pod nominated to n0000 takes its room first
    snap = snapshot(nodes(2, cpu="2"))
    big = pi(make_pod("big", cpu="2", priority=10))
    state = AlgorithmState(random.Random(0))
    for _ in range(5):
        r = schedule_one(pi(make_pod("p", cpu="1")), snap, Profile(), state,
                         nominated={"n0000": [big]})
        assert r.node == "n0001"
    # a lower-priority nomination does not block
    small = pi(make_pod("small", cpu="2", priority=-1))
    seen = {schedule_one(pi(make_pod("p", cpu="1")), snap, Profile(),
                         AlgorithmState(random.Random(s)), nominated={"n0000": [small]}).node
            for s in range(10)}
    assert seen == {"n0000", "n0001"}


def test_cycle_state_clone_is_independent():
    s = CycleState()
    s.write("k", [1])
    c = s.clone()
    c.skip_filter_plugins.add("X")
    assert "X" not in s.skip_filter_plugins and c.read("k") is s.read("k")
