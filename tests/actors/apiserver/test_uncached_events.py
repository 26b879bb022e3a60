"""Events are served without a watch cache (kube-apiserver's default): lists, gets and watches
go to etcd directly, one etcd watch per API watch. The stream a client sees is the watch
cache's: the last test runs one scenario both ways and compares every response."""

import pytest

from actors import ApiError, ClusterSpec, simulate
from actors.api import lookup
from actors.apiserver import _uncached
from actors.etcd import StatusRequest

NS = "t"


def ev(name, obj="web", *, reason="Started", type_="Normal", kind="Pod", ns=NS,
       component="kubelet", **labels):
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": obj}},
            "involvedObject": {"kind": kind, "name": obj, "namespace": ns, "uid": f"uid-{obj}"},
            "reason": reason, "type": type_, "message": f"{reason} {obj}",
            "source": {"component": component}}


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[]), seed=3) as c:
        c.create(namespace(NS))
        c.create(namespace("u"))
        yield c


def names(lst):
    return [o["metadata"]["name"] for o in lst["items"]]


def seen(events):
    return [(e["type"], e["object"]["metadata"].get("name")) for e in events]


def rv_of(obj):
    return int(obj["metadata"]["resourceVersion"])


def event_watches(cluster):
    """The etcd watchers on the events prefix, over every member: (key, range_end)."""
    out = []
    for m in cluster.etcd_members:
        if cluster.sim.system.status(m) != "running":
            continue
        hub = cluster.sim.actor(m).sm.watch_hub
        out += [(w.key, w.range_end) for w in hub._watchers.values()
                if w.key.startswith(b"/registry/events")]
    return out


def apiserver(cluster, i=0):
    return cluster.sim.actor(f"kube-apiserver-{i}")


def list_params(cluster, ns=NS, **params):
    return cluster.request("list", "events", namespace=ns, params=params)


# --- no cache --------------------------------------------------------------------------------


def test_no_watch_cache_and_no_etcd_watch_for_events(cluster):
    caches = apiserver(cluster).caches
    assert "events" not in caches.caches and "configmaps" in caches.caches
    assert not caches.ready(lookup("events")) and caches.ready(lookup("configmaps"))
    assert all(ri.resource != "events" for ri in _uncached_free(caches))
    cluster.create(ev("e1"))
    assert event_watches(cluster) == []  # writes are not watched by the apiserver
    with pytest.raises(LookupError):
        caches.items(lookup("events"), NS)


def _uncached_free(caches):
    from actors.apiserver._caches import cached_resources
    return cached_resources()


# --- get and list ------------------------------------------------------------------------------


def test_get_reads_etcd_even_at_resource_version_zero(cluster):
    created = cluster.create(ev("e1"))
    assert cluster.get("events", "e1", NS) == created
    at0 = cluster.request("get", "events", name="e1", namespace=NS,
                          params={"resourceVersion": "0"})
    assert at0 == created
    patched = cluster.patch("events", "e1", {"count": 2}, NS)
    # No cache to lag behind: a get at 0 right after a write sees it.
    assert cluster.request("get", "events", name="e1", namespace=NS,
                           params={"resourceVersion": "0"}) == patched
    with pytest.raises(ApiError) as e:
        cluster.request("get", "events", name="nope", namespace=NS,
                        params={"resourceVersion": "0"})
    assert e.value.code == 404


