"""PodTopologySpread: scoring cases and numbers from Kubernetes' scoring_test.go, and
filter cases worked by hand from the skew rule (filtering_test.go's shapes)."""

from __future__ import annotations

from actors.scheduler import Code, CycleState
from actors.scheduler._plugins import PodTopologySpread
from tests.actors.scheduler.test_builders import (
    BAR_EXISTS,
    FOO_EXISTS,
    make_node,
    make_pod,
    pi,
    snapshot,
)

HOST = "kubernetes.io/hostname"


def spread(max_skew, key, when, selector, **extra):
    c = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
         "labelSelector": selector}
    c.update(extra)
    return c


def soft(max_skew, key, selector, **extra):
    return spread(max_skew, key, "ScheduleAnyway", selector, **extra)


def hard(max_skew, key, selector, **extra):
    return spread(max_skew, key, "DoNotSchedule", selector, **extra)


def node(name, **labels):
    return make_node(name, hostname=False, labels=labels)


def hnode(name, **labels):
    return make_node(name, labels=labels)


def foo_pods(spec):
    """'a:2,b:1' -> two foo-labelled pods on node-a, one on node-b."""
    out = []
    for part in spec.split(","):
        n, count = part.split(":")
        out += [make_pod(f"p-{n}{i}", node=f"node-{n}", labels={"foo": ""})
                for i in range(int(count))]
    return out


