"""The typed client: what client-go's clientset and REST client are, over the bus.

What it is: ``Client`` turns verbs on resources (``get``, ``list``, ``create``, ``update``,
``patch``, ``delete``, ``bind``, ``update_status``, ``watch``) into ``ApiRequest`` asks to an
apiserver and ``ApiResponse`` replies into plain dicts (Kubernetes JSON form), raising
``ApiError`` (carrying the Status) for any non-2xx answer. ``watch`` returns a ``WatchStream``:
an async iterator of ``(type, object)`` fed by the ``WatchEvent`` tells the apiserver sends to
the owning actor, which must route them to its clients — use ``ClientActorMixin``, or call
``dispatch(self, msg)`` from your own ``WatchEvent`` and ``runtime.Down`` handlers.

Behaviour mirrored from client-go:
- Client-side rate limiting: a token bucket of ``qps``/``burst`` (client-go defaults 5/10)
  taken before every request, watches included, waiting in the loop's (virtual) time; a
  negative or infinite ``qps`` disables it (client-go: QPS < 0).
- 429 TooManyRequests is retried after its Retry-After (default 1 s), up to 10 times.
- One apiserver at a time, as an HTTP/2 connection through a load balancer: the client
  sticks to one address (the first chosen by the actor's seeded generator) and moves to the
  next on a transport failure (``AskTimeout``, ``ActorDead``, ``UnknownActor``) or when the
  apiserver goes down. Reads (get/list/watch) fail over and retry on every address once.
  Writes fail over and retry only when the request certainly did not arrive (the address
  refused it); after a timeout or a crash mid-request the write may have been applied, so
  ``TransportError(maybe_applied=True)`` is raised — as client-go surfaces a broken
  connection — and the caller decides (controllers requeue; their reconcile is idempotent).
- A watch ends when the server sends ERROR (yielded, then the stream ends), when the
  apiserver goes down (``runtime.Down``), after ``timeout_seconds`` (the client sends
  ``StopWatch``), or when the caller calls ``stop()``. ``end_reason`` says which.

Namespaces: a verb on one object of a namespaced resource defaults to ``default`` (as
kubectl); ``list``/``watch`` with ``namespace=None`` span all namespaces; cluster-scoped
resources ignore the namespace. Resources are named as kubectl accepts (``po``, ``Pod``).

Concurrency model: the client belongs to one actor — create it in ``on_start`` (the actor is
not attached before) — and is used from its handlers and spawned tasks. Requests are awaits on asks (replies bypass the mailbox), so an async handler may
call the client; but *consuming* a watch needs the mailbox to deliver ``WatchEvent`` s, so
iterate watch streams in ``actor.spawn`` ed tasks, never inside a handler.

Invariants: every WatchEvent from an apiserver lands in exactly one stream, in the order
sent (events that overtake the reply opening their watch are held for it); events for a watch the client no longer knows are answered with ``StopWatch``.
Objects returned are the dicts the server sent; treat them as immutable.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from actors.api import ApiError, ListMeta, ResourceInfo, Status, lookup
from actors.apiserver._protocol import ApiRequest, ApiResponse, StopWatch, WatchEvent
from runtime import ActorDead, AskTimeout, Down, UnknownActor, handler

from ._ratelimit import TokenBucket

if TYPE_CHECKING:
    from runtime import Actor

__all__ = [
    "Client",
    "ClientActorMixin",
    "ClientStats",
    "TransportError",
    "WatchStream",
    "dispatch",
]

_PATCH_TYPES = ("merge", "json", "strategic", "apply")
_MAX_429_RETRIES = 10


class TransportError(Exception):
    """No apiserver answered. ``maybe_applied`` is True when a write reached a server that then
    timed out or crashed: it may or may not have taken effect."""

    def __init__(self, server: str, cause: BaseException | None, *, maybe_applied: bool) -> None:
        what = "may have been applied" if maybe_applied else "was not applied"
        super().__init__(f"apiserver {server!r} unreachable ({cause}); the request {what}")
        self.server = server
        self.cause = cause
        self.maybe_applied = maybe_applied


class ClientStats(msgspec.Struct, frozen=True):
    requests: int
    by_verb: dict[str, int]
    by_code: dict[int, int]
    throttled: int
    throttle_wait_seconds: float
    transport_errors: int
    failovers: int
    retries_429: int
    watches_opened: int
    watch_events: int
    current_server: str


def _selector_text(sel: Any) -> str | None:
    if sel is None:
        return None
    if isinstance(sel, Mapping):
        return ",".join(f"{k}={v}" for k, v in sel.items())
    return str(sel)


def _status_of(resp: ApiResponse) -> Status:
    body = resp.body
    if isinstance(body, Mapping):
        try:
            status = msgspec.convert(body, Status)
        except msgspec.ValidationError:
            status = None
        if status is not None:
            return status if status.code else msgspec.structs.replace(status, code=resp.code)
    return Status(metadata=ListMeta(), status="Failure", message=str(body), code=resp.code)


# Silence after which a watch that asked for bookmarks counts as dead: the apiserver's
# bookmark interval (60 s) plus client-go's HTTP/2 read-idle timeout (30 s).
WATCH_IDLE_TIMEOUT = 90.0


class WatchStream:
    """An async iterator of ``(type, object)`` for one watch (see the module docstring)."""

    def __init__(self, client: Client, server: str, watch_id: int, timeout_seconds: float | None,
                 idle_timeout: float | None = None) -> None:
        self.client = client
        self.server = server
        self.watch_id = watch_id
        self.closed = False
        self.end_reason = ""  # error | apiserver down | timeout | stopped | gap | idle
        self.error: ApiError | None = None
        self.events = 0
        self._seq = 0  # the last WatchEvent.seq taken
        self.opened_at = client._loop.time()
        self._buf: deque[tuple[str, Any]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if timeout_seconds is not None and timeout_seconds > 0:
            self._timer = client._loop.call_later(timeout_seconds, self._on_timeout)
        # A watch with bookmarks hears from a live server at least every bookmark interval;
        # silence far beyond that means the connection is dead (a server that restarted, a
        # partition that swallowed the close): client-go's HTTP/2 health check (read idle
        # 30 s, then a ping) drops such a connection and the reflector re-watches.
        self._idle_timeout = idle_timeout
        self._last_heard = self.opened_at
        self._idle: asyncio.TimerHandle | None = None
        if idle_timeout:
            self._idle = client._loop.call_later(idle_timeout, self._on_idle)

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> tuple[str, Any]:
        while not self._buf:
            if self.closed:
                raise StopAsyncIteration
            fut: asyncio.Future[None] = self.client._loop.create_future()
            self._waiter = fut
            try:
                await fut
            finally:
                self._waiter = None
        return self._buf.popleft()

    async def __aenter__(self) -> WatchStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the watch: tell the server and end the stream (idempotent)."""
        if not self.closed:
            self.client._actor.tell(self.server, StopWatch(self.watch_id))
            self._close("stopped")

    # ---- fed by the client --------------------------------------------------------------
    def _feed(self, msg: WatchEvent) -> None:
        """One numbered event: a duplicate is dropped; a gap (an event lost on the way)
        breaks the stream as a reset TCP connection would, so the reflector re-watches from
        its last resourceVersion and misses nothing."""
        self._last_heard = self.client._loop.time()
        if msg.seq:
            if msg.seq <= self._seq:
                return
            if msg.seq != self._seq + 1:
                if not self.closed:
                    self.client._actor.tell(self.server, StopWatch(self.watch_id))
                    self._close("gap")
                return
            self._seq = msg.seq
        self._push(msg.type, msg.object)

    def _push(self, type_: str, obj: Any) -> None:
        if self.closed:
            return
        self.events += 1
        self._buf.append((type_, obj))
        if type_ == "ERROR":
            status = _status_of(ApiResponse(code=500, body=obj))
            self.error = ApiError(status)
            self._close("error")
        self._wake()

    def _close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.end_reason = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.client._streams.pop((self.server, self.watch_id), None)
        self._wake()

    def _on_timeout(self) -> None:
        self._timer = None
        if not self.closed:
            self.client._actor.tell(self.server, StopWatch(self.watch_id))
            self._close("timeout")

    def _on_idle(self) -> None:
        self._idle = None
        if self.closed or not self._idle_timeout:
            return
        quiet_until = self._last_heard + self._idle_timeout
        now = self.client._loop.time()
        if now < quiet_until:
            self._idle = self.client._loop.call_later(quiet_until - now, self._on_idle)
            return
        self.client._actor.tell(self.server, StopWatch(self.watch_id))
        self._close("idle")

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)


