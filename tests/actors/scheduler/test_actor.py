"""The kube-scheduler actor through the Python API: binding, events and their exact wording,
the PodScheduled condition, queue moves on cluster events, node affinity and taints,
profiles, binding failures, preemption, warm followers and determinism.

Kubelets are not part of these clusters: Node objects are created directly (allocatable,
capacity, a Ready condition), and where a pod must really go away (preemption victims) the
test plays the kubelet and finishes the graceful deletion with a grace period of 0."""

from __future__ import annotations

import re
from typing import Any

import pytest

from actors import ClusterSpec, simulate
from actors.api import parse_quantity
from actors.cluster import register_component
from actors.scheduler import (
    Code,
    Profile,
    SchedulerConfig,
    Status,
    default_plugins,
    profile_from_api,
    scheduler_components,
)
from actors.scheduler._component import RESTART_POLICY

# ---- builders shared by the test_actor* modules ------------------------------------------------


def node(name: str, cpu: str = "2", memory: str = "4Gi", *, pods: str = "110",
         labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None
         ) -> dict[str, Any]:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name,
                     "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": dict(alloc),
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}]},
    }
    if taints:
        obj["spec"]["taints"] = taints
    return obj


def pod(name: str, cpu: str | None = "500m", memory: str | None = None, *,
        priority_class: str | None = None, node_selector: dict[str, str] | None = None,
        affinity: dict[str, Any] | None = None, tolerations: list[dict[str, Any]] | None = None,
        scheduler_name: str | None = None, labels: dict[str, str] | None = None,
        ns: str = "default") -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {"name": "app", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    spec: dict[str, Any] = {"containers": [container]}
    for key, value in (("priorityClassName", priority_class), ("nodeSelector", node_selector),
                       ("affinity", affinity), ("tolerations", tolerations),
                       ("schedulerName", scheduler_name)):
        if value is not None:
            spec[key] = value
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": spec}


# The apiserver serves no PriorityClass objects yet; the Priority admission plugin knows the
# two system classes, so those (and 0, no class) are the priorities a test can use.
HIGH = "system-cluster-critical"  # 2000000000
HIGHER = "system-node-critical"  # 2000001000


def spec(schedulers: int = 1, **kw: Any) -> ClusterSpec:
    """A control plane with schedulers only (no kubelets, addons or controller managers,
    so nothing but the scheduler and the test touches pods and nodes)."""
    return ClusterSpec(nodes=[], schedulers=schedulers, controller_managers=0, addons=(), **kw)


def pods_by_name(cluster: Any, ns: str = "default") -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in cluster.list("pods", ns)["items"]}


def node_of(cluster: Any, name: str) -> str | None:
    return (cluster.get("pods", name)["spec"] or {}).get("nodeName")


def events(cluster: Any, reason: str | None = None, ns: str = "default") -> list[dict[str, Any]]:
    items = cluster.list("events", ns)["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


def scheduled_condition(p: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in (p.get("status") or {}).get("conditions") or ()
                 if c["type"] == "PodScheduled"), None)


def milli(q: str) -> int:
    return parse_quantity(q).milli_value()


def assert_not_overcommitted(cluster: Any) -> None:
    """For every node, the bound pods' cpu and memory requests fit its allocatable."""
    nodes = {n["metadata"]["name"]: n["status"]["allocatable"]
             for n in cluster.list("nodes")["items"]}
    used: dict[str, list[int]] = {n: [0, 0, 0] for n in nodes}
    for p in cluster.list("pods")["items"]:
        where = p["spec"].get("nodeName")
        if not where:
            continue
        for c in p["spec"]["containers"]:
            req = (c.get("resources") or {}).get("requests") or {}
            used[where][0] += milli(req.get("cpu", "0"))
            used[where][1] += parse_quantity(req.get("memory", "0")).value_int()
        used[where][2] += 1
    for name, alloc in nodes.items():
        cpu, mem, count = used[name]
        assert cpu <= milli(alloc["cpu"]), f"{name}: {cpu}m cpu > {alloc['cpu']}"
        assert mem <= parse_quantity(alloc["memory"]).value_int(), f"{name}: memory overcommitted"
        assert count <= int(alloc["pods"]), f"{name}: too many pods"


def settle(cluster: Any, seconds: float = 5.0) -> None:
    cluster.advance(seconds)


def leader(cluster: Any) -> str:
    (name,) = [n for n in cluster.actors if n.startswith("kube-scheduler-")
               and cluster.sim.system.status(n) == "running" and cluster.sim.actor(n).leading]
    return name