def run_score(pod, candidates, failed=(), existing=(), plugin=None, services=()):
    plugin = plugin or PodTopologySpread()
    snap = snapshot([*candidates, *failed], list(existing))
    snap.services = list(services)
    names = [c["metadata"]["name"] for c in candidates]
    nodes = [snap.get(n) for n in names]
    state = CycleState()
    p = pi(pod)
    s = plugin.pre_score(state, p, nodes, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    raw = [plugin.score(state, p, n) for n in nodes]
    return plugin.normalize_score(state, p, nodes, raw)


POD_FOO_HOST1 = make_pod("p", labels={"foo": ""}, spread=[soft(1, HOST, FOO_EXISTS)])
FOUR = [hnode(f"node-{x}") for x in "abcd"]


def test_score_one_constraint_on_hostname():
    assert run_score(POD_FOO_HOST1, FOUR[:2]) == [100, 100]
    # matching pods spread as 2/1/0/3
    existing = foo_pods("a:2,b:1,d:3")
    assert run_score(POD_FOO_HOST1, FOUR, existing=existing) == [20, 60, 100, 0]
    pod2 = make_pod("p", labels={"foo": ""}, spread=[soft(2, HOST, FOO_EXISTS)])
    assert run_score(pod2, FOUR, existing=existing) == [33, 66, 100, 16]
    pod3 = make_pod("p", labels={"foo": ""}, spread=[soft(3, HOST, FOO_EXISTS)])
    assert run_score(pod3, FOUR, existing=foo_pods("a:4,b:3,c:2,d:1")) == [44, 66, 77, 100]
    # a nil selector matches no pod: all equal
    pod_nil = make_pod("p", labels={"foo": ""}, spread=[soft(1, HOST, None)])
    assert run_score(pod_nil, FOUR, existing=existing) == [100, 100, 100, 100]


def test_score_with_failed_nodes_and_missing_keys():
    existing = foo_pods("a:4,b:2,x:1,y:3")
    cands = [hnode("node-a"), hnode("node-b"), hnode("node-x")]
    assert run_score(POD_FOO_HOST1, cands, [hnode("node-y")], existing) == [33, 83, 100]
    cands = [hnode("node-a"), node("node-b", n="node-b"), hnode("node-x")]
    assert run_score(POD_FOO_HOST1, cands, [hnode("node-y")], existing) == [16, 0, 100]


def test_score_zone_constraints():
    existing = foo_pods("a:4,b:2,x:1,y:3")
    pod = make_pod("p", labels={"foo": ""}, spread=[soft(1, "zone", FOO_EXISTS)])
    cands = [hnode("node-a", zone="zone1"), hnode("node-b", zone="zone1"),
             hnode("node-x", zone="zone2")]
    assert run_score(pod, cands, [hnode("node-y", zone="zone2")], existing) == [75, 75, 100]
    # two constraints on zone and node, 2 of 4 nodes are candidates
    pod = make_pod("p", labels={"foo": ""},
                   spread=[soft(1, "zone", FOO_EXISTS), soft(1, HOST, FOO_EXISTS)])
    cands = [hnode("node-a", zone="zone1"), hnode("node-x", zone="zone2")]
    failed = [hnode("node-b", zone="zone1"), hnode("node-y", zone="zone2")]
    assert run_score(pod, cands, failed, foo_pods("a:2,b:1,x:2,y:4")) == [100, 63]


def test_score_different_selectors_per_constraint():
    pod = make_pod("p", labels={"foo": "", "bar": ""},
                   spread=[soft(1, "zone", FOO_EXISTS), soft(1, HOST, BAR_EXISTS)])
    nodes = [hnode("node-a", zone="zone1"), hnode("node-b", zone="zone1"),
             hnode("node-x", zone="zone2"), hnode("node-y", zone="zone2")]
    existing = [make_pod("p-a1", node="node-a", labels={"foo": ""}),
                make_pod("p-b1", node="node-b", labels={"foo": "", "bar": ""}),
                make_pod("p-y1", node="node-y", labels={"foo": ""}),
                make_pod("p-y2", node="node-y", labels={"bar": ""})]
    assert run_score(pod, nodes, existing=existing) == [60, 20, 100, 60]
    assert run_score(pod, nodes[:3], nodes[3:], existing) == [50, 25, 100]


def test_score_ignores_other_namespaces_and_terminating_pods():
    nodes = [hnode("node-a"), hnode("node-b")]
    existing = [make_pod("p-a1", ns="ns1", node="node-a", labels={"foo": ""}),
                make_pod("p-a2", node="node-a", labels={"foo": ""}),
                make_pod("p-b1", node="node-b", labels={"foo": ""}),
                make_pod("p-b2", node="node-b", labels={"foo": ""})]
    assert run_score(POD_FOO_HOST1, nodes, existing=existing) == [100, 33]
    existing = [make_pod("p-a", node="node-a", labels={"foo": ""}, terminating=True),
                make_pod("p-b", node="node-b", labels={"foo": ""})]
    assert run_score(POD_FOO_HOST1, nodes, existing=existing) == [100, 0]


def test_system_default_spreading_uses_service_selector():
    pod = make_pod("p", labels={"foo": ""})
    svc = {"metadata": {"name": "s", "namespace": "default"}, "spec": {"selector": {"foo": ""}}}
    existing = foo_pods("a:4,b:3,c:2,d:1")
    # nodes without zone labels still get hostname spreading (maxSkew 3): as one constraint
    assert run_score(pod, FOUR, existing=existing, services=[svc]) == [44, 66, 77, 100]
    assert run_score(pod, FOUR, existing=existing) == "skip"  # nothing selects the pod


# -- filter ---------------------------------------------------------------------------------


def run_filter(pod, nodes, existing=(), plugin=None):
    plugin = plugin or PodTopologySpread()
    snap = snapshot(nodes, list(existing))
    state = CycleState()
    p = pi(pod)
    _, s = plugin.pre_filter(state, p, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    out = {}
    for n in snap.node_info_list:
        st = plugin.filter(state, p, n)
        out[n.name] = None if st is None else st.reasons[0]
    return out


NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ZONES = [hnode("node-a", zone="zone1"), hnode("node-b", zone="zone1"),
         hnode("node-x", zone="zone2"), hnode("node-y", zone="zone2")]


def test_filter_zone_skew():
    # zone1 has 3 matching pods, zone2 has 1: only zone2 keeps the skew <= 1.
    pod = make_pod("p", labels={"foo": ""}, spread=[hard(1, "zone", FOO_EXISTS)])
    got = run_filter(pod, ZONES, foo_pods("a:2,b:1,y:1"))
    assert got == {"node-a": NOT_MATCH, "node-b": NOT_MATCH, "node-x": None, "node-y": None}
    # maxSkew 2 allows zone1 too: 3 + 1 - 1 = 3 > 2 still fails; with 2 in zone1 it passes
    pod2 = make_pod("p", labels={"foo": ""}, spread=[hard(2, "zone", FOO_EXISTS)])
    got = run_filter(pod2, ZONES, foo_pods("a:1,b:1,y:1"))
    assert set(got.values()) == {None}
    # a pod that does not match its own selector does not count itself
    other = make_pod("p", labels={"x": ""}, spread=[hard(1, "zone", FOO_EXISTS)])
    got = run_filter(other, ZONES, foo_pods("a:1,y:1,x:1"))
    assert got["node-a"] is None and got["node-b"] is None


def test_filter_missing_label_is_unresolvable():
    pod = make_pod("p", labels={"foo": ""}, spread=[hard(1, "zone", FOO_EXISTS)])
    snap = snapshot([*ZONES, hnode("node-z")])
    state = CycleState()
    PodTopologySpread().pre_filter(state, pi(pod), snap)
    s = PodTopologySpread().filter(state, pi(pod), snap.get("node-z"))
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                   (NOT_MATCH + " (missing required label)",))


def test_filter_min_domains_treats_global_minimum_as_zero():
    # two zones, minDomains 3: the global minimum is 0, so 1 pod + self > maxSkew 1 fails.
    pod = make_pod("p", labels={"foo": ""},
                   spread=[hard(1, "zone", FOO_EXISTS, minDomains=3)])
    got = run_filter(pod, ZONES, foo_pods("a:1,x:1"))
    assert set(got.values()) == {NOT_MATCH}
    pod = make_pod("p", labels={"foo": ""},
                   spread=[hard(1, "zone", FOO_EXISTS, minDomains=2)])
    assert set(run_filter(pod, ZONES, foo_pods("a:1,x:1")).values()) == {None}


def test_filter_node_inclusion_policies():
    # node-x is tainted: with nodeTaintsPolicy Honor its zone (zone2 via node-x only)
    # does not count, so zone1's count is the minimum.
    nodes = [hnode("node-a", zone="zone1"),
             make_node("node-x", labels={"zone": "zone2"},
                       taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])]
    pod = make_pod("p", labels={"foo": ""},
                   spread=[hard(1, "zone", FOO_EXISTS, nodeTaintsPolicy="Honor")])
    assert run_filter(pod, nodes, foo_pods("a:1"))["node-a"] is None
    pod = make_pod("p", labels={"foo": ""}, spread=[hard(1, "zone", FOO_EXISTS)])
    assert run_filter(pod, nodes, foo_pods("a:1"))["node-a"] == NOT_MATCH


def test_filter_match_label_keys():
    pod = make_pod("p", labels={"foo": "", "rev": "2"},
                   spread=[hard(1, "zone", FOO_EXISTS, matchLabelKeys=["rev"])])
    old = [make_pod(f"o{i}", node="node-a", labels={"foo": "", "rev": "1"}) for i in range(3)]
    assert set(run_filter(pod, ZONES, old).values()) == {None}  # other revisions ignored


def test_filter_add_remove_pod_updates_state_like_preemption():
    pod = make_pod("p", labels={"foo": ""}, spread=[hard(1, "zone", FOO_EXISTS)])
    existing = foo_pods("a:2,y:1")
    snap = snapshot(ZONES, existing)
    pl = PodTopologySpread()
    state = CycleState()
    pl.pre_filter(state, pi(pod), snap)
    assert pl.filter(state, pi(pod), snap.get("node-a")) is not None
    clone = state.clone()
    node_a = snap.get("node-a").clone()
    victim = node_a.pods[0]
    node_a.remove_pod(victim)
    pl.remove_pod(clone, pi(pod), victim, node_a, snap)
    assert pl.filter(clone, pi(pod), node_a) is None
    assert pl.filter(state, pi(pod), snap.get("node-a")) is not None  # original untouched
