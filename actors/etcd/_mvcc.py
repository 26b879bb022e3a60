"""The multi-version key-value store under etcd's v3 API (etcd-io/etcd server/storage/mvcc).

What it is: an in-memory MVCC keyspace. Every write transaction that changes at least one key
takes the next revision (one revision per transaction, its changes ordered inside it as etcd's
sub-revisions); reads can be served at the current revision or at any historic revision that
has not been compacted; the event history feeds the watch hub.

Concurrency model: none. Plain synchronous code owned by one actor: no clock, no I/O. At most
one `WriteTxn` is open at a time, and the store refuses reads from outside it meanwhile.

Data layout:
* per key, a history list of `KeyValue` in `mod_revision` order; a deletion is a tombstone
  (`version == 0`), so "the version at revision r" is one bisect;
* a global log of the same `KeyValue` objects in (revision, sub-revision) order, which is
  what watches replay and what compaction walks (etcd keeps the same order in its backend);
* two sorted key indexes (chunked lists, so an insert costs O(log n + chunk) rather than a
  150,000-pointer memmove): live keys, for reads at the head, and keys with any retained
  history, for historic reads. A head range is O(log n + k).

Invariants:
* `revision` starts at 1 (etcd's initial revision) and never decreases; a transaction with no
  change (all reads, or deletes of missing keys) does not take a revision;
* a key changes at most once per revision (etcd refuses duplicate keys in a txn);
* `create_revision` is the revision of the put that (re)created the key; `version` counts the
  puts since then and is 0 after a delete, so a later put recreates with version 1;
* after `compact(c)`, history keeps every entry with `mod_revision >= c` plus, per key, the
  latest put below `c`: reads at any revision `>= c` are exact, and the log still holds every
  event at `c`, so a watch from `c` (allowed by etcd) misses nothing (unlike etcd#19179).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import islice
from operator import attrgetter

import msgspec

from actors.etcd._kv_messages import (
    CompactedError,
    DuplicateKeyError,
    Event,
    FutureRevisionError,
    KeyValue,
    in_range,
    range_bounds,
)

__all__ = ["MVCCState", "MVCCStore", "RangeResult", "WriteTxn"]

_MOD = attrgetter("mod_revision")
# Bytes per stored version beyond key and value: etcd's backend key (17-byte revision) plus the
# protobuf framing of a KeyValue. A coarse estimate; see `MVCCStore.db_size`.
_ENTRY_OVERHEAD = 48


class _SortedKeys:
    """A sorted set of byte keys kept as a list of chunks (the sortedcontainers layout)."""

    _LOAD = 512  # chunks split at twice this; bisect cost stays tiny, memmove stays short

    __slots__ = ("_chunks", "_len", "_maxes")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        ordered = sorted(keys)
        self._chunks = [ordered[i : i + self._LOAD] for i in range(0, len(ordered), self._LOAD)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __contains__(self, key: bytes) -> bool:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return False
        chunk = self._chunks[i]
        return chunk[bisect_left(chunk, key)] == key

    def add(self, key: bytes) -> None:
        """Insert `key`, which the caller guarantees is absent."""
        if not self._maxes:
            self._chunks.append([key])
            self._maxes.append(key)
        else:
            i = bisect_left(self._maxes, key)
            if i == len(self._maxes):
                i -= 1
                self._chunks[i].append(key)
                self._maxes[i] = key
            else:
                insort(self._chunks[i], key)
            if len(self._chunks[i]) > 2 * self._LOAD:
                chunk = self._chunks[i]
                half = len(chunk) // 2
                self._chunks[i : i + 1] = [chunk[:half], chunk[half:]]
                self._maxes[i : i + 1] = [chunk[half - 1], chunk[-1]]
        self._len += 1

    def remove(self, key: bytes) -> None:
        """Remove `key`, which the caller guarantees is present."""
        i = bisect_left(self._maxes, key)
        chunk = self._chunks[i]
        j = bisect_left(chunk, key)
        if chunk[j] != key:
            raise KeyError(key)  # a broken index invariant: crash loudly
        del chunk[j]
        if chunk:
            self._maxes[i] = chunk[-1]
        else:
            del self._chunks[i], self._maxes[i]
        self._len -= 1

    def _position(self, key: bytes) -> tuple[int, int]:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return i, 0
        return i, bisect_left(self._chunks[i], key)

    def irange(self, low: bytes, high: bytes | None) -> Iterator[bytes]:
        """Keys in `[low, high)` in order; `high=None` is unbounded."""
        i, j = self._position(low)
        chunks = self._chunks
        for c in range(i, len(chunks)):  # indexes, not islice: islice walks from the start
            chunk = chunks[c]
            for key in chunk[j:] if j else chunk:
                if high is not None and key >= high:
                    return
                yield key
            j = 0

    def count(self, low: bytes, high: bytes | None) -> int:
        """How many keys lie in `[low, high)`, in O(log n + number of chunks)."""
        upper = self._len if high is None else self._rank(high)
        return upper - self._rank(low)

    def _rank(self, key: bytes) -> int:
        i, j = self._position(key)
        return sum(len(chunk) for chunk in islice(self._chunks, i)) + j


class RangeResult(msgspec.Struct, frozen=True):
    """What a range read found: `count` is the number of matches before `limit`."""

    kvs: tuple[KeyValue, ...]
    count: int
    revision: int  # the store's current revision when read (etcd's RangeResult.Rev)


class MVCCState(msgspec.Struct, frozen=True, tag="kv.mvcc_state"):
    """The whole store as data: the state just below the compaction, then every later event."""

    revision: int
    compact_revision: int
    base: tuple[KeyValue, ...]  # per key, the latest put below compact_revision, key order
    log: tuple[KeyValue, ...]  # every version at or after compact_revision, in log order


class MVCCStore:
    """etcd's MVCC keyspace in memory. See the module docstring for the invariants."""

    def __init__(self) -> None:
        self._revision = 1
        self._compact_revision = 0
        self._index: dict[bytes, list[KeyValue]] = {}
        self._log: list[KeyValue] = []
        self._live = _SortedKeys()
        self._all = _SortedKeys()
        self._db_size = 0
        self._txn: WriteTxn | None = None

    # ----------------------------------------------------------------- queries

    @property
    def revision(self) -> int:
        """The revision of the last committed change (1 before any)."""
        return self._revision

    @property
    def compact_revision(self) -> int:
        """Reads below this revision fail; 0 before any compaction."""
        return self._compact_revision

    def __len__(self) -> int:
        """The number of live keys."""
        return len(self._live)

    def db_size(self) -> int:
        """Estimated bytes of retained history: key, value and fixed overhead per version.

        This is etcd's "in use" size; unlike etcd's file size it shrinks on compaction
        (there is no free-page list to defragment).
        """
        return self._db_size

    def get(self, key: bytes, revision: int = 0) -> KeyValue | None:
        """The version of `key` visible at `revision` (0 = current), or None."""
        self._check_no_txn()
        rev = self._checked_revision(revision)
        return self._at(key, rev)

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
    ) -> RangeResult:
        """Keys in the etcd range at `revision` (<= 0: current), in key order.

        Raises `CompactedError` below the compaction revision and `FutureRevisionError` above
        the current one.
        """
        self._check_no_txn()
        return self._range(key, range_end, self._checked_revision(revision), limit, count_only)

    def events(
        self, start_revision: int, key: bytes = b"\0", range_end: bytes = b"\0"
    ) -> Iterator[Event]:
        """Every change in the key range with revision >= `start_revision`, in log order.

        Each event carries its `prev_kv` (the key's previous live version, if any). Raises
        `CompactedError` when `start_revision` is below the compaction revision: the history
        needed to replay from there is gone.
        """
        self._check_no_txn()
        if start_revision < self._compact_revision:
            raise CompactedError(self._compact_revision)
        log = self._log
        start = bisect_left(log, start_revision, key=_MOD)
        # Index the list: islice(log, start, None) would walk the whole prefix every time.
        return (
            self._event(log[i])
            for i in range(start, len(log))
            if in_range(log[i].key, key, range_end)
        )

    def live(self) -> Iterator[KeyValue]:
        """Every live key's current version, in key order."""
        index = self._index
        return (index[key][-1] for key in self._live.irange(b"", None))

    # ----------------------------------------------------------------- writes

    def write(self) -> WriteTxn:
        """Open the write transaction; commit it (or use it as a context manager)."""
        self._check_no_txn()
        self._txn = WriteTxn(self)
        return self._txn

    def put(self, key: bytes, value: bytes, lease: int = 0) -> Event:
        """Write one key in its own transaction (one new revision)."""
        with self.write() as txn:
            event = txn.put(key, value, lease)
        return event

    def delete_range(self, key: bytes, range_end: bytes = b"") -> list[Event]:
        """Delete the live keys in the range in one transaction (a revision only if any)."""
        with self.write() as txn:
            events = txn.delete_range(key, range_end)
        return events

    def compact(self, revision: int) -> None:
        """Forget the history needed only for reads below `revision` (etcd Compact).

        Raises `CompactedError` if `revision` is not above the current compaction revision and
        `FutureRevisionError` if it is above the current revision. Cost: O(events compacted).
        """
        self._check_no_txn()
        if revision <= self._compact_revision:
            raise CompactedError(self._compact_revision)
        if revision > self._revision:
            raise FutureRevisionError()
        cut = bisect_left(self._log, revision, key=_MOD)
        touched = dict.fromkeys(kv.key for kv in islice(self._log, cut))
        del self._log[:cut]
        for key in touched:
            self._compact_key(key, revision)
        self._compact_revision = revision

    def _compact_key(self, key: bytes, revision: int) -> None:
        history = self._index[key]
        keep_from = bisect_left(history, revision, key=_MOD)
        if keep_from > 0 and history[keep_from - 1].version > 0:
            keep_from -= 1  # the latest put below `revision` is the key's state at `revision`
        for kv in islice(history, keep_from):
            self._db_size -= _entry_size(kv)
        del history[:keep_from]
        if not history:
            del self._index[key]
            self._all.remove(key)

    # ----------------------------------------------------------------- snapshot

    def dump(self) -> MVCCState:
        """The whole store as one value (deterministic for equal histories)."""
        self._check_no_txn()
        base = []
        for key in self._all.irange(b"", None):
            first = self._index[key][0]
            if first.mod_revision < self._compact_revision:
                base.append(first)
        return MVCCState(self._revision, self._compact_revision, tuple(base), tuple(self._log))

    def load(self, state: MVCCState) -> None:
        """Replace the whole store with `state` (the inverse of `dump`)."""
        self._check_no_txn()
        self._revision = state.revision
        self._compact_revision = state.compact_revision
        self._index = {kv.key: [kv] for kv in state.base}
        self._log = list(state.log)
        for kv in self._log:
            self._index.setdefault(kv.key, []).append(kv)
        self._all = _SortedKeys(self._index)
        self._live = _SortedKeys(k for k, history in self._index.items() if history[-1].version)
        self._db_size = sum(_entry_size(kv) for h in self._index.values() for kv in h)

    # ----------------------------------------------------------------- internals

    def _check_no_txn(self) -> None:
        if self._txn is not None:
            raise RuntimeError("MVCCStore used while a write transaction is open")

    def _checked_revision(self, revision: int) -> int:
        if revision <= 0:
            return self._revision
        if revision > self._revision:
            raise FutureRevisionError()
        if revision < self._compact_revision:
            raise CompactedError(self._compact_revision)
        return revision

    def _at(self, key: bytes, revision: int) -> KeyValue | None:
        history = self._index.get(key)
        if not history:
            return None
        if history[-1].mod_revision <= revision:
            kv = history[-1]
        else:
            i = bisect_right(history, revision, key=_MOD)
            if i == 0:
                return None
            kv = history[i - 1]
        return kv if kv.version else None

    def _range(
        self, key: bytes, range_end: bytes, rev: int, limit: int, count_only: bool
    ) -> RangeResult:
        low, high = range_bounds(key, range_end)
        if high is not None and high <= low:
            return RangeResult((), 0, self._revision)
        if not self._log or self._log[-1].mod_revision <= rev:
            # Nothing newer than `rev` exists (an open txn's own writes included): read the
            # live-key index, O(log n + k), instead of resolving every key's history.
            if count_only:
                return RangeResult((), self._live.count(low, high), self._revision)
            keys = self._live.irange(low, high)
            index = self._index
            kvs = tuple(index[k][-1] for k in (islice(keys, limit) if limit > 0 else keys))
            if limit > 0 and len(kvs) == limit:
                count = self._live.count(low, high)
            else:
                count = len(kvs)
            return RangeResult(kvs, count, self._revision)
        if count_only:
            return RangeResult((), self._count_at(low, high, rev), self._revision)
        found = []
        for k in self._all.irange(low, high):
            kv = self._at(k, rev)
            if kv is not None:
                found.append(kv)
                if len(found) == limit:
                    return RangeResult(tuple(found), self._count_at(low, high, rev), self._revision)
        return RangeResult(tuple(found), len(found), self._revision)

    def _count_at(self, low: bytes, high: bytes | None, rev: int) -> int:
        """Live keys in `[low, high)` at `rev`: the head count, corrected by every key that
        changed after `rev`. O(log n + changes since rev) instead of a scan of the range, so
        paginated lists at a fixed revision (how the apiserver pages) stay cheap."""
        count = self._live.count(low, high)
        log, index = self._log, self._index
        seen: set[bytes] = set()
        for i in range(bisect_right(log, rev, key=_MOD), len(log)):
            key = log[i].key
            if key in seen or key < low or (high is not None and key >= high):
                continue
            seen.add(key)
            live_then = self._at(key, rev) is not None
            live_now = index[key][-1].version > 0
            count += live_then - live_now
        return count

    def _event(self, kv: KeyValue) -> Event:
        history = self._index[kv.key]
        i = bisect_left(history, kv.mod_revision, key=_MOD)
        prev = history[i - 1] if i > 0 and history[i - 1].version else None
        return Event("put" if kv.version else "delete", kv, prev)


