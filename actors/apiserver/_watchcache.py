"""The watch cache: one resource's objects and recent events, serving list and watch.

What it is: ``k8s.io/apiserver/pkg/storage/cacher`` in miniature. One cache per resource
is fed, in revision order, by the events of a single etcd watch (``apply``) after an
initial list (``replace``). It keeps the current objects by key, a ring buffer of the
last ``capacity`` events, and its watchers; it answers lists with Kubernetes'
resourceVersion semantics and paging, and watches from a resourceVersion, filtered by
label and field selectors.

Concurrency model: none. The apiserver actor owns the cache and calls it from its own
handlers; watchers are plain queues the actor drains (``Watcher.drain``) and forwards.

Invariants, as the cacher:
- resourceVersions only grow; ``apply`` of an older revision is a broken invariant.
- A list at ``resourceVersion=""`` or ``"0"`` (or NotOlderThan N <= now) is served from
  the current state at the cache's revision; ``Exact`` N and continue tokens are served
  from a snapshot rebuilt from the event window; a revision older than the window is
  410 (``too old resource version: N (oldest)``, or the continue-token expiry).
- A revision the cache has not reached yet is 504 ``Too large resource version``
  (``TooLargeResourceVersion``): the actor should wait for the cache and retry.
- A watcher sees every event after its start revision exactly once, in order; with a
  selector, an object moving out of it is delivered as DELETED (its old state at the
  event's revision) and moving into it as ADDED. Watch from "" or "0" starts with
  synthetic ADDED events for the current state. A watcher that falls ``max_pending``
  events behind is closed, as the cacher closes unresponsive watchers; so is every
  watcher when the cache is re-listed (``replace``).
- Objects are shared with watchers and callers, never copied: nobody mutates them.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from actors.api import (
    ApiError,
    ListMeta,
    StatusCause,
    UnknownResource,
    bad_request,
    expired,
    invalid,
    lookup,
)
from actors.api import timeout as timeout_status
from actors.api._fields import FieldSelector, FieldSelectorError, check_supported
from actors.api._fields import parse_field_selector as _parse_fields
from actors.api._labels import Selector, SelectorError, parse_selector

__all__ = ["ListResult", "Predicate", "TooLargeResourceVersion", "WatchCache", "Watcher",
           "decode_continue", "encode_continue", "selectable_fields"]

Obj = dict[str, Any]
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list.")


class TooLargeResourceVersion(ApiError):
    """504: the cache has not seen ``requested`` yet (``NewTooLargeResourceVersionError``)."""

    def __init__(self, requested: int, current: int) -> None:
        status = timeout_status(f"Too large resource version: {requested}, current: {current}", 1)
        details = msgspec.structs.replace(status.details, causes=[StatusCause(
            type="ResourceVersionTooLarge", message="Too large resource version")])
        super().__init__(msgspec.structs.replace(status, details=details))


# --- field and label selection -----------------------------------------------------------


def _s(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def _pod_fields(o: Obj) -> dict[str, str]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    ips = status.get("podIPs") or []
    return {"spec.nodeName": _s(spec.get("nodeName")),
            "spec.restartPolicy": _s(spec.get("restartPolicy")),
            "spec.schedulerName": _s(spec.get("schedulerName")),
            "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
            "spec.hostNetwork": _s(bool(spec.get("hostNetwork"))),
            "status.phase": _s(status.get("phase")),
            "status.podIP": _s(ips[0].get("ip") if ips else status.get("podIP")),
            "status.nominatedNodeName": _s(status.get("nominatedNodeName"))}


def _event_fields(o: Obj) -> dict[str, str]:
    io = o.get("involvedObject") or {}
    source = (o.get("source") or {}).get("component") or o.get("reportingComponent")
    return {**{f"involvedObject.{k}": _s(io.get(k)) for k in (
        "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _s(o.get("reason")), "reportingComponent": _s(o.get("reportingComponent")),
        "source": _s(source), "type": _s(o.get("type"))}


# resource -> (extra selectable fields, whether the resource is namespaced)
_FIELDS: dict[str, Callable[[Obj], dict[str, str]]] = {
    "pods": _pod_fields,
    "events": _event_fields,
    "nodes": lambda o: {"spec.unschedulable": _s(bool((o.get("spec") or {}).get(
        "unschedulable")))},
    "secrets": lambda o: {"type": _s(o.get("type"))},
    "namespaces": lambda o: {"status.phase": _s((o.get("status") or {}).get("phase")),
                             "name": _s((o.get("metadata") or {}).get("name"))},
    "jobs": lambda o: {"status.successful": _s((o.get("status") or {}).get("succeeded") or 0)},
    "replicasets": lambda o: {"status.replicas": _s((o.get("status") or {}).get("replicas") or 0)},
    "replicationcontrollers": lambda o: {
        "status.replicas": _s((o.get("status") or {}).get("replicas") or 0)},
    "services": lambda o: {"spec.clusterIP": _s((o.get("spec") or {}).get("clusterIP")),
                           "spec.type": _s((o.get("spec") or {}).get("type"))},
}
_CLUSTER_SCOPED = {"nodes", "namespaces", "persistentvolumes", "clusterroles",
                   "clusterrolebindings", "priorityclasses", "storageclasses", "csinodes",
                   "csidrivers", "certificatesigningrequests", "runtimeclasses",
                   "componentstatuses", "customresourcedefinitions", "apiservices",
                   "volumeattachments", "ingressclasses"}
_POD_EXTRA = ("status.podIPs",)  # accepted by pods' field-label conversion, never set


def _namespaced(resource: str) -> bool:
    try:
        return lookup(resource).namespaced
    except UnknownResource:
        return resource not in _CLUSTER_SCOPED


def selectable_fields(resource: str, obj: Obj) -> dict[str, str]:
    """The field set field selectors match against (``<Kind>ToSelectableFields``)."""
    meta = obj.get("metadata") or {}
    out = {"metadata.name": _s(meta.get("name"))}
    if _namespaced(resource):
        out["metadata.namespace"] = _s(meta.get("namespace"))
    extra = _FIELDS.get(resource)
    return {**out, **extra(obj)} if extra else out


def _supported(resource: str) -> set[str]:
    names = set(selectable_fields(resource, {}))
    return names | set(_POD_EXTRA) if resource == "pods" else names


class Predicate:
    """``SelectionPredicate``: namespace, label selector and field selector together."""

    def __init__(self, resource: str, *, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> None:
        self.resource, self.namespace = resource, namespace
        try:
            self.labels: Selector = parse_selector(label_selector or "")
        except SelectorError as e:
            raise ApiError(bad_request(str(e))) from None
        try:
            self.fields: FieldSelector = _parse_fields(field_selector or "")
            check_supported(self.fields, _supported(resource))
        except FieldSelectorError as e:
            raise ApiError(bad_request(str(e))) from None

    @property
    def everything(self) -> bool:
        return not self.namespace and self.labels.empty and self.fields.empty

    def matches(self, obj: Obj, fields: _EventFields | None = None) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace", "") != self.namespace:
            return False
        if not self.labels.empty and not self.labels.matches(meta.get("labels") or {}):
            return False
        if self.fields.empty:
            return True
        return self.fields.matches(fields.of(obj) if fields is not None
                                   else selectable_fields(self.resource, obj))


class _EventFields:
    """One event's selectable fields, computed at most once however many watchers match it
    (a pod event meets every kubelet's ``spec.nodeName`` selector: computing the field set
    per watcher was the apiserver's hottest path with 100 nodes)."""

    __slots__ = ("_resource", "_cache")

    def __init__(self, resource: str) -> None:
        self._resource = resource
        self._cache: dict[int, dict[str, str]] = {}  # id(obj) -> fields; objs outlive it

    def of(self, obj: Obj) -> dict[str, str]:
        fields = self._cache.get(id(obj))
        if fields is None:
            fields = self._cache[id(obj)] = selectable_fields(self._resource, obj)
        return fields


# --- watchers ---------------------------------------------------------------------------


class _Event(NamedTuple):
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    object: Obj  # for DELETED: the last state, at the deletion's revision
    prev: Obj | None
    rv: int


def _at_rv(obj: Obj, rv: int) -> Obj:
    """The object stamped with ``rv`` (a shallow copy if it differs)."""
    meta = obj.get("metadata") or {}
    if meta.get("resourceVersion") == str(rv):
        return obj
    return {**obj, "metadata": {**meta, "resourceVersion": str(rv)}}


class Watcher:
    """One watch: events queue here until the actor drains them. ``tag`` is the owner's
    handle for it (the apiserver's watch id)."""

    def __init__(self, wid: int, predicate: Predicate, start_rv: int, allow_bookmarks: bool,
                 max_pending: int) -> None:
        self.tag: int = 0
        self.id, self.predicate, self.rv = wid, predicate, start_rv
        self.allow_bookmarks, self.max_pending = allow_bookmarks, max_pending
        self.pending: deque[Obj] = deque()
        self.closed = False
        self.close_reason = ""

    def drain(self) -> list[Obj]:
        """Take every queued event: ``{"type": ..., "object": ...}`` dicts."""
        out = list(self.pending)
        self.pending.clear()
        return out

    def stop(self) -> None:
        self.closed, self.close_reason = True, self.close_reason or "stopped"

    def _push(self, type_: str, obj: Obj, rv: int) -> None:
        if self.closed:
            return
        if len(self.pending) >= self.max_pending:
            self.closed, self.close_reason = True, "unresponsive"
            return
        self.pending.append({"type": type_, "object": obj})
        self.rv = rv

    def _deliver(self, ev: _Event, fields: _EventFields | None = None) -> None:
        """``cacheWatcher.convertToWatchEvent``: selector transitions become ADDED/DELETED."""
        if ev.rv <= self.rv:
            return
        cur = ev.type != "DELETED" and self.predicate.matches(ev.object, fields)
        old = ev.prev is not None and self.predicate.matches(ev.prev, fields)
        if cur and not old:
            self._push("ADDED", ev.object, ev.rv)
        elif cur and old:
            self._push("MODIFIED", ev.object, ev.rv)
        elif old:
            self._push("DELETED", ev.object if ev.type == "DELETED" else _at_rv(ev.prev or {},
                                                                                ev.rv), ev.rv)


# --- the cache ----------------------------------------------------------------------------


class ListResult(NamedTuple):
    items: list[Obj]
    resource_version: str
    continue_token: str


def _parse_rv(value: str | int | None) -> int:
    if value in (None, ""):
        return 0
    try:
        rv = int(value)  # type: ignore[arg-type]
    except ValueError:
        rv = -1
    if rv < 0:
        raise ApiError(bad_request(f'Invalid value: "{value}": resource version must be '
                                   "a non-negative integer"))  # etcd3 versioner's wording
    return rv


def _invalid_list_options(field: str, kind: str, detail: str) -> ApiError:
    cause = StatusCause(type=f"Field{kind}", field=field, message=f"{kind}: {detail}")
    return ApiError(invalid("ListOptions", "", [cause], group="meta.k8s.io"))


def encode_continue(start_key: str, rv: int) -> str:
    """``storage.EncodeContinue``: base64url (unpadded) JSON {v, rv, start}."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_key},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        key, rv = data["start"], data["rv"]
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(rv, int) or rv <= 0 or not key:
            raise ValueError(token)
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError(bad_request(f"invalid continue token: {e}")) from None
    if ".." in key.split("/"):  # no escaping the key prefix (path.Clean check)
        raise ApiError(bad_request(f"continue key is not valid: {key}"))
    return key, rv


# The field whose exact value in a watch's field selector indexes that watch.
_TRIGGER_FIELDS = {"pods": "spec.nodeName", "nodes": "metadata.name"}


class WatchCache:
    """One resource's watch cache; ``capacity`` is the event window's length."""

    def __init__(self, resource: str, *, capacity: int = 1000, kind: str = "",
                 api_version: str = "v1", max_pending: int = 10_000) -> None:
        if not kind:  # the bookmark's kind and apiVersion, from the registry when known
            try:
                info = lookup(resource)
                kind, api_version = info.kind, info.api_version
            except UnknownResource:
                pass
        self.resource, self.kind, self.api_version = resource, kind, api_version
        self.capacity, self.max_pending = capacity, max_pending
        self._store: dict[str, Obj] = {}
        self._keys: list[str] = []  # sorted, as etcd orders keys
        self._events: deque[_Event] = deque(maxlen=capacity)
        self._evicted = False
        self._list_rv = 0
        self._rv = 0
        self._watchers: dict[int, Watcher] = {}
        # Indexed triggers (the cacher's ``pod.NodeNameTriggerFunc``): watchers of pods whose
        # field selector pins spec.nodeName (every kubelet) by that node, the others apart;
        # an event only visits the watchers it can concern.
        # Nodes are indexed the same way by metadata.name (each kubelet watches its own).
        self._trigger_field = _TRIGGER_FIELDS.get(resource)
        self._untriggered: dict[int, Watcher] = {}
        self._triggered: dict[str, dict[int, Watcher]] = {}
        # Watchers with events queued (or closed) since take_dirty: the actor drains only them.
        self._dirty: dict[int, Watcher] = {}
        self._next_id = 1

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_resource_version(self) -> int:
        """The oldest revision a watch or exact list may start from (``oldest - 1``)."""
        if not self._evicted or not self._events:
            return self._list_rv
        return self._events[0].rv - 1

    @staticmethod
    def key_of(obj: Obj) -> str:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace")
        return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")

    # -- feeding -----------------------------------------------------------------------

    def replace(self, objects: Iterable[Obj], resource_version: int) -> None:
        """Load the state of a fresh list at ``resource_version``; every watcher closes."""
        self._store = {self.key_of(o): o for o in objects}
        self._keys = sorted(self._store)
        self._events.clear()
        self._evicted = False
        self._list_rv = self._rv = resource_version
        for w in self._watchers.values():
            w.closed, w.close_reason = True, "relist"
        self._watchers.clear()
        self._untriggered.clear()
        self._triggered.clear()
        self._dirty.clear()

    def apply(self, type_: str, obj: Obj, revision: int) -> None:
        """One event of the etcd watch: ADDED, MODIFIED or DELETED at ``revision``."""
        if revision <= self._rv:
            raise ValueError(f"watch cache for {self.resource}: revision {revision} is not "
                             f"after {self._rv}")
        if type_ not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"unknown watch event type {type_!r}")
        key = self.key_of(obj)
        prev = self._store.get(key)
        obj = _at_rv(obj if type_ != "DELETED" or prev is None else prev, revision)
        if type_ == "DELETED":
            if key in self._store:
                del self._store[key]
                del self._keys[bisect.bisect_left(self._keys, key)]
        else:
            if key not in self._store:
                bisect.insort(self._keys, key)
            self._store[key] = obj
        ev = _Event(type_, key, obj, prev, revision)
        if len(self._events) == self.capacity:
            self._evicted = True
        self._events.append(ev)
        self._rv = revision
        fields = _EventFields(self.resource)
        for w in self._concerned(ev):
            w._deliver(ev, fields)
            if w.pending or w.closed:
                self._dirty[w.id] = w
            if w.closed:
                self._forget(w)

    def _trigger(self, obj: Obj | None) -> str | None:
        if obj is None or self._trigger_field is None:
            return None
        if self._trigger_field == "spec.nodeName":
            return _s((obj.get("spec") or {}).get("nodeName"))
        return _s((obj.get("metadata") or {}).get("name"))

    def _watcher_trigger(self, w: Watcher) -> str | None:
        if self._trigger_field is None:
            return None
        return w.predicate.fields.requires_exact_match(self._trigger_field)

    def take_dirty(self) -> list[Watcher]:
        """The watchers given events (or closed) since the last call, in watch order."""
        out = sorted(self._dirty.values(), key=lambda w: w.id)
        self._dirty.clear()
        return out

    def _concerned(self, ev: _Event) -> list[Watcher]:
        """The watchers an event may reach, in watch order (a watcher pinned to another node
        matches neither the object nor its previous state)."""
        if not self._triggered:
            return list(self._watchers.values())
        out = list(self._untriggered.values())
        for value in dict.fromkeys((self._trigger(ev.object), self._trigger(ev.prev))):
            if value is not None:
                out.extend(self._triggered.get(value, {}).values())
        out.sort(key=lambda w: w.id)
        return out

    def _forget(self, w: Watcher) -> None:
        self._watchers.pop(w.id, None)
        self._untriggered.pop(w.id, None)
        value = self._watcher_trigger(w)
        if value is not None:
            bucket = self._triggered.get(value)
            if bucket is not None:
                bucket.pop(w.id, None)
                if not bucket:
                    del self._triggered[value]

    def progress(self, revision: int) -> None:
        """An etcd progress notification: nothing changed up to ``revision``."""
        self._rv = max(self._rv, revision)

    def bookmark(self) -> None:
        """Send a BOOKMARK at the cache's revision to watchers that allowed bookmarks."""
        obj = {"kind": self.kind, "apiVersion": self.api_version,
               "metadata": {"resourceVersion": str(self._rv)}}
        for w in list(self._watchers.values()):
            if w.allow_bookmarks and w.rv <= self._rv:  # never before the watch's start
                w._push("BOOKMARK", obj, self._rv)
            if w.pending or w.closed:
                self._dirty[w.id] = w
            if w.closed:
                self._forget(w)

    # -- reading -----------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._store.get(f"{namespace}/{name}" if namespace else name)

    def _snapshot(self, rv: int, too_old: Callable[[], ApiError]) -> dict[str, Obj]:
        """The state at revision ``rv``, undoing the window's later events."""
        if rv > self._rv:
            raise TooLargeResourceVersion(rv, self._rv)
        if rv < self.oldest_resource_version:
            raise too_old()
        state = dict(self._store)
        for ev in reversed(self._events):
            if ev.rv <= rv:
                break
            if ev.prev is None:
                state.pop(ev.key, None)
            else:
                state[ev.key] = ev.prev
        return state

    def list(self, *, namespace: str = "", label_selector: str = "", field_selector: str = "",
             resource_version: str = "", resource_version_match: str = "", limit: int = 0,
             continue_token: str = "", predicate: Predicate | None = None) -> ListResult:
        """A list with Kubernetes' resourceVersion, resourceVersionMatch and paging rules."""
        pred = predicate or Predicate(self.resource, namespace=namespace,
                                      label_selector=label_selector,
                                      field_selector=field_selector)
        self._check_list_options(resource_version, resource_version_match, continue_token)
        start = ""
        if continue_token:
            start, rv = decode_continue(continue_token)

            def expired_token() -> ApiError:
                err = ApiError(expired(CONTINUE_EXPIRED))
                fresh = ListMeta(continue_=encode_continue(start, self._rv))
                err.status = msgspec.structs.replace(err.status, metadata=fresh)
                return err
            state = self._snapshot(rv, expired_token)
            keys = sorted(state)
        else:
            rv = _parse_rv(resource_version)
            if resource_version_match == "Exact":
                state = self._snapshot(rv, lambda: ApiError(expired(
                    f"too old resource version: {rv} ({self.oldest_resource_version})")))
                keys = sorted(state)
            else:
                if rv > self._rv:
                    raise TooLargeResourceVersion(rv, self._rv)
                state, keys, rv = self._store, self._keys, self._rv
        return self._page(state, keys, pred, start, limit, rv)

    @staticmethod
    def _check_list_options(rv: str, match: str, token: str) -> None:
        """``ValidateListOptions`` and the storage layer's continue rules."""
        if match not in ("", "Exact", "NotOlderThan"):
            raise _invalid_list_options("resourceVersionMatch", "NotSupported",
                                        f'"{match}": supported values: "Exact", "NotOlderThan"')
        if match and token:
            raise _invalid_list_options("resourceVersionMatch", "Forbidden",
                                        "resourceVersionMatch is forbidden when continue is "
                                        "provided")
        if match and not rv:
            raise _invalid_list_options("resourceVersionMatch", "Forbidden",
                                        "resourceVersionMatch is forbidden unless "
                                        "resourceVersion is provided")
        if match == "Exact" and rv == "0":
            raise _invalid_list_options("resourceVersionMatch", "Forbidden",
                                        'resourceVersionMatch "exact" is forbidden for '
                                        'resourceVersion "0"')
        if token and rv not in ("", "0"):
            raise ApiError(bad_request("specifying resource version is not allowed when using "
                                       "continue"))

    def _page(self, state: dict[str, Obj], keys: list[str], pred: Predicate, start: str,
              limit: int, rv: int) -> ListResult:
        lo = 0
        if pred.namespace:
            start = max(start, pred.namespace + "/")
        if start:
            lo = bisect.bisect_left(keys, start)
        items: list[Obj] = []
        token = ""
        for i in range(lo, len(keys)):
            k = keys[i]
            if pred.namespace and not k.startswith(pred.namespace + "/"):
                break
            obj = state[k]
            if pred.everything or pred.matches(obj):
                items.append(obj)
                if limit and len(items) == limit:
                    rest = keys[i + 1:i + 2]
                    if rest and (not pred.namespace or rest[0].startswith(pred.namespace + "/")):
                        token = encode_continue(k + "\x00", rv)
                    break
        return ListResult(items, str(rv), token)

    def watch(self, *, namespace: str = "", label_selector: str = "", field_selector: str = "",
              resource_version: str = "", allow_bookmarks: bool = False,
              predicate: Predicate | None = None) -> Watcher:
        """A new watcher. From "" or "0": current state as ADDED, then changes; from N:
        every change after N still in the window, else 410."""
        pred = predicate or Predicate(self.resource, namespace=namespace,
                                      label_selector=label_selector,
                                      field_selector=field_selector)
        rv = _parse_rv(resource_version)
        w = Watcher(self._next_id, pred, 0, allow_bookmarks, self.max_pending)
        self._next_id += 1
        if rv == 0:
            for k in self._keys:
                obj = self._store[k]
                if pred.matches(obj):
                    w.pending.append({"type": "ADDED", "object": obj})
            w.rv = self._rv
        else:
            oldest = self.oldest_resource_version
            if rv < oldest:
                raise ApiError(expired(f"too old resource version: {rv} ({oldest})"))
            w.rv = rv
            for ev in self._events:
                w._deliver(ev)
        if not w.closed:
            self._watchers[w.id] = w
            value = self._watcher_trigger(w)
            if value is None:
                self._untriggered[w.id] = w
            else:
                self._triggered.setdefault(value, {})[w.id] = w
        return w

    def stop(self, watcher: Watcher) -> None:
        watcher.stop()
        self._forget(watcher)

    @property
    def watchers(self) -> int:
        return len(self._watchers)
