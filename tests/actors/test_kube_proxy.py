"""kube-proxy: the rules it computes (pure), the change tracker that makes syncs partial (pure),
and the actor that installs them on its node."""

import copy
from ipaddress import IPv4Address
from random import Random

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import _components, register_component
from actors.kube_proxy import (
    FULL_SYNC_PERIOD,
    MIN_SYNC_PERIOD,
    SERVICE_NAME_LABEL,
    SYNC_PERIOD,
    ChangeTracker,
    node_rules,
    object_key,
    slice_service,
)
from actors.kubelet._component import FABRIC_KEY
from netsim import CLIENT_IP, NatTable, NodePortRule, Packet, ServiceRule


def svc(name="web", ports=None, namespace="default", **spec):
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": "10.96.0.50", "ports": ports or [{"port": 80}], **spec}}


def eps_slice(endpoints, ports=None, service="web", name="web-abc"):
    return {"metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "endpoints": endpoints, "ports": ports or [{"name": "", "port": 8080,
                                                        "protocol": "TCP"}]}


def ep(ip, node="n1", **cond):
    return {"addresses": [ip], "nodeName": node, "conditions": cond}


# -- the pure core ---------------------------------------------------------------------------

def test_only_ready_endpoints_receive_traffic():
    rules = node_rules([svc()], [eps_slice([ep("10.244.0.5", ready=True),
                                            ep("10.244.0.6", ready=False),
                                            ep("10.244.0.7")])], node="n1")
    assert rules == [ServiceRule("10.96.0.50", 80, "TCP",
                                 (("10.244.0.5", 8080), ("10.244.0.7", 8080)))]


def test_serving_terminating_endpoints_are_a_fallback_only():
    terminating = ep("10.244.0.6", ready=False, serving=True, terminating=True)
    gone = ep("10.244.0.7", ready=False, serving=False, terminating=True)
    both = node_rules([svc()], [eps_slice([ep("10.244.0.5", ready=True), terminating])], node="n1")
    assert both[0].backends == (("10.244.0.5", 8080),)
    only = node_rules([svc()], [eps_slice([terminating, gone])], node="n1")
    assert only[0].backends == (("10.244.0.6", 8080),)
    none = node_rules([svc()], [eps_slice([gone])], node="n1")
    assert none[0].backends == ()  # the node REJECTs


def test_endpoints_objects_are_not_read_and_slices_count_in_name_order():
    # kube-proxy has read only EndpointSlices since 1.22: no Endpoints argument, no fallback.
    assert node_rules([svc()], [], node="n1")[0].backends == ()
    later, first = eps_slice([ep("10.244.0.9")], name="web-b"), eps_slice([ep("10.244.0.8")],
                                                                         name="web-a")
    rules = node_rules([svc()], [later, first], node="n1")
    assert rules[0].backends == (("10.244.0.8", 8080), ("10.244.0.9", 8080))


def test_named_ports_protocols_nodeports_external_ips_and_affinity():
    service = svc(type="NodePort", sessionAffinity="ClientIP", externalIPs=["192.168.49.100"],
                  ports=[{"name": "http", "port": 80, "nodePort": 30080},
                         {"name": "dns", "port": 53, "protocol": "UDP"}])
    s = eps_slice([ep("10.244.0.5")], ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                                             {"name": "dns", "port": 5353, "protocol": "UDP"}])
    rules = node_rules([service], [s], node="n1")
    http = (("10.244.0.5", 8080),)
    assert rules == [
        ServiceRule("10.96.0.50", 80, "TCP", http, CLIENT_IP),
        ServiceRule("192.168.49.100", 80, "TCP", http, CLIENT_IP),
        NodePortRule(30080, "TCP", http, CLIENT_IP),
        ServiceRule("10.96.0.50", 53, "UDP", (("10.244.0.5", 5353),), CLIENT_IP),
        ServiceRule("192.168.49.100", 53, "UDP", (("10.244.0.5", 5353),), CLIENT_IP)]


def test_headless_external_name_and_local_traffic_policies():
    assert node_rules([svc(clusterIP="None")], [eps_slice([ep("10.244.0.5")])], node="n1") == []
    assert node_rules([svc(type="ExternalName", externalName="example.com")], [],
                      node="n1") == []
    local = svc(type="NodePort", internalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30080}])
    s = eps_slice([ep("10.244.0.5", node="n1"), ep("10.244.1.5", node="n2")])
    cluster_ip, nodeport = node_rules([local], [s], node="n2")
    assert cluster_ip.backends == (("10.244.1.5", 8080),)
    assert len(nodeport.backends) == 2  # externalTrafficPolicy defaults to Cluster


