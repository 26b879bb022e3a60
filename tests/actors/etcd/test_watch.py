"""WatchHub: replay, live delivery, compaction, filters, progress, cancel and batching."""

from __future__ import annotations

import pytest

from actors.etcd._kv_messages import (
    Event,
    WatchCreateRequest,
    WatchIdExistsError,
    WatchNotFoundError,
    WatchResponse,
    prefix_end,
)
from actors.etcd._mvcc import MVCCStore
from actors.etcd._watch import WatchHub


def put(store: MVCCStore, hub: WatchHub, key: bytes, value: bytes = b"v") -> None:
    store.put(key, value)
    hub.sync()


def delete(store: MVCCStore, hub: WatchHub, key: bytes, end: bytes = b"") -> None:
    store.delete_range(key, end)
    hub.sync()


def events_of(responses: list[tuple[int, WatchResponse]], watch_id: int) -> list[Event]:
    return [e for wid, r in responses if wid == watch_id for e in r.events]


def brief(events: list[Event]) -> list[tuple[str, bytes, int]]:
    return [(e.type, e.kv.key, e.kv.mod_revision) for e in events]


@pytest.fixture
def store() -> MVCCStore:
    return MVCCStore()


@pytest.fixture
def hub(store: MVCCStore) -> WatchHub:
    return WatchHub(store)


def test_created_response_comes_first_and_start_zero_means_future_only(store, hub) -> None:
    put(store, hub, b"a")
    wid = hub.watch(b"a")
    put(store, hub, b"a", b"2")
    put(store, hub, b"b")
    responses = hub.drain()
    assert responses[0] == (wid, responses[0][1]) and responses[0][1].created
    assert responses[0][1].header.revision == 2
    assert brief(events_of(responses, wid)) == [("put", b"a", 3)]
    assert hub.drain() == []


def test_watch_from_an_old_revision_replays_history_then_goes_live(store, hub) -> None:
    put(store, hub, b"a", b"1")  # 2
    put(store, hub, b"b", b"1")  # 3
    delete(store, hub, b"a")  # 4
    wid = hub.watch(b"\0", b"\0", start_revision=3)
    put(store, hub, b"c")  # 5
    got = events_of(hub.drain(), wid)
    assert brief(got) == [("put", b"b", 3), ("delete", b"a", 4), ("put", b"c", 5)]
    assert all(e.prev_kv is None for e in got)  # prev_kv only when asked for


def test_prev_kv_on_put_and_delete_events(store, hub) -> None:
    put(store, hub, b"a", b"1")
    hub.watch(b"a", prev_kv=True, start_revision=2)
    put(store, hub, b"a", b"2")
    delete(store, hub, b"a")
    created, first, second, third = (r for _, r in hub.drain())
    assert created.created and first.events[0].prev_kv is None
    assert second.events[0].prev_kv.value == b"1"
    assert third.events[0].type == "delete" and third.events[0].prev_kv.value == b"2"


def test_watch_from_a_compacted_revision_is_canceled_with_the_compact_revision(store, hub) -> None:
    for i in range(5):
        put(store, hub, b"a", b"%d" % i)  # revisions 2..6
    store.compact(5)
    wid = hub.watch(b"a", start_revision=4)
    created, canceled = (r for _, r in hub.drain())
    assert created.created and canceled.canceled and canceled.compact_revision == 5
    assert canceled.cancel_reason == "mvcc: required revision has been compacted"
    assert wid not in hub
    # etcd accepts a start at exactly the compaction revision; nothing there is lost.
    ok = hub.watch(b"a", start_revision=5)
    assert [e.kv.mod_revision for e in events_of(hub.drain(), ok)] == [5, 6]


def test_filters_drop_puts_or_deletes(store, hub) -> None:
    no_put = hub.watch(b"a", filters=("noput",))
    no_delete = hub.create(WatchCreateRequest(b"a", filters=("nodelete",)))
    put(store, hub, b"a")
    delete(store, hub, b"a")
    responses = hub.drain()
    assert brief(events_of(responses, no_put)) == [("delete", b"a", 3)]
    assert brief(events_of(responses, no_delete)) == [("put", b"a", 2)]


def test_range_and_prefix_watchers_see_only_their_keys(store, hub) -> None:
    pods = hub.watch(b"/pods/", prefix_end(b"/pods/"))
    exact = hub.watch(b"/pods/a")
    for key in (b"/pods/a", b"/pods/b", b"/nodes/x", b"/pods0"):
        put(store, hub, key)
    responses = hub.drain()
    assert [e.kv.key for e in events_of(responses, pods)] == [b"/pods/a", b"/pods/b"]
    assert [e.kv.key for e in events_of(responses, exact)] == [b"/pods/a"]


