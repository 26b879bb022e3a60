"""MVCCStore: etcd's revision, version and compaction semantics, one edge case per test."""

from __future__ import annotations

import random

import pytest

from actors.etcd._kv_messages import (
    CompactedError,
    DuplicateKeyError,
    FutureRevisionError,
    KeyValue,
    in_range,
    prefix_end,
    range_bounds,
)
from actors.etcd._mvcc import MVCCStore, _SortedKeys


def keys_of(result) -> list[bytes]:
    return [kv.key for kv in result.kvs]


@pytest.fixture
def store() -> MVCCStore:
    return MVCCStore()


# ----------------------------------------------------------------------------- key ranges


@pytest.mark.parametrize(
    ("prefix", "end"),
    [(b"a", b"b"), (b"/registry/pods/", b"/registry/pods0"), (b"a\xff", b"b"),
     (b"a\xff\xff", b"b"), (b"\xff", b"\0"), (b"\xff\xff", b"\0"), (b"", b"\0")],
)  # fmt: skip
def test_prefix_end_increments_last_byte_below_0xff(prefix: bytes, end: bytes) -> None:
    assert prefix_end(prefix) == end


def test_range_bounds_follow_etcd_conventions() -> None:
    assert range_bounds(b"k") == (b"k", b"k\0")  # empty range_end: the single key
    assert range_bounds(b"k", b"\0") == (b"k", None)  # "\0": every key >= key
    assert range_bounds(b"a", b"c") == (b"a", b"c")
    assert in_range(b"k", b"k") and not in_range(b"k\0", b"k")
    assert in_range(b"zzz", b"k", b"\0") and not in_range(b"j", b"k", b"\0")
    assert in_range(b"b", b"a", b"c") and not in_range(b"c", b"a", b"c")


# ----------------------------------------------------------------------------- revisions


def test_initial_revision_is_one_and_store_is_empty(store: MVCCStore) -> None:
    assert store.revision == 1
    assert store.compact_revision == 0
    result = store.range(b"\0", b"\0")
    assert result.kvs == () and result.count == 0 and result.revision == 1


def test_put_creates_then_updates(store: MVCCStore) -> None:
    created = store.put(b"k", b"v1")
    assert created.type == "put" and created.prev_kv is None
    assert created.kv == KeyValue(b"k", 2, 2, 1, b"v1")
    updated = store.put(b"k", b"v2", lease=7)
    assert updated.kv == KeyValue(b"k", 2, 3, 2, b"v2", 7)
    assert updated.prev_kv == created.kv
    assert store.revision == 3


def test_delete_resets_version_and_recreate_starts_a_new_generation(store: MVCCStore) -> None:
    store.put(b"k", b"v1")
    store.put(b"k", b"v2")
    [deleted] = store.delete_range(b"k")
    assert deleted.type == "delete"
    assert deleted.kv == KeyValue(b"k", 0, 4, 0)  # a tombstone: key and revision only
    assert deleted.prev_kv is not None and deleted.prev_kv.version == 2
    assert store.get(b"k") is None
    recreated = store.put(b"k", b"v3")
    assert recreated.kv == KeyValue(b"k", 5, 5, 1, b"v3")
    assert recreated.prev_kv is None


def test_deleting_a_missing_key_takes_no_revision(store: MVCCStore) -> None:
    store.put(b"a", b"1")
    assert store.delete_range(b"b") == []
    assert store.delete_range(b"x", b"z") == []
    assert store.revision == 2


def test_one_revision_per_write_transaction(store: MVCCStore) -> None:
    with store.write() as txn:
        txn.put(b"a", b"1")
        txn.put(b"b", b"2")
        txn.delete_range(b"zzz")
    assert store.revision == 2
    assert [e.kv.key for e in txn.events] == [b"a", b"b"]
    assert all(e.kv.mod_revision == 2 for e in txn.events)


def test_a_transaction_without_changes_takes_no_revision(store: MVCCStore) -> None:
    store.put(b"a", b"1")
    with store.write() as txn:
        txn.range(b"a")
        txn.delete_range(b"missing")
    assert store.revision == 2 and txn.events == ()


