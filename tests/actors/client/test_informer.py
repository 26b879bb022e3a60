"""Informers against the apiserver test double: list then watch, handlers, relist after 410 with
tombstones, bookmarks, re-watch without relist, failover, resync, the factory."""

import pytest

from actors.api import parse_selector
from actors.client import (
    NODE_NAME_INDEX,
    DeletedFinalStateUnknown,
    Indexer,
    Reflector,
    SharedInformer,
    SharedInformerFactory,
)
from runtime import Simulation
from tests.actors.client._double import Compact, ExpireWatches, SendBookmarks
from tests.actors.client._harness import cluster, host, no_crashes, pod


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_add(self, obj):
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old, new):
        same = "resync" if old is new else old["metadata"]["resourceVersion"]
        self.events.append(("update", new["metadata"]["name"], same))

    def on_delete(self, obj):
        if isinstance(obj, DeletedFinalStateUnknown):
            self.events.append(("tombstone", obj.key))
        else:
            self.events.append(("delete", obj["metadata"]["name"]))


def setup(sim, n_servers=1, **inf_kw):
    backend, servers = cluster(sim, n_servers)
    writer = host(sim, servers, name="writer", qps=-1).client
    h = host(sim, servers, name="ctl", qps=-1)
    inf = SharedInformer(h.client, "pods", **inf_kw)
    rec = Recorder()
    inf.add_event_handler(rec)
    return backend, servers, writer, h, inf, rec


def write(sim, coro):
    return sim.run(coro)


def test_list_then_watch_delivers_everything_and_syncs():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        write(sim, w.create("pods", pod("a", node="n1")))
        write(sim, w.create("pods", pod("b")))
        assert not inf.has_synced()
        inf.start()
        sim.run_until_idle()
        assert inf.has_synced()
        assert rec.events == [("add", "a"), ("add", "b")]
        assert inf.last_sync_resource_version == "2"
        first_list = backend.requests[2][1]
        assert first_list.verb == "list" and first_list.params["resourceVersion"] == "0"
        assert first_list.params["limit"] == "500"
        watch = backend.requests[3][1]
        assert watch.verb == "watch" and watch.params["resourceVersion"] == "2"
        assert watch.params["allowWatchBookmarks"] == "true"
        assert 300 <= int(watch.params["timeoutSeconds"]) < 600
        a = write(sim, w.get("pods", "a"))
        write(sim, w.update("pods", {**a, "spec": {**a["spec"], "nodeName": "n2"}}))
        write(sim, w.delete("pods", "b"))
        write(sim, w.create("pods", pod("c")))
        sim.run_until_idle()
        assert rec.events[2:] == [("update", "a", "1"), ("delete", "b"), ("add", "c")]
        assert inf.indexer.list_keys() == ["default/a", "default/c"]
        assert [o["metadata"]["name"] for o in inf.indexer.by_index(NODE_NAME_INDEX, "n2")] == ["a"]
        assert inf.get("a", "default")["spec"]["nodeName"] == "n2"
        assert inf.last_sync_resource_version == "5"
        no_crashes(sim)


def test_relist_after_410_delivers_missed_changes_and_tombstones():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        for n in ("keep", "change", "vanish"):
            write(sim, w.create("pods", pod(n)))
        inf.start()
        sim.run_until_idle()
        rec.events.clear()
        # The server expires the watch; before the informer relists, the world moves on.
        sim.tell(servers[0], ExpireWatches())
        sim.run_until_idle()
        assert inf.statistics().expired == 1
        server = sim.actor(servers[0])
        server.watchers.clear()  # nothing new reaches the old stream anyway
        cur = backend.stored("pods", "default", "change")
        backend.put("pods", {**cur, "metadata": {**cur["metadata"], "resourceVersion": str(backend.next_rv()),
                                                 "labels": {"v": "2"}}})
        del backend.objects[("pods", "default", "vanish")]
        new = pod("new")
        new["metadata"].update(uid="u-new", resourceVersion=str(backend.next_rv()))
        backend.put("pods", new)
        t0 = sim.now
        sim.run_until(lambda: inf.statistics().lists == 2, timeout=60)
        # wait.BackoffUntil: the first back-off is 0.8 s, jittered up to 1.6 s.
        assert 0.8 <= sim.now - t0 < 1.6
        relist = [r for _, r in backend.requests if r.verb == "list"][-1]
        assert relist.params["resourceVersion"] == "3"  # the last version seen, not a quorum read
        assert "limit" not in relist.params
        assert rec.events == [("update", "change", "2"), ("add", "new"), ("tombstone", "default/vanish")]
        assert sorted(inf.indexer.list_keys()) == ["default/change", "default/keep", "default/new"]
        sim.run_until_idle()
        assert inf.statistics().watches == 2
        no_crashes(sim)


