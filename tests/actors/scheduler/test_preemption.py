"""DefaultPreemption: victims (fewest, lowest priority), the node choice rules, PDBs."""

from __future__ import annotations

import random

from actors.scheduler import AlgorithmState, Profile, fit_error_message, schedule_one
from actors.scheduler._plugins.defaultpreemption import (
    Candidate,
    DefaultPreemption,
    pick_one_node_for_preemption,
    split_by_pdb,
)
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot


def preempt(pod, nodes, existing, pdbs=(), seed=0):
    snap = snapshot(nodes, list(existing))
    snap.pdbs = list(pdbs)
    r = schedule_one(pi(pod), snap, Profile(), AlgorithmState(random.Random(seed)))
    assert r.node is None
    return r, snap


def victims(r):
    return r.post_filter.nominated_node_name, [v.name for v in r.post_filter.victims]


def test_evicts_the_fewest_lowest_priority_pods():
    nodes = [make_node("a", cpu="4"), make_node("b", cpu="4")]
    existing = [
        make_pod("a-low", cpu="1", node="a", priority=1),
        make_pod("a-mid", cpu="1", node="a", priority=5),
        make_pod("a-big", cpu="2", node="a", priority=3),
        make_pod("b-big", cpu="3", node="b", priority=2),
        make_pod("b-high", cpu="1", node="b", priority=50),
    ]
    # needs 2 cpu: on a, evicting a-big (3) suffices (a-mid and a-low reprieved);
    # on b, b-big (2). b's highest victim priority (2) is lower: b wins.
    r, _ = preempt(make_pod("p", cpu="2", priority=10), nodes, existing)
    assert victims(r) == ("b", ["b-big"])
    assert fit_error_message(r.diagnosis, 2) == "0/2 nodes are available: 2 Insufficient cpu."


def test_reprieves_higher_priority_pods_first():
    nodes = [make_node("a", cpu="3")]
    existing = [make_pod(f"v{p}", cpu="1", node="a", priority=p) for p in (1, 2, 3)]
    r, _ = preempt(make_pod("p", cpu="2", priority=10), nodes, existing)
    assert victims(r) == ("a", ["v2", "v1"])  # most important first


def test_higher_priority_pods_are_never_victims():
    nodes = [make_node("a", cpu="2")]
    existing = [make_pod("hi", cpu="2", node="a", priority=100)]
    r, _ = preempt(make_pod("p", cpu="1", priority=10), nodes, existing)
    assert victims(r) == ("", [])
    assert r.diagnosis.post_filter_msg == (
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_unresolvable_nodes_are_not_tried():
    nodes = [make_node("a", cpu="2", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
             make_node("b", cpu="2")]
    existing = [make_pod("x", cpu="2", node="a"), make_pod("y", cpu="2", node="b", priority=50)]
    r, _ = preempt(make_pod("p", cpu="1", priority=10), nodes, existing)
    assert r.diagnosis.post_filter_msg == (
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling.")


def test_still_not_fitting_after_evictions_reports_the_filter_reason():
    nodes = [make_node("a", cpu="2")]
    existing = [make_pod("hi", cpu="1500m", node="a", priority=100),
                make_pod("lo", cpu="500m", node="a", priority=0)]
    r, _ = preempt(make_pod("p", cpu="1", priority=10), nodes, existing)
    assert r.diagnosis.post_filter_msg == (
        "preemption: 0/1 nodes are available: 1 Insufficient cpu.")


def test_pdb_violations_are_avoided_when_possible():
    nodes = [make_node("a", cpu="1"), make_node("b", cpu="1")]
    existing = [make_pod("guarded", cpu="1", node="a", labels={"app": "db"}),
                make_pod("free", cpu="1", node="b", labels={"app": "web"}, priority=1)]
    pdb = {"metadata": {"name": "db", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    # without the PDB, a's victim has the lower priority (0) and a would win
    r, _ = preempt(make_pod("p", cpu="1", priority=10), nodes, existing)
    assert victims(r) == ("a", ["guarded"])
    r, _ = preempt(make_pod("p", cpu="1", priority=10), nodes, existing, [pdb])
    assert victims(r) == ("b", ["free"])


def test_split_by_pdb_budget_and_empty_selector():
    pods = [pi(make_pod(f"p{i}", labels={"app": "db"})) for i in range(3)]
    pdb = {"metadata": {"namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 2}}
    bad, ok = split_by_pdb(pods, [pdb])
    assert [p.name for p in ok] == ["p0", "p1"] and [p.name for p in bad] == ["p2"]
    empty = {**pdb, "spec": {"selector": {}}}
    assert split_by_pdb(pods, [empty]) == ([], pods)


def test_pick_one_node_rules_in_order():
    def c(name, prios, violations=0, starts=None):
        vs = [pi(make_pod(f"{name}{i}", priority=p, start_time=(starts or {}).get(i)))
              for i, p in enumerate(prios)]
        return Candidate(name, vs, violations)

    assert pick_one_node_for_preemption([c("a", [1], 1), c("b", [9])]).name == "b"
    assert pick_one_node_for_preemption([c("a", [5, 1]), c("b", [3, 3])]).name == "b"
    assert pick_one_node_for_preemption([c("a", [3, 2]), c("b", [3, 1])]).name == "b"
    # the 2**31 offset makes more victims weigh more even at low priority
    assert pick_one_node_for_preemption([c("a", [3, 3]), c("b", [3, 1, 1])]).name == "a"
    # equal sums (with the 2**31 offset, fewer pods has the smaller sum)
    assert pick_one_node_for_preemption([c("a", [3, 1]), c("b", [3])]).name == "b"
    late = c("a", [3], starts={0: "2024-05-01T00:00:00Z"})
    early = c("b", [3], starts={0: "2024-01-01T00:00:00Z"})
    assert pick_one_node_for_preemption([early, late]).name == "a"
    assert pick_one_node_for_preemption([c("x", [1]), c("y", [1])]).name == "x"
    assert pick_one_node_for_preemption([]) is None


def test_num_candidates():
    dp = DefaultPreemption()
    assert [dp.num_candidates(n) for n in (5, 100, 500, 5000)] == [5, 100, 100, 500]
