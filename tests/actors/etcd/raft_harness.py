"""A pure, in-memory network of RaftNodes with disks, state machines and a safety checker.

What it is: the test bench for `actors.etcd._raft`. A `Cluster` owns, per node, a RaftNode,
a `Disk` (what survives a crash: exactly what the node's processed Readies persisted) and a
`StateMachine` (a hash chain over the applied entries, so two replicas agree iff they applied
the same entries in the same order). Messages wait in one in-flight list that tests deliver,
drop, duplicate or reorder at will; links can be cut in either direction.

Concurrency model: none. Everything happens when a test calls a method; nothing is random
except through the seeded `random.Random` instances handed to the nodes.

Safety checking (`Checker`, Raft paper Figure 3 plus two etcd-style extras):
* Election Safety    - at most one leader per term, over the whole history;
* Leader Append-Only - a leader never changes an entry it had, while it stays leader;
* Log Matching       - same (index, term) => identical logs up to that index;
* Leader Completeness- a leader of term T holds every entry committed in a term <= T;
* State Machine Safety - no two nodes apply different entries at the same index;
* commit agreement (no two nodes persist different entries as committed at an index) and
  ReadIndex linearizability (a released read index covers every entry committed before the
  read was requested).
History-based checks only record what became visible, i.e. what a processed Ready persisted:
a leader that crashes before its first Ready was never observable by anyone.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from actors.etcd._raft import (
    Entry,
    HardState,
    PersistentState,
    RaftMessage,
    RaftNode,
    ReadState,
    Ready,
    Role,
    Snapshot,
)

__all__ = ["Checker", "Cluster", "Disk", "SafetyViolation", "StateMachine"]


class SafetyViolation(AssertionError):
    """A Raft safety property does not hold."""


class Disk:
    """What a node has on stable storage: updated only by processed Readies and compaction."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []

    def save(self, rd: Ready) -> None:
        if rd.hard_state is not None:
            self.hard_state = rd.hard_state
        if rd.snapshot is not None:
            self.snapshot = rd.snapshot
            self.entries = []  # the node dropped its whole log for the snapshot
        if rd.entries:
            first = rd.entries[0].index
            self.entries = [e for e in self.entries if e.index < first] + list(rd.entries)
        self._check_contiguous()

    def save_compaction(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.entries = [e for e in self.entries if e.index > snap.index]
        self._check_contiguous()

    def persistent_state(self) -> PersistentState:
        return PersistentState(self.hard_state, self.snapshot, tuple(self.entries))

    def _check_contiguous(self) -> None:
        base = self.snapshot.index if self.snapshot is not None else 0
        for k, e in enumerate(self.entries):
            assert e.index == base + 1 + k, f"disk log has a hole: {self.entries}"


class StateMachine:
    """A hash chain over applied entries: equal digests at an index <=> equal histories."""

    _codec = msgspec.msgpack

    def __init__(self, index: int = 0, digest: bytes = b"") -> None:
        self.index = index
        self.digest = digest
        self.data: list[bytes] = []  # non-empty normal entries applied by this incarnation

    @classmethod
    def from_snapshot(cls, snap: Snapshot | None) -> StateMachine:
        if snap is None:
            return cls()
        index, digest = cls._codec.decode(snap.data)
        assert index == snap.index, (index, snap)
        return cls(index, digest)

    def encode(self) -> bytes:
        return self._codec.encode((self.index, self.digest))

    def apply(self, e: Entry) -> None:
        if e.index != self.index + 1:
            raise SafetyViolation(f"applied index {e.index} after {self.index}: out of order")
        h = hashlib.blake2b(self.digest, digest_size=16)
        h.update(msgspec.msgpack.encode((e.term, e.type, e.data)))
        self.index, self.digest = e.index, h.digest()
        if e.type == 0 and e.data:
            self.data.append(e.data)


class Checker:
    def __init__(self) -> None:
        # Tests may switch the commit-agreement check off to watch a later check catch a bug.
        self.check_commit_agreement = True
        self.leader_of_term: dict[int, int] = {}
        self.committed: dict[int, tuple[int, bytes]] = {}  # index -> (term, data)
        self.commit_seen_in_term: dict[int, int] = {}  # index -> lowest term it was seen in
        self.max_commit = 0
        self.applied: dict[int, tuple[int, bytes]] = {}
        self.digests: dict[int, bytes] = {}
        self.leader_logs: dict[tuple[int, int], tuple[int, dict[int, Entry]]] = {}
        self.read_floor: dict[bytes, int] = {}
        self.reads_released: list[tuple[int, ReadState]] = []

    # --- events --------------------------------------------------------------------------

    def on_persist(self, node: RaftNode, rd: Ready, old_commit: int) -> None:
        st = node.status()
        if st.role is Role.LEADER:
            self._record_leader(st.term, st.id)
        hs = rd.hard_state
        if hs is None or hs.commit <= old_commit:
            return
        view = node.log_view()
        for e in view.entries:
            if old_commit < e.index <= hs.commit:
                self._record_commit(e, hs.term)
        self.max_commit = max(self.max_commit, hs.commit)

    def _record_leader(self, term: int, node_id: int) -> None:
        other = self.leader_of_term.setdefault(term, node_id)
        if other != node_id:
            raise SafetyViolation(f"Election Safety: nodes {other} and {node_id} led term {term}")

    def _record_commit(self, e: Entry, seen_in_term: int) -> None:
        prev = self.committed.setdefault(e.index, (e.term, e.data))
        if prev != (e.term, e.data) and self.check_commit_agreement:
            raise SafetyViolation(
                f"two different entries committed at index {e.index}: {prev} and "
                f"{(e.term, e.data)}"
            )
        old = self.commit_seen_in_term.get(e.index, seen_in_term)
        self.commit_seen_in_term[e.index] = min(old, seen_in_term)

    def on_apply(self, node_id: int, e: Entry, sm: StateMachine) -> None:
        prev = self.applied.setdefault(e.index, (e.term, e.data))
        if prev != (e.term, e.data):
            raise SafetyViolation(
                f"State Machine Safety: node {node_id} applied {(e.term, e.data)} at index "
                f"{e.index}, another node applied {prev}"
            )
        self._record_digest(node_id, sm)

    def on_snapshot(self, node_id: int, sm: StateMachine) -> None:
        self._record_digest(node_id, sm)

    def _record_digest(self, node_id: int, sm: StateMachine) -> None:
        prev = self.digests.setdefault(sm.index, sm.digest)
        if prev != sm.digest:
            raise SafetyViolation(
                f"State Machine Safety: node {node_id}'s state at index {sm.index} differs"
            )

    def on_read_requested(self, ctx: bytes) -> None:
        self.read_floor[ctx] = self.max_commit

    def on_read_state(self, node_id: int, rs: ReadState) -> None:
        floor = self.read_floor.get(rs.ctx, 0)
        if rs.index < floor:
            raise SafetyViolation(
                f"stale read: node {node_id} released read {rs.ctx!r} at index {rs.index}, "
                f"but index {floor} was committed before the read was requested"
            )
        self.reads_released.append((node_id, rs))

    # --- whole-cluster checks ------------------------------------------------------------

    def check_live(self, nodes: dict[tuple[int, int], RaftNode]) -> None:
        """Checks on the in-memory state of the live nodes, keyed by (id, incarnation)."""
        leaders = [(n.term, key) for key, n in nodes.items() if n.role is Role.LEADER]
        terms = [t for t, _ in leaders]
        if len(terms) != len(set(terms)):
            raise SafetyViolation(f"Election Safety: two live leaders in one term: {leaders}")
        views = {key: n.log_view() for key, n in nodes.items()}
        for term, key in leaders:
            self._check_append_only(key, term, views[key])
            self._check_completeness(key, term, views[key])
        keys = sorted(views)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                _check_log_matching(a, views[a], b, views[b])

    def _check_append_only(self, key: tuple[int, int], term: int, view: Any) -> None:
        current = {e.index: e for e in view.entries}
        prev = self.leader_logs.get(key)
        if prev is not None and prev[0] == term:
            for index, e in prev[1].items():
                if index > view.snapshot_index and current.get(index) != e:
                    raise SafetyViolation(
                        f"Leader Append-Only: leader {key} of term {term} changed entry "
                        f"{index} from {e} to {current.get(index)}"
                    )
        self.leader_logs[key] = (term, current)

    def _check_completeness(self, key: tuple[int, int], term: int, view: Any) -> None:
        by_index = {e.index: e for e in view.entries}
        for index, (e_term, data) in self.committed.items():
            if index <= view.snapshot_index or self.commit_seen_in_term[index] > term:
                continue
            mine = by_index.get(index)
            if mine is None or (mine.term, mine.data) != (e_term, data):
                raise SafetyViolation(
                    f"Leader Completeness: leader {key} of term {term} lacks committed entry "
                    f"{index} {(e_term, data)}; has {mine}"
                )


def _check_log_matching(ka: Any, a: Any, kb: Any, b: Any) -> None:
    ea = {e.index: e for e in a.entries}
    eb = {e.index: e for e in b.entries}
    common = sorted(set(ea) & set(eb), reverse=True)
    matched = False
    for index in common:
        if matched and ea[index] != eb[index]:
            raise SafetyViolation(
                f"Log Matching: {ka} and {kb} agree at a later index but differ at {index}: "
                f"{ea[index]} vs {eb[index]}"
            )
        if ea[index].term == eb[index].term:
            if ea[index] != eb[index]:
                raise SafetyViolation(
                    f"Log Matching: {ka} and {kb} have different entries with the same "
                    f"(index, term): {ea[index]} vs {eb[index]}"
                )
            matched = True


class Cluster:
    """N RaftNodes on an in-memory network. Node kwargs are passed through to RaftNode."""

    def __init__(
        self,
        ids: Sequence[int] | int = 3,
        *,
        seed: int = 0,
        auto_ready: bool = True,
        auto_check: bool = True,
        **node_kwargs: Any,
    ) -> None:
        self.ids: list[int] = list(range(1, ids + 1)) if isinstance(ids, int) else list(ids)
        self.bootstrap = tuple(self.ids)
        self.rng = random.Random(seed)
        self.auto_ready = auto_ready
        self.auto_check = auto_check
        self.node_kwargs = node_kwargs
        self.checker = Checker()
        self.nodes: dict[int, RaftNode | None] = {}
        self.disks: dict[int, Disk] = {}
        self.sms: dict[int, StateMachine] = {}
        self.incarnation: dict[int, int] = {}
        self.boot_voters: dict[int, tuple[int, ...]] = {}
        self.in_flight: list[RaftMessage] = []
        self.blocked: set[tuple[int, int]] = set()
        self.delivered = 0
        self.sent: list[RaftMessage] = []  # every message ever sent, in order
        # Tests may lose chosen messages: return True to drop one at delivery time.
        self.drop_if: Callable[[RaftMessage], bool] | None = None
        self.trace: list[str] = []
        for i in self.ids:
            self._start(i, voters=self.bootstrap)

    # --- membership of the harness -------------------------------------------------------

    def _start(self, i: int, voters: Sequence[int], **overrides: Any) -> None:
        disk = self.disks.setdefault(i, Disk())
        self.boot_voters[i] = tuple(voters)
        kwargs = {**self.node_kwargs, **overrides}
        storage = disk.persistent_state() if i in self.nodes else None
        self.nodes[i] = RaftNode(
            i, voters, rng=random.Random(self.rng.randrange(2**32)), storage=storage, **kwargs
        )
        self.sms[i] = StateMachine.from_snapshot(disk.snapshot)
        self.incarnation[i] = self.incarnation.get(i, 0) + 1

    def add_node(self, i: int) -> None:
        """Start a brand-new node that joins an existing group (it has no configuration)."""
        self.ids.append(i)
        self._start(i, voters=())

    def crash(self, i: int) -> None:
        """Lose everything not persisted by the last processed Ready."""
        self.trace.append(f"crash {i}")
        self.nodes[i] = None

    def restart(self, i: int, **overrides: Any) -> None:
        assert self.nodes[i] is None, f"node {i} is running"
        self.trace.append(f"restart {i}")
        self._start(i, voters=self.boot_voters[i], **overrides)

    def node(self, i: int) -> RaftNode:
        n = self.nodes[i]
        assert n is not None, f"node {i} is down"
        return n

    def live(self) -> list[int]:
        return [i for i in self.ids if self.nodes.get(i) is not None]

    # --- network -------------------------------------------------------------------------

    def cut(self, a: int, b: int) -> None:
        self.blocked |= {(a, b), (b, a)}

    def isolate(self, i: int) -> None:
        for j in self.ids:
            if j != i:
                self.cut(i, j)

    def partition(self, *groups: Iterable[int]) -> None:
        sets = [set(g) for g in groups]
        self.blocked = {
            (a, b) for a in self.ids for b in self.ids if a != b and not any(
                a in s and b in s for s in sets
            )
        }
        self.trace.append(f"partition {sets}")

    def heal(self) -> None:
        self.blocked = set()
        self.trace.append("heal")

    def deliver(self, k: int = 0) -> bool:
        """Deliver the k-th in-flight message; False if it was lost on the way."""
        m = self.in_flight.pop(k)
        node = self.nodes.get(m.to)
        if node is None or (m.frm, m.to) in self.blocked:
            return False
        if self.drop_if is not None and self.drop_if(m):
            return False
        self.delivered += 1
        node.step(m)
        if self.auto_ready:
            self.process_ready(m.to)
        if self.auto_check:
            self.check()
        return True

    def drop(self, k: int = 0) -> None:
        self.in_flight.pop(k)

    def duplicate(self, k: int = 0) -> None:
        self.in_flight.append(self.in_flight[k])

    def deliver_all(self, limit: int = 100_000) -> int:
        """Deliver in FIFO order until nothing is in flight (new messages included)."""
        n = 0
        while self.in_flight:
            n += 1
            assert n <= limit, "the network did not go quiet"
            self.deliver(0)
        return n

    def drop_all(self) -> None:
        self.in_flight.clear()

    # --- driving nodes -------------------------------------------------------------------

    def process_ready(self, i: int) -> None:
        node = self.nodes[i]
        if node is None:
            return
        disk, sm = self.disks[i], self.sms[i]
        while node.has_ready():
            rd = node.ready()
            old_commit = disk.hard_state.commit
            disk.save(rd)  # 1. persist
            self.checker.on_persist(node, rd, old_commit)
            self.in_flight.extend(rd.messages)  # 2. send
            self.sent.extend(rd.messages)
            if rd.snapshot is not None:  # 3. apply
                sm = self.sms[i] = StateMachine.from_snapshot(rd.snapshot)
                self.checker.on_snapshot(i, sm)
            for e in rd.committed_entries:
                sm.apply(e)
                self.checker.on_apply(i, e, sm)
            for rs in rd.read_states:
                self.checker.on_read_state(i, rs)
            node.advance(rd)  # 4. acknowledge

    def tick(self, i: int, n: int = 1) -> None:
        for _ in range(n):
            self.node(i).tick()
            if self.auto_ready:
                self.process_ready(i)

    def tick_all(self, n: int = 1) -> None:
        for _ in range(n):
            for i in self.live():
                self.tick(i)

    def stabilize(self, ticks: int = 0) -> None:
        """Process every Ready and deliver every message; optionally tick in between."""
        for i in self.live():
            self.process_ready(i)
        self.deliver_all()
        for _ in range(ticks):
            self.tick_all()
            self.deliver_all()

    def propose(self, i: int, data: bytes) -> int:
        index = self.node(i).propose(data)
        if self.auto_ready:
            self.process_ready(i)
        return index

    def read_index(self, i: int, ctx: bytes) -> None:
        self.checker.on_read_requested(ctx)
        self.node(i).read_index(ctx)
        if self.auto_ready:
            self.process_ready(i)

    def compact(self, i: int) -> Snapshot | None:
        """Snapshot node i's state machine at its applied index and compact its log."""
        node, sm = self.node(i), self.sms[i]
        if sm.index <= node.log_view().snapshot_index:
            return None
        assert sm.index == node.status().applied, (sm.index, node.status())
        snap = node.compact(sm.index, sm.encode())
        self.disks[i].save_compaction(snap)
        return snap

    def campaign(self, i: int) -> None:
        self.node(i).campaign()
        if self.auto_ready:
            self.process_ready(i)

    def elect(self, i: int) -> None:
        """Make node i the leader (campaign, then deliver until quiet)."""
        self.campaign(i)
        self.deliver_all()
        assert self.node(i).role is Role.LEADER, f"node {i} failed to win: {self.statuses()}"

    # --- observation ---------------------------------------------------------------------

    def leaders(self) -> list[int]:
        return [i for i in self.live() if self.node(i).role is Role.LEADER]

    def leader(self) -> int | None:
        """The live leader with the highest term, if any."""
        leaders = sorted(self.leaders(), key=lambda i: self.node(i).term)
        return leaders[-1] if leaders else None

    def run_until_leader(self, max_ticks: int) -> int:
        """Tick everyone (delivering all messages after each tick) until a leader that a
        quorum of live nodes follows exists; returns it."""
        for _ in range(max_ticks):
            self.tick_all()
            self.deliver_all()
            lead = self.leader()
            if lead is not None and self._followed_by_quorum(lead):
                return lead
        raise AssertionError(f"no leader after {max_ticks} ticks: {self.statuses()}")

    def _followed_by_quorum(self, lead: int) -> bool:
        term = self.node(lead).term
        voters = self.node(lead).voters
        n = sum(
            1
            for i in voters
            if self.nodes.get(i) is not None
            and self.node(i).term == term
            and self.node(i).lead == lead
        )
        return n > len(voters) // 2

    def applied_data(self, i: int) -> list[bytes]:
        return list(self.sms[i].data)

    def statuses(self) -> dict[int, Any]:
        return {i: (self.nodes[i].status() if self.nodes[i] else "down") for i in self.ids}

    def check(self) -> None:
        live = {(i, self.incarnation[i]): self.node(i) for i in self.live()}
        self.checker.check_live(live)
