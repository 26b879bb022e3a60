"""The seed's minikube extras: static pods' mirror pods, the dashboard and addon-manager
addons, and a node joining a running cluster (``Cluster.add_node``)."""

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster._static_pods import (
    MIRROR_ANNOTATION,
    RESYNC,
    config_hash,
    control_plane_node,
    mirror_pod,
    static_pod_manifests,
)

KINDS = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "addon-manager")


def names(manifests):
    return [m["metadata"]["name"] for m in manifests]


def test_static_pods_follow_what_the_spec_runs():
    spec = ClusterSpec()
    assert control_plane_node(spec) == "minikube"
    assert names(static_pod_manifests(spec, "minikube", "192.168.49.2", KINDS)) == [
        "etcd-minikube", "kube-apiserver-minikube", "kube-controller-manager-minikube",
        "kube-scheduler-minikube", "kube-addon-manager-minikube"]
    lean = ClusterSpec(controller_managers=0, schedulers=0, addons=("coredns",))
    assert names(static_pod_manifests(lean, "minikube", "192.168.49.2", KINDS)) == [
        "etcd-minikube", "kube-apiserver-minikube"]
    unregistered = static_pod_manifests(spec, "minikube", "192.168.49.2", ("etcd",))
    assert names(unregistered) == ["etcd-minikube"]  # a kind without a factory runs nowhere
    assert control_plane_node(ClusterSpec(nodes=[NodeSpec("node-1")])) is None
    labelled = NodeSpec("cp", labels={"node-role.kubernetes.io/control-plane": ""})
    assert control_plane_node(ClusterSpec(nodes=[labelled])) == "cp"


def test_a_mirror_pod_is_the_manifest_bound_to_its_node_and_owned_by_it():
    manifest = static_pod_manifests(ClusterSpec(), "minikube", "192.168.49.2", KINDS)[0]
    pod = mirror_pod(manifest, "minikube", "uid-1", 1_767_225_601.5)
    ann = pod["metadata"]["annotations"]
    assert ann[MIRROR_ANNOTATION] == ann["kubernetes.io/config.hash"] == config_hash(manifest)
    assert ann["kubernetes.io/config.source"] == "file"
    assert ann["kubernetes.io/config.seen"] == "2026-01-01T00:00:01.500000000Z"
    assert pod["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "minikube", "uid": "uid-1",
         "controller": True}]
    assert pod["spec"]["nodeName"] == "minikube" and pod["spec"]["hostNetwork"] is True
    assert "nodeName" not in manifest["spec"]  # the manifest itself is left alone


@pytest.fixture(scope="module")
def minikube():
    with simulate(ClusterSpec(), seed=3) as cluster:
        cluster.run_until(lambda c: all(
            p["status"].get("phase") == "Running"
            for p in c.list("pods", "kube-system")["items"]) and len(
            c.list("pods", "kube-system")["items"]) == 10, timeout=60, poll=0.5)
        yield cluster


def test_the_default_spec_boots_the_seeds_kube_system(minikube):
    pods = {p["metadata"]["name"]: p for p in minikube.list("pods", "kube-system")["items"]}
    node = minikube.get("nodes", "minikube", None)
    for name in ("etcd-minikube", "kube-apiserver-minikube", "kube-controller-manager-minikube",
                 "kube-scheduler-minikube", "kube-addon-manager-minikube"):
        pod = pods[name]
        assert MIRROR_ANNOTATION in pod["metadata"]["annotations"]
        assert pod["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
        assert pod["status"]["podIP"] == pod["status"]["hostIP"] == "192.168.49.2"
    dashboard = [n for n in pods if n.startswith("kubernetes-dashboard-")]
    assert len(dashboard) == 1
    owner = pods[dashboard[0]]["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ReplicaSet" and owner["name"].startswith("kubernetes-dashboard-")
    svc = minikube.get("services", "kubernetes-dashboard", "kube-system")
    assert svc["spec"]["ports"][0]["port"] == 80


def test_a_deleted_mirror_pod_comes_back(minikube):
    old = minikube.get("pods", "kube-scheduler-minikube", "kube-system")["metadata"]["uid"]
    minikube.delete("pods", "kube-scheduler-minikube", "kube-system", grace_period_seconds=0)
    took = minikube.run_until(lambda c: c.get("pods", "kube-scheduler-minikube", "kube-system")[
        "metadata"]["uid"] != old, timeout=2 * RESYNC + 5, poll=0.5)
    assert took > 0
    pod = minikube.get("pods", "kube-scheduler-minikube", "kube-system")
    assert MIRROR_ANNOTATION in pod["metadata"]["annotations"]


def test_without_a_controller_manager_the_dashboard_makes_its_own_pod():
    spec = ClusterSpec(controller_managers=0, schedulers=0, addons=("dashboard",))
    with simulate(spec, seed=5) as cluster:
        cluster.run_until(lambda c: c.list("pods", "kube-system",
                                           label_selector="k8s-app=kubernetes-dashboard")[
            "items"], timeout=30, poll=0.5)
        pod = cluster.list("pods", "kube-system",
                           label_selector="k8s-app=kubernetes-dashboard")["items"][0]
        assert pod["spec"]["nodeName"] == "minikube"
        assert pod["metadata"]["name"].startswith("kubernetes-dashboard-")
        assert "kube-addon-manager-minikube" not in {
            p["metadata"]["name"] for p in cluster.list("pods", "kube-system")["items"]}


def test_a_node_joins_a_running_cluster():
    spec = ClusterSpec(addons=("coredns",))
    with simulate(spec, seed=9) as cluster:
        started = cluster.add_node(NodeSpec("minikube-m02", cpu="2"))
        assert started == ["kubelet/minikube-m02", "kube-proxy/minikube-m02"]
        assert [n.name for n in cluster.spec.nodes] == ["minikube", "minikube-m02"]
        cluster.run_until(lambda c: any(
            x["type"] == "Ready" and x["status"] == "True"
            for x in c.get("nodes", "minikube-m02", None)["status"].get("conditions", [])),
            timeout=60, poll=0.5)
        node = cluster.get("nodes", "minikube-m02", None)
        assert node["status"]["addresses"][0]["address"] == "192.168.49.3"
        assert node["status"]["capacity"]["cpu"] == "2"
        cluster.run_until(lambda c: [p for p in c.list(
            "pods", "kube-system", field_selector="spec.nodeName=minikube-m02")["items"]
            if p["metadata"]["name"].startswith("kube-proxy-")], timeout=60, poll=0.5)
        with pytest.raises(ValueError, match="already exists"):
            cluster.add_node(NodeSpec("minikube-m02"))
        assert cluster.add_node(NodeSpec("minikube-m03")) == [
            "kubelet/minikube-m03", "kube-proxy/minikube-m03"]
