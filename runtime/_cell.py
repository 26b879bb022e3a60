"""The cell: what the runtime keeps per address across the lives of an actor — its mailbox,
status, timers, tasks, durable store and restart history. The ``Actor`` instance inside is
replaced on every restart; the cell is not.

Concurrency model: loop thread only. The drain runs as a loop callback and handles every ready
message before it yields (batching is what makes Python actors fast).
"""

from __future__ import annotations

import asyncio
import random
import types
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from ._actor import Actor, Timer
from ._errors import ExpectedError
from ._messages import ASK, TELL, type_name

if TYPE_CHECKING:
    from ._durable import DurableStore
    from ._supervision import RestartPolicy
    from ._system import ActorSystem

__all__ = ["Cell", "MailboxStats", "RUNNING", "DOWN", "STOPPED", "FAILED"]

RUNNING = "running"
DOWN = "down"  # crashed, waiting for a restart (by its supervisor or a nemesis)
STOPPED = "stopped"  # stopped gracefully
FAILED = "failed"  # crashed too often: its supervisor gave up

_Coroutine = types.CoroutineType


def _closer(coro: Coroutine[Any, Any, Any]) -> Callable[[asyncio.Task[Any]], None]:
    def close(_task: asyncio.Task[Any]) -> None:
        coro.close()

    return close


class MailboxStats(msgspec.Struct):
    depth: int
    high_water: int
    received: int
    dropped: int
    capacity: int


