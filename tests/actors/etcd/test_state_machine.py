"""KVStateMachine: etcd's request semantics, errors as responses, leases, snapshots."""

from __future__ import annotations

import itertools

import msgspec
import pytest

from actors.etcd._kv_messages import (
    CompactedError,
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    ErrorResponse,
    FutureRevisionError,
    KeyValue,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseNotFoundError,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    error_from_response,
    prefix_end,
)
from actors.etcd._state_machine import KVStateMachine

ALL = (b"\0", b"\0")


class Driver:
    """Applies requests at consecutive indexes, like the member's apply loop."""

    def __init__(self, sm: KVStateMachine | None = None) -> None:
        self.sm = sm or KVStateMachine()
        self.index = itertools.count(self.sm.applied_index + 1)
        self.now = 0.0

    def __call__(self, request):
        return self.sm.apply(next(self.index), request, self.now)

    def keys(self, *, revision: int = 0) -> list[bytes]:
        return [kv.key for kv in self(RangeRequest(*ALL, revision=revision)).kvs]


@pytest.fixture
def do() -> Driver:
    return Driver()


def error_code(response) -> str:
    assert isinstance(response, ErrorResponse), response
    return response.code


# ----------------------------------------------------------------------------- put / delete


def test_put_returns_prev_kv_only_when_asked(do: Driver) -> None:
    first = do(PutRequest(b"a", b"1", prev_kv=True))
    assert first.header.revision == 2 and first.prev_kv is None
    assert do(PutRequest(b"a", b"2")).prev_kv is None
    third = do(PutRequest(b"a", b"3", prev_kv=True))
    assert third.prev_kv == KeyValue(b"a", 2, 3, 2, b"2")


def test_delete_of_a_missing_key_deletes_nothing_and_keeps_the_revision(do: Driver) -> None:
    do(PutRequest(b"a", b"1"))
    response = do(DeleteRangeRequest(b"b", prev_kv=True))
    assert response.deleted == 0 and response.prev_kvs == () and response.header.revision == 2
    ranged = do(DeleteRangeRequest(b"a", b"\0", prev_kv=True))
    assert ranged.deleted == 1 and ranged.prev_kvs[0].value == b"1"
    assert ranged.header.revision == 3


def test_recreated_key_gets_version_one_and_a_new_create_revision(do: Driver) -> None:
    do(PutRequest(b"a", b"1"))
    do(PutRequest(b"a", b"2"))
    do(DeleteRangeRequest(b"a"))
    do(PutRequest(b"a", b"3"))
    [kv] = do(RangeRequest(b"a")).kvs
    assert (kv.create_revision, kv.mod_revision, kv.version) == (5, 5, 1)


def test_ignore_value_and_ignore_lease(do: Driver) -> None:
    lease = do(LeaseGrantRequest(ttl=10)).id
    do(PutRequest(b"a", b"1", lease=lease))
    do(PutRequest(b"a", b"", ignore_value=True))
    [kv] = do(RangeRequest(b"a")).kvs
    assert kv.value == b"1" and kv.lease == 0  # lease 0 in the request detaches
    do(PutRequest(b"a", b"2", lease=lease))
    do(PutRequest(b"a", b"3", ignore_lease=True))
    [kv] = do(RangeRequest(b"a")).kvs
    assert kv.value == b"3" and kv.lease == lease
    assert error_code(do(PutRequest(b"zz", b"", ignore_value=True))) == "key_not_found"
    assert error_code(do(PutRequest(b"a", b"x", ignore_value=True))) == "value_provided"
    assert error_code(do(PutRequest(b"a", b"", lease=1, ignore_lease=True))) == "lease_provided"


def test_put_with_an_unknown_lease_is_refused(do: Driver) -> None:
    response = do(PutRequest(b"a", b"1", lease=77))
    assert error_code(response) == "lease_not_found"
    assert response.message == "etcdserver: requested lease not found"
    assert isinstance(error_from_response(response), LeaseNotFoundError)
    assert do.sm.revision == 1


def test_empty_keys_are_refused(do: Driver) -> None:
    for request in (PutRequest(b"", b"1"), RangeRequest(b""), DeleteRangeRequest(b""),
                    TxnRequest(compare=(Compare(b"", "version", "equal"),))):  # fmt: skip
        response = do(request)
        assert error_code(response) == "empty_key"
        assert response.message == "etcdserver: key is not provided"


# ----------------------------------------------------------------------------- range


