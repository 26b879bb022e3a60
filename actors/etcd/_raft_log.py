"""The Raft log of one node: a snapshot prefix, the entries after it, and three cursors.

What it is: the in-memory log of the pure Raft core. Entries at or below `offset` have been
compacted into a snapshot (`snapshot`, or the implicit empty snapshot at index 0); the entries
after it live in `entries`. Three cursors move over it:

* `stabled`   - every entry up to here is on the shell's disk (handed out by a Ready that was
  then `advance`d); entries above it go out in the next `Ready.entries`;
* `committed` - known committed (Raft paper §5.3, §5.4.2);
* `applied`   - handed to the state machine and acknowledged by `advance`.

Concurrency model: none; owned by one RaftNode, driven synchronously.

Invariants (violations raise AssertionError: they are bugs, not outcomes):
* `entries[k].index == offset + 1 + k`, terms never decrease along the log;
* `applied <= committed <= last_index()` and `offset <= committed`;
* a committed entry is never truncated (Leader Completeness, §5.4);
* `pending_snapshot`, when set, is a snapshot received from the leader that the shell has not
  yet persisted and applied; while it is pending no committed entries are handed out.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.etcd._raft_messages import Entry, Snapshot
from actors.etcd._raft_types import Compacted

__all__ = ["RaftLog"]


class RaftLog:
    def __init__(
        self, snapshot: Snapshot | None, entries: Sequence[Entry], commit: int
    ) -> None:
        self.snapshot: Snapshot | None = snapshot
        self.offset = snapshot.index if snapshot is not None else 0
        self.offset_term = snapshot.term if snapshot is not None else 0
        self.entries: list[Entry] = [e for e in entries if e.index > self.offset]
        for k, e in enumerate(self.entries):
            if e.index != self.offset + 1 + k:
                raise ValueError(
                    f"persisted entries are not contiguous after index {self.offset}: "
                    f"found index {e.index} at position {k}"
                )
        self.stabled = self.last_index()
        self.committed = max(min(commit, self.last_index()), self.offset)
        # The state machine restarts from the snapshot; later committed entries are re-applied.
        self.applied = self.offset
        self.pending_snapshot: Snapshot | None = None

    # --- reading -------------------------------------------------------------------------

    def first_index(self) -> int:
        return self.offset + 1

    def last_index(self) -> int:
        return self.offset + len(self.entries)

    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.offset_term

    def term(self, index: int) -> int | None:
        """The term of the entry at `index`, or None if compacted away or not in the log."""
        if index == self.offset:
            return self.offset_term
        if self.offset < index <= self.last_index():
            return self.entries[index - self.offset - 1].term
        return None

    def entry(self, index: int) -> Entry:
        if not self.offset < index <= self.last_index():
            raise Compacted(f"entry {index} is outside ({self.offset}, {self.last_index()}]")
        return self.entries[index - self.offset - 1]

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Is a log ending at (`last_index`, `last_term`) at least as up to date as ours (§5.4.1)?"""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index())

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries with lo <= index < hi. Raises Compacted if `lo` is behind the snapshot."""
        if lo <= self.offset:
            raise Compacted(f"entry {lo} is compacted (snapshot at {self.offset})")
        hi = min(hi, self.last_index() + 1)
        return self.entries[lo - self.offset - 1 : hi - self.offset - 1]

    def unstable_entries(self) -> list[Entry]:
        return self.entries[self.stabled - self.offset :] if self.stabled >= self.offset else []

    def next_committed_entries(self) -> list[Entry]:
        if self.pending_snapshot is not None:
            return []  # the snapshot must be applied before anything after it (as etcd does)
        lo = max(self.applied, self.offset) + 1
        return self.slice(lo, self.committed + 1) if lo <= self.committed else []

    def has_conf_change_between(self, lo: int, hi: int) -> bool:
        """Is there a conf-change entry with lo < index <= hi still in the log?"""
        lo = max(lo, self.offset)
        return any(e.type != 0 for e in self.slice(lo + 1, hi + 1)) if lo < hi else False

    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """Index of the first entry that is not already in our log with the same term; 0 if
        all are (§5.3: an existing entry that conflicts with a new one is deleted)."""
        for e in entries:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= `index` whose term is <= `term`, with that term.

        Used on both sides of the fast back-off: every index skipped here has a term greater
        than `term`, so it cannot match an entry of term <= `term` on the other side.
        """
        index = min(index, self.last_index())
        while index > self.offset:
            t = self.term(index)
            assert t is not None
            if t <= term:
                return index, t
            index -= 1
        return index, (self.offset_term if index == self.offset else 0)

    # --- writing -------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> int:
        """Append `entries`, truncating any existing suffix from the first one's index."""
        if not entries:
            return self.last_index()
        after = entries[0].index - 1
        assert after >= self.committed, (
            f"refusing to truncate committed entries: truncate after {after}, "
            f"committed {self.committed}"
        )
        assert self.offset <= after <= self.last_index(), (after, self.offset, self.last_index())
        del self.entries[after - self.offset :]
        self.entries.extend(entries)
        # Overwritten entries must be persisted again (the shell truncates from entries[0]).
        self.stabled = min(self.stabled, after)
        return self.last_index()

    def maybe_append(
        self, index: int, log_term: int, committed: int, entries: Sequence[Entry]
    ) -> int | None:
        """AppendEntries receiver (§5.3): None if our log has no entry (index, log_term);
        otherwise append what is new and return the last index known to match the leader."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            assert conflict > self.committed, (
                f"entry {conflict} conflicts with a committed entry (committed {self.committed})"
            )
            self.append(entries[conflict - index - 1 :])
        self.commit_to(min(committed, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            assert index <= self.last_index(), (
                f"commit index {index} is beyond the last index {self.last_index()}"
            )
            self.committed = index

    def maybe_commit(self, index: int, term: int, *, any_term: bool = False) -> bool:
        """Leader side: commit up to `index` if it is from `term` (§5.4.2). `any_term` is the
        deliberately unsafe variant (Figure 8), for tests only."""
        if index > self.committed and (any_term or self.term(index) == term):
            self.commit_to(index)
            return True
        return False

    def stable_to(self, index: int, term: int) -> None:
        # Ignore an acknowledgement for entries that were overwritten since they were handed out.
        if self.match_term(index, term) and index > self.stabled:
            self.stabled = index

    def applied_to(self, index: int) -> None:
        assert self.applied <= index <= self.committed, (self.applied, index, self.committed)
        self.applied = index

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole log with a snapshot received from the leader (§7)."""
        self.snapshot = snapshot
        self.pending_snapshot = snapshot
        self.offset, self.offset_term = snapshot.index, snapshot.term
        self.entries = []
        self.committed = snapshot.index
        self.stabled = snapshot.index

    def snapshot_applied(self, snapshot: Snapshot) -> None:
        if self.pending_snapshot is not None and self.pending_snapshot.index == snapshot.index:
            self.pending_snapshot = None
        self.applied = max(self.applied, snapshot.index)

    def compact(self, snapshot: Snapshot) -> None:
        """Drop entries up to `snapshot.index`, which the application has snapshotted."""
        index = snapshot.index
        if index <= self.offset:
            raise Compacted(f"index {index} is already compacted (snapshot at {self.offset})")
        if index > self.applied:
            raise ValueError(f"cannot compact up to {index}: only {self.applied} is applied")
        assert index <= self.stabled
        del self.entries[: index - self.offset]
        self.offset, self.offset_term = index, snapshot.term
        self.snapshot = snapshot
