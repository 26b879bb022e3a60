"""The typed client against the apiserver test double: verbs, Status errors, rate limiting,
429 retries, failover between apiservers, and watch streams."""

import pytest

from actors.api import ApiError
from actors.client import TransportError
from runtime import Simulation
from tests.actors.client._double import ExpireWatches, FailNext
from tests.actors.client._harness import cluster, host, no_crashes, pod


def test_crud_round_trip_and_status_errors():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        c = host(sim, servers, qps=-1).client

        async def scenario():
            created = await c.create("pods", pod("web", labels={"app": "web"}))
            assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"] == "1"
            got = await c.get("pod", "web")  # any name kubectl accepts
            assert got == created
            with pytest.raises(ApiError) as e:
                await c.create("pods", pod("web"))
            assert (e.value.code, e.value.reason) == (409, "AlreadyExists")
            with pytest.raises(ApiError) as e:
                await c.get("pods", "nope")
            assert (e.value.code, e.value.reason) == (404, "NotFound")
            assert e.value.message == 'pods "nope" not found'
            # Optimistic concurrency: an update carrying a stale resourceVersion is a Conflict.
            fresh = await c.update("pods", {**created, "metadata": {**created["metadata"], "labels": {"app": "v2"}}})
            assert fresh["metadata"]["resourceVersion"] == "2"
            with pytest.raises(ApiError) as e:
                await c.update("pods", created)
            assert e.value.reason == "Conflict"
            st = await c.update_status("pods", {**fresh, "status": {"phase": "Running"}})
            assert st["status"] == {"phase": "Running"}
            patched = await c.patch("pods", "web", {"metadata": {"labels": {"extra": "1"}}})
            assert patched["metadata"]["labels"] == {"app": "v2", "extra": "1"}
            with pytest.raises(ValueError):
                await c.patch("pods", "web", {}, patch_type="yaml")
            # Preconditions go in the DeleteOptions body.
            with pytest.raises(ApiError) as e:
                await c.delete("pods", "web", preconditions={"uid": "someone-else"})
            assert e.value.reason == "Conflict" and "Precondition failed" in e.value.message
            await c.delete("pods", "web", grace_period_seconds=0, propagation_policy="Background",
                           preconditions={"uid": created["metadata"]["uid"]})
            with pytest.raises(ApiError):
                await c.get("pods", "web")

        sim.run(scenario())
        verbs = [r.verb for _, r in backend.requests]
        assert verbs[:3] == ["create", "get", "create"]
        last = backend.requests[-2][1]  # the successful delete
        assert last.params == {"gracePeriodSeconds": "0", "propagationPolicy": "Background"}
        assert last.body["preconditions"] == {"uid": "00000000-0000-4000-8000-000000000001"}
        assert {r.token for _, r in backend.requests} == {"secret"}
        assert {r.group for _, r in backend.requests} == {""}


def test_bind_uses_the_binding_subresource_and_conflicts_when_bound():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        c = host(sim, servers).client

        async def scenario():
            await c.create("pods", pod("p", "ns"))
            await c.bind("ns", "p", "node-1")
            assert (await c.get("pods", "p", "ns"))["spec"]["nodeName"] == "node-1"
            with pytest.raises(ApiError) as e:
                await c.bind("ns", "p", "node-2")
            assert e.value.code == 409

        sim.run(scenario())
        req = backend.requests[1][1]
        assert (req.verb, req.subresource, req.name) == ("create", "binding", "p")
        assert req.body["target"] == {"kind": "Node", "apiVersion": "v1", "name": "node-1"}


