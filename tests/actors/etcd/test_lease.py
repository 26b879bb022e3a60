"""Lessor: grants, minimum TTL, ids, expiry on the leader only, keep-alive, promote/demote."""

from __future__ import annotations

import pytest

from actors.etcd._kv_messages import (
    MAX_LEASE_TTL,
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
)
from actors.etcd._lease import DEFAULT_MIN_LEASE_TTL, Lessor


@pytest.fixture
def lessor() -> Lessor:
    leader = Lessor()
    leader.promote(0.0)
    return leader


def test_grant_raises_short_ttls_to_the_minimum(lessor: Lessor) -> None:
    assert DEFAULT_MIN_LEASE_TTL == 2  # etcd: ceil(1.5 * 10 ticks * 100 ms)
    assert lessor.grant(0, 1, now=0.0).ttl == 2
    assert lessor.grant(0, 0, now=0.0).ttl == 2
    assert lessor.grant(0, 30, now=0.0).ttl == 30
    assert Lessor(min_ttl=5).grant(0, 3, now=0.0).ttl == 5
    with pytest.raises(ValueError):
        Lessor(min_ttl=0)


def test_grant_ids_come_from_a_counter_that_skips_ids_in_use(lessor: Lessor) -> None:
    assert lessor.grant(2, 10, 0.0).id == 2
    assert [lessor.grant(0, 10, 0.0).id for _ in range(3)] == [1, 3, 4]
    with pytest.raises(LeaseExistsError):
        lessor.grant(3, 10, 0.0)
    with pytest.raises(LeaseTTLTooLargeError):
        lessor.grant(0, MAX_LEASE_TTL + 1, 0.0)
    assert lessor.ids() == [1, 2, 3, 4] and len(lessor) == 4


def test_expired_reports_in_expiry_order_without_revoking(lessor: Lessor) -> None:
    lessor.grant(1, 10, now=0.0)
    lessor.grant(2, 5, now=0.0)
    lessor.grant(3, 5, now=1.0)
    assert lessor.expired(4.9) == []
    assert lessor.expired(6.0) == [2, 3]
    assert lessor.expired(6.0) == [2, 3]  # asking again changes nothing
    assert lessor.expired(100.0, limit=1) == [2]
    lessor.revoke(2)
    assert lessor.expired(100.0) == [3, 1]


def test_keep_alive_restarts_the_ttl(lessor: Lessor) -> None:
    lessor.grant(1, 10, now=0.0)
    assert lessor.renew(1, now=8.0) == 10
    assert lessor.expired(12.0) == []
    assert lessor.time_to_live(1, now=12.5) == 5
    assert lessor.expired(18.0) == [1]
    with pytest.raises(LeaseNotFoundError):
        lessor.renew(99, now=0.0)


def test_a_demoted_lessor_never_expires_leases() -> None:
    follower = Lessor()
    assert not follower.primary
    follower.grant(1, 5, now=0.0)
    follower.renew(1, now=1.0)
    assert follower.expired(1e9) == []
    assert follower.time_to_live(1, now=1e9) == 5  # no expiry tracked: the granted TTL


def test_promote_gives_every_lease_its_full_ttl_again(lessor: Lessor) -> None:
    lessor.grant(1, 10, now=0.0)
    lessor.demote()
    assert lessor.expired(1e9) == []
    # A new leader at t=100 cannot know when the last keep-alive reached the old one.
    lessor.promote(100.0, extend=1.0)
    assert lessor.primary
    assert lessor.expired(110.5) == []
    assert lessor.expired(111.0) == [1]


def test_revoke_returns_attached_keys_sorted(lessor: Lessor) -> None:
    lessor.grant(1, 10, 0.0)
    for key in (b"c", b"a", b"b"):
        lessor.attach(1, key)
    lessor.detach(1, b"b")
    lessor.detach(42, b"a")  # detaching from a lease already gone is harmless
    assert lessor.get(1).keys == {b"a", b"c"}
    assert lessor.revoke(1) == [b"a", b"c"]
    assert 1 not in lessor
    with pytest.raises(LeaseNotFoundError):
        lessor.revoke(1)
    with pytest.raises(LeaseNotFoundError):
        lessor.attach(1, b"a")


def test_renewals_do_not_grow_the_expiry_heap_without_bound(lessor: Lessor) -> None:
    lessor.grant(1, 10, 0.0)
    for i in range(10_000):
        lessor.renew(1, now=i * 0.001)
    assert len(lessor._heap) <= 2 * len(lessor) + 64
    assert lessor.expired(19.99) == []
    assert lessor.expired(20.0) == [1]


def test_dump_and_load_keep_replicated_state_only(lessor: Lessor) -> None:
    lessor.grant(5, 10, 0.0)
    lessor.grant(0, 20, 0.0)
    lessor.attach(5, b"k")
    state = lessor.dump()
    assert state.leases == ((1, 20), (5, 10)) and state.next_id == 2
    copy = Lessor()
    copy.load(state)
    assert copy.dump() == state
    assert not copy.primary and copy.expired(1e9) == []
    assert copy.get(5).keys == set()  # the state machine re-attaches keys from the store
    assert copy.grant(0, 10, 0.0).id == 2
