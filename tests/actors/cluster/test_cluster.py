"""simulate() and the Cluster: topologies, time, faults, failover, determinism, the
component registry hook."""

import pytest

from actors import ApiError, ClusterSpec, NodeSpec, simulate
from actors.cluster import Component, _components, register_component
from runtime import Actor, SimulationTimeout


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_default_spec_boots_the_control_plane_that_exists():
    with simulate(ClusterSpec(), seed=7) as cluster:
        # etcd and the apiserver first; then whichever other components are built so far
        # (they register themselves as they are built), one of each for minikube.
        assert cluster.actors[:2] == ["etcd-0", "kube-apiserver-0"]
        assert set(cluster.actors[2:]) <= {
            "kube-scheduler-0", "kube-controller-manager-0", "kubelet/minikube",
            "kube-proxy/minikube", "coredns", "storage-provisioner", "static-pods/minikube",
            "dashboard"}
        assert len(set(cluster.actors)) == len(cluster.actors)
        assert cluster.now < 5
        assert cluster.seed == 7


def test_ha_topology_without_nodes():
    spec = ClusterSpec(etcd_members=3, apiservers=2, schedulers=0, controller_managers=0,
                       nodes=[])
    with simulate(spec, seed=7) as cluster:
        assert cluster.actors == ["etcd-0", "etcd-1", "etcd-2", "kube-apiserver-0",
                                  "kube-apiserver-1"]
        cluster.create(cm("a"))
        assert cluster.get("configmaps", "a")["metadata"]["name"] == "a"


def test_time_advances_virtually():
    with simulate(ClusterSpec(nodes=[]), seed=1) as cluster:
        t0 = cluster.now
        cluster.advance(3600)
        assert cluster.now == pytest.approx(t0 + 3600)


def test_run_until_counts_not_found_as_not_yet_and_reports_the_seed():
    with simulate(ClusterSpec(nodes=[]), seed=31) as cluster:
        took = cluster.run_until(lambda c: c.get("namespaces", "default", None), timeout=1)
        assert took == 0
        with pytest.raises(SimulationTimeout) as e:
            cluster.run_until(lambda c: c.get("configmaps", "never"), timeout=2)
        assert "seed=31" in str(e.value)


def test_apiserver_failover():
    with simulate(ClusterSpec(apiservers=2, nodes=[]), seed=3) as cluster:
        cluster.crash("kube-apiserver-0")
        for i in range(4):  # round robin: every other request lands on the dead one first
            cluster.create(cm(f"c{i}"))
        assert len(cluster.list("configmaps", "default")["items"]) == 4
        cluster.restart("kube-apiserver-0")
        cluster.advance(3)
        only0 = cluster.client(cluster.token_for("kubernetes-admin"))
        only0._apiservers = ["kube-apiserver-0"]
        assert len(only0.list("configmaps", "default")["items"]) == 4


def test_no_apiserver_left_is_503():
    with simulate(ClusterSpec(nodes=[]), seed=3) as cluster:
        cluster.crash("kube-apiserver-0")
        with pytest.raises(ApiError) as e:
            cluster.list("pods")
        assert e.value.code == 503


def test_etcd_partition_and_heal():
    with simulate(ClusterSpec(etcd_members=3, nodes=[]), seed=5) as cluster:
        cluster.partition(["etcd-0"], ["etcd-1", "etcd-2", "kube-apiserver-0"])
        cluster.advance(5)
        cluster.create(cm("during"))  # the majority side serves
        cluster.heal()
        cluster.advance(5)
        keys = cluster.etcd_get("/registry/configmaps/default/", prefix=True, keys_only=True)
        assert keys == ["/registry/configmaps/default/during"]


def test_etcd_get_reads_values_as_text():
    with simulate(ClusterSpec(nodes=[]), seed=5) as cluster:
        cluster.create(cm("a"))
        [(key, value)] = cluster.etcd_get("/registry/configmaps/default/a")
        assert key == "/registry/configmaps/default/a" and '"name":"a"' in value
        assert "/registry/namespaces/default" in cluster.etcd_get(
            "/registry/namespaces", prefix=True, keys_only=True)


def test_same_seed_same_run():
    def run(seed):
        with simulate(ClusterSpec(nodes=[]), seed=seed) as cluster:
            obj = cluster.create(cm("a"))
            return obj["metadata"]["uid"], obj["metadata"]["resourceVersion"], \
                cluster.token_for("kubernetes-admin")
    assert run(42) == run(42)
    assert run(42) != run(43)


def test_watch_handle():
    with simulate(ClusterSpec(nodes=[]), seed=6) as cluster:
        w = cluster.watch("configmaps", "default")
        cluster.create(cm("a"))
        assert [e["type"] for e in w.drain()] == ["ADDED"]
        assert w.drain() == []
        w.stop()
        cluster.create(cm("b"))
        assert w.drain() == [] and w.ended
        assert [e["object"]["metadata"]["name"] for e in w.events] == ["a"]


def test_users_from_the_spec():
    with simulate(ClusterSpec(nodes=[], users={"jane": ("devs",)}), seed=6) as cluster:
        assert cluster.token_for("jane") != cluster.token_for("kubernetes-admin")
        with pytest.raises(ApiError) as e:
            cluster.as_user("jane").list("pods")
        assert e.value.code == 403
        with pytest.raises(KeyError):
            cluster.token_for("nobody")


class _Probe(Actor):
    pass


def test_registered_components_are_built_and_spawned(monkeypatch):
    monkeypatch.setattr(_components, "_REGISTRY", dict(_components._REGISTRY))
    seen = {}

    def kubelets(ctx):
        seen["token"] = ctx.add_user("system:node:n1", ("system:nodes",))
        return [Component(f"kubelet/{n.name}", _Probe) for n in ctx.spec.nodes]

    register_component("kubelet", kubelets)
    spec = ClusterSpec(nodes=[NodeSpec("n1"), NodeSpec("n2")], schedulers=0,
                       controller_managers=0, addons=())
    with simulate(spec, seed=2) as cluster:
        assert cluster.actors[:4] == ["etcd-0", "kube-apiserver-0", "kubelet/n1", "kubelet/n2"]
        node = cluster.client(seen["token"])
        with pytest.raises(ApiError) as e:  # authenticated (not 401), limited by RBAC
            node.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
        assert e.value.code == 403
    with pytest.raises(ValueError):
        register_component("widgets", kubelets)


def test_etcd_quorum_loss_and_recovery():
    with simulate(ClusterSpec(etcd_members=3, nodes=[]), seed=4) as cluster:
        cluster.crash("etcd-1")
        cluster.crash("etcd-2")
        with pytest.raises(ApiError) as e:
            cluster.create(cm("a"))
        # etcd answers nothing: 500 "etcdserver: request timed out", or 504 when the
        # etcd client reports the write's outcome as unknown.
        assert e.value.code in (500, 504) and "timed out" in e.value.message.replace(
            "did not complete within requested timeout", "timed out")
        cluster.restart("etcd-1")
        cluster.restart("etcd-2")
        cluster.advance(5)
        cluster.create(cm("a"))
        assert [o["metadata"]["name"] for o in cluster.list("configmaps", "default")["items"]] \
            == ["a"]
