"""The scheduler package's public surface, pinned."""

import actors.scheduler as sched

EXPECTED = {
    "BINDING_KEY", "DEFAULT_WEIGHTS", "ActionType", "AlgorithmState", "BalancedAllocation",
    "CacheError", "CacheInvariantError", "ClusterEvent", "Code", "CycleState", "DefaultBinder",
    "DefaultPreemption", "Diagnosis", "Handle", "ImageLocality", "InterPodAffinity",
    "NoNodesAvailable", "NodeAffinity", "NodeInfo", "NodeName", "NodePorts", "NodeResourcesFit",
    "NodeUnschedulable", "PluginError", "PodInfo", "PodTopologySpread", "PostFilterResult",
    "PreFilterResult", "Profile", "QueuedPodInfo", "Resource", "ScheduleResult",
    "SchedulerCache", "SchedulingQueue", "Snapshot", "Status", "TaintToleration",
    "default_plugins", "fit_error_message", "node_update_event", "num_feasible_nodes_to_find",
    "schedule_one", "select_host",
    # the shell
    "KubeScheduler", "LeaderElectionLost", "SchedulerConfig", "SchedulerStats",
    "profile_from_api", "scheduler_components",
}


def test_public_names():
    assert set(sched.__all__) == EXPECTED
    assert all(hasattr(sched, n) for n in EXPECTED)


def test_default_profile_matches_kubernetes():
    p = sched.Profile()
    assert p.name == "default-scheduler"
    assert [x.name for x in p.filter] == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
        "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
    assert {x.name: p.weights[x.name] for x in p.score} == {
        "TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1,
        "PodTopologySpread": 2, "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1}
    assert [x.name for x in p.post_filter] == ["DefaultPreemption"]
    assert [x.name for x in p.bind] == ["DefaultBinder"]
