"""Resources served without a watch cache, straight from etcd (``storage/etcd3``'s store and
watcher): kube-apiserver turns the watch cache off for events (``DefaultWatchCacheSizes``:
``events`` and ``events.k8s.io/events`` get size 0), so every list, get and watch of them
goes to etcd, and the apiserver keeps no copy of them and no etcd watch of its own.

What it is:
- list: one etcd range over the narrowest prefix (the namespace's when namespaced), read
  page by page in key order and filtered by the label and field selectors (``GetList``).
  ``resourceVersion`` unset or ``0``: the current revision (a quorum read); ``N``: the
  current revision, 504 if it is older than N (``validateMinimumResourceVersion``);
  ``Exact`` N, or N with a ``limit``, and a ``continue`` token: the state at that
  revision. A compacted revision is 410 Expired (with a fresh token for a continue);
- watch: one etcd watch (with ``prev_kv``) per API watch, on the narrowest prefix. From
  ``resourceVersion`` unset or ``0``: an ADDED per object matching at the current revision
  R (the etcd3 watcher's initial sync), then the changes after R; from N: the changes
  after N, or, if etcd compacted N away, one ERROR event with the 410 Status (the stream
  ends). A put of a new key is ADDED, of an existing one MODIFIED, a delete DELETED;
  selector transitions are the watch cache's (``Watcher._deliver``: starts matching →
  ADDED, stops → DELETED with the old object at the event's revision), so a client sees
  the same stream either way. The etcd client's watch resumes across member failures
  with no gap;
- bookmarks: the etcd3 store makes them from etcd progress notifications. Each watch
  records the revision of the last one (the etcd client asks every watch for them, and
  members send them every few seconds); on the apiserver's bookmark tick (the cache path's
  cadence), a watch that asked (``allowWatchBookmarks``) gets a BOOKMARK at that revision,
  unless its start or its last event is newer.

Concurrency model: everything belongs to the apiserver actor: a pump task per watch turns
etcd responses into events, request tasks list; state changes happen between awaits.
Events of a watch whose opening reply is not sent yet queue in its ``Watcher`` until
``release``.

Invariants: a watch's events are told in revision order, each exactly once; a stopped
watch's etcd watch is cancelled; nothing of an uncached resource is kept between requests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from actors.api import ApiError, ListMeta, ResourceInfo, expired, to_dict
from actors.etcd import EtcdClient, EtcdError, RangeRequest, Watch, prefix_end

from ._objects import param_bool
from ._storage import Storage, decode_value
from ._watchcache import (
    CONTINUE_EXPIRED,
    Predicate,
    TooLargeResourceVersion,
    WatchCache,
    Watcher,
    _Event,
    _parse_rv,
    decode_continue,
    encode_continue,
)

if TYPE_CHECKING:
    from runtime import Actor

    from ._context import Req

__all__ = ["UNCACHED", "DirectWatch", "EtcdDirect", "is_uncached"]

Obj = dict[str, Any]
Objs = list[Obj]

# (group, resource): what kube-apiserver serves without a watch cache by default.
UNCACHED: frozenset[tuple[str, str]] = frozenset({("", "events"), ("events.k8s.io", "events")})
_MAX_FETCH = 10_000  # the etcd3 store's cap on one page read while filtering


def is_uncached(ri: ResourceInfo) -> bool:
    return (ri.group, ri.resource) in UNCACHED


def _base(ri: ResourceInfo) -> str:
    return f"{ri.etcd_prefix}/"


def _prefix(ri: ResourceInfo, namespace: str | None) -> str:
    """The narrowest etcd prefix of a list or watch: the namespace's, or the resource's."""
    return f"{_base(ri)}{namespace}/" if ri.namespaced and namespace else _base(ri)


class DirectWatch:
    """One API watch of an uncached resource: its etcd watch and its ``Watcher`` (selector
    transitions, and the queue its events wait in until the opening reply is sent)."""

    def __init__(self, wid: int, asker: str, ri: ResourceInfo, watcher: Watcher) -> None:
        self.wid, self.asker, self.ri, self.watcher = wid, asker, ri, watcher
        self.etcd: Watch | None = None
        self.held = True
        self.error: Obj | None = None  # the ERROR status to end with
        self.progress = 0  # the last etcd progress notification's revision

    @property
    def member(self) -> str | None:
        return self.etcd.member if self.etcd is not None else None


class EtcdDirect:
    """Lists and watches of the uncached resources, for one apiserver. ``tell`` numbers
    and sends one watch event; ``finished`` forgets a watch id's numbering."""

    def __init__(self, actor: Actor, client: EtcdClient,
                 tell: Callable[[str, int, str, Any], None],
                 finished: Callable[[int], None]) -> None:
        self.actor = actor
        self.client = client
        self.storage = Storage(client)
        self._tell = tell
        self._finished = finished
        self.watches: dict[int, DirectWatch] = {}
        self.closed = False

    # ---- lists ----------------------------------------------------------------------------
    async def list(self, req: Req, limit: int) -> Obj:
        ri, p = req.ri, req.params
        rv = p.get("resourceVersion", "")
        match = p.get("resourceVersionMatch", "")
        token = p.get("continue", "")
        pred = Predicate(ri.resource, namespace=req.namespace or "",
                         label_selector=p.get("labelSelector", ""),
                         field_selector=p.get("fieldSelector", ""))
        WatchCache._check_list_options(rv, match, token)
        base, prefix = _base(ri), _prefix(ri, req.namespace)
        start, minimum = prefix, 0
        if token:
            rel, revision = decode_continue(token)
            start = max(base + rel, prefix)
        else:
            wanted = _parse_rv(rv)
            if match == "Exact" or (limit and wanted > 0 and not match):
                revision = wanted  # the state at N (the etcd3 store's paged legacy case too)
            else:
                revision, minimum = 0, wanted  # now, which must not be older than N
        items: Objs = []
        cont = ""
        end = prefix_end(prefix.encode())
        key = start.encode()
        fetch = limit
        while True:
            try:
                resp = await self.client.request(RangeRequest(key=key, range_end=end,
                                                              revision=revision, limit=fetch))
            except EtcdError as e:
                raise await self._list_error(e, rv, revision, token, start[len(base):]) from None
            if revision == 0:
                revision = int(resp.header.revision)  # every later page at the same revision
                if minimum > revision:
                    raise TooLargeResourceVersion(minimum, revision)
            kvs = resp.kvs
            for i, kv in enumerate(kvs):
                obj = decode_value(kv.value, kv.mod_revision)
                if pred.everything or pred.matches(obj):
                    items.append(obj)
                    if limit and len(items) == limit:
                        if i + 1 < len(kvs) or resp.more:
                            cont = encode_continue(kv.key.decode()[len(base):] + "\x00",
                                                   revision)
                        break
            else:
                if resp.more and kvs:
                    key = kvs[-1].key + b"\x00"
                    fetch = min(max(fetch, 1) * 2, _MAX_FETCH)
                    continue
            break
        meta: Obj = {"resourceVersion": str(revision)}
        if cont:
            meta["continue"] = cont
        return {"kind": ri.list_kind, "apiVersion": ri.api_version, "metadata": meta,
                "items": items}

    async def _list_error(self, e: EtcdError, rv: str, revision: int, token: str,
                          start: str) -> Exception:
        if e.code == "compacted":
            if token:  # interpretListError's paging case: a token to go on from now
                err = ApiError(expired(CONTINUE_EXPIRED))
                fresh = ListMeta(continue_=encode_continue(start, await self.storage.revision()))
                err.status = msgspec.structs.replace(err.status, metadata=fresh)
                return err
            return ApiError(expired(f"too old resource version: {rv or revision} "
                                    f"({e.compact_revision})"))
        if e.code == "future_revision":
            return TooLargeResourceVersion(revision, await self.storage.revision())
        return e

    async def items(self, ri: ResourceInfo, namespace: str | None) -> Objs:
        """Every object of ``ri`` (in ``namespace``) now: one quorum range."""
        stored, _ = await self.storage.list(_prefix(ri, namespace))
        return [s.obj for s in stored]

    # ---- watches --------------------------------------------------------------------------
    async def watch(self, req: Req, asker: str, wid: int) -> None:
        """Open watch ``wid``; its events flow once ``release(wid)`` is called."""
        ri, p = req.ri, req.params
        pred = Predicate(ri.resource, namespace=req.namespace or "",
                         label_selector=p.get("labelSelector", ""),
                         field_selector=p.get("fieldSelector", ""))
        rv = _parse_rv(p.get("resourceVersion", ""))
        w = Watcher(wid, pred, rv, param_bool(p, "allowWatchBookmarks"), sys.maxsize)
        prefix = _prefix(ri, req.namespace)
        if rv == 0:  # the initial sync: the state now as ADDED, then the changes after it
            stored, rev = await self.storage.list(prefix)
            for s in stored:
                if pred.matches(s.obj):
                    w.pending.append({"type": "ADDED", "object": s.obj})
            w.rv = rev
        dw = DirectWatch(wid, asker, ri, w)
        dw.etcd = await self.client.watch(prefix.encode(), prefix=True,
                                          start_revision=w.rv + 1, prev_kv=True)
        if self.closed:
            dw.etcd.cancel()
            return
        self.watches[wid] = dw
        self.actor.spawn(self._pump(dw), name=f"{self.actor.name}:watch:{ri.resource}:{wid}")

    async def _pump(self, dw: DirectWatch) -> None:
        assert dw.etcd is not None
        etcd = dw.etcd
        async for resp in etcd:
            if self.watches.get(dw.wid) is not dw:
                return
            if resp.canceled:  # only a compaction ends an etcd client watch
                dw.error = to_dict(expired(f"too old resource version: "
                                           f"{etcd.next_revision - 1} "
                                           f"({resp.compact_revision - 1})"))
                break
            if resp.events:
                for ev in resp.events:
                    dw.watcher._deliver(_event(dw, ev))
                self._send(dw)
            elif not resp.created and resp.header.revision:
                dw.progress = max(dw.progress, int(resp.header.revision))
        if self.watches.get(dw.wid) is dw and dw.error is not None:
            self._send(dw)

    def _send(self, dw: DirectWatch) -> None:
        if dw.held:
            return
        for ev in dw.watcher.drain():
            self._tell(dw.asker, dw.wid, ev["type"], ev["object"])
        if dw.error is not None:
            self._tell(dw.asker, dw.wid, "ERROR", dw.error)
            self._end(dw)

    def _end(self, dw: DirectWatch) -> None:
        if self.watches.pop(dw.wid, None) is None:
            return
        dw.watcher.stop()
        if dw.etcd is not None:
            dw.etcd.cancel()
        self._finished(dw.wid)

    def release(self, wid: int) -> bool:
        """The watch's reply is sent: its events may flow. False: not one of ours."""
        dw = self.watches.get(wid)
        if dw is None:
            return False
        dw.held = False
        self._send(dw)
        return True

    def stop_watch(self, asker: str, wid: int) -> bool:
        dw = self.watches.get(wid)
        if dw is None or dw.asker != asker:
            return False
        self._end(dw)
        return True

    def drop_asker(self, asker: str) -> None:
        for dw in [d for d in self.watches.values() if d.asker == asker]:
            self._end(dw)

    def send_bookmarks(self) -> None:
        for dw in list(self.watches.values()):
            w, rev = dw.watcher, dw.progress
            if not w.allow_bookmarks or dw.held or rev < w.rv:
                continue  # never before the watch's start or its last event
            w._push("BOOKMARK", {"kind": dw.ri.kind, "apiVersion": dw.ri.api_version,
                                 "metadata": {"resourceVersion": str(rev)}}, rev)
            self._send(dw)

    def close(self) -> None:
        self.closed = True
        for dw in list(self.watches.values()):
            if dw.etcd is not None:
                dw.etcd.cancel()
        self.watches.clear()


def _event(dw: DirectWatch, ev: Any) -> _Event:
    """An etcd event as the watch cache's event: type, key, object, previous object."""
    kv = ev.kv
    rev = int(kv.mod_revision)
    key = kv.key.decode()[len(_base(dw.ri)):]
    prev_kv = ev.prev_kv
    if ev.type == "put":
        prev = decode_value(prev_kv.value, prev_kv.mod_revision) if prev_kv is not None else None
        type_ = "ADDED" if kv.create_revision == kv.mod_revision else "MODIFIED"
        return _Event(type_, key, decode_value(kv.value, rev), prev, rev)
    # The last state at the deletion's revision, as the cache stamps it.
    obj = decode_value(prev_kv.value, rev) if prev_kv is not None else _stub(dw.ri, key, rev)
    return _Event("DELETED", key, obj, obj, rev)


def _stub(ri: ResourceInfo, key: str, rev: int) -> Obj:
    """A deleted object's identity from its key, when etcd gave no previous value."""
    ns, _, name = key.rpartition("/")
    meta: Obj = {"name": name, "resourceVersion": str(rev)}
    if ns:
        meta["namespace"] = ns
    return {"kind": ri.kind, "apiVersion": ri.api_version, "metadata": meta}
