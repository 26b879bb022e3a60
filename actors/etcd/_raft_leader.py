"""Leader behaviour of the Raft core: replication, commitment, CheckQuorum, ReadIndex, transfer.

What it is: the step and tick handlers a node uses while it is the leader.
* Replication (§5.3) with per-follower flow control (`_raft_progress`): probe one MsgApp at a
  time until the follower's log matches, then stream; followers whose entries were compacted
  get the latest snapshot (§7).
* Commitment (§5.4.2): the commit index only moves to an index that a quorum of voters holds
  AND whose entry is from the current term. `unsafe_commit_old_term` drops the second
  condition, which is exactly the bug of the paper's Figure 8; it exists for tests only.
* CheckQuorum (etcd-io/raft, thesis §6.2): a leader that has not heard from a quorum within an
  election timeout steps down.
* ReadIndex (thesis §6.4): a read is released at the commit index noted on arrival, once a
  heartbeat round carrying its context is acknowledged by a quorum, and only after the leader
  has committed an entry of its own term (so its commit index is up to date).
* Leadership transfer (thesis §3.10): catch the target up, then send it MsgTimeoutNow; new
  proposals are refused meanwhile; the transfer is abandoned after an election timeout.

Concurrency model: none; methods of RaftNode, called synchronously from tick() and step().

Invariants: the leader never overwrites or deletes its own entries (Leader Append-Only); the
commit index never decreases; heartbeats never tell a follower to commit beyond its match.
"""

from __future__ import annotations

from actors.etcd._raft_base import NONE, RaftBase
from actors.etcd._raft_messages import (
    Entry,
    EntryType,
    MsgApp,
    MsgAppResp,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgProp,
    MsgReadIndex,
    MsgReadIndexResp,
    MsgSnap,
    MsgTimeoutNow,
    RaftMessage,
)
from actors.etcd._raft_progress import Progress, ProgressState
from actors.etcd._raft_types import ReadState, Role

__all__ = ["LeaderMixin"]


