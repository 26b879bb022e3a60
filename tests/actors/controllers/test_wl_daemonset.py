"""The DaemonSet controller through ``simulate()``: one pod per eligible node, following nodes
that come and go, taints and tolerations, a node selector, and a RollingUpdate bounded by
``maxUnavailable`` with its ControllerRevisions. The scheduler and the kubelets are real."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster

THREE = ClusterSpec(nodes=[NodeSpec("node-1"), NodeSpec("node-2"), NodeSpec("node-3")])


def daemonset(name: str = "agent", *, image: str = "nginx", **pod_spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name, "image": image}], **pod_spec}}}}


def live_pods(c: Cluster, app: str = "agent") -> list[dict[str, Any]]:
    return [p for p in c.list("pods", "default", label_selector=f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def target_node(pod: dict[str, Any]) -> str:
    """The node a daemon pod is for: its node-name affinity (set before it is scheduled)."""
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    return terms["nodeSelectorTerms"][0]["matchFields"][0]["values"][0]


def running_nodes(c: Cluster, app: str = "agent") -> list[str]:
    return sorted(p["spec"].get("nodeName", "") for p in live_pods(c, app)
                  if p["status"].get("phase") == "Running")


def is_ready(pod: dict[str, Any]) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True" for x in pod["status"].get("conditions") or ())


def status(c: Cluster, name: str = "agent") -> dict[str, Any]:
    return c.get("daemonsets", name).get("status") or {}


def test_one_pod_per_node_with_the_daemon_tolerations_and_a_revision() -> None:
    with simulate(THREE, seed=1) as c:
        events = c.watch("events", "default")
        c.create(daemonset())
        c.run_until(lambda c: status(c).get("numberReady") == 3, timeout=60)
        pods = live_pods(c)
        assert sorted(target_node(p) for p in pods) == ["node-1", "node-2", "node-3"]
        assert running_nodes(c) == ["node-1", "node-2", "node-3"]  # the scheduler honoured them
        st = status(c)
        assert {k: st[k] for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                   "updatedNumberScheduled", "numberAvailable", "numberMisscheduled")} == {
            "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3,
            "updatedNumberScheduled": 3, "numberAvailable": 3, "numberMisscheduled": 0}
        tolerations = {(t["key"], t["effect"]) for t in pods[0]["spec"]["tolerations"]}
        assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tolerations
        (rev,) = [r for r in c.list("controllerrevisions", "default")["items"]
                  if r["metadata"]["ownerReferences"][0]["name"] == "agent"]
        assert rev["revision"] == 1
        h = rev["metadata"]["labels"]["controller-revision-hash"]
        assert rev["metadata"]["name"] == f"agent-{h}"
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods} == {h}
        created = [(e["object"]["reason"], e["object"]["message"], e["object"]["source"]["component"])
                   for e in events.drain() if e["object"]["involvedObject"]["kind"] == "DaemonSet"]
        assert sorted(created) == sorted(("SuccessfulCreate", f"Created pod: {p['metadata']['name']}",
                                          "daemonset-controller") for p in pods)
        assert not [e for e in c.list("events", "default")["items"]
                    if e["type"] == "Warning" and e["source"]["component"] == "daemonset-controller"]


def test_nodes_removed_and_added_are_followed() -> None:
    with simulate(THREE, seed=2) as c:
        c.create(daemonset())
        c.run_until(lambda c: status(c).get("numberReady") == 3, timeout=60)
        (gone,) = [p for p in live_pods(c) if p["spec"]["nodeName"] == "node-3"]
        c.delete("nodes", "node-3", None)  # its kubelet stops; the pod GC would remove the pod
        c.run_until(lambda c: status(c).get("desiredNumberScheduled") == 2, timeout=10)
        c.delete("pods", gone["metadata"]["name"], grace_period_seconds=0)
        c.advance(5)
        assert sorted(target_node(p) for p in live_pods(c)) == ["node-1", "node-2"]  # no replacement
        # The node joins again: its kubelet restarts and registers it anew.
        c.restart("kubelet/node-3")
        c.run_until(lambda c: running_nodes(c) == ["node-1", "node-2", "node-3"], timeout=30)
        assert sorted(target_node(p) for p in live_pods(c)) == ["node-1", "node-2", "node-3"]
        assert status(c)["desiredNumberScheduled"] == 3


def test_taints_tolerations_and_a_node_selector() -> None:
    spec = ClusterSpec(nodes=[NodeSpec("node-1", labels={"disk": "ssd"}), NodeSpec("node-2"),
                              NodeSpec("node-3", labels={"disk": "ssd"})])
    with simulate(spec, seed=3) as c:
        c.create(daemonset())
        c.create(daemonset("ssd", nodeSelector={"disk": "ssd"}))
        c.create(daemonset("tolerant", tolerations=[{"key": "dedicated", "operator": "Exists"}]))
        c.run_until(lambda c: status(c).get("numberReady") == 3 and status(c, "tolerant").get("numberReady") == 3
                    and status(c, "ssd").get("numberReady") == 2, timeout=60)
        assert running_nodes(c, "ssd") == ["node-1", "node-3"]
        # NoExecute evicts the daemon pods that do not tolerate it (NoSchedule would only keep
        # new ones away); a node that loses the selected label loses its pod.
        c.patch("nodes", "node-2", {"spec": {"taints": [{"key": "dedicated", "value": "db",
                                                         "effect": "NoExecute"}]}}, None)
        c.patch("nodes", "node-3", {"metadata": {"labels": {"disk": None}}}, None)
        c.run_until(lambda c: running_nodes(c) == ["node-1", "node-3"]
                    and running_nodes(c, "ssd") == ["node-1"], timeout=30)
        assert running_nodes(c, "tolerant") == ["node-1", "node-2", "node-3"]
        assert (status(c)["desiredNumberScheduled"], status(c, "ssd")["desiredNumberScheduled"]) == (2, 1)
        c.patch("nodes", "node-2", {"spec": {"taints": None}}, None)
        c.run_until(lambda c: running_nodes(c) == ["node-1", "node-2", "node-3"], timeout=30)
        reasons = [e["reason"] for e in c.list("events", "default")["items"]
                   if e["involvedObject"]["name"] == "agent"]
        assert reasons.count("SuccessfulDelete") == 1 and reasons.count("SuccessfulCreate") == 4


def test_rolling_update_keeps_max_unavailable_and_records_revisions() -> None:
    with simulate(THREE, seed=4) as c:
        c.create(daemonset())
        c.run_until(lambda c: status(c).get("numberAvailable") == 3, timeout=60)
        pods = c.watch("pods", "default")
        c.patch("daemonsets", "agent", {"spec": {"template": {"spec": {"containers": [
            {"name": "agent", "image": "httpd"}]}}}})
        c.run_until(lambda c: status(c).get("updatedNumberScheduled") == 3
                    and status(c).get("numberAvailable") == 3, timeout=90)
        # Replay the pod events: never more than one node without a ready pod.
        state = {p["metadata"]["name"]: (target_node(p), True) for p in live_pods(c)}
        worst = 0
        for ev in pods.drain():
            p = ev["object"]
            alive = ev["type"] != "DELETED" and not p["metadata"].get("deletionTimestamp")
            state[p["metadata"]["name"]] = (target_node(p), alive and is_ready(p))
            covered = {node for node, ok in state.values() if ok}
            worst = max(worst, 3 - len(covered))
        assert worst == 1
        assert {p["spec"]["containers"][0]["image"] for p in live_pods(c)} == {"httpd"}
        revs = sorted((r["revision"], r["metadata"]["name"]) for r in c.list("controllerrevisions", "default")["items"]
                      if r["metadata"]["ownerReferences"][0]["name"] == "agent")
        assert [n for n, _ in revs] == [1, 2]
        new_hash = revs[-1][1].removeprefix("agent-")
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in live_pods(c)} == {new_hash}
        assert status(c)["observedGeneration"] == 2

