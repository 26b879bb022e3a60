"""Unit tests for the Raft core's parts (log, progress, read queue, messages) and its contract
with the shell (Ready/advance, validation, purity of the modules)."""

from __future__ import annotations

import ast
import pathlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.etcd._raft import (
    ConfChange,
    Entry,
    HardState,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgPreVote,
    MsgPreVoteResp,
    MsgProp,
    MsgReadIndex,
    MsgReadIndexResp,
    MsgSnap,
    MsgTimeoutNow,
    MsgVote,
    MsgVoteResp,
    PersistentState,
    RaftMessage,
    RaftNode,
    Ready,
    Role,
    Snapshot,
    decode_conf_change,
    decode_message,
    encode_conf_change,
    encode_message,
)
from actors.etcd._raft_log import RaftLog
from actors.etcd._raft_progress import Progress, ProgressState, ProgressTracker, VoteResult
from actors.etcd._raft_readonly import ReadOnly

ROOT = pathlib.Path(__file__).resolve().parents[3]
RAFT_MODULES = sorted((ROOT / "actors" / "etcd").glob("_raft*.py"))


def _log(terms: list[int], commit: int = 0) -> RaftLog:
    return RaftLog(None, [Entry(t, i) for i, t in enumerate(terms, 1)], commit)


# --- RaftLog ------------------------------------------------------------------------------


def test_log_terms_and_up_to_date() -> None:
    log = _log([1, 1, 2])
    assert (log.first_index(), log.last_index(), log.last_term()) == (1, 3, 2)
    assert [log.term(i) for i in range(5)] == [0, 1, 1, 2, None]
    assert log.is_up_to_date(3, 2) and log.is_up_to_date(1, 3)
    assert not log.is_up_to_date(2, 2) and not log.is_up_to_date(9, 1)


def test_log_maybe_append_truncates_conflicts_only() -> None:
    log = _log([1, 1, 1, 1])
    assert log.maybe_append(1, 1, 0, [Entry(1, 2), Entry(1, 3)]) == 3
    assert log.last_index() == 4  # no conflict: nothing truncated
    assert log.maybe_append(2, 1, 2, [Entry(2, 3)]) == 3
    assert [e.term for e in log.entries] == [1, 1, 2] and log.committed == 2
    assert log.maybe_append(3, 1, 0, []) is None  # (3, 1) is not in the log
    assert log.stabled == 2  # the overwritten entry must be persisted again


def test_log_refuses_to_truncate_committed_entries() -> None:
    log = _log([1, 1], commit=2)
    with pytest.raises(AssertionError):
        log.append([Entry(2, 2)])


def test_find_conflict_by_term() -> None:
    log = _log([1, 1, 2, 2, 5])
    assert log.find_conflict_by_term(5, 4) == (4, 2)
    assert log.find_conflict_by_term(5, 1) == (2, 1)
    assert log.find_conflict_by_term(9, 9) == (5, 5)  # clamped to the last index
    assert log.find_conflict_by_term(2, 0) == (0, 0)


def test_log_compact_and_restore() -> None:
    log = _log([1, 1, 2, 2], commit=4)
    log.applied_to(3)
    with pytest.raises(ValueError):
        log.compact(Snapshot(4, 2, (1,)))
    log.compact(Snapshot(3, 2, (1,)))
    assert (log.offset, log.offset_term, log.first_index()) == (3, 2, 4)
    assert log.term(2) is None and log.term(3) == 2
    log.restore(Snapshot(10, 3, (1, 2)))
    assert (log.last_index(), log.committed, log.pending_snapshot) == (
        10,
        10,
        Snapshot(10, 3, (1, 2)),
    )
    assert log.next_committed_entries() == []


def test_log_rejects_holes_in_persisted_entries() -> None:
    with pytest.raises(ValueError):
        RaftLog(None, [Entry(1, 1), Entry(1, 3)], 0)


@settings(max_examples=200, deadline=None)
@given(
    base=st.lists(st.integers(1, 3), max_size=8).map(sorted),
    prev=st.integers(0, 9),
    new_terms=st.lists(st.integers(1, 4), max_size=5).map(sorted),
)
def test_log_matching_after_maybe_append(base: list[int], prev: int, new_terms: list[int]) -> None:
    """After a successful append, the log holds the leader's entries at their indices."""
    log = _log(base)
    leader_prev_term = log.term(prev)
    if leader_prev_term is None:
        return
    new_terms = [max(t, leader_prev_term) for t in new_terms]
    ents = [Entry(t, prev + 1 + k, data=b"n") for k, t in enumerate(new_terms)]
    assert log.maybe_append(prev, leader_prev_term, 0, ents) == prev + len(ents)
    for e in ents:
        assert log.entry(e.index).term == e.term
    terms = [e.term for e in log.entries]
    assert terms == sorted(terms)


