"""Lists and watches, served from the watch caches: pagination, selectors, resourceVersion
semantics, bookmarks, 410 Gone, and watches that survive an etcd leader change and an
apiserver restart without a gap."""

import pytest

from actors import ApiError, ClusterSpec, simulate
from actors.etcd import StatusRequest


def pod(name, node="", **labels):
    spec = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


def cm(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[]), seed=3) as c:
        yield c


def names(lst):
    return [o["metadata"]["name"] for o in lst["items"]]


def test_pagination_with_continue(cluster):
    for i in range(7):
        cluster.create(cm(f"c{i}"))
    page = cluster.list("configmaps", "default", limit=3)
    assert names(page) == ["c0", "c1", "c2"]
    rv = page["metadata"]["resourceVersion"]
    cluster.create(cm("c9"))  # after the first page: not in this list's snapshot
    cluster.delete("configmaps", "c4")
    seen = names(page)
    while page["metadata"].get("continue"):
        page = cluster.list("configmaps", "default", limit=3,
                            continue_=page["metadata"]["continue"])
        assert page["metadata"]["resourceVersion"] == rv  # one consistent snapshot
        seen += names(page)
    assert seen == [f"c{i}" for i in range(7)]
    assert names(cluster.list("configmaps", "default")) == ["c0", "c1", "c2", "c3", "c5",
                                                            "c6", "c9"]


def test_label_and_field_selectors(cluster):
    cluster.create(pod("a", node="node-1", app="web", tier="front"))
    cluster.create(pod("b", node="node-2", app="web", tier="back"))
    cluster.create(pod("c", app="db"))
    assert names(cluster.list("pods", "default", label_selector="app=web")) == ["a", "b"]
    assert names(cluster.list("pods", label_selector="app=web,tier!=front")) == ["b"]
    assert names(cluster.list("pods", label_selector="tier in (front,back)")) == ["a", "b"]
    assert names(cluster.list("pods", field_selector="spec.nodeName=node-1")) == ["a"]
    assert names(cluster.list("pods", field_selector="spec.nodeName=")) == ["c"]  # unscheduled
    assert names(cluster.list("pods", field_selector="metadata.name=b")) == ["b"]
    with pytest.raises(ApiError) as e:
        cluster.list("pods", field_selector="spec.image=x")
    assert e.value.code == 400 and "field label not supported: spec.image" in e.value.message
    with pytest.raises(ApiError) as e:
        cluster.list("pods", label_selector="a in (")
    assert e.value.code == 400


def test_list_resource_version_semantics(cluster):
    cluster.create(cm("a"))
    now = cluster.list("configmaps", "default")
    assert names(cluster.list("configmaps", "default", resource_version="0")) == ["a"]
    older = cluster.list("configmaps", "default", resource_version=now["metadata"]["resourceVersion"])
    assert names(older) == ["a"]
    future = str(int(now["metadata"]["resourceVersion"]) + 1000)
    with pytest.raises(ApiError) as e:
        cluster.list("configmaps", "default", resource_version=future)
    assert e.value.code == 504 and "Too large resource version" in e.value.message


def test_watch_from_resource_version_in_order(cluster):
    cluster.create(cm("before"))
    rv = cluster.list("configmaps", "default")["metadata"]["resourceVersion"]
    w = cluster.watch("configmaps", "default", resource_version=rv)
    cluster.create(cm("a"))
    cluster.patch("configmaps", "a", {"data": {"k": "v"}})
    cluster.create(cm("b"))
    cluster.delete("configmaps", "a")
    events = w.drain()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert w.drain() == []


def test_watch_without_resource_version_starts_with_the_state(cluster):
    cluster.create(cm("a"))
    w = cluster.watch("configmaps", "default")
    cluster.create(cm("b"))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in w.drain()] == [
        ("ADDED", "a"), ("ADDED", "b")]


def test_watch_with_selector_transitions(cluster):
    cluster.create(pod("a", app="web"))
    rv = cluster.list("pods")["metadata"]["resourceVersion"]
    w = cluster.watch("pods", resource_version=rv, label_selector="app=web")
    cluster.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}})
    cluster.patch("pods", "a", {"metadata": {"labels": {"app": "web"}}})
    assert [e["type"] for e in w.drain()] == ["DELETED", "ADDED"]


def test_bookmarks(cluster):
    rv = cluster.list("configmaps", "default")["metadata"]["resourceVersion"]
    w = cluster.watch("configmaps", "default", resource_version=rv)
    quiet = cluster.watch("configmaps", "default", resource_version=rv, bookmarks=False)
    cluster.advance(61)  # the watch cache's bookmark frequency is one minute
    events = w.drain()
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    bm = events[-1]["object"]
    assert bm["kind"] == "ConfigMap" and set(bm) == {"kind", "apiVersion", "metadata"}
    assert int(bm["metadata"]["resourceVersion"]) >= int(rv)
    assert quiet.drain() == []


