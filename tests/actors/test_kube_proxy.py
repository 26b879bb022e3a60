"""kube-proxy: the rules it computes (pure) and the actor that installs them on its node."""

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import _components, register_component
from actors.kube_proxy import MIN_SYNC_PERIOD, SYNC_PERIOD, node_rules
from actors.kubelet._component import FABRIC_KEY
from netsim import CLIENT_IP, NodePortRule, ServiceRule


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
                                            ep("10.244.0.7")])], [], node="n1")
    assert rules == [ServiceRule("10.96.0.50", 80, "TCP",
                                 (("10.244.0.5", 8080), ("10.244.0.7", 8080)))]


def test_serving_terminating_endpoints_are_a_fallback_only():
    terminating = ep("10.244.0.6", ready=False, serving=True, terminating=True)
    gone = ep("10.244.0.7", ready=False, serving=False, terminating=True)
    both = node_rules([svc()], [eps_slice([ep("10.244.0.5", ready=True), terminating])], [],
                      node="n1")
    assert both[0].backends == (("10.244.0.5", 8080),)
    only = node_rules([svc()], [eps_slice([terminating, gone])], [], node="n1")
    assert only[0].backends == (("10.244.0.6", 8080),)
    none = node_rules([svc()], [eps_slice([gone])], [], node="n1")
    assert none[0].backends == ()  # the node REJECTs


def test_endpoints_are_used_when_a_service_has_no_slices():
    endpoints = {"metadata": {"name": "web", "namespace": "default"},
                 "subsets": [{"addresses": [{"ip": "10.244.1.2"}],
                              "notReadyAddresses": [{"ip": "10.244.1.3"}],
                              "ports": [{"port": 8080, "protocol": "TCP"}]}]}
    assert node_rules([svc()], [], [endpoints], node="n1")[0].backends == (("10.244.1.2", 8080),)
    sliced = node_rules([svc()], [eps_slice([ep("10.244.0.9")])], [endpoints], node="n1")
    assert sliced[0].backends == (("10.244.0.9", 8080),)  # slices win


def test_named_ports_protocols_nodeports_external_ips_and_affinity():
    service = svc(type="NodePort", sessionAffinity="ClientIP", externalIPs=["192.168.49.100"],
                  ports=[{"name": "http", "port": 80, "nodePort": 30080},
                         {"name": "dns", "port": 53, "protocol": "UDP"}])
    s = eps_slice([ep("10.244.0.5")], ports=[{"name": "http", "port": 8080, "protocol": "TCP"},
                                             {"name": "dns", "port": 5353, "protocol": "UDP"}])
    rules = node_rules([service], [s], [], node="n1")
    http = (("10.244.0.5", 8080),)
    assert rules == [
        ServiceRule("10.96.0.50", 80, "TCP", http, CLIENT_IP),
        ServiceRule("192.168.49.100", 80, "TCP", http, CLIENT_IP),
        NodePortRule(30080, "TCP", http, CLIENT_IP),
        ServiceRule("10.96.0.50", 53, "UDP", (("10.244.0.5", 5353),), CLIENT_IP),
        ServiceRule("192.168.49.100", 53, "UDP", (("10.244.0.5", 5353),), CLIENT_IP)]


def test_headless_external_name_and_local_traffic_policies():
    assert node_rules([svc(clusterIP="None")], [eps_slice([ep("10.244.0.5")])], [],
                      node="n1") == []
    assert node_rules([svc(type="ExternalName", externalName="example.com")], [], [],
                      node="n1") == []
    local = svc(type="NodePort", internalTrafficPolicy="Local",
                ports=[{"port": 80, "nodePort": 30080}])
    s = eps_slice([ep("10.244.0.5", node="n1"), ep("10.244.1.5", node="n2")])
    cluster_ip, nodeport = node_rules([local], [s], [], node="n2")
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
    """A cluster whose fabric records every rule replacement: (time, node, rules)."""
    with simulate(SPEC, seed=21) as cluster:
        fabric = cluster._ctx.extra[FABRIC_KEY]
        calls = []
        original = fabric.replace_service_rules

        def record(node, rules):
            calls.append((cluster.now, node, list(rules)))
            original(node, rules)
        fabric.replace_service_rules = record
        cluster.advance(3)
        yield cluster, fabric, calls


def test_defaults_match_kube_proxy():
    assert (MIN_SYNC_PERIOD, SYNC_PERIOD) == (1.0, 30.0)


def test_syncs_are_rate_limited_and_replace_the_whole_table(recorded):
    cluster, fabric, calls = recorded
    del calls[:]
    start = cluster.now
    cluster.create(service("web", "10.96.0.50"))
    for i in range(5):  # a burst of changes within one minSyncPeriod
        cluster.create(endpoint_slice(f"s{i}", [f"10.244.0.{10 + i}"]))
        cluster.advance(0.1)
    cluster.advance(2)
    node1 = [(t - start, rules) for t, node, rules in calls if node == "node-1"]
    times = [t for t, _ in node1]
    assert len(times) <= 3
    assert all(b - a >= MIN_SYNC_PERIOD - 1e-9 for a, b in zip(times, times[1:]))
    assert times[0] < 0.1  # the first change after a quiet second syncs at once
    final = {r.key: r for r in fabric.nat("node-1").rules()}
    assert final == {r.key: r for r in node1[-1][1]}  # the table is exactly the last set
    assert "svc 10.96.0.50:80/TCP" in final
    assert {r.key for r in fabric.nat("node-1").rules()} == \
        {r.key for r in fabric.nat("node-2").rules()}


def test_periodic_resync_repairs_drift(recorded):
    cluster, fabric, calls = recorded
    cluster.create(service("web", "10.96.0.50"))
    cluster.advance(2)
    fabric.nat("node-2").replace_rules([])  # someone flushed the node's rules
    cluster.advance(SYNC_PERIOD + 1)
    assert "svc 10.96.0.50:80/TCP" in {r.key for r in fabric.nat("node-2").rules()}


def test_endpoints_objects_are_enough(recorded):
    cluster, fabric, _ = recorded
    cluster.create(service("old", "10.96.0.70"))
    cluster.create({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "old"},
                    "subsets": [{"addresses": [{"ip": "10.244.1.9"}],
                                 "ports": [{"port": 8080, "protocol": "TCP"}]}]})
    cluster.advance(2)
    rule = {r.key: r for r in fabric.nat("node-1").rules()}["svc 10.96.0.70:80/TCP"]
    assert rule.backends == (("10.244.1.9", 8080),)


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
