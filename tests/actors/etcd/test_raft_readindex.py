"""ReadIndex (Raft thesis §6.4): a read point is released only after the leader confirms, with
a quorum-acknowledged heartbeat round, that it is still the leader."""

from __future__ import annotations

import pytest

from actors.etcd._raft import MsgHeartbeat, MsgHeartbeatResp, MsgReadIndex, NotLeader, ReadState
from tests.actors.etcd.raft_harness import Cluster

ET = 10


def _released(c: Cluster, ctx: bytes) -> list[tuple[int, ReadState]]:
    return [(i, rs) for i, rs in c.checker.reads_released if rs.ctx == ctx]


def test_leader_read_waits_for_a_quorum_heartbeat_round() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    commit = c.node(1).status().commit
    c.read_index(1, b"r1")
    assert not _released(c, b"r1")  # not before the round trip
    hbs = [m for m in c.in_flight if isinstance(m, MsgHeartbeat)]
    assert {m.ctx for m in hbs} == {b"r1"} and len(hbs) == 2
    c.deliver(0)  # one heartbeat reaches a follower ...
    c.deliver(c.in_flight.index(next(m for m in c.in_flight if isinstance(m, MsgHeartbeatResp))))
    assert _released(c, b"r1") == [(1, ReadState(commit, b"r1"))]  # ... self + 1 = quorum


def test_read_not_released_without_a_quorum() -> None:
    c = Cluster(3, seed=2, check_quorum=False)
    c.elect(1)
    c.deliver_all()
    c.isolate(1)
    c.read_index(1, b"r")
    for _ in range(5 * ET):
        c.tick_all()
        c.deliver_all()
    assert not _released(c, b"r")


def test_partitioned_old_leader_cannot_serve_a_read() -> None:
    # Without CheckQuorum the old leader keeps believing it leads; ReadIndex must still
    # refuse to release a read that a newer leader's commits would make stale.
    c = Cluster(5, seed=3, check_quorum=False)
    c.elect(1)
    c.deliver_all()
    c.partition([1, 2], [3, 4, 5])
    c.elect(3)
    c.propose(3, b"new")
    c.deliver_all()
    assert c.node(1).status().role == "leader"
    c.read_index(1, b"stale?")
    for _ in range(5 * ET):
        c.tick_all()
        c.deliver_all()
    assert not _released(c, b"stale?")
    c.heal()
    c.stabilize(ticks=2 * ET)
    assert not _released(c, b"stale?")  # discarded when it stepped down, never served
    assert c.node(1).status().role == "follower"
    # Even when the old leader wins again later, the forgotten read stays forgotten (had it
    # been kept, it would now be confirmed with its stale index and the checker would fail).
    for _ in range(3):
        if c.node(1).status().role != "leader":
            c.campaign(1)
            c.stabilize(ticks=2)
    assert c.node(1).status().role == "leader"
    c.stabilize(ticks=2)
    assert not _released(c, b"stale?")


def test_follower_read_is_forwarded_and_answered() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    c.read_index(2, b"f")
    assert any(isinstance(m, MsgReadIndex) and m.to == 1 for m in c.in_flight)
    c.deliver_all()
    assert _released(c, b"f") == [(2, ReadState(c.node(1).status().commit, b"f"))]


def test_read_without_known_leader_raises() -> None:
    c = Cluster(3, seed=5)
    with pytest.raises(NotLeader):
        c.read_index(1, b"x")
    with pytest.raises(ValueError):
        c.node(1).read_index(b"")


def test_new_leader_defers_reads_until_its_noop_commits() -> None:
    c = Cluster(3, seed=6)
    c.node(1).campaign()
    c.process_ready(1)
    # Deliver only until node 1 wins; its no-op is not committed yet.
    while c.node(1).status().role != "leader":
        c.deliver(0)
    assert c.node(1).status().commit < c.node(1).status().last_index
    c.read_index(1, b"early")
    assert not [m for m in c.in_flight if isinstance(m, MsgHeartbeat) and m.ctx == b"early"]
    c.deliver_all()
    (released,) = _released(c, b"early")
    assert released[1].index == c.node(1).status().commit


def test_single_node_read_is_immediate() -> None:
    c = Cluster(1, seed=7)
    c.elect(1)
    c.read_index(1, b"solo")
    assert _released(c, b"solo") == [(1, ReadState(1, b"solo"))]


def test_later_round_releases_earlier_reads_in_order() -> None:
    c = Cluster(3, seed=8)
    c.elect(1)
    c.deliver_all()
    c.read_index(1, b"a")
    c.read_index(1, b"b")
    # Lose the first round entirely; the second one confirms both.
    c.in_flight = [m for m in c.in_flight if getattr(m, "ctx", b"") != b"a"]
    c.deliver_all()
    ctxs = [rs.ctx for _, rs in c.checker.reads_released]
    assert ctxs == [b"a", b"b"]
