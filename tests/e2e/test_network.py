"""The pod network end to end, through the Python API: pods on two nodes, a Service, DNS.

The cluster runs no scheduler and no controller manager: pods are bound by hand
(``spec.nodeName``) and EndpointSlices written as the EndpointSlice controller would, so the
kubelets, kube-proxy and CoreDNS are what is under test.
"""

import re

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import registered
from actors.kubelet import RequestFailed

SPEC = ClusterSpec(schedulers=0, controller_managers=0,
                   nodes=[NodeSpec("node-1"), NodeSpec("node-2")])
SEED_PATH = re.compile(
    r"^pod a eth0 → veth[0-9a-f]{8} \(node-1\) → cni0 gateway \(node-1\) → node-1 eth0 → "
    r"node-2 eth0 → cni0 gateway \(node-2\) → veth[0-9a-f]{8} \(node-2\) → pod b eth0$")


def pod(name, node, image="kubia", labels=None, **spec):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}], **spec}}


def slice_for(service, ips, port=8080, namespace="default", ready=None, name=None,
              port_name=""):
    ready = ready or {}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name or f"{service}-x1", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready.get(ip, True)}}
                          for ip in ips],
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}


def running(cluster, *names, namespace="default"):
    return all(cluster.get("pods", n, namespace)["status"].get("phase") == "Running"
               for n in names)


def ip_of(cluster, name, namespace="default"):
    return cluster.get("pods", name, namespace)["status"]["podIP"]


def publish_dns(cluster):
    """What the EndpointSlice controller would write for kube-dns once coredns is Ready."""
    cluster.run_until(lambda c: len([p for p in c.list("pods", "kube-system",
                                                       label_selector="k8s-app=kube-dns")["items"]
                                     if p["status"].get("podIP")]) == 2, timeout=60)
    ips = [p["status"]["podIP"] for p in cluster.list(
        "pods", "kube-system", label_selector="k8s-app=kube-dns")["items"]]
    dns = slice_for("kube-dns", ips, port=53, namespace="kube-system", port_name="dns")
    dns["ports"] = [{"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
    cluster.create(dns)


@pytest.fixture(scope="module")
def net():
    """Pods a (node-1), b and c (node-2, app=web); Service web → b, c (c not ready)."""
    with simulate(SPEC, seed=11) as cluster:
        cluster.create(pod("a", "node-1"))
        cluster.create(pod("b", "node-2", labels={"app": "web"}))
        cluster.create(pod("c", "node-2", labels={"app": "web"}))
        cluster.run_until(lambda c: running(c, "a", "b", "c"), timeout=60)
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "10.96.0.50", "selector": {"app": "web"},
                                 "ports": [{"port": 80, "targetPort": 8080}]}})
        b, c = ip_of(cluster, "b"), ip_of(cluster, "c")
        cluster.create(slice_for("web", [b, c], ready={c: False}))
        publish_dns(cluster)
        cluster.advance(2)  # kube-proxy's minSyncPeriod
        yield cluster


def test_cross_node_pod_to_pod_keeps_the_source_address(net):
    a, b = ip_of(net, "a"), ip_of(net, "b")
    r = net.request(from_pod=("default", "a"), to=f"{b}:8080")
    assert r.reply.endswith(f"You've hit b\nClient address: {a}\n".encode())  # no NAT
    assert SEED_PATH.match(r.path_str), r.path_str
    assert [h.node for h in r.path] == ["node-1"] * 4 + ["node-2"] * 4
    assert all((h.src, h.dst) == (a, b) for h in r.path)
    assert r.return_path_str.startswith("pod b eth0") and r.return_path_str.endswith("pod a eth0")
    assert net.logs("b").splitlines()[-1] == f"Received request from ::ffff:{a}"


def test_a_service_ip_reaches_only_ready_endpoints_and_the_reply_comes_back(net):
    b = ip_of(net, "b")
    for _ in range(8):
        r = net.request(from_pod=("default", "a"), to="10.96.0.50:80")
        assert b"You've hit b\n" in r.reply  # c is not ready: never chosen
        assert r.address == "10.96.0.50"
        assert f"[DNAT 10.96.0.50:80 → {b}:8080]" in r.path_str
        assert "un-DNAT" in r.return_path_str  # the client sees the VIP answer
        assert r.return_path[-1].src == "10.96.0.50"


