"""The leader's view of each follower (Progress) and of the configuration (ProgressTracker).

What it is: per-follower flow control in the etcd-io/raft shape, plus vote tallying and the
quorum arithmetic that decides commitment (Raft paper §5.3, §5.4.2).

A follower's Progress is in one of three states:
* PROBE     - we do not know where its log matches ours: send one MsgApp per heartbeat
  interval (or per response) and walk `next` back on rejection;
* REPLICATE - its log matches up to `match`: stream entries optimistically, at most
  `max_inflight` unacknowledged MsgApps;
* SNAPSHOT  - it needs entries we have compacted; a snapshot is on its way and nothing else
  is sent until it is acknowledged (or given up on after an election timeout without reply).

Concurrency model: none; owned by the leader's RaftNode.

Invariants: `match < next`; votes and acknowledgements from nodes outside `voters` never
count; the committed index is the `quorum(len(voters))`-th largest `match` among voters.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable

from actors.etcd._raft_types import quorum

__all__ = ["Progress", "ProgressState", "ProgressTracker", "VoteResult"]


class ProgressState(enum.StrEnum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class VoteResult(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


class Progress:
    __slots__ = (
        "inflights",
        "match",
        "max_inflight",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "snapshot_stale",
        "state",
    )

    def __init__(self, next_index: int, max_inflight: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.recent_active = False
        self.snapshot_stale = False
        self.max_inflight = max_inflight
        # Last index of each unacknowledged MsgApp, oldest first (REPLICATE only).
        self.inflights: deque[int] = deque()

    def __repr__(self) -> str:
        return f"Progress({self.state}, match={self.match}, next={self.next})"

    def _reset(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_stale = False
        self.inflights.clear()

    def become_probe(self) -> None:
        # Coming back from a snapshot, the follower has at least the snapshot (if it arrived);
        # probing right after it saves a round trip.
        after = self.pending_snapshot if self.state is ProgressState.SNAPSHOT else 0
        self._reset(ProgressState.PROBE)
        self.next = max(self.match + 1, after + 1)

    def become_replicate(self) -> None:
        self._reset(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """An acknowledgement up to `index`; False if it tells us nothing new."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the MsgApp whose previous index was `rejected`; False if stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False  # an old rejection, overtaken by a later acknowledgement
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False  # not the probe we are waiting for
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def sent_entries(self, last_index: int, count: int) -> None:
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.append(last_index)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True  # one probe at a time

    def free_inflights_up_to(self, index: int) -> None:
        while self.inflights and self.inflights[0] <= index:
            self.inflights.popleft()

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return len(self.inflights) >= self.max_inflight
        return True


class ProgressTracker:
    def __init__(self, voters: Iterable[int]) -> None:
        self.voters: tuple[int, ...] = tuple(sorted(set(voters)))
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def reset_progress(self, last_index: int, self_id: int, max_inflight: int) -> None:
        self.progress = {}
        for v in self.voters:
            pr = Progress(last_index + 1, max_inflight)
            if v == self_id:
                pr.match = last_index
            self.progress[v] = pr

    def committed(self) -> int:
        """The largest index replicated on a quorum of voters."""
        matches = sorted((self.progress[v].match for v in self.voters), reverse=True)
        return matches[quorum(len(self.voters)) - 1]

    def has_quorum(self, ids: Iterable[int]) -> bool:
        present = set(ids)
        return sum(1 for v in self.voters if v in present) >= quorum(len(self.voters))

    def quorum_active(self, self_id: int) -> bool:
        return self.has_quorum(
            v for v in self.voters if v == self_id or self.progress[v].recent_active
        )

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, node: int, granted: bool) -> None:
        if node in self.voters:
            self.votes.setdefault(node, granted)  # the first answer from a node counts

    def vote_result(self) -> VoteResult:
        q = quorum(len(self.voters))
        granted = sum(1 for g in self.votes.values() if g)
        if granted >= q:
            return VoteResult.WON
        if len(self.voters) - (len(self.votes) - granted) < q:
            return VoteResult.LOST
        return VoteResult.PENDING
