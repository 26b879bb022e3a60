"""Log replication: agreement, conflicts, fast back-off, flow control, snapshots, compaction.

Shapes follow MIT 6.824 2B/2D (basic agreement, follower failure, rejoin, backup, snapshot
install) and etcd-io/raft's progress states.
"""

from __future__ import annotations

import random

import pytest

from actors.etcd._raft import (
    Compacted,
    Entry,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgSnap,
    NotLeader,
    RaftNode,
    Role,
)
from actors.etcd._raft_progress import ProgressState
from tests.actors.etcd.raft_harness import Cluster

ET = 10


def _entries_equal(c: Cluster) -> None:
    views = [c.node(i).log_view() for i in c.live()]
    assert all(v.entries == views[0].entries for v in views), views


def test_basic_agreement_and_apply_in_order() -> None:
    c = Cluster(5, seed=1)
    lead = c.run_until_leader(10 * ET)
    idx = [c.propose(lead, b"v%d" % k) for k in range(10)]
    assert idx == list(range(idx[0], idx[0] + 10))
    c.deliver_all()
    want = [b"v%d" % k for k in range(10)]
    assert all(c.applied_data(i) == want for i in c.ids)
    _entries_equal(c)


def test_agreement_despite_a_failed_follower_and_none_without_quorum() -> None:
    c = Cluster(3, seed=2)
    lead = c.run_until_leader(10 * ET)
    a, b = (i for i in c.ids if i != lead)
    c.crash(a)
    c.propose(lead, b"one")
    c.deliver_all()
    assert c.applied_data(lead) == [b"one"] and c.applied_data(b) == [b"one"]
    c.crash(b)
    index = c.propose(lead, b"two")
    c.stabilize(ticks=3)
    assert c.node(lead).status().commit < index  # no quorum, no commit
    c.restart(a)
    c.restart(b)
    lead = c.run_until_leader(20 * ET)
    c.stabilize(ticks=2 * ET)
    assert b"one" in c.applied_data(lead)


def test_rejoining_partitioned_leader_has_its_uncommitted_entries_overwritten() -> None:
    c = Cluster(3, seed=3, check_quorum=False)  # no lease: node 3 votes for 2 at once
    c.elect(1)
    c.propose(1, b"base")
    c.deliver_all()
    c.isolate(1)
    for k in range(3):
        c.propose(1, b"lost%d" % k)  # never reach a quorum
    c.deliver_all()
    c.elect(2)
    c.propose(2, b"kept")
    c.deliver_all()
    c.heal()
    c.stabilize(ticks=3 * ET)
    assert c.leader() == 2
    _entries_equal(c)
    assert all(c.applied_data(i) == [b"base", b"kept"] for i in c.ids)


def _diverge(c: Cluster, n: int) -> None:
    """Node 1 ends up with n uncommitted entries of term 1 at indices that the others filled
    with n committed entries of term 2; the current leader (3, term 3) was elected with a
    log as long as node 1's, so its first probe lands far past the divergence point."""
    c.elect(1)
    c.deliver_all()
    c.isolate(1)
    for k in range(n):
        c.propose(1, b"old%d" % k)
    c.deliver_all()
    c.elect(2)
    for k in range(n):
        c.propose(2, b"new%d" % k)
    c.deliver_all()
    c.elect(3)
    c.deliver_all()


def _rejections_to_catch_up(c: Cluster, follower: int) -> int:
    c.heal()
    rejects = 0
    for _ in range(2000):
        if not c.in_flight:
            c.tick_all()
            if not c.in_flight:
                continue
        m = c.in_flight[0]
        if isinstance(m, MsgAppResp) and m.frm == follower and m.reject:
            rejects += 1
        c.deliver(0)
        if c.node(follower).log_view().entries == c.node(3).log_view().entries:
            return rejects
    raise AssertionError(f"never caught up: {c.statuses()}")


def test_fast_backoff_skips_a_whole_conflicting_term_at_once() -> None:
    c = Cluster(3, seed=4, check_quorum=False)
    _diverge(c, 50)
    assert c.node(3)._trk.progress[1].next > 50  # the first probe is far past the conflict
    rejects = _rejections_to_catch_up(c, 1)
    # One entry at a time would take ~50 rejections; the term hints need at most a couple.
    assert 1 <= rejects <= 2, rejects
    assert c.applied_data(1)[-50:] == [b"new%d" % k for k in range(50)]