# -- the actor ---------------------------------------------------------------------------------

SPEC = ClusterSpec(schedulers=0, controller_managers=0,
                   nodes=[NodeSpec("node-1"), NodeSpec("node-2")])


def service(name, ip, selector=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": ip, "selector": selector or {"app": name},
                     "ports": [{"port": 80, "targetPort": 8080}]}}


def endpoint_slice(service_name, ips):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-x", "labels": {
                "kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}


@pytest.fixture
def recorded():
    """A cluster whose fabric records every rule change: (time, node, kind, rules, removed)."""
    with simulate(SPEC, seed=21) as cluster:
        fabric = cluster._ctx.extra[FABRIC_KEY]
        calls = []
        replace, update = fabric.replace_service_rules, fabric.update_service_rules

        def record_replace(node, rules):
            calls.append((cluster.now, node, "full", list(rules), []))
            replace(node, rules)

        def record_update(node, remove, rules):
            calls.append((cluster.now, node, "partial", list(rules), list(remove)))
            update(node, remove, rules)
        fabric.replace_service_rules = record_replace
        fabric.update_service_rules = record_update
        cluster.advance(3)
        yield cluster, fabric, calls


def proxy(cluster, node="node-1"):
    return cluster.sim.actor(f"kube-proxy/{node}")


def table(fabric, node="node-1"):
    return {r.key: r for r in fabric.nat(node).rules()}


def expected(cluster, node="node-1"):
    """What a full rebuild from the proxy's caches installs."""
    caches = proxy(cluster, node)._caches
    rules = node_rules(caches.services(), caches._slices.list(), node=node)
    return {r.key: r for r in rules}


def test_defaults_match_kube_proxy():
    assert (MIN_SYNC_PERIOD, SYNC_PERIOD, FULL_SYNC_PERIOD) == (1.0, 30.0, 3600.0)


def test_the_public_api():
    import actors.kube_proxy as kp

    assert set(kp.__all__) == {n for n in dir(kp) if not n.startswith("_")} - {
        "annotations"}


def test_syncs_are_rate_limited_and_partial_after_the_first(recorded):
    cluster, fabric, calls = recorded
    assert [kind for _, node, kind, _, _ in calls if node == "node-1"] == ["full"]
    del calls[:]
    start = cluster.now
    cluster.create(service("web", "10.96.0.50"))
    for i in range(5):  # a burst of changes within one minSyncPeriod
        cluster.create(endpoint_slice(f"s{i}", [f"10.244.0.{10 + i}"]))
        cluster.advance(0.1)
    cluster.advance(2)
    node1 = [(t - start, kind) for t, node, kind, _, _ in calls if node == "node-1"]
    times = [t for t, _ in node1]
    assert 1 <= len(times) <= 3 and {kind for _, kind in node1} == {"partial"}
    assert all(b - a >= MIN_SYNC_PERIOD - 1e-9 for a, b in zip(times, times[1:]))
    assert times[0] < 0.1  # the first change after a quiet second syncs at once
    assert table(fabric) == expected(cluster)  # the same rules a full rebuild installs
    assert "svc 10.96.0.50:80/TCP" in table(fabric)
    assert set(table(fabric, "node-1")) == set(table(fabric, "node-2"))
    assert {inf.resource for inf in proxy(cluster).factory.informers} == {
        "services", "endpointslices"}  # never Endpoints


def test_a_sync_recomputes_and_touches_only_the_changed_service(recorded):
    cluster, fabric, calls = recorded
    for i in range(20):
        cluster.create(service(f"svc{i}", f"10.96.1.{i}"))
        cluster.create(endpoint_slice(f"svc{i}", [f"10.244.1.{i}"]))
    cluster.advance(3)
    nat = fabric.nat("node-1")
    del calls[:]
    old = cluster.get("endpointslices", "svc7-x")
    cluster.update({**old, "endpoints": [{"addresses": ["10.244.2.7"],
                                          "conditions": {"ready": True}}]})
    cluster.advance(2)
    stats = proxy(cluster).statistics()
    assert (stats.last_full, stats.last_recomputed) == (False, 1) and stats.services >= 20
    (_, _, kind, rules, removed), = [c for c in calls if c[1] == "node-1"]
    assert (kind, removed, [r.key for r in rules]) == (
        "partial", ["svc 10.96.1.7:80/TCP"], ["svc 10.96.1.7:80/TCP"])
    assert table(fabric)["svc 10.96.1.7:80/TCP"].backends == (("10.244.2.7", 8080),)
    assert nat is fabric.nat("node-1") and table(fabric) == expected(cluster)


