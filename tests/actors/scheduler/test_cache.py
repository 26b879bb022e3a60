"""SchedulerCache: assume/confirm/forget, incremental snapshots in node-tree order, and a
stateful property: scheduling through the cache never over-commits a node, and the
incremental snapshot always equals one built from scratch."""

from __future__ import annotations

import random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.scheduler import AlgorithmState, Profile, Snapshot, schedule_one
from actors.scheduler._cache import CacheError, CacheInvariantError, SchedulerCache
from tests.actors.scheduler.test_builders import make_node, make_pod, pi


def cache_with(*nodes):
    c = SchedulerCache()
    for n in nodes:
        c.add_node(n)
    return c


def test_assumed_pod_counts_before_binding_and_forget_releases_it():
    c = cache_with(make_node("a", cpu="2"))
    snap = Snapshot()
    p = pi(make_pod("p", cpu="1500m"))
    assumed = c.assume_pod(p, "a")
    c.update_snapshot(snap)
    assert snap.get("a").req_cpu == 1500 and c.is_assumed_pod(p)
    r = schedule_one(pi(make_pod("q", cpu="1")), snap, Profile(), AlgorithmState(random.Random()))
    assert r.node is None  # the assumed pod already holds the room
    c.finish_binding(assumed, now=1.0)
    c.forget_pod(assumed)  # binding failed
    c.update_snapshot(snap)
    assert snap.get("a").req_cpu == 0 and not c.is_assumed_pod(p)
    with pytest.raises(CacheError, match="wasn't assumed"):
        c.forget_pod(assumed)


def test_informer_add_confirms_an_assumed_pod():
    c = cache_with(make_node("a"))
    p = pi(make_pod("p", cpu="1"))
    c.assume_pod(p, "a")
    c.add_pod(make_pod("p", cpu="1", node="a"))
    assert not c.is_assumed_pod(p) and c.pod_count() == 1
    assert c.node_info("a").req_cpu == 1000
    with pytest.raises(CacheError, match="already in added state"):
        c.add_pod(make_pod("p", cpu="1", node="a"))
    with pytest.raises(CacheError, match="can't be assumed"):
        c.assume_pod(p, "a")
    # an assumed pod bound elsewhere by someone else moves with the informer's truth
    c.assume_pod(pi(make_pod("q", cpu="1")), "a")
    c.add_node(make_node("b"))
    c.add_pod(make_pod("q", cpu="1", node="b"))
    assert c.node_info("a").req_cpu == 1000 and c.node_info("b").req_cpu == 1000


def test_update_and_remove_pod():
    c = cache_with(make_node("a"))
    c.add_pod(make_pod("p", cpu="1", node="a"))
    c.update_pod(None, make_pod("p", cpu="2", node="a"))
    assert c.node_info("a").req_cpu == 2000
    with pytest.raises(CacheInvariantError):
        c.update_pod(None, make_pod("p", cpu="2", node="b"))
    c.remove_pod(make_pod("p", node="a"))
    assert c.node_info("a").req_cpu == 0 and c.pod_count() == 0
    with pytest.raises(CacheError, match="not found"):
        c.remove_pod(make_pod("p", node="a"))


def test_assumed_pod_ttl_expiry():
    c = SchedulerCache(assumed_pod_ttl=30.0)
    c.add_node(make_node("a"))
    p = c.assume_pod(pi(make_pod("p", cpu="1")), "a")
    assert c.cleanup_assumed_pods(now=100.0) == []  # binding not finished: never expires
    c.finish_binding(p, now=100.0)
    assert c.cleanup_assumed_pods(now=129.0) == []
    assert [x.name for x in c.cleanup_assumed_pods(now=131.0)] == ["p"]
    assert c.node_info("a").req_cpu == 0


def test_snapshot_is_incremental_and_zone_interleaved():
    zone = "topology.kubernetes.io/zone"
    c = cache_with(make_node("a1", labels={zone: "a"}), make_node("a2", labels={zone: "a"}),
                   make_node("b1", labels={zone: "b"}), make_node("a3", labels={zone: "a"}),
                   make_node("c1", labels={zone: "c"}))
    snap = Snapshot()
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["a1", "b1", "c1", "a2", "a3"]
    b1_before = snap.get("b1")
    gen = snap.generation
    c.add_pod(make_pod("p", cpu="1", node="a2"))
    c.update_snapshot(snap)
    assert snap.generation > gen and snap.get("a2").req_cpu == 1000
    assert snap.get("b1") is b1_before  # untouched nodes are not copied again
    c.remove_node(make_node("b1"))
    c.update_snapshot(snap)
    assert [n.name for n in snap.node_info_list] == ["a1", "c1", "a2", "a3"]
    # a node removed while it still has pods lingers in the cache but not the snapshot
    c.remove_node(make_node("a2"))
    c.update_snapshot(snap)
    assert "a2" not in snap.node_info_map and c.node_info("a2") is not None
    c.remove_pod(make_pod("p", node="a2"))
    assert c.node_info("a2") is None


