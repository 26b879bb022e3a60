"""SchedulingQueue: ordering, back-off, the unschedulable set, events, gates, flushes."""

from __future__ import annotations

import pytest

from actors.scheduler import Profile
from actors.scheduler._queue import (
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    UNSCHEDULABLE_TIMEOUT,
    SchedulingQueue,
    node_update_event,
)
from tests.actors.scheduler.test_builders import make_node, make_pod, pi


def queue():
    return SchedulingQueue(events_to_register=Profile().events_to_register())


def pop_names(q):
    out = []
    while (x := q.pop()) is not None:
        out.append(x.pod_info.name)
    return out


def test_active_queue_orders_by_priority_then_arrival():
    q = queue()
    q.add(make_pod("low-1", priority=1), now=0)
    q.add(make_pod("high", priority=10), now=1)
    q.add(make_pod("low-2", priority=1), now=0)  # same timestamp: arrival order
    q.add(make_pod("mid", priority=5), now=0.5)
    assert pop_names(q) == ["high", "mid", "low-1", "low-2"]
    assert q.scheduling_cycle == 4


@pytest.mark.parametrize("attempts,want", [(0, 0), (1, 1), (2, 2), (3, 4), (4, 8), (5, 10),
                                           (9, 10)])
def test_backoff_doubles_per_attempt_up_to_ten_seconds(attempts, want):
    q = queue()
    q.add(make_pod("p"), now=0)
    item = q.pop()
    item.attempts = attempts
    assert q.backoff_duration(item) == want


def test_failed_pod_waits_for_an_event_then_backs_off():
    q = queue()
    q.add(make_pod("p", cpu="1"), now=0)
    item = q.pop()
    assert q.add_unschedulable(item, q.scheduling_cycle, now=10,
                               unschedulable_plugins={"NodeResourcesFit"}) == "unschedulable"
    # a node taint update is an event NodeResourcesFit registered for
    assert q.move_all_to_active_or_backoff(
        node_update_event(make_node("n"), make_node("n", unschedulable=True)), now=10.2) == 1
    assert q.where(item.pod_info) == "backoff"  # UpdateNodeTaint is registered by Fit
    q2 = queue()
    q2.add(make_pod("p", cpu="1"), now=0)
    it = q2.pop()
    q2.add_unschedulable(it, q2.scheduling_cycle, now=10,
                         unschedulable_plugins={"NodeAffinity"})
    assert q2.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, now=10.5) == 0
    assert q2.move_all_to_active_or_backoff(NODE_ADD, now=10.5) == 1
    assert q2.where(it.pod_info) == "backoff"  # 1 s back-off from t=10
    assert q2.pop() is None
    assert q2.next_wakeup() == 11
    assert q2.flush(now=10.9) == 0 and q2.flush(now=11) == 1
    assert q2.pop().attempts == 2


def test_event_during_the_cycle_sends_the_pod_to_backoff():
    q = queue()
    q.add(make_pod("p"), now=0)
    item = q.pop()
    q.move_all_to_active_or_backoff(NODE_ADD, now=0.1)  # arrives mid-cycle
    assert q.add_unschedulable(item, q.scheduling_cycle, now=0.2,
                               unschedulable_plugins={"NodeResourcesFit"}) == "backoff"


def test_error_without_rejecting_plugins_requeues_at_once():
    q = queue()
    q.add(make_pod("p"), now=0)
    item = q.pop()
    assert q.add_unschedulable(item, q.scheduling_cycle, now=5, unschedulable_plugins=()) == (
        "backoff")


def test_unschedulable_pods_are_flushed_after_five_minutes():
    q = queue()
    q.add(make_pod("p"), now=0)
    item = q.pop()
    q.add_unschedulable(item, q.scheduling_cycle, now=0, unschedulable_plugins={"NodeAffinity"})
    assert q.flush(now=300) == 0
    assert q.flush(now=300.5) == 1 and q.where(item.pod_info) == "active"


def test_update_of_an_unschedulable_pod_requeues_only_on_spec_change():
    q = queue()
    old = make_pod("p", labels={"a": "1"})
    q.add(old, now=0)
    item = q.pop()
    q.add_unschedulable(item, q.scheduling_cycle, now=0, unschedulable_plugins={"NodeAffinity"})
    status_only = {**old, "status": {"phase": "Pending"},
                   "metadata": {**old["metadata"], "resourceVersion": "9"}}
    q.update(old, status_only, now=5)
    assert q.where(item.pod_info) == "unschedulable"
    relabelled = make_pod("p", labels={"a": "2"})
    q.update(status_only, relabelled, now=5)
    assert q.where(item.pod_info) == "active"  # back-off (1 s from t=0) is over
    assert q.pop().pod_info.labels == {"a": "2"}


def test_update_in_active_queue_reorders():
    q = queue()
    q.add(make_pod("a", priority=1), now=0)
    q.add(make_pod("b", priority=2), now=0)
    q.update(make_pod("a", priority=1), make_pod("a", priority=3), now=0)
    assert pop_names(q) == ["a", "b"]


def test_delete_and_activate_and_pending_pods():
    q = queue()
    for n in "abc":
        q.add(make_pod(n), now=0)
    q.delete(make_pod("b"))
    first = q.pop()
    q.add_unschedulable(first, q.scheduling_cycle, now=0, unschedulable_plugins={"X"})
    pods, summary = q.pending_pods()
    assert sorted(p["metadata"]["name"] for p in pods) == ["a", "c"]
    assert summary == "activeQ:1; backoffQ:0; unschedulablePods:1"
    q.activate([first.pod_info], now=0)
    assert pop_names(q) == ["a", "c"]
    assert len(q) == 0


def test_scheduling_gates_keep_pods_out_of_active():
    q = queue()
    gated = make_pod("g", gates=["example.com/wait"])
    q.add(gated, now=0)
    assert q.pop() is None and q.where(pi(gated)) == "unschedulable"
    assert q.move_all_to_active_or_backoff(UNSCHEDULABLE_TIMEOUT, now=1) == 0
    assert q.flush(now=1000) == 0
    q.update(gated, make_pod("g"), now=2)
    assert q.pop().pod_info.name == "g"


def test_nominated_pods():
    q = queue()
    p = pi(make_pod("p"))
    q.add_nominated_pod(p, "n1")
    assert q.nominated_pods() == {"n1": [p]}
    q.delete(make_pod("p"))
    assert q.nominated_pods() == {}


def test_plugins_without_registered_events_are_woken_by_any_event():
    q = queue()
    q.add(make_pod("p"), now=0)
    item = q.pop()
    q.add_unschedulable(item, q.scheduling_cycle, now=0, unschedulable_plugins={"MyPlugin"})
    assert q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, now=5) == 1
    assert q.where(item.pod_info) == "active"
