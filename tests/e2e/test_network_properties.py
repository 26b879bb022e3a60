"""Properties of the pod network (Hypothesis, small budgets): addresses are never handed out
twice, pod-to-pod packets keep their source address, Service traffic reaches only ready
endpoints."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ClusterSpec, NodeSpec, simulate
from actors.kubelet import RequestFailed
from actors.kubelet._component import FABRIC_KEY

NODES = ["node-1", "node-2", "node-3"]
SPEC = ClusterSpec(schedulers=0, controller_managers=0, nodes=[NodeSpec(n) for n in NODES])
PAUSE = "registry.k8s.io/pause:3.9"  # preloaded on every node: no pulls, fast churn


def pod(name, node, image=PAUSE, labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": image}]}}


def check_addresses(cluster):
    fabric = cluster._ctx.extra[FABRIC_KEY]
    held = [(ns.name, str(a.ip)) for ns in fabric.namespaces() if ns.kind == "pod"
            for i in ns.interfaces() if i.name == "eth0" for a in i.addresses]
    ips = [ip for _, ip in held]
    assert len(ips) == len(set(ips)), f"an address is held twice: {held}"
    live = [p for p in cluster.list("pods", "default")["items"]
            if p["status"].get("phase") == "Running" and not p["metadata"].get(
                "deletionTimestamp")]
    shown = [p["status"]["podIP"] for p in live]
    assert len(shown) == len(set(shown)), f"two running pods show one IP: {shown}"
    for p in live:
        owner = fabric.owner_of(p["status"]["podIP"])
        assert owner is not None and owner.node == p["spec"]["nodeName"]
        assert p["status"]["podIP"] in {ip for _, ip in held}


OPS = st.lists(st.tuples(st.sampled_from(["create", "create", "delete", "force"]),
                         st.integers(0, 2), st.integers(0, 5),
                         st.sampled_from([0.0, 0.3, 1.0, 2.5])), min_size=4, max_size=14)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(ops=OPS, seed=st.integers(0, 2**16))
def test_no_address_is_handed_out_twice_across_churn(ops, seed):
    with simulate(SPEC, seed=seed) as cluster:
        cluster.run_until(lambda c: len(c.list("nodes")["items"]) == 3, timeout=10)
        live: dict[str, int] = {}
        generation = 0
        for op, node, i, wait in ops:
            name = f"p{i}"
            if op == "create" and name not in live:
                generation += 1
                cluster.create(pod(f"{name}-{generation}", NODES[node]))
                live[name] = generation
            elif op in ("delete", "force") and name in live:
                cluster.delete("pods", f"{name}-{live.pop(name)}",
                               grace_period_seconds=0 if op == "force" else None)
            cluster.advance(wait)
            check_addresses(cluster)
        cluster.advance(10)
        check_addresses(cluster)
        running = [p for p in cluster.list("pods", "default")["items"]
                   if p["status"].get("phase") == "Running"]
        assert len(running) == len(live)


@pytest.fixture(scope="module")
def web():
    """Two kubia pods per node (app=web) and a Service over them."""
    with simulate(SPEC, seed=41) as cluster:
        names = [f"w{i}" for i in range(6)]
        for i, name in enumerate(names):
            cluster.create(pod(name, NODES[i % 3], image="kubia", labels={"app": "web"}))
        cluster.run_until(lambda c: all(c.get("pods", n)["status"].get("phase") == "Running"
                                        for n in names), timeout=60)
        ips = {n: cluster.get("pods", n)["status"]["podIP"] for n in names}
        cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                        "spec": {"clusterIP": "10.96.0.80", "selector": {"app": "web"},
                                 "ports": [{"port": 80, "targetPort": 8080}]}})
        cluster.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": "web-p", "labels": {
                            "kubernetes.io/service-name": "web"}},
                        "addressType": "IPv4", "endpoints": [],
                        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]})
        yield cluster, names, ips


HIT = re.compile(rb"You've hit (\S+)\nClient address: (\S+)\n$")


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_pod_to_pod_packets_keep_their_source_address(web, data):
    cluster, names, ips = web
    src, dst = data.draw(st.sampled_from(names)), data.draw(st.sampled_from(names))
    r = cluster.request(from_pod=("default", src), to=f"{ips[dst]}:8080")
    m = HIT.search(r.reply)
    assert m and m.group(1).decode() == dst and m.group(2).decode() == ips[src]
    assert r.path[-1].dst == ips[dst]
    assert all(h.src == ips[src] and not h.note for h in r.path)  # no rewrite on the way


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_service_traffic_reaches_only_ready_endpoints(web, data):
    cluster, names, ips = web
    ready = data.draw(st.lists(st.booleans(), min_size=6, max_size=6))
    client = data.draw(st.sampled_from(names))
    es = cluster.get("endpointslices", "web-p")
    es["endpoints"] = [{"addresses": [ips[n]], "conditions": {"ready": r}}
                       for n, r in zip(names, ready, strict=True)]
    cluster.update(es)
    cluster.advance(1.1)  # at most one minSyncPeriod for kube-proxy to follow
    wanted = {n for n, r in zip(names, ready, strict=True) if r}
    for _ in range(4):
        if not wanted:
            with pytest.raises(RequestFailed, match="connection refused"):
                cluster.request(from_pod=("default", client), to="10.96.0.80:80")
            continue
        r = cluster.request(from_pod=("default", client), to="10.96.0.80:80")
        m = HIT.search(r.reply)
        assert m and m.group(1).decode() in wanted
        assert r.return_path[-1].src == "10.96.0.80"  # the reply comes from the VIP
