"""NodeResourcesFit (filter, LeastAllocated) and BalancedAllocation, with cases and
expected numbers from Kubernetes' least_allocated_test.go, balanced_allocation_test.go and
fit_test.go (nodes there are sized in whole cores; here in millicores, same ratios)."""

from __future__ import annotations

import pytest

from actors.scheduler import Code, CycleState
from actors.scheduler._plugins import BalancedAllocation, NodeResourcesFit
from tests.actors.scheduler.test_builders import make_node, make_pod, pi, snapshot


def score_all(plugin, pod, nodes, pods=()):
    snap = snapshot(nodes, list(pods))
    state = CycleState()
    p = pi(pod)
    s = plugin.pre_score(state, p, snap.node_info_list, snap)
    if s is not None and s.code == Code.SKIP:
        return "skip"
    return [plugin.score(state, p, n) for n in snap.node_info_list]


def node(name, cpu, mem, extra=None):
    return make_node(name, cpu=f"{cpu}m", memory=str(mem), pods=None, extra=extra)


def req(cpu, mem):
    return {"cpu": f"{cpu}m", "memory": str(mem)}


TWO_CONTAINERS = [req(1000, 2000), req(2000, 3000)]


@pytest.mark.parametrize("nodes,existing,pod,want", [
    # nothing scheduled, resources requested, differently sized nodes: 37 / 50
    ([node("n1", 4000, 10000), node("n2", 6000, 10000)], [],
     make_pod("p", requests=TWO_CONTAINERS), [37, 50]),
    # no resources requested, pods scheduled with resources: (40+100)/2=70, (40+75)/2=57
    ([node("n1", 10000, 20000), node("n2", 10000, 20000)],
     [make_pod("a", requests=[req(3000, 0)], node="n1"),
      make_pod("b", requests=[req(3000, 0)], node="n1"),
      make_pod("c", requests=[req(3000, 0)], node="n2"),
      make_pod("d", requests=[req(3000, 5000)], node="n2")],
     make_pod("p", no_containers=True), [70, 57]),
    # resources requested, pods scheduled with resources: 57 / 45
    ([node("n1", 10000, 20000), node("n2", 10000, 20000)],
     [make_pod("a", requests=[req(3000, 0)], node="n1"),
      make_pod("b", requests=[req(3000, 5000)], node="n2")],
     make_pod("p", requests=TWO_CONTAINERS), [57, 45]),
    # ... differently sized nodes: 57 / 60
    ([node("n1", 10000, 20000), node("n2", 10000, 50000)],
     [make_pod("a", requests=[req(3000, 0)], node="n1"),
      make_pod("b", requests=[req(3000, 5000)], node="n2")],
     make_pod("p", requests=TWO_CONTAINERS), [57, 60]),
    # requested resources exceed node capacity: 50 / 25
    ([node("n1", 4000, 10000), node("n2", 4000, 10000)],
     [make_pod("a", requests=[req(3000, 0)], node="n1"),
      make_pod("b", requests=[req(3000, 5000)], node="n2")],
     make_pod("p", requests=[req(3000, 0)]), [50, 25]),
    # zero node resources: 0 / 0
    ([make_node("n1", cpu=None, memory=None, pods=None),
      make_node("n2", cpu=None, memory=None, pods=None)],
     [make_pod("a", requests=[req(3000, 0)], node="n1")],
     make_pod("p", no_containers=True), [0, 0]),
])
def test_least_allocated_kubernetes_cases(nodes, existing, pod, want):
    assert score_all(NodeResourcesFit(), pod, nodes, existing) == want


def test_least_allocated_with_weights_and_extended_resources():
    # memory weight 2, cpu 1: (25*1 + 50*2)/3 = 41 and 50.
    fit = NodeResourcesFit(resources=[("memory", 2), ("cpu", 1)])
    assert score_all(fit, make_pod("p", requests=TWO_CONTAINERS),
                     [node("n1", 4000, 10000), node("n2", 6000, 10000)]) == [41, 50]
    # an extended resource the pod does not request is left out: 50 and 50
    fit = NodeResourcesFit(resources=[("cpu", 1), ("memory", 1), ("example.com/foo", 1)])
    nodes = [node("n1", 6000, 10000), node("n2", 6000, 10000, {"example.com/foo": "4"})]
    assert score_all(fit, make_pod("p", requests=TWO_CONTAINERS), nodes) == [50, 50]
    # ...and honoured when requested: node1 has none (left out), node2 (4-2)/4 -> 50
    pod = make_pod("p", requests=[{**req(1000, 2000), "example.com/foo": "2"}, req(2000, 3000)])
    nodes = [node("n1", 6000, 10000, {"example.com/foo": "4"}),
             node("n2", 6000, 10000, {"example.com/foo": "10"})]
    assert score_all(fit, pod, nodes) == [50, 60]