def test_watch_from_a_compacted_version_relists():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.run_until_idle()
        sim.tell(servers[0], ExpireWatches())
        write(sim, w.create("pods", pod("b")))
        sim.tell(servers[0], Compact())  # the informer's version (1) is now gone
        sim.run_until(lambda: inf.statistics().lists == 2, timeout=60)
        sim.run_until_idle()
        assert [e for e in rec.events] == [("add", "a"), ("add", "b")]
        assert inf.statistics().expired == 1 and inf.last_sync_resource_version == "2"


def test_bookmarks_advance_the_resource_version():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        inf.start()
        sim.run_until_idle()
        write(sim, w.create("configmaps", {"metadata": {"name": "cm"}}))  # another resource
        assert inf.last_sync_resource_version == "0"  # the (empty) list's version
        sim.tell(servers[0], SendBookmarks())
        sim.run_until_idle()
        assert inf.last_sync_resource_version == "1"
        assert rec.events == []


def test_a_timed_out_watch_is_reopened_from_the_last_version_without_relisting():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.advance(601)  # watch timeouts are drawn in [300, 600) s
        write(sim, w.create("pods", pod("b")))
        sim.run_until_idle()
        st = inf.statistics()
        # This fake apiserver sends no bookmarks, so the watch is also re-opened each time
        # it stays silent for WATCH_IDLE_TIMEOUT (a dead connection, to client-go's HTTP/2
        # health check); every re-watch resumes from the last version, none relists.
        assert st.lists == 1 and st.watches >= 2
        watches = [r for _, r in backend.requests if r.verb == "watch"]
        assert all(r.params["resourceVersion"] == "1" for r in watches[1:])
        assert rec.events == [("add", "a"), ("add", "b")]


def test_a_silent_watch_is_reopened_from_the_last_version():
    from actors.client._rest import WATCH_IDLE_TIMEOUT

    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.advance(WATCH_IDLE_TIMEOUT - 1)
        assert inf.statistics().watches == 1
        sim.advance(2)  # silent past the idle timeout: re-watched from the last version
        assert inf.statistics().watches == 2 and inf.statistics().lists == 1
        write(sim, w.create("pods", pod("b")))
        sim.run_until_idle()
        assert rec.events == [("add", "a"), ("add", "b")]


def test_informer_survives_its_apiserver_crashing():
    with Simulation(seed=4) as sim:
        backend, servers, w, h, inf, rec = setup(sim, 2)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.advance(5)
        watched = h.client.current_server
        sim.crash(watched)
        sim.run_until_idle()
        write(sim, w.create("pods", pod("b")))
        sim.run_until_idle()
        assert rec.events == [("add", "a"), ("add", "b")]
        st = inf.statistics()
        assert st.lists == 1 and st.watches == 2  # re-watched elsewhere, no relist
        assert h.client.current_server != watched
        no_crashes(sim)


def test_selector_informer_sees_objects_leave_and_enter_its_selector():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim, label_selector=parse_selector("app=web"))
        write(sim, w.create("pods", pod("a", labels={"app": "web"})))
        write(sim, w.create("pods", pod("b", labels={"app": "db"})))
        inf.start()
        sim.run_until_idle()
        write(sim, w.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}}))
        write(sim, w.patch("pods", "b", {"metadata": {"labels": {"app": "web"}}}))
        sim.run_until_idle()
        assert rec.events == [("add", "a"), ("delete", "a"), ("add", "b")]
        assert inf.indexer.list_keys() == ["default/b"]


