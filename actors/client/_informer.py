"""Informers: the reflector (list, then watch), the shared informer (a cache plus event handlers)
and the factory giving a component one informer per resource — client-go's ``tools/cache``.

What it is, as client-go does it:
- **Reflector** (``Reflector(client, resource, store)``, writing to anything with
  client-go's Store verbs: an ``Indexer`` for a plain mirror, or a ``SharedInformer``). List (the first list at resourceVersion "0", any state the server has; later
  relists at the last seen version; "" — a quorum read — when that version is unavailable:
  410 Expired or 504 "Too large resource version"), paging 500 at a time when listing at
  ""/"0"; then watch from the list's resourceVersion with bookmarks on and a timeout drawn
  in [5, 10) minutes. Every event, bookmarks included, advances the last seen
  resourceVersion. A watch that ends normally (its timeout, or its apiserver went down) is
  re-opened from there without relisting; a watch that fails to open with a transport error
  or 429 backs off and retries. An ERROR event (410 Gone/Expired, or any other Status), a
  "very short watch" (closed within 1 s with no event) or a failed list ends the round:
  after a back-off (``wait.BackoffUntil`` with 0.8 s doubling to a 30 s cap, ×[1, 2) jitter,
  reset after 2 minutes of calm) it lists again.
- **Shared informer.** The list replaces the cache: listed objects are delivered as ``on_add``
  (new) or ``on_update(old, new)``; objects the cache held that the list lacks are deleted and
  delivered to ``on_delete`` as ``DeletedFinalStateUnknown`` tombstones (the informer missed
  their deletion). Watch events update the cache, then handlers. An update that does not
  change the resourceVersion (a relist of an unchanged object) is a *resync* and reaches only
  handlers that asked for periodic resync. Periodic resync re-delivers every cached object
  as ``on_update(obj, obj)`` to each handler whose ``resync_period`` is due (checked every
  min(period) ≥ 1 s). A handler added to a running informer first receives ``on_add`` for
  everything already cached. ``has_synced()`` turns true once the first list is delivered.
- **Factory.** One informer per (resource, namespace, selectors) per component;
  ``start()`` spawns the ones not yet running; ``wait_for_cache_sync()`` waits for all.

Concurrency model: an informer runs as tasks spawned on its client's actor (``actor.spawn``):
one for the reflector, one for the resync clock. Handlers run synchronously inside those
tasks — keep them short (enqueue a key); an exception in a handler crashes the actor, as a
panic in client-go does. All waiting is in the loop's (virtual) time.

Invariants: the cache only ever moves forward along one resourceVersion sequence per list;
handlers see an object's changes in order; cached objects are never mutated (see ``_store``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import msgspec

from actors.api import ApiError, lookup

from ._ratelimit import Backoff
from ._rest import TransportError, WatchStream
from ._store import (
    DeletedFinalStateUnknown,
    Indexer,
    IndexFunc,
    meta_namespace_key,
    mutation_detector_enabled,
)

if TYPE_CHECKING:

    from ._rest import Client

__all__ = [
    "HandlerRegistration",
    "InformerStats",
    "Reflector",
    "ReflectorStore",
    "SharedInformer",
    "SharedInformerFactory",
]

MIN_RESYNC_PERIOD = 1.0
MIN_WATCH_TIMEOUT = 300.0
PAGE_SIZE = 500
Handler = Callable[..., Any]


class InformerStats(msgspec.Struct, frozen=True):
    resource: str
    synced: bool
    items: int
    last_sync_resource_version: str
    lists: int
    watches: int
    watch_events: int
    expired: int
    errors: int
    resyncs: int
    last_error: str


class HandlerRegistration:
    """What ``add_event_handler`` returns (client-go's ``ResourceEventHandlerRegistration``)."""

    def __init__(self, informer: SharedInformer, on_add: Handler | None, on_update: Handler | None,
                 on_delete: Handler | None, resync_period: float) -> None:
        self._informer = informer
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete
        self.resync_period = resync_period
        self.next_resync = float("inf")

    def has_synced(self) -> bool:
        # Delivery is synchronous: once the informer synced, this handler has seen the list.
        return self._informer.has_synced()


def _rv(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("resourceVersion") or ""


def _is_expired(err: ApiError) -> bool:
    return err.code == 410 or err.reason in ("Expired", "Gone")


def _is_too_large_rv(err: ApiError) -> bool:
    return err.code == 504 and "Too large resource version" in err.message


class ReflectorStore(Protocol):
    """What a reflector writes to (client-go's ``Store``): an ``Indexer`` mirrors the server;
    a ``SharedInformer`` also tells its handlers."""

    def add(self, obj: dict[str, Any]) -> None: ...

    def update(self, obj: dict[str, Any]) -> None: ...

    def delete(self, obj: dict[str, Any]) -> None: ...

    def replace(self, objs: list[dict[str, Any]], resource_version: str) -> None: ...


class Reflector:
    """List, then watch, one resource into a store, until stopped (see the module docstring)."""

    def __init__(self, client: Client, resource: str, store: ReflectorStore, *,
                 namespace: str | None = None, label_selector: Any = None,
                 field_selector: Any = None) -> None:
        self.client = client
        self.resource = lookup(resource).resource
        self.store = store
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.last_sync_resource_version = ""
        self._actor = client.actor
        self._loop = client.actor.system.loop
        self._backoff = Backoff(client.actor.rng)
        self._rv_unavailable = False
        self._watch: WatchStream | None = None
        self._stopped = False
        self.counts = {"lists": 0, "watches": 0, "events": 0, "expired": 0, "errors": 0}
        self.last_error = ""

    def stop(self) -> None:
        self._stopped = True
        if self._watch is not None:
            self._watch.stop()

    async def run(self) -> None:
        """ListAndWatch until stopped, backing off between rounds (``wait.BackoffUntil``)."""
        while not self._stopped:
            try:
                await self.list_and_watch()
            except (ApiError, TransportError) as e:
                self.counts["errors"] += 1
                self.last_error = str(e)
                self._actor.log.info("list/watch failed", resource=self.resource, error=str(e))
            await anyio.sleep(self._backoff.next(self._loop.time()))

    async def list_and_watch(self) -> None:
        """One round: list, then watch (re-opening ended watches) until a watch fails."""
        await self._list()
        while not self._stopped:
            timeout = MIN_WATCH_TIMEOUT * (1.0 + self._actor.rng.random())
            start = self._loop.time()
            try:
                stream = await self.client.watch(
                    self.resource, self.namespace, resource_version=self.last_sync_resource_version,
                    label_selector=self.label_selector, field_selector=self.field_selector,
                    allow_bookmarks=True, timeout_seconds=timeout,
                )
            except TransportError:
                await anyio.sleep(self._backoff.next(self._loop.time()))
                continue
            except ApiError as e:
                if e.code == 429:
                    await anyio.sleep(self._backoff.next(self._loop.time()))
                    continue
                if _is_expired(e):
                    self.counts["expired"] += 1
                    return  # relist at the last seen version
                raise
            self.counts["watches"] += 1
            self._watch = stream
            try:
                err = await self._consume(stream)
            finally:
                stream.stop()
                self._watch = None
            if err is not None:
                if _is_expired(err):
                    self.counts["expired"] += 1
                    return
                raise err
            if stream.events == 0 and self._loop.time() - start < 1.0:
                self.last_error = f"very short watch of {self.resource}"
                return

    async def _list(self) -> None:
        self.counts["lists"] += 1
        try:
            items, rv = await self._list_pages(self._relist_rv())
        except ApiError as e:
            if not (_is_expired(e) or _is_too_large_rv(e)):
                raise
            # The version we asked for is gone (or not there yet): a quorum read always works.
            self._rv_unavailable = True
            items, rv = await self._list_pages(self._relist_rv())
        self._rv_unavailable = False
        self.store.replace(items, rv)
        self.last_sync_resource_version = rv

    def _relist_rv(self) -> str:
        if self._rv_unavailable:
            return ""
        return self.last_sync_resource_version or "0"

    async def _list_pages(self, rv: str) -> tuple[list[dict[str, Any]], str]:
        # client-go's pager: pages of 500 for ""/"0", a single unpaged list at an exact version.
        limit = PAGE_SIZE if rv in ("", "0") else None
        kw = {"label_selector": self.label_selector, "field_selector": self.field_selector}
        page = await self.client.list(self.resource, self.namespace, limit=limit, resource_version=rv, **kw)
        items = list(page.get("items") or ())
        while (page.get("metadata") or {}).get("continue"):
            try:
                page = await self.client.list(self.resource, self.namespace, limit=limit,
                                              continue_=page["metadata"]["continue"], **kw)
            except ApiError as e:
                if not _is_expired(e):
                    raise
                # The continue token expired: fall back to one full list (FullListIfExpired).
                page = await self.client.list(self.resource, self.namespace, resource_version=rv, **kw)
                items = list(page.get("items") or ())
                break
            items.extend(page.get("items") or ())
        return items, (page.get("metadata") or {}).get("resourceVersion") or ""

    async def _consume(self, stream: WatchStream) -> ApiError | None:
        async for type_, obj in stream:
            if type_ == "ERROR":
                return stream.error
            self.counts["events"] += 1
            if type_ == "ADDED":
                self.store.add(obj)
            elif type_ == "MODIFIED":
                self.store.update(obj)
            elif type_ == "DELETED":
                self.store.delete(obj)
            elif type_ != "BOOKMARK":
                self._actor.log.warning("unknown watch event type", resource=self.resource, type=type_)
                continue
            rv = _rv(obj)
            if rv:
                self.last_sync_resource_version = rv
        return None


class SharedInformer:
    """A cache of one resource kept current by a reflector, with event handlers."""

    def __init__(
        self,
        client: Client,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> None:
        self.client = client
        self.resource = lookup(resource).resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.indexer = Indexer(indexers)
        if mutation_detector_enabled():
            self.indexer.detect_mutations()
        self._actor = client.actor
        self._loop = client.actor.system.loop
        self.reflector = Reflector(client, self.resource, self, namespace=namespace,
                                   label_selector=label_selector, field_selector=field_selector)
        self._handlers: list[HandlerRegistration] = []
        self._synced = False
        self._sync_waiters: list[asyncio.Future[None]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = False
        self._resyncs = 0

    # ---- public API --------------------------------------------------------------------------
    @property
    def store(self) -> Indexer:
        return self.indexer

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    def has_synced(self) -> bool:
        return self._synced

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    def add_event_handler(
        self,
        handler: Any = None,
        *,
        on_add: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
        resync_period: float | None = None,
    ) -> HandlerRegistration:
        """Register callbacks (or an object with ``on_add``/``on_update``/``on_delete``)."""
        if handler is not None:
            on_add = on_add or getattr(handler, "on_add", None)
            on_update = on_update or getattr(handler, "on_update", None)
            on_delete = on_delete or getattr(handler, "on_delete", None)
        period = self.resync_period if resync_period is None else resync_period
        if 0 < period < MIN_RESYNC_PERIOD:
            period = MIN_RESYNC_PERIOD
        reg = HandlerRegistration(self, on_add, on_update, on_delete, period)
        if period > 0:
            reg.next_resync = self._loop.time() + period
        self._handlers.append(reg)
        if reg.on_add is not None:
            for obj in self.indexer.list():
                reg.on_add(obj)
        return reg

    def remove_event_handler(self, reg: HandlerRegistration) -> None:
        if reg in self._handlers:
            self._handlers.remove(reg)

    def start(self) -> None:
        """Spawn the reflector and the resync clock on the client's actor (idempotent)."""
        if self._tasks or self._stopped:
            return
        tag = f"{self._actor.name}:informer:{self.resource}"
        self._tasks.append(self._actor.spawn(self.reflector.run(), name=tag))
        self._tasks.append(self._actor.spawn(self._resync_loop(), name=tag + ":resync"))

    def stop(self) -> None:
        self._stopped = True
        self.reflector.stop()
        for t in self._tasks:
            t.cancel()
        self._tasks.clear()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait (virtual time) until the first list is delivered; False on timeout."""
        if self._synced:
            return True
        fut: asyncio.Future[None] = self._loop.create_future()
        self._sync_waiters.append(fut)
        with anyio.move_on_after(timeout):
            await fut
        return self._synced

    # ---- listers -----------------------------------------------------------------------------
    def get(self, name: str, namespace: str | None = None) -> Mapping[str, Any] | None:
        return self.indexer.get_by_key(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None, label_selector: Any = None) -> list[Mapping[str, Any]]:
        items = self.indexer.by_index("namespace", namespace) if namespace else self.indexer.list()
        if label_selector is None:
            return items
        return [o for o in items if label_selector.matches((o.get("metadata") or {}).get("labels") or {})]

    def statistics(self) -> InformerStats:
        n = self.reflector.counts
        return InformerStats(
            resource=self.resource, synced=self._synced, items=len(self.indexer),
            last_sync_resource_version=self.last_sync_resource_version, lists=n["lists"],
            watches=n["watches"], watch_events=n["events"], expired=n["expired"],
            errors=n["errors"], resyncs=self._resyncs, last_error=self.reflector.last_error,
        )

    # ---- the store the reflector writes to: cache, then handlers --------------------------
    def add(self, obj: dict[str, Any]) -> None:
        self._upsert(obj)

    def update(self, obj: dict[str, Any]) -> None:
        self._upsert(obj)

    def delete(self, obj: dict[str, Any]) -> None:
        # An unknown key was already deleted (or never seen): client-go ignores it too.
        key = meta_namespace_key(obj)
        if key in self.indexer:
            self.indexer.delete(key)
            self._notify_delete(obj)

    def replace(self, items: list[dict[str, Any]], rv: str) -> None:
        listed: dict[str, None] = {}
        for obj in items:
            listed[meta_namespace_key(obj)] = None
            self._upsert(obj)
        for key in [k for k in self.indexer.list_keys() if k not in listed]:
            last = self.indexer.get_by_key(key)
            self.indexer.delete(key)
            assert last is not None
            self._notify_delete(DeletedFinalStateUnknown(key, last))
        self.indexer.resource_version = rv
        if not self._synced:
            self._synced = True
            for fut in self._sync_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._sync_waiters.clear()

    def _upsert(self, obj: dict[str, Any]) -> None:
        old = self.indexer.get(obj)
        self.indexer.add(obj)
        if old is None:
            for h in list(self._handlers):
                if h.on_add is not None:
                    h.on_add(obj)
            return
        # An update that keeps the resourceVersion is a resync: only resyncing handlers get it.
        is_sync = _rv(old) == _rv(obj)
        for h in list(self._handlers):
            if h.on_update is not None and (not is_sync or h.resync_period > 0):
                h.on_update(old, obj)

    def _notify_delete(self, obj: Any) -> None:
        for h in list(self._handlers):
            if h.on_delete is not None:
                h.on_delete(obj)

    async def _resync_loop(self) -> None:
        while not self._stopped:
            periods = [h.resync_period for h in self._handlers if h.resync_period > 0]
            await anyio.sleep(max(MIN_RESYNC_PERIOD, min(periods)) if periods else MIN_WATCH_TIMEOUT)
            if not self._synced:
                continue
            now = self._loop.time()
            due = [h for h in self._handlers if h.resync_period > 0 and now >= h.next_resync - 1e-9]
            if not due:
                continue
            for h in due:
                h.next_resync = now + h.resync_period
            self._resyncs += 1
            for obj in self.indexer.list():
                for h in due:
                    if h.on_update is not None:
                        h.on_update(obj, obj)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for a component's client."""

    def __init__(self, client: Client, *, default_resync: float = 0.0, namespace: str | None = None) -> None:
        self.client = client
        self.default_resync = default_resync
        self.namespace = namespace
        self._informers: dict[tuple[str, str | None, str, str], SharedInformer] = {}

    def informer_for(
        self,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        resync_period: float | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> SharedInformer:
        ns = namespace if namespace is not None else self.namespace
        res = lookup(resource).resource
        key = (res, ns, "" if label_selector is None else str(label_selector),
               "" if field_selector is None else str(field_selector))
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedInformer(
                self.client, res, namespace=ns, label_selector=label_selector,
                field_selector=field_selector,
                resync_period=self.default_resync if resync_period is None else resync_period,
                indexers=indexers,
            )
            self._informers[key] = inf
        elif indexers:
            missing = {n: f for n, f in indexers.items() if n not in inf.indexer.indexers}
            if missing:
                inf.indexer.add_indexers(missing)
        return inf

    @property
    def informers(self) -> list[SharedInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        for inf in self._informers.values():
            inf.start()

    def has_synced(self) -> bool:
        return all(inf.has_synced() for inf in self._informers.values())

    async def wait_for_cache_sync(self, timeout: float | None = None) -> dict[str, bool]:
        """Wait until every started informer has synced; returns resource → synced."""
        started = [inf for inf in self._informers.values() if inf.started]
        with anyio.move_on_after(timeout):
            for inf in started:
                await inf.wait_for_sync()
        return {inf.resource: inf.has_synced() for inf in started}

    def shutdown(self) -> None:
        for inf in self._informers.values():
            inf.stop()