# ---- binding and events -------------------------------------------------------------------


def test_binds_pods_and_records_the_seed_scheduled_event():
    with simulate(spec(), seed=1) as cluster:
        cluster.create(node("minikube"))
        cluster.create(pod("nginx-879cf7b8c-fpfzn"))
        cluster.run_until(lambda c: node_of(c, "nginx-879cf7b8c-fpfzn") == "minikube", 10)
        settle(cluster, 1)
        (ev,) = events(cluster, "Scheduled")
        assert ev["message"] == \
            "Successfully assigned default/nginx-879cf7b8c-fpfzn to minikube"
        assert ev["type"] == "Normal"
        assert ev["source"] == {"component": "default-scheduler"}
        assert ev["involvedObject"]["kind"] == "Pod"
        assert ev["involvedObject"]["name"] == "nginx-879cf7b8c-fpfzn"
        cond = scheduled_condition(cluster.get("pods", "nginx-879cf7b8c-fpfzn"))
        assert cond is not None and cond["status"] == "True"  # set by the binding
        assert not events(cluster, "FailedScheduling")


def test_many_pods_of_mixed_sizes_never_overcommit_a_node():
    sizes = ["100m", "250m", "500m", "750m", "1", "1500m"]
    with simulate(spec(), seed=2) as cluster:
        for i in range(3):
            cluster.create(node(f"n{i}", cpu="2", memory="2Gi"))
        for i in range(24):
            cluster.create(pod(f"p{i:02d}", cpu=sizes[i % len(sizes)], memory="128Mi"))
        settle(cluster, 20)
        assert_not_overcommitted(cluster)
        pods = pods_by_name(cluster)
        bound = [n for n, p in pods.items() if p["spec"].get("nodeName")]
        pending = [n for n, p in pods.items() if not p["spec"].get("nodeName")]
        assert len(bound) >= 8 and pending  # 6 cpu for 19.2 cpu of requests
        for name in pending:
            cond = scheduled_condition(pods[name])
            assert cond is not None and cond["status"] == "False"
            assert cond["reason"] == "Unschedulable"
            assert re.fullmatch(r"0/3 nodes are available: 3 Insufficient cpu\. preemption: .*",
                                cond["message"]), cond["message"]
        scheduled = {e["involvedObject"]["name"] for e in events(cluster, "Scheduled")}
        assert scheduled == set(bound)
        stats = cluster.sim.actor("kube-scheduler-0").statistics()
        assert stats.bound == len(bound) and stats.bind_failures == 0
        assert stats.cached_pods == len(bound)


def test_failed_scheduling_wording_and_the_pod_scheduled_condition():
    no_preemption = {"profiles": [{"schedulerName": "default-scheduler", "plugins": {
        "postFilter": {"disabled": [{"name": "DefaultPreemption"}]}}}]}
    for config, expected in (
        (no_preemption, "0/3 nodes are available: 3 Insufficient cpu."),
        (None, "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are "
               "available: 3 Preemption is not helpful for scheduling."),
    ):
        register_component("kube-scheduler", scheduler_components(config))
        try:
            with simulate(spec(), seed=3) as cluster:
                for i in range(3):
                    cluster.create(node(f"n{i}", cpu="1"))
                cluster.create(pod("huge", cpu="2"))
                settle(cluster, 3)
                (ev,) = events(cluster, "FailedScheduling")
                assert ev["message"] == expected
                assert ev["type"] == "Warning"
                assert ev["source"] == {"component": "default-scheduler"}
                p = cluster.get("pods", "huge")
                cond = scheduled_condition(p)
                assert cond is not None
                assert {k: cond[k] for k in ("status", "reason", "message")} == {
                    "status": "False", "reason": "Unschedulable", "message": expected}
                assert "nominatedNodeName" not in p["status"]
                # Unresolvable everywhere: it waits for a cluster event, not a timer.
                rv = p["metadata"]["resourceVersion"]
                settle(cluster, 60)
                assert cluster.get("pods", "huge")["metadata"]["resourceVersion"] == rv
                assert events(cluster, "FailedScheduling")[0]["count"] == 1
        finally:
            register_component("kube-scheduler", scheduler_components())