# --- Progress and tracker ----------------------------------------------------------------


def test_progress_probe_replicate_snapshot_cycle() -> None:
    pr = Progress(next_index=11, max_inflight=2)
    assert pr.state is ProgressState.PROBE and not pr.is_paused()
    pr.sent_entries(12, 2)
    assert pr.is_paused()  # one probe at a time
    assert not pr.maybe_decr_to(5, 3)  # not the outstanding probe: stale
    assert pr.maybe_decr_to(10, 3) and pr.next == 4 and not pr.is_paused()
    assert pr.maybe_update(6)
    pr.become_replicate()
    pr.sent_entries(8, 2)
    pr.sent_entries(10, 2)
    assert pr.is_paused() and pr.next == 11  # the inflight window is full
    pr.free_inflights_up_to(8)
    assert not pr.is_paused()
    assert not pr.maybe_decr_to(6, 0)  # at or below match: stale
    assert pr.maybe_decr_to(9, 0) and pr.next == 7
    pr.become_snapshot(20)
    assert pr.is_paused()
    pr.become_probe()
    assert pr.next == 21


def test_votes_from_non_voters_never_count() -> None:
    trk = ProgressTracker([1, 2, 3])
    trk.record_vote(1, True)
    trk.record_vote(7, True)
    trk.record_vote(8, True)
    assert trk.vote_result() is VoteResult.PENDING
    assert trk.committed is not None and not trk.has_quorum({1, 7, 8})


def test_tracker_commit_index_and_votes() -> None:
    trk = ProgressTracker([1, 2, 3, 4, 5])
    trk.reset_progress(10, self_id=1, max_inflight=4)
    for node, match in {2: 9, 3: 7, 4: 3}.items():
        trk.progress[node].match = match
    assert trk.committed() == 7
    trk.record_vote(1, True)
    trk.record_vote(9, True)  # not a voter: ignored
    trk.record_vote(2, False)
    trk.record_vote(2, True)  # the first answer counts
    assert trk.vote_result() is VoteResult.PENDING
    trk.record_vote(3, False)
    trk.record_vote(4, False)
    assert trk.vote_result() is VoteResult.LOST
    assert trk.has_quorum({1, 2, 3}) and not trk.has_quorum({1, 2, 9})


def test_readonly_releases_in_order_and_ignores_duplicates() -> None:
    ro = ReadOnly()
    assert ro.add_request(5, 1, b"a") and ro.add_request(6, 2, b"b")
    assert not ro.add_request(7, 1, b"a")
    assert ro.last_pending_ctx() == b"b"
    assert ro.recv_ack(3, b"zzz") == frozenset()
    released = ro.advance(b"b")
    assert [(r.ctx, r.index, r.requester) for r in released] == [(b"a", 5, 1), (b"b", 6, 2)]
    assert len(ro) == 0 and ro.advance(b"a") == []


# --- messages -----------------------------------------------------------------------------

ALL_MESSAGES: list[RaftMessage] = [
    MsgApp(1, 2, 3, 2, 7, (Entry(3, 8, 0, b"x"), Entry(3, 9, 1, b"y")), 6),
    MsgAppResp(2, 1, 3, 7, True, 5, 2),
    MsgVote(1, 2, 3, 2, 7, True),
    MsgVoteResp(2, 1, 3, True),
    MsgPreVote(1, 2, 4, 2, 7),
    MsgPreVoteResp(2, 1, 4),
    MsgHeartbeat(1, 2, 3, 5, b"ctx"),
    MsgHeartbeatResp(2, 1, 3, b"ctx"),
    MsgSnap(1, 2, 3, Snapshot(10, 2, (1, 2, 3), b"state")),
    MsgTimeoutNow(1, 2, 3),
    MsgReadIndex(2, 1, 0, b"r"),
    MsgReadIndexResp(1, 2, 3, 9, b"r"),
    MsgProp(2, 1, 0, b"p"),
]