def test_progress_notification_follows_delivered_events(store, hub) -> None:
    wid = hub.watch(b"a", progress_notify=True)
    put(store, hub, b"zzz")
    put(store, hub, b"a")
    hub.progress()
    responses = [r for _, r in hub.drain()]
    assert responses[-1].is_progress_notify and responses[-1].header.revision == 3
    assert responses[-2].events[0].kv.mod_revision == 3
    assert hub.progress_notify_ids() == [wid]
    hub.progress([999])  # unknown ids are ignored
    assert hub.drain() == []


def test_cancel_stops_delivery(store, hub) -> None:
    wid = hub.watch(b"a")
    hub.cancel(wid, reason="client asked")
    put(store, hub, b"a")
    created, canceled = (r for _, r in hub.drain())
    assert canceled.canceled and canceled.cancel_reason == "client asked"
    with pytest.raises(WatchNotFoundError):
        hub.cancel(wid)


def test_explicit_and_automatic_watch_ids(hub) -> None:
    assert hub.watch(b"a", watch_id=2) == 2
    with pytest.raises(WatchIdExistsError):
        hub.watch(b"a", watch_id=2)
    assert [hub.watch(b"a") for _ in range(3)] == [1, 3, 4]
    hub.cancel_all([1, 3])
    assert hub.watch_ids() == [2, 4]


def test_a_transactions_events_are_never_split(store) -> None:
    hub = WatchHub(store, max_events_per_response=2)
    wid = hub.watch(b"\0", b"\0")
    with store.write() as txn:
        for key in (b"a", b"b", b"c"):
            txn.put(key, b"1")
    put(store, hub, b"d")  # the sync sees revisions 2 (three events) and 3
    responses = [r for _, r in hub.drain()][1:]
    assert [brief(list(r.events)) for r in responses] == [
        [("put", b"a", 2), ("put", b"b", 2), ("put", b"c", 2)],
        [("put", b"d", 3)],
    ]
    assert [r.header.revision for r in responses] == [2, 3]
    assert wid == 1


def test_replay_is_batched_by_revision(store) -> None:
    hub = WatchHub(store, max_events_per_response=2)
    for key in (b"a", b"b", b"c", b"d", b"e"):
        put(store, hub, key)  # revisions 2..6
    wid = hub.watch(b"\0", b"\0", start_revision=2)
    responses = [r for w, r in hub.drain() if w == wid and r.events]
    assert [[e.kv.mod_revision for e in r.events] for r in responses] == [[2, 3], [4, 5], [6]]
    assert [r.header.revision for r in responses] == [3, 5, 6]


def test_future_start_revision_skips_earlier_changes(store, hub) -> None:
    wid = hub.watch(b"a", start_revision=4)
    for i in range(4):
        put(store, hub, b"a", b"%d" % i)  # revisions 2..5
    assert [e.kv.mod_revision for e in events_of(hub.drain(), wid)] == [4, 5]


def test_resuming_from_last_revision_plus_one_has_no_gap(store, hub) -> None:
    first = hub.watch(b"a")
    put(store, hub, b"a", b"1")
    last = events_of(hub.drain(), first)[-1].kv.mod_revision
    hub.cancel(first)
    put(store, hub, b"a", b"2")  # happens while no watch is open
    second = hub.watch(b"a", start_revision=last + 1)
    put(store, hub, b"a", b"3")
    assert [e.kv.value for e in events_of(hub.drain(), second)] == [b"2", b"3"]


def test_sync_is_idempotent_and_catches_up_on_batched_writes(store, hub) -> None:
    wid = hub.watch(b"\0", b"\0")
    store.put(b"a", b"1")
    store.put(b"b", b"1")
    assert hub.sync() == [wid]
    assert hub.sync() == []
    assert [e.kv.key for e in events_of(hub.drain(), wid)] == [b"a", b"b"]
    assert hub.delivered_revision == 3


def test_watchers_behind_a_restored_compaction_are_canceled(store, hub) -> None:
    old = hub.watch(b"a", start_revision=2)
    future = hub.watch(b"a", start_revision=6)
    newer = MVCCStore()
    for i in range(6):
        newer.put(b"a", b"%d" % i)  # revisions 2..7
    newer.compact(5)
    store.load(newer.dump())  # what a restore from a newer snapshot does
    assert hub.sync() == [old, future]
    responses = hub.drain()
    assert [r.compact_revision for w, r in responses if w == old and r.canceled] == [5]
    assert [e.kv.mod_revision for e in events_of(responses, future)] == [6, 7]
    assert hub.watch_ids() == [future]