def test_the_exact_message_of_a_full_cluster_with_equal_priorities():
    with simulate(spec(), seed=4) as cluster:
        for i in range(3):
            cluster.create(node(f"n{i}", cpu="1"))
            cluster.create(pod(f"fill-{i}", cpu="1"))
        settle(cluster, 2)
        cluster.create(pod("late", cpu="500m"))
        settle(cluster, 2)
        (ev,) = [e for e in events(cluster, "FailedScheduling")
                 if e["involvedObject"]["name"] == "late"]
        assert ev["message"] == (
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod.")


def test_no_nodes_then_a_node_arrives():
    with simulate(spec(), seed=5) as cluster:
        cluster.create(pod("early"))
        settle(cluster, 3)
        (ev,) = events(cluster, "FailedScheduling")
        assert ev["message"] == "no nodes available to schedule pods"
        cond = scheduled_condition(cluster.get("pods", "early"))
        assert cond["reason"] == "Unschedulable" and cond["status"] == "False"
        # No plugin to blame: it retries with back-off (1, 2, 4 s ...): the event counts up.
        settle(cluster, 12)
        assert events(cluster, "FailedScheduling")[0]["count"] >= 3
        cluster.create(node("late-node"))
        cluster.run_until(lambda c: node_of(c, "early") == "late-node", 15)


def test_a_node_added_releases_unschedulable_pods_at_once():
    with simulate(spec(), seed=6) as cluster:
        cluster.create(node("small", cpu="1"))
        cluster.create(pod("big", cpu="2"))
        settle(cluster, 3)
        assert node_of(cluster, "big") is None
        t0 = cluster.now
        cluster.create(node("large", cpu="4"))
        t = cluster.run_until(lambda c: node_of(c, "big") == "large", 5, poll=0.01)
        assert t < 0.5  # NodeAdd moved it; it did not wait for the 5-minute flush
        assert cluster.now - t0 < 1


def test_deleting_an_assigned_pod_makes_room():
    with simulate(spec(), seed=7) as cluster:
        cluster.create(node("n0", cpu="1"))
        cluster.create(pod("first", cpu="1"))
        cluster.run_until(lambda c: node_of(c, "first") == "n0", 5)
        cluster.create(pod("second", cpu="1"))
        settle(cluster, 3)
        assert node_of(cluster, "second") is None
        cluster.delete("pods", "first", grace_period_seconds=0)
        cluster.run_until(lambda c: node_of(c, "second") == "n0", 5, poll=0.01)
        assert_not_overcommitted(cluster)


# ---- node affinity, selectors and taints ----------------------------------------------------


def test_node_affinity_selectors_and_taints_are_honoured():
    gpu_taint = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    tolerate = [{"key": "dedicated", "operator": "Equal", "value": "gpu",
                 "effect": "NoSchedule"}]
    ssd_required = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}
    zone_b = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["b"]}]}}]}}
    with simulate(spec(), seed=8) as cluster:
        cluster.create(node("gpu", labels={"disk": "ssd", "zone": "a"}, taints=gpu_taint))
        cluster.create(node("ssd", labels={"disk": "ssd", "zone": "a"}))
        cluster.create(node("hdd", labels={"disk": "hdd", "zone": "b"}))
        cluster.create(pod("wants-ssd", cpu="100m", affinity=ssd_required))
        cluster.create(pod("wants-hdd", cpu="100m", node_selector={"disk": "hdd"}))
        cluster.create(pod("gpu-job", cpu="100m", tolerations=tolerate,
                           node_selector={"kubernetes.io/hostname": "gpu"}))
        cluster.create(pod("prefers-b", cpu="100m", affinity=zone_b))
        cluster.create(pod("nowhere", cpu="100m", node_selector={"disk": "nvme"}))
        cluster.create(pod("only-gpu-untolerated", cpu="100m",
                           node_selector={"kubernetes.io/hostname": "gpu"}))
        settle(cluster, 3)
        placed = {n: p["spec"].get("nodeName") for n, p in pods_by_name(cluster).items()}
        assert placed == {"wants-ssd": "ssd", "wants-hdd": "hdd", "gpu-job": "gpu",
                          "prefers-b": "hdd", "nowhere": None, "only-gpu-untolerated": None}
        msgs = {e["involvedObject"]["name"]: e["message"]
                for e in events(cluster, "FailedScheduling")}
        assert msgs["nowhere"] == (
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
            "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
            "available: 3 Preemption is not helpful for scheduling.")
        assert msgs["only-gpu-untolerated"].startswith(
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
            "2 node(s) didn't match Pod's node affinity/selector.")
        # Tainting a node keeps new pods off it; removing the taint lets the pod on.
        live = cluster.get("nodes", "gpu", None)
        cluster.update({**live, "spec": {**live["spec"], "taints": []}})
        cluster.run_until(lambda c: node_of(c, "only-gpu-untolerated") == "gpu", 5)


