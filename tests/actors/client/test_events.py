"""The event recorder: client-go's correlator (dedup with count, aggregation, spam filter) and
fire-and-forget writes through the client against the apiserver test double."""

import pytest

from actors.client import EventCorrelator, EventRecorder, object_reference
from runtime import SIM_EPOCH, Simulation
from tests.actors.client._double import FailNext
from tests.actors.client._harness import cluster, host, no_crashes, pod


class Clock:
    def __init__(self) -> None:
        self.t = SIM_EPOCH

    def __call__(self) -> float:
        return self.t


def ev(message="m", reason="R", name="p", t="2026-01-01T00:00:00Z", evname="p.1"):
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": evname, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": name, "uid": "u1",
                               "apiVersion": "v1"},
            "reason": reason, "message": message, "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": t, "lastTimestamp": t, "count": 1, "type": "Normal"}


def test_the_same_event_again_becomes_a_count_patch_of_the_first():
    clock = Clock()
    c = EventCorrelator(clock)
    first, patch = c.correlate(ev(evname="p.aaa"))
    assert patch is None and first["count"] == 1
    c.update_state({**first, "metadata": {**first["metadata"], "resourceVersion": "7"}})
    clock.t += 30
    second, patch = c.correlate(ev(t="2026-01-01T00:00:30Z", evname="p.bbb"))
    assert second["metadata"]["name"] == "p.aaa" and second["metadata"]["resourceVersion"] == "7"
    assert second["count"] == 2 and second["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert patch == {"count": 2, "lastTimestamp": "2026-01-01T00:00:30Z", "message": "m"}
    third, patch = c.correlate(ev(evname="p.ccc"))
    assert third["count"] == 3 and patch["count"] == 3
    # A different message is a different event.
    other, patch = c.correlate(ev(message="other", evname="p.ddd"))
    assert patch is None and other["metadata"]["name"] == "p.ddd"


def test_after_ten_quiet_minutes_the_same_event_is_new_again():
    clock = Clock()
    c = EventCorrelator(clock)
    c.correlate(ev(evname="p.1"))
    clock.t += 601
    again, patch = c.correlate(ev(evname="p.2"))
    assert patch is None and again["count"] == 1 and again["metadata"]["name"] == "p.2"


def test_ten_similar_events_in_ten_minutes_are_aggregated():
    clock = Clock()
    c = EventCorrelator(clock)
    for i in range(9):
        out, _ = c.correlate(ev(message=f"msg {i}", evname=f"p.{i}"))
        assert out["message"] == f"msg {i}"
    tenth, patch = c.correlate(ev(message="msg 9", evname="p.9"))
    assert tenth["message"] == "(combined from similar events): msg 9" and patch is None
    assert tenth["metadata"]["name"] == f"p.{round(SIM_EPOCH * 1e9):x}"
    eleventh, patch = c.correlate(ev(message="msg 10", evname="p.10"))
    assert eleventh["message"] == "(combined from similar events): msg 10"
    assert eleventh["count"] == 2 and patch["message"] == "(combined from similar events): msg 10"


def test_spam_filter_allows_a_burst_of_25_then_one_per_5_minutes():
    clock = Clock()
    c = EventCorrelator(clock)
    results = [c.correlate(ev(reason=f"R{i}", evname=f"p.{i}")) for i in range(26)]
    assert all(r is not None for r in results[:25]) and results[25] is None
    assert c.correlate(ev(name="other-pod")) is not None  # per object
    clock.t += 300
    assert c.correlate(ev(reason="later")) is not None
    assert c.correlate(ev(reason="later2")) is None


def test_object_reference_needs_kind_and_name():
    p = pod("x")
    p["metadata"].update(uid="u", resourceVersion="3")
    assert object_reference(p) == {"kind": "Pod", "namespace": "default", "name": "x", "uid": "u",
                                   "apiVersion": "v1", "resourceVersion": "3"}
    with pytest.raises(ValueError):
        object_reference({"metadata": {"name": "x"}})


def recorder_setup(sim, **kw):
    backend, servers = cluster(sim)
    h = host(sim, servers, qps=-1, **kw)
    rec = EventRecorder(h.client, "default-scheduler")
    p = sim.run(h.client.create("pods", pod("nginx-879cf7b8c-fpfzn")))
    return backend, servers, h, rec, p


def events(backend):
    return [o for (res, _, _), o in backend.objects.items() if res == "events"]


def test_recorder_writes_one_event_and_counts_repeats():
    with Simulation(seed=1) as sim:
        backend, _, h, rec, p = recorder_setup(sim)
        msg = "Successfully assigned default/nginx-879cf7b8c-fpfzn to minikube"
        rec.event(p, "Normal", "Scheduled", msg)
        sim.run_until_idle()
        sim.advance(5)
        rec.event(p, "Normal", "Scheduled", msg)
        sim.advance(5)
        rec.eventf(p, "Normal", "Scheduled", "Successfully assigned %s/%s to %s", "default",
                   "nginx-879cf7b8c-fpfzn", "minikube")
        sim.run_until_idle()
        (e,) = events(backend)
        assert e["count"] == 3
        assert e["firstTimestamp"] == "2026-01-01T00:00:00Z" and e["lastTimestamp"] == "2026-01-01T00:00:10Z"
        # <object>.<hex ns>: the first event's stamp, plus this recorder's salt (< 997 ns)
        obj_name, stamp = e["metadata"]["name"].rsplit(".", 1)
        assert obj_name == "nginx-879cf7b8c-fpfzn"
        assert 0 <= int(stamp, 16) - round(SIM_EPOCH * 1e9) < 997
        assert len(e["metadata"]["name"].rsplit(".", 1)[1]) == 16
        assert e["source"] == {"component": "default-scheduler"}
        assert e["involvedObject"]["uid"] == p["metadata"]["uid"] and e["involvedObject"]["kind"] == "Pod"
        assert (e["type"], e["reason"], e["message"]) == ("Normal", "Scheduled", msg)
        assert e["reportingComponent"] == "default-scheduler"
        st = rec.statistics()
        assert (st.emitted, st.created, st.patched) == (3, 1, 2)
        no_crashes(sim)


def test_cluster_scoped_objects_get_events_in_default():
    with Simulation(seed=1) as sim:
        backend, _, h, _, _ = recorder_setup(sim)
        rec = EventRecorder(h.client, "kubelet", "node-1")
        node = sim.run(h.client.create("nodes", {"metadata": {"name": "node-1"}}))
        rec.event(node, "Normal", "Starting", "Starting kubelet.")
        sim.run_until_idle()
        (e,) = events(backend)
        assert e["metadata"]["namespace"] == "default"
        assert e["source"] == {"component": "kubelet", "host": "node-1"}
        assert e["reportingInstance"] == "node-1"


def test_recording_is_fire_and_forget_and_retries_through_an_outage():
    with Simulation(seed=2) as sim:
        backend, servers, h, rec, p = recorder_setup(sim, timeout=5.0)
        sim.crash(servers[0])
        rec.event(p, "Warning", "Failed", "Failed to pull image \"ningx\"")  # returns at once
        assert sim.now == 0.0
        sim.advance(20)
        assert events(backend) == []
        sim.restart(servers[0])
        sim.advance(15)
        (e,) = events(backend)
        assert e["reason"] == "Failed" and e["type"] == "Warning"
        assert e["firstTimestamp"] == "2026-01-01T00:00:00Z"  # the time it happened, not written


def test_rejected_events_are_abandoned_and_a_vanished_event_is_recreated():
    with Simulation(seed=1) as sim:
        backend, servers, h, rec, p = recorder_setup(sim)
        sim.tell(servers[0], FailNext("create", 500))
        rec.event(p, "Normal", "A", "first")
        sim.run_until_idle()
        assert events(backend) == [] and rec.statistics().rejected == 1
        rec.event(p, "Normal", "B", "second")
        sim.run_until_idle()
        (e,) = events(backend)
        del backend.objects[("events", "default", e["metadata"]["name"])]  # event TTL expired
        sim.advance(1)
        rec.event(p, "Normal", "B", "second")
        sim.run_until_idle()
        (again,) = events(backend)
        assert again["count"] == 2 and again["metadata"]["name"] == e["metadata"]["name"]


def test_invalid_events_are_dropped_not_raised():
    with Simulation(seed=1) as sim:
        backend, _, h, rec, p = recorder_setup(sim)
        rec.event(p, "Bogus", "R", "m")
        rec.event({"metadata": {"name": "no-kind"}}, "Normal", "R", "m")
        sim.run_until_idle()
        assert events(backend) == [] and rec.statistics().invalid == 2


def test_recorder_names_are_unique_within_one_instant():
    from actors.client._events import EventRecorder

    class _Actor:
        log = None

        @staticmethod
        def wall_time():
            return SIM_EPOCH

    class _Client:
        actor = _Actor()

    a = EventRecorder(_Client(), "kubelet", "node-1")
    b = EventRecorder(_Client(), "default-scheduler")
    stamps = [a._stamp(SIM_EPOCH) for _ in range(50)] + [b._stamp(SIM_EPOCH) for _ in range(3)]
    assert len(set(stamps[:50])) == 50 and stamps[:50] == sorted(stamps[:50])
    assert a._salt != b._salt
