"""What an EndpointSlice-writing controller last wrote (``endpointsliceutil.EndpointSliceTracker``).

What it is: ``SliceTracker(key_of)`` remembers, by slice uid, the resourceVersion of every
slice the controller created or updated and the slices it deleted, under the controller key
``key_of(slice)`` (a Service's or an Endpoints' ``namespace/name``). ``stale(key, cached)`` is
``StaleSlices``: the informer's slices for ``key`` lack one written, hold an older version of
one, or still hold one deleted — the sync must wait (Kubernetes returns a stale-cache error and
retries with back-off) instead of planning from a cache that does not yet show its own
writes, which would create a second slice for the same endpoints. Kubernetes compares
``metadata.generation``; our apiserver sets none on EndpointSlices, so resourceVersions are
compared instead.

``SliceWriter`` is the controller side, mixed in before ``Controller``: a sync whose cache is
stale returns a requeue (the stale-cache error), and every slice write or delete the
controller makes is recorded.

Concurrency model: none; owned by one controller, touched from its handlers and workers.

Invariants: an entry is dropped when its slice leaves the cache or stops being the
controller's (``forget``), so the tracker holds at most the controller's live slices plus the
deletions not yet observed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from actors.client import Result

from ._plan import Action, Delete, meta_of, uid_of

if TYPE_CHECKING:
    from actors.client import SharedInformer

__all__ = ["SliceTracker", "SliceWriter"]


class SliceTracker:
    """What this controller last wrote, per controller key and slice uid: the
    resourceVersion written, or None for a slice it deleted. Keyed by controller key, as
    Kubernetes' tracker is by Service, so a sync looks only at its own key's slices."""

    def __init__(self, key_of: Callable[[Mapping[str, Any]], str | None]) -> None:
        self.key_of = key_of
        self._by_key: dict[str, dict[str, int | None]] = {}
        self._key_by_uid: dict[str, str] = {}

    def wrote(self, obj: Mapping[str, Any]) -> None:
        key, rv = self.key_of(obj), meta_of(obj).get("resourceVersion")
        if key and uid_of(obj) and rv:
            self._put(key, uid_of(obj), int(rv))

    def deleted(self, key: str, uid: str) -> None:
        if uid:
            self._put(key, uid, None)

    def forget(self, uid: str) -> None:
        """A slice gone from the cache, or no longer the controller's."""
        key = self._key_by_uid.pop(uid, None)
        if key is not None:
            self._drop(key, uid)

    def stale(self, key: str, cached: list[Mapping[str, Any]]) -> bool:
        """``StaleSlices``: the cache lacks a slice written, holds an older version of one,
        or still holds one deleted."""
        written = self._by_key.get(key)
        if not written:
            return False
        have = {uid_of(s): int(meta_of(s).get("resourceVersion") or 0) for s in cached}
        return any(uid in have if rv is None else have.get(uid, -1) < rv
                   for uid, rv in written.items())

    def _put(self, key: str, uid: str, rv: int | None) -> None:
        before = self._key_by_uid.get(uid)
        if before is not None and before != key:
            self._drop(before, uid)  # the slice moved to another key
        self._by_key.setdefault(key, {})[uid] = rv
        self._key_by_uid[uid] = key

    def _drop(self, key: str, uid: str) -> None:
        written = self._by_key.get(key)
        if written is not None:
            written.pop(uid, None)
            if not written:
                del self._by_key[key]


class SliceWriter:
    """Mixin for a controller that writes EndpointSlices: set ``tracker``, ``slices`` (the
    slice informer) and ``slice_index`` (its index by controller key) in ``setup``."""

    tracker: SliceTracker
    slices: SharedInformer
    slice_index: str

    async def reconcile(self, key: Any) -> Result:
        if self.tracker.stale(key, self.slices.indexer.by_index(self.slice_index, key)):
            return Result(requeue=True)  # the stale-cache error: retried with back-off
        return await super().reconcile(key)  # type: ignore[misc]

    async def _write(self, action: Action) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await super()._write(action)  # type: ignore[misc]
        if action.ref.kind != "EndpointSlice":
            return result
        if isinstance(action, Delete):
            cached = self.slices.indexer.get_by_key(action.ref.key())
            key = self.tracker.key_of(cached) if cached is not None else None
            if key:
                self.tracker.deleted(key, action.ref.uid)
        elif result is not None:
            self.tracker.wrote(result)
        return result
