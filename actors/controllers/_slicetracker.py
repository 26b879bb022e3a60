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
    """What this controller last wrote, by slice uid: ``(key, resourceVersion)``, or
    ``(key, None)`` for a slice it deleted."""

    def __init__(self, key_of: Callable[[Mapping[str, Any]], str | None]) -> None:
        self.key_of = key_of
        self._written: dict[str, tuple[str, int | None]] = {}

    def wrote(self, obj: Mapping[str, Any]) -> None:
        key, rv = self.key_of(obj), meta_of(obj).get("resourceVersion")
        if key and uid_of(obj) and rv:
            self._written[uid_of(obj)] = (key, int(rv))

    def deleted(self, key: str, uid: str) -> None:
        if uid:
            self._written[uid] = (key, None)

    def forget(self, uid: str) -> None:
        """A slice gone from the cache, or no longer the controller's."""
        self._written.pop(uid, None)

    def stale(self, key: str, cached: list[Mapping[str, Any]]) -> bool:
        """``StaleSlices``: the cache lacks a slice written, holds an older version of one,
        or still holds one deleted."""
        have = {uid_of(s): int(meta_of(s).get("resourceVersion") or 0) for s in cached}
        for uid, (k, rv) in self._written.items():
            if k != key:
                continue
            if rv is None and uid in have or rv is not None and have.get(uid, -1) < rv:
                return True
        return False


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
