"""Leader election: randomized timeouts, PreVote, CheckQuorum, leases, transfer, restarts.

Shapes follow the MIT 6.824 2A/2C tests (initial election, re-election, no leader without a
quorum, persistence) and etcd-io/raft's PreVote/CheckQuorum behaviour.
"""

from __future__ import annotations

import random

import pytest

from actors.etcd._raft import (
    Entry,
    EntryType,
    HardState,
    MsgApp,
    MsgHeartbeat,
    MsgPreVote,
    MsgPreVoteResp,
    MsgTimeoutNow,
    MsgVote,
    MsgVoteResp,
    NotLeader,
    PersistentState,
    ProposalDropped,
    RaftNode,
    Role,
)
from tests.actors.etcd.raft_harness import Cluster

ET = 10  # election ticks


def test_initial_election_one_leader_and_terms_agree() -> None:
    c = Cluster(3, seed=1)
    lead = c.run_until_leader(10 * ET)
    assert c.leaders() == [lead]
    terms = {c.node(i).term for i in c.ids}
    assert len(terms) == 1
    term = terms.pop()
    # With no failures the leader and term stay put (heartbeats keep followers quiet).
    for _ in range(10 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.leaders() == [lead]
    assert {c.node(i).term for i in c.ids} == {term}


@pytest.mark.parametrize("seed", range(5))
def test_randomized_election_timeout_range(seed: int) -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(seed), election_tick=ET)
    seen = set()
    for _ in range(300):
        node.become_follower(node.term, 0)
        seen.add(node._randomized_election_timeout)
    assert min(seen) >= ET and max(seen) <= 2 * ET - 1
    assert len(seen) > ET // 2  # actually random, not a constant


def test_timeouts_come_only_from_the_injected_rng() -> None:
    a = RaftNode(1, [1, 2, 3], rng=random.Random(7))
    b = RaftNode(1, [1, 2, 3], rng=random.Random(7))
    for _ in range(50):
        a.become_follower(0, 0)
        b.become_follower(0, 0)
        assert a._randomized_election_timeout == b._randomized_election_timeout


def test_reelection_after_leader_crash_and_old_leader_rejoins_as_follower() -> None:
    c = Cluster(3, seed=2)
    first = c.run_until_leader(10 * ET)
    term = c.node(first).term
    c.crash(first)
    second = c.run_until_leader(10 * ET)
    assert second != first and c.node(second).term > term
    c.restart(first)
    c.stabilize(ticks=3 * ET)
    assert c.leaders() == [second]
    assert c.node(first).lead == second


def test_no_leader_without_quorum_and_prevote_keeps_terms_still() -> None:
    c = Cluster(3, seed=3)
    lead = c.run_until_leader(10 * ET)
    others = [i for i in c.ids if i != lead]
    c.crash(lead)
    c.crash(others[0])
    survivor = others[1]
    term = c.node(survivor).term
    for _ in range(20 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.node(survivor).role is not Role.LEADER
    assert c.node(survivor).term == term  # PreVote: failed pre-campaigns do not bump terms


def test_prevote_partitioned_node_rejoins_without_disrupting() -> None:
    c = Cluster(3, seed=4)
    lead = c.run_until_leader(10 * ET)
    term = c.node(lead).term
    loner = next(i for i in c.ids if i != lead)
    c.isolate(loner)
    for _ in range(20 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.node(loner).term == term  # no term inflation while cut off
    assert c.node(loner).role is Role.PRE_CANDIDATE or c.node(loner).role is Role.FOLLOWER
    c.heal()
    c.stabilize(ticks=5 * ET)
    assert c.leaders() == [lead]
    assert all(c.node(i).term == term for i in c.ids)
    assert c.node(loner).lead == lead


def test_without_prevote_a_rejoining_node_disrupts_the_leader() -> None:
    """The contrast case: it shows the PreVote test above is not vacuous."""
    c = Cluster(3, seed=4, pre_vote=False, check_quorum=False)
    lead = c.run_until_leader(10 * ET)
    term = c.node(lead).term
    loner = next(i for i in c.ids if i != lead)
    c.isolate(loner)
    for _ in range(20 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.node(loner).term > term + 5
    c.heal()
    c.stabilize(ticks=5 * ET)
    assert c.node(c.run_until_leader(10 * ET)).term > term + 5


def test_check_quorum_leader_steps_down_when_cut_off() -> None:
    c = Cluster(3, seed=5)
    lead = c.run_until_leader(10 * ET)
    c.isolate(lead)
    # Activity is sampled once per election timeout, so stepping down takes one to two.
    for _ in range(2 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.node(lead).role is Role.FOLLOWER
    assert c.node(lead).lead == 0


def test_without_check_quorum_a_cut_off_leader_stays_leader() -> None:
    c = Cluster(3, seed=5, check_quorum=False)
    lead = c.run_until_leader(10 * ET)
    c.isolate(lead)
    for _ in range(5 * ET):
        c.tick(lead)
    assert c.node(lead).role is Role.LEADER


def test_lease_follower_ignores_votes_from_a_higher_term() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0), election_tick=ET)
    node.step(MsgHeartbeat(frm=2, to=1, term=1, commit=0))
    node.advance(node.ready())
    for msg_type in (MsgVote, MsgPreVote):
        node.step(msg_type(frm=3, to=1, term=5, log_term=0, index=0))
        assert node.term == 1 and node.lead == 2
        rd = node.ready()
        assert not rd.messages  # silently ignored: no reply at all
        node.advance(rd)


def test_vote_granted_once_the_lease_expired() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0), election_tick=ET)
    node.step(MsgHeartbeat(frm=2, to=1, term=1, commit=0))
    node.advance(node.ready())
    for _ in range(ET):
        node.tick()
    node.step(MsgVote(frm=3, to=1, term=5, log_term=0, index=0))
    rd = node.ready()
    assert node.term == 5 and node.vote == 3
    assert MsgVoteResp(frm=1, to=3, term=5) in rd.messages
    assert rd.hard_state == HardState(term=5, vote=3, commit=0)