class WriteTxn:
    """The one open write transaction of a store: its changes share revision `revision`.

    Reads through the transaction see its own earlier writes, as in etcd's storeTxnWrite.
    As a context manager it commits on success and rolls every change back on an exception,
    so a refused operation in the middle of a Txn leaves the store untouched.
    """

    def __init__(self, store: MVCCStore) -> None:
        self._store = store
        self.revision = store._revision + 1
        self._events: list[Event] = []
        self._done = False

    def __enter__(self) -> WriteTxn:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        elif not self._done:
            self.abort()

    @property
    def events(self) -> tuple[Event, ...]:
        """The changes made so far, in order."""
        return tuple(self._events)

    def get(self, key: bytes) -> KeyValue | None:
        self._check_open()
        return self._store._at(key, self.revision)

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        revision: int = 0,
        limit: int = 0,
        count_only: bool = False,
    ) -> RangeResult:
        """As `MVCCStore.range`, at the transaction's own view when `revision <= 0`."""
        self._check_open()
        store = self._store
        rev = self.revision if revision <= 0 else store._checked_revision(revision)
        return store._range(key, range_end, rev, limit, count_only)

    def put(self, key: bytes, value: bytes, lease: int = 0) -> Event:
        self._check_open()
        store, rev = self._store, self.revision
        history = store._index.get(key)
        if history is None:
            history = store._index[key] = []
            store._all.add(key)
        elif history[-1].mod_revision == rev:
            raise DuplicateKeyError()
        prev = history[-1] if history and history[-1].version else None
        if prev is None:
            kv = KeyValue(key, rev, rev, 1, value, lease)
            store._live.add(key)
        else:
            kv = KeyValue(key, prev.create_revision, rev, prev.version + 1, value, lease)
        return self._record(history, kv, prev)

    def delete_range(self, key: bytes, range_end: bytes = b"") -> list[Event]:
        self._check_open()
        store, rev = self._store, self.revision
        low, high = range_bounds(key, range_end)
        if high is not None and high <= low:
            return []
        events = []
        for k in list(store._live.irange(low, high)):
            history = store._index[k]
            prev = history[-1]
            if prev.mod_revision == rev:
                raise DuplicateKeyError()
            store._live.remove(k)
            events.append(self._record(history, KeyValue(k, 0, rev, 0), prev))
        return events

    def commit(self) -> tuple[Event, ...]:
        """End the transaction; the store takes `revision` if anything changed."""
        self._check_open()
        self._done = True
        store = self._store
        store._txn = None
        if self._events:
            store._revision = self.revision
        return tuple(self._events)

    def abort(self) -> None:
        """Undo every change of the transaction, newest first."""
        self._check_open()
        self._done = True
        store = self._store
        store._txn = None
        for event in reversed(self._events):
            key = event.kv.key
            history = store._index[key]
            history.pop()
            store._log.pop()
            store._db_size -= _entry_size(event.kv)
            if event.type == "delete":
                store._live.add(key)
            elif event.prev_kv is None:
                store._live.remove(key)
            if not history:
                del store._index[key]
                store._all.remove(key)
        self._events.clear()

    def _record(self, history: list[KeyValue], kv: KeyValue, prev: KeyValue | None) -> Event:
        history.append(kv)
        store = self._store
        store._log.append(kv)
        store._db_size += _entry_size(kv)
        event = Event("put" if kv.version else "delete", kv, prev)
        self._events.append(event)
        return event

    def _check_open(self) -> None:
        if self._done:
            raise RuntimeError("write transaction already ended")


def _entry_size(kv: KeyValue) -> int:
    return len(kv.key) + len(kv.value) + _ENTRY_OVERHEAD
