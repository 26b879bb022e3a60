"""DELETE as the generic store does it: graceful pod deletion, finalizers, propagation
policies recorded as finalizers, preconditions, namespaces, deletecollection."""

import pytest

from actors import ApiError, ClusterSpec, simulate
from actors.apiserver._objects import parse_rfc3339


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[]), seed=17) as c:
        yield c


def pod(name, node="", grace=None):
    spec = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def cm(name, finalizers=None):
    meta = {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def gone(cluster, resource, name):
    try:
        cluster.get(resource, name)
    except ApiError as e:
        return e.code == 404
    return False


def test_unscheduled_pod_is_deleted_at_once(cluster):
    cluster.create(pod("web"))
    rv = cluster.list("pods")["metadata"]["resourceVersion"]
    w = cluster.watch("pods", resource_version=rv)
    out = cluster.delete("pods", "web")
    assert out["kind"] == "Pod"  # pods return the deleted object
    assert gone(cluster, "pods", "web")
    # As Kubernetes: the deletion timestamp is written, then the key deleted.
    events = w.drain()
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[0]["object"]["metadata"]["deletionGracePeriodSeconds"] == 0


def test_graceful_deletion_of_a_scheduled_pod(cluster):
    created = cluster.create(pod("web", node="minikube"))
    out = cluster.delete("pods", "web")
    meta = out["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 30  # terminationGracePeriodSeconds
    assert parse_rfc3339(meta["deletionTimestamp"]) == pytest.approx(
        parse_rfc3339(created["metadata"]["creationTimestamp"]) + 30, abs=2)
    assert meta["generation"] == 2  # the first graceful deletion bumps generation
    cluster.advance(60)
    assert cluster.get("pods", "web")["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    # A second delete may only shorten the grace period; a longer one changes nothing.
    again = cluster.delete("pods", "web", grace_period_seconds=100)
    assert again["metadata"]["deletionGracePeriodSeconds"] == 30
    shorter = cluster.delete("pods", "web", grace_period_seconds=10)
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    assert parse_rfc3339(shorter["metadata"]["deletionTimestamp"]) == \
        parse_rfc3339(meta["deletionTimestamp"]) - 20
    # The kubelet, once the containers are gone, deletes with grace 0.
    cluster.delete("pods", "web", grace_period_seconds=0)
    assert gone(cluster, "pods", "web")


def test_custom_grace_period_and_terminated_pods(cluster):
    cluster.create(pod("a", node="minikube", grace=5))
    assert cluster.delete("pods", "a")["metadata"]["deletionGracePeriodSeconds"] == 5
    cluster.create(pod("done", node="minikube"))
    cluster.patch("pods", "done", {"status": {"phase": "Succeeded"}}, subresource="status")
    cluster.delete("pods", "done")
    assert gone(cluster, "pods", "done")  # a finished pod is deleted at once


def test_finalizers_keep_the_object_until_removed(cluster):
    cluster.create(cm("keep", finalizers=["example.com/cleanup"]))
    out = cluster.delete("configmaps", "keep")
    assert out["metadata"]["deletionTimestamp"]
    assert out["metadata"]["deletionGracePeriodSeconds"] == 0
    assert cluster.get("configmaps", "keep")["metadata"]["finalizers"] == ["example.com/cleanup"]
    with pytest.raises(ApiError) as e:  # the name stays taken
        cluster.create(cm("keep"))
    assert e.value.message.startswith("object is being deleted: ")
    cluster.patch("configmaps", "keep", {"metadata": {"finalizers": None}})
    assert gone(cluster, "configmaps", "keep")


def test_finalizers_on_a_gracefully_deleted_pod(cluster):
    p = pod("web", node="minikube")
    p["metadata"]["finalizers"] = ["example.com/x"]
    cluster.create(p)
    cluster.delete("pods", "web")
    cluster.patch("pods", "web", {"metadata": {"finalizers": None}})
    assert not gone(cluster, "pods", "web")  # the grace period is not over: the kubelet's turn
    cluster.delete("pods", "web", grace_period_seconds=0)
    assert gone(cluster, "pods", "web")


@pytest.mark.parametrize("policy,finalizer", [
    ("Orphan", ["orphan"]), ("Foreground", ["foregroundDeletion"]), ("Background", None)])
def test_propagation_policy_is_recorded_as_a_finalizer(cluster, policy, finalizer):
    cluster.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                             "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                                 "containers": [{"name": "c", "image": "nginx"}]}}}})
    out = cluster.delete("replicasets", "rs", propagation_policy=policy)
    if finalizer is None:
        assert out["kind"] == "Status" and gone(cluster, "replicasets", "rs")
    else:
        rs = cluster.get("replicasets", "rs")
        assert rs["metadata"]["finalizers"] == finalizer
        assert rs["metadata"]["deletionTimestamp"]
        assert rs["metadata"]["generation"] == 2
        # What the garbage collector does when it is done:
        cluster.patch("replicasets", "rs", {"metadata": {"finalizers": None}})
        assert gone(cluster, "replicasets", "rs")


def test_delete_preconditions(cluster):
    c = cluster.create(cm("a"))
    with pytest.raises(ApiError) as e:
        cluster.request("delete", "configmaps", name="a", namespace="default",
                        body={"preconditions": {"uid": "other"}})
    assert e.value.code == 409 and "the UID in the precondition" in e.value.message
    cluster.request("delete", "configmaps", name="a", namespace="default",
                    body={"preconditions": {"uid": c["metadata"]["uid"],
                                            "resourceVersion": c["metadata"]["resourceVersion"]}})
    assert gone(cluster, "configmaps", "a")


def test_namespace_deletion_marks_terminating(cluster):
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    ns = cluster.delete("namespaces", "team", None)
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(ApiError) as e:  # NamespaceLifecycle
        cluster.create({**cm("x"), "metadata": {"name": "x", "namespace": "team"}})
    assert e.value.code == 403 and "being terminated" in e.value.message
    with pytest.raises(ApiError) as e:
        cluster.delete("namespaces", "team", None)
    assert e.value.code == 409
    # The namespace controller, once the namespace is empty, removes the last spec
    # finalizer through /finalize: that update deletes it.
    cluster.request("update", "namespaces", name="team", subresource="finalize",
                    body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"},
                          "spec": {"finalizers": []}})
    with pytest.raises(ApiError) as e:
        cluster.get("namespaces", "team", None)
    assert e.value.code == 404


def test_immortal_namespaces(cluster):
    with pytest.raises(ApiError) as e:
        cluster.delete("namespaces", "kube-system", None)
    assert e.value.code == 403 and "this namespace may not be deleted" in e.value.message


def test_deletecollection_with_selector(cluster):
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        cluster.create({**cm(name), "metadata": {"name": name, "labels": {"app": app}}})
    out = cluster.request("deletecollection", "configmaps", namespace="default",
                          params={"labelSelector": "app=x"})
    assert [o["metadata"]["name"] for o in out["items"]] == ["a", "b"]
    assert [o["metadata"]["name"] for o in cluster.list("configmaps", "default")["items"]] == ["c"]
