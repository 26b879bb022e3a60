"""A pure, synchronous Raft consensus core in the etcd-io/raft shape.

What it is: `RaftNode`, one member of a Raft group (Ongaro & Ousterhout, "In Search of an
Understandable Consensus Algorithm", and Ongaro's thesis), with PreVote (§9.6), CheckQuorum,
ReadIndex reads (§6.4), leadership transfer (§3.10), snapshots (§7) and single-server
membership changes (§4.1). It does no I/O, reads no clock and owns no thread: time is `tick()`,
input is `step(msg)`, output is `ready()`. Randomness comes only from the `random.Random`
passed in.

The shell's loop (exactly the etcd-io/raft contract):

    node.tick()                       # every heartbeat interval (100 ms => etcd defaults)
    node.step(msg)                    # for every message received
    while node.has_ready():
        rd = node.ready()
        persist(rd.hard_state, rd.snapshot, rd.entries)   # 1. stable storage first
        send(rd.messages)                                 # 2. then the network
        apply(rd.snapshot, rd.committed_entries)          # 3. then the state machine
        serve(rd.read_states)         # once applied index >= read_state.index
        node.advance(rd)              # 4. acknowledge

Design decisions the shell should know:
* `propose()` on a non-leader raises `NotLeader(leader_hint)`; it does not forward. (The
  leader does accept `MsgProp` messages, so a shell may forward proposals itself.)
* `read_index()` on a follower is forwarded to the leader; the answer arrives later as a
  `ReadState` in a Ready. Without a known leader it raises `NotLeader(None)`.
* `propose()` returns the index the entry got; the proposal succeeded iff the committed entry
  at that index has the term the leader had (`status().term`) when proposing.
* Membership changes take effect when the conf-change entry is *applied* (i.e. at
  `advance()` of the Ready that handed it out), as in etcd-io/raft, one at a time, and only
  after the leader has applied the no-op of its term. A node that applies its own removal
  steps down and ignores all further input (`status().removed`).
* A node joining an existing group is constructed with `voters=()`: it does not campaign until
  it has applied the entry (or installed the snapshot) that makes it a voter.
* Restarting: pass the `PersistentState` reloaded from disk (and the same bootstrap voters).
  The state machine restarts from the snapshot; committed entries after it are re-delivered.

Concurrency model: none; one caller drives a node synchronously. Call `advance()` before
asking for the next Ready; `step()`/`tick()` may be called in between.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from actors.etcd._raft_base import NONE
from actors.etcd._raft_follower import FollowerMixin
from actors.etcd._raft_leader import LeaderMixin
from actors.etcd._raft_messages import (
    ConfChange,
    Entry,
    EntryType,
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
    RaftMessage,
    Snapshot,
    decode_conf_change,
    decode_message,
    encode_conf_change,
    encode_message,
)
from actors.etcd._raft_types import (
    Compacted,
    ConfChangeInProgress,
    NotLeader,
    PersistentState,
    ProposalDropped,
    RaftError,
    ReadState,
    Ready,
    Role,
    SoftState,
    Status,
    fault_tolerance,
    quorum,
)

__all__ = [
    "Compacted",
    "ConfChange",
    "ConfChangeInProgress",
    "Entry",
    "EntryType",
    "HardState",
    "LogView",
    "MsgApp",
    "MsgAppResp",
    "MsgHeartbeat",
    "MsgHeartbeatResp",
    "MsgPreVote",
    "MsgPreVoteResp",
    "MsgProp",
    "MsgReadIndex",
    "MsgReadIndexResp",
    "MsgSnap",
    "MsgTimeoutNow",
    "MsgVote",
    "MsgVoteResp",
    "NotLeader",
    "PersistentState",
    "ProposalDropped",
    "RaftError",
    "RaftMessage",
    "RaftNode",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SoftState",
    "Status",
    "decode_conf_change",
    "decode_message",
    "encode_conf_change",
    "encode_message",
    "fault_tolerance",
    "quorum",
]


class LogView(msgspec.Struct, frozen=True):
    """A read-only copy of a node's log, for diagnostics and invariant checks."""

    snapshot_index: int
    snapshot_term: int
    entries: tuple[Entry, ...]
    committed: int
    applied: int