class Client:
    """A typed API client bound to one actor (see the module docstring)."""

    def __init__(
        self,
        actor: Actor,
        *,
        apiservers: list[str],
        token: str,
        qps: float = 5.0,
        burst: int = 10,
        user_agent: str = "",
        timeout: float = 30.0,
    ) -> None:
        if not apiservers:
            raise ValueError("a client needs at least one apiserver address")
        if getattr(actor, "_cell", None) is None:
            raise RuntimeError("create the Client in the actor's on_start: the actor is not attached yet")
        self._actor = actor
        self._loop = actor.system.loop
        self.apiservers = list(apiservers)
        self.token = token
        self.user_agent = user_agent
        self.timeout = timeout
        unlimited = qps < 0 or qps == float("inf")
        self._bucket = None if unlimited else TokenBucket(qps, burst, self._loop.time)
        # A load balancer spreads connections: start at a seeded-random address.
        self._cur = actor.rng.randrange(len(self.apiservers))
        self._streams: dict[tuple[str, int], WatchStream] = {}
        self._pending_watches: dict[str, int] = {}
        self._orphans: dict[tuple[str, int], list[WatchEvent]] = {}
        self._requests = 0
        self._by_verb: dict[str, int] = {}
        self._by_code: dict[int, int] = {}
        self._throttled = 0
        self._throttle_wait = 0.0
        self._transport_errors = 0
        self._failovers = 0
        self._retries_429 = 0
        self._watches = 0
        self._watch_events = 0
        actor.__dict__.setdefault("_kt_clients", []).append(self)

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def current_server(self) -> str:
        return self.apiservers[self._cur]

    # ---- verbs -------------------------------------------------------------------------
    async def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        ri = lookup(resource)
        return await self._do("get", ri, read=True, namespace=self._ns(ri, namespace), name=name)

    async def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """A List object (``items`` and ``metadata.resourceVersion``/``continue``); namespace
        None lists across all namespaces."""
        ri = lookup(resource)
        params = _params(labelSelector=_selector_text(label_selector),
                         fieldSelector=_selector_text(field_selector),
                         limit=None if limit is None else str(limit), resourceVersion=resource_version)
        if continue_:
            params["continue"] = continue_
        ns = namespace if ri.namespaced else None
        return await self._do("list", ri, read=True, namespace=ns, params=params)

    async def create(self, resource: str, obj: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        ri = lookup(resource)
        meta = obj.get("metadata") or {}
        ns = self._ns(ri, namespace or meta.get("namespace"))
        return await self._do("create", ri, namespace=ns, body=obj)

    async def ensure(self, resource: str, obj: Mapping[str, Any], *, retry: float = 1.0,
                     what: str = "object") -> None:
        """Create ``obj`` unless it exists, retrying every ``retry`` seconds until the API
        takes it (an addon manager's loop: a missing namespace or an unreachable apiserver
        only delays it)."""
        while True:
            try:
                await self.create(resource, obj)
                return
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    return
                self._actor.log.info(f"{what} not created yet", resource=resource, error=str(e))
            except TransportError as e:
                self._actor.log.info("apiserver unreachable", error=str(e))
            await anyio.sleep(retry)

    async def update(self, resource: str, obj: Mapping[str, Any], subresource: str | None = None) -> dict[str, Any]:
        """A PUT of the whole object; its ``metadata.resourceVersion`` makes it conditional
        (409 Conflict when stale), as Kubernetes' optimistic concurrency."""
        ri = lookup(resource)
        meta = obj.get("metadata") or {}
        ns = self._ns(ri, meta.get("namespace"))
        return await self._do("update", ri, namespace=ns, name=meta.get("name"), subresource=subresource, body=obj)

    async def update_status(self, resource: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        return await self.update(resource, obj, subresource="status")

    async def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        patch_type: str = "merge",
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        if patch_type not in _PATCH_TYPES:
            raise ValueError(f"patch_type must be one of {', '.join(_PATCH_TYPES)}, not {patch_type!r}")
        ri = lookup(resource)
        return await self._do("patch", ri, namespace=self._ns(ri, namespace), name=name,
                              subresource=subresource, body=patch, patch_type=patch_type)

    async def delete(
        self,
        resource: str,
        name: str,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Returns what the server answers: the object (graceful deletion, finalizers) or a
        Success Status. ``preconditions`` ({"uid": …, "resourceVersion": …}) go in the
        DeleteOptions body, the other options both there and as query parameters."""
        ri = lookup(resource)
        params = _params(gracePeriodSeconds=None if grace_period_seconds is None else str(grace_period_seconds),
                         propagationPolicy=propagation_policy)
        body: dict[str, Any] | None = None
        if preconditions or params:
            body = {"kind": "DeleteOptions", "apiVersion": "v1"}
            if grace_period_seconds is not None:
                body["gracePeriodSeconds"] = grace_period_seconds
            if propagation_policy is not None:
                body["propagationPolicy"] = propagation_policy
            if preconditions:
                body["preconditions"] = dict(preconditions)
        return await self._do("delete", ri, namespace=self._ns(ri, namespace), name=name, body=body, params=params)

    async def bind(self, pod_namespace: str, pod_name: str, node_name: str) -> dict[str, Any]:
        """POST pods/<name>/binding, as the scheduler's DefaultBinder does."""
        body = {
            "kind": "Binding",
            "apiVersion": "v1",
            "metadata": {"name": pod_name, "namespace": pod_namespace},
            "target": {"kind": "Node", "apiVersion": "v1", "name": node_name},
        }
        return await self._do("create", lookup("pods"), namespace=pod_namespace, name=pod_name,
                              subresource="binding", body=body)

    async def watch(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        allow_bookmarks: bool = True,
        timeout_seconds: float | None = None,
    ) -> WatchStream:
        """Open a watch. ``resource_version`` None/"" = current state as synthetic ADDED events
        then changes; "0" = from any state; other = exactly after that version (410 if gone)."""
        ri = lookup(resource)
        params = _params(resourceVersion=resource_version, labelSelector=_selector_text(label_selector),
                         fieldSelector=_selector_text(field_selector),
                         timeoutSeconds=None if timeout_seconds is None else str(int(timeout_seconds)))
        if allow_bookmarks:
            params["allowWatchBookmarks"] = "true"
        req = self._request("watch", ri, namespace=namespace if ri.namespaced else None, params=params)
        await self._throttle()
        try:
            server, resp = await self._send(req, read=True, watch=True)
        except TransportError:
            for s in self.apiservers:
                self._drop_orphans(s)
            raise
        if not 200 <= resp.code < 300:
            self._drop_orphans(server)
            raise ApiError(_status_of(resp))
        stream = WatchStream(self, server, resp.watch_id, timeout_seconds,
                             WATCH_IDLE_TIMEOUT if allow_bookmarks else None)
        self._streams[(server, resp.watch_id)] = stream
        self._watches += 1
        for ev in self._orphans.pop((server, resp.watch_id), ()):
            stream._feed(ev)
        self._drop_orphans(server)
        return stream

    # ---- routing ---------------------------------------------------------------------------
    def dispatch(self, msg: Any) -> bool:
        """Feed a ``WatchEvent`` (sent by the apiserver now being handled) or a ``runtime.Down``
        to this client; True if it was this client's."""
        if isinstance(msg, WatchEvent):
            server = self._actor.sender
            stream = self._streams.get((server, msg.watch_id))
            if stream is not None:
                self._watch_events += 1
                stream._feed(msg)
                return True
            if self._pending_watches.get(server):
                # The event overtook the reply opening its watch: keep it for the stream.
                self._orphans.setdefault((server, msg.watch_id), []).append(msg)
                return True
            return False
        if isinstance(msg, Down):
            if msg.address not in self.apiservers:
                return False
            for (srv, _), stream in list(self._streams.items()):
                if srv == msg.address:
                    stream._close("apiserver down")
            self._fail_over(msg.address)
            return True
        return False

    def statistics(self) -> ClientStats:
        return ClientStats(
            requests=self._requests, by_verb=dict(self._by_verb), by_code=dict(self._by_code),
            throttled=self._throttled, throttle_wait_seconds=self._throttle_wait,
            transport_errors=self._transport_errors, failovers=self._failovers,
            retries_429=self._retries_429, watches_opened=self._watches,
            watch_events=self._watch_events, current_server=self.current_server,
        )

    # ---- internals -------------------------------------------------------------------------
    @staticmethod
    def _ns(ri: ResourceInfo, namespace: str | None) -> str | None:
        if not ri.namespaced:
            return None
        return namespace or "default"

    def _request(self, verb: str, ri: ResourceInfo, **kw: Any) -> ApiRequest:
        return ApiRequest(verb=verb, resource=ri.resource, group=ri.group, version=ri.version,
                          token=self.token, user_agent=self.user_agent, **kw)

    async def _do(self, verb: str, ri: ResourceInfo, *, read: bool = False, **kw: Any) -> dict[str, Any]:
        req = self._request(verb, ri, **kw)
        retries = 0
        while True:
            await self._throttle()
            _, resp = await self._send(req, read=read)
            if resp.code == 429 and retries < _MAX_429_RETRIES:
                retries += 1
                self._retries_429 += 1
                details = _status_of(resp).details
                await anyio.sleep(float((details and details.retry_after_seconds) or 1))
                continue
            if 200 <= resp.code < 300:
                return resp.body  # type: ignore[no-any-return]
            raise ApiError(_status_of(resp))

    async def _throttle(self) -> None:
        if self._bucket is None:
            return
        delay = self._bucket.reserve()
        if delay > 0:
            self._throttled += 1
            self._throttle_wait += delay
            await anyio.sleep(delay)

    async def _send(self, req: ApiRequest, *, read: bool, watch: bool = False) -> tuple[str, ApiResponse]:
        last: BaseException | None = None
        server = self.current_server
        for _ in range(len(self.apiservers)):
            server = self.current_server
            self._requests += 1
            self._by_verb[req.verb] = self._by_verb.get(req.verb, 0) + 1
            if watch:
                self._actor.monitor(server)  # before asking: a crash mid-request still tells us
                self._pending_watches[server] = self._pending_watches.get(server, 0) + 1
            try:
                resp = await self._actor.ask(server, req, timeout=self.timeout)
            except (AskTimeout, ActorDead, UnknownActor) as e:
                self._transport_errors += 1
                self._fail_over(server)
                last = e
                refused = isinstance(e, UnknownActor) or (isinstance(e, ActorDead) and e.why.startswith("is "))
                if read or refused:
                    continue
                raise TransportError(server, e, maybe_applied=True) from e
            finally:
                if watch:
                    self._pending_watches[server] -= 1
            if not isinstance(resp, ApiResponse):
                raise TypeError(f"apiserver {server!r} answered {type(resp).__name__}, not ApiResponse")
            self._by_code[resp.code] = self._by_code.get(resp.code, 0) + 1
            return server, resp
        raise TransportError(server, last, maybe_applied=False)

    def _fail_over(self, server: str) -> None:
        if self.current_server == server and len(self.apiservers) > 1:
            self._cur = (self._cur + 1) % len(self.apiservers)
            self._failovers += 1

    def _drop_orphans(self, server: str) -> None:
        """Events for watches no pending request will claim: stop those watches."""
        if self._pending_watches.get(server):
            return
        for key in [k for k in self._orphans if k[0] == server]:
            events = self._orphans.pop(key)
            if all(ev.type != "ERROR" for ev in events):
                self._actor.tell(server, StopWatch(key[1]))


def _params(**kw: str | None) -> dict[str, str]:
    return {k: v for k, v in kw.items() if v is not None and v != ""}


def dispatch(actor: Actor, msg: WatchEvent | Down) -> bool:
    """Route a message to every client of ``actor``. A WatchEvent no client claims belongs to a
    watch nobody reads any more: it is answered with ``StopWatch`` so the server forgets it."""
    clients: list[Client] = actor.__dict__.get("_kt_clients", [])
    if isinstance(msg, WatchEvent):
        for c in clients:
            if c.dispatch(msg):
                return True
        if msg.type != "ERROR":
            actor.tell(actor.sender, StopWatch(msg.watch_id))
        return False
    handled = False
    for c in clients:
        handled = c.dispatch(msg) or handled
    return handled


class ClientActorMixin:
    """Mix into an Actor that owns ``Client`` s: routes ``WatchEvent`` and ``runtime.Down`` to
    them. An actor that handles ``Down`` itself overrides ``_kt_client_down`` (or defines its
    own Down handler) and calls ``dispatch(self, msg)`` from it."""

    @handler
    def _kt_client_watch_event(self, msg: WatchEvent) -> None:
        dispatch(self, msg)  # type: ignore[arg-type]

    @handler
    def _kt_client_down(self, msg: Down) -> None:
        dispatch(self, msg)  # type: ignore[arg-type]