def test_range_limit_sets_more_and_count(do: Driver) -> None:
    for i in range(5):
        do(PutRequest(b"k%d" % i, b"v"))
    response = do(RangeRequest(b"k", prefix_end(b"k"), limit=2))
    assert [kv.key for kv in response.kvs] == [b"k0", b"k1"]
    assert response.more and response.count == 5
    exact = do(RangeRequest(b"k", prefix_end(b"k"), limit=5))
    assert not exact.more and exact.count == 5


@pytest.mark.parametrize(
    ("order", "target", "expected"),
    [
        ("none", "key", [b"a", b"b", b"c"]),
        ("ascend", "key", [b"a", b"b", b"c"]),
        ("descend", "key", [b"c", b"b", b"a"]),
        ("none", "value", [b"c", b"a", b"b"]),  # another target without an order: ascend
        ("ascend", "mod", [b"b", b"c", b"a"]),
        ("descend", "mod", [b"a", b"c", b"b"]),
        ("descend", "create", [b"c", b"b", b"a"]),
        ("descend", "version", [b"a", b"b", b"c"]),  # ties keep key order
    ],
)
def test_sort_orders_and_targets(do: Driver, order, target, expected) -> None:
    do(PutRequest(b"a", b"2"))  # 2
    do(PutRequest(b"b", b"3"))  # 3
    do(PutRequest(b"c", b"1"))  # 4
    do(PutRequest(b"a", b"2"))  # 5: a has version 2
    response = do(RangeRequest(*ALL, sort_order=order, sort_target=target))
    assert [kv.key for kv in response.kvs] == expected


def test_sort_applies_before_limit(do: Driver) -> None:
    for key in (b"a", b"b", b"c"):
        do(PutRequest(key, b"v"))
    response = do(RangeRequest(*ALL, limit=2, sort_order="descend"))
    assert [kv.key for kv in response.kvs] == [b"c", b"b"] and response.more


def test_count_only_and_keys_only(do: Driver) -> None:
    for key in (b"a", b"b"):
        do(PutRequest(key, b"value"))
    counted = do(RangeRequest(*ALL, count_only=True, limit=1))
    assert counted.kvs == () and counted.count == 2 and not counted.more
    keys = do(RangeRequest(*ALL, keys_only=True))
    assert [(kv.key, kv.value, kv.version) for kv in keys.kvs] == [(b"a", b"", 1), (b"b", b"", 1)]


def test_range_at_compacted_and_future_revisions(do: Driver) -> None:
    for i in range(4):
        do(PutRequest(b"a", b"%d" % i))  # revisions 2..5
    assert do(CompactionRequest(4)).header.revision == 5
    compacted = do(RangeRequest(b"a", revision=3))
    assert error_code(compacted) == "compacted" and compacted.compact_revision == 4
    assert compacted.message == "mvcc: required revision has been compacted"
    raised = error_from_response(compacted)
    assert isinstance(raised, CompactedError) and raised.compact_revision == 4
    assert do(RangeRequest(b"a", revision=4)).kvs[0].value == b"2"
    future = do(RangeRequest(b"a", revision=6))
    assert future.message == "mvcc: required revision is a future revision"
    assert isinstance(error_from_response(future), FutureRevisionError)
    assert error_code(do(CompactionRequest(4))) == "compacted"
    assert error_code(do(CompactionRequest(9))) == "future_revision"


# ----------------------------------------------------------------------------- txn


def test_read_only_txn_does_not_take_a_revision(do: Driver) -> None:
    do(PutRequest(b"a", b"1"))
    response = do(TxnRequest(success=(RangeRequest(b"a"), DeleteRangeRequest(b"missing"))))
    assert response.succeeded and response.header.revision == 2 and do.sm.revision == 2


def test_txn_writes_share_one_revision_and_reads_see_earlier_writes(do: Driver) -> None:
    response = do(
        TxnRequest(success=(PutRequest(b"a", b"1"), PutRequest(b"b", b"1"), RangeRequest(*ALL)))
    )
    assert response.header.revision == 2
    assert [kv.mod_revision for kv in response.responses[2].kvs] == [2, 2]
    assert all(r.header.revision == 2 for r in response.responses)


def test_compare_on_a_missing_key(do: Driver) -> None:
    create_if_missing = TxnRequest(
        compare=(Compare(b"a", "mod", "equal", mod_revision=0),),
        success=(PutRequest(b"a", b"created"),),
        failure=(RangeRequest(b"a"),),
    )
    first = do(create_if_missing)
    assert first.succeeded and first.header.revision == 2
    second = do(create_if_missing)
    assert not second.succeeded and second.responses[0].kvs[0].value == b"created"
    # A value comparison on a missing key is always false, even against b"".
    assert not do(TxnRequest(compare=(Compare(b"zz", "value", "equal", value=b""),))).succeeded
    assert do(TxnRequest(compare=(Compare(b"zz", "version", "equal", version=0),))).succeeded