# ---- profiles and configuration -------------------------------------------------------------


def test_profiles_scheduler_names_and_foreign_pods():
    config = {"profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "bin-packer", "plugins": {"score": {"disabled": [
            {"name": "NodeResourcesBalancedAllocation"}, {"name": "ImageLocality"}]}},
         "percentageOfNodesToScore": 100},
    ]}
    register_component("kube-scheduler", scheduler_components(config))
    try:
        with simulate(spec(), seed=9) as cluster:
            cluster.create(node("n0"))
            cluster.create(pod("mine", scheduler_name="bin-packer"))
            cluster.create(pod("theirs", scheduler_name="someone-else"))
            settle(cluster, 5)
            assert node_of(cluster, "mine") == "n0"
            assert node_of(cluster, "theirs") is None
            (ev,) = events(cluster, "Scheduled")
            assert ev["source"] == {"component": "bin-packer"}
            assert ev["involvedObject"]["name"] == "mine"
            assert not events(cluster, "FailedScheduling")  # not ours: not even tried
            sched = cluster.sim.actor("kube-scheduler-0")
            assert sorted(sched.profiles) == ["bin-packer", "default-scheduler"]
            assert [p.name for p in sched.profiles["bin-packer"].score] == [
                "TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread",
                "InterPodAffinity"]
    finally:
        register_component("kube-scheduler", scheduler_components())


