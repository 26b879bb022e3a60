"""The apiserver's watch caches: one ``WatchCache`` per stored resource, each fed by ONE etcd
watch, serving every list and watch of that resource (``storage/cacher``'s shell).

What it is:
- start: list the resource's etcd prefix at revision R, ``replace`` the cache with it, then
  watch the prefix from R+1 (with ``prev_kv``); a pump task turns etcd events into cache
  events (a put of a new key is ADDED, of an existing one MODIFIED, a delete DELETED) and
  progress notifications into ``progress``. The etcd client's watch resumes across member
  failures with no gap; if etcd compacted past it, the cache re-lists (and its watchers
  end, as the cacher's do);
- list: ``resourceVersion`` unset is a consistent read (Kubernetes' ConsistentListFromCache):
  the current etcd revision is read with a quorum read, progress is requested from etcd,
  and the list is served once the cache has caught up (or straight from etcd, through a
  throw-away cache, if it does not within 3 s); ``0`` is whatever the cache holds; N waits
  up to 3 s for the cache to reach N, then 504;
- watch: a ``Watcher`` of the cache; its events are told to the asker as ``WatchEvent``s
  after every change. A watch from a revision older than the cache's window ends at once
  with an ERROR event carrying the 410 Status (then the client re-lists); so does a
  watcher the cache closes (too slow, or a re-list). Bookmarks go to watchers that asked
  (``allowWatchBookmarks=true``);
- deletecollection: the matching objects, deleted one by one through the delete verb.

Events have no cache (kube-apiserver's ``DefaultWatchCacheSizes`` gives them size 0): their
lists and watches go to etcd directly (``_uncached.EtcdDirect``), ``ready`` is False for
them (so a get at ``resourceVersion=0`` reads etcd), and no etcd watch is kept for them.

Concurrency model: the caches belong to the apiserver actor; pump tasks feed them and
request tasks read them, all on the actor's loop, never across an await mid-update.
Waiting readers use an ``anyio.Event`` per cache, replaced after every advance.

Invariants: a watcher's events are told in revision order, each exactly once; one etcd
watch per cached resource per apiserver, one per API watch of an uncached one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio

from actors.api import (
    ApiError,
    ResourceInfo,
    UnknownResource,
    all_resources,
    bad_request,
    expired,
    lookup,
    to_dict,
)
from actors.etcd import EtcdClient, EtcdError, UnknownOutcome, Watch
from actors.etcd._kv_messages import WatchProgressRequest

from ._context import Req
from ._deletion import delete
from ._objects import param_bool
from ._protocol import WatchEvent
from ._storage import Storage, decode_value
from ._uncached import EtcdDirect, is_uncached
from ._watchcache import TooLargeResourceVersion, WatchCache, Watcher

if TYPE_CHECKING:
    from runtime import Actor

    from ._context import Services

__all__ = ["CONSISTENT_READ_WAIT", "CacheSet", "ResourceCache", "cached_resources"]

CONSISTENT_READ_WAIT = 3.0


def cached_resources() -> list[ResourceInfo]:
    """The stored resources that get a watch cache (every one but events)."""
    return [ri for ri in all_resources()
            if ri.etcd_prefix is not None and ri.type is not None and not is_uncached(ri)]


def _closed_status(reason: str) -> dict[str, Any]:
    return to_dict(expired(f"watch closed ({reason}): re-list and watch again"))


class ResourceCache:
    """One resource: its WatchCache, its etcd watch and its watchers' addresses."""

    def __init__(self, ri: ResourceInfo, capacity: int) -> None:
        self.ri = ri
        self.prefix = f"{ri.etcd_prefix}/"
        self.cache = WatchCache(ri.resource, capacity=capacity, kind=ri.kind,
                                api_version=ri.api_version)
        self.watch: Watch | None = None
        self.synced = False
        self.watchers: dict[int, tuple[str, Watcher]] = {}  # api watch id -> (asker, watcher)
        self.advanced = anyio.Event()

    def advance(self) -> None:
        self.advanced.set()
        self.advanced = anyio.Event()

    async def wait_for(self, revision: int, timeout: float) -> bool:
        with anyio.move_on_after(timeout):
            while self.cache.resource_version < revision:
                await self.advanced.wait()
            return True
        return False