@pytest.mark.parametrize(
    ("compare", "expected"),
    [
        (Compare(b"a", "value", "equal", value=b"5"), True),
        (Compare(b"a", "value", "greater", value=b"4"), True),
        (Compare(b"a", "value", "less", value=b"4"), False),
        (Compare(b"a", "version", "equal", version=2), True),
        (Compare(b"a", "create", "equal", create_revision=2), True),
        (Compare(b"a", "mod", "greater", mod_revision=2), True),
        (Compare(b"a", "mod", "not_equal", mod_revision=3), False),
        (Compare(b"a", "lease", "equal", lease=0), True),
        # A range compare must hold for every key in it: a=5, b=1.
        (Compare(b"a", "value", "greater", value=b"0", range_end=b"c"), True),
        (Compare(b"a", "value", "greater", value=b"3", range_end=b"c"), False),
    ],
)
def test_compare_targets_and_results(do: Driver, compare: Compare, expected: bool) -> None:
    do(PutRequest(b"a", b"1"))  # 2
    do(PutRequest(b"a", b"5"))  # 3
    do(PutRequest(b"b", b"1"))  # 4
    assert do(TxnRequest(compare=(compare,))).succeeded is expected


def test_nested_txn_compares_are_judged_before_any_write(do: Driver) -> None:
    nested = TxnRequest(
        compare=(Compare(b"a", "version", "equal", version=0),),
        success=(PutRequest(b"b", b"saw-no-a"),),
        failure=(PutRequest(b"b", b"saw-a"),),
    )
    response = do(TxnRequest(success=(PutRequest(b"a", b"1"), nested)))
    assert response.responses[1].succeeded  # a did not exist when the Txn began
    assert do(RangeRequest(b"b")).kvs[0].value == b"saw-no-a"


def test_a_refused_op_rolls_the_whole_txn_back(do: Driver) -> None:
    do(PutRequest(b"a", b"1"))
    response = do(TxnRequest(success=(PutRequest(b"a", b"2"), PutRequest(b"b", b"1", lease=9))))
    assert error_code(response) == "lease_not_found"
    assert do.sm.revision == 2 and do.keys() == [b"a"]
    assert error_code(do(TxnRequest(success=(RangeRequest(b"a", revision=99),)))) == (
        "future_revision"
    )


def test_too_many_ops(do: Driver) -> None:
    sm = KVStateMachine(max_txn_ops=3)
    request = TxnRequest(success=tuple(PutRequest(b"k%d" % i, b"") for i in range(4)))
    response = sm.apply(1, request, 0.0)
    assert response.code == "too_many_ops"
    assert response.message == "etcdserver: too many operations in txn request"
    ok = TxnRequest(success=tuple(PutRequest(b"k%d" % i, b"") for i in range(3)))
    assert sm.apply(2, ok, 0.0).succeeded


@pytest.mark.parametrize(
    ("success", "refused"),
    [
        ((PutRequest(b"a", b"1"), PutRequest(b"a", b"2")), True),
        ((DeleteRangeRequest(b"a", b"c"), PutRequest(b"b", b"1")), True),
        ((PutRequest(b"b", b"1"), TxnRequest(success=(PutRequest(b"b", b"2"),))), True),
        ((DeleteRangeRequest(b"b"), TxnRequest(success=(PutRequest(b"b", b"2"),))), True),
        # The branches of a nested Txn exclude each other: the same key in both is fine.
        ((TxnRequest(success=(PutRequest(b"b", b"1"),), failure=(PutRequest(b"b", b"2"),)),), False),
        ((DeleteRangeRequest(b"a"), DeleteRangeRequest(b"a", b"c")), False),
        ((PutRequest(b"a", b"1"), DeleteRangeRequest(b"b", b"c")), False),
    ],
)  # fmt: skip
def test_duplicate_keys_in_a_txn(do: Driver, success, refused: bool) -> None:
    response = do(TxnRequest(success=success))
    if refused:
        assert error_code(response) == "duplicate_key"
        assert response.message == "etcdserver: duplicate key given in txn request"
    else:
        assert response.succeeded


def test_failure_branch_duplicates_are_refused_even_when_success_runs(do: Driver) -> None:
    bad_failure = (PutRequest(b"x", b"1"), PutRequest(b"x", b"2"))
    assert error_code(do(TxnRequest(failure=bad_failure))) == "duplicate_key"