class LeaderMixin(RaftBase):
    # --- timers --------------------------------------------------------------------------

    def _tick_heartbeat(self) -> None:
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self._election_timeout:
            self._election_elapsed = 0
            if self._check_quorum:
                self._check_quorum_active()
            if self.role is Role.LEADER:
                # A transfer that did not finish within an election timeout is abandoned.
                self._lead_transferee = NONE
                self._retry_stale_snapshots()
        if self.role is not Role.LEADER:
            return
        if self._heartbeat_elapsed >= self._heartbeat_timeout:
            self._heartbeat_elapsed = 0
            self._bcast_heartbeat()

    def _check_quorum_active(self) -> None:
        if not self._trk.quorum_active(self.id):
            self.become_follower(self.term, NONE)
            return
        for node, pr in self._trk.progress.items():
            if node != self.id:
                pr.recent_active = False

    def _retry_stale_snapshots(self) -> None:
        # etcd-io/raft relies on the application to report a lost snapshot. Our shell has no
        # such signal, so a snapshot unacknowledged for a whole election timeout (checked
        # twice, so between one and two timeouts) is presumed lost and the follower probed.
        for pr in self._trk.progress.values():
            if pr.state is ProgressState.SNAPSHOT:
                if pr.snapshot_stale:
                    pr.pending_snapshot = 0
                    pr.become_probe()
                else:
                    pr.snapshot_stale = True

    # --- sending -------------------------------------------------------------------------

    def _maybe_send_append(self, to: int, *, send_if_empty: bool = True) -> bool:
        pr = self._trk.progress[to]
        if pr.is_paused():
            return False
        log = self._log
        prev_index = pr.next - 1
        if prev_index < log.offset:
            return self._send_snapshot(to, pr)
        prev_term = log.term(prev_index)
        assert prev_term is not None, (to, pr, log.offset, log.last_index())
        entries = log.slice(pr.next, pr.next + self._max_entries)
        if not entries and not send_if_empty:
            return False
        self._send(
            MsgApp(
                frm=self.id,
                to=to,
                term=self.term,
                log_term=prev_term,
                index=prev_index,
                entries=tuple(entries),
                commit=log.committed,
            )
        )
        pr.sent_entries(entries[-1].index if entries else prev_index, len(entries))
        return True

    def _send_snapshot(self, to: int, pr: Progress) -> bool:
        if not pr.recent_active:
            return False  # do not ship a snapshot to a node that may well be down
        snap = self._log.snapshot
        assert snap is not None, "entries are compacted, so a snapshot exists"
        self._send(MsgSnap(frm=self.id, to=to, term=self.term, snapshot=snap))
        pr.become_snapshot(snap.index)
        return True

    def _bcast_append(self) -> None:
        for node in self._trk.progress:
            if node != self.id:
                self._maybe_send_append(node)

    def _bcast_heartbeat(self, ctx: bytes | None = None) -> None:
        if ctx is None:
            ctx = self._read_only.last_pending_ctx()
        for node, pr in self._trk.progress.items():
            if node != self.id:
                # Never let a follower commit past what we know it shares with us (§5.3).
                commit = min(pr.match, self._log.committed)
                self._send(
                    MsgHeartbeat(frm=self.id, to=node, term=self.term, commit=commit, ctx=ctx)
                )

    def _send_timeout_now(self, to: int) -> None:
        self._send(MsgTimeoutNow(frm=self.id, to=to, term=self.term))

    # --- commitment ----------------------------------------------------------------------

    def _maybe_commit(self) -> bool:
        if self.role is not Role.LEADER or self.id not in self._trk.progress:
            return False
        committed = self._log.maybe_commit(
            self._trk.committed(), self.term, any_term=self._unsafe_commit_old_term
        )
        if committed and self._reads_awaiting_commit and self._committed_in_current_term():
            waiting, self._reads_awaiting_commit = self._reads_awaiting_commit, []
            for requester, ctx in waiting:
                self._leader_read_index(requester, ctx)
        return committed

    # --- step ----------------------------------------------------------------------------

    def _step_leader(self, m: RaftMessage) -> None:
        match m:
            case MsgProp():
                if self._lead_transferee == NONE and not self.removed:
                    self._leader_propose(m.data)
            case MsgReadIndex():
                self._leader_read_index(m.frm, m.ctx)
            case MsgAppResp():
                if (pr := self._trk.progress.get(m.frm)) is not None:
                    self._handle_append_response(m, pr)
            case MsgHeartbeatResp():
                if (pr := self._trk.progress.get(m.frm)) is not None:
                    self._handle_heartbeat_response(m, pr)
            case MsgApp() | MsgHeartbeat() | MsgSnap():
                raise AssertionError(
                    f"election safety violated: node {self.id} and node {m.frm} both lead "
                    f"term {self.term}"
                )
            case _:
                pass  # late vote responses and the like

    def _leader_propose(self, data: bytes, type: int = EntryType.NORMAL) -> int:
        index = self._log.last_index() + 1
        self._append_entries([Entry(self.term, index, type, data)])
        self._bcast_append()
        return index

    def _handle_append_response(self, m: MsgAppResp, pr: Progress) -> None:
        pr.recent_active = True
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                # Skip, on our side too, every entry whose term is above the follower's hint.
                hint, _ = self._log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._maybe_send_append(m.frm)
            return
        was_paused = pr.is_paused()
        updated = pr.maybe_update(m.index)
        # A probe answered at the match we already knew still proves the logs agree there.
        if not updated and not (pr.state is ProgressState.PROBE and pr.match == m.index):
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT and pr.match + 1 >= self._log.first_index():
            # The snapshot (or something newer) arrived: we can continue from our log.
            pr.become_probe()
            pr.become_replicate()
        else:
            pr.free_inflights_up_to(m.index)
        if self._maybe_commit():
            self._bcast_append()
        elif was_paused:
            self._maybe_send_append(m.frm)
        while self._maybe_send_append(m.frm, send_if_empty=False):
            pass
        if m.frm == self._lead_transferee and pr.match == self._log.last_index():
            self._send_timeout_now(m.frm)

    def _handle_heartbeat_response(self, m: MsgHeartbeatResp, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state is ProgressState.REPLICATE and pr.is_paused():
            pr.inflights.popleft()  # a MsgApp may have been lost; let one more through
        if pr.match < self._log.last_index():
            self._maybe_send_append(m.frm)
        if not m.ctx:
            return
        acks = self._read_only.recv_ack(m.frm, m.ctx)
        if not self._trk.has_quorum(acks):
            return
        for req in self._read_only.advance(m.ctx):
            self._release_read(req.requester, req.index, req.ctx)

    # --- reads and transfers -------------------------------------------------------------

    def _leader_read_index(self, requester: int, ctx: bytes) -> None:
        if not self._committed_in_current_term():
            # Our commit index may lag the real one until our no-op commits (thesis §6.4).
            self._reads_awaiting_commit.append((requester, ctx))
            return
        index = self._log.committed
        if self._trk.voters == (self.id,):
            self._release_read(requester, index, ctx)
            return
        if self._read_only.add_request(index, requester, ctx):
            self._read_only.recv_ack(self.id, ctx)
            self._bcast_heartbeat(ctx)

    def _release_read(self, requester: int, index: int, ctx: bytes) -> None:
        if requester in (self.id, NONE):
            self._read_states.append(ReadState(index, ctx))
        else:
            self._send(
                MsgReadIndexResp(frm=self.id, to=requester, term=self.term, index=index, ctx=ctx)
            )

    def _leader_transfer(self, to: int) -> None:
        if to == self.id or to == self._lead_transferee:
            return
        self._election_elapsed = 0  # the transfer must finish within one election timeout
        self._lead_transferee = to
        if self._trk.progress[to].match == self._log.last_index():
            self._send_timeout_now(to)
        else:
            self._maybe_send_append(to)