@pytest.mark.parametrize("msg", ALL_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_msgpack(msg: RaftMessage) -> None:
    assert decode_message(encode_message(msg)) == msg
    with pytest.raises(AttributeError):  # frozen
        msg.term = 99  # type: ignore[misc]


def test_message_tags_are_explicit_and_unique() -> None:
    tags = [type(m).__struct_config__.tag for m in ALL_MESSAGES]
    assert all(isinstance(t, str) and t.startswith("raft.") for t in tags)
    assert len(set(tags)) == len(tags)
    assert {"raft.app", "raft.vote", "raft.hb", "raft.prop", "raft.timeoutnow"} <= set(tags)


def test_conf_change_codec() -> None:
    cc = ConfChange("add", 4, (1, 2, 3, 4))
    assert decode_conf_change(encode_conf_change(cc)) == cc


# --- the node's contract with its shell ---------------------------------------------------


def _node(**kw: object) -> RaftNode:
    return RaftNode(1, [1, 2, 3], rng=random.Random(0), **kw)  # type: ignore[arg-type]


def test_constructor_validation() -> None:
    for bad in (
        {"election_tick": 1, "heartbeat_tick": 1},
        {"heartbeat_tick": 0},
        {"max_entries_per_msg": 0},
        {"max_inflight_msgs": 0},
    ):
        with pytest.raises(ValueError):
            _node(**bad)
    with pytest.raises(ValueError):
        RaftNode(0, [1], rng=random.Random(0))


def test_ready_advance_contract() -> None:
    node = _node()
    assert not node.has_ready()
    with pytest.raises(RuntimeError):  # no Ready outstanding
        node.advance(Ready(None, None, (), None, (), (), ()))
    node.campaign()
    assert node.has_ready()
    rd = node.ready()
    assert rd.soft_state is not None and rd.soft_state.role is Role.PRE_CANDIDATE
    assert rd.hard_state is None  # PreVote changes neither term nor vote
    assert {m.to for m in rd.messages} == {2, 3}
    with pytest.raises(RuntimeError):
        node.ready()
    node.advance(rd)
    assert not node.has_ready()


def test_entries_overwritten_between_ready_and_advance_are_handed_out_again() -> None:
    node = _node()
    old = (Entry(1, 1, data=b"a"), Entry(1, 2, data=b"b"))
    node.step(MsgApp(frm=2, to=1, term=1, log_term=0, index=0, entries=old, commit=0))
    rd = node.ready()
    assert rd.entries == old
    # Before the shell acknowledges, a new leader overwrites index 2.
    new = Entry(2, 2, data=b"B")
    node.step(MsgApp(frm=3, to=1, term=2, log_term=1, index=1, entries=(new,), commit=0))
    node.advance(rd)
    assert node.ready().entries == (new,)


def test_step_rejects_a_message_for_another_node() -> None:
    with pytest.raises(ValueError):
        _node().step(MsgHeartbeat(frm=2, to=3, term=1, commit=0))


def test_propose_refuses_empty_data() -> None:
    node = RaftNode(1, [1], rng=random.Random(0))
    node.campaign()
    with pytest.raises(ValueError):
        node.propose(b"")


def test_restart_from_snapshot_storage() -> None:
    snap = Snapshot(5, 2, (1, 2, 3), b"sm")
    storage = PersistentState(HardState(3, 2, 6), snap, (Entry(2, 5), Entry(3, 6), Entry(3, 7)))
    node = RaftNode(1, [9], rng=random.Random(0), storage=storage)
    st = node.status()
    assert (st.term, st.vote, st.commit, st.applied, st.last_index) == (3, 2, 6, 5, 7)
    assert st.voters == (1, 2, 3)  # from the snapshot, not the bootstrap argument
    rd = node.ready()
    assert [e.index for e in rd.committed_entries] == [6]
    assert rd.hard_state is None and rd.entries == ()


def test_randomness_comes_only_from_the_given_rng() -> None:
    rng = random.Random(3)
    state, global_state = rng.getstate(), random.getstate()
    node = RaftNode(1, [1, 2, 3], rng=rng)
    for _ in range(40):
        node.tick()
    node.step(MsgVote(frm=2, to=1, term=9, log_term=0, index=0))
    assert rng.getstate() != state  # it was used ...
    assert random.getstate() == global_state  # ... and the global generator was not


# --- purity and size ----------------------------------------------------------------------


@pytest.mark.parametrize("path", RAFT_MODULES, ids=lambda p: p.name)
def test_raft_modules_import_only_stdlib_msgspec_and_each_other(path: pathlib.Path) -> None:
    allowed = {"__future__", "collections", "enum", "random", "typing", "msgspec"}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in allowed or name.startswith("actors.etcd._raft"), (path.name, name)
    text = path.read_text()
    for banned in ("time.", "datetime", "asyncio", "anyio", "threading", "socket", "open("):
        assert banned not in text, (path.name, banned)


@pytest.mark.parametrize("path", RAFT_MODULES, ids=lambda p: p.name)
def test_raft_modules_are_small_and_documented(path: pathlib.Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) < 500
    assert ast.get_docstring(ast.parse(text))
