"""etcd's watch hub (etcd-io/etcd server/storage/mvcc watchable_store), pull-based.

What it is: the watchers of one member and the responses waiting for them. A watcher covers a
key or an etcd key range from a start revision; it first replays the store's retained history
from that revision, then receives each later change. Nothing is pushed anywhere: every method
only queues `WatchResponse`s, and the caller takes them with `drain()` and routes them by
watch id to its client streams. No callbacks into actors.

How events reach watchers: a new watcher replays the store's log from its start revision to
the store's head at once; after that, `sync()` reads the log from the first revision not yet
delivered up to the head. The state machine calls `sync()` after every applied request (and
after a restore), so a change can be neither skipped nor delivered twice, however the caller
batches its calls. Matching is a linear scan over watchers per event (etcd uses an interval
tree): fine for the tens of prefix watchers an apiserver's watch cache opens.

Concurrency model: none. Plain synchronous code; the hub shares its `MVCCStore` with the state
machine and only reads it.

Guarantees (etcd's documented watch guarantees, api_guarantees.md):
* Ordered: a watcher's events come in revision order, a txn's events in txn order;
* Unique and Reliable: every matching change with revision >= the watcher's start revision is
  delivered exactly once, unless it was compacted away first, in which case the watcher gets a
  canceled response carrying `compact_revision` (etcd: start revision < compact revision);
* Atomic: the events of one revision are never split across responses;
* Bookmarkable: a progress notification at revision r follows every event <= r;
* Resumable: a new watch from (last received revision + 1) continues without a gap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from actors.etcd._kv_messages import (
    Event,
    ResponseHeader,
    WatchCreateRequest,
    WatchIdExistsError,
    WatchNotFoundError,
    WatchResponse,
    in_range,
)
from actors.etcd._mvcc import MVCCStore

__all__ = ["WatchHub"]

_COMPACTED_REASON = "mvcc: required revision has been compacted"


@dataclass(slots=True)
class _Watcher:
    id: int
    key: bytes
    range_end: bytes
    start: int  # the first revision this watcher still needs (raised past a replay)
    prev_kv: bool
    no_put: bool
    no_delete: bool
    progress_notify: bool

    def wants(self, event: Event) -> bool:
        if event.kv.mod_revision < self.start:
            return False
        if event.type == "put" and self.no_put:
            return False
        if event.type == "delete" and self.no_delete:
            return False
        return in_range(event.kv.key, self.key, self.range_end)


class WatchHub:
    """Every watcher of one member, and the responses queued for them."""

    def __init__(
        self, store: MVCCStore, *, member_id: int = 0, max_events_per_response: int = 1000
    ) -> None:
        if max_events_per_response < 1:
            raise ValueError("max_events_per_response must be at least 1")
        self._store = store
        self._member_id = member_id
        self._max_events = max_events_per_response
        self._watchers: dict[int, _Watcher] = {}
        self._next_id = 1
        self._delivered = store.revision  # every change up to here is queued for watchers
        self._queue: list[tuple[int, WatchResponse]] = []
        self.raft_term = 0  # stamped into headers; the shell keeps it current

    # ----------------------------------------------------------------- watchers

    @property
    def delivered_revision(self) -> int:
        """Every change up to this revision has been queued for the watchers."""
        return self._delivered

    def __len__(self) -> int:
        return len(self._watchers)

    def __contains__(self, watch_id: int) -> bool:
        return watch_id in self._watchers

    def watch_ids(self) -> list[int]:
        return list(self._watchers)

    def create(self, request: WatchCreateRequest) -> int:
        """`watch(...)` from a client's WatchCreateRequest."""
        return self.watch(
            request.key,
            request.range_end,
            start_revision=request.start_revision,
            prev_kv=request.prev_kv,
            filters=request.filters,
            progress_notify=request.progress_notify,
            watch_id=request.watch_id,
        )

    def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int = 0,
        prev_kv: bool = False,
        filters: Iterable[str] = (),
        progress_notify: bool = False,
        watch_id: int = 0,
    ) -> int:
        """Create a watcher and queue its `created` response; returns its watch id.

        `start_revision <= 0` means "changes after the current revision". A start below the
        store's compaction revision queues a canceled response carrying `compact_revision`
        instead of any event (the id is used up). Retained history from the start revision
        is replayed right away. Raises `WatchIdExistsError` for a `watch_id` in use.
        """
        watch_id = self._claim_id(watch_id)
        start = start_revision if start_revision > 0 else self._store.revision + 1
        filters = set(filters)
        watcher = _Watcher(
            watch_id, key, range_end, start, prev_kv,
            "noput" in filters, "nodelete" in filters, progress_notify,
        )  # fmt: skip
        self._queue.append((watch_id, WatchResponse(self._header(), watch_id, created=True)))
        compact = self._store.compact_revision
        if start < compact:
            self._queue_compacted(watch_id, compact)
            return watch_id
        self._watchers[watch_id] = watcher
        head = self._store.revision
        if start <= head:
            # Replay through the store's head, even past what `sync` delivered so far, so a
            # compaction before the next sync cannot take events this watcher could have had.
            events = self._store.events(start, key, range_end)
            self._queue_events([watcher], events, head)
            watcher.start = head + 1
        return watch_id

    def cancel(self, watch_id: int, reason: str = "") -> None:
        """Remove a watcher and queue its canceled response. Raises `WatchNotFoundError`."""
        if self._watchers.pop(watch_id, None) is None:
            raise WatchNotFoundError()
        response = WatchResponse(self._header(), watch_id, canceled=True, cancel_reason=reason)
        self._queue.append((watch_id, response))

    def cancel_all(self, watch_ids: Iterable[int]) -> None:
        """Drop watchers without a response (their client stream is gone)."""
        for watch_id in watch_ids:
            self._watchers.pop(watch_id, None)

    # ----------------------------------------------------------------- delivery

    def sync(self) -> list[int]:
        """Queue every change the store committed since the last sync; returns the watch ids
        that got new responses (compaction cancellations included), in id order."""
        store = self._store
        if store.revision <= self._delivered:
            return []
        touched: set[int] = set()
        start = self._delivered + 1
        if start < store.compact_revision:
            # History we had not delivered is gone (a restore from a newer snapshot):
            # watchers still needing it are compacted, as etcd's syncWatchers does.
            compact = store.compact_revision
            for watcher in list(self._watchers.values()):
                if watcher.start < compact:
                    del self._watchers[watcher.id]
                    self._queue_compacted(watcher.id, compact)
                    touched.add(watcher.id)
            start = compact
        self._delivered = store.revision
        if self._watchers:  # no watcher, nothing to read (this runs after every apply)
            watchers = list(self._watchers.values())
            touched |= self._queue_events(watchers, store.events(start), store.revision)
        return sorted(touched)

    def progress(self, watch_ids: Iterable[int] | None = None) -> None:
        """Queue a progress notification for the watchers named (all when None).

        Syncs first, so the notification's revision is the store's head and every event up
        to it is queued before it (and no watcher's replay ran ahead of it).
        """
        self.sync()
        ids = list(self._watchers) if watch_ids is None else watch_ids
        header = self._header()
        for watch_id in ids:
            if watch_id in self._watchers:
                self._queue.append((watch_id, WatchResponse(header, watch_id)))

    def progress_notify_ids(self) -> list[int]:
        """Watchers that asked for periodic progress notifications (`progress_notify`)."""
        return [w.id for w in self._watchers.values() if w.progress_notify]

    def drain(self) -> list[tuple[int, WatchResponse]]:
        """Take every queued response, oldest first (so per watcher in order)."""
        queued, self._queue = self._queue, []
        return queued

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ----------------------------------------------------------------- internals

    def _claim_id(self, watch_id: int) -> int:
        if watch_id > 0:
            if watch_id in self._watchers:
                raise WatchIdExistsError()
            return watch_id
        while self._next_id in self._watchers:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    def _header(self, revision: int | None = None) -> ResponseHeader:
        rev = self._delivered if revision is None else revision
        return ResponseHeader(rev, self.raft_term, self._member_id)

    def _queue_compacted(self, watch_id: int, compact: int) -> None:
        response = WatchResponse(
            self._header(), watch_id, canceled=True, compact_revision=compact,
            cancel_reason=_COMPACTED_REASON,
        )  # fmt: skip
        self._queue.append((watch_id, response))

    def _queue_events(
        self, watchers: Sequence[_Watcher], events: Iterable[Event], through: int
    ) -> set[int]:
        """Batch events per watcher, cutting batches only between revisions. A batch's header
        revision is its last event's revision, or `through` (all read) for the final one."""
        batches: dict[int, list[Event]] = {w.id: [] for w in watchers}
        touched: set[int] = set()
        last_rev = 0
        for event in events:
            rev = event.kv.mod_revision
            if rev != last_rev:
                for watcher in watchers:  # a new revision: full batches may be sent now
                    batch = batches[watcher.id]
                    if len(batch) >= self._max_events:
                        self._send(watcher.id, batch, last_rev)
                        batches[watcher.id] = []
                last_rev = rev
            for watcher in watchers:
                if watcher.wants(event):
                    batches[watcher.id].append(
                        event if watcher.prev_kv or event.prev_kv is None else _bare(event)
                    )
                    touched.add(watcher.id)
        for watcher in watchers:
            if batches[watcher.id]:
                self._send(watcher.id, batches[watcher.id], through)
        return touched

    def _send(self, watch_id: int, events: list[Event], revision: int) -> None:
        response = WatchResponse(self._header(revision), watch_id, events=tuple(events))
        self._queue.append((watch_id, response))


def _bare(event: Event) -> Event:
    return Event(event.type, event.kv)