def test_a_service_dns_name_resolves_through_coredns(net):
    b = ip_of(net, "b")
    r = net.request(from_pod=("default", "a"), to="web.default.svc.cluster.local:80")
    assert b"You've hit b\n" in r.reply
    assert f"[DNAT 10.96.0.50:80 → {b}:8080]" in r.path_str
    # glibc's search list first (ndots:5), then the name as given
    assert [lk.name for lk in r.dns] == [
        "web.default.svc.cluster.local.default.svc.cluster.local",
        "web.default.svc.cluster.local.svc.cluster.local",
        "web.default.svc.cluster.local.cluster.local", "web.default.svc.cluster.local"]
    assert [lk.rcode for lk in r.dns] == [3, 3, 3, 0]
    dns_path = r.dns[-1].delivery
    coredns = {p["status"]["podIP"] for p in net.list(
        "pods", "kube-system", label_selector="k8s-app=kube-dns")["items"]}
    assert dns_path.delivered and dns_path.packet_at_destination.dst_ip in coredns
    assert "DNAT 10.96.0.10:53" in dns_path.path[2].note
    short = net.request(from_pod=("default", "a"), to="web:80")
    assert [lk.name for lk in short.dns] == ["web.default.svc.cluster.local"]


def test_readiness_changes_reach_kube_proxy(net):
    b, c = ip_of(net, "b"), ip_of(net, "c")
    current = net.get("endpointslices", "web-x1")
    current["endpoints"] = [{"addresses": [c], "conditions": {"ready": True}},
                            {"addresses": [b], "conditions": {"ready": False}}]
    net.update(current)
    net.advance(1.5)
    for _ in range(6):
        assert b"You've hit c\n" in net.request(from_pod=("default", "a"),
                                                to="10.96.0.50:80").reply
    current = net.get("endpointslices", "web-x1")
    current["endpoints"] = []
    net.update(current)
    net.advance(1.5)
    with pytest.raises(RequestFailed) as e:
        net.request(from_pod=("default", "a"), to="10.96.0.50:80")
    assert e.value.reason == "connection refused"  # kube-proxy REJECTs a Service without endpoints
    assert "REJECT 10.96.0.50:80/TCP: no endpoints" in e.value.path_str


def test_failures_name_their_reason(net):
    with pytest.raises(RequestFailed) as e:
        net.request(from_pod=("default", "a"), to="nothing.default.svc.cluster.local:80")
    assert "Could not resolve host: nothing.default.svc.cluster.local" in str(e.value)
    with pytest.raises(RequestFailed) as e:
        net.request(from_pod=("default", "a"), to=f"{ip_of(net, 'b')}:9999")
    assert e.value.reason == "connection refused"
    assert e.value.path_str.endswith("pod b eth0 ✗ connection refused")


def test_logs():
    with simulate(SPEC, seed=3) as cluster:
        cluster.create(pod("web", "node-1", image="nginx"))
        cluster.create({**pod("two", "node-2"), "spec": {
            "nodeName": "node-2", "containers": [
                {"name": "x", "image": "kubia"},
                {"name": "y", "image": "busybox",
                 "command": ["sh", "-c", "echo hello from y; sleep 3600"]}]}})
        cluster.run_until(lambda c: running(c, "web", "two"), timeout=60)
        text = cluster.logs("web")
        assert text.startswith("/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty")
        assert text.endswith("start worker process 29\n")
        assert cluster.logs("two", container="x") == "Kubia server starting...\n"
        assert cluster.logs("two", container="y") == "hello from y\n"
        with pytest.raises(Exception, match="a container name must be specified"):
            cluster.logs("two")
        with pytest.raises(Exception, match="container z is not valid"):
            cluster.logs("two", container="z")


def test_dns_answers_headless_and_statefulset_names():
    with simulate(SPEC, seed=5) as cluster:
        for i, node in enumerate(["node-1", "node-2"]):
            cluster.create(pod(f"db-{i}", node, labels={"app": "db"}, hostname=f"db-{i}",
                               subdomain="db"))
        cluster.create(pod("client", "node-1"))
        cluster.run_until(lambda c: running(c, "db-0", "db-1", "client"), timeout=60)
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                        "spec": {"clusterIP": "None", "selector": {"app": "db"},
                                 "ports": [{"port": 8080}]}})
        ips = [ip_of(cluster, "db-0"), ip_of(cluster, "db-1")]
        s = slice_for("db", ips)
        for ep, i in zip(s["endpoints"], range(2), strict=True):
            ep["hostname"] = f"db-{i}"
        cluster.create(s)
        publish_dns(cluster)
        cluster.advance(2)
        r = cluster.request(from_pod=("default", "client"), to="db.default.svc.cluster.local:8080")
        assert r.dns[-1].addresses == tuple(ips)  # headless: the ready pods' own addresses
        assert "DNAT" not in r.path_str
        r = cluster.request(from_pod=("default", "client"),
                            to="db-1.db.default.svc.cluster.local:8080")
        assert r.address == ips[1] and b"You've hit db-1" in r.reply


