"""TaintToleration, NodeAffinity, NodeName, NodeUnschedulable, NodePorts, ImageLocality:
filters with Kubernetes' wording, scores with its arithmetic (taint_toleration_test.go,
node_affinity_test.go, image_locality_test.go)."""

from __future__ import annotations

from actors.scheduler import Code, CycleState
from actors.scheduler._plugins import (
    ImageLocality,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeUnschedulable,
    TaintToleration,
)
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot


def scores(plugin, pod, nodes, pods=()):
    snap = snapshot(nodes, list(pods))
    state = CycleState()
    p = pi(pod)
    s = plugin.pre_score(state, p, snap.node_info_list, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    raw = [plugin.score(state, p, n) for n in snap.node_info_list]
    if hasattr(plugin, "normalize_score"):
        return plugin.normalize_score(state, p, snap.node_info_list, raw)
    return raw


def filt(plugin, pod, node_obj, pods=()):
    snap = snapshot([node_obj], list(pods))
    state = CycleState()
    p = pi(pod)
    if hasattr(plugin, "pre_filter"):
        _, s = plugin.pre_filter(state, p, snap)
        if s is not None and s.code == Code.SKIP:
            return None
    return plugin.filter(state, p, snap.node_info_list[0])


def taint(key, value, effect):
    return {"key": key, "value": value, "effect": effect}


# -- TaintToleration ----------------------------------------------------------------------


def test_taint_filter_reports_first_untolerated_taint():
    n = make_node("n", taints=[taint("dedicated", "user1", "NoSchedule"),
                               taint("x", "y", "NoExecute")])
    s = filt(TaintToleration(), make_pod("p"), n)
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                   ("node(s) had untolerated taint {dedicated: user1}",))
    tol = [{"key": "dedicated", "operator": "Equal", "value": "user1", "effect": "NoSchedule"}]
    assert filt(TaintToleration(), make_pod("p", tolerations=tol), n).reasons == (
        "node(s) had untolerated taint {x: y}",)
    assert filt(TaintToleration(), make_pod("p", tolerations=[{"operator": "Exists"}]), n) is None
    prefer = make_node("n", taints=[taint("k", "v", "PreferNoSchedule")])
    assert filt(TaintToleration(), make_pod("p"), prefer) is None


def test_taint_score_kubernetes_cases():
    # "the more intolerable taints a node has, the lower its score":
    # node1 has none, node2 one intolerable, node3 two: 100, 50, 0.
    tol = [{"key": "cpu-type", "operator": "Equal", "value": "arm64",
            "effect": "PreferNoSchedule"}]
    nodes = [make_node("n1"),
             make_node("n2", taints=[taint("cpu-type", "arm64", "PreferNoSchedule")]),
             make_node("n2b", taints=[taint("cpu-type", "x86", "PreferNoSchedule")]),
             make_node("n3", taints=[taint("cpu-type", "x86", "PreferNoSchedule"),
                                     taint("disk-type", "ssd", "PreferNoSchedule")])]
    assert scores(TaintToleration(), make_pod("p", tolerations=tol), nodes) == [100, 100, 50, 0]
    # NoSchedule tolerations do not count for scoring; nothing intolerable -> all 100
    nodes = [make_node("n1"), make_node("n2", taints=[taint("a", "b", "NoSchedule")])]
    assert scores(TaintToleration(), make_pod("p"), nodes) == [100, 100]


# -- NodeAffinity -------------------------------------------------------------------------


def required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}


def test_node_selector_and_required_terms():
    na = NodeAffinity()
    n = make_node("n", labels={"zone": "a", "gen": "5"})
    assert filt(na, make_pod("p", node_selector={"zone": "a"}), n) is None
    s = filt(na, make_pod("p", node_selector={"zone": "b"}), n)
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                   ("node(s) didn't match Pod's node affinity/selector",))
    gt = {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}
    notin = {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}
    assert filt(na, make_pod("p", affinity=required(gt)), n) is None
    assert filt(na, make_pod("p", affinity=required(notin)), n) is not None
    assert filt(na, make_pod("p", affinity=required(notin, gt)), n) is None  # terms are ORed
    assert filt(na, make_pod("p", affinity=required({})), n) is not None  # empty term: nothing
    # both nodeSelector and affinity must hold
    assert filt(na, make_pod("p", node_selector={"zone": "b"}, affinity=required(gt)), n)