def test_reads_in_a_transaction_see_its_own_writes(store: MVCCStore) -> None:
    store.put(b"a", b"1")
    with store.write() as txn:
        txn.put(b"b", b"2")
        txn.delete_range(b"a")
        assert keys_of(txn.range(b"\0", b"\0")) == [b"b"]
        # An explicit read at the committed revision does not see the pending writes.
        assert keys_of(txn.range(b"\0", b"\0", revision=2)) == [b"a"]
        with pytest.raises(FutureRevisionError):
            txn.range(b"a", revision=3)


def test_a_key_changes_at_most_once_per_revision(store: MVCCStore) -> None:
    store.put(b"a", b"0")
    with pytest.raises(DuplicateKeyError), store.write() as txn:
        txn.put(b"b", b"1")
        txn.put(b"b", b"2")
    with pytest.raises(DuplicateKeyError), store.write() as txn:
        txn.put(b"a", b"1")
        txn.delete_range(b"a")
    assert store.revision == 2 and keys_of(store.range(b"\0", b"\0")) == [b"a"]


def test_abort_undoes_every_change(store: MVCCStore) -> None:
    store.put(b"a", b"1")
    store.put(b"b", b"1")
    before = store.dump()
    size = store.db_size()
    txn = store.write()
    txn.put(b"a", b"2")
    txn.put(b"new", b"x")
    txn.delete_range(b"b")
    txn.abort()
    assert store.dump() == before and store.db_size() == size
    assert keys_of(store.range(b"\0", b"\0")) == [b"a", b"b"]
    assert store.put(b"c", b"1").kv.mod_revision == 4


def test_store_refuses_outside_reads_while_a_transaction_is_open(store: MVCCStore) -> None:
    txn = store.write()
    with pytest.raises(RuntimeError):
        store.range(b"a")
    with pytest.raises(RuntimeError):
        store.write()
    txn.commit()
    with pytest.raises(RuntimeError):
        txn.put(b"a", b"1")


# ----------------------------------------------------------------------------- ranges


def test_range_selects_single_key_prefix_from_key_and_all(store: MVCCStore) -> None:
    for key in (b"a", b"ab", b"abc", b"b", b"c"):
        store.put(key, key)
    assert keys_of(store.range(b"ab")) == [b"ab"]
    assert keys_of(store.range(b"ab", prefix_end(b"ab"))) == [b"ab", b"abc"]
    assert keys_of(store.range(b"b", b"\0")) == [b"b", b"c"]
    assert keys_of(store.range(b"\0", b"\0")) == [b"a", b"ab", b"abc", b"b", b"c"]
    assert keys_of(store.range(b"c", b"a")) == []  # range_end below key: nothing


def test_range_limit_and_count(store: MVCCStore) -> None:
    for i in range(10):
        store.put(b"k%d" % i, b"v")
    head = store.range(b"k", prefix_end(b"k"), limit=3)
    assert keys_of(head) == [b"k0", b"k1", b"k2"] and head.count == 10
    historic = store.range(b"k", prefix_end(b"k"), revision=6, limit=2)
    assert keys_of(historic) == [b"k0", b"k1"] and historic.count == 5
    counted = store.range(b"k", prefix_end(b"k"), count_only=True)
    assert counted.kvs == () and counted.count == 10
    assert store.range(b"k", prefix_end(b"k"), revision=4, count_only=True).count == 3


def test_range_at_historic_revisions(store: MVCCStore) -> None:
    store.put(b"a", b"1")  # 2
    store.put(b"a", b"2")  # 3
    store.delete_range(b"a")  # 4
    store.put(b"a", b"3")  # 5
    assert store.range(b"a", revision=1).kvs == ()
    assert [kv.value for kv in store.range(b"a", revision=2).kvs] == [b"1"]
    assert [kv.value for kv in store.range(b"a", revision=3).kvs] == [b"2"]
    assert store.range(b"a", revision=4).kvs == ()
    assert store.get(b"a", revision=5) == KeyValue(b"a", 5, 5, 1, b"3")
    with pytest.raises(FutureRevisionError):
        store.range(b"a", revision=6)


# ----------------------------------------------------------------------------- compaction


