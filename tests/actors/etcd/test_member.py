"""The etcd member shell and its client, scenario by scenario, in virtual time.

Each test boots a small cluster (`EtcdCluster`, whose observer checks Raft safety on the side),
drives it with `EtcdClient`s running inside helper actors, injects one fault, and asserts on
what the client saw and on the members' state. Timings are etcd's defaults: ticks of 100 ms,
election timeout 1 s (randomized up to 2 s).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actors.etcd import (
    EtcdClient,
    Health,
    HealthRequest,
    MemberStatus,
    PutRequest,
    StatusRequest,
    UnknownOutcome,
    WatchResponse,
)
from actors.etcd._campaign_cluster import EtcdCluster
from runtime import Actor, Down, Simulation, handler

ELECTION = 1.0  # seconds; the randomized timeout is in [1, 2)
_callers = itertools.count()


class Caller(Actor):
    """Runs one coroutine with an EtcdClient and keeps its result or error."""

    def __init__(self, endpoints: list[str], fn: Callable[[EtcdClient], Awaitable[Any]], kw: dict[str, Any]) -> None:
        self.endpoints, self.fn, self.kw = endpoints, fn, kw

    def on_start(self) -> None:
        self.client = EtcdClient(self, self.endpoints, **self.kw)
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.spawn(self._go())

    async def _go(self) -> None:
        try:
            self.result = await self.fn(self.client)
        except Exception as e:  # the test inspects it
            self.error = e
        finally:
            self.done = True

    @handler
    def _route(self, m: WatchResponse | Down) -> None:
        self.client.dispatch(m)


def start(sim: Simulation, endpoints: list[str], fn: Callable[[EtcdClient], Awaitable[Any]], **kw: Any) -> Caller:
    name = f"caller-{next(_callers)}"
    sim.spawn(name, Caller, endpoints, fn, kw)
    return sim.actor(name)


def call(sim: Simulation, endpoints: list[str], fn: Callable[[EtcdClient], Awaitable[Any]], *,
         timeout: float = 30.0, **kw: Any) -> Any:
    caller = start(sim, endpoints, fn, **kw)
    sim.run_until(lambda: caller.done, timeout=timeout)
    if caller.error is not None:
        raise caller.error
    return caller.result


def boot(members: int = 3, *, seed: int = 1, **config: Any) -> tuple[Simulation, EtcdCluster]:
    sim = Simulation(seed)
    cluster = EtcdCluster(sim, members=members, **config)
    sim.run_until(lambda: cluster.leader() is not None, timeout=10 * ELECTION)
    sim.advance(0.5)  # the leader's no-op is applied: membership changes may start
    return sim, cluster


def leader(cluster: EtcdCluster) -> str:
    name = cluster.leader()
    assert name is not None
    return name


def safe(cluster: EtcdCluster) -> None:
    cluster.check()
    assert cluster.all_violations() == []


async def put(client: EtcdClient, key: str, value: str) -> int:
    resp = await client.put(key.encode(), value.encode())
    return resp.header.revision


def get(key: str) -> Callable[[EtcdClient], Awaitable[Any]]:
    async def fn(client: EtcdClient) -> Any:
        kv = await client.get(key.encode())
        return None if kv is None else kv.value.decode()
    return fn


# ---- elections ------------------------------------------------------------------------------------
def test_a_leader_is_elected_and_a_new_one_within_a_few_timeouts_after_it_crashes() -> None:
    sim, c = boot(3)
    old = leader(c)
    term = c.nodes()[old].term
    c.crash(old)
    took = sim.run_until(lambda: c.leader() not in (None, old), timeout=5 * ELECTION)
    new = leader(c)
    assert took < 3 * 2 * ELECTION  # at most a few (randomized) election timeouts
    assert c.nodes()[new].term > term
    statuses = [sim.ask(n, StatusRequest()) for n in c.names if n != old]
    assert {s.leader_name for s in statuses} == {new}
    # The old leader comes back as a follower and does not disturb the new term (PreVote).
    c.restart(old)
    sim.advance(3 * ELECTION)
    assert leader(c) == new and c.nodes()[new].term == c.nodes()[old].term
    safe(c)


def test_no_leader_without_a_quorum_and_one_as_soon_as_it_returns() -> None:
    sim, c = boot(3)
    followers = [n for n in c.names if n != leader(c)]
    old = leader(c)
    c.crash(followers[0])
    c.crash(followers[1])
    sim.advance(4 * ELECTION)  # CheckQuorum: the lone leader steps down
    assert c.leader() is None and not c.nodes()[old].lead
    c.restart(followers[0])
    sim.run_until(lambda: c.leader() is not None, timeout=5 * ELECTION)
    safe(c)


# ---- reads and writes -----------------------------------------------------------------------------
def test_a_linearizable_read_after_the_leader_crashes_sees_the_acknowledged_write() -> None:
    sim, c = boot(3)
    rev = call(sim, c.names, lambda cl: put(cl, "k", "v1"))
    c.crash(leader(c))
    assert call(sim, c.names, get("k")) == "v1"

    async def revision(client: EtcdClient) -> int:
        return (await client.range(b"k")).header.revision
    assert call(sim, c.names, revision) >= rev
    safe(c)


def test_a_write_on_the_minority_side_is_never_acknowledged() -> None:
    sim, c = boot(3)
    old = leader(c)
    sim.partition([old], [n for n in c.names if n != old])
    with pytest.raises(UnknownOutcome):  # no answer in time: the outcome is unknown
        call(sim, [old], lambda cl: put(cl, "k", "minority"), request_timeout=3.0)
    sim.run_until(lambda: c.leader() not in (None, old), timeout=5 * ELECTION)
    sim.heal()
    sim.advance(2 * ELECTION)
    assert call(sim, c.names, get("k")) is None  # the entry was overwritten, never applied
    assert all(m.sm.store.get(b"k") is None for m in c.running().values())
    safe(c)


def test_a_write_whose_member_crashes_holding_it_is_an_unknown_outcome_not_a_retry() -> None:
    sim, c = boot(3)
    old = leader(c)
    sim.system.store(old).sync_latency = 0.5  # the proposal sits in the leader's fsync
    caller = start(sim, [old, *[n for n in c.names if n != old]], lambda cl: put(cl, "k", "v"))
    sim.advance(0.2)
    c.crash(old)
    sim.run_until(lambda: caller.done, timeout=10)
    assert isinstance(caller.error, UnknownOutcome)
    safe(c)


def test_a_follower_answers_reads_through_read_index_and_serializable_reads_locally() -> None:
    sim, c = boot(3)
    call(sim, c.names, lambda cl: put(cl, "k", "v"))
    follower = next(n for n in c.names if n != leader(c))
    assert call(sim, [follower], get("k")) == "v"

    async def serializable(client: EtcdClient) -> Any:
        return await client.get(b"k", serializable=True)
    assert call(sim, [follower], serializable).value == b"v"


# ---- snapshots and restarts -------------------------------------------------------------------------
def test_a_lagging_follower_catches_up_from_a_snapshot() -> None:
    sim, c = boot(3, snapshot_count=20)
    lagging = next(n for n in c.names if n != leader(c))
    c.crash(lagging)

    async def writes(client: EtcdClient) -> int:
        for i in range(60):
            await put(client, f"k{i % 7}", str(i))
        return 60
    call(sim, c.names, writes)
    lead = c.running()[leader(c)]
    assert lead.node.log_view().snapshot_index >= 40  # the log it would need is gone
    c.restart(lagging)
    sim.run_until(lambda: c.running()[lagging].sm.revision == lead.sm.revision, timeout=5.0)
    m = c.running()[lagging]
    assert m.node.log_view().snapshot_index >= 40
    assert m.sm.store.dump() == lead.sm.store.dump()
    safe(c)


@pytest.mark.parametrize("lose_unsynced", [True, False])
def test_acknowledged_writes_survive_a_restart_of_every_member(lose_unsynced: bool) -> None:
    sim, c = boot(3, snapshot_count=8)

    async def writes(client: EtcdClient) -> list[int]:
        return [await put(client, f"k{i}", str(i)) for i in range(12)]
    call(sim, c.names, writes)
    for name in c.names:
        c.crash(name, lose_unsynced=lose_unsynced)
    sim.advance(1.0)
    c.restart_all()
    sim.run_until(lambda: c.leader() is not None, timeout=5 * ELECTION)

    async def reads(client: EtcdClient) -> list[Any]:
        return [await get(f"k{i}")(client) for i in range(12)]
    assert call(sim, c.names, reads) == [str(i) for i in range(12)]
    safe(c)


@pytest.mark.parametrize("lose_unsynced", [True, False])
def test_an_unsynced_write_is_lost_only_with_the_page_cache(lose_unsynced: bool) -> None:
    sim, c = boot(1)
    (only,) = c.names
    sim.system.store(only).sync_latency = 1.0
    caller = start(sim, [only], lambda cl: put(cl, "k", "v"))
    sim.advance(0.5)  # the entry is written, its fsync still running
    c.crash(only, lose_unsynced=lose_unsynced)
    sim.run_until(lambda: caller.done, timeout=5)
    assert isinstance(caller.error, UnknownOutcome)  # never acknowledged either way
    sim.system.store(only).sync_latency = 0.0
    c.restart(only)
    sim.run_until(lambda: c.leader() is not None, timeout=5 * ELECTION)
    assert call(sim, [only], get("k")) == (None if lose_unsynced else "v")


# ---- health and status ------------------------------------------------------------------------------
def test_health_is_true_with_a_quorum_and_false_without_one() -> None:
    sim, c = boot(3)
    for name in c.names:
        h = sim.ask(name, HealthRequest())
        assert isinstance(h, Health) and json.loads(h.to_json())["health"] == "true"
    survivor, *others = c.names
    for name in others:
        c.crash(name)
    sim.advance(4 * ELECTION)
    h = sim.ask(survivor, HealthRequest())
    assert json.loads(h.to_json()) == {"health": "false", "reason": "RAFT NO LEADER"}


def test_member_status_reports_the_leader_term_indexes_and_revision() -> None:
    sim, c = boot(3)
    rev = call(sim, c.names, lambda cl: put(cl, "k", "v"))
    sim.advance(0.5)
    lead = leader(c)
    for name in c.names:
        st = sim.ask(name, StatusRequest())
        assert isinstance(st, MemberStatus)
        assert st.name == name and st.leader_name == lead and st.leader == c.nodes()[lead].id
        assert st.role == ("leader" if name == lead else "follower")
        assert st.revision == rev and st.raft_applied_index <= st.raft_index
        assert st.voters == (1, 2, 3) and st.db_size > 0 and st.term >= 1


def test_a_put_sent_straight_to_a_follower_is_refused_with_the_leader_named() -> None:
    sim, c = boot(3)
    follower = next(n for n in c.names if n != leader(c))
    fut = sim.system.ask_future("$driver", follower, PutRequest(key=b"k", value=b"v"), 5.0)
    sim.run_until(fut.done, timeout=5)
    err = fut.exception()
    assert err is not None and leader(c) in str(err)


def test_a_watch_the_client_does_not_know_is_cancelled_and_never_replayed():
    """Cluster campaign seed 5235: a watch create whose reply was lost left an orphan watch
    on its member; its responses waited in the client's early buffer, and after the member
    restarted and reused the id, a later watch was handed them (another prefix, revisions
    long past). Responses for an unknown id while no create to that member is in flight are
    now cancelled at the member (as clientv3 does) and never kept."""
    from actors.etcd import WatchCreateRequest

    sim, c = boot(1)
    member = c.names[0]

    async def orphan(client: EtcdClient) -> int:
        # A create the client never registers: as if its reply had been lost.
        wid = await client.actor.ask(member, WatchCreateRequest(key=b"/a/", range_end=b"/a0"))
        await client.request(PutRequest(key=b"/a/x", value=b"1"))
        return wid

    caller = start(sim, c.names, orphan)
    sim.run_until(lambda: caller.done, timeout=10)
    assert caller.error is None, caller.error
    wid = caller.result
    sim.advance(1.0)
    assert wid not in sim.actor(member).watch_owner  # cancelled by the client
    assert caller.client._early == {}  # nothing kept for a later watch of the same id