def test_too_old_resource_version_is_410_then_relist(cluster):
    w = cluster.watch("configmaps", "default", resource_version="1")
    events = w.drain()
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version: 1 (")
    assert w.ended and w.error == status
    # The reflector's answer: list again, watch from the list's resourceVersion.
    lst = cluster.list("configmaps", "default")
    w2 = cluster.watch("configmaps", "default", resource_version=lst["metadata"]["resourceVersion"])
    cluster.create(cm("after"))
    assert [e["type"] for e in w2.drain()] == ["ADDED"]


def test_continue_token_too_old_after_window(cluster):
    for i in range(3):
        cluster.create(cm(f"c{i}"))
    page = cluster.list("configmaps", "default", limit=1)
    token = page["metadata"]["continue"]
    apiserver = cluster.sim.actor("kube-apiserver-0")
    rc = apiserver.caches.caches["configmaps"]
    for i in range(rc.cache.capacity + 5):  # push the snapshot out of the event window
        cluster.patch("configmaps", "c2", {"data": {"n": str(i)}})
    with pytest.raises(ApiError) as e:
        cluster.list("configmaps", "default", limit=1, continue_=token)
    assert e.value.code == 410 and e.value.reason == "Expired"


def _etcd_leader(cluster):
    for m in cluster.etcd_members:
        if cluster.sim.system.status(m) != "running":
            continue
        st = cluster.sim.ask(m, StatusRequest())
        if st.role == "leader":
            return m
    return None


def test_watch_survives_an_etcd_leader_change():
    with simulate(ClusterSpec(etcd_members=3, nodes=[]), seed=21) as cluster:
        rv = cluster.list("configmaps", "default")["metadata"]["resourceVersion"]
        w = cluster.watch("configmaps", "default", resource_version=rv)
        cluster.create(cm("a"))
        leader = _etcd_leader(cluster)
        cluster.crash(leader)
        cluster.advance(3)  # a new leader is elected
        assert _etcd_leader(cluster) not in (None, leader)
        cluster.create(cm("b"))
        cluster.patch("configmaps", "a", {"data": {"k": "v"}})
        etcd_watch = cluster.sim.actor("kube-apiserver-0").caches.caches["configmaps"].watch
        assert etcd_watch.member != leader  # the apiserver's etcd watch moved
        cluster.restart(leader)
        cluster.advance(2)
        cluster.create(cm("c"))
        events = w.drain()
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("ADDED", "c")]


def test_watch_resumes_across_an_apiserver_restart_without_a_gap():
    with simulate(ClusterSpec(apiservers=2, nodes=[]), seed=8) as cluster:
        rv = cluster.list("configmaps", "default")["metadata"]["resourceVersion"]
        w = cluster.watch("configmaps", "default", resource_version=rv, bookmarks=False)
        cluster.create(cm("a"))
        serving = cluster.sim.actor(w.address).target
        cluster.crash(serving)
        for i in range(3):  # written while the watch's apiserver is down
            cluster.create(cm(f"during{i}"))
        cluster.restart(serving)
        cluster.advance(5)
        cluster.create(cm("z"))
        events = w.drain()
        assert [e["object"]["metadata"]["name"] for e in events] == [
            "a", "during0", "during1", "during2", "z"]
        assert all(e["type"] == "ADDED" for e in events)
        assert w.reconnects == 1


def test_two_apiservers_agree():
    with simulate(ClusterSpec(apiservers=2, etcd_members=3, nodes=[]), seed=4) as cluster:
        a = cluster.client(cluster.token_for("kubernetes-admin"))
        a._apiservers = ["kube-apiserver-0"]
        b = cluster.client(cluster.token_for("kubernetes-admin"))
        b._apiservers = ["kube-apiserver-1"]
        created = a.create(cm("shared", k="v"))
        assert b.get("configmaps", "shared") == created
        assert b.list("configmaps", "default")["items"] == [created]  # consistent read
        b.patch("configmaps", "shared", {"data": {"k": "w"}})
        assert a.list("configmaps", "default")["items"][0]["data"] == {"k": "w"}
        with pytest.raises(ApiError) as e:
            b.update(created)  # stale through the other apiserver too
        assert e.value.reason == "Conflict"
        ns_a = [o["metadata"]["name"] for o in a.list("namespaces")["items"]]
        assert ns_a == [o["metadata"]["name"] for o in b.list("namespaces")["items"]]
        eps = a.get("endpoints", "kubernetes")
        assert [x["ip"] for x in eps["subsets"][0]["addresses"]] == ["192.168.49.2",
                                                                     "192.168.49.3"]


def test_the_compactor_compacts_etcd_every_interval(cluster):
    from actors.etcd import RangeRequest

    cluster.create(cm("a"))
    early = int(cluster.list("configmaps", "default")["metadata"]["resourceVersion"])
    old = cluster.sim.ask("etcd-0", RangeRequest(key=b"/registry/configmaps/default/a",
                                                 revision=early))
    assert old.kvs
    cluster.advance(2 * 300 + 1)  # the first round records a revision, the second compacts it
    resp = cluster.sim.ask("etcd-0", RangeRequest(key=b"/registry/configmaps/default/a",
                                                  revision=early))
    assert getattr(resp, "code", "") == "compacted"
    assert cluster.get("configmaps", "a")