def test_compaction_keeps_each_live_keys_latest_version(store: MVCCStore) -> None:
    store.put(b"a", b"1")  # 2
    store.put(b"a", b"2")  # 3
    store.put(b"gone", b"x")  # 4
    store.delete_range(b"gone")  # 5
    store.put(b"b", b"1")  # 6
    store.compact(5)
    assert store.compact_revision == 5
    with pytest.raises(CompactedError) as raised:
        store.range(b"a", revision=4)
    assert raised.value.compact_revision == 5
    assert str(raised.value) == "mvcc: required revision has been compacted"
    # Reads at the compaction revision and later stay exact.
    assert keys_of(store.range(b"\0", b"\0", revision=5)) == [b"a"]
    assert store.get(b"a", revision=5) == KeyValue(b"a", 2, 3, 2, b"2")
    assert keys_of(store.range(b"\0", b"\0")) == [b"a", b"b"]
    assert store.revision == 6  # compaction never moves the revision


def test_compaction_revision_checks(store: MVCCStore) -> None:
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    with pytest.raises(FutureRevisionError):
        store.compact(4)
    store.compact(2)
    with pytest.raises(CompactedError):
        store.compact(2)
    with pytest.raises(CompactedError):
        store.compact(1)
    store.compact(3)  # the current revision may be compacted


def test_compaction_drops_fully_deleted_keys_and_shrinks_db_size(store: MVCCStore) -> None:
    for i in range(20):
        store.put(b"k%d" % i, b"x" * 100)
    store.delete_range(b"k", prefix_end(b"k"))
    store.put(b"z", b"1")
    big = store.db_size()
    store.compact(store.revision)
    assert store.db_size() < big / 10
    assert len(store._index) == 1 and len(store._all) == 1  # only b"z" keeps any history


def test_events_replay_in_order_with_prev_kv(store: MVCCStore) -> None:
    store.put(b"a", b"1")  # 2
    with store.write() as txn:  # 3
        txn.put(b"b", b"1")
        txn.put(b"a", b"2")
    store.delete_range(b"a")  # 4
    events = list(store.events(3))
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in events] == [
        ("put", b"b", 3), ("put", b"a", 3), ("delete", b"a", 4),
    ]  # fmt: skip
    assert events[1].prev_kv == KeyValue(b"a", 2, 2, 1, b"1")
    assert events[2].prev_kv == events[1].kv
    assert [e.kv.key for e in store.events(1, b"b")] == [b"b"]


def test_events_from_the_compaction_revision_keep_its_delete(store: MVCCStore) -> None:
    # etcd#19179: a watch opened at the compaction revision missed a delete at that revision.
    store.put(b"a", b"1")  # 2
    store.delete_range(b"a")  # 3
    store.compact(3)
    [event] = store.events(3)
    assert event.type == "delete" and event.prev_kv == KeyValue(b"a", 2, 2, 1, b"1")
    with pytest.raises(CompactedError):
        store.events(2)


def test_dump_and_load_round_trip(store: MVCCStore) -> None:
    for i in range(30):
        store.put(b"k%d" % (i % 7), b"%d" % i)
        if i % 5 == 0:
            store.delete_range(b"k%d" % (i % 3))
    store.compact(20)
    state = store.dump()
    copy = MVCCStore()
    copy.load(state)
    assert copy.dump() == state
    assert copy.db_size() == store.db_size()
    for rev in range(20, store.revision + 1):
        assert copy.range(b"\0", b"\0", revision=rev) == store.range(b"\0", b"\0", revision=rev)
    assert list(copy.events(20)) == list(store.events(20))
    assert copy.put(b"n", b"1") == store.put(b"n", b"1")


# ----------------------------------------------------------------------------- sorted keys


def test_sorted_keys_match_a_sorted_list_through_chunk_splits() -> None:
    rng = random.Random(7)
    index, model = _SortedKeys(), set()
    for _ in range(6000):
        key = b"%05d" % rng.randrange(3000)
        if key in model and rng.random() < 0.4:
            index.remove(key)
            model.discard(key)
        elif key not in model:
            index.add(key)
            model.add(key)
    ordered = sorted(model)
    assert list(index.irange(b"", None)) == ordered and len(index) == len(ordered)
    assert len(index._chunks) > 2  # the split path was exercised
    for _ in range(200):
        low, high = sorted((b"%05d" % rng.randrange(3100), b"%05d" % rng.randrange(3100)))
        expected = [k for k in ordered if low <= k < high]
        assert list(index.irange(low, high)) == expected
        assert index.count(low, high) == len(expected)
        assert (low in index) == (low in model)
    assert index.count(b"01000", None) == len([k for k in ordered if k >= b"01000"])
