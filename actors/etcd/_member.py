"""An etcd member: the Raft core and the KV state machine inside an actor shell.

What it is: the shell owns the timers (a tick every 100 ms: heartbeat 100 ms and election
timeout 1 s, etcd's defaults), the bus and the durable store. Its loop is etcd-io/raft's
contract: after the messages in the mailbox are handled, each Ready is persisted (and synced),
then its messages are sent, then its entries are applied, then the core is advanced.
Proposals that arrive together are batched into one Ready, as etcd batches them.

Concurrency model: one actor; handlers are synchronous except the Ready loop when the disk is
slow (it then holds the mailbox for the fsync, as etcd's raft loop waits on its WAL).

Invariants: a client is answered only after its write is applied (never before it is
committed); a linearizable read is served only once the applied index reaches its ReadIndex;
a write whose log slot was taken by another entry is answered with a definite failure; all
else that goes unanswered is an unknown outcome for the client.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from actors.etcd._kv_messages import (
    LeaseExpireRequest,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
)
from actors.etcd._member_messages import MemberMeta, Proposal, Unavailable
from actors.etcd._member_requests import PROPOSAL_ENCODER, MemberRequests
from actors.etcd._member_storage import RaftDisk
from actors.etcd._observer import (
    Applied,
    AppliedEntry,
    BecameLeader,
    SnapshotInstalled,
    entry_digest,
)
from actors.etcd._raft import (
    Entry,
    EntryType,
    RaftError,
    RaftMessage,
    RaftNode,
    Ready,
    Role,
    decode_conf_change,
)
from actors.etcd._state_machine import KVStateMachine
from runtime import Down, ReplyHandle, handler

__all__ = ["EtcdConfig", "EtcdMember"]

_NO_LEADER_TIMEOUTS = 3  # etcd's maxNoLeaderCnt


class EtcdConfig(msgspec.Struct, frozen=True):
    member_id: int
    peers: dict[int, str]  # member id -> actor name, the bootstrap cluster
    tick_interval: float = 0.1
    election_tick: int = 10
    heartbeat_tick: int = 1
    snapshot_count: int = 10_000  # entries applied between snapshots (etcd: 100,000)
    snapshot_catchup: int = 5_000  # entries kept after a snapshot for slow followers
    lease_check_interval: float = 0.5
    progress_interval: float = 5.0  # progress notifications to watchers that asked for them
    joining: bool = False  # added by MemberAdd: starts with no voters until it learns them
    pre_vote: bool = True  # etcd's default since 3.5
    check_quorum: bool = True
    max_entries_per_msg: int = 256
    # Test hooks, off by default. `observer`: an actor address told small records of what this
    # member applies and when it becomes leader (`_observer`), for the safety checks of fault
    # campaigns. `unsafe_commit_old_term`: Raft's Figure-8 bug on purpose (see RaftNode).
    observer: str | None = None
    unsafe_commit_old_term: bool = False


class _Tick(msgspec.Struct, frozen=True, tag="etcd.tick"):
    pass


class _Process(msgspec.Struct, frozen=True, tag="etcd.process"):
    pass


class _Leave(msgspec.Struct, frozen=True, tag="etcd.leave"):
    pass


class _LeaseCheck(msgspec.Struct, frozen=True, tag="etcd.lease_check"):
    pass


class _Progress(msgspec.Struct, frozen=True, tag="etcd.progress"):
    pass


class EtcdMember(MemberRequests):
    def __init__(self, config: EtcdConfig) -> None:
        self.config = config

    # ---- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        cfg = self.config
        self.id = cfg.member_id
        self.names: dict[int, str] = dict(self.store.get("names") or cfg.peers)
        self.disk = RaftDisk(self.store)
        persisted = self.disk.load()
        voters = () if cfg.joining else tuple(sorted(cfg.peers))
        self.node = RaftNode(
            self.id,
            voters,
            rng=self.rng,
            election_tick=cfg.election_tick,
            heartbeat_tick=cfg.heartbeat_tick,
            pre_vote=cfg.pre_vote,
            check_quorum=cfg.check_quorum,
            max_entries_per_msg=cfg.max_entries_per_msg,
            storage=persisted,
            unsafe_commit_old_term=cfg.unsafe_commit_old_term,
        )
        self.sm = KVStateMachine(member_id=self.id)
        self.applied = 0  # the last log index applied (the store only sees entries with data)
        if persisted is not None and persisted.snapshot is not None and persisted.snapshot.data:
            self.sm.restore(persisted.snapshot.data)
            self.applied = persisted.snapshot.index
        self.seq = 0
        self.pending: dict[int, tuple[int, ReplyHandle, Any]] = {}  # index -> (term, reply, request)
        self.proposals: list[tuple[Any, ReplyHandle]] = []  # writes waiting for the next batch
        self.read_batch: list[tuple[Any, ReplyHandle]] = []  # reads waiting for a ReadIndex round
        self.reads: dict[bytes, list[tuple[Any, ReplyHandle]]] = {}
        self.waiting_reads: list[tuple[int, Any, ReplyHandle]] = []
        self.watch_owner: dict[int, str] = {}
        self.watch_seq: dict[int, int] = {}  # watch id -> the last WatchResponse.seq sent
        self.processing_scheduled = False
        self.role = Role.FOLLOWER
        self.lead = 0
        self.leaderless_ticks = 0
        self.leaving = False
        self.observer = cfg.observer
        self.boot = 0
        if self.observer is not None:
            # Observed runs count starts durably, so reports of a restarted member are told
            # apart from the re-application of its log.
            self.boot = int(self.store.get("observer/boot", 0)) + 1
            self.store.put("observer/boot", self.boot)
            self.store.sync()
        self.every(cfg.tick_interval, _Tick())
        self.every(cfg.lease_check_interval, _LeaseCheck())
        self.every(cfg.progress_interval, _Progress())
        self._kick()

    # ---- the Ready loop ----------------------------------------------------------------------
    def _kick(self) -> None:
        if not self.processing_scheduled:
            self.processing_scheduled = True
            self.tell_self(_Process())

    @handler
    def _on_tick(self, m: _Tick) -> None:
        self.node.tick()
        self._kick()
        if self.node.lead or not self.watch_owner:
            self.leaderless_ticks = 0
            return
        self.leaderless_ticks += 1
        if self.leaderless_ticks >= _NO_LEADER_TIMEOUTS * self.config.election_tick:
            # etcd's monitorLeader: after 3 election timeouts without a leader, end every
            # watch stream ("etcdserver: no leader") so clients resume on a member that has
            # one, instead of waiting on a member that is cut off (or removed, unawares).
            self.leaderless_ticks = 0
            for watch_id in self.sm.watch_hub.watch_ids():
                self.sm.watch_hub.cancel(watch_id, "etcdserver: no leader")
            self._flush_watches()

    @handler
    def _on_raft(self, m: RaftMessage) -> None:
        if m.frm not in self.names:
            # A member that fell behind does not know the members added since; it learns the
            # sender's address from the message, as etcd's rafthttp adds a "remote" peer from
            # the sender's X-PeerURLs, or it could never answer a leader that joined later.
            self.names[m.frm] = self.sender
        self.node.step(m)
        self._kick()

    @handler
    def _on_process(self, m: _Process) -> Any:
        self.processing_scheduled = False
        if self.proposals:
            self._flush_proposals()
        if self.read_batch:
            self._flush_reads()
        if self.store.sync_latency > 0:
            return self._process_slow()
        while self.node.has_ready():
            rd = self.node.ready()
            if self.disk.save(rd):
                self.store.sync()
            self._after_persist(rd)
        self._stop_if_removed()
        return None

    async def _process_slow(self) -> None:
        while self.node.has_ready():
            rd = self.node.ready()
            if self.disk.save(rd):
                await anyio.sleep(self.store.sync_latency)  # fsync on a slow disk
                self.store.sync()
            self._after_persist(rd)
        self._stop_if_removed()

    def _stop_if_removed(self) -> None:
        if self.node.removed and not self.leaving:
            # etcd exits once it applies its own removal ("the member has been permanently
            # removed from the cluster"): its clients' streams end and they move on. One tick
            # of grace lets the answers already sent (the MemberRemove's among them) arrive.
            self.leaving = True
            self.after(self.config.tick_interval, _Leave())

    @handler
    def _on_leave(self, m: _Leave) -> None:
        self.log.info("removed from the cluster: stopping")
        self.stop_self()

    def _after_persist(self, rd: Ready) -> None:
        names = self.names
        for msg in rd.messages:
            to = names.get(msg.to)
            if to is not None:
                self.tell(to, msg)
        if rd.snapshot is not None and rd.snapshot.data:
            self._install_snapshot(rd.snapshot.index, rd.snapshot.data)
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state.role, rd.soft_state.lead)
        if rd.hard_state is not None:
            self.sm.raft_term = rd.hard_state.term
        if self.observer is None:
            for entry in rd.committed_entries:
                self._apply(entry)
        elif rd.committed_entries:
            self._apply_observed(rd.committed_entries)
        self._flush_watches()
        self._release_reads(rd.read_states)
        self.node.advance(rd)
        self._maybe_snapshot()

    def _install_snapshot(self, index: int, data: bytes) -> None:
        self.sm.restore(data)
        self.applied = index
        self._fail_overtaken(index)
        if self.observer is not None:
            self.tell(self.observer, SnapshotInstalled(self.id, self.boot, index))

    def _apply_observed(self, entries: tuple[Entry, ...]) -> None:
        records = []
        for entry in entries:
            self._apply(entry)
            records.append(AppliedEntry(entry.index, entry.term, entry_digest(entry), self.sm.revision))
        assert self.observer is not None
        self.tell(self.observer, Applied(self.id, self.boot, self.node.term, tuple(records)))

    def _on_soft_state(self, role: Role, lead: int) -> None:
        was_leader = self.role is Role.LEADER
        self.role, self.lead = role, lead
        if role is Role.LEADER and not was_leader and self.observer is not None:
            self.tell(self.observer, BecameLeader(self.id, self.boot, self.node.term))
        if role is Role.LEADER and not was_leader:
            # Leases survive a leader change: the new leader gives each its full TTL again.
            self.sm.lessor.promote(self.now(), extend=self.config.election_tick * self.config.tick_interval)
        elif was_leader and role is not Role.LEADER:
            self.sm.lessor.demote()
        if (lead == 0 or role is not Role.LEADER) and self.reads:
            self._fail_reads(lead)

    def _apply(self, entry: Entry) -> None:
        self.applied = entry.index
        resp: Any = None
        if entry.type == EntryType.CONF_CHANGE:
            cc = decode_conf_change(entry.data)
            if cc.type == "remove" and cc.node_id == self.id:
                self.log.info("removed from the cluster", index=entry.index)  # stops after this Ready
        elif entry.data:
            req = self._request_of(entry)
            if isinstance(req, MemberMeta):
                if req.remove:
                    self.names.pop(req.member_id, None)
                else:
                    self.names[req.member_id] = req.name
                self.store.put("names", dict(self.names))
            else:
                resp = self.sm.apply(entry.index, req, self.now())
        self._answer(entry, resp)

    def _maybe_snapshot(self) -> None:
        cfg = self.config
        applied = self.sm.applied_index
        if applied - self.disk.snapshot_index >= cfg.snapshot_count:
            snap = self.node.compact(applied, self.sm.snapshot())
            self.disk.save_snapshot(snap)
            self.store.sync()

    def _flush_watches(self) -> None:
        for watch_id, resp in self.sm.watch_hub.drain():
            owner = self.watch_owner.get(watch_id)
            if owner is not None:
                seq = self.watch_seq.get(watch_id, 0) + 1
                self.watch_seq[watch_id] = seq
                self.tell(owner, msgspec.structs.replace(resp, seq=seq))
                if resp.canceled:
                    self.watch_owner.pop(watch_id, None)
                    self.watch_seq.pop(watch_id, None)

    # ---- leases and watches --------------------------------------------------------------------
    @handler
    def _on_lease_check(self, m: _LeaseCheck) -> None:
        if self.role is not Role.LEADER:
            return
        expired = self.sm.lessor.expired(self.now(), limit=100)
        if expired:
            self.seq += 1
            try:
                self.node.propose(PROPOSAL_ENCODER.encode(Proposal(self.id, self.seq, LeaseExpireRequest(tuple(expired)))))
            except RaftError:
                return
            self._kick()

    @handler
    def _on_watch_create(self, m: WatchCreateRequest) -> None:
        if not self.node.lead:
            # Watches require a leader (the apiserver's are WithRequireLeader): etcd's stream
            # interceptor refuses them with "no leader", and the client tries another member.
            # A removed member that never learned of its removal had taken every re-created
            # watch of a client that kept picking it, holding it behind the cluster for good.
            raise Unavailable("etcdserver: no leader")
        watch_id = self.sm.watch_hub.create(m)
        self.watch_owner[watch_id] = self.sender
        self.monitor(self.sender)
        # The watch id first, then its responses (same link, in order): a client routes
        # responses by id, so any that arrived before the id would be dropped.
        self.defer_reply().send(watch_id)
        self._flush_watches()

    @handler
    def _on_watch_cancel(self, m: WatchCancelRequest) -> None:
        if self.watch_owner.get(m.watch_id) != self.sender:
            return  # only its owner may cancel a watch (etcd's ids are per stream)
        if m.watch_id in self.sm.watch_hub:
            self.sm.watch_hub.cancel(m.watch_id)
        self._flush_watches()
        self.watch_owner.pop(m.watch_id, None)

    @handler
    def _on_watch_progress(self, m: WatchProgressRequest) -> None:
        mine = [w for w, owner in self.watch_owner.items() if owner == self.sender]
        self.sm.watch_hub.progress(mine)
        self._flush_watches()

    @handler
    def _on_progress_timer(self, m: _Progress) -> None:
        ids = self.sm.watch_hub.progress_notify_ids()
        if ids:
            self.sm.watch_hub.progress(ids)
            self._flush_watches()

    @handler
    def _on_down(self, m: Down) -> None:
        gone = [w for w, owner in self.watch_owner.items() if owner == m.address]
        for w in gone:
            self.watch_owner.pop(w, None)
        if gone:
            self.sm.watch_hub.cancel_all(gone)
            self._flush_watches()  # the dead owner's cancel notices go nowhere; others' stay