def test_conflict_hint_points_below_the_conflicting_term() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    ents = tuple(Entry(term=t, index=i, data=b"x") for i, t in enumerate([1, 1, 2, 2, 2], 1))
    node.step(MsgApp(frm=2, to=1, term=2, log_term=0, index=0, entries=ents, commit=0))
    node.advance(node.ready())
    # Leader of term 4 probes with (index 7, term 4); we stop at 5 and hold term 2 there.
    node.step(MsgApp(frm=3, to=1, term=4, log_term=4, index=7, entries=(), commit=0))
    (resp,) = node.ready().messages
    assert isinstance(resp, MsgAppResp) and resp.reject
    assert (resp.index, resp.reject_hint, resp.log_term) == (7, 5, 2)


def test_probe_sends_one_append_at_a_time_then_replicate_streams() -> None:
    c = Cluster(3, seed=5, max_entries_per_msg=1, max_inflight_msgs=3)
    c.elect(1)
    c.deliver_all()
    pr = c.node(1)._trk.progress[2]
    assert pr.state is ProgressState.REPLICATE
    c.cut(1, 2)
    c.cut(2, 1)
    for k in range(6):
        c.propose(1, b"v%d" % k)
    to2 = [m for m in c.in_flight if isinstance(m, MsgApp) and m.to == 2]
    assert len(to2) == 3  # the inflight window (3 single-entry messages) is full
    c.drop_all()
    # Lost messages: a heartbeat response frees a slot; a rejection sends 2 back to probing.
    c.heal()
    c.tick(1)
    c.deliver_all()
    c.stabilize(ticks=2)
    assert c.node(2).log_view().entries == c.node(1).log_view().entries


def test_probe_state_pauses_until_a_response() -> None:
    c = Cluster(3, seed=6)
    c.isolate(3)
    c.elect(1)
    pr = c.node(1)._trk.progress[3]
    assert pr.state is ProgressState.PROBE and pr.probe_sent
    c.propose(1, b"a")
    c.propose(1, b"b")
    assert not [m for m in c.in_flight if isinstance(m, MsgApp) and m.to == 3]


def test_heartbeat_commit_is_capped_at_the_followers_match() -> None:
    c = Cluster(3, seed=7)
    c.elect(1)
    c.deliver_all()
    c.cut(1, 3)
    c.propose(1, b"x")
    c.deliver_all()
    c.heal()
    c.drop_all()
    c.tick(1)
    hb = [m for m in c.in_flight if isinstance(m, MsgHeartbeat)]
    by_to = {m.to: m.commit for m in hb}
    assert by_to[2] == c.node(1).status().commit
    assert by_to[3] == c.node(1)._trk.progress[3].match < by_to[2]


def test_duplicated_and_reordered_appends_do_not_truncate() -> None:
    c = Cluster(3, seed=8, auto_check=True)
    c.elect(1)
    c.deliver_all()
    c.propose(1, b"a")
    early = [m for m in c.in_flight if isinstance(m, MsgApp) and m.to == 2]
    c.propose(1, b"b")
    c.deliver_all()
    before = c.node(2).log_view().entries
    for m in early:  # an old, shorter MsgApp arrives again, late
        c.in_flight.append(m)
    c.deliver_all()
    assert c.node(2).log_view().entries == before


def test_snapshot_sent_to_and_installed_by_a_lagging_follower() -> None:
    c = Cluster(3, seed=9)
    c.elect(1)
    c.crash(3)
    for k in range(20):
        c.propose(1, b"v%d" % k)
    c.deliver_all()
    for i in (1, 2):
        c.compact(i)
    assert c.node(1).log_view().snapshot_index == c.node(1).status().applied
    c.propose(1, b"after")
    c.deliver_all()
    c.restart(3)
    for _ in range(10 * ET):
        c.tick_all()
        c.deliver_all()
        if c.sms[3].index == c.sms[1].index:
            break
    snaps = [m for m in c.sent if isinstance(m, MsgSnap)]
    assert len(snaps) == 1 and snaps[0].to == 3
    assert c.sms[3].digest == c.sms[1].digest  # same state machine as the leader
    assert c.node(1)._trk.progress[3].state is ProgressState.REPLICATE
    c.propose(1, b"later")
    c.deliver_all()
    assert c.applied_data(3)[-1] == b"later"
    assert c.node(3).status().voters == (1, 2, 3)


def test_a_lost_snapshot_is_sent_again() -> None:
    c = Cluster(3, seed=10)
    c.elect(1)
    c.crash(3)
    for k in range(5):
        c.propose(1, b"v%d" % k)
    c.deliver_all()
    c.compact(1)
    c.restart(3)
    lost: list[MsgSnap] = []

    def lose_first_snapshot(m: object) -> bool:
        if isinstance(m, MsgSnap) and not lost:
            lost.append(m)
            return True
        return False

    c.drop_if = lose_first_snapshot
    for _ in range(6 * ET):
        c.tick_all()
        c.deliver_all()
    assert lost
    assert len([m for m in c.sent if isinstance(m, MsgSnap)]) == 2
    assert c.sms[3].digest == c.sms[1].digest