def test_no_op_updates_do_not_sync(recorded):
    cluster, _, calls = recorded
    cluster.create(service("web", "10.96.0.50"))
    cluster.advance(2)
    syncs = proxy(cluster).syncs
    web = cluster.get("services", "web")
    cluster.update({**web, "metadata": {**web["metadata"], "annotations": {"a": "b"}}})
    cluster.advance(2)
    assert proxy(cluster).syncs == syncs


def test_the_periodic_full_sync_and_the_monitor(recorded):
    cluster, fabric, calls = recorded
    cluster.create(service("web", "10.96.0.50"))
    cluster.advance(2)
    before = proxy(cluster, "node-2").statistics()
    assert before.last_full is False
    fabric.nat("node-2").replace_rules([])  # someone flushed the node's rules
    cluster.advance(SYNC_PERIOD + 1)  # the monitor notices within a syncPeriod
    after = proxy(cluster, "node-2").statistics()
    assert after.full_syncs == before.full_syncs + 1 and after.last_full
    assert "svc 10.96.0.50:80/TCP" in table(fabric, "node-2")
    fulls = proxy(cluster).full_syncs
    cluster.advance(FULL_SYNC_PERIOD)  # nothing changes for an hour: the runner's full sync
    assert proxy(cluster).full_syncs == fulls + 1 and proxy(cluster).statistics().last_full


