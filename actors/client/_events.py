"""The event recorder: core/v1 Events written through the client, with client-go's correlator
(``tools/record``: ``EventRecorder`` → broadcaster → ``EventCorrelator`` → sink).

What it is:
- ``EventRecorder(client, component, host)``: ``event(obj, type, reason, message)`` builds the
  Event at once — name ``<object name>.<hex of the Unix time in nanoseconds>`` (16 hex
  digits), namespace of the object (``default`` for cluster-scoped ones), ``source`` and
  ``reportingComponent``/``reportingInstance`` from the recorder, first/last timestamp now,
  count 1 — and queues it (at most 1000 queued; beyond that it is dropped, as the
  broadcaster's DropIfChannelFull). Recording never blocks or fails the caller.
- A sender task (spawned on the client's actor) correlates and writes queued events in order.
  ``EventCorrelator`` is the pure part:
  * aggregation: more than 10 events in 10 minutes that differ only by message (same source,
    object, type, reason) become one event "(combined from similar events): <message>";
  * de-duplication: the same (source, object, type, reason, message) seen again within 10
    minutes of its last sighting increments ``count`` and ``lastTimestamp`` of the existing
    Event with a strategic merge patch ``{"count", "lastTimestamp", "message"}`` instead of
    creating one (if the patch finds it gone, it is created again);
  * spam filter, kept simple: a token bucket per (source, object) of 25 events refilled at one
    per 5 minutes; events beyond it are skipped.
- Writes that the apiserver rejects (any Status) are abandoned; transport failures are
  retried up to 12 times, 10 s apart (the first wait randomized), as ``recordToSink``.

Concurrency model: ``event`` is synchronous and callable from any handler or task of the
owning actor; one sender task drains the queue. The correlator is plain synchronous code with
an injected clock (the actor's wall clock).

Invariants: a queued event is written at most once per correlation; the correlator's LRU
caches hold at most 4096 entries each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from actors.api import ApiError

from ._leaderelection import format_time
from ._ratelimit import TokenBucket
from ._rest import TransportError

if TYPE_CHECKING:
    from ._rest import Client

__all__ = ["EventCorrelator", "EventRecorder", "EventRecorderStats", "object_reference"]

MAX_QUEUED_EVENTS = 1000
MAX_TRIES_PER_EVENT = 12
SLEEP_DURATION = 10.0
LRU_SIZE = 4096
AGGREGATE_MAX_EVENTS = 10
MAX_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
_COMBINED = "(combined from similar events): "


def object_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An ObjectReference to ``obj`` (kind and apiVersion must be set on it)."""
    meta = obj.get("metadata") or {}
    if not obj.get("kind") or not meta.get("name"):
        raise ValueError("cannot build a reference: the object needs kind and metadata.name")
    ref = {"kind": obj["kind"], "namespace": meta.get("namespace"), "name": meta["name"],
           "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
           "resourceVersion": meta.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


def _nanos(t: float) -> int:
    return round(t * 1_000_000_000)


def _ref_key(ev: Mapping[str, Any]) -> tuple[str, ...]:
    src = ev.get("source") or {}
    ref = ev.get("involvedObject") or {}
    return (src.get("component", ""), src.get("host", ""), ref.get("kind", ""),
            ref.get("namespace", ""), ref.get("name", ""), ref.get("uid", ""),
            ref.get("apiVersion", ""))


def event_key(ev: Mapping[str, Any]) -> tuple[str, ...]:
    """getEventKey: source, involved object (with fieldPath), type, reason and message."""
    ref = ev.get("involvedObject") or {}
    return (*_ref_key(ev), ref.get("fieldPath", ""), ev.get("type", ""), ev.get("reason", ""),
            ev.get("message", ""))


@dataclasses.dataclass
class _Observation:
    count: int
    first_timestamp: str
    name: str
    resource_version: str
    last_seen: float


@dataclasses.dataclass
class _Aggregate:
    local_keys: dict[str, None]
    last: float


class _Lru(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)

    def fetch(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value


class EventCorrelator:
    """Aggregation, de-duplication and spam filtering (pure; ``now`` is the wall clock)."""

    def __init__(self, now: Callable[[], float], *, max_interval: float = MAX_INTERVAL,
                 aggregate_max_events: int = AGGREGATE_MAX_EVENTS, spam_burst: int = SPAM_BURST,
                 spam_qps: float = SPAM_QPS, cache_size: int = LRU_SIZE) -> None:
        self._now = now
        self.max_interval = max_interval
        self.aggregate_max_events = aggregate_max_events
        self.spam_burst = spam_burst
        self.spam_qps = spam_qps
        self._aggregates = _Lru(cache_size)
        self._log = _Lru(cache_size)
        self._spam = _Lru(cache_size)

    def correlate(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The event to write and the patch (if it updates an existing one); None to skip it."""
        aggregated, key = self._aggregate(event)
        observed, patch = self._observe(aggregated, key)
        if self._spam_filtered(observed):
            return None
        return observed, patch

    def update_state(self, event: Mapping[str, Any]) -> None:
        """Remember the server's copy (its name and resourceVersion) for the next patch."""
        meta = event.get("metadata") or {}
        self._log.put(event_key(event), _Observation(
            int(event.get("count") or 1), event.get("firstTimestamp") or "", meta.get("name") or "",
            meta.get("resourceVersion") or "", self._now()))

    def _aggregate(self, event: Mapping[str, Any]) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        now = self._now()
        agg_key = (*_ref_key(event), event.get("type", ""), event.get("reason", ""))
        rec: _Aggregate | None = self._aggregates.fetch(agg_key)
        if rec is None or now - rec.last > self.max_interval:
            rec = _Aggregate({}, now)
        rec.local_keys[event.get("message", "")] = None
        rec.last = now
        self._aggregates.put(agg_key, rec)
        if len(rec.local_keys) < self.aggregate_max_events:
            return event, event_key(event)
        del rec.local_keys[next(iter(rec.local_keys))]  # do not grow past the maximum
        ts = format_time(now)
        ref = event.get("involvedObject") or {}
        combined = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref.get('name', '')}.{_nanos(now):x}",
                         "namespace": (event.get("metadata") or {}).get("namespace")},
            "involvedObject": ref, "reason": event.get("reason"),
            "message": _COMBINED + (event.get("message") or ""), "source": event.get("source"),
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": event.get("type"),
        }
        return combined, ("aggregate", *agg_key)

    def _observe(self, event: Mapping[str, Any], key: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        now = self._now()
        out = dict(event)
        patch = None
        last: _Observation | None = self._log.fetch(key)
        if last is not None and now - last.last_seen <= self.max_interval:
            meta = dict(out.get("metadata") or {})
            meta["name"] = last.name
            if last.resource_version:
                meta["resourceVersion"] = last.resource_version
            out["metadata"] = meta
            out["firstTimestamp"] = last.first_timestamp
            out["count"] = last.count + 1
            patch = {"count": out["count"], "lastTimestamp": out.get("lastTimestamp"), "message": out.get("message")}
        meta = out.get("metadata") or {}
        self._log.put(key, _Observation(int(out.get("count") or 1), out.get("firstTimestamp") or "",
                                        meta.get("name") or "", meta.get("resourceVersion") or "", now))
        return out, patch

    def _spam_filtered(self, event: Mapping[str, Any]) -> bool:
        key = _ref_key(event)
        bucket: TokenBucket | None = self._spam.fetch(key)
        if bucket is None:
            bucket = TokenBucket(self.spam_qps, self.spam_burst, self._now)
        self._spam.put(key, bucket)
        return not bucket.try_accept()


class EventRecorderStats(msgspec.Struct, frozen=True):
    emitted: int
    created: int
    patched: int
    skipped: int
    dropped: int
    rejected: int
    abandoned: int
    invalid: int
    queued: int


class EventRecorder:
    """Records Events about objects on behalf of ``component`` running on ``host``."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._actor = client.actor
        self.correlator = EventCorrelator(self._actor.wall_time)
        # Event names are <object>.<hex nanoseconds>. In virtual time many events share an
        # instant, so each recorder offsets its stamps by a salt from its identity (two
        # components rarely collide) and never reuses a stamp it handed out.
        self._salt = zlib.crc32(f"{component}/{host}".encode()) % 997
        self._last_stamp = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._sender: asyncio.Task[Any] | None = None
        self._n = dict.fromkeys(("emitted", "created", "patched", "skipped", "dropped",
                                 "rejected", "abandoned", "invalid"), 0)

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (fire and forget; never raises for API trouble)."""
        if type_ not in ("Normal", "Warning"):
            self._n["invalid"] += 1
            self._actor.log.error("unsupported event type", type=type_, reason=reason)
            return
        try:
            ref = object_reference(obj)
        except ValueError as e:
            self._n["invalid"] += 1
            self._actor.log.error("could not construct reference, will not report event", error=str(e))
            return
        self._n["emitted"] += 1
        if len(self._queue) >= MAX_QUEUED_EVENTS:
            self._n["dropped"] += 1
            return
        self._queue.append(self._make_event(ref, type_, reason, message))
        if self._sender is None or self._sender.done():
            self._sender = self._actor.spawn(self._send_all(), name=f"{self._actor.name}:events")

    def eventf(self, obj: Mapping[str, Any], type_: str, reason: str, fmt: str, *args: Any) -> None:
        self.event(obj, type_, reason, fmt % args if args else fmt)

    def statistics(self) -> EventRecorderStats:
        return EventRecorderStats(**self._n, queued=len(self._queue))

    def _stamp(self, t: float) -> int:
        stamp = max(_nanos(t) + self._salt, self._last_stamp + 1)
        self._last_stamp = stamp
        return stamp

    def _make_event(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
        t = self._actor.wall_time()
        ts = format_time(t)
        source = {"component": self.component}
        if self.host:
            source["host"] = self.host
        ev: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref['name']}.{self._stamp(t):x}", "namespace": ref.get("namespace") or "default"},
            "involvedObject": ref, "reason": reason, "message": message, "source": source,
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": type_,
            "reportingComponent": self.component,
        }
        if self.host:
            ev["reportingInstance"] = self.host
        return ev

    async def _send_all(self) -> None:
        while self._queue:
            await self._record_to_sink(self._queue.popleft())

    async def _record_to_sink(self, event: dict[str, Any]) -> None:
        result = self.correlator.correlate(event)
        if result is None:
            self._n["skipped"] += 1
            return
        ev, patch = result
        for tries in range(1, MAX_TRIES_PER_EVENT + 1):
            if await self._record(ev, patch):
                return
            if tries == MAX_TRIES_PER_EVENT:
                break
            # Randomize the first wait so clients do not retry in lockstep after an outage.
            delay = SLEEP_DURATION * self._actor.rng.random() if tries == 1 else SLEEP_DURATION
            await anyio.sleep(delay)
        self._n["abandoned"] += 1

    async def _record(self, ev: dict[str, Any], patch: dict[str, Any] | None) -> bool:
        """True when the event is written or abandoned for good; False to retry."""
        ns = ev["metadata"]["namespace"]
        new: dict[str, Any] | None = None
        try:
            if patch is not None:
                try:
                    new = await self.client.patch("events", ev["metadata"]["name"], patch,
                                                  patch_type="strategic", namespace=ns)
                    self._n["patched"] += 1
                except ApiError as e:
                    if e.code != 404:
                        raise
            if new is None:
                meta = {k: v for k, v in ev["metadata"].items() if k != "resourceVersion"}
                new = await self.client.create("events", {**ev, "metadata": meta}, ns)
                self._n["created"] += 1
        except ApiError as e:
            self._n["rejected"] += 1
            self._actor.log.info("server rejected event (will not retry)", reason=ev.get("reason"), error=str(e))
            return True
        except TransportError:
            return False
        self.correlator.update_state(new)
        return True