def test_least_allocated_uses_non_zero_defaults():
    # A container without requests counts 100m / 200Mi when scoring (not when filtering).
    nodes = [make_node("n1", cpu="1", memory="1000Mi")]
    assert score_all(NodeResourcesFit(), make_pod("p"), nodes) == [(90 + 80) // 2]


@pytest.mark.parametrize("nodes,existing,pod,want", [
    ([node("n1", 4000, 10000), node("n2", 6000, 10000)], [],
     make_pod("p", requests=TWO_CONTAINERS, node="n2"), [87, 100]),
    ([node("n1", 10000, 20000), node("n2", 10000, 20000)],
     [make_pod("a", requests=[req(1000, 0), req(2000, 0)], node="n1"),
      make_pod("b", requests=TWO_CONTAINERS, node="n2")],
     make_pod("p", requests=TWO_CONTAINERS), [82, 95]),
    ([node("n1", 10000, 20000), node("n2", 10000, 50000)],
     [make_pod("a", requests=[req(1000, 0), req(2000, 0)], node="n1"),
      make_pod("b", requests=TWO_CONTAINERS, node="n2")],
     make_pod("p", requests=TWO_CONTAINERS), [82, 80]),
    # requested resources at node capacity: 50 / 75
    ([node("n1", 6000, 10000), node("n2", 6000, 10000)],
     [make_pod("a", requests=[req(1000, 0), req(2000, 0)], node="n1"),
      make_pod("b", requests=TWO_CONTAINERS, node="n2")],
     make_pod("p", requests=[req(1000, 0), req(2000, 0)]), [50, 75]),
])
def test_balanced_allocation_kubernetes_cases(nodes, existing, pod, want):
    assert score_all(BalancedAllocation(), pod, nodes, existing) == want


def test_balanced_allocation_three_resources_and_best_effort_skip():
    gpu = {"nvidia.com/gpu": "8"}
    nodes = [node("n1", 3500, 40000, gpu), node("n2", 3500, 40000, gpu)]
    existing = [
        make_pod("a", requests=TWO_CONTAINERS, node="n2"),
        make_pod("b", requests=[req(1000, 2000), {**req(2000, 3000), "nvidia.com/gpu": "3"}],
                 node="n1"),
    ]
    plugin = BalancedAllocation(resources=[("cpu", 1), ("memory", 1), ("nvidia.com/gpu", 1)])
    pod = make_pod("p", requests=[{"memory": "0", "nvidia.com/gpu": "1"}])
    assert score_all(plugin, pod, nodes, existing) == [70, 65]
    # a node without the scalar resource skips it: 63 / 63
    assert score_all(plugin, make_pod("p", requests=TWO_CONTAINERS),
                     [node("n1", 3500, 40000, gpu), node("n2", 3500, 40000)]) == [63, 63]
    assert score_all(BalancedAllocation(), make_pod("p"), nodes) == "skip"


def fit_status(pod, node_obj, existing=()):
    snap = snapshot([node_obj], list(existing))
    return NodeResourcesFit().filter(CycleState(), pi(pod), snap.node_info_list[0])


def test_fit_filter_reasons_and_codes():
    n = make_node("n", cpu="2", memory="2Gi", pods="2")
    assert fit_status(make_pod("p", cpu="1", memory="1Gi"), n) is None
    s = fit_status(make_pod("p", cpu="2", memory="1Gi"), n,
                   [make_pod("a", cpu="1", node="n")])
    assert (s.code, s.reasons) == (Code.UNSCHEDULABLE, ("Insufficient cpu",))
    s = fit_status(make_pod("p", cpu="1", memory="3Gi"), n,
                   [make_pod("a", cpu="1", node="n"), make_pod("b", node="n")])
    # every shortfall is reported; memory beyond allocatable cannot be fixed by preemption
    assert s.reasons == ("Too many pods", "Insufficient memory")
    assert s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_fit_filter_counts_init_containers_overhead_and_scalars():
    n = make_node("n", cpu="1", memory="1Gi", extra={"example.com/gpu": "1"})
    init = [{"name": "i", "resources": {"requests": {"cpu": "1500m"}}}]
    assert fit_status(make_pod("p", cpu="100m", init=init), n).reasons == ("Insufficient cpu",)
    pod = make_pod("p", cpu="900m", overhead={"cpu": "200m"})
    assert fit_status(pod, n).reasons == ("Insufficient cpu",)
    pod = make_pod("p", requests=[{"example.com/gpu": "2"}])
    assert fit_status(pod, n).reasons == ("Insufficient example.com/gpu",)
    # a pod requesting nothing only needs a pod slot
    full = make_node("n", pods="1")
    assert fit_status(make_pod("p"), full) is None
    assert fit_status(make_pod("p"), full, [make_pod("a", node="n")]).reasons == (
        "Too many pods",)