class CacheSet:
    def __init__(self, actor: Actor, client: EtcdClient, *, capacity: int = 1000,
                 on_change: Callable[[ResourceInfo], None] | None = None) -> None:
        self.actor = actor
        self.client = client
        self.storage = Storage(client)
        self.capacity = capacity
        self.on_change = on_change or (lambda ri: None)
        self.caches: dict[str, ResourceCache] = {}
        self._next_id = 1
        self._owner: dict[int, ResourceCache] = {}  # api watch id -> its cache
        # Watches whose opening reply is not sent yet: their events wait, so an asker always
        # gets the reply (with the watch id) before the events.
        self._held: dict[int, tuple[str, dict[str, Any]] | None] = {}
        self._seqs: dict[int, int] = {}  # api watch id -> the last WatchEvent.seq sent
        # Events: no cache, every list and watch from etcd.
        self.direct = EtcdDirect(actor, client, self._tell, self._forget_seq)
        self.closed = False

    # ---- feeding ------------------------------------------------------------------------
    async def start_all(self) -> None:
        for ri in cached_resources():
            rc = self.caches[ri.resource] = ResourceCache(ri, self.capacity)
            await self._relist(rc)
            self.actor.spawn(self._pump(rc), name=f"{self.actor.name}:cache:{ri.resource}")

    async def _relist(self, rc: ResourceCache) -> None:
        while True:
            try:
                stored, rev = await self.storage.list(rc.prefix)
                break
            except (EtcdError, UnknownOutcome):
                await anyio.sleep(1.0)  # no etcd leader yet: the cacher retries too
        had = list(rc.watchers.items())
        rc.cache.replace([s.obj for s in stored], rev)
        for wid, (asker, _) in had:
            self._end(rc, wid, asker, "relist")
        rc.synced = True
        rc.advance()
        self.on_change(rc.ri)

    async def _pump(self, rc: ResourceCache) -> None:
        key = rc.prefix.encode()
        while not self.closed:
            rc.watch = await self.client.watch(
                key, prefix=True, start_revision=rc.cache.resource_version + 1, prev_kv=True)
            async for resp in rc.watch:
                if resp.canceled:
                    break
                if resp.events:
                    self._apply(rc, resp.events)
                elif not resp.created and resp.header.revision > rc.cache.resource_version:
                    rc.cache.progress(int(resp.header.revision))
                    rc.advance()
            if self.closed:
                return
            rc.watch = None
            await self._relist(rc)  # the watch was compacted away: start over

    def _apply(self, rc: ResourceCache, events: Any) -> None:
        for ev in events:
            kv = ev.kv
            if ev.type == "put":
                kind = "ADDED" if kv.create_revision == kv.mod_revision else "MODIFIED"
                rc.cache.apply(kind, decode_value(kv.value, kv.mod_revision), kv.mod_revision)
            else:
                prev = ev.prev_kv
                obj = decode_value(prev.value, kv.mod_revision) if prev is not None else \
                    _stub(rc, kv.key.decode())
                rc.cache.apply("DELETED", obj, kv.mod_revision)
        self._flush(rc)
        rc.advance()
        self.on_change(rc.ri)

    def close(self) -> None:
        self.closed = True
        self.direct.close()
        for rc in self.caches.values():
            if rc.watch is not None:
                rc.watch.cancel()

    # ---- reading ------------------------------------------------------------------------
    def _rc(self, ri: ResourceInfo) -> ResourceCache:
        rc = self.caches.get(ri.resource)
        if rc is None or is_uncached(ri):
            raise LookupError(f"{ri.resource} has no watch cache: check ready() first")
        return rc

    def ready(self, ri: ResourceInfo) -> bool:
        """Whether ``get``/``items`` may be used for ``ri`` (never for uncached events)."""
        rc = self.caches.get(ri.resource)
        return rc is not None and rc.synced and not is_uncached(ri)

    async def lister(self, namespace: str | None,
                     uncached: Iterable[str] = ()) -> Callable[[str], list[dict[str, Any]]]:
        """``items`` by resource name for synchronous code (a new quota's first usage): the
        caches' objects in ``namespace``, and for the uncached resources named in
        ``uncached``, what etcd holds now (read here, once)."""
        read: dict[str, list[dict[str, Any]]] = {}
        for name in dict.fromkeys(uncached):
            ri = _resource(name)
            if ri is not None and is_uncached(ri) and ri.etcd_prefix is not None:
                read[ri.resource] = await self.direct.items(ri, namespace)

        def items(name: str) -> list[dict[str, Any]]:
            ri = _resource(name)
            if ri is None:
                return []
            if is_uncached(ri):
                return read.get(ri.resource, [])
            return self.items(ri, namespace) if self.ready(ri) else []
        return items

    def get(self, ri: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._rc(ri).cache.get(namespace or "" if ri.namespaced else "", name)

    def items(self, ri: ResourceInfo, namespace: str | None) -> list[dict[str, Any]]:
        return self._rc(ri).cache.list(namespace=namespace or "").items

    async def _consistent_revision(self, rc: ResourceCache) -> int:
        """The etcd revision a consistent read must reflect; asks etcd for progress so the
        cache learns it has caught up even when nothing changed under its prefix."""
        rev = await self.storage.revision()
        if rc.cache.resource_version < rev and rc.watch is not None and rc.watch.member:
            self.actor.tell(rc.watch.member, WatchProgressRequest())
        return rev

    async def list(self, req: Req, svc: Services) -> dict[str, Any]:
        p = req.params
        rv = p.get("resourceVersion", "")
        token = p.get("continue", "")
        try:
            limit = int(p.get("limit") or 0)
        except ValueError:
            raise ApiError(bad_request(f"invalid limit {p.get('limit')!r}")) from None
        if is_uncached(req.ri):
            return await self.direct.list(req, max(0, limit))
        rc = self._rc(req.ri)
        kwargs = dict(namespace=req.namespace or "", label_selector=p.get("labelSelector", ""),
                      field_selector=p.get("fieldSelector", ""), resource_version=rv,
                      resource_version_match=p.get("resourceVersionMatch", ""),
                      limit=max(0, limit), continue_token=token)
        cache = rc.cache
        if not rv and not token:
            target = await self._consistent_revision(rc)
            if not await rc.wait_for(target, CONSISTENT_READ_WAIT):
                stored, rev = await self.storage.list(rc.prefix)
                cache = WatchCache(req.ri.resource, kind=req.ri.kind)
                cache.replace([s.obj for s in stored], rev)
        try:
            result = cache.list(**kwargs)  # type: ignore[arg-type]
        except TooLargeResourceVersion:
            await rc.wait_for(int(rv), CONSISTENT_READ_WAIT)
            result = rc.cache.list(**kwargs)  # type: ignore[arg-type]
        meta: dict[str, Any] = {"resourceVersion": result.resource_version}
        if result.continue_token:
            meta["continue"] = result.continue_token
        return {"kind": req.ri.list_kind, "apiVersion": req.ri.api_version, "metadata": meta,
                "items": result.items}

    # ---- watching -----------------------------------------------------------------------
    async def watch(self, req: Req, asker: str) -> int:
        p = req.params
        wid = self._next_id
        self._next_id += 1
        if is_uncached(req.ri):
            await self.direct.watch(req, asker, wid)
            return wid
        rc = self._rc(req.ri)
        try:
            w = rc.cache.watch(namespace=req.namespace or "",
                               label_selector=p.get("labelSelector", ""),
                               field_selector=p.get("fieldSelector", ""),
                               resource_version=p.get("resourceVersion", ""),
                               allow_bookmarks=param_bool(p, "allowWatchBookmarks"))
        except ApiError as e:
            if e.code != 410:
                raise
            # The stream opens and ends at once with the 410, as the apiserver answers a
            # watch from a compacted revision.
            self._held[wid] = (asker, to_dict(e.status))
            return wid
        w.tag = wid
        rc.watchers[wid] = (asker, w)
        self._owner[wid] = rc
        self._held[wid] = None
        return wid

    def release(self, wid: int) -> None:
        """The watch's reply is sent: its events may flow."""
        if self.direct.release(wid):
            return
        if wid not in self._held:
            return
        error = self._held.pop(wid)
        if error is not None:
            self.actor.tell(error[0], WatchEvent(wid, "ERROR", error[1], 1))
            return
        rc = self._owner.get(wid)
        if rc is not None and wid in rc.watchers:
            self._send(rc, wid)

    def _send(self, rc: ResourceCache, wid: int) -> None:
        if wid in self._held:
            return
        asker, w = rc.watchers[wid]
        for ev in w.drain():
            self._tell(asker, wid, ev["type"], ev["object"])
        if w.closed:
            self._end(rc, wid, asker, w.close_reason)

    def _flush(self, rc: ResourceCache) -> None:
        watchers = rc.watchers
        for w in rc.cache.take_dirty():
            entry = watchers.get(w.tag)
            if entry is not None and entry[1] is w:
                self._send(rc, w.tag)

    def _end(self, rc: ResourceCache, wid: int, asker: str, reason: str) -> None:
        entry = rc.watchers.pop(wid, None)
        self._owner.pop(wid, None)
        self._held.pop(wid, None)
        if entry is not None:
            rc.cache.stop(entry[1])
        if reason != "stopped":
            self._tell(asker, wid, "ERROR", _closed_status(reason))
        self._seqs.pop(wid, None)

    def _tell(self, asker: str, wid: int, type_: str, obj: Any) -> None:
        """One event of watch ``wid``, numbered (``WatchEvent.seq``)."""
        seq = self._seqs.get(wid, 0) + 1
        self._seqs[wid] = seq
        self.actor.tell(asker, WatchEvent(wid, type_, obj, seq))

    def _forget_seq(self, wid: int) -> None:
        self._seqs.pop(wid, None)

    def stop_watch(self, asker: str, wid: int) -> None:
        if self.direct.stop_watch(asker, wid):
            return
        rc = self._owner.get(wid)
        if rc is not None and rc.watchers.get(wid, ("",))[0] == asker:
            self._end(rc, wid, asker, "stopped")

    def drop_asker(self, asker: str) -> None:
        self.direct.drop_asker(asker)
        for rc in self.caches.values():
            for wid, (who, _) in list(rc.watchers.items()):
                if who == asker:
                    self._end(rc, wid, asker, "stopped")

    def send_bookmarks(self) -> None:
        self.direct.send_bookmarks()
        for rc in self.caches.values():
            if rc.watchers:
                rc.cache.bookmark()
                self._flush(rc)

    # ---- deletecollection ---------------------------------------------------------------
    async def delete_collection(self, req: Req, svc: Services) -> dict[str, Any]:
        listed = await self.list(req, svc)
        for obj in listed["items"]:
            meta = obj.get("metadata") or {}
            one = Req(verb="delete", ri=req.ri, user=req.user, namespace=meta.get("namespace"),
                       name=meta.get("name"), params={k: v for k, v in req.params.items()
                                                      if k not in ("labelSelector",
                                                                   "fieldSelector")},
                       body=req.body, warnings=req.warnings)
            try:
                await delete(one, svc)
            except ApiError as e:
                if e.code != 404:
                    raise
        return listed


def _resource(name: str) -> ResourceInfo | None:
    try:
        return lookup(name)
    except UnknownResource:
        return None


def _stub(rc: ResourceCache, key: str) -> dict[str, Any]:
    """A deleted object's identity from its key, when etcd gave no previous value."""
    rest = key[len(rc.prefix):]
    ns, _, name = rest.rpartition("/")
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"kind": rc.ri.kind, "apiVersion": rc.ri.api_version, "metadata": meta}
