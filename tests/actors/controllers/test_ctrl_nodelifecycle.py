"""Node failure through ``simulate()``: a crashed kubelet stops renewing its Lease and posting
status; after the grace period (40 s) the node lifecycle controller sets Ready=Unknown and
taints the node ``node.kubernetes.io/unreachable`` (NoExecute, and NoSchedule for the
scheduler); the taint-eviction controller evicts the pods when their toleration runs out, and
their ReplicaSet's replacements run on the other nodes. Also: node IPAM gives every node a
podCIDR."""

from __future__ import annotations

from actors import ClusterSpec, NodeSpec, simulate

from ._ctrl_helpers import deployment, is_ready, wait_available

TOLERATE_5S = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
               for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")]


def test_crashed_kubelet_node_goes_unknown_is_tainted_and_its_pods_move() -> None:
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}") for i in range(3)])
    with simulate(spec, seed=31) as c:
        c.create(deployment("web", replicas=6, tolerations=TOLERATE_5S))
        wait_available(c, "web", 6)
        pods = c.list("pods", "default", label_selector="app=web")["items"]
        victim = "node-1"
        on_victim = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == victim}
        assert on_victim  # the scheduler spread them
        crashed_at = c.now
        c.crash(f"kubelet/{victim}")

        def ready_status(c):  # type: ignore[no-untyped-def]
            conds = c.get("nodes", victim, None)["status"]["conditions"]
            return next(x for x in conds if x["type"] == "Ready")

        took = c.run_until(lambda c: ready_status(c)["status"] == "Unknown", timeout=120)
        assert 40 <= c.now - crashed_at <= 40 + 5 + 5  # grace period + a monitor period (+ lease)
        assert ready_status(c)["reason"] == "NodeStatusUnknown"
        assert took > 0
        c.run_until(lambda c: {(t["key"], t["effect"]) for t in c.get("nodes", victim, None)["spec"].get("taints") or ()}
                    >= {("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/unreachable", "NoSchedule")}, timeout=30)
        tainted_at = c.now
        # Evicted once the 5 s toleration runs out (the pods stay Terminating: nobody is left to
        # confirm their end on a dead node), and replaced on the healthy nodes.
        c.run_until(lambda c: all(c.get("pods", n)["metadata"].get("deletionTimestamp") for n in on_victim),
                    timeout=60)
        assert c.now - tainted_at >= 5 - 0.5
        def replaced(c):  # type: ignore[no-untyped-def]
            live = [p for p in c.list("pods", "default", label_selector="app=web")["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            return len(live) == 6 and all(is_ready(p) and p["spec"]["nodeName"] != victim for p in live)

        c.run_until(replaced, timeout=120)
        reasons = {(e["reason"], e["source"]["component"]) for e in c.list("events", "default")["items"]}
        assert ("TaintManagerEviction", "taint-eviction-controller") in reasons
        node_events = [e for e in c.list("events", "default")["items"]
                       if e["involvedObject"]["kind"] == "Node" and e["involvedObject"]["name"] == victim]
        assert any(e["reason"] == "NodeNotReady" and e["message"] == f"Node {victim} status is now: NodeNotReady"
                   for e in node_events)


def test_every_node_gets_a_pod_cidr_from_node_ipam() -> None:
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}") for i in range(4)])
    with simulate(spec, seed=32) as c:
        c.run_until(lambda c: all(n["spec"].get("podCIDR") for n in c.list("nodes")["items"])
                    and len(c.list("nodes")["items"]) == 4, timeout=60)
        cidrs = [n["spec"]["podCIDR"] for n in c.list("nodes")["items"]]
        assert len(set(cidrs)) == 4 and all(x.startswith("10.244.") and x.endswith(".0/24") for x in cidrs)
        for n in c.list("nodes")["items"]:
            assert n["spec"]["podCIDRs"] == [n["spec"]["podCIDR"]]