def test_list_with_selectors_and_pages():
    with Simulation(seed=1) as sim:
        _, servers = cluster(sim)
        c = host(sim, servers, qps=-1).client

        async def scenario():
            for i in range(5):
                await c.create("pods", pod(f"p{i}", "a" if i < 3 else "b",
                                           labels={"even": str(i % 2 == 0).lower()}, node=f"n{i % 2}"))
            everything = await c.list("pods")
            assert [p["metadata"]["name"] for p in everything["items"]] == ["p0", "p1", "p2", "p3", "p4"]
            assert everything["metadata"]["resourceVersion"] == "5"
            ns_a = await c.list("pods", "a", label_selector={"even": "true"})
            assert [p["metadata"]["name"] for p in ns_a["items"]] == ["p0", "p2"]
            on_n1 = await c.list("pods", field_selector="spec.nodeName=n1")
            assert [p["metadata"]["name"] for p in on_n1["items"]] == ["p1", "p3"]
            page = await c.list("pods", limit=2)
            assert len(page["items"]) == 2 and page["metadata"]["remainingItemCount"] == 3
            page2 = await c.list("pods", limit=2, continue_=page["metadata"]["continue"])
            assert [p["metadata"]["name"] for p in page2["items"]] == ["p2", "p3"]

        sim.run(scenario())


def test_client_side_rate_limit_waits_in_virtual_time():
    with Simulation(seed=1) as sim:
        _, servers = cluster(sim)
        c = host(sim, servers, qps=5.0, burst=10).client

        async def scenario():
            await c.create("pods", pod("p"))  # token 1 of 10
            for _ in range(19):
                await c.get("pods", "p")
            return sim.now

        # 10 at once, then 10 more at 5 qps: the 20th request leaves at 2.0 s.
        assert sim.run(scenario()) == pytest.approx(2.0)
        st = c.statistics()
        assert st.requests == 20 and st.throttled == 10
        # Each waiter waits for its own token: 0.2 s, since earlier ones already waited.
        assert st.throttle_wait_seconds == pytest.approx(2.0)
        assert st.by_verb == {"create": 1, "get": 19} and st.by_code == {201: 1, 200: 19}


def test_a_scheduler_sized_bucket_does_not_throttle_a_burst_of_100():
    with Simulation(seed=1) as sim:
        _, servers = cluster(sim)
        c = host(sim, servers, qps=50.0, burst=100).client

        async def scenario():
            for i in range(100):
                await c.create("pods", pod(f"p{i}"))
            return sim.now

        assert sim.run(scenario()) == 0.0
        assert c.statistics().throttled == 0


def test_429_is_retried_after_retry_after():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        c = host(sim, servers, qps=-1).client
        sim.tell(servers[0], FailNext("get", 429, count=2, retry_after=3))
        sim.tell(servers[0], FailNext("list", 500))

        async def scenario():
            await c.create("pods", pod("p"))
            got = await c.get("pods", "p")
            with pytest.raises(ApiError) as e:
                await c.list("pods")
            return got, sim.now, e.value.code

        got, t, code = sim.run(scenario())
        assert got["metadata"]["name"] == "p" and t == pytest.approx(6.0) and code == 500
        assert c.statistics().retries_429 == 2


def test_reads_fail_over_to_another_apiserver():
    with Simulation(seed=1) as sim:
        _, servers = cluster(sim, 2)
        h = host(sim, servers, qps=-1, timeout=5.0)
        c = h.client
        first = c.current_server
        other = next(s for s in servers if s != first)

        async def create():
            await c.create("pods", pod("p"))

        sim.run(create())
        sim.crash(first)
        got = sim.run(c.get("pods", "p"))
        assert got["metadata"]["name"] == "p" and c.current_server == other
        assert sim.now == 0.0  # a crashed address refuses at once: no timeout spent
        # A partitioned apiserver costs one ask timeout, then the read goes elsewhere.
        sim.restart(first)
        sim.partition(["host"], [other])
        c._cur = servers.index(other)
        got = sim.run(c.get("pods", "p"))
        assert sim.now == pytest.approx(5.0) and c.current_server == first
        st = c.statistics()
        assert st.transport_errors == 2 and st.failovers == 2
        no_crashes(sim)