def test_list_with_selectors_and_namespaces(cluster):
    cluster.create(ev("a1", "web", reason="Scheduled", component="default-scheduler"))
    cluster.create(ev("a2", "web", reason="BackOff", type_="Warning"))
    cluster.create(ev("b1", "db", reason="Started", app="db", tier="data"))
    cluster.create(ev("n1", "node-1", kind="Node", reason="NodeReady"))
    cluster.create(ev("z1", "web", ns="u"))
    assert names(cluster.list("events", NS)) == ["a1", "a2", "b1", "n1"]
    assert "z1" in names(cluster.list("events")) and "a1" in names(cluster.list("events"))
    assert names(cluster.list("events", "u")) == ["z1"]
    # kubectl describe pod's selector
    sel = f"involvedObject.name=web,involvedObject.namespace={NS},involvedObject.uid=uid-web"
    assert names(cluster.list("events", NS, field_selector=sel)) == ["a1", "a2"]
    assert names(cluster.list("events", field_selector="involvedObject.name=web")) == [
        "a1", "a2", "z1"]
    assert names(cluster.list("events", NS, field_selector="type=Warning")) == ["a2"]
    assert names(cluster.list("events", NS, field_selector="reason!=Started")) == [
        "a1", "a2", "n1"]
    assert names(cluster.list("events", NS, field_selector="source=default-scheduler")) == [
        "a1"]
    assert names(cluster.list("events", NS, field_selector="involvedObject.kind=Node")) == [
        "n1"]
    assert names(cluster.list("events", NS, label_selector="tier=data")) == ["b1"]
    assert names(cluster.list("events", NS, label_selector="app in (web,db)",
                              field_selector="type=Normal")) == ["a1", "b1"]
    with pytest.raises(ApiError) as e:
        cluster.list("events", NS, field_selector="spec.nodeName=x")
    assert e.value.code == 400 and "field label not supported" in e.value.message
    with pytest.raises(ApiError) as e:
        cluster.list("events", NS, label_selector="a in (")
    assert e.value.code == 400


def test_pagination_is_one_snapshot_and_filters_across_pages(cluster):
    for i in range(7):
        cluster.create(ev(f"e{i}", "web" if i % 2 == 0 else "db"))
    page = cluster.list("events", NS, limit=3)
    assert names(page) == ["e0", "e1", "e2"]
    rv = page["metadata"]["resourceVersion"]
    cluster.create(ev("e9"))
    cluster.delete("events", "e4", NS)
    got = names(page)
    while page["metadata"].get("continue"):
        page = cluster.list("events", NS, limit=3, continue_=page["metadata"]["continue"])
        assert page["metadata"]["resourceVersion"] == rv
        got += names(page)
    assert got == [f"e{i}" for i in range(7)]
    # With a selector, each page holds `limit` matches however many keys it skips.
    page = cluster.list("events", NS, field_selector="involvedObject.name=web", limit=2)
    assert names(page) == ["e0", "e2"] and page["metadata"].get("continue")
    page = cluster.list("events", NS, field_selector="involvedObject.name=web", limit=2,
                        continue_=page["metadata"]["continue"])
    assert names(page) == ["e6", "e9"]
    assert "continue" not in page["metadata"]  # nothing after e9
    # Exactly the last key: no token.
    page = cluster.list("events", NS, limit=6)
    assert names(page) == ["e0", "e1", "e2", "e3", "e5", "e6"] and page["metadata"]["continue"]
    assert "continue" not in cluster.list("events", NS, limit=7)["metadata"]


def test_list_resource_version_semantics(cluster):
    cluster.create(ev("a"))
    then = cluster.list("events", NS)["metadata"]["resourceVersion"]
    cluster.create(ev("b"))
    cluster.delete("events", "a", NS)
    now = cluster.list("events", NS)
    assert names(now) == ["b"] and int(now["metadata"]["resourceVersion"]) > int(then)
    assert names(cluster.list("events", NS, resource_version="0")) == ["b"]
    assert names(cluster.list("events", NS, resource_version=then)) == ["b"]  # not older
    exact = list_params(cluster, resourceVersion=then, resourceVersionMatch="Exact")
    assert names(exact) == ["a"] and exact["metadata"]["resourceVersion"] == then
    paged = list_params(cluster, resourceVersion=then, limit="5")  # etcd3: the state at N
    assert names(paged) == ["a"]
    future = str(int(now["metadata"]["resourceVersion"]) + 1000)
    for params in ({"resourceVersion": future},
                   {"resourceVersion": future, "resourceVersionMatch": "Exact"}):
        with pytest.raises(ApiError) as e:
            list_params(cluster, **params)
        assert e.value.code == 504 and "Too large resource version" in e.value.message
    with pytest.raises(ApiError) as e:
        list_params(cluster, resourceVersion="0", resourceVersionMatch="Exact")
    assert e.value.code == 422


