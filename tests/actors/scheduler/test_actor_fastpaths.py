"""The scheduling hot paths added for the actor's throughput agree with the plain ones:
batch ``filter_nodes``/``score_nodes`` equal per-node ``filter``/``score``, the chunked
filter search examines exactly the nodes a node-by-node search would, interned affinity
terms and their fast matchers agree with the selectors, and the snapshot's incremental
affinity lists hold the same nodes as a full rescan."""

from __future__ import annotations

import random

import pytest

from actors.scheduler import AlgorithmState, CycleState, Profile, SchedulerCache, Snapshot
from actors.scheduler import schedule_one as run_schedule_one
from actors.scheduler._plugins.helper import affinity_term
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot

CPUS = ["0", "1", "2", "4", "250m", "3500m"]
MEMS = ["0", "512Mi", "1Gi", "4Gi"]


def random_cluster(rng: random.Random, n_nodes: int = 40, n_pods: int = 80):
    nodes = []
    for i in range(n_nodes):
        taints = ([{"key": "k", "value": rng.choice(["a", "b"]),
                    "effect": rng.choice(["NoSchedule", "PreferNoSchedule", "NoExecute"])}]
                  if rng.random() < 0.3 else None)
        nodes.append(make_node(
            f"n{i:03d}", cpu=rng.choice(CPUS[1:]), memory=rng.choice(MEMS[1:]),
            pods=rng.choice(["3", "110"]), labels={"zone": rng.choice("abc"),
                                                   "disk": rng.choice(["ssd", "hdd"])},
            taints=taints, unschedulable=rng.random() < 0.1,
            images=[(names, rng.choice([50, 300, 900]) * 1024 * 1024) for names in rng.sample(
                [["nginx:latest"], ["busybox:latest"]], rng.randint(1, 2))]
            if rng.random() < 0.3 else None,
            extra={"cpu": "0"} if rng.random() < 0.05 else None))
    pods = []
    for i in range(n_pods):
        pods.append(make_pod(f"e{i:03d}", cpu=rng.choice(CPUS), memory=rng.choice(MEMS),
                             node=f"n{rng.randrange(n_nodes):03d}",
                             labels={"app": rng.choice("xyz")}))
    return nodes, pods


def incoming(rng: random.Random, i: int):
    kw: dict = {"cpu": rng.choice(CPUS), "memory": rng.choice(MEMS),
                "labels": {"app": rng.choice("xyz")}}
    if rng.random() < 0.3:
        kw["tolerations"] = [{"key": "k", "operator": "Exists"}]
    if rng.random() < 0.4:
        kw["spread"] = [{"maxSkew": rng.randint(1, 3), "topologyKey": key,
                         "whenUnsatisfiable": "ScheduleAnyway",
                         "labelSelector": {"matchLabels": {"app": rng.choice("xyz")}}}
                        for key in rng.choice([["zone"], ["kubernetes.io/hostname"],
                                               ["zone", "kubernetes.io/hostname"]])]
    if rng.random() < 0.5:
        kw["images"] = rng.choice([["nginx:latest"], ["busybox"], ["nginx:latest", "nginx"]])
    if rng.random() < 0.3:
        kw["node_selector"] = {"disk": rng.choice(["ssd", "hdd"])}
    if rng.random() < 0.3:
        kw["affinity"] = {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": rng.choice(["In", "NotIn"]),
                                       "values": [rng.choice("abc")]}]}]}},
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": rng.choice("xyz")}},
                 "topologyKey": rng.choice(["zone", "kubernetes.io/hostname"])}]}}
    return make_pod(f"p{i}", **kw)


def cache_snapshot(nodes, pods) -> Snapshot:
    """The scheduler's own snapshot: NodeInfos cloned by the cache, image counts read live."""
    cache = SchedulerCache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(pi(p))
    snap = Snapshot()
    cache.update_snapshot(snap)
    return snap


@pytest.mark.parametrize("build", [snapshot, cache_snapshot], ids=["from_objects", "cache"])
@pytest.mark.parametrize("seed", range(6))
def test_batch_filters_and_scores_equal_the_per_node_ones(seed, build):
    rng = random.Random(seed)
    nodes, pods = random_cluster(rng)
    snap = build(nodes, pods)
    profile = Profile()
    scored: set[str] = set()
    image_scores: set[int] = set()
    for i in range(15):
        pod = pi(incoming(rng, i))
        state = CycleState()
        _, rejection, _ = profile.run_pre_filter_plugins(state, pod, snap)
        if rejection is not None:
            continue
        infos = snap.node_info_list
        batch = profile.run_filter_plugins_batch(state, pod, infos)
        assert batch == [profile.run_filter_plugins(state, pod, n) for n in infos]
        for pl in profile.filter:
            if hasattr(pl, "filter_nodes") and pl.name not in state.skip_filter_plugins:
                assert pl.filter_nodes(state, pod, infos) == [
                    pl.filter(state, pod, n) for n in infos], pl.name
        feasible = [n for n, s in zip(infos, batch) if s is None]
        if not feasible:
            continue
        profile.run_pre_score_plugins(state, pod, feasible, snap)
        for pl in profile.score:
            if hasattr(pl, "score_nodes") and pl.name not in state.skip_score_plugins:
                assert pl.score_nodes(state, pod, feasible) == [
                    pl.score(state, pod, n) for n in feasible], pl.name
                scored.add(pl.name)
                if pl.name == "ImageLocality":
                    image_scores.update(pl.score_nodes(state, pod, feasible))
    # every batch scorer was compared, and image locality saw both present and absent images
    assert {"ImageLocality", "PodTopologySpread", "NodeResourcesFit"} <= scored
    assert len(image_scores) > 1