def test_transfer_vote_bypasses_the_lease() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0), election_tick=ET)
    node.step(MsgHeartbeat(frm=2, to=1, term=1, commit=0))
    node.advance(node.ready())
    node.step(MsgVote(frm=3, to=1, term=2, log_term=0, index=0, transfer=True))
    assert node.vote == 3 and node.term == 2


def test_one_vote_per_term_and_up_to_date_check() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0), election_tick=ET)
    node.step(MsgVote(frm=2, to=1, term=1, log_term=0, index=0))
    node.step(MsgVote(frm=3, to=1, term=1, log_term=0, index=0))
    msgs = node.ready().messages
    assert MsgVoteResp(frm=1, to=2, term=1) in msgs
    assert MsgVoteResp(frm=1, to=3, term=1, reject=True) in msgs
    assert node.vote == 2


def test_vote_refused_to_a_candidate_with_a_stale_log() -> None:
    c = Cluster(3, seed=6, pre_vote=False, check_quorum=False)
    c.elect(1)
    c.cut(1, 3)
    c.propose(1, b"x")  # reaches node 2 only
    c.stabilize()
    c.isolate(1)
    c.campaign(3)
    c.deliver_all()
    assert c.node(3).role is Role.CANDIDATE  # node 2 refused: its log is more up to date
    c.campaign(2)
    c.deliver_all()
    if c.node(2).role is not Role.LEADER:  # same term as 3's campaign: one more round
        c.campaign(2)
        c.deliver_all()
    assert c.node(2).role is Role.LEADER


def test_restart_keeps_term_vote_and_log() -> None:
    c = Cluster(3, seed=7)
    lead = c.run_until_leader(10 * ET)
    for k in range(5):
        c.propose(lead, b"v%d" % k)
    c.stabilize()
    before = {i: c.node(i).status() for i in c.ids}
    logs = {i: c.node(i).log_view().entries for i in c.ids}
    for i in c.ids:
        c.crash(i)
    for i in c.ids:
        c.restart(i)
    for i in c.ids:
        st = c.node(i).status()
        assert (st.term, st.vote, st.commit, st.last_index) == (
            before[i].term,
            before[i].vote,
            before[i].commit,
            before[i].last_index,
        )
        assert c.node(i).log_view().entries == logs[i]
    # Committed entries are handed out again and re-applied from the (empty) snapshot.
    c.stabilize()
    assert all(c.applied_data(i) == [b"v0", b"v1", b"v2", b"v3", b"v4"] for i in c.ids)
    c.run_until_leader(10 * ET)


def test_restarted_voter_does_not_vote_twice_in_a_term() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    node.step(MsgVote(frm=2, to=1, term=3, log_term=0, index=0))
    rd = node.ready()
    storage = PersistentState(rd.hard_state, None, rd.entries)  # type: ignore[arg-type]
    again = RaftNode(1, [1, 2, 3], rng=random.Random(1), storage=storage)
    again.step(MsgVote(frm=3, to=1, term=3, log_term=0, index=0))
    assert MsgVoteResp(frm=1, to=3, term=3, reject=True) in again.ready().messages


def test_crash_before_persisting_forgets_the_unpersisted_vote() -> None:
    c = Cluster(3, seed=8, auto_ready=False)
    c.node(1).step(MsgVote(frm=2, to=1, term=4, log_term=0, index=0))
    assert c.node(1).vote == 2
    c.crash(1)  # the Ready with the vote and its response was never processed
    c.restart(1)
    assert c.node(1).term == 0 and c.node(1).vote == 0
    assert not c.in_flight  # and nobody ever heard the vote