class RaftNode(LeaderMixin, FollowerMixin):
    """One Raft member. Constructor:

    `RaftNode(id, voters, *, rng, election_tick=10, heartbeat_tick=1, pre_vote=True,
    check_quorum=True, max_entries_per_msg=256, max_inflight_msgs=256, storage=None,
    unsafe_commit_old_term=False)`

    `unsafe_commit_old_term=True` breaks Raft on purpose (commits old-term entries by counting
    replicas, paper §5.4.2 / Figure 8); it exists only to show the safety tests catch it.
    """

    # --- input ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance logical time by one heartbeat interval."""
        if not self.removed:
            self._tick_role()

    def step(self, msg: RaftMessage) -> None:
        """Feed one message received from the network (or forwarded by a shell)."""
        if msg.to != self.id:
            raise ValueError(f"message for node {msg.to} stepped into node {self.id}: {msg!r}")
        if not self.removed:
            self._step(msg)

    def campaign(self) -> None:
        """Start an election now (a pre-vote first if PreVote is on). No-op on a leader."""
        self._hup(transfer=False)

    def propose(self, data: bytes) -> int:
        """Append `data` to the log; returns its index. Leader only."""
        if not data:
            raise ValueError("empty data is reserved for the leader's no-op entries")
        self._check_can_propose()
        return self._leader_propose(data)

    def propose_batch(self, datas: Sequence[bytes]) -> int:
        """Append several entries at once and replicate them together (etcd-io/raft: one
        MsgProp carrying many entries); returns the index of the first. Leader only."""
        if not datas or not all(datas):
            raise ValueError("a batch needs entries, and empty data is reserved for no-ops")
        self._check_can_propose()
        first = self._log.last_index() + 1
        self._append_entries([Entry(self.term, first + k, EntryType.NORMAL, d) for k, d in enumerate(datas)])
        self._bcast_append()
        return first

    def propose_conf_change(self, cc: ConfChange) -> int:
        """Propose adding or removing one voter; returns the entry's index. Leader only."""
        self._check_can_propose()
        if self._pending_conf_index > self._log.applied:
            raise ConfChangeInProgress(
                f"a membership change (or this term's no-op) at index {self._pending_conf_index} "
                f"is not applied yet (applied {self._log.applied})"
            )
        voters = set(self._trk.voters)
        if cc.type not in ("add", "remove"):
            raise ValueError(f"unknown conf change type {cc.type!r}")
        if cc.type == "add":
            if cc.node_id in voters or cc.node_id <= 0:
                raise ValueError(f"cannot add node {cc.node_id} to voters {sorted(voters)}")
            voters.add(cc.node_id)
        else:
            if cc.node_id not in voters or len(voters) == 1:
                raise ValueError(f"cannot remove node {cc.node_id} from voters {sorted(voters)}")
            voters.discard(cc.node_id)
        data = encode_conf_change(msgspec.structs.replace(cc, voters=tuple(sorted(voters))))
        index = self._leader_propose(data, EntryType.CONF_CHANGE)
        self._pending_conf_index = index
        return index

    def read_index(self, ctx: bytes) -> None:
        """Request a linearizable read point (thesis §6.4). The answer is a ReadState with the
        same `ctx` in a later Ready; serve the read once the applied index reaches it. `ctx`
        must be unique among outstanding reads. Followers forward to the leader."""
        if not ctx:
            raise ValueError("a read needs a non-empty, unique ctx")
        if self.removed:
            raise ProposalDropped("this node was removed from the group")
        if self.role is Role.LEADER:
            self._leader_read_index(self.id, ctx)
        elif self.lead == NONE:
            raise NotLeader(None)
        else:
            self._step_follower(MsgReadIndex(frm=self.id, to=self.id, term=0, ctx=ctx))

    def transfer_leader(self, to: int) -> None:
        """Hand leadership to voter `to` (thesis §3.10). Leader only."""
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        if to not in self._trk.voters:
            raise ValueError(f"cannot transfer leadership to non-voter {to}")
        self._leader_transfer(to)

    def _check_can_propose(self) -> None:
        if self.removed:
            raise ProposalDropped("this node was removed from the group")
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead or None)
        if self._lead_transferee != NONE:
            raise ProposalDropped(f"leadership is being transferred to {self._lead_transferee}")

    # --- output --------------------------------------------------------------------------

    def has_ready(self) -> bool:
        log = self._log
        return bool(
            self._msgs
            or self._read_states
            or log.pending_snapshot is not None
            or log.stabled < log.last_index()
            or (log.committed > max(log.applied, log.offset))
            or self._hard_state() != self._prev_hard
            or self._soft_state() != self._prev_soft
        )

    def ready(self) -> Ready:
        if self._ready_outstanding:
            raise RuntimeError("ready() called again before advance() of the previous Ready")
        soft, hard = self._soft_state(), self._hard_state()
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            hard_state=hard if hard != self._prev_hard else None,
            entries=tuple(self._log.unstable_entries()),
            snapshot=self._log.pending_snapshot,
            messages=tuple(self._msgs),
            committed_entries=tuple(self._log.next_committed_entries()),
            read_states=tuple(self._read_states),
        )
        self._msgs = []
        self._read_states = []
        self._ready_outstanding = True
        return rd

    def advance(self, rd: Ready) -> None:
        """The shell has persisted, sent and applied `rd`."""
        if not self._ready_outstanding:
            raise RuntimeError("advance() without an outstanding Ready")
        self._ready_outstanding = False
        if rd.soft_state is not None:
            self._prev_soft = rd.soft_state
        if rd.hard_state is not None:
            self._prev_hard = rd.hard_state
        if rd.snapshot is not None:
            self._log.snapshot_applied(rd.snapshot)
        # Entries overwritten since this Ready was made stay unstable (persisted again later);
        # by Log Matching, the longest still-matching prefix of rd.entries is on disk as is.
        for e in reversed(rd.entries):
            if self._log.match_term(e.index, e.term):
                self._log.stable_to(e.index, e.term)
                break
        for e in rd.committed_entries:
            self._log.applied_to(e.index)
            if e.type == EntryType.CONF_CHANGE:
                self._apply_conf_change(e.index, decode_conf_change(e.data))

    def compact(self, index: int, data: bytes) -> Snapshot:
        """The application snapshotted its state machine at applied `index`: discard the log
        up to it. Returns the Snapshot, which the shell must persist (replacing the older one
        and dropping persisted entries up to `index`)."""
        if index <= self._log.offset:
            raise Compacted(f"index {index} is already compacted (snapshot at {self._log.offset})")
        if index > self._log.applied:
            raise ValueError(f"cannot compact up to {index}: only {self._log.applied} is applied")
        term = self._log.term(index)
        assert term is not None
        snap = Snapshot(index=index, term=term, voters=self._config_at(index), data=data)
        self._log.compact(snap)
        self._trim_conf_history(index)
        return snap

    def status(self) -> Status:
        return Status(
            id=self.id,
            term=self.term,
            vote=self.vote,
            commit=self._log.committed,
            applied=self._log.applied,
            lead=self.lead,
            role=self.role,
            voters=self._trk.voters,
            last_index=self._log.last_index(),
            removed=self.removed,
        )

    def log_view(self) -> LogView:
        log = self._log
        return LogView(
            snapshot_index=log.offset,
            snapshot_term=log.offset_term,
            entries=tuple(log.entries),
            committed=log.committed,
            applied=log.applied,
        )