def test_compacted_revision_is_410(cluster):
    for i in range(3):
        cluster.create(ev(f"e{i}"))
    first = cluster.list("events", NS, limit=1)
    old = first["metadata"]["resourceVersion"]
    cluster.advance(2 * 300 + 1)  # the compactor compacts past `old`
    with pytest.raises(ApiError) as e:
        list_params(cluster, resourceVersion=old, resourceVersionMatch="Exact")
    assert e.value.code == 410 and e.value.reason == "Expired"
    assert e.value.message.startswith(f"too old resource version: {old} (")
    with pytest.raises(ApiError) as e:
        cluster.list("events", NS, limit=1, continue_=first["metadata"]["continue"])
    assert e.value.code == 410 and e.value.reason == "Expired"
    fresh = e.value.status.metadata.continue_
    assert fresh  # a token to go on from the current revision
    rest = cluster.list("events", NS, limit=5, continue_=fresh)
    assert names(rest) == ["e1", "e2"]
    # The watch from a compacted revision: one ERROR with the 410, then the stream ends.
    w = cluster.watch("events", NS, resource_version=old)
    events = w.drain()
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old} (")
    assert w.ended and w.error == status
    assert event_watches(cluster) == []
    assert apiserver(cluster).caches.direct.watches == {}


# --- watch -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rv", [None, "0"])
def test_watch_from_now_starts_with_the_matching_state(cluster, rv):
    cluster.create(ev("b", "web"))
    cluster.create(ev("a", "web"))
    cluster.create(ev("c", "db"))
    cluster.create(ev("x", "web", ns="u"))
    w = cluster.watch("events", NS, resource_version=rv,
                      field_selector="involvedObject.name=web", bookmarks=False)
    first = w.drain()
    assert seen(first) == [("ADDED", "a"), ("ADDED", "b")]  # key order, as etcd lists
    assert first[1]["object"] == cluster.get("events", "b", NS)
    cluster.create(ev("d", "web"))
    cluster.create(ev("e", "db"))
    cluster.create(ev("y", "web", ns="u"))
    assert seen(w.drain()) == [("ADDED", "d")]
    # one etcd watch, on the namespace's prefix
    assert event_watches(cluster) == [(b"/registry/events/t/", b"/registry/events/t0")]


def test_watch_from_a_revision_with_selector_transitions(cluster):
    cluster.create(ev("a", "web", type_="Warning"))
    cluster.create(ev("b", "web", type_="Normal"))
    rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
    w = cluster.watch("events", NS, resource_version=rv, field_selector="type=Warning",
                      bookmarks=False)
    everything = cluster.watch("events", resource_version=rv, bookmarks=False)
    before = cluster.get("events", "a", NS)
    cluster.patch("events", "a", {"type": "Normal"}, NS)  # leaves the selector
    cluster.patch("events", "b", {"type": "Warning"}, NS)  # enters it
    cluster.patch("events", "b", {"count": 3}, NS)  # stays in it
    cluster.patch("events", "a", {"count": 4}, NS)  # stays out
    cluster.delete("events", "b", NS)
    got = w.drain()
    assert seen(got) == [("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "b"), ("DELETED", "b")]
    # Leaving the selector: the old object, at the revision of the change.
    left = got[0]["object"]
    assert left["type"] == "Warning" and left["involvedObject"] == before["involvedObject"]
    assert rv_of(left) > rv_of(before)
    assert rv_of(got[3]["object"]) > rv_of(got[2]["object"])
    assert got[3]["object"]["count"] == 3  # the last state, at the deletion's revision
    rvs = [rv_of(e["object"]) for e in got]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert seen(everything.drain()) == [("MODIFIED", "a"), ("MODIFIED", "b"), ("MODIFIED", "b"),
                                        ("MODIFIED", "a"), ("DELETED", "b")]
    assert event_watches(cluster) == [(b"/registry/events/t/", b"/registry/events/t0"),
                                      (b"/registry/events/", b"/registry/events0")]


def test_label_selector_watch(cluster):
    rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
    w = cluster.watch("events", NS, resource_version=rv, label_selector="app=web",
                      bookmarks=False)
    cluster.create(ev("a", "web"))
    cluster.patch("events", "a", {"metadata": {"labels": {"app": "db"}}}, NS)
    cluster.patch("events", "a", {"metadata": {"labels": {"app": "web"}}}, NS)
    assert [e["type"] for e in w.drain()] == ["ADDED", "DELETED", "ADDED"]


def test_watch_ends_when_stopped_or_when_its_asker_goes(cluster):
    direct = apiserver(cluster).caches.direct
    w1 = cluster.watch("events", NS, bookmarks=False)
    w2 = cluster.watch("events", bookmarks=False)
    assert len(event_watches(cluster)) == 2 and len(direct.watches) == 2
    w1.stop()
    cluster.advance(1)
    assert event_watches(cluster) == [(b"/registry/events/", b"/registry/events0")]
    cluster.create(ev("a"))
    assert w1.drain() == [] and seen(w2.drain()) == [("ADDED", "a")]
    cluster.crash(w2.address)  # the asker goes away: the apiserver drops its watch
    cluster.advance(1)
    assert event_watches(cluster) == [] and direct.watches == {}
    w3 = cluster.watch("events", NS, bookmarks=False)
    assert seen(w3.drain()) == [("ADDED", "a")]
    assert len(event_watches(cluster)) == 1
    cluster.crash("kube-apiserver-0")  # the apiserver stopping cancels them too
    cluster.advance(1)
    assert event_watches(cluster) == []
    assert w3.drain() == []


def test_bookmarks_only_for_watches_that_asked(cluster):
    rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
    w = cluster.watch("events", NS, resource_version=rv)
    quiet = cluster.watch("events", NS, resource_version=rv, bookmarks=False)
    cluster.advance(61)  # the apiserver's bookmark tick
    got = w.drain()
    assert got and {e["type"] for e in got} == {"BOOKMARK"}
    bm = got[-1]["object"]
    assert bm == {"kind": "Event", "apiVersion": "v1",
                  "metadata": {"resourceVersion": bm["metadata"]["resourceVersion"]}}
    # from etcd's progress notifications: past the start, up to the store's revision
    assert int(bm["metadata"]["resourceVersion"]) > int(rv)
    assert quiet.drain() == []
    cluster.create(ev("a"))
    assert seen(w.drain()) == [("ADDED", "a")]


def test_deletecollection_of_events(cluster):
    cluster.create(ev("a1", "web"))
    cluster.create(ev("a2", "web"))
    cluster.create(ev("b1", "db"))
    cluster.create(ev("z1", "web", ns="u"))
    rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
    w = cluster.watch("events", NS, resource_version=rv, bookmarks=False)
    out = cluster.request("deletecollection", "events", namespace=NS,
                          params={"fieldSelector": "involvedObject.name=web"})
    assert names(out) == ["a1", "a2"]
    assert names(cluster.list("events", NS)) == ["b1"]
    assert names(cluster.list("events", "u")) == ["z1"]
    assert seen(w.drain()) == [("DELETED", "a1"), ("DELETED", "a2")]
    cluster.request("deletecollection", "events", namespace=NS)
    assert names(cluster.list("events", NS)) == []


def test_quota_counts_events_from_etcd(cluster):
    cluster.create(ev("a"))
    cluster.create(ev("b"))
    cluster.create(ev("c", ns="u"))
    quota = cluster.create({"apiVersion": "v1", "kind": "ResourceQuota",
                            "metadata": {"name": "q", "namespace": NS},
                            "spec": {"hard": {"count/events": "10", "configmaps": "5"}}})
    used = quota["status"]["used"]
    assert used["count/events"] == "2"
    assert used["configmaps"] == str(len(cluster.list("configmaps", NS)["items"]))


def _etcd_leader(cluster):
    for m in cluster.etcd_members:
        if cluster.sim.system.status(m) != "running":
            continue
        if cluster.sim.ask(m, StatusRequest()).role == "leader":
            return m
    return None


def test_watch_survives_an_etcd_leader_change():
    with simulate(ClusterSpec(etcd_members=3, nodes=[]), seed=21) as cluster:
        cluster.create(namespace(NS))
        rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
        w = cluster.watch("events", NS, resource_version=rv, bookmarks=False)
        cluster.create(ev("a"))
        direct = apiserver(cluster).caches.direct
        (dw,) = direct.watches.values()
        first = dw.member
        cluster.crash(first)
        cluster.advance(3)
        cluster.create(ev("b"))
        cluster.patch("events", "a", {"count": 2}, NS)
        assert dw.member not in (None, first)  # the etcd watch moved to another member
        cluster.restart(first)
        cluster.advance(2)
        cluster.create(ev("c"))
        assert seen(w.drain()) == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"),
                                   ("ADDED", "c")]
        assert not w.ended and len(direct.watches) == 1


# --- the same stream as the watch cache's ----------------------------------------------------


def _scenario(cluster):
    """Lists and watches of events across writes; every answer, in order."""
    out = []
    cluster.create(ev("a", "web", type_="Warning"))
    cluster.create(ev("b", "web"))
    cluster.create(ev("c", "db", tier="data"))
    cluster.create(ev("x", "web", ns="u"))
    rv = cluster.list("events", NS)["metadata"]["resourceVersion"]
    watches = [
        cluster.watch("events", NS, bookmarks=False),
        cluster.watch("events", NS, resource_version="0", label_selector="app=web",
                      bookmarks=False),
        cluster.watch("events", NS, resource_version=rv, field_selector="type=Warning",
                      bookmarks=False),
        cluster.watch("events", resource_version=rv,
                      field_selector="involvedObject.name=web,involvedObject.namespace=t",
                      bookmarks=False),
        cluster.watch("events", bookmarks=False),
    ]
    cluster.patch("events", "a", {"type": "Normal"}, NS)
    cluster.patch("events", "b", {"type": "Warning", "count": 2}, NS)
    cluster.patch("events", "c", {"metadata": {"labels": {"app": "web"}}}, NS)
    cluster.patch("events", "x", {"count": 5}, "u")
    cluster.create(ev("d", "web", ns="u"))
    cluster.delete("events", "b", NS)
    cluster.request("deletecollection", "events", namespace=NS,
                    params={"labelSelector": "tier=data"})
    out.append([w.drain() for w in watches])
    out.append(cluster.list("events"))
    out.append(cluster.list("events", NS, resource_version="0"))
    out.append(cluster.list("events", NS, field_selector="type=Normal"))
    page = cluster.list("events", limit=2)
    out.append(page)
    out.append(cluster.list("events", limit=2, continue_=page["metadata"]["continue"]))
    out.append(cluster.get("events", "a", NS))
    for w in watches:
        w.stop()
    return out


def test_the_same_answers_as_the_watch_cache(monkeypatch):
    with simulate(ClusterSpec(nodes=[]), seed=5) as c:
        c.create(namespace(NS))
        c.create(namespace("u"))
        direct = _scenario(c)
        assert "events" not in apiserver(c).caches.caches
    monkeypatch.setattr(_uncached, "UNCACHED", frozenset())
    with simulate(ClusterSpec(nodes=[]), seed=5) as c:
        c.create(namespace(NS))
        c.create(namespace("u"))
        cached = _scenario(c)
        assert "events" in apiserver(c).caches.caches
    assert direct == cached
    assert any(direct[0])  # the watches did see events
