"""Subresources (binding, scale, status), events under an etcd lease, componentstatuses, and
what kube-apiserver writes at start-up."""

import pytest

from actors import ApiError, ClusterSpec, simulate
from actors.apiserver._bootstrap_policy import bootstrap_policy
from actors.apiserver._objects import rfc3339


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[], schedulers=0), seed=29) as c:
        yield c


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def deployment(name, replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def binding(name, node):
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def test_binding_sets_node_name_once(cluster):
    cluster.create(pod("web"))
    out = cluster.request("create", "pods", name="web", namespace="default",
                          subresource="binding", body=binding("web", "minikube"))
    assert out["kind"] == "Status" and out["status"] == "Success" and out["code"] == 201
    p = cluster.get("pods", "web")
    assert p["spec"]["nodeName"] == "minikube"
    assert {"type": "PodScheduled", "status": "True"}.items() <= p["status"]["conditions"][0].items()
    with pytest.raises(ApiError) as e:
        cluster.request("create", "pods", name="web", namespace="default",
                        subresource="binding", body=binding("web", "other"))
    assert (e.value.code, e.value.reason) == (409, "Conflict")
    assert e.value.message == ('Operation cannot be fulfilled on pods/binding "web": pod web is '
                               'already assigned to node "minikube"')
    assert cluster.get("pods", "web")["spec"]["nodeName"] == "minikube"


def test_binding_errors(cluster):
    cluster.create(pod("web"))
    with pytest.raises(ApiError) as e:
        cluster.request("create", "pods", name="web", namespace="default",
                        subresource="binding", body=binding("other", "n"))
    assert e.value.code == 400
    with pytest.raises(ApiError) as e:
        cluster.request("create", "pods", name="nope", namespace="default",
                        subresource="binding", body=binding("nope", "n"))
    assert e.value.code == 404


def test_legacy_bindings_resource(cluster):
    cluster.create(pod("web"))
    cluster.request("create", "bindings", namespace="default", body=binding("web", "n1"))
    assert cluster.get("pods", "web")["spec"]["nodeName"] == "n1"


def test_scale_subresource(cluster):
    cluster.create(deployment("web", replicas=2))
    scale = cluster.get("deployments", "web", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=web"}
    scale["spec"]["replicas"] = 5
    out = cluster.request("update", "deployments", name="web", namespace="default",
                          subresource="scale", body=scale)
    assert out["spec"]["replicas"] == 5
    d = cluster.get("deployments", "web")
    assert d["spec"]["replicas"] == 5 and d["metadata"]["generation"] == 2
    out = cluster.patch("deployments", "web", {"spec": {"replicas": 1}}, subresource="scale")
    assert out["spec"]["replicas"] == 1
    with pytest.raises(ApiError) as e:  # the first Scale's resourceVersion is stale now
        cluster.request("update", "deployments", name="web", namespace="default",
                        subresource="scale", body=scale)
    assert e.value.reason == "Conflict"
    with pytest.raises(ApiError) as e:
        cluster.patch("deployments", "web", {"spec": {"replicas": -1}}, subresource="scale")
    assert e.value.code == 422


def test_scale_of_replicasets_and_statefulsets(cluster):
    rs = deployment("rs")
    rs["kind"] = "ReplicaSet"
    cluster.create(rs)
    assert cluster.patch("replicasets", "rs", {"spec": {"replicas": 3}},
                         subresource="scale")["spec"]["replicas"] == 3
    with pytest.raises(ApiError) as e:
        cluster.get("pods", "x", subresource="scale")
    assert e.value.code == 404


def test_status_subresource_changes_only_status(cluster):
    cluster.create(pod("web"))
    p = cluster.get("pods", "web")
    p["status"] = {"phase": "Running"}
    p["metadata"]["labels"] = {"sneaky": "yes"}
    out = cluster.update(p, subresource="status")
    assert out["status"] == {"phase": "Running"}
    assert "labels" not in out["metadata"]


def event(name, count=1, when=0.0):
    ts = rfc3339(1_767_225_600 + when)
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
            "reason": "Scheduled", "message": "Successfully assigned default/web to minikube",
            "type": "Normal", "source": {"component": "default-scheduler"},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": count}


def test_events_dedupe_by_count_and_expire_after_an_hour(cluster):
    first = cluster.create(event("web.1"))
    [(key, _)] = cluster.etcd_get("/registry/events/default/web.1")
    assert key == "/registry/events/default/web.1"
    # The event recorder's dedupe: the same event again patches count and lastTimestamp.
    out = cluster.patch("events", "web.1", {"count": 2, "lastTimestamp": rfc3339(1_767_225_700)},
                        type="strategic")
    assert out["count"] == 2 and out["metadata"]["uid"] == first["metadata"]["uid"]
    assert len(cluster.list("events", "default")["items"]) == 1
    lst = cluster.list("events", field_selector="involvedObject.name=web,reason=Scheduled")
    assert len(lst["items"]) == 1
    cluster.advance(1800)
    assert cluster.get("events", "web.1")["count"] == 2
    cluster.advance(3600)  # the events registry's TTL (1 h, plus the lease's reuse window)
    with pytest.raises(ApiError) as e:
        cluster.get("events", "web.1")
    assert e.value.code == 404
    assert cluster.etcd_get("/registry/events/", prefix=True) == []


def test_events_share_a_lease(cluster):
    for i in range(3):
        cluster.create(event(f"e{i}"))
    leases = set()
    for m in cluster.etcd_members:
        member = cluster.sim.actor(m)
        for key in (f"/registry/events/default/e{i}".encode() for i in range(3)):
            leases.add(member.sm.store.range(key).kvs[0].lease)
    assert len(leases) == 1 and 0 not in leases


def test_componentstatuses(cluster):
    lst = cluster.list("componentstatuses")
    assert lst["kind"] == "ComponentStatusList"
    by = {o["metadata"]["name"]: o["conditions"][0] for o in lst["items"]}
    assert list(by) == ["controller-manager", "scheduler", "etcd-0"]  # the seed's order
    assert by["etcd-0"] == {"type": "Healthy", "status": "True", "message": '{"health":"true"}'}
    assert by["scheduler"]["status"] == "False"  # no scheduler runs: no leader lease
    # A scheduler holding its leader Lease counts as healthy.
    now = rfc3339(1_767_225_600 + cluster.now)
    cluster.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
                    "spec": {"holderIdentity": "kube-scheduler-0_x", "leaseDurationSeconds": 15,
                             "acquireTime": now, "renewTime": now}})
    cs = cluster.get("componentstatuses", "scheduler", None)
    assert cs["conditions"][0] == {"type": "Healthy", "status": "True", "message": "ok"}
    cluster.advance(30)  # not renewed: the lease expires
    assert cluster.get("componentstatuses", "scheduler", None)["conditions"][0]["status"] == \
        "False"
    with pytest.raises(ApiError) as e:
        cluster.create({"apiVersion": "v1", "kind": "ComponentStatus",
                        "metadata": {"name": "x"}})
    assert e.value.code == 405