class Cell:
    __slots__ = (
        "name", "system", "factory", "args", "kwargs", "policy", "capacity", "queue",
        "high_water", "received", "dropped", "status", "instance", "handlers", "scheduled",
        "busy", "sender", "corr", "deferred", "timers", "tasks", "generation", "store",
        "restarts", "skew_offset", "skew_rate", "_rng", "_log", "_loop", "crash_reason",
    )

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        factory: Callable[..., Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        policy: RestartPolicy,
        capacity: int,
        store: DurableStore,
    ) -> None:
        self.name = name
        self.system = system
        self.factory = factory
        self.args = args
        self.kwargs = kwargs
        self.policy = policy
        self.capacity = capacity
        self.queue: deque[tuple[str, Any, int, int]] = deque()
        self.high_water = 0
        self.received = 0
        self.dropped = 0
        self.status = DOWN
        self.instance: Actor | None = None
        self.handlers: dict[type, Callable[[Any], Any]] = {}
        self.scheduled = False
        self.busy = False
        self.sender = ""
        self.corr = 0
        self.deferred = False
        # Insertion-ordered (dicts, not sets): a crash cancels them in this order, and a set
        # of tasks iterates by memory address - the same seed took different paths in
        # different processes (found by the etcd stateful test and the demo run in-process).
        self.timers: dict[Timer, None] = {}
        self.tasks: dict[asyncio.Task[Any], None] = {}
        self.generation = 0
        self.store = store
        self.restarts: list[float] = []
        self.skew_offset = 0.0
        self.skew_rate = 1.0
        self._rng: random.Random | None = None
        self._log: Any = None
        self._loop: asyncio.AbstractEventLoop = system.loop
        self.crash_reason: BaseException | None = None

    # ---- mailbox ---------------------------------------------------------------------------
    def enqueue(self, item: tuple[str, Any, int, int]) -> bool:
        q = self.queue
        n = len(q)
        if n >= self.capacity:
            self.dropped += 1
            return False
        q.append(item)
        self.received += 1
        if n >= self.high_water:
            self.high_water = n + 1
        if not (self.scheduled or self.busy):
            self.scheduled = True
            self._loop.call_soon(self.drain)
        return True

    def stats(self) -> MailboxStats:
        return MailboxStats(len(self.queue), self.high_water, self.received, self.dropped, self.capacity)

    def drain(self) -> None:
        self.scheduled = False
        if self.busy or self.status != RUNNING:
            return
        q = self.queue
        handlers = self.handlers
        system = self.system
        gen = self.generation
        while q:
            sender, msg, kind, corr = q.popleft()
            h = handlers.get(msg.__class__)
            self.sender = sender
            if kind:  # an ask (replies never enter a mailbox)
                self.corr = corr
                self.deferred = False
            elif self.corr:
                self.corr = 0
            if h is None:
                self.instance.on_unhandled(msg)  # type: ignore[union-attr]
                if kind == ASK:
                    system._reply(self.name, sender, corr, None, failed=False)
                continue
            try:
                r = h(msg)
            except ExpectedError as e:
                if kind == ASK:
                    system._reply(self.name, sender, corr, e, failed=True)
                continue
            except Exception as e:  # a crash: the supervisor decides
                system._on_crash(self, e, sender=sender, kind=kind, corr=corr)
                return
            if r.__class__ is _Coroutine:
                self.busy = True
                task = self._loop.create_task(self._finish(r, sender, kind, corr, gen))
                self.tasks[task] = None
                task.add_done_callback(self._task_done)
                task.add_done_callback(_closer(r))
                return
            if kind == ASK and not self.deferred:
                system._reply(self.name, sender, corr, r, failed=False)

    async def _finish(self, coro: Coroutine[Any, Any, Any], sender: str, kind: int, corr: int, gen: int) -> None:
        deferred = self.deferred
        try:
            r = await coro
        except ExpectedError as e:
            if kind == ASK:
                self.system._reply(self.name, sender, corr, e, failed=True)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if gen == self.generation:
                self.system._on_crash(self, e, sender=sender, kind=kind, corr=corr)
            return
        else:
            if kind == ASK and not deferred and not self.deferred:
                self.system._reply(self.name, sender, corr, r, failed=False)
        if gen == self.generation:
            self.busy = False
            if self.queue and not self.scheduled:
                self.scheduled = True
                self._loop.call_soon(self.drain)

    # ---- time, chance, logs ----------------------------------------------------------------
    def now(self) -> float:
        t = self._loop.time()
        if self.skew_rate != 1.0 or self.skew_offset:
            return t * self.skew_rate + self.skew_offset
        return t

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = self.system.rng_for(f"{self.name}#{self.generation}")
        return self._rng

    def logger(self) -> Any:
        if self._log is None:
            self._log = self.system.logger(self.name)
        return self._log

    # ---- timers and tasks ----------------------------------------------------------------------
    def start_timer(self, delay: float, msg: Any, interval: float | None) -> Timer:
        timer = Timer(self)
        self.timers[timer] = None
        self._arm(timer, delay, msg, interval, self.generation)
        return timer

    def _arm(self, timer: Timer, delay: float, msg: Any, interval: float | None, gen: int) -> None:
        # A fast (or slow) clock fires its timers early (or late) in true time.
        when = self._loop.time() + max(0.0, delay) / self.skew_rate
        timer._handle = self._loop.call_at(when, self._fire, timer, msg, interval, gen)

    def _fire(self, timer: Timer, msg: Any, interval: float | None, gen: int) -> None:
        if timer.cancelled or gen != self.generation or self.status != RUNNING:
            return
        if interval is None:
            self.timers.pop(timer, None)
            timer._handle = None
        else:
            self._arm(timer, interval, msg, interval, gen)
        trace = self.system.trace
        if trace.enabled:
            self.system._record("timer", self.name, self.name, type_name(msg), 0)
        self.enqueue((self.name, msg, TELL, 0))

    def spawn_task(self, coro: Coroutine[Any, Any, Any], name: str | None) -> asyncio.Task[Any]:
        gen = self.generation

        async def guarded() -> Any:
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except ExpectedError:
                raise
            except Exception as e:
                if gen == self.generation and self.status == RUNNING:
                    self.system._on_crash(self, e, sender="", kind=TELL, corr=0)
                return None

        task = self._loop.create_task(guarded(), name=name or f"{self.name}:task")
        self.tasks[task] = None
        task.add_done_callback(self._task_done)
        # A task cancelled before it first ran never awaited ``coro``: close it quietly.
        task.add_done_callback(lambda _t: coro.close())
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.pop(task, None)

    def cancel_everything(self) -> list[tuple[str, Any, int, int]]:
        for t in list(self.timers):
            t.cancel()
        self.timers.clear()
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        lost = list(self.queue)
        self.queue.clear()
        self.busy = False
        self.scheduled = False
        return lost
