"""The label index behind topology spreading: the snapshot's per-node counts of pods by
label set must equal a count over every pod of every node, however the cache got there,
and the indexed PreScore/Score path must score exactly as the node-by-node path does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.scheduler import CycleState, Snapshot
from actors.scheduler._cache import SchedulerCache
from actors.scheduler._plugins import PodTopologySpread
from actors.scheduler._plugins import podtopologyspread as pts
from actors.scheduler._types import PodInfo
from tests.actors.scheduler.test_builders import make_node, make_pod

NODES = [f"node-{i}" for i in range(6)]
APPS = ["a", "b", "c"]
NAMESPACES = ["default", "other"]


def _pod(i: int, node: str, app: str, ns: str, terminating: bool) -> dict:
    p = make_pod(f"p{i}", ns=ns, node=node, labels={"app": app})
    if terminating:
        p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return p


pods_st = st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(APPS),
                             st.sampled_from(NAMESPACES), st.booleans()), max_size=30)


def _brute(snap: Snapshot) -> dict:
    out: dict = {}
    for ni in snap.node_info_list:
        for p in ni.pods:
            if not p.terminating:
                key = (p.namespace, tuple(sorted(p.labels.items())), ni.name)
                out[key] = out.get(key, 0) + 1
    return out


def _indexed(snap: Snapshot) -> dict:
    return {(gk[0], gk[1], node): n for groups in snap.pod_groups.values()
            for gk, (_, per_node) in groups.items() for node, n in per_node.items()}


@settings(max_examples=60, deadline=None)
@given(pods_st, st.lists(st.integers(0, 29), max_size=15))
def test_snapshot_index_follows_cache_updates(pods, removals):
    cache = SchedulerCache()
    for i, name in enumerate(NODES):
        cache.add_node(make_node(name, labels={"topology.kubernetes.io/zone": f"z{i % 2}"}))
    snap = Snapshot()
    objs = [_pod(i, *spec) for i, spec in enumerate(pods)]
    for k, obj in enumerate(objs):
        cache.add_pod(obj)
        if k % 7 == 0:
            cache.update_snapshot(snap)
    for r in removals:
        if r < len(objs) and objs[r] is not None:
            cache.remove_pod(objs[r])
            objs[r] = None
            cache.update_snapshot(snap)
    cache.update_snapshot(snap)
    assert _indexed(snap) == _brute(snap)


@settings(max_examples=60, deadline=None)
@given(pods_st, st.sampled_from(APPS), st.booleans())
def test_indexed_scoring_equals_node_by_node(pods, app, zoned):
    nodes = [make_node(n, labels={"topology.kubernetes.io/zone": f"z{i % 3}"} if zoned else {})
             for i, n in enumerate(NODES)]
    existing = [_pod(i, *spec) for i, spec in enumerate(pods)]
    snap = Snapshot.from_objects(nodes, existing)
    rs = {"kind": "ReplicaSet", "name": "rs", "controller": True, "apiVersion": "apps/v1",
          "uid": "u"}
    snap.controllers[("ReplicaSet", "default", "rs")] = {"matchLabels": {"app": app}}
    pod = make_pod("new", labels={"app": app})
    pod["metadata"]["ownerReferences"] = [rs]
    p = PodInfo.from_api(pod)

    def run() -> list[int]:
        plugin = PodTopologySpread()
        state = CycleState()
        cands = [snap.get(n) for n in NODES[:4]]
        assert plugin.pre_score(state, p, cands, snap) is None
        raw = [plugin.score(state, p, n) for n in cands]
        return plugin.normalize_score(state, p, cands, raw)

    fast = run()
    saved = pts._includes_every_node
    pts._includes_every_node = lambda c, pod: False  # force the node-by-node path
    try:
        slow = run()
    finally:
        pts._includes_every_node = saved
    assert fast == slow
