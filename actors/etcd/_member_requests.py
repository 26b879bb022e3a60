"""The client-facing half of the etcd member shell: KV writes and reads, health, status and
the cluster API, with proposals and ReadIndex requests batched per mailbox drain.

What it is: a mixin of ``EtcdMember`` (``_member.py``, which owns the Raft core, the state
machine and the Ready loop). A write is queued with its deferred reply; when the member
processes (``_Process``, after the mailbox is drained) the whole queue becomes one
``RaftNode.propose_batch`` (one MsgApp per follower, as etcd batches proposals). Linearizable
reads are queued the same way and share one ReadIndex round (etcd's linearizableReadLoop);
each is served once the applied index reaches the round's read index.

Concurrency model: methods of the member actor, run by its handlers one at a time.

Invariants: a write is answered only once the entry in its log slot is applied: with the
response if the entry is ours (same index and term, Log Matching), with ``ProposalFailed`` if
another entry took the slot, with ``UnknownOutcome`` if a snapshot skipped it; a request
refused before proposing gets ``NotLeaderError`` / ``Unavailable`` (definite failures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from actors.etcd._client import UnknownOutcome
from actors.etcd._kv_messages import (
    CompactionRequest,
    DeleteRangeRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
)
from actors.etcd._member_messages import (
    Health,
    HealthRequest,
    MemberAddRequest,
    MemberInfo,
    MemberList,
    MemberListRequest,
    MemberMeta,
    MemberRemoveRequest,
    MemberStatus,
    MoveLeaderRequest,
    NotLeaderError,
    Proposal,
    ProposalFailed,
    StatusRequest,
    Unavailable,
)
from actors.etcd._raft import ConfChange, Entry, NotLeader, RaftError, Role, fault_tolerance
from runtime import Actor, ReplyHandle, handler

if TYPE_CHECKING:
    from actors.etcd._raft import RaftNode
    from actors.etcd._state_machine import KVStateMachine

__all__ = ["PROPOSAL_DECODER", "PROPOSAL_ENCODER", "MemberRequests"]

PROPOSAL_ENCODER = msgspec.msgpack.Encoder()
PROPOSAL_DECODER = msgspec.msgpack.Decoder(Proposal)
_REMOVED = "etcdserver: the member has been permanently removed from the cluster"

WriteRequest = (
    PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
)
ReadRequest = RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest


class MemberRequests(Actor):
    # Set up by EtcdMember.on_start (see there).
    id: int
    node: RaftNode
    sm: KVStateMachine
    names: dict[int, str]
    seq: int
    applied: int
    pending: dict[int, tuple[int, ReplyHandle, Any]]  # log index -> (term, reply, request)
    proposals: list[tuple[Any, ReplyHandle]]
    read_batch: list[tuple[Any, ReplyHandle]]
    reads: dict[bytes, list[tuple[Any, ReplyHandle]]]  # ReadIndex ctx -> its reads
    waiting_reads: list[tuple[int, Any, ReplyHandle]]

    def _kick(self) -> None:
        raise NotImplementedError

    def _leader_name(self) -> str | None:
        return self.names.get(self.node.lead) if self.node.lead else None

    # ---- writes -----------------------------------------------------------------------------------
    @handler
    def _on_write(self, m: WriteRequest) -> None:
        if self.node.removed:
            raise Unavailable(_REMOVED)
        if self.node.role is not Role.LEADER:
            raise NotLeaderError(self._leader_name())
        self.proposals.append((m, self.defer_reply()))
        self._kick()

    def _flush_proposals(self) -> None:
        """Propose every queued write as one batch (called before each Ready round)."""
        batch, self.proposals = self.proposals, []
        datas = []
        for request, _ in batch:
            self.seq += 1
            datas.append(PROPOSAL_ENCODER.encode(Proposal(self.id, self.seq, request)))
        try:
            first = self.node.propose_batch(datas)
        except NotLeader:
            error: Exception = NotLeaderError(self._leader_name())
        except RaftError as e:
            error = Unavailable(f"etcdserver: {e}")
        else:
            term = self.node.term
            for k, (request, reply) in enumerate(batch):
                self._await_slot(first + k, term, reply, request)
            return
        for _, reply in batch:
            reply.fail(error)

    def _await_slot(self, index: int, term: int, reply: ReplyHandle, request: Any = None) -> None:
        old = self.pending.pop(index, None)
        if old is not None:
            old[1].fail(ProposalFailed())  # the log was truncated under it
        self.pending[index] = (term, reply, request)

    def _request_of(self, entry: Entry) -> Any:
        """The request in a normal entry: ours needs no decoding."""
        waiter = self.pending.get(entry.index)
        if waiter is not None and waiter[0] == entry.term and waiter[2] is not None:
            return waiter[2]
        return PROPOSAL_DECODER.decode(entry.data).request

    def _answer(self, entry: Entry, resp: Any) -> None:
        """Answer the proposal that owns this log slot; fail ours whose slot another took.
        (Entries are applied in order; only a snapshot skips some, see _fail_overtaken.)"""
        waiter = self.pending.pop(entry.index, None) if self.pending else None
        if waiter is not None:
            if waiter[0] == entry.term:
                waiter[1].send(resp)  # same index and term: our entry (Log Matching, §5.3)
            else:
                waiter[1].fail(ProposalFailed())

    def _fail_overtaken(self, snapshot_index: int) -> None:
        # Our proposals at or below a snapshot may or may not be in it: the log that would
        # tell is gone. Their outcome is unknown (a definite failure would be a lie).
        for i in [i for i in self.pending if i <= snapshot_index]:
            self.pending.pop(i)[1].fail(UnknownOutcome(
                "etcdserver: proposal overtaken by a snapshot; outcome unknown"))

    # ---- reads ------------------------------------------------------------------------------------
    @handler
    def _on_read(self, m: ReadRequest) -> Any:
        if isinstance(m, RangeRequest) and m.serializable:
            return self.sm.read(m, self.now())
        self._queue_read(m)
        return None

    @handler
    def _on_health(self, m: HealthRequest) -> Any:
        if not self.node.lead:
            return Health("false", "RAFT NO LEADER")
        self._queue_read(m)
        return None

    def _queue_read(self, m: Any) -> None:
        if self.node.removed:
            raise Unavailable(_REMOVED)
        if not self.node.lead:
            raise NotLeaderError(None)
        self.read_batch.append((m, self.defer_reply()))
        self._kick()

    def _flush_reads(self) -> None:
        """One ReadIndex round for every read queued since the last (thesis §6.4)."""
        batch, self.read_batch = self.read_batch, []
        self.seq += 1
        ctx = f"{self.id}:{self.seq}".encode()
        try:
            self.node.read_index(ctx)
        except NotLeader:
            error: Exception = NotLeaderError(self._leader_name())
        except RaftError as e:
            error = Unavailable(f"etcdserver: {e}")
        else:
            self.reads[ctx] = batch
            return
        for _, reply in batch:
            reply.fail(error)

    def _release_reads(self, read_states: Any) -> None:
        for rs in read_states:
            batch = self.reads.pop(rs.ctx, None)
            if batch is not None:
                self.waiting_reads.extend((rs.index, req, reply) for req, reply in batch)
        if not self.waiting_reads:
            return
        applied = self.applied  # the log's, not the store's: no-ops and conf changes count
        still = []
        for index, req, reply in self.waiting_reads:
            if index <= applied:
                reply.send(Health("true") if isinstance(req, HealthRequest) else self.sm.read(req, self.now()))
            else:
                still.append((index, req, reply))
        self.waiting_reads = still

    def _fail_reads(self, lead: int) -> None:
        # A read waiting for a ReadIndex from a leader that is gone will never be served.
        error = NotLeaderError(self.names.get(lead))
        for batch in self.reads.values():
            for _, reply in batch:
                reply.fail(error)
        self.reads.clear()

    # ---- status and the cluster API ----------------------------------------------------------------
    @handler
    def _on_status(self, m: StatusRequest) -> MemberStatus:
        st = self.node.status()
        return MemberStatus(
            member_id=self.id, name=self.name, leader=st.lead, leader_name=self.names.get(st.lead, ""),
            term=st.term, raft_index=st.commit, raft_applied_index=st.applied,
            revision=self.sm.revision, db_size=self.sm.store.db_size(), role=str(st.role),
            voters=tuple(st.voters),
        )

    @handler
    def _on_member_list(self, m: MemberListRequest) -> MemberList:
        voters = self.node.status().voters
        members = tuple(MemberInfo(v, self.names.get(v, ""), v == self.node.lead) for v in sorted(voters))
        n = len(members)
        note = ""
        if n % 2 == 0 and n:
            note = (f"an even cluster of {n} tolerates {fault_tolerance(n)} failure(s), "
                    f"no more than {n - 1} members would")
        return MemberList(members, fault_tolerance(n) if n else 0, note)

    @handler
    def _on_member_add(self, m: MemberAddRequest) -> None:
        self.seq += 1
        meta = PROPOSAL_ENCODER.encode(Proposal(self.id, self.seq, MemberMeta(m.member_id, m.name)))
        self._conf_change(ConfChange(type="add", node_id=m.member_id), meta)

    @handler
    def _on_member_remove(self, m: MemberRemoveRequest) -> None:
        self._conf_change(ConfChange(type="remove", node_id=m.member_id))

    def _conf_change(self, cc: ConfChange, meta: bytes = b"") -> None:
        try:
            if meta:  # the new member's address first, so the leader can reach it
                self.node.propose(meta)
            index = self.node.propose_conf_change(cc)
        except NotLeader:
            raise NotLeaderError(self._leader_name()) from None
        except (RaftError, ValueError) as e:
            raise Unavailable(f"etcdserver: {e}") from None
        self._await_slot(index, self.node.term, self.defer_reply())
        self._kick()

    @handler
    def _on_move_leader(self, m: MoveLeaderRequest) -> None:
        try:
            self.node.transfer_leader(m.target_id)
        except NotLeader:
            raise NotLeaderError(self._leader_name()) from None
        except (RaftError, ValueError) as e:
            raise Unavailable(f"etcdserver: {e}") from None
        self._kick()
