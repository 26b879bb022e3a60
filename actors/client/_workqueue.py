"""The controller work queue: client-go's ``util/workqueue`` rate-limiting delaying queue, and
``run_workers`` driving a level-triggered ``reconcile(key)`` over it (controller-runtime's shape).

What it is — the semantics controllers depend on, exactly as client-go's ``Typed`` queue:
- *dirty*: a key waiting to be processed is queued once, however often it is added;
- *processing*: a key handed out by ``get`` is not handed out again until ``done(key)``; if it
  was added meanwhile it goes back on the queue at ``done``;
- ``add_after(key, delay)`` holds the key until the delay passes (an earlier deadline for a key
  already waiting wins; a later one is ignored); ``add_rate_limited(key)`` is
  ``add_after(key, limiter.when(key))``; ``forget(key)`` clears the key's failure history;
- ``shut_down()`` stops accepting keys; ``get`` keeps handing out what is queued, then raises
  ``QueueShutDown``. ``shut_down_with_drain()`` also waits for keys being processed.
- metrics as client-go's: depth, adds, queue latency (add → get), work duration (get → done),
  retries (``add_after`` calls), unfinished work and the longest running processor.

Concurrency model: one actor's loop. Keys enter from handlers and tasks; ``get`` is the only
wait, parking the calling task on a future until a key is ready (virtual time in simulation:
delayed keys are released by a loop timer). Workers are tasks spawned by the owning actor;
a reconcile that awaits lets other workers run, never two on the same key.

Invariants: a key is in at most one of {queue, waiting heap}; ``queue ⊆ dirty``;
``queue ∩ processing = ∅``; a key is never in ``processing`` twice.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

import msgspec

from runtime import InvariantViolation

from ._ratelimit import RateLimiter, default_controller_rate_limiter

if TYPE_CHECKING:
    from runtime import Actor

__all__ = ["QueueEmpty", "QueueShutDown", "QueueStats", "RateLimitingQueue", "Result"]


class QueueShutDown(Exception):
    """``get`` on a queue that is shut down and empty."""


class QueueEmpty(Exception):
    """``get_nowait`` found no key ready."""


class Result(msgspec.Struct, frozen=True):
    """What a reconcile asks for next (controller-runtime's ``reconcile.Result``).
    ``requeue_after`` wins over ``requeue``; ``None`` from a reconcile means ``Result()``."""

    requeue: bool = False
    requeue_after: float | None = None


class QueueStats(msgspec.Struct, frozen=True):
    depth: int
    adds: int
    retries: int
    processing: int
    waiting: int
    queue_latency_count: int
    queue_latency_total: float
    queue_latency_max: float
    work_duration_count: int
    work_duration_total: float
    work_duration_max: float
    unfinished_work_seconds: float
    longest_running_processor_seconds: float
    reconcile_errors: int


class RateLimitingQueue:
    """A deduplicating, delaying, rate-limited queue of hashable keys."""

    def __init__(
        self,
        rate_limiter: RateLimiter | None = None,
        *,
        name: str = "",
        actor: Actor | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self._actor = actor
        self._clock = clock or (actor.system.loop.time if actor is not None else _loop_time)
        self.rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter(self._clock)
        self._queue: deque[Hashable] = deque()
        self._dirty: dict[Hashable, None] = {}
        self._processing: dict[Hashable, float] = {}  # key -> when processing started
        self._waiting: list[tuple[float, int, Hashable]] = []  # (ready_at, seq, key)
        self._waiting_ready: dict[Hashable, float] = {}  # key -> its ready_at in the heap
        self._seq = itertools.count()
        self._added_at: dict[Hashable, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drained: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._shutting_down = False
        self.workers: list[asyncio.Task[Any]] = []
        # metrics
        self._adds = 0
        self._retries = 0
        self._errors = 0
        self._lat = [0, 0.0, 0.0]  # count, total, max
        self._work = [0, 0.0, 0.0]
        # Opt-in raw observations (queue latency, work duration), for percentiles the
        # count/total/max above cannot give (benchmarks/reconcile.py). None: off.
        self.samples: tuple[list[float], list[float]] | None = None

    # ---- adding --------------------------------------------------------------------------
    def add(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._adds += 1
        self._added_at.setdefault(key, self._clock())
        self._dirty[key] = None
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: Hashable, delay: float) -> None:
        if self._shutting_down:
            return
        self._retries += 1
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock() + delay
        known = self._waiting_ready.get(key)
        if known is not None and known <= ready_at:
            return  # already waiting with an earlier (or equal) deadline
        self._waiting_ready[key] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), key))
        self._arm_timer()

    def add_rate_limited(self, key: Hashable) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: Hashable) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return self.rate_limiter.num_requeues(key)

    # ---- taking ----------------------------------------------------------------------------
    def get_nowait(self) -> Hashable:
        """The next ready key (now marked processing); ``QueueEmpty`` if none is ready,
        ``QueueShutDown`` if none will ever be."""
        self._release_ready()
        if not self._queue:
            if self._shutting_down:
                raise QueueShutDown(self.name)
            raise QueueEmpty(self.name)
        key = self._queue.popleft()
        now = self._clock()
        added = self._added_at.pop(key, None)
        if added is not None:
            self._observe(self._lat, now - added)
            if self.samples is not None:
                self.samples[0].append(now - added)
        self._processing[key] = now
        del self._dirty[key]
        return key

    async def get(self) -> Hashable:
        """Wait (in the loop's time) for a key; raises ``QueueShutDown`` once shut down and empty."""
        while True:
            try:
                return self.get_nowait()
            except QueueEmpty:
                pass
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                elif fut.done() and not fut.cancelled():
                    self._wake_one()  # we were woken but will not take the key: pass it on
                raise

    def done(self, key: Hashable) -> None:
        started = self._processing.pop(key, None)
        if started is None:
            raise InvariantViolation(f"work queue {self.name!r}: done({key!r}) for a key not being processed")
        work = self._clock() - started
        self._observe(self._work, work)
        if self.samples is not None:
            self.samples[1].append(work)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()
        if not self._processing:
            for fut in self._drained:
                if not fut.done():
                    fut.set_result(None)
            self._drained.clear()

    # ---- lifecycle -------------------------------------------------------------------------
    def shut_down(self) -> None:
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._waiting_ready.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until every key handed out has been ``done``."""
        self.shut_down()
        if self._processing:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drained.append(fut)
            await fut

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Keys ready to be handed out (client-go's ``Len``: delayed keys are not counted)."""
        self._release_ready()
        return len(self._queue)

    def is_processing(self, key: Hashable) -> bool:
        return key in self._processing

    def statistics(self) -> QueueStats:
        self._release_ready()
        now = self._clock()
        running = [now - t for t in self._processing.values()]
        return QueueStats(
            depth=len(self._queue), adds=self._adds, retries=self._retries,
            processing=len(self._processing), waiting=len(self._waiting_ready),
            queue_latency_count=self._lat[0], queue_latency_total=self._lat[1],
            queue_latency_max=self._lat[2], work_duration_count=self._work[0],
            work_duration_total=self._work[1], work_duration_max=self._work[2],
            unfinished_work_seconds=sum(running),
            longest_running_processor_seconds=max(running, default=0.0),
            reconcile_errors=self._errors,
        )

    # ---- workers ---------------------------------------------------------------------------
    def run_workers(
        self, n: int, reconcile: Callable[[Any], Result | None | Awaitable[Result | None]]
    ) -> list[asyncio.Task[Any]]:
        """Spawn ``n`` worker tasks on the owning actor, each looping ``get → reconcile → done``.

        ``reconcile(key)`` (sync or async) returns a ``Result`` (or None). An exception
        re-queues the key rate-limited (controller-runtime's behaviour) and is counted in
        ``reconcile_errors``; an ``InvariantViolation`` is re-raised and crashes the actor.
        Workers stop when the queue shuts down.
        """
        if self._actor is None:
            raise RuntimeError("run_workers needs the queue to be created with actor=")
        for i in range(n):
            task = self._actor.spawn(self._worker(reconcile), name=f"{self._actor.name}:{self.name or 'queue'}-worker-{i}")
            self.workers.append(task)
        return list(self.workers)

    async def _worker(self, reconcile: Callable[[Any], Any]) -> None:
        while True:
            try:
                key = await self.get()
            except QueueShutDown:
                return
            try:
                result = reconcile(key)
                if inspect.isawaitable(result):
                    result = await result
            except InvariantViolation:
                raise
            except Exception as e:  # a failed reconcile retries with back-off
                self._errors += 1
                if self._actor is not None:
                    self._actor.log.warning("reconcile failed", queue=self.name, key=str(key), error=repr(e))
                self.add_rate_limited(key)
            else:
                self._after_reconcile(key, result)
            finally:
                self.done(key)

    def _after_reconcile(self, key: Hashable, result: Result | None) -> None:
        if result is None:
            result = Result()
        if result.requeue_after is not None and result.requeue_after > 0:
            self.forget(key)
            self.add_after(key, result.requeue_after)
        elif result.requeue:
            self.add_rate_limited(key)
        else:
            self.forget(key)

    # ---- internals -------------------------------------------------------------------------
    @staticmethod
    def _observe(acc: list[Any], value: float) -> None:
        acc[0] += 1
        acc[1] += value
        if value > acc[2]:
            acc[2] = value

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _release_ready(self) -> None:
        if not self._waiting:
            return
        now = self._clock()
        heap = self._waiting
        while heap and heap[0][0] <= now + 1e-12:
            ready_at, _, key = heapq.heappop(heap)
            if self._waiting_ready.get(key) != ready_at:
                continue  # superseded by an earlier deadline for the same key
            del self._waiting_ready[key]
            self.add(key)

    def _arm_timer(self) -> None:
        if not self._waiting:
            return
        head = self._waiting[0][0]
        if head >= self._timer_at and self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous unit test): keys are released on get/len
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = head
        self._timer = loop.call_later(max(0.0, head - self._clock()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self._release_ready()
        self._arm_timer()


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