# ----------------------------------------------------------------------------- leases


def test_lease_revoke_deletes_its_keys_in_one_revision(do: Driver) -> None:
    lease = do(LeaseGrantRequest(ttl=60))
    assert (lease.id, lease.ttl, lease.header.revision) == (1, 60, 1)  # grants take no revision
    for key in (b"a", b"b", b"c"):
        do(PutRequest(key, b"v", lease=lease.id if key != b"b" else 0))
    watch = do.sm.watch_hub.watch(*ALL)
    do.sm.watch_hub.drain()
    revoked = do(LeaseRevokeRequest(lease.id))
    assert revoked.header.revision == 5 and do.keys() == [b"b"]
    [(_, response)] = do.sm.watch_hub.drain()
    assert [(e.type, e.kv.key, e.kv.mod_revision) for e in response.events] == [
        ("delete", b"a", 5), ("delete", b"c", 5),
    ]  # fmt: skip
    assert watch == 1
    assert error_code(do(LeaseRevokeRequest(lease.id))) == "lease_not_found"


def test_a_lease_without_keys_revokes_without_a_revision(do: Driver) -> None:
    lease_id = do(LeaseGrantRequest(ttl=5)).id
    assert do(LeaseRevokeRequest(lease_id)).header.revision == 1


def test_overwriting_or_deleting_a_key_detaches_it_from_its_lease(do: Driver) -> None:
    first = do(LeaseGrantRequest(ttl=60)).id
    second = do(LeaseGrantRequest(ttl=60)).id
    do(PutRequest(b"a", b"1", lease=first))
    do(PutRequest(b"b", b"1", lease=first))
    do(PutRequest(b"a", b"2", lease=second))
    do(DeleteRangeRequest(b"b"))
    assert do.sm.lessor.get(first).keys == set()
    assert do.sm.lessor.get(second).keys == {b"a"}
    do(LeaseRevokeRequest(first))
    assert do.keys() == [b"a"]


def test_lease_expiry_is_proposed_by_the_leader_and_revokes_per_lease(do: Driver) -> None:
    do.sm.lessor.promote(0.0)
    a = do(LeaseGrantRequest(ttl=5)).id
    b = do(LeaseGrantRequest(ttl=50)).id
    do(PutRequest(b"x", b"1", lease=a))
    do(PutRequest(b"y", b"1", lease=b))
    do.now = 3.0
    assert do(LeaseKeepAliveRequest(a)).ttl == 5
    assert do.sm.lessor.expired(7.9) == []
    assert do.sm.lessor.expired(8.0) == [a]
    expired = do(LeaseExpireRequest((a, 999, b)))
    assert expired.revoked == (a, b) and expired.header.revision == 5  # one revision each
    assert do.keys() == []
    assert error_code(do(LeaseKeepAliveRequest(a))) == "lease_not_found"


def test_lease_time_to_live_and_leases(do: Driver) -> None:
    do.sm.lessor.promote(0.0)
    lease_id = do(LeaseGrantRequest(ttl=30, id=7)).id
    do(PutRequest(b"k", b"v", lease=lease_id))
    ttl = do.sm.read(LeaseTimeToLiveRequest(lease_id, keys=True), now=10.5)
    assert (ttl.ttl, ttl.granted_ttl, ttl.keys) == (19, 30, (b"k",))
    assert do.sm.read(LeaseTimeToLiveRequest(8)).ttl == -1
    assert do(LeaseLeasesRequest()).leases == (7,)
    assert error_code(do(LeaseGrantRequest(ttl=30, id=7))) == "lease_exists"


# ----------------------------------------------------------------------------- apply / read


def test_entries_at_or_below_the_applied_index_are_skipped() -> None:
    sm = KVStateMachine()
    assert sm.apply(5, PutRequest(b"a", b"1"), 0.0) is not None
    assert sm.apply(5, PutRequest(b"a", b"2"), 0.0) is None
    assert sm.apply(3, PutRequest(b"a", b"3"), 0.0) is None
    assert sm.applied_index == 5 and sm.revision == 2


def test_errors_still_advance_the_applied_index() -> None:
    sm = KVStateMachine(member_id=9)
    sm.raft_term = 4
    response = sm.apply(1, RangeRequest(b"a", revision=5), 0.0)
    assert isinstance(response, ErrorResponse) and sm.applied_index == 1
    assert (response.header.member_id, response.header.raft_term) == (9, 4)


