"""The Sieve/Acto bug classes as deliberate tests against the whole cluster: a controller
manager crashed between two writes of one reconcile (intermediate state), one restarted
against an apiserver whose watch cache lags (stale state), and watch events dropped on the
way to it (unobserved state). Each must converge to the spec, with ``ClusterObserver``'s
safety checks holding at every step."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster
from actors.cluster._client import Client
from actors.cluster._components import ADMIN_USER
from actors.cluster._invariants import ClusterObserver
from actors.controllers._base import CONTROLLERS
from actors.kubelet._component import HOSTS_KEY
from runtime import Fixed, LinkModel

NODES = [NodeSpec(f"node-{i}", cpu="2", memory="4Gi", pods=20) for i in range(2)]
KCM = "kube-controller-manager"
LOST_FOR = 0.3  # seconds: shorter than any request timeout, so only the watch event is lost


def _spec(managers: int) -> ClusterSpec:
    return ClusterSpec(etcd_members=3, apiservers=2, schedulers=1, controller_managers=managers,
                       nodes=NODES, addons=())


def _deployment(replicas: int, image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                         {"name": "main", "image": image,
                          "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}


def _observer(cluster: Cluster) -> ClusterObserver:
    return ClusterObserver(cluster.sim, cluster.spec, cluster._ctx.extra.get(HOSTS_KEY) or {})


def _step(cluster: Cluster, obs: ClusterObserver, seconds: float, dt: float = 0.25) -> None:
    end = cluster.now + seconds
    while cluster.now < end:
        cluster.advance(min(dt, end - cluster.now))
        obs.check()


def _converge(cluster: Cluster, obs: ClusterObserver, bound: float = 240.0) -> float:
    start = cluster.now
    pending = obs.converged(CONTROLLERS)
    while pending and cluster.now - start < bound:
        _step(cluster, obs, 1.0)
        pending = obs.converged(CONTROLLERS)
    assert not pending, f"not converged after {bound:g} s: {pending}"
    assert not obs.violations and not obs.raft.violations, obs.violations + obs.raft.violations
    return cluster.now - start


def _leader(cluster: Cluster) -> str:
    for name in cluster.actors:
        inst = cluster.sim.actor(name) if name.startswith(KCM) else None
        if inst is not None and inst.elector.is_leader():
            return name
    raise AssertionError("no leading controller manager")


def _sets(obs: ClusterObserver) -> list[dict[str, Any]]:
    return [rs for rs in obs.objects("/registry/replicasets/default/")
            if rs["metadata"]["name"].startswith("web-")]


def test_a_controller_manager_crashed_between_two_writes_of_a_rollout_converges() -> None:
    """Intermediate state: the leader created the new ReplicaSet of a rollout and crashed
    before scaling the old one down or writing the Deployment's status."""
    with simulate(_spec(2), seed=31) as cluster:
        obs = _observer(cluster)
        cluster.create(_deployment(3, "nginx:1.25"))
        _converge(cluster, obs)
        leader = _leader(cluster)
        cluster.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "nginx:1.26"}]}}}}, type="strategic")
        while len(_sets(obs)) < 2:  # step until the new set is committed, then crash at once
            cluster.advance(0.002)
            assert cluster.now < 600
        cluster.crash(leader)
        old = [rs for rs in _sets(obs) if rs["spec"]["template"]["spec"]["containers"][0]["image"]
               == "nginx:1.25"]
        assert old and old[0]["spec"]["replicas"] == 3  # the rollout is half done
        _step(cluster, obs, 5.0)
        cluster.restart(leader)
        _converge(cluster, obs)
        sets = _sets(obs)
        assert len(sets) == 2  # the next leader adopted the new set, made no third
        d = obs.objects("/registry/deployments/default/web")[0]
        assert d["status"]["updatedReplicas"] == 3