def test_an_endpoints_object_alone_gives_no_backends(recorded):
    cluster, fabric, _ = recorded
    cluster.create(service("old", "10.96.0.70"))
    cluster.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "old"},
                    "subsets": [{"addresses": [{"ip": "10.244.1.9"}],
                                 "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    cluster.advance(2)
    assert table(fabric)["svc 10.96.0.70:80/TCP"].backends == ()  # as kube-proxy 1.22+


def test_each_node_shows_a_kube_proxy_pod():
    with simulate(SPEC, seed=22) as cluster:
        def pods(c):
            return c.list("pods", "kube-system", label_selector="k8s-app=kube-proxy")["items"]

        cluster.run_until(lambda c: len(pods(c)) == 2 and all(
            p["status"].get("phase") == "Running" for p in pods(c)), timeout=30)
        by_node = {p["spec"]["nodeName"]: p for p in pods(cluster)}
        assert set(by_node) == {"node-1", "node-2"}
        p = by_node["node-2"]
        assert p["metadata"]["name"].startswith("kube-proxy-")
        assert p["spec"]["hostNetwork"] is True
        assert p["status"]["podIP"] == "192.168.49.3"


def test_with_a_controller_manager_kubeadm_s_daemonset_is_created(monkeypatch):
    monkeypatch.setattr(_components, "_REGISTRY", dict(_components._REGISTRY))
    register_component("kube-controller-manager", lambda ctx: [])
    spec = ClusterSpec(schedulers=0, controller_managers=1, nodes=[NodeSpec("node-1")])
    with simulate(spec, seed=23) as cluster:
        cluster.run_until(lambda c: c.list("daemonsets", "kube-system")["items"], timeout=10)
        ds = cluster.get("daemonsets", "kube-proxy", "kube-system")
        tmpl = ds["spec"]["template"]["spec"]
        assert tmpl["hostNetwork"] and tmpl["containers"][0]["image"].startswith(
            "registry.k8s.io/kube-proxy:")
        assert cluster.list("pods", "kube-system", label_selector="k8s-app=kube-proxy"
                            )["items"] == []  # the DaemonSet controller's job


# -- the change tracker: partial syncs (pure) -------------------------------------------------

class Caches:
    """Stand-ins for the informers' stores: dicts in insertion order, as theirs are."""

    def __init__(self):
        self.svcs, self.slice_objs = {}, {}

    def services(self):
        return list(self.svcs.values())

    def service(self, key):
        return self.svcs.get(key)

    def slices(self, key):
        return [s for s in self.slice_objs.values() if slice_service(s) == key]

    def put_service(self, tracker, obj):
        key = object_key(obj)
        tracker.service_changed(self.svcs.get(key), obj)
        self.svcs[key] = obj

    def put_slice(self, tracker, obj):
        name = obj["metadata"]["name"]
        tracker.slice_changed(self.slice_objs.get(name), obj)
        self.slice_objs[name] = obj

    def full_rebuild(self, node="n1"):
        return node_rules(self.services(), list(self.slice_objs.values()), node=node)


def install(tracker, caches, nat, now=0.0):
    """One sync, as the actor makes it."""
    plan = tracker.plan(caches, now=now)
    if plan.full:
        nat.replace_rules(plan.add)
    else:
        nat.update_rules(plan.remove, plan.add)
    tracker.committed(plan, now=now)
    return plan


def keyed(rules):
    return {r.key: r for r in rules}


def populated(n=50):
    tracker, caches, nat = ChangeTracker(node="n1"), Caches(), NatTable(rng=Random(1))
    for i in range(n):
        caches.put_service(tracker, svc(f"s{i}", clusterIP=f"10.96.0.{i + 1}"))
        caches.put_slice(tracker, eps_slice([ep(f"10.244.0.{i + 1}")], service=f"s{i}",
                                            name=f"s{i}-x"))
    assert install(tracker, caches, nat).full
    return tracker, caches, nat


def test_a_partial_sync_recomputes_only_the_marked_services():
    tracker, caches, nat = populated()
    caches.put_slice(tracker, eps_slice([ep("10.244.9.9")], service="s7", name="s7-x"))
    plan = install(tracker, caches, nat, now=5)
    assert not plan.full and list(plan.rules) == [("default", "s7")]
    assert plan.remove == ("svc 10.96.0.8:80/TCP",) and [r.key for r in plan.add] == [
        "svc 10.96.0.8:80/TCP"]
    assert keyed(nat.rules()) == keyed(caches.full_rebuild())
    assert not install(tracker, caches, nat, now=6).rules  # nothing changed: nothing recomputed


def test_a_slice_moving_to_another_service_marks_both_and_no_ops_mark_nothing():
    tracker, caches, _ = populated(3)
    moved = eps_slice([ep("10.244.0.1")], service="s2", name="s0-x")
    caches.put_slice(tracker, moved)
    assert tracker.pending == (("default", "s0"), ("default", "s2"))
    tracker.plan(caches, now=1)
    same = {**moved, "metadata": {**moved["metadata"], "annotations": {"x": "y"}}}
    assert not tracker.slice_changed(moved, same) and tracker.pending == ()
    status = {**caches.svcs[("default", "s1")], "status": {"loadBalancer": {}}}
    assert not tracker.service_changed(caches.svcs[("default", "s1")], status)


def test_full_syncs_first_after_a_failure_and_every_full_sync_period():
    tracker, caches, nat = populated(3)
    assert not install(tracker, caches, nat, now=10).full
    tracker.plan(caches, now=11)
    tracker.failed()  # the changes it took are lost: only a full sync can catch up
    assert install(tracker, caches, nat, now=12).full
    assert not install(tracker, caches, nat, now=12 + FULL_SYNC_PERIOD - 1).full
    assert install(tracker, caches, nat, now=12 + FULL_SYNC_PERIOD).full
    tracker.force_full()  # the monitor found the table rewritten
    assert install(tracker, caches, nat, now=13 + FULL_SYNC_PERIOD).full


def test_a_rule_key_two_services_produce_makes_the_sync_full():
    tracker, caches, nat = populated(3)
    for name in ("s0", "s1"):  # the same external IP and port: the later Service wins
        caches.put_service(tracker, svc(name, clusterIP=f"10.96.0.{name[1:]}0",
                                        externalIPs=["192.168.49.100"]))
    assert install(tracker, caches, nat, now=1).full
    caches.put_slice(tracker, eps_slice([ep("10.244.7.7")], service="s0", name="s0-x"))
    assert install(tracker, caches, nat, now=2).full
    assert keyed(nat.rules()) == keyed(caches.full_rebuild())


SVC_NAMES = ("a", "b", "c", "d")
LOCAL = [IPv4Address("192.168.49.2")]


@st.composite
def services(draw):
    name = draw(st.sampled_from(SVC_NAMES))
    ports = draw(st.lists(st.sampled_from([("http", 80, "TCP"), ("dns", 53, "UDP"),
                                           ("sctp", 9, "SCTP")]), min_size=1, max_size=3,
                          unique=True))
    i = SVC_NAMES.index(name)
    # Mostly an address and NodePorts of its own; sometimes one another Service has too.
    own = draw(st.sampled_from([True] * 6 + [False]))
    spec = {"clusterIP": draw(st.sampled_from([f"10.96.0.{i + 1}"] * 5 + ["None", "10.96.0.9"])),
            "type": draw(st.sampled_from(["ClusterIP", "NodePort"])),
            "ports": [{"name": n, "port": p, "protocol": pr,
                       "nodePort": 30000 + p + (100 * i if own else 0)} for n, p, pr in ports],
            "externalIPs": draw(st.sampled_from([[]] * 4 + [[f"192.168.49.{100 + i}"]]
                                                + [["192.168.49.99"]])),
            "internalTrafficPolicy": draw(st.sampled_from(["Cluster", "Local"])),
            "externalTrafficPolicy": draw(st.sampled_from(["Cluster", "Local"])),
            "sessionAffinity": draw(st.sampled_from(["None", "ClientIP"]))}
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


@st.composite
def slices(draw):
    endpoints = [{"addresses": [f"10.244.0.{draw(st.integers(1, 6))}"],
                  "nodeName": draw(st.sampled_from(["n1", "n2"])),
                  "conditions": draw(st.sampled_from([
                      {"ready": True}, {"ready": True}, {"ready": False}, {},
                      {"ready": False, "serving": True, "terminating": True}]))}
                 for _ in range(draw(st.integers(0, 3)))]
    ports = draw(st.lists(st.sampled_from([("http", 8080, "TCP"), ("dns", 5353, "UDP")]),
                          min_size=1, max_size=2, unique=True))
    labels = {}
    service = draw(st.sampled_from((*SVC_NAMES, None)))
    if service:
        labels[SERVICE_NAME_LABEL] = service
    return {"metadata": {"name": draw(st.sampled_from(["x1", "x2", "x3", "x4"])),
                         "namespace": "default", "labels": labels},
            "endpoints": endpoints,
            "ports": [{"name": n, "port": p, "protocol": pr} for n, p, pr in ports]}


class PartialSyncs(RuleBasedStateMachine):
    """Random Service and EndpointSlice churn through the partial path: after every sync the
    table is what a full rebuild of the same caches would make of it — the same rules, the
    same conntrack entries and sticky choices — and entries of untouched rules are kept."""

    def __init__(self):
        super().__init__()
        self.tracker, self.caches = ChangeTracker(node="n1"), Caches()
        self.nat = NatTable(rng=Random(3))
        self.now, self.port = 0.0, 40000

    @rule(obj=services())
    def put_service(self, obj):
        self.caches.put_service(self.tracker, obj)

    @rule(name=st.sampled_from(SVC_NAMES))
    def delete_service(self, name):
        old = self.caches.svcs.pop(("default", name), None)
        if old is not None:
            self.tracker.service_changed(old, None)

    @rule(obj=slices())
    def put_slice(self, obj):
        self.caches.put_slice(self.tracker, obj)

    @rule(name=st.sampled_from(["x1", "x2", "x3", "x4"]))
    def delete_slice(self, name):
        old = self.caches.slice_objs.pop(name, None)
        if old is not None:
            self.tracker.slice_changed(old, None)

    @rule(i=st.integers(0, 20), client=st.integers(1, 3))
    def connect(self, i, client):
        """A new connection through one installed rule (conntrack, maybe a sticky choice)."""
        rules = [r for r in self.nat.rules() if r.backends]
        if not rules:
            return
        r = rules[i % len(rules)]
        dst = (r.vip, r.port) if isinstance(r, ServiceRule) else ("192.168.49.2", r.node_port)
        self.port += 1
        packet = Packet(f"10.244.5.{client}", self.port, dst[0], dst[1], r.protocol)
        verdict = self.nat.prerouting(packet, LOCAL)
        self.nat.postrouting(verdict, verdict.packet, IPv4Address("192.168.49.2"))

    @rule(dt=st.sampled_from([1.0] * 8 + [1800.0]), fails=st.sampled_from([False] * 6 + [True]))
    def sync(self, dt, fails):
        self.now += dt
        if fails:  # the restore failed: the changes taken are lost, the next sync is full
            self.tracker.plan(self.caches, now=self.now)
            self.tracker.failed()
            return
        before = copy.deepcopy(self.nat)
        plan = install(self.tracker, self.caches, self.nat, now=self.now)
        reference = copy.deepcopy(before)
        reference.replace_rules(self.caches.full_rebuild())
        assert keyed(self.nat.rules()) == keyed(reference.rules())
        assert set(self.nat.conntrack()) == set(reference.conntrack())
        assert self.nat._sticky == reference._sticky
        touched = set(plan.remove) | {r.key for r in plan.add}
        if not plan.full:
            kept = {e for e in before.conntrack() if e.rule not in touched}
            assert kept <= set(self.nat.conntrack())
            assert {r.key for r in plan.add} <= {r.key for rules in plan.rules.values()
                                                  for r in rules}

    @invariant()
    def installed_is_what_the_table_holds_after_a_good_sync(self):
        if not self.tracker.need_full_sync and not self.tracker.pending:
            assert keyed(self.nat.rules()) == keyed(self.caches.full_rebuild())


TestPartialSyncs = PartialSyncs.TestCase
TestPartialSyncs.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                     derandomize=True)