def test_snapshot_that_matches_the_log_only_fast_forwards_commit() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    ents = tuple(Entry(term=1, index=i, data=b"x") for i in range(1, 4))
    node.step(MsgApp(frm=2, to=1, term=1, log_term=0, index=0, entries=ents, commit=0))
    node.advance(node.ready())
    from actors.etcd._raft import Snapshot

    node.step(MsgSnap(frm=2, to=1, term=1, snapshot=Snapshot(2, 1, (1, 2, 3), b"")))
    rd = node.ready()
    assert rd.snapshot is None and node.status().commit == 2
    assert node.status().last_index == 3


def test_restart_from_a_compacted_log_restores_the_state_machine() -> None:
    c = Cluster(3, seed=11)
    c.elect(1)
    for k in range(8):
        c.propose(1, b"v%d" % k)
    c.deliver_all()
    c.compact(2)
    digest = c.sms[2].digest
    c.crash(2)
    c.restart(2)
    assert c.sms[2].digest == digest
    assert c.node(2).log_view().snapshot_index == c.sms[2].index
    c.propose(1, b"next")
    c.stabilize(ticks=2)
    assert c.applied_data(2) == [b"next"]


def test_compact_bounds() -> None:
    c = Cluster(1, seed=12)
    c.elect(1)
    c.propose(1, b"a")
    node = c.node(1)
    with pytest.raises(ValueError):
        node.compact(node.status().applied + 1, b"")
    c.compact(1)
    with pytest.raises(Compacted):
        node.compact(node.status().applied, b"")


def test_leader_noop_commits_previous_term_entries() -> None:
    c = Cluster(3, seed=13)
    c.elect(1)
    c.cut(1, 3)
    c.propose(1, b"a")
    c.deliver_all()
    c.crash(1)
    c.restart(1)
    c.elect(2)
    c.deliver_all()
    assert c.node(2).log_view().entries[-1].data == b""  # the no-op of the new term
    assert all(b"a" in c.applied_data(i) for i in (2, 3))


def test_followers_forward_read_but_a_candidate_drops_a_forwarded_proposal() -> None:
    c = Cluster(3, seed=14)
    c.elect(1)
    c.deliver_all()
    from actors.etcd._raft import MsgProp

    c.node(2).step(MsgProp(frm=2, to=2, term=0, data=b"fwd"))
    c.process_ready(2)
    c.deliver_all()
    assert all(c.applied_data(i) == [b"fwd"] for i in c.ids)
    c.isolate(3)
    c.campaign(3)
    c.node(3).step(MsgProp(frm=3, to=3, term=0, data=b"nowhere"))
    c.process_ready(3)
    assert c.node(3).role in (Role.PRE_CANDIDATE, Role.CANDIDATE)
    assert not [m for m in c.in_flight if getattr(m, "data", None) == b"nowhere"]


def test_follower_commits_only_up_to_the_last_new_entry() -> None:
    """Raft paper Figure 2: commitIndex = min(leaderCommit, index of last new entry). Entries
    past the ones this MsgApp vouched for may be stale and must not be committed."""
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    stale = tuple(Entry(term=1, index=i, data=b"s%d" % i) for i in range(1, 5))
    node.step(MsgApp(frm=2, to=1, term=1, log_term=0, index=0, entries=stale, commit=0))
    node.advance(node.ready())
    # A leader of term 2 whose index 4 differs sends entries up to 3 only, with commit 4.
    node.step(MsgApp(frm=3, to=1, term=2, log_term=1, index=2, entries=stale[2:3], commit=4))
    rd = node.ready()
    assert node.status().commit == 3
    assert [e.index for e in rd.committed_entries] == [1, 2, 3]


def test_propose_batch_appends_and_replicates_together() -> None:
    c = Cluster(3, seed=15)
    c.elect(1)
    c.deliver_all()
    first = c.node(1).propose_batch([b"a", b"b", b"c"])
    assert first == c.node(1).status().last_index - 2
    c.process_ready(1)
    apps = [m for m in c.in_flight if isinstance(m, MsgApp)]
    assert sorted(m.to for m in apps) == [2, 3]
    assert all([e.data for e in m.entries] == [b"a", b"b", b"c"] for m in apps)
    c.deliver_all()
    assert all(c.applied_data(i) == [b"a", b"b", b"c"] for i in c.ids)
    with pytest.raises(ValueError):
        c.node(1).propose_batch([])
    with pytest.raises(ValueError):
        c.node(1).propose_batch([b"x", b""])
    with pytest.raises(NotLeader):
        c.node(2).propose_batch([b"x"])