def test_periodic_resync_redelivers_to_handlers_that_asked_for_it():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)  # rec: no resync
        resyncing = Recorder()
        inf.add_event_handler(resyncing, resync_period=30)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.advance(65)
        assert resyncing.events == [("add", "a"), ("update", "a", "resync"), ("update", "a", "resync")]
        assert rec.events == [("add", "a")]
        assert inf.statistics().resyncs == 2


def test_a_handler_added_after_sync_first_sees_the_cache():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        write(sim, w.create("pods", pod("a")))
        inf.start()
        sim.run_until_idle()
        late = Recorder()
        reg = inf.add_event_handler(on_add=late.on_add)
        assert late.events == [("add", "a")] and reg.has_synced()
        inf.remove_event_handler(reg)
        write(sim, w.create("pods", pod("b")))
        sim.run_until_idle()
        assert late.events == [("add", "a")]


def test_factory_shares_informers_and_waits_for_sync():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        w = host(sim, servers, name="writer", qps=-1).client
        h = host(sim, servers, name="ctl", qps=-1)
        f = SharedInformerFactory(h.client, default_resync=0)
        pods = f.informer_for("pods")
        assert f.informer_for("po") is pods  # one per resource
        nodes = f.informer_for("nodes", indexers={"zone": lambda o: []})
        assert f.informer_for("node", indexers={"other": lambda o: []}) is nodes
        assert "other" in nodes.indexer.indexers
        write(sim, w.create("nodes", {"metadata": {"name": "n1"}}))
        f.start()

        async def wait():
            return await f.wait_for_cache_sync(timeout=10)

        assert sim.run(wait()) == {"pods": True, "nodes": True}
        assert f.has_synced() and nodes.get("n1")["metadata"]["name"] == "n1"
        f.shutdown()
        sim.run_until_idle()
        assert sim.actor(servers[0]).watchers == {}  # stopped watches were told to the server


def test_list_failure_backs_off_and_retries():
    with Simulation(seed=1) as sim:
        from tests.actors.client._double import FailNext

        backend, servers, w, h, inf, rec = setup(sim)
        sim.tell(servers[0], FailNext("list", 500, count=3))
        inf.start()
        sim.run_until(inf.has_synced, timeout=60)
        st = inf.statistics()
        assert st.errors == 3 and st.lists == 4
        # Back-offs 0.8, 1.6, 3.2 s, each jittered by up to ×2.
        assert 5.6 <= sim.now < 11.2
        assert "Internal" in st.last_error or "injected" in st.last_error


def test_wait_for_sync_times_out_when_no_apiserver_answers():
    with Simulation(seed=1) as sim:
        backend, servers, w, h, inf, rec = setup(sim)
        sim.crash(servers[0])
        inf.start()
        assert sim.run(inf.wait_for_sync(timeout=20)) is False
        assert sim.now == pytest.approx(20)
        assert inf.statistics().errors >= 3


def test_a_reflector_mirrors_a_resource_into_a_plain_indexer():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        w = host(sim, servers, name="writer", qps=-1).client
        h = host(sim, servers, name="ctl", qps=-1)
        mirror = Indexer()
        r = Reflector(h.client, "services", mirror, namespace="kube-system")
        write(sim, w.create("services", {"metadata": {"name": "kube-dns", "namespace": "kube-system"}}))
        write(sim, w.create("services", {"metadata": {"name": "web", "namespace": "default"}}))
        task = h.spawn(r.run())
        sim.run_until_idle()
        assert mirror.list_keys() == ["kube-system/kube-dns"] and mirror.resource_version == "2"
        write(sim, w.delete("services", "kube-dns", "kube-system"))
        sim.run_until_idle()
        assert len(mirror) == 0 and r.last_sync_resource_version == "3"
        r.stop()
        task.cancel()