def test_chunked_search_examines_the_same_nodes_as_a_node_by_node_one():
    rng = random.Random(3)
    nodes, pods = random_cluster(rng, n_nodes=300, n_pods=60)
    snap = snapshot(nodes, pods)
    profile = Profile(percentage_of_nodes_to_score=10)
    for i in range(10):
        # Small pods: most nodes fit, so the search stops after 100 feasible ones.
        pod = pi(make_pod(f"p{i}", cpu="100m", labels={"app": "x"},
                          tolerations=[{"key": "k", "operator": "Exists"}] if i % 2 else None))
        state = AlgorithmState(random.Random(i), next_start_node_index=rng.randrange(300))
        start = state.next_start_node_index
        r = run_schedule_one(pod, snap, profile, state)
        # Reference: walk node by node from the same start until 100 feasible are found.
        cstate = CycleState()
        _, rejection, _ = profile.run_pre_filter_plugins(cstate, pod, snap)
        if rejection is not None:
            continue
        feasible, rejected, examined = 0, {}, 0
        for j in range(300):
            if feasible >= 100:
                break
            node = snap.node_info_list[(start + j) % 300]
            examined += 1
            s = profile.run_filter_plugins(cstate, pod, node)
            if s is None:
                feasible += 1
            else:
                rejected[node.name] = s
        assert r.node is not None and feasible == 100 and examined < 300
        assert r.diagnosis.node_to_status == rejected and rejected
        assert state.next_start_node_index == (start + examined) % 300
        assert r.feasible_count == feasible


def test_interned_terms_and_fast_matchers_agree_with_selectors():
    a = pi(make_pod("a", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "zone"}]}}))
    b = pi(make_pod("b", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "zone", "labelSelector": {"matchLabels": {"app": "x"}}}]}}))
    assert a.required_anti_affinity_terms[0] is b.required_anti_affinity_terms[0]
    raws = [
        {"labelSelector": {"matchLabels": {"app": "x", "tier": "web"}}, "topologyKey": "z"},
        {"labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["x", "y"]}]}, "topologyKey": "z"},
        {"labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "NotIn", "values": ["x"]}]}, "topologyKey": "z"},
        {"labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "Exists"}]}, "topologyKey": "z"},
        {"labelSelector": {}, "topologyKey": "z"},
        {"topologyKey": "z"},
    ]
    labelsets = [{}, {"app": "x"}, {"app": "y"}, {"app": "x", "tier": "web"},
                 {"tier": "web"}, {"app": "z", "tier": "db"}]
    for raw in raws:
        t = affinity_term("default", raw)
        slow = type(t)(t.namespaces, t.selector, t.topology_key, t.namespace_selector, None)
        for labels in labelsets:
            for ns in ("default", "other"):
                assert t.matches(ns, labels, None) == slow.matches(ns, labels, None), (raw, labels)


def test_incremental_affinity_lists_hold_the_nodes_a_rescan_finds():
    rng = random.Random(5)
    cache = SchedulerCache()
    for i in range(30):
        cache.add_node(make_node(f"n{i:02d}"))
    snap = Snapshot()
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "zone"}]}}
    placed = []
    for step in range(200):
        if placed and rng.random() < 0.35:
            cache.remove_pod(placed.pop(rng.randrange(len(placed))))
        else:
            p = pi(make_pod(f"p{step}", node=f"n{rng.randrange(30):02d}",
                            affinity=anti if rng.random() < 0.5 else None))
            cache.add_pod(p)
            placed.append(p)
        cache.update_snapshot(snap)
        expect = Snapshot()
        expect.set_node_infos(snap.node_info_list)
        assert {n.name for n in snap.have_pods_with_affinity} == {
            n.name for n in expect.have_pods_with_affinity}
        assert {n.name for n in snap.have_pods_with_required_anti_affinity} == {
            n.name for n in expect.have_pods_with_required_anti_affinity}
        assert len(snap.have_pods_with_affinity) == len(expect.have_pods_with_affinity)
