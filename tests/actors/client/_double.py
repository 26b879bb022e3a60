"""A TEST DOUBLE of kube-apiserver for the client's tests — never imported by library code.

It answers the wire protocol (``ApiRequest`` → ``ApiResponse``, ``WatchEvent`` tells,
``StopWatch``) from a plain dict of objects, with resourceVersions from a counter, so the
client machinery can be tested before the real apiserver exists. Several ``FakeApiServer``
actors may share one ``Backend`` (as several apiservers share etcd); a crashed one loses its
watches, a restarted one serves the same data.

What it does, deliberately small: get/list (selectors, limit/continue)/create (generateName)/
update (optimistic concurrency on resourceVersion; ``status`` subresource)/patch (merge and
strategic treated as RFC 7386 merge)/delete (preconditions)/pods binding/watch (initial ADDED
events for RV ""/"0", replay from history for an exact RV, 410 ERROR when it was compacted,
selector transitions as ADDED/DELETED). Control messages: ``ExpireWatches`` (410 ERROR to every
watcher), ``DropWatches`` (forget them silently), ``SendBookmarks``, ``Compact``, ``FailNext``.
Like the real server's watch cache it sends a watch's initial events before its reply, so the
client must cope with events that overtake the reply.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import msgspec

from actors.api import (
    already_exists,
    bad_request,
    conflict,
    lookup,
    not_found,
    parse_field_selector,
    parse_selector,
    timeout,
    to_dict,
    too_old_resource_version,
)
from actors.apiserver._protocol import ApiRequest, ApiResponse, StopWatch, WatchEvent
from runtime import Actor, handler


class ExpireWatches(msgspec.Struct, frozen=True, tag="double.expire"):
    pass


class DropWatches(msgspec.Struct, frozen=True, tag="double.drop"):
    pass


class SendBookmarks(msgspec.Struct, frozen=True, tag="double.bookmark"):
    pass


class Compact(msgspec.Struct, frozen=True, tag="double.compact"):
    pass


class FailNext(msgspec.Struct, frozen=True, tag="double.fail"):
    verb: str
    code: int
    count: int = 1
    retry_after: int = 0


@dataclasses.dataclass
class Change:
    rv: int
    type: str
    resource: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Backend:
    """The storage several fake apiservers share (their 'etcd')."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = 0
        self.history: list[Change] = []
        self.compacted = 0
        self.servers: dict[str, FakeApiServer] = {}
        self.requests: list[tuple[str, ApiRequest]] = []  # (server, request)
        self._uid = 0
        self._gen = 0

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def uid(self) -> str:
        self._uid += 1
        return f"00000000-0000-4000-8000-{self._uid:012d}"

    def record(self, type_: str, resource: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ch = Change(int(obj["metadata"]["resourceVersion"]), type_, resource, obj, old)
        self.history.append(ch)
        for server in list(self.servers.values()):
            if server.alive():
                server.publish(ch)

    def stored(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource, namespace or "", name))

    def put(self, resource: str, obj: dict[str, Any]) -> None:
        m = obj["metadata"]
        self.objects[(resource, m.get("namespace") or "", m["name"])] = obj


