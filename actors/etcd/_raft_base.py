"""State and role transitions shared by every role of the Raft core.

What it is: the base of `RaftNode` (`_raft.py`). It owns the node's persistent state (term,
vote, log), its volatile state (role, leader, timers, progress, votes, pending reads) and the
transitions between roles. Role behaviour lives in `_raft_leader.py` and `_raft_follower.py`;
as in etcd-io/raft, becoming a role swaps the step and tick handlers.

Concurrency model: none. A node is driven by one caller through `tick()` and `step()`; it
never blocks, reads a clock, or does I/O. Outgoing messages are queued and handed to the shell
by `ready()`, which must persist the hard state and entries before sending them (§5.1: a
server must not answer an RPC with state it could forget).

Invariants:
* term never decreases; `vote` is reset exactly when the term changes;
* at most one vote per term (`vote` is persisted before the MsgVoteResp is sent);
* randomized election timeout in [election_tick, 2 * election_tick) (§5.2, etcd);
* node id 0 means "none" (no leader, no vote), so real ids are positive.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from actors.etcd._raft_log import RaftLog
from actors.etcd._raft_messages import (
    ConfChange,
    Entry,
    EntryType,
    HardState,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgPreVote,
    MsgPreVoteResp,
    MsgSnap,
    MsgVote,
    MsgVoteResp,
    RaftMessage,
)
from actors.etcd._raft_progress import Progress, ProgressTracker
from actors.etcd._raft_readonly import ReadOnly
from actors.etcd._raft_types import PersistentState, ReadState, Role, SoftState

__all__ = ["NONE", "RaftBase"]

NONE = 0


class RaftBase:
    """Fields and transitions; see the module docstring. Not used directly: see RaftNode."""

    def __init__(
        self,
        id: int,
        voters: Sequence[int],
        *,
        rng: random.Random,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        pre_vote: bool = True,
        check_quorum: bool = True,
        max_entries_per_msg: int = 256,
        max_inflight_msgs: int = 256,
        storage: PersistentState | None = None,
        unsafe_commit_old_term: bool = False,
    ) -> None:
        _validate_config(id, voters, election_tick, heartbeat_tick, max_entries_per_msg)
        if max_inflight_msgs < 1:
            raise ValueError(f"max_inflight_msgs must be >= 1, got {max_inflight_msgs}")
        self.id = id
        self._rng = rng
        self._election_timeout = election_tick
        self._heartbeat_timeout = heartbeat_tick
        self._pre_vote = pre_vote
        self._check_quorum = check_quorum
        self._max_entries = max_entries_per_msg
        self._max_inflight = max_inflight_msgs
        self._unsafe_commit_old_term = unsafe_commit_old_term

        hs = storage.hard_state if storage is not None else HardState()
        snap = storage.snapshot if storage is not None else None
        self._log = RaftLog(snap, storage.entries if storage is not None else (), hs.commit)
        config = tuple(sorted(set(snap.voters if snap is not None else voters)))
        # (index, voters): the configuration in force once the entry at `index` is applied;
        # compact() needs the one in force at the snapshot index.
        self._conf_history: list[tuple[int, tuple[int, ...]]] = [(self._log.offset, config)]
        self._trk = ProgressTracker(config)

        self.term = hs.term
        self.vote = hs.vote
        self.lead = NONE
        self.role = Role.FOLLOWER
        self.removed = False
        self._msgs: list[RaftMessage] = []
        self._read_states: list[ReadState] = []
        self._prev_hard = hs
        self._prev_soft = SoftState(NONE, Role.FOLLOWER)
        self._ready_outstanding = False
        self._step_role: Callable[[RaftMessage], None] = self._step_follower
        self._tick_role: Callable[[], None] = self._tick_election
        self.become_follower(self.term, NONE)

    # --- handlers provided by the role mixins --------------------------------------------

    def _step_follower(self, m: RaftMessage) -> None:
        raise NotImplementedError

    def _step_candidate(self, m: RaftMessage) -> None:
        raise NotImplementedError

    def _step_leader(self, m: RaftMessage) -> None:
        raise NotImplementedError

    def _tick_election(self) -> None:
        raise NotImplementedError

    def _tick_heartbeat(self) -> None:
        raise NotImplementedError

    def _bcast_heartbeat(self, ctx: bytes | None = None) -> None:
        raise NotImplementedError

    def _maybe_commit(self) -> bool:
        raise NotImplementedError

    def _bcast_append(self) -> None:
        raise NotImplementedError

    # --- small queries -------------------------------------------------------------------

    @property
    def voters(self) -> tuple[int, ...]:
        return self._trk.voters

    def _promotable(self) -> bool:
        """May this node campaign? Only a voter, not removed, not installing a snapshot."""
        return (
            not self.removed and self.id in self._trk.voters and self._log.pending_snapshot is None
        )

    def _hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self._log.committed)

    def _soft_state(self) -> SoftState:
        return SoftState(self.lead, self.role)

    def _committed_in_current_term(self) -> bool:
        return self._log.term(self._log.committed) == self.term

    def _send(self, m: RaftMessage) -> None:
        self._msgs.append(m)

    # --- role transitions (etcd-io/raft becomeFollower & co.) ----------------------------

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        # §5.2: randomized timeouts make split votes rare.
        self._randomized_election_timeout = self._election_timeout + self._rng.randrange(
            self._election_timeout
        )
        self._lead_transferee = NONE
        self._trk.reset_votes()
        self._trk.reset_progress(self._log.last_index(), self.id, self._max_inflight)
        self._pending_conf_index = 0
        # A deposed leader forgets every read it has not released (thesis §6.4).
        self._read_only = ReadOnly()
        self._reads_awaiting_commit: list[tuple[int, bytes]] = []

    def become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self._step_role = self._step_follower
        self._tick_role = self._tick_election
        self.lead = lead
        self.role = Role.FOLLOWER

    def _become_pre_candidate(self) -> None:
        # PreVote (thesis §9.6): neither the term nor the vote changes, so losing is free.
        assert self.role is not Role.LEADER, "a leader cannot become a pre-candidate"
        self._step_role = self._step_candidate
        self._tick_role = self._tick_election
        self._trk.reset_votes()
        self.lead = NONE
        self.role = Role.PRE_CANDIDATE

    def _become_candidate(self) -> None:
        assert self.role is not Role.LEADER, "a leader cannot become a candidate"
        self._reset(self.term + 1)
        self._step_role = self._step_candidate
        self._tick_role = self._tick_election
        self.vote = self.id
        self.role = Role.CANDIDATE

    def _become_leader(self) -> None:
        assert self.role is not Role.FOLLOWER, "a follower cannot become leader directly"
        self._reset(self.term)
        self._step_role = self._step_leader
        self._tick_role = self._tick_heartbeat
        self.lead = self.id
        self.role = Role.LEADER
        self._trk.progress[self.id].become_replicate()
        # §8: a no-op entry of the new term lets the leader commit everything before it
        # (§5.4.2 forbids committing older entries by counting replicas). Membership changes
        # wait until the no-op is applied: the fix for single-server changes that Ongaro
        # posted to raft-dev in 2015 (a leader must commit an entry of its term first).
        self._pending_conf_index = self._log.last_index() + 1
        self._append_entries([Entry(self.term, self._log.last_index() + 1, EntryType.NORMAL)])

    def _append_entries(self, entries: Sequence[Entry]) -> int:
        last = self._log.append(entries)
        self._trk.progress[self.id].maybe_update(last)
        self._maybe_commit()  # a lone voter commits at once
        return last

    # --- the common part of step (etcd-io/raft Step) -------------------------------------

    def _step(self, m: RaftMessage) -> None:
        if m.term == 0:
            pass  # local message (forwarded proposal or read), not subject to term rules
        elif m.term > self.term:
            if not self._accept_higher_term(m):
                return
        elif m.term < self.term:
            self._answer_stale(m)
            return
        if isinstance(m, MsgVote | MsgPreVote):
            self._handle_vote_request(m)
        else:
            self._step_role(m)

    def _accept_higher_term(self, m: RaftMessage) -> bool:
        if isinstance(m, MsgVote | MsgPreVote):
            # Thesis §4.2.3 / §9.6: a follower that heard from a live leader within the
            # minimum election timeout ignores (pre)votes, so a partitioned node that comes
            # back cannot depose a working leader. A transfer (§3.10) bypasses the lease.
            in_lease = (
                self._check_quorum
                and self.lead != NONE
                and self._election_elapsed < self._election_timeout
            )
            if in_lease and not m.transfer:
                return False
        if isinstance(m, MsgPreVote):
            return True  # never change term in response to a PreVote
        if isinstance(m, MsgPreVoteResp) and not m.reject:
            return True  # a granted pre-vote carries the term we would campaign in
        lead = m.frm if isinstance(m, MsgApp | MsgHeartbeat | MsgSnap) else NONE
        self.become_follower(m.term, lead)
        return True

    def _answer_stale(self, m: RaftMessage) -> None:
        if (self._check_quorum or self._pre_vote) and isinstance(m, MsgApp | MsgHeartbeat):
            # A leader whose term was overtaken while it was cut off must learn the new term,
            # or (with PreVote/CheckQuorum) nobody would ever tell it (etcd-io/raft).
            self._send(MsgAppResp(frm=self.id, to=m.frm, term=self.term, index=0))
        elif isinstance(m, MsgPreVote):
            # Tell the pre-candidate our term so it stops campaigning in a stale one.
            self._send(MsgPreVoteResp(frm=self.id, to=m.frm, term=self.term, reject=True))

    def _handle_vote_request(self, m: MsgVote | MsgPreVote) -> None:
        pre = isinstance(m, MsgPreVote)
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (pre and m.term > self.term)
        )
        # §5.4.1: only for a candidate whose log is at least as up to date as ours.
        grant = can_vote and self._log.is_up_to_date(m.index, m.log_term)
        resp_type = MsgPreVoteResp if pre else MsgVoteResp
        if grant:
            self._send(resp_type(frm=self.id, to=m.frm, term=m.term))
            if not pre:
                self._election_elapsed = 0
                self.vote = m.frm
        else:
            self._send(resp_type(frm=self.id, to=m.frm, term=self.term, reject=True))

    # --- membership ----------------------------------------------------------------------

    def _apply_conf_change(self, index: int, cc: ConfChange) -> None:
        """Switch to the configuration carried by an applied conf-change entry (apply-time
        changes, as etcd-io/raft does; thesis §4.1 describes the append-time variant)."""
        old = set(self._trk.voters)
        new = tuple(sorted(set(cc.voters)))
        self._conf_history.append((index, new))
        self._set_voters(new)
        if self.id in old and self.id not in new:
            self.removed = True
            self.become_follower(self.term, NONE)  # a removed node stops (thesis §4.2.2)

    def _set_voters(self, voters: tuple[int, ...]) -> None:
        self._trk.voters = voters
        if self.role is not Role.LEADER:
            return
        for gone in set(self._trk.progress) - set(voters):
            pr = self._trk.progress.pop(gone)
            if gone != self.id:
                # Best effort: let the removed node learn that its removal committed.
                commit = min(pr.match, self._log.committed)
                self._send(MsgHeartbeat(frm=self.id, to=gone, term=self.term, commit=commit))
            if gone == self._lead_transferee:
                self._lead_transferee = NONE
        self._trk.reset_votes()
        for new in set(voters) - set(self._trk.progress):
            pr = Progress(self._log.last_index() + 1, self._max_inflight)
            pr.recent_active = True  # give a new member one election timeout to answer
            self._trk.progress[new] = pr
        if self.id in voters:
            if self._maybe_commit():
                self._bcast_append()

    def _config_at(self, index: int) -> tuple[int, ...]:
        voters = self._conf_history[0][1]
        for at, v in self._conf_history:
            if at > index:
                break
            voters = v
        return voters

    def _trim_conf_history(self, index: int) -> None:
        keep = [(at, v) for at, v in self._conf_history if at > index]
        self._conf_history = [(index, self._config_at(index)), *keep]


def _validate_config(
    id: int, voters: Sequence[int], election_tick: int, heartbeat_tick: int, max_entries: int
) -> None:
    if id <= 0:
        raise ValueError(f"node ids must be positive (0 means none), got {id}")
    if any(v <= 0 for v in voters):
        raise ValueError(f"node ids must be positive (0 means none), got voters {voters}")
    if heartbeat_tick <= 0:
        raise ValueError(f"heartbeat_tick must be > 0, got {heartbeat_tick}")
    if election_tick <= heartbeat_tick:
        raise ValueError(
            f"election_tick ({election_tick}) must exceed heartbeat_tick ({heartbeat_tick})"
        )
    if max_entries < 1:
        raise ValueError(f"max_entries_per_msg must be >= 1, got {max_entries}")