def test_configuration_is_read_and_validated():
    cfg = SchedulerConfig.from_api({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 30, "podInitialBackoffSeconds": 2,
        "podMaxBackoffSeconds": 20,
        "leaderElection": {"leaderElect": True, "leaseDuration": "20s", "renewDeadline": "15s",
                           "retryPeriod": "3s", "resourceLock": "endpoints"},
        "clientConnection": {"qps": 10, "burst": 20},
        "profiles": [{"schedulerName": "a", "pluginConfig": [
            {"name": "DefaultPreemption", "args": {"minCandidateNodesAbsolute": 5}},
            {"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 7}}]}],
    })
    assert (cfg.percentage_of_nodes_to_score, cfg.pod_initial_backoff, cfg.pod_max_backoff) == (
        30, 2.0, 20.0)
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (20.0, 15.0, 3.0)
    assert (cfg.resource_lock, cfg.qps, cfg.burst) == ("endpoints", 10.0, 20)
    (profile,) = cfg.build_profiles().values()
    assert profile.name == "a"
    assert profile.plugin("DefaultPreemption").min_abs == 5
    assert profile.plugin("InterPodAffinity").hard_pod_affinity_weight == 7
    assert SchedulerConfig() == SchedulerConfig.from_api(None)
    d = SchedulerConfig()
    assert (d.qps, d.burst, d.lease_duration, d.renew_deadline, d.retry_period) == (
        50.0, 100, 15.0, 10.0, 2.0)
    assert (d.resource_lock, d.resource_name, d.resource_namespace) == (
        "leases", "kube-scheduler", "kube-system")
    with pytest.raises(ValueError, match="unknown plugin"):
        profile_from_api({"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}})
    with pytest.raises(ValueError, match="unknown field"):
        SchedulerConfig.from_api({"percentOfNodes": 3})
    with pytest.raises(ValueError, match="resource lock"):
        SchedulerConfig(resource_lock="zookeeper")
    with pytest.raises(ValueError, match="duration"):
        SchedulerConfig.from_api({"leaderElection": {"leaseDuration": "15"}})
    assert RESTART_POLICY.restart == "always"


class FlakyPreBind:
    """Rejects the first ``n`` PreBind calls: the binding cycle must forget and requeue."""

    name = "FlakyPreBind"

    def __init__(self, n: int) -> None:
        self.left = n

    def pre_bind(self, state: Any, pod: Any, node_name: str) -> Status | None:
        if self.left > 0:
            self.left -= 1
            return Status(Code.ERROR, ("volume not ready",))
        return None


def test_a_failed_binding_forgets_the_pod_and_retries_with_backoff():
    def profiles() -> list[Profile]:
        return [Profile(plugins=[*default_plugins(), FlakyPreBind(2)])]

    register_component("kube-scheduler", scheduler_components(SchedulerConfig(profiles=profiles)))
    try:
        with simulate(spec(), seed=10) as cluster:
            cluster.create(node("n0", cpu="1"))
            cluster.create(pod("p", cpu="1"))
            cluster.run_until(lambda c: node_of(c, "p") == "n0", 20, poll=0.05)
            sched = cluster.sim.actor("kube-scheduler-0")
            stats = sched.statistics()
            assert (stats.bind_failures, stats.bound, stats.errors) == (2, 1, 2)
            assert stats.cached_pods == 1  # forgotten twice, confirmed once
            settle(cluster, 1)
            (failed,) = events(cluster, "FailedScheduling")
            assert failed["message"] == "volume not ready" and failed["count"] == 2
            assert len(events(cluster, "Scheduled")) == 1
            cond = scheduled_condition(cluster.get("pods", "p"))
            assert cond["status"] == "True"
    finally:
        register_component("kube-scheduler", scheduler_components())


# ---- preemption -----------------------------------------------------------------------------


def play_kubelet(cluster: Any) -> list[str]:
    """Finish the graceful deletion of terminating pods, as their kubelet would."""
    done = []
    for p in cluster.list("pods")["items"]:
        if p["metadata"].get("deletionTimestamp"):
            cluster.delete("pods", p["metadata"]["name"], grace_period_seconds=0)
            done.append(p["metadata"]["name"])
    return done


def test_preemption_evicts_a_lower_priority_pod_and_nominates_the_node():
    with simulate(spec(), seed=11) as cluster:
        cluster.create(node("n0", cpu="2"))
        cluster.create(node("n1", cpu="2"))
        cluster.create(pod("keep", cpu="2", priority_class=HIGHER))
        cluster.create(pod("victim", cpu="2"))
        settle(cluster, 2)
        victim_node = node_of(cluster, "victim")
        assert victim_node is not None
        urgent = cluster.create(pod("urgent", cpu="2", priority_class=HIGH))
        cluster.run_until(lambda c: c.get("pods", "victim")["metadata"].get("deletionTimestamp"),
                          5, poll=0.05)
        v = cluster.get("pods", "victim")
        dt = next(c for c in v["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert {k: dt[k] for k in ("status", "reason", "message")} == {
            "status": "True", "reason": "PreemptionByScheduler",
            "message": "default-scheduler: preempting to accommodate a higher priority pod"}
        settle(cluster, 1)
        u = cluster.get("pods", "urgent")
        assert u["status"]["nominatedNodeName"] == victim_node
        assert u["spec"].get("nodeName") is None  # the victim is still terminating
        (pre,) = events(cluster, "Preempted")
        assert pre["message"] == f"Preempted by pod {urgent['metadata']['uid']} on node {victim_node}"
        assert pre["involvedObject"]["name"] == "victim" and pre["type"] == "Normal"
        (failed,) = [e for e in events(cluster, "FailedScheduling")
                     if e["involvedObject"]["name"] == "urgent"]
        assert failed["message"] == "0/2 nodes are available: 2 Insufficient cpu."
        assert node_of(cluster, "keep") != victim_node
        assert play_kubelet(cluster) == ["victim"]
        cluster.run_until(lambda c: node_of(c, "urgent") == victim_node, 5, poll=0.01)
        assert_not_overcommitted(cluster)
        assert cluster.sim.actor("kube-scheduler-0").statistics().preempted == 1


# ---- replicas ---------------------------------------------------------------------------------


def test_followers_keep_warm_caches_and_queues():
    with simulate(spec(schedulers=3), seed=13) as cluster:
        for i in range(4):
            cluster.create(node(f"n{i}"))
        for i in range(6):
            cluster.create(pod(f"p{i}"))
        cluster.create(pod("too-big", cpu="64"))
        settle(cluster, 5)
        lead = leader(cluster)
        for name in ("kube-scheduler-0", "kube-scheduler-1", "kube-scheduler-2"):
            s = cluster.sim.actor(name).statistics()
            assert s.synced and s.cached_nodes == 4 and s.cached_pods == 6
            if name == lead:
                assert s.leading and s.bound == 6
            else:
                assert not s.leading and s.attempts == 0
                assert s.pending == "activeQ:1; backoffQ:0; unschedulablePods:0"


def test_same_seed_same_placements():
    def run(seed: int) -> dict[str, str | None]:
        with simulate(spec(schedulers=2), seed=seed) as cluster:
            for i in range(5):
                cluster.create(node(f"n{i}", cpu="4"))
            for i in range(20):
                cluster.create(pod(f"p{i}", cpu="300m"))
            settle(cluster, 5)
            return {n: p["spec"].get("nodeName") for n, p in pods_by_name(cluster).items()}

    first = run(21)
    assert first == run(21)
    assert all(first.values())
