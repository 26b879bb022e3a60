"""InterPodAffinity: required (anti-)affinity filter including existing pods' anti-affinity,
and preferred scoring with min-max normalization (filtering_test.go / scoring_test.go
shapes, numbers worked by hand)."""

from __future__ import annotations

from actors.scheduler import Code, CycleState
from actors.scheduler._plugins import InterPodAffinity
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot

HOST = "kubernetes.io/hostname"
SEC_S1 = {"matchExpressions": [{"key": "security", "operator": "In", "values": ["S1"]}]}
SEC_S2 = {"matchExpressions": [{"key": "security", "operator": "In", "values": ["S2"]}]}


def term(selector, key="region", **extra):
    return {"labelSelector": selector, "topologyKey": key, **extra}


def affinity(required=(), anti=(), preferred=(), anti_preferred=()):
    out = {}
    if required or preferred:
        out["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": list(required),
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred]}
    if anti or anti_preferred:
        out["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": list(anti),
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in anti_preferred]}
    return out


def run_filter(pod, nodes, existing=(), ns_labels=None):
    snap = snapshot(nodes, list(existing))
    snap.namespace_labels = ns_labels or {}
    pl, state, p = InterPodAffinity(), CycleState(), pi(pod)
    _, s = pl.pre_filter(state, p, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    out = {}
    for n in snap.node_info_list:
        st = pl.filter(state, p, n)
        out[n.name] = None if st is None else (st.code, st.reasons[0])
    return out


AFF = (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't match pod affinity rules")
ANTI = (Code.UNSCHEDULABLE, "node(s) didn't match pod anti-affinity rules")
EXISTING = (Code.UNSCHEDULABLE, "node(s) didn't satisfy existing pods anti-affinity rules")
NODES = [make_node("m1", labels={"region": "r1", "zone": "z1"}),
         make_node("m2", labels={"region": "r1", "zone": "z2"}),
         make_node("m3", labels={"region": "r2", "zone": "z3"})]


def test_required_affinity_needs_a_matching_pod_in_the_domain():
    pod = make_pod("p", affinity=affinity(required=[term(SEC_S1)]))
    existing = [make_pod("e", node="m1", labels={"security": "S1"})]
    assert run_filter(pod, NODES, existing) == {"m1": None, "m2": None, "m3": AFF}
    # the first pod of a group that matches its own terms may go anywhere
    self_match = make_pod("p", labels={"security": "S1"},
                          affinity=affinity(required=[term(SEC_S1)]))
    assert set(run_filter(self_match, NODES).values()) == {None}
    # ...but not once some other pod matches
    assert run_filter(self_match, NODES, existing)["m3"] == AFF
    # a node without the topology key never satisfies affinity
    bare = [make_node("bare", labels={"zone": "z9"})]
    assert run_filter(self_match, bare)["bare"] == AFF


def test_required_anti_affinity_and_existing_pods_anti_affinity():
    pod = make_pod("p", labels={"security": "S2"},
                   affinity=affinity(anti=[term(SEC_S1, key="zone")]))
    existing = [make_pod("e", node="m1", labels={"security": "S1"})]
    assert run_filter(pod, NODES, existing) == {"m1": ANTI, "m2": None, "m3": None}
    # an existing pod's anti-affinity (region) against the incoming pod's labels
    guard = make_pod("g", node="m3", labels={"x": "y"},
                     affinity=affinity(anti=[term(SEC_S2, key="region")]))
    plain = make_pod("q", labels={"security": "S2"})
    assert run_filter(plain, NODES, [guard]) == {"m1": None, "m2": None, "m3": EXISTING}
    assert run_filter(make_pod("q"), NODES, [guard]) == "skip"


def test_namespaces_and_namespace_selector():
    other_ns = [make_pod("e", ns="team-b", node="m1", labels={"security": "S1"})]
    pod = make_pod("p", affinity=affinity(required=[term(SEC_S1)]))
    assert run_filter(pod, NODES, other_ns)["m1"] == AFF  # own namespace only by default
    listed = make_pod("p", affinity=affinity(required=[term(SEC_S1, namespaces=["team-b"])]))
    assert run_filter(listed, NODES, other_ns)["m1"] is None
    by_label = make_pod("p", affinity=affinity(required=[term(
        SEC_S1, namespaceSelector={"matchLabels": {"team": "b"}})]))
    labels = {"team-b": {"team": "b"}}
    assert run_filter(by_label, NODES, other_ns, labels)["m1"] is None
    assert run_filter(by_label, NODES, other_ns, {})["m1"] == AFF


def run_score(pod, nodes, existing=(), hard_weight=1):
    snap = snapshot(nodes, list(existing))
    pl, state, p = InterPodAffinity(hard_weight), CycleState(), pi(pod)
    s = pl.pre_score(state, p, snap.node_info_list, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    raw = [pl.score(state, p, n) for n in snap.node_info_list]
    return pl.normalize_score(state, p, snap.node_info_list, raw)


def test_preferred_affinity_and_anti_affinity_scores():
    # weight 5 towards S1 in the region: m1, m2 (region r1, one S1 pod) -> 100, m3 -> 0
    pod = make_pod("p", affinity=affinity(preferred=[(5, term(SEC_S1))]))
    existing = [make_pod("e", node="m1", labels={"security": "S1"})]
    assert run_score(pod, NODES, existing) == [100, 100, 0]
    # affinity 5 to S1 by region, anti-affinity 3 to S2 by zone:
    # m1: +5 (S1 in r1) ; m2: +5 -3 (S2 on m2) ; m3: -3? no S2 in z3 -> 0
    pod = make_pod("p", affinity=affinity(preferred=[(5, term(SEC_S1))],
                                          anti_preferred=[(3, term(SEC_S2, key="zone"))]))
    existing = [make_pod("e1", node="m1", labels={"security": "S1"}),
                make_pod("e2", node="m2", labels={"security": "S2"})]
    # raw 5, 2, 0 -> min-max: 100, 40, 0
    assert run_score(pod, NODES, existing) == [100, 40, 0]
    assert run_score(make_pod("p"), NODES, existing) == "skip"


def test_existing_pods_terms_score_the_incoming_pod():
    # an existing pod with required affinity to S1 (hard weight 1) and preferred anti to S1
    e = make_pod("e", node="m3", labels={"x": "1"},
                 affinity=affinity(required=[term(SEC_S1)]))
    pod = make_pod("p", labels={"security": "S1"})
    assert run_score(pod, NODES, [e]) == [0, 0, 100]
    assert run_score(pod, NODES, [e], hard_weight=0) == "skip"
    f = make_pod("f", node="m1", labels={"x": "1"},
                 affinity=affinity(anti_preferred=[(10, term(SEC_S1, key="zone"))]))
    # m1: -10 (f's zone), m2: 0, m3: +1 (e's region) -> (s + 10) / 11
    assert run_score(pod, NODES, [e, f]) == [0, 90, 100]


def test_prefilter_state_add_remove_for_preemption():
    pod = make_pod("p", labels={"security": "S2"},
                   affinity=affinity(anti=[term(SEC_S1, key="zone")]))
    existing = [make_pod("e", node="m1", labels={"security": "S1"})]
    snap = snapshot(NODES, existing)
    pl, state, p = InterPodAffinity(), CycleState(), pi(pod)
    pl.pre_filter(state, p, snap)
    clone = state.clone()
    node = snap.get("m1").clone()
    victim = node.pods[0]
    node.remove_pod(victim)
    pl.remove_pod(clone, p, victim, node, snap)
    assert pl.filter(clone, p, node) is None
    assert pl.filter(state, p, snap.get("m1")) is not None
    pl.add_pod(clone, p, victim, node, snap)
    assert pl.filter(clone, p, node) is not None
