"""Records the Raft core hands to its shell, the errors it raises, and quorum arithmetic.

What it is: `Ready` (the batch of work the shell must do: persist, then send, then apply),
`Status`, `SoftState`, `ReadState`, `PersistentState` (what the shell reloads after a restart)
and the named exceptions for expected outcomes (`NotLeader`, `ProposalDropped`, ...).

Concurrency model: none; immutable values.

Invariants: `quorum(n) = n // 2 + 1` and `fault_tolerance(n) = (n - 1) // 2`, so a cluster of
4 tolerates one failure, like a cluster of 3 (Raft paper §5.2: a majority of the voters).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import msgspec

from actors.etcd._raft_messages import Entry, HardState, RaftMessage, Snapshot

__all__ = [
    "Compacted",
    "ConfChangeInProgress",
    "NotLeader",
    "PersistentState",
    "ProposalDropped",
    "RaftError",
    "ReadState",
    "Ready",
    "Role",
    "SoftState",
    "Status",
    "fault_tolerance",
    "quorum",
]


def quorum(n: int) -> int:
    """Votes (or replicas) needed among `n` voters: a strict majority."""
    if n < 1:
        raise ValueError(f"a configuration needs at least one voter, got {n}")
    return n // 2 + 1


def fault_tolerance(n: int) -> int:
    """How many of `n` voters may fail while the rest still form a quorum."""
    return n - quorum(n)


class Role(enum.StrEnum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class SoftState(msgspec.Struct, frozen=True):
    """Volatile state worth telling the shell about; never persisted."""

    lead: int
    role: Role


class ReadState(NamedTuple):
    """A linearizable read may be served once the applied index reaches `index`."""

    index: int
    ctx: bytes


class Ready(msgspec.Struct, frozen=True):
    """One batch of work. The shell persists `hard_state`, `snapshot` and `entries` (entries
    overwrite any persisted suffix from their first index on) in one atomic write, as etcd's
    WAL does, then sends `messages`, then applies `snapshot` and `committed_entries` in
    order, then calls `RaftNode.advance(ready)`. (The membership-change safety argument
    relies on a persisted conf-change entry never outliving the commit index that came with
    it, so a non-atomic store must write the hard state first.)
    """

    soft_state: SoftState | None
    hard_state: HardState | None
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None
    messages: tuple[RaftMessage, ...]
    committed_entries: tuple[Entry, ...]
    read_states: tuple[ReadState, ...]


class PersistentState(msgspec.Struct, frozen=True):
    """What a node's shell reloads from disk after a restart.

    `entries` are those persisted after `snapshot.index` (older ones are ignored); they must be
    contiguous. The state machine is restored from `snapshot.data`; entries after it up to
    `hard_state.commit` are handed out again as committed entries.
    """

    hard_state: HardState
    snapshot: Snapshot | None
    entries: tuple[Entry, ...]


class Status(msgspec.Struct, frozen=True):
    id: int
    term: int
    vote: int
    commit: int
    applied: int
    lead: int
    role: Role
    voters: tuple[int, ...]
    last_index: int
    removed: bool = False


class RaftError(Exception):
    """Base of the expected outcomes the core reports to its caller."""


class NotLeader(RaftError):
    """Only the leader accepts proposals; `leader_hint` is the leader this node knows, or None."""

    def __init__(self, leader_hint: int | None) -> None:
        super().__init__(f"not the leader (leader hint: {leader_hint})")
        self.leader_hint = leader_hint


class ProposalDropped(RaftError):
    """The leader cannot take the proposal now (leadership transfer in progress, or removed)."""


class ConfChangeInProgress(ProposalDropped):
    """One membership change at a time (thesis §4.1): an earlier one is not yet applied, or the
    leader has not yet committed an entry of its own term."""


class Compacted(RaftError):
    """The requested index is already covered by a snapshot."""