def test_snapshot_tracks_pods_with_affinity_and_image_spread():
    aff = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    c = cache_with(make_node("a", images=[(["img:1"], 100)]), make_node("b"))
    snap = Snapshot()
    c.update_snapshot(snap)
    assert snap.get("a").image_states["img:1"].num_nodes == 1
    c.add_pod(make_pod("p", node="b", affinity=aff))
    c.add_node(make_node("c", images=[(["img:1"], 100)]))
    c.update_snapshot(snap)
    assert [n.name for n in snap.have_pods_with_required_anti_affinity] == ["b"]
    assert snap.get("a").image_states["img:1"].num_nodes == 2  # a itself did not change


# -- the stateful property --------------------------------------------------------------------

CPU = st.sampled_from(["100m", "250m", "500m", "1", "1500m", "2"])
MEM = st.sampled_from(["64Mi", "256Mi", "1Gi", "3Gi"])


class SchedulingThroughTheCache(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.cache = SchedulerCache()
        self.snap = Snapshot()
        self.state = AlgorithmState(random.Random(0))
        self.profile = Profile()
        self.nodes: dict[str, dict] = {}
        self.bound: dict[str, dict] = {}  # pod name -> API object (with nodeName)
        self.assumed: dict[str, object] = {}  # pod name -> assumed PodInfo
        self.n = 0

    @rule(cpu=st.sampled_from(["1", "2", "4"]), mem=st.sampled_from(["1Gi", "4Gi"]),
          pods=st.sampled_from(["2", "5", "110"]))
    def add_node(self, cpu, mem, pods):
        name = f"node-{len(self.nodes)}"
        self.nodes[name] = make_node(name, cpu=cpu, memory=mem, pods=pods)
        self.cache.add_node(self.nodes[name])

    @precondition(lambda self: self.nodes)
    @rule(cpu=CPU, mem=MEM, prio=st.integers(0, 3))
    def schedule(self, cpu, mem, prio):
        self.n += 1
        pod = make_pod(f"p{self.n}", cpu=cpu, memory=mem, priority=prio)
        self.cache.update_snapshot(self.snap)
        r = schedule_one(pi(pod), self.snap, self.profile, self.state)
        if r.node is not None:
            self.assumed[pod["metadata"]["name"]] = self.cache.assume_pod(pi(pod), r.node)

    @precondition(lambda self: self.assumed)
    @rule(data=st.data(), ok=st.booleans())
    def finish_binding(self, data, ok):
        name = data.draw(st.sampled_from(sorted(self.assumed)))
        assumed = self.assumed.pop(name)
        self.cache.finish_binding(assumed, now=0.0)
        if ok:
            self.bound[name] = assumed.pod
            self.cache.add_pod(assumed.pod)  # the informer confirms the binding
        else:
            self.cache.forget_pod(assumed)

    @precondition(lambda self: self.bound)
    @rule(data=st.data())
    def delete_bound_pod(self, data):
        name = data.draw(st.sampled_from(sorted(self.bound)))
        self.cache.remove_pod(self.bound.pop(name))

    @invariant()
    def never_overcommitted(self):
        for name in self.nodes:
            info = self.cache.node_info(name)
            alloc = info.allocatable
            assert info.req_cpu <= alloc.milli_cpu
            assert info.req_memory <= alloc.memory
            assert len(info.pods) <= alloc.allowed_pod_number

    @invariant()
    def incremental_snapshot_matches_a_fresh_one(self):
        self.cache.update_snapshot(self.snap)
        pods = [*self.bound.values(), *(a.pod for a in self.assumed.values())]
        fresh = Snapshot.from_objects(self.nodes.values(), pods)
        assert sorted(self.snap.node_info_map) == sorted(fresh.node_info_map)
        for name, ni in fresh.node_info_map.items():
            got = self.snap.get(name)
            assert (got.req_cpu, got.req_memory, got.non0_cpu, len(got.pods)) == (
                ni.req_cpu, ni.req_memory, ni.non0_cpu, len(ni.pods))


TestSchedulingThroughTheCache = SchedulingThroughTheCache.TestCase
TestSchedulingThroughTheCache.settings = settings(max_examples=40, stateful_step_count=30,
                                                  deadline=None, derandomize=True)