def test_read_serves_reads_without_the_log_and_refuses_writes(do: Driver) -> None:
    do(PutRequest(b"a", b"1"))
    assert do.sm.read(RangeRequest(b"a")).kvs[0].value == b"1"
    assert error_code(do.sm.read(RangeRequest(b"a", revision=9))) == "future_revision"
    with pytest.raises(TypeError):
        do.sm.read(PutRequest(b"a", b"2"))
    assert do.sm.applied_index == 1


def test_requests_and_responses_round_trip_through_msgpack(do: Driver) -> None:
    requests = [
        RangeRequest(b"a", b"z", revision=3, limit=2, sort_order="descend", sort_target="mod"),
        PutRequest(b"a", b"1", lease=0, prev_kv=True),
        DeleteRangeRequest(b"a", b"\0", prev_kv=True),
        TxnRequest(
            compare=(Compare(b"a", "mod", "equal", mod_revision=0),),
            success=(PutRequest(b"a", b"1"), TxnRequest(success=(RangeRequest(b"a"),))),
            failure=(RangeRequest(b"a"),),
        ),
        CompactionRequest(2),
        LeaseGrantRequest(ttl=10, id=3),
        LeaseRevokeRequest(3),
        LeaseKeepAliveRequest(3),
        LeaseExpireRequest((1, 2)),
        LeaseTimeToLiveRequest(3, keys=True),
        LeaseLeasesRequest(),
    ]
    for request in requests:
        data = encode_request(request)
        assert decode_request(data) == request
        response = do(decode_request(data))
        assert decode_response(encode_response(response)) == response
    with pytest.raises(msgspec.ValidationError):
        decode_request(encode_request(RangeRequest(b"a", sort_order="sideways")))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- snapshots


def _workload(do: Driver) -> None:
    lease = do(LeaseGrantRequest(ttl=10)).id
    for i in range(40):
        do.now += 0.25
        do(PutRequest(b"k%d" % (i % 6), b"%d" % i, lease=lease if i % 4 == 0 else 0))
        if i % 7 == 0:
            do(DeleteRangeRequest(b"k%d" % (i % 5)))
        if i == 25:
            do(CompactionRequest(do.sm.revision - 5))
    do(LeaseGrantRequest(ttl=99))


def test_snapshot_restore_round_trip() -> None:
    original = Driver()
    _workload(original)
    data = original.sm.snapshot()
    copy = KVStateMachine()
    copy.restore(data)
    assert copy.snapshot() == data
    assert copy.applied_index == original.sm.applied_index
    assert copy.revision == original.sm.revision
    assert copy.store.compact_revision == original.sm.store.compact_revision
    for rev in range(copy.store.compact_revision, copy.revision + 1):
        read = RangeRequest(*ALL, revision=rev)
        assert copy.read(read) == original.sm.read(read)
    for lease_id in original.sm.lessor.ids():
        assert copy.lessor.get(lease_id).keys == original.sm.lessor.get(lease_id).keys
    assert not copy.lessor.primary
    # Both continue identically.
    resumed = Driver(copy)
    for driver in (original, resumed):
        driver(LeaseRevokeRequest(1))
        driver(PutRequest(b"after", b"1"))
    assert copy.snapshot() == original.sm.snapshot()


def test_identical_requests_give_byte_identical_snapshots_whatever_the_clock() -> None:
    first, second = Driver(), Driver()
    second.sm.lessor.promote(1000.0)  # a leader with a different clock and tracked expiry
    second.now = 1000.0
    _workload(first)
    _workload(second)
    assert first.sm.snapshot() == second.sm.snapshot()


def test_restoring_an_older_snapshot_is_refused() -> None:
    driver = Driver()
    driver(PutRequest(b"a", b"1"))
    old = driver.sm.snapshot()
    driver(PutRequest(b"a", b"2"))
    with pytest.raises(ValueError):
        driver.sm.restore(old)
    driver.sm.restore(driver.sm.snapshot())  # the same index is fine


def test_watchers_survive_a_restore_and_catch_up() -> None:
    follower = Driver()
    follower(PutRequest(b"a", b"1"))
    wid = follower.sm.watch_hub.watch(b"a")
    follower.sm.watch_hub.drain()
    leader = Driver()
    for i in range(5):
        leader(PutRequest(b"a", b"%d" % i))
    follower.sm.restore(leader.sm.snapshot())
    events = [e for w, r in follower.sm.watch_hub.drain() if w == wid for e in r.events]
    assert [e.kv.value for e in events] == [b"1", b"2", b"3", b"4"]  # revisions 3..6
