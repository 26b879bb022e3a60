"""Follower, pre-candidate and candidate behaviour of the Raft core.

What it is: the step and tick handlers a node uses when it is not the leader: election timers,
(pre-)campaigns and vote counting (Raft paper §5.2, thesis §9.6), the AppendEntries and
InstallSnapshot receivers (§5.3, §7), heartbeats, and forwarding of reads and proposals.

Concurrency model: none; methods of RaftNode, called synchronously from tick() and step().

Invariants:
* a follower only resets its election timer on messages from the current leader or when it
  grants a vote (§5.2), so the CheckQuorum lease (`_accept_higher_term`) is meaningful;
* the follower answers every MsgApp: success with the last index known to match, rejection
  with a hint for the leader's fast back-off;
* a snapshot is only installed if it is ahead of the committed index; one that merely matches
  the log fast-forwards the commit index instead.
"""

from __future__ import annotations

import msgspec

from actors.etcd._raft_base import NONE, RaftBase
from actors.etcd._raft_messages import (
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
)
from actors.etcd._raft_progress import VoteResult
from actors.etcd._raft_types import ReadState, Role

__all__ = ["FollowerMixin"]


class FollowerMixin(RaftBase):
    # --- timers and campaigns ------------------------------------------------------------

    def _tick_election(self) -> None:
        self._election_elapsed += 1
        if self._promotable() and self._election_elapsed >= self._randomized_election_timeout:
            self._election_elapsed = 0
            self._hup(transfer=False)

    def _hup(self, *, transfer: bool) -> None:
        if self.role is Role.LEADER or not self._promotable():
            return
        # A committed but unapplied membership change would make us count votes in the wrong
        # configuration (etcd-io/raft refuses to campaign in that case too).
        if self._log.has_conf_change_between(self._log.applied, self._log.committed):
            return
        self._campaign(pre=self._pre_vote and not transfer, transfer=transfer)

    def _campaign(self, *, pre: bool, transfer: bool = False) -> None:
        if pre:
            self._become_pre_candidate()
            term = self.term + 1
        else:
            self._become_candidate()
            term = self.term
        self._trk.record_vote(self.id, True)
        if self._trk.vote_result() is VoteResult.WON:  # a lone voter
            if pre:
                self._campaign(pre=False)
            else:
                self._become_leader()
            return
        msg_type = MsgPreVote if pre else MsgVote
        last_index, last_term = self._log.last_index(), self._log.last_term()
        for v in self._trk.voters:
            if v != self.id:
                self._send(
                    msg_type(
                        frm=self.id,
                        to=v,
                        term=term,
                        log_term=last_term,
                        index=last_index,
                        transfer=transfer,
                    )
                )

    # --- step handlers -------------------------------------------------------------------

    def _step_follower(self, m: RaftMessage) -> None:
        match m:
            case MsgApp() | MsgHeartbeat() | MsgSnap():
                self._election_elapsed = 0
                self.lead = m.frm
                self._handle_from_leader(m)
            case MsgProp():
                if self.lead != NONE:  # else dropped: the shell's client retries
                    self._send(msgspec.structs.replace(m, frm=self.id, to=self.lead))
            case MsgReadIndex():
                if self.lead != NONE:  # keep `frm`: the leader answers the requester
                    self._send(msgspec.structs.replace(m, to=self.lead))
            case MsgReadIndexResp():
                self._read_states.append(ReadState(m.index, m.ctx))
            case MsgTimeoutNow():
                # Thesis §3.10: start an election at once, bypassing PreVote and leases.
                self._hup(transfer=True)
            case _:
                pass  # stale responses from an earlier role in this term

    def _step_candidate(self, m: RaftMessage) -> None:
        match m:
            case MsgApp() | MsgHeartbeat() | MsgSnap():
                # §5.2: another server established itself as leader for this term.
                self.become_follower(m.term, m.frm)
                self._handle_from_leader(m)
            case MsgVoteResp() if self.role is Role.CANDIDATE:
                self._poll(m.frm, granted=not m.reject)
            case MsgPreVoteResp() if self.role is Role.PRE_CANDIDATE:
                self._poll(m.frm, granted=not m.reject)
            case _:
                pass  # proposals and reads are dropped: there is no leader to forward to

    def _poll(self, frm: int, *, granted: bool) -> None:
        self._trk.record_vote(frm, granted)
        result = self._trk.vote_result()
        if result is VoteResult.WON:
            if self.role is Role.PRE_CANDIDATE:
                self._campaign(pre=False)
            else:
                self._become_leader()
                self._bcast_append()
        elif result is VoteResult.LOST:
            # A lost pre-vote leaves the term as it was; a lost vote keeps the new term.
            self.become_follower(self.term, NONE)

    # --- receivers -----------------------------------------------------------------------

    def _handle_from_leader(self, m: MsgApp | MsgHeartbeat | MsgSnap) -> None:
        if isinstance(m, MsgApp):
            self._handle_append(m)
        elif isinstance(m, MsgHeartbeat):
            # The leader caps `commit` at our match index, so it is in our log (§5.3).
            self._log.commit_to(m.commit)
            self._send(MsgHeartbeatResp(frm=self.id, to=m.frm, term=self.term, ctx=m.ctx))
        else:
            installed = self._restore(m.snapshot)
            index = self._log.last_index() if installed else self._log.committed
            self._send(MsgAppResp(frm=self.id, to=m.frm, term=self.term, index=index))

    def _handle_append(self, m: MsgApp) -> None:
        log = self._log
        if m.index < log.committed:
            # Everything up to our commit index matches the leader (Leader Completeness).
            self._send(MsgAppResp(frm=self.id, to=m.frm, term=self.term, index=log.committed))
            return
        last = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last is not None:
            self._send(MsgAppResp(frm=self.id, to=m.frm, term=self.term, index=last))
            return
        # Fast back-off (§5.3, in the etcd-io/raft form): point the leader at the largest
        # index whose term is <= the term the leader has at m.index; every entry after it
        # is of a later term and cannot match.
        hint_index, hint_term = log.find_conflict_by_term(
            min(m.index, log.last_index()), m.log_term
        )
        self._send(
            MsgAppResp(
                frm=self.id,
                to=m.frm,
                term=self.term,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def _restore(self, snap: Snapshot) -> bool:
        """InstallSnapshot (§7). True if the snapshot replaced our log."""
        log = self._log
        if snap.index <= log.committed:
            return False
        assert self.role is Role.FOLLOWER, "only a follower installs a snapshot"
        if log.match_term(snap.index, snap.term):
            # We already hold the snapshot's last entry: keep the log, just commit up to it.
            log.commit_to(snap.index)
            return False
        log.restore(snap)
        voters = tuple(sorted(set(snap.voters)))
        self._conf_history = [(snap.index, voters)]
        self._set_voters(voters)
        return True