def test_stale_leader_learns_the_new_term_from_a_follower() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    node.step(MsgVote(frm=2, to=1, term=5, log_term=0, index=0))
    node.advance(node.ready())
    node.step(MsgApp(frm=3, to=1, term=2, log_term=0, index=0, entries=(), commit=0))
    msgs = node.ready().messages
    assert len(msgs) == 1 and msgs[0].term == 5 and msgs[0].to == 3


def test_leader_transfer_to_an_up_to_date_follower() -> None:
    c = Cluster(3, seed=9)
    c.elect(1)
    c.propose(1, b"a")
    c.stabilize()
    term = c.node(1).term
    c.node(1).transfer_leader(2)
    c.process_ready(1)
    assert any(isinstance(m, MsgTimeoutNow) for m in c.in_flight)
    c.deliver_all()
    assert c.leaders() == [2]
    assert c.node(2).term == term + 1
    assert c.node(1).lead == 2


def test_leader_transfer_catches_a_lagging_target_up_first() -> None:
    c = Cluster(3, seed=10)
    c.elect(1)
    c.cut(1, 3)
    for k in range(5):
        c.propose(1, b"v%d" % k)
    c.stabilize()
    assert c.node(3).status().last_index < c.node(1).status().last_index
    c.heal()
    c.node(1).transfer_leader(3)
    with pytest.raises(ProposalDropped):
        c.node(1).propose(b"during-transfer")
    c.process_ready(1)
    c.deliver_all()
    c.stabilize(ticks=2)
    assert c.leader() == 3
    assert c.node(3).status().last_index >= 6


def test_leader_transfer_is_abandoned_after_an_election_timeout() -> None:
    c = Cluster(3, seed=11, check_quorum=False)
    c.elect(1)
    c.isolate(3)
    c.node(1).transfer_leader(3)
    with pytest.raises(ProposalDropped):
        c.node(1).propose(b"x")
    for _ in range(ET):
        c.tick(1)
        c.deliver_all()
    assert c.node(1).role is Role.LEADER
    c.propose(1, b"x")  # accepted again


def test_transfer_and_propose_on_a_follower_raise_not_leader_with_hint() -> None:
    c = Cluster(3, seed=12)
    c.elect(2)
    with pytest.raises(NotLeader) as err:
        c.node(1).propose(b"x")
    assert err.value.leader_hint == 2
    with pytest.raises(NotLeader):
        c.node(3).transfer_leader(3)
    fresh = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    with pytest.raises(NotLeader) as err:
        fresh.propose(b"x")
    assert err.value.leader_hint is None


def test_single_node_elects_itself_and_commits_alone() -> None:
    c = Cluster(1, seed=13)
    lead = c.run_until_leader(3 * ET)
    assert lead == 1
    c.propose(1, b"solo")
    assert c.applied_data(1) == [b"solo"]


def test_unapplied_conf_change_blocks_campaigning() -> None:
    c = Cluster(3, seed=14, auto_ready=False)
    node = c.node(1)
    # White-box setup: a committed but unapplied membership change.
    node._log.append([Entry(1, 1, EntryType.CONF_CHANGE, b"")])
    node._log.commit_to(1)
    node.campaign()
    assert node.role is Role.FOLLOWER


def test_prevote_never_changes_the_voters_term_or_vote() -> None:
    node = RaftNode(1, [1, 2, 3], rng=random.Random(0))
    ents = (Entry(1, 1), Entry(1, 2))
    node.step(MsgApp(frm=2, to=1, term=1, log_term=0, index=0, entries=ents, commit=2))
    node.advance(node.ready())
    for _ in range(2 * ET):  # the leader went quiet: no lease any more
        node.tick()
    node.advance(node.ready())
    term, vote = node.term, node.vote
    # A pre-candidate with a stale log is refused; one with a good log is granted; in both
    # cases the voter's own term and vote stay as they were (thesis §9.6).
    node.step(MsgPreVote(frm=3, to=1, term=term + 1, log_term=1, index=1))
    node.step(MsgPreVote(frm=2, to=1, term=term + 1, log_term=1, index=2))
    msgs = node.ready().messages
    assert (node.term, node.vote) == (term, vote)
    assert MsgPreVoteResp(frm=1, to=3, term=term, reject=True) in msgs
    assert MsgPreVoteResp(frm=1, to=2, term=term + 1) in msgs


def test_a_stale_pre_candidate_cannot_raise_anyones_term() -> None:
    c = Cluster(3, seed=15)
    c.elect(1)
    c.cut(1, 3)
    c.propose(1, b"x")  # node 3 lags behind
    c.deliver_all()
    c.crash(1)
    terms = {i: c.node(i).term for i in (2, 3)}
    for _ in range(3):
        c.campaign(3)  # pre-votes with a stale log, and no lease to stop them
        c.deliver_all()
    assert {i: c.node(i).term for i in (2, 3)} == terms