def test_match_fields_narrow_the_node_set_in_prefilter():
    na = NodeAffinity()
    snap = snapshot([make_node("n1"), make_node("n2")])
    by_name = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    res, s = na.pre_filter(CycleState(), pi(make_pod("p", affinity=required(by_name))), snap)
    assert s is None and res.node_names == {"n2"}
    assert na.filter(CycleState(), pi(make_pod("p", affinity=required(by_name))),
                     snap.get("n1")) is not None


def test_preferred_node_affinity_score_normalized():
    # weights 2 (foo=bar), 4 (key=value), 5 (az=az1): nodes get 2, 0, 2+4+5 -> 18, 0, 100
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 2, "preference": {"matchExpressions": [
            {"key": "foo", "operator": "In", "values": ["bar"]}]}},
        {"weight": 4, "preference": {"matchExpressions": [
            {"key": "key", "operator": "In", "values": ["value"]}]}},
        {"weight": 5, "preference": {"matchExpressions": [
            {"key": "az", "operator": "In", "values": ["az1"]}]}},
    ]}}
    nodes = [make_node("n1", labels={"foo": "bar"}), make_node("n2"),
             make_node("n3", labels={"foo": "bar", "key": "value", "az": "az1"})]
    assert scores(NodeAffinity(), make_pod("p", affinity=pref), nodes) == [18, 0, 100]
    assert scores(NodeAffinity(), make_pod("p"), nodes) == "skip"


# -- NodeName / NodeUnschedulable / NodePorts ---------------------------------------------


def test_node_name():
    assert filt(NodeName(), make_pod("p", node="n"), make_node("n")) is None
    s = filt(NodeName(), make_pod("p", node="m"), make_node("n"))
    assert s.reasons == ("node(s) didn't match the requested node name",)


def test_node_unschedulable():
    cordoned = make_node("n", unschedulable=True)
    s = filt(NodeUnschedulable(), make_pod("p"), cordoned)
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                   ("node(s) were unschedulable",))
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
            "effect": "NoSchedule"}]
    assert filt(NodeUnschedulable(), make_pod("p", tolerations=tol), cordoned) is None


def test_node_ports():
    n = make_node("n")
    busy = [make_pod("a", node="n", host_ports=[8080])]
    s = filt(NodePorts(), make_pod("p", host_ports=[8080]), n, busy)
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE,
                                   ("node(s) didn't have free ports for the requested pod ports",))
    assert filt(NodePorts(), make_pod("p", host_ports=[8081]), n, busy) is None
    assert filt(NodePorts(), make_pod("p"), n, busy) is None
    # a specific host IP conflicts with 0.0.0.0 on the same port and protocol
    other = make_pod("p")
    other["spec"]["containers"][0]["ports"] = [
        {"containerPort": 1, "hostPort": 8080, "hostIP": "10.0.0.1"}]
    assert filt(NodePorts(), other, n, busy) is not None
    other["spec"]["containers"][0]["ports"][0]["protocol"] = "UDP"
    assert filt(NodePorts(), other, n, busy) is None


# -- ImageLocality ------------------------------------------------------------------------

MB = 1024 * 1024
NODE_40_300_2000 = [(["gcr.io/40:latest", "gcr.io/40:v1"], 40 * MB),
                    (["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB),
                    (["gcr.io/2000:latest"], 2000 * MB)]
NODE_250_10 = [(["gcr.io/250:latest"], 250 * MB), (["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB)]


def test_image_locality_kubernetes_cases():
    il = ImageLocality()
    nodes = [make_node("m1", images=NODE_40_300_2000), make_node("m2", images=NODE_250_10)]
    # 40MB*1/2 < 23MB -> 0; 250MB*1/2 = 125MB: 100*(125-23)/(2000-23) = 5
    assert scores(il, make_pod("p", requests=[{}, {}], images=["gcr.io/40", "gcr.io/250"]),
                  nodes) == [0, 5]
    # (40+300)/2 = 170MB: 100*(170-23)/(2000-23) = 7
    assert scores(il, make_pod("p", requests=[{}, {}], images=["gcr.io/40", "gcr.io/300"]),
                  nodes) == [7, 0]
    # 2000/2 = 1000MB: 100*(1000-23)/(2000-23) = 49; with a third node, 2000/3: 32
    pod = make_pod("p", requests=[{}, {}], images=["gcr.io/10", "gcr.io/2000"])
    assert scores(il, pod, nodes) == [49, 0]
    assert scores(il, pod, [*nodes, make_node("m3")]) == [32, 0, 0]
    # one container with a tag: 2000MB alone on 1 of 1 nodes clamps to 1000MB -> 100
    one = make_pod("p", images=["gcr.io/2000:latest"])
    assert scores(il, one, [make_node("m1", images=NODE_40_300_2000)]) == [100]