@dataclasses.dataclass
class Watcher:
    address: str
    resource: str
    namespace: str | None
    labels: Any
    fields: Any
    bookmarks: bool


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _field(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def _resp(code: int, body: Any, watch_id: int = 0) -> ApiResponse:
    if isinstance(body, msgspec.Struct):
        body = to_dict(body)
    return ApiResponse(code=code, body=body, watch_id=watch_id)


class FakeApiServer(Actor):
    def __init__(self, backend: Backend, *, now_rfc3339: str = "2026-01-01T00:00:00Z") -> None:
        self.backend = backend
        self.watchers: dict[int, Watcher] = {}
        self._watch_ids = 0
        self.failures: list[FailNext] = []
        self.now_text = now_rfc3339

    def on_start(self) -> None:
        self.backend.servers[self.name] = self

    def alive(self) -> bool:
        cell = self._cell
        return cell.instance is self and cell.status == "running"

    # ---- control ---------------------------------------------------------------------------
    @handler
    def on_expire(self, msg: ExpireWatches) -> None:
        status = to_dict(too_old_resource_version(self.backend.compacted, self.backend.rv))
        for wid, w in list(self.watchers.items()):
            self.tell(w.address, WatchEvent(wid, "ERROR", status))
        self.watchers.clear()

    @handler
    def on_drop(self, msg: DropWatches) -> None:
        self.watchers.clear()

    @handler
    def on_bookmarks(self, msg: SendBookmarks) -> None:
        for wid, w in self.watchers.items():
            if w.bookmarks:
                obj = {"kind": lookup(w.resource).kind, "apiVersion": lookup(w.resource).api_version,
                       "metadata": {"resourceVersion": str(self.backend.rv)}}
                self.tell(w.address, WatchEvent(wid, "BOOKMARK", obj))

    @handler
    def on_compact(self, msg: Compact) -> None:
        self.backend.compacted = self.backend.rv
        self.backend.history = []

    @handler
    def on_fail_next(self, msg: FailNext) -> None:
        self.failures.append(msg)

    @handler
    def on_stop_watch(self, msg: StopWatch) -> None:
        self.watchers.pop(msg.watch_id, None)

    # ---- requests --------------------------------------------------------------------------
    @handler
    def on_request(self, req: ApiRequest) -> ApiResponse:
        self.backend.requests.append((self.name, req))
        for f in self.failures:
            if f.verb == req.verb and f.count > 0:
                self.failures[self.failures.index(f)] = msgspec.structs.replace(f, count=f.count - 1)
                body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": f.code,
                        "reason": "TooManyRequests" if f.code == 429 else "InternalError",
                        "message": "injected"}
                if f.retry_after:
                    body["details"] = {"retryAfterSeconds": f.retry_after}
                return ApiResponse(code=f.code, body=body)
        fn = getattr(self, f"_do_{req.verb}", None)
        if fn is None:
            return _resp(405, bad_request(f"verb {req.verb} not supported by the double"))
        return fn(req)

    def _meta_now(self) -> str:
        return self.now_text

    def _do_get(self, req: ApiRequest) -> ApiResponse:
        obj = self.backend.stored(req.resource, req.namespace, req.name or "")
        if obj is None:
            return _resp(404, not_found(req.resource, req.name or "", lookup(req.resource).group))
        return _resp(200, obj)

    def _matches(self, obj: dict[str, Any], namespace: str | None, labels: Any, fields: Any) -> bool:
        meta = obj["metadata"]
        if namespace and meta.get("namespace") != namespace:
            return False
        if labels is not None and not labels.matches(meta.get("labels") or {}):
            return False
        if fields is not None:
            values = {r.field: _field(obj, r.field) for r in fields.requirements}
            if not fields.matches(values):
                return False
        return True

    def _selectors(self, req: ApiRequest) -> tuple[Any, Any]:
        ls = req.params.get("labelSelector")
        fs = req.params.get("fieldSelector")
        return (parse_selector(ls) if ls else None, parse_field_selector(fs) if fs else None)

    def _do_list(self, req: ApiRequest) -> ApiResponse:
        rv = req.params.get("resourceVersion")
        if rv and rv != "0" and int(rv) > self.backend.rv:
            return _resp(504, timeout(f"Too large resource version: {rv}, current: {self.backend.rv}", 1))
        labels, fields = self._selectors(req)
        ri = lookup(req.resource)
        items = sorted(
            ((k, o) for k, o in self.backend.objects.items() if k[0] == req.resource
             and self._matches(o, req.namespace, labels, fields)),
            key=lambda kv: kv[0],
        )
        cont = req.params.get("continue")
        if cont:
            items = [kv for kv in items if f"{kv[0][1]}/{kv[0][2]}" > cont]
        limit = int(req.params.get("limit", "0") or 0)
        meta: dict[str, Any] = {"resourceVersion": str(self.backend.rv)}
        if limit and len(items) > limit:
            last = items[limit - 1][0]
            meta["continue"] = f"{last[1]}/{last[2]}"
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        body = {"kind": ri.list_kind, "apiVersion": ri.api_version, "metadata": meta,
                "items": [o for _, o in items]}
        return _resp(200, body)

    def _do_create(self, req: ApiRequest) -> ApiResponse:
        if req.subresource == "binding":
            return self._bind(req)
        ri = lookup(req.resource)
        obj = copy.deepcopy(req.body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            self.backend._gen += 1
            meta["name"] = f"{meta['generateName']}{self.backend._gen:05d}"
        if ri.namespaced:
            meta["namespace"] = req.namespace or meta.get("namespace") or "default"
        if self.backend.stored(req.resource, meta.get("namespace"), meta["name"]) is not None:
            return _resp(409, already_exists(req.resource, meta["name"], ri.group))
        obj["kind"], obj["apiVersion"] = ri.kind, ri.api_version
        meta["uid"] = self.backend.uid()
        meta["creationTimestamp"] = self._meta_now()
        meta["resourceVersion"] = str(self.backend.next_rv())
        self.backend.put(req.resource, obj)
        self.backend.record("ADDED", req.resource, obj, None)
        return _resp(201, obj)

    def _bind(self, req: ApiRequest) -> ApiResponse:
        pod = self.backend.stored("pods", req.namespace, req.name or "")
        if pod is None:
            return _resp(404, not_found("pods", req.name or ""))
        if (pod.get("spec") or {}).get("nodeName"):
            node = pod["spec"]["nodeName"]
            return _resp(409, conflict("pods", req.name or "", reason=f"pod {req.name} is already assigned to node \"{node}\""))
        new = copy.deepcopy(pod)
        new.setdefault("spec", {})["nodeName"] = req.body["target"]["name"]
        return self._commit(req.resource, pod, new, code=201,
                            body={"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201})

    def _commit(self, resource: str, old: dict[str, Any], new: dict[str, Any], *, code: int = 200,
                body: Any = None) -> ApiResponse:
        new["metadata"]["resourceVersion"] = str(self.backend.next_rv())
        self.backend.put(resource, new)
        self.backend.record("MODIFIED", resource, new, old)
        return _resp(code, new if body is None else body)

    def _do_update(self, req: ApiRequest) -> ApiResponse:
        ri = lookup(req.resource)
        body = req.body
        meta = body.get("metadata") or {}
        cur = self.backend.stored(req.resource, req.namespace, req.name or "")
        if cur is None:
            return _resp(404, not_found(req.resource, req.name or "", ri.group))
        want = meta.get("resourceVersion")
        if want and want != cur["metadata"]["resourceVersion"]:
            return _resp(409, conflict(req.resource, req.name or "", ri.group))
        if req.subresource == "status":
            new = copy.deepcopy(cur)
            new["status"] = copy.deepcopy(body.get("status"))
        else:
            new = copy.deepcopy(body)
            new["kind"], new["apiVersion"] = ri.kind, ri.api_version
            for k in ("uid", "creationTimestamp", "namespace"):
                if k in cur["metadata"]:
                    new["metadata"][k] = cur["metadata"][k]
            if "status" in ri.subresources and "status" in cur:
                new["status"] = copy.deepcopy(cur["status"])
        return self._commit(req.resource, cur, new)

    def _do_patch(self, req: ApiRequest) -> ApiResponse:
        ri = lookup(req.resource)
        cur = self.backend.stored(req.resource, req.namespace, req.name or "")
        if cur is None:
            return _resp(404, not_found(req.resource, req.name or "", ri.group))
        if req.patch_type not in ("merge", "strategic"):
            return _resp(415, bad_request(f"patch type {req.patch_type} not supported by the double"))
        new = merge_patch(cur, req.body)
        new["metadata"] = dict(new["metadata"])
        return self._commit(req.resource, cur, new)

    def _do_delete(self, req: ApiRequest) -> ApiResponse:
        ri = lookup(req.resource)
        cur = self.backend.stored(req.resource, req.namespace, req.name or "")
        if cur is None:
            return _resp(404, not_found(req.resource, req.name or "", ri.group))
        pre = (req.body or {}).get("preconditions") or {}
        m = cur["metadata"]
        if pre.get("uid") and pre["uid"] != m.get("uid"):
            msg = (f"Precondition failed: UID in precondition: {pre['uid']}, "
                   f"UID in object meta: {m.get('uid')}")
            return _resp(409, conflict(req.resource, req.name or "", ri.group, reason=msg))
        if pre.get("resourceVersion") and pre["resourceVersion"] != m.get("resourceVersion"):
            msg = (f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                   f"ResourceVersion in object meta: {m.get('resourceVersion')}")
            return _resp(409, conflict(req.resource, req.name or "", ri.group, reason=msg))
        del self.backend.objects[(req.resource, m.get("namespace") or "", m["name"])]
        gone = copy.deepcopy(cur)
        gone["metadata"]["resourceVersion"] = str(self.backend.next_rv())
        self.backend.record("DELETED", req.resource, gone, cur)
        return _resp(200, gone)

    # ---- watch -----------------------------------------------------------------------------
    def _do_watch(self, req: ApiRequest) -> ApiResponse:
        self._watch_ids += 1
        wid = self._watch_ids
        labels, fields = self._selectors(req)
        w = Watcher(self.sender, req.resource, req.namespace, labels, fields,
                    req.params.get("allowWatchBookmarks") == "true")
        rv = req.params.get("resourceVersion")
        if rv and rv != "0":
            if int(rv) < self.backend.compacted:
                status = to_dict(too_old_resource_version(int(rv), self.backend.compacted))
                self.tell(w.address, WatchEvent(wid, "ERROR", status))
                return _resp(200, None, wid)
            self.watchers[wid] = w
            for ch in self.backend.history:
                if ch.rv > int(rv):
                    self._send(wid, w, ch)
        else:
            self.watchers[wid] = w
            for (res, _, _), obj in sorted(self.backend.objects.items(), key=lambda kv: kv[0]):
                if res == req.resource and self._matches(obj, w.namespace, w.labels, w.fields):
                    self.tell(w.address, WatchEvent(wid, "ADDED", obj))
        return _resp(200, None, wid)

    def publish(self, ch: Change) -> None:
        for wid, w in list(self.watchers.items()):
            self._send(wid, w, ch)

    def _send(self, wid: int, w: Watcher, ch: Change) -> None:
        if ch.resource != w.resource:
            return
        def match(o: dict[str, Any] | None) -> bool:
            return o is not None and self._matches(o, w.namespace, w.labels, w.fields)
        if ch.type == "ADDED":
            kind = "ADDED" if match(ch.obj) else None
        elif ch.type == "DELETED":
            kind = "DELETED" if match(ch.old) else None
        else:
            was, now = match(ch.old), match(ch.obj)
            kind = "MODIFIED" if was and now else "ADDED" if now else "DELETED" if was else None
        if kind is not None:
            self.tell(w.address, WatchEvent(wid, kind, ch.obj))