def test_a_controller_manager_restarted_against_a_lagging_apiserver_converges() -> None:
    """Stale state: the restarted manager reaches only an apiserver whose watch cache hears
    of etcd's changes 4 s late, while the spec changes through the other apiserver."""
    with simulate(_spec(1), seed=32) as cluster:
        obs = _observer(cluster)
        cluster.create(_deployment(2, "nginx:1.25"))
        _converge(cluster, obs)
        kcm = f"{KCM}-0"
        cluster.crash(kcm)
        net = cluster.sim.system.network
        for member in cluster.etcd_members:
            net.set_link(member, "kube-apiserver-1", LinkModel(latency=Fixed(4.0)), both=False)
        cluster.partition([kcm], ["kube-apiserver-0"])
        fresh = Client(cluster.sim, ["kube-apiserver-0"], cluster.token_for(ADMIN_USER))
        fresh.patch("deployments", "web", {"spec": {"replicas": 4}})
        cluster.restart(kcm)
        fresh.patch("deployments", "web", {"spec": {"replicas": 1}})
        _step(cluster, obs, 20.0)
        fresh.patch("deployments", "web", {"spec": {"replicas": 3}})
        _step(cluster, obs, 10.0)
        net.clear_links()
        cluster.heal()
        _converge(cluster, obs)
        d = obs.objects("/registry/deployments/default/web")[0]
        assert d["spec"]["replicas"] == 3 and d["status"]["availableReplicas"] == 3


def test_watch_events_dropped_on_the_way_to_the_controller_manager_converge() -> None:
    """Unobserved state: everything the apiservers send the manager is lost for a moment
    (shorter than any request's timeout) while the spec changes, and then nothing changes: the
    lost watch event is noticed (a gap in the stream's numbering, at the next bookmark at
    the latest) and the informer re-watches from its last resourceVersion."""
    with simulate(_spec(1), seed=33) as cluster:
        obs = _observer(cluster)
        cluster.create(_deployment(1, "nginx:1.25"))
        _converge(cluster, obs)
        _step(cluster, obs, 5.0)
        net = cluster.sim.system.network
        for api in cluster.apiservers:
            net.set_link(api, f"{KCM}-0", LinkModel(loss=1.0), both=False)
        cluster.patch("deployments", "web", {"spec": {"replicas": 4}})
        _step(cluster, obs, LOST_FOR, dt=0.05)
        net.clear_links()
        took = _converge(cluster, obs, bound=150.0)
        assert took <= 65.0  # the next bookmark (every 60 s) carries the gap at the latest
        d = obs.objects("/registry/deployments/default/web")[0]
        assert d["status"]["availableReplicas"] == 4


def test_a_scheduler_that_ignores_resources_is_caught(monkeypatch: Any) -> None:
    """The observer is not vacuous: a planted scheduler bug (NodeResourcesFit passes every
    node) overcommits a node, and the allocatable check says so."""
    from actors.scheduler._plugins.noderesources_fit import NodeResourcesFit

    monkeypatch.setattr(NodeResourcesFit, "filter", lambda self, state, pod, node: None)
    with simulate(_spec(1), seed=34) as cluster:
        obs = _observer(cluster)
        big = _deployment(5, "nginx:1.25")
        big["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "900m"
        cluster.create(big)
        _step(cluster, obs, 20.0)
        assert any("overcommitted" in v for v in obs.violations), obs.violations


def test_two_leaders_beyond_the_lease_are_caught(monkeypatch: Any) -> None:
    """A planted elector bug (every candidate believes it leads) is reported once the overlap
    outlasts what a lease allows."""
    from actors.client._leaderelection import LeaderElector

    monkeypatch.setattr(LeaderElector, "is_leader", lambda self: True)
    with simulate(_spec(2), seed=35) as cluster:
        obs = _observer(cluster)
        _step(cluster, obs, obs.lease_bound + 3.0, dt=1.0)
        assert any("all lead" in v for v in obs.violations), obs.violations