def test_componentstatuses_of_three_etcd_members_with_one_down():
    with simulate(ClusterSpec(etcd_members=3, nodes=[]), seed=2) as cluster:
        cluster.crash("etcd-2")
        by = {o["metadata"]["name"]: o["conditions"][0]
              for o in cluster.list("componentstatuses")["items"]}
        assert by["etcd-0"]["status"] == by["etcd-1"]["status"] == "True"
        assert by["etcd-2"]["status"] == "False" and by["etcd-2"]["error"]


def test_bootstrap_objects(cluster):
    ns = [o["metadata"]["name"] for o in cluster.list("namespaces")["items"]]
    assert ns == ["default", "kube-node-lease", "kube-public", "kube-system"]
    svc = cluster.get("services", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                     "targetPort": 6443}]
    eps = cluster.get("endpoints", "kubernetes")
    assert eps["subsets"] == [{"addresses": [{"ip": "192.168.49.2"}],
                               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    es = cluster.get("endpointslices", "kubernetes")
    assert es["endpoints"][0]["addresses"] == ["192.168.49.2"]
    for n in ns:
        assert cluster.get("serviceaccounts", "default", n)["metadata"]["name"] == "default"
    roles = {o["metadata"]["name"] for o in cluster.list("clusterroles")["items"]}
    want = {o["metadata"]["name"] for o in bootstrap_policy() if o["kind"] == "ClusterRole"}
    assert want <= roles and {"cluster-admin", "view", "system:kube-scheduler"} <= roles
    assert cluster.get("clusterrolebindings", "cluster-admin", None)["subjects"][0]["name"] == \
        "system:masters"


def test_bootstrap_is_idempotent_with_two_apiservers():
    with simulate(ClusterSpec(apiservers=2, nodes=[]), seed=9) as cluster:
        uids = {o["metadata"]["uid"] for o in cluster.list("namespaces")["items"]}
        assert len(uids) == 4
        assert len(cluster.list("services", "default")["items"]) == 1


def test_kubernetes_endpoints_follow_the_apiservers():
    with simulate(ClusterSpec(apiservers=2, nodes=[]), seed=12) as cluster:
        def ips():
            eps = cluster.get("endpoints", "kubernetes")
            return [a["ip"] for a in eps["subsets"][0]["addresses"]]
        assert ips() == ["192.168.49.2", "192.168.49.3"]
        cluster.crash("kube-apiserver-1")
        cluster.run_until(lambda c: ips() == ["192.168.49.2"], timeout=40)
        cluster.restart("kube-apiserver-1")
        cluster.run_until(lambda c: ips() == ["192.168.49.2", "192.168.49.3"], timeout=40)
