"""kube-controller-manager as a component: the leader Lease and its record, failover when the
leader crashes (another replica takes over within the lease duration and reconciliation goes
on), followers running no controllers, the ``--controllers`` enable list, per-controller
identities, and the ServiceAccount controller."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import register_component
from actors.cluster._components import _REGISTRY
from actors.controllers._component import controller_manager_components
from actors.controllers._manager import (
    ControllerManagerConfig,
    KubeControllerManager,
    enabled_controllers,
)

from ._ctrl_helpers import deployment, wait_available


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = _REGISTRY.get("kube-controller-manager")
    yield
    if saved is not None:
        register_component("kube-controller-manager", saved)


def _lease(c):  # type: ignore[no-untyped-def]
    return c.get("leases", "kube-controller-manager", "kube-system")


def test_enabled_controllers_follow_the_controllers_flag() -> None:
    every = enabled_controllers(("*",))
    assert {"deployment", "replicaset", "garbagecollector", "nodelifecycle", "endpoint"} <= set(every)
    assert "deployment" not in enabled_controllers(("*", "-deployment"))
    assert enabled_controllers(("replicaset",)) == ["replicaset"]
    with pytest.raises(ValueError, match="not in the list of known controllers"):
        enabled_controllers(("*", "-nosuch"))


def test_one_leader_holds_the_lease_and_followers_run_nothing() -> None:
    with simulate(ClusterSpec(controller_managers=3), seed=41) as c:
        c.run_until(lambda c: bool(_lease(c)["spec"].get("holderIdentity")), timeout=30)
        c.advance(5)
        lease = _lease(c)["spec"]
        holder = lease["holderIdentity"]
        assert re.fullmatch(r"kube-controller-manager-[0-2]_[0-9a-f-]{36}", holder)
        assert lease["leaseDurationSeconds"] == 15
        managers = [c.sim.actor(f"kube-controller-manager-{i}") for i in range(3)]
        leaders = [m for m in managers if m.leading]
        assert len(leaders) == 1 and leaders[0].identity == holder
        assert all(not m.controllers and not m.factory.informers for m in managers if not m.leading)
        status = {x["metadata"]["name"]: x["conditions"][0] for x in c.list("componentstatuses")["items"]}
        assert status["controller-manager"]["status"] == "True"


def test_leader_crash_fails_over_within_the_lease_and_reconciling_goes_on() -> None:
    spec = ClusterSpec(controller_managers=2, nodes=[NodeSpec("node-0"), NodeSpec("node-1")])
    with simulate(spec, seed=42) as c:
        c.create(deployment("web", replicas=2))
        wait_available(c, "web", 2)
        old = _lease(c)["spec"]
        leader = old["holderIdentity"].split("_")[0]
        crashed_at = c.now
        c.crash(leader)
        took = c.run_until(lambda c: _lease(c)["spec"]["holderIdentity"] not in ("", old["holderIdentity"]),
                           timeout=60)
        assert took <= 15 + 2 * 2 * 1.2 + 1  # the lease runs out, then one jittered retry
        new = _lease(c)["spec"]
        assert not new["holderIdentity"].startswith(leader + "_")
        assert new["leaseTransitions"] == old.get("leaseTransitions", 0) + 1
        # The new leader lists everything and carries on.
        c.patch("deployments", "web", {"spec": {"replicas": 4}})
        wait_available(c, "web", 4)
        assert c.now - crashed_at < 60
        survivor = c.sim.actor(new["holderIdentity"].split("_")[0])
        assert isinstance(survivor, KubeControllerManager) and survivor.leading


def test_a_restarted_leader_rejoins_as_a_follower() -> None:
    with simulate(ClusterSpec(controller_managers=2), seed=43) as c:
        c.run_until(lambda c: bool(_lease(c)["spec"].get("holderIdentity")), timeout=30)
        leader = _lease(c)["spec"]["holderIdentity"].split("_")[0]
        c.crash(leader)
        c.run_until(lambda c: not _lease(c)["spec"]["holderIdentity"].startswith(leader + "_"), timeout=60)
        c.restart(leader)
        c.advance(30)
        assert not c.sim.actor(leader).leading
        assert not _lease(c)["spec"]["holderIdentity"].startswith(leader + "_")


def test_controllers_flag_disables_a_controller(restore_registry: None) -> None:
    cfg = ControllerManagerConfig(controllers=("*", "-deployment"))
    register_component("kube-controller-manager", controller_manager_components(cfg))
    with simulate(ClusterSpec(addons=()), seed=44) as c:
        c.create(deployment("web", replicas=1))
        c.advance(20)
        assert not c.list("replicasets", "default")["items"]  # nobody rolled it
        kcm = c.sim.actor("kube-controller-manager-0")
        assert "deployment" not in kcm.controllers and "replicaset" in kcm.controllers


def test_each_controller_writes_as_its_service_account() -> None:
    with simulate(ClusterSpec(), seed=45) as c:
        c.create(deployment("web", replicas=1))
        wait_available(c, "web", 1)
        kcm = c.sim.actor("kube-controller-manager-0")
        agents = {name: ctrl.client.user_agent for name, ctrl in kcm.controllers.items()}
        assert agents["deployment"] == "kube-controller-manager/deployment-controller"
        assert agents["garbagecollector"] == "kube-controller-manager/generic-garbage-collector"
        # Each has a token of its own (its own RBAC role and rate limit).
        assert len({ctrl.client.token for ctrl in kcm.controllers.values()}) > 5
        assert kcm.controllers["deployment"].client._bucket is not None


def test_serviceaccount_controller_creates_default_and_recreates_it() -> None:
    with simulate(ClusterSpec(), seed=46) as c:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
        c.run_until(lambda c: c.get("serviceaccounts", "default", "apps") is not None, timeout=10)
        c.delete("serviceaccounts", "default", "apps")
        c.run_until(lambda c: c.get("serviceaccounts", "default", "apps") is not None, timeout=10)


def test_a_manager_crashing_mid_scale_up_converges_to_exactly_the_replicas() -> None:
    """Level-triggered: the restarted manager (no expectations, empty caches) recomputes what
    is missing from what exists — never a pod too many."""
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}", cpu="8") for i in range(3)], addons=())
    with simulate(spec, seed=47) as c:
        c.create(deployment("web", replicas=40))
        c.run_until(lambda c: 5 <= len(c.list("pods", "default", label_selector="app=web")["items"]) < 40,
                    timeout=30, poll=0.01)
        c.crash("kube-controller-manager-0")
        c.advance(1)
        c.restart("kube-controller-manager-0")
        wait_available(c, "web", 40, timeout=180)
        assert len(c.list("pods", "default", label_selector="app=web")["items"]) == 40
        (rs,) = c.list("replicasets", "default")["items"]
        assert rs["status"]["replicas"] == 40


def test_plan_actions_group_into_slow_start_batches_and_pod_delete_runs() -> None:
    from actors.controllers._base import _groups
    from actors.controllers._plan import Create, Delete, ObjectRef, Update

    pod = ObjectRef(api_version="v1", kind="Pod", namespace="ns")
    rs = ObjectRef(api_version="apps/v1", kind="ReplicaSet", name="rs", namespace="ns")
    actions = [Create(ref=pod, body={}, batch=0), Create(ref=pod, body={}, batch=1),
               Create(ref=pod, body={}, batch=1), Delete(ref=pod), Delete(ref=pod),
               Update(ref=rs, body={}), Update(ref=rs, body={})]
    assert [len(g) for g in _groups(actions)] == [1, 2, 2, 1, 1]


def test_read_meter_counts_what_indexers_hand_out() -> None:
    from actors.client._store import Indexer, ReadMeter

    ix = Indexer()
    for i in range(5):
        ix.add({"metadata": {"name": f"p{i}", "namespace": "a" if i < 3 else "b"}})
    ix.list()  # not metered
    with ReadMeter() as m:
        ix.list()
        ix.by_index("namespace", "a")
    assert m.objects == 8 and ReadMeter.active is None


def _rollout_time(cost: float) -> float:
    cfg = ControllerManagerConfig(sync_cost_per_object=cost)
    register_component("kube-controller-manager", controller_manager_components(cfg))
    with simulate(ClusterSpec(nodes=[NodeSpec("n1"), NodeSpec("n2")], addons=()), seed=48) as c:
        t0 = c.now
        c.create(deployment("web", replicas=6))
        wait_available(c, "web", 6)
        return c.now - t0


def test_a_modeled_sync_cost_is_charged_in_virtual_time(restore_registry: None) -> None:
    """ControllerManagerConfig.sync_cost_per_object charges each sync the cached objects it
    read (benchmarks/scale.py --sync-cost-us): the same rollout converges, later. At 1,500
    nodes it cut the DaemonSet controller's syncs 2,116 -> 998 (5 us) -> 258 (20 us) in the
    first 62 virtual s, as events coalesce while a sync works (see the commit)."""
    free = _rollout_time(0.0)
    costly = _rollout_time(0.01)  # 10 ms per object read
    assert costly > free + 0.1, (free, costly)