def test_writes_fail_over_only_when_certainly_not_applied():
    with Simulation(seed=2) as sim:
        backend, servers = cluster(sim, 2)
        c = host(sim, servers, qps=-1, timeout=5.0).client
        first = c.current_server
        other = next(s for s in servers if s != first)
        sim.crash(first)
        created = sim.run(c.create("pods", pod("a")))  # refused by the crashed one: retried
        assert created["metadata"]["name"] == "a"
        sim.partition(["host"], [other])
        sim.restart(first)

        async def write():
            with pytest.raises(TransportError) as e:
                await c.create("pods", pod("b"))
            return e.value

        err = sim.run(write())
        assert err.maybe_applied and err.server == other
        assert c.current_server == first  # the next request goes elsewhere
        sim.heal()
        # With every apiserver gone, a read says so and nothing was applied.
        sim.crash(first)
        sim.crash(other)

        async def read():
            with pytest.raises(TransportError) as e:
                await c.get("pods", "a")
            return e.value

        assert not sim.run(read()).maybe_applied


def test_watch_stream_delivers_events_in_order_even_when_they_overtake_the_reply():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        c = host(sim, servers, qps=-1).client

        async def scenario():
            await c.create("pods", pod("a"))
            await c.create("pods", pod("b"))
            w = await c.watch("pods")  # RV unset: synthetic ADDED for the current state first
            await c.create("pods", pod("c"))
            await c.delete("pods", "a")
            seen = []
            async for type_, obj in w:
                seen.append((type_, obj["metadata"]["name"]))
                if len(seen) == 4:
                    w.stop()
            return seen, w.end_reason

        seen, reason = sim.run(scenario())
        assert seen == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c"), ("DELETED", "a")]
        assert reason == "stopped"
        sim.run_until_idle()
        assert sim.actor(servers[0]).watchers == {}  # StopWatch reached the server


def test_watch_from_a_resource_version_and_error_410_ends_the_stream():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        c = host(sim, servers, qps=-1).client

        async def scenario():
            await c.create("pods", pod("a"))
            rv = (await c.list("pods"))["metadata"]["resourceVersion"]
            await c.create("pods", pod("b"))
            w = await c.watch("pods", resource_version=rv, timeout_seconds=600)
            first = await w.__anext__()
            sim.tell(servers[0], ExpireWatches())
            rest = [t async for t, _ in w]
            return first, rest, w

        first, rest, w = sim.run(scenario())
        assert first[0] == "ADDED" and first[1]["metadata"]["name"] == "b"
        assert rest == ["ERROR"]
        assert w.end_reason == "error" and w.error.code == 410 and w.error.reason == "Expired"


def test_watch_ends_when_its_apiserver_goes_down_or_times_out():
    with Simulation(seed=1) as sim:
        _, servers = cluster(sim, 2)
        c = host(sim, servers, qps=-1).client
        first = c.current_server

        async def down():
            w = await c.watch("pods")
            sim.crash(first)
            return [e async for e in w], w.end_reason, sim.now

        assert sim.run(down()) == ([], "apiserver down", 0.0)
        assert c.current_server != first  # the client moved on

        async def times_out():
            w = await c.watch("pods", timeout_seconds=60)
            return [e async for e in w], w.end_reason, sim.now

        assert sim.run(times_out()) == ([], "timeout", 60.0)
        sim.run_until_idle()
        assert sim.actor(c.current_server).watchers == {}
        no_crashes(sim)


def test_events_for_a_forgotten_watch_are_answered_with_stopwatch():
    with Simulation(seed=1) as sim:
        backend, servers = cluster(sim)
        h = host(sim, servers, qps=-1)
        c = h.client
        w = sim.run(c.watch("pods"))
        c._streams.clear()  # as if the stream had been dropped without telling the server
        sim.run(c.create("pods", pod("x")))
        sim.run_until_idle()
        assert sim.actor(servers[0]).watchers == {}
        assert not w.closed and w.events == 0  # nothing reached the orphaned stream


def test_client_must_be_created_on_start():
    from actors.client import Client
    from runtime import Actor

    with pytest.raises(RuntimeError, match="on_start"):
        Client(Actor(), apiservers=["x"], token="t")
    with Simulation() as sim:
        _, servers = cluster(sim)
        with pytest.raises(ValueError):
            Client(sim.actor(servers[0]), apiservers=[], token="t")