def test_nodeport_and_session_affinity():
    with simulate(SPEC, seed=9) as cluster:
        for name, node in (("a", "node-1"), ("b", "node-2"), ("c", "node-2"), ("d", "node-1")):
            cluster.create(pod(name, node, labels={"app": "web"} if name != "a" else {}))
        cluster.run_until(lambda c: running(c, "a", "b", "c", "d"), timeout=60)
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"type": "NodePort", "clusterIP": "10.96.0.60",
                                 "sessionAffinity": "ClientIP", "selector": {"app": "web"},
                                 "ports": [{"port": 80, "targetPort": 8080,
                                            "nodePort": 30080}]}})
        cluster.create(slice_for("web", [ip_of(cluster, n) for n in "bcd"]))
        cluster.advance(2)
        first = cluster.request(from_pod=("default", "a"), to="10.96.0.60:80").reply
        for _ in range(5):  # ClientIP affinity: always the same backend
            assert cluster.request(from_pod=("default", "a"), to="10.96.0.60:80").reply == first
        node2 = cluster.get("nodes", "node-2")["status"]["addresses"][0]["address"]
        r = cluster.request(from_pod=("default", "a"), to=f"{node2}:30080")
        assert b"You've hit" in r.reply
        assert "DNAT" in r.path_str and "SNAT" in r.path_str  # NodePort traffic is masqueraded


def _scenario(seed):
    with simulate(SPEC, seed=seed) as cluster:
        cluster.create(pod("a", "node-1"))
        cluster.create(pod("b", "node-2", labels={"app": "web"}))
        cluster.create(pod("pending", "node-9"))  # bound to a node that does not exist
        cluster.run_until(lambda c: running(c, "a", "b"), timeout=60)
        with pytest.raises(RequestFailed, match="pod default/pending has no IP"):
            cluster.request(from_pod=("default", "pending"), to="10.96.0.1:443")
        with pytest.raises(RequestFailed) as e:  # no EndpointSlice for kube-dns: REJECTed
            cluster.request(from_pod=("default", "a"), to="kubernetes.default:443")
        assert "REJECT 10.96.0.10:53/UDP: no endpoints" in e.value.path_str
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80,
                                                                       "targetPort": 8080}]}})
        cluster.create(slice_for("web", [ip_of(cluster, "b"), ip_of(cluster, "a")]))
        cluster.advance(2)
        paths = [cluster.request(from_pod=("default", "a"), to="10.96.0.50:80").path_str
                 for _ in range(6)]
        return paths, ip_of(cluster, "a"), ip_of(cluster, "b")


def test_the_same_seed_gives_the_same_network():
    first = _scenario(17)
    assert first == _scenario(17)
    paths, a, b = first
    chosen = {re.search(r"DNAT 10\.96\.0\.50:80 → (\S+)\]?", p).group(1).rstrip("];")
              for p in paths}
    assert chosen == {f"{a}:8080", f"{b}:8080"}  # both backends (seeded random choice)
    hairpin = [p for p in paths if f"→ {a}:8080" in p]
    assert all("SNAT" in p for p in hairpin)  # a pod reaching itself through its Service


@pytest.mark.skipif("kube-controller-manager" not in registered(),
                    reason="needs the controller manager (node IPAM, Deployment, EndpointSlice)")
def test_with_the_whole_control_plane_a_service_name_just_works():
    spec = ClusterSpec(nodes=[NodeSpec("minikube"), NodeSpec("m02")])  # scheduler, controllers
    with simulate(spec, seed=13) as cluster:
        cluster.create({**pod("a", None, labels={"app": "web"}), "spec": {
            "containers": [{"name": "app", "image": "kubia"}]}})
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "10.96.0.50", "selector": {"app": "web"},
                                 "ports": [{"port": 80, "targetPort": 8080}]}})
        cluster.run_until(lambda c: running(c, "a") and running(c, *[
            p["metadata"]["name"] for p in c.list("pods", "kube-system")["items"]],
            namespace="kube-system"), timeout=120)
        cluster.advance(5)  # endpoints, then kube-proxy's next sync
        for node in ("minikube", "m02"):  # node IPAM gave each node its own podCIDR
            assert cluster.get("nodes", node, None)["spec"]["podCIDR"].startswith("10.244.")
        r = cluster.request(from_pod=("default", "a"), to="web.default.svc.cluster.local:80")
        assert b"You've hit a\n" in r.reply
        assert r.dns[-1].delivery.packet_at_destination.dst_ip in {
            p["status"]["podIP"] for p in cluster.list(
                "pods", "kube-system", label_selector="k8s-app=kube-dns")["items"]}
