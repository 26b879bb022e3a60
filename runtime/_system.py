"""The actor system: the cells, the bus, the clock, the seeded generator, the trace and faults.

The same class runs both modes. Simulated: its loop is a ``VirtualClockLoop`` and the wall
clock is a fixed epoch plus virtual time. Live: a normal asyncio loop and the real wall clock.

Determinism: every random draw comes from generators derived from one seed by name
(``rng_for``), with a stable hash (never Python's ``hash``), so runs do not depend on
PYTHONHASHSEED; addresses are kept in insertion order and never iterated as sets.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from ._actor import Actor
from ._bus import Bus
from ._cell import DOWN, FAILED, RUNNING, STOPPED, Cell, MailboxStats
from ._durable import DurableStore
from ._errors import ActorDead, AskTimeout, InvariantViolation, MailboxFull, UnknownActor
from ._messages import ASK, FAILURE, REPLY, Down, type_name
from ._network import NetworkModel
from ._supervision import DEFAULT_POLICY, RestartPolicy
from ._trace import Trace, TraceEvent

__all__ = ["ActorSystem", "DRIVER", "SIM_EPOCH"]

DRIVER = "$driver"  # the address of code outside any actor (tests, the CLI, HTTP handlers)
SIM_EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: virtual time 0 on the simulated wall clock


class ActorSystem:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        seed: int = 0,
        simulated: bool = True,
        trace: bool = False,
        wall_base: float | None = None,
        store_factory: Callable[[str], DurableStore] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.loop = loop
        self.seed = seed
        self.simulated = simulated
        self.cells: dict[str, Cell] = {}
        self.network = NetworkModel()
        self.trace = Trace(enabled=trace)
        self.net_rng = self.rng_for("$network")
        self.bus = Bus(self)  # after network and trace: it subscribes to their changes
        self.stores: dict[str, DurableStore] = {}
        self._store_factory = store_factory or (lambda name: DurableStore())
        self.wall_base = SIM_EPOCH if wall_base is None else wall_base
        self.lose_unsynced_on_crash = False
        self.failures: list[BaseException] = []
        self.crashes: list[tuple[float, str, str]] = []
        self.dead_letters = 0
        self._corr = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], str, str]] = {}
        self._pending_by_target: dict[str, dict[int, None]] = {}
        self._monitors: dict[str, dict[str, None]] = {}
        self._log_level = log_level
        loop.set_exception_handler(self._loop_exception)

    # ---- chance, time, logs ---------------------------------------------------------------------
    def rng_for(self, purpose: str) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}:{purpose}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    @property
    def now(self) -> float:
        return self.loop.time()

    def wall_time(self) -> float:
        return self.wall_base + self.loop.time()

    def logger(self, name: str) -> Any:
        loop = self.loop

        def stamp(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
            event["vt"] = round(loop.time(), 6)
            return event

        return structlog.wrap_logger(
            structlog.PrintLogger(file=sys.stderr),
            processors=[stamp, structlog.processors.add_log_level, structlog.processors.KeyValueRenderer(sort_keys=True)],
            wrapper_class=structlog.make_filtering_bound_logger(self._log_level),
        ).bind(actor=name)

    def _record(self, kind: str, src: str, dst: str, typ: str = "", corr: int = 0, note: str = "") -> None:
        self.trace.record(TraceEvent(round(self.loop.time() * 1e9), kind, src, dst, typ, corr, note))

    # ---- lifecycle ------------------------------------------------------------------------------
    def spawn(
        self,
        name: str,
        factory: Callable[..., Actor],
        *args: Any,
        policy: RestartPolicy = DEFAULT_POLICY,
        capacity: int = 100_000,
        **kwargs: Any,
    ) -> str:
        if name in self.cells and self.cells[name].status != STOPPED:
            raise ValueError(f"an actor named {name!r} already exists")
        if name not in self.stores:
            self.stores[name] = self._store_factory(name)
        cell = Cell(self, name, factory, args, kwargs, policy, capacity, self.stores[name])
        self.cells[name] = cell
        self._start(cell)
        return name

    def _start(self, cell: Cell) -> None:
        inst = cell.factory(*cell.args, **cell.kwargs)
        if not isinstance(inst, Actor):
            raise TypeError(f"factory for {cell.name!r} returned {type(inst).__name__}, not an Actor")
        inst._cell = cell
        cell.instance = inst
        cell.handlers = {t: getattr(inst, attr) for t, attr in type(inst).__kt_handlers__.items()}
        cell._rng = None
        cell.status = RUNNING
        cell.crash_reason = None
        if self.trace.enabled:
            self._record("start", cell.name, cell.name, note=f"generation {cell.generation}")
        try:
            r = inst.on_start()
        except Exception as e:
            self._on_crash(cell, e, sender="", kind=0, corr=0)
            return
        if r is not None:
            cell.busy = True
            gen = cell.generation

            async def starting() -> None:
                try:
                    await r
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    if gen == cell.generation:
                        self._on_crash(cell, e, sender="", kind=0, corr=0)
                    return
                if gen == cell.generation:
                    cell.busy = False
                    if cell.queue and not cell.scheduled:
                        cell.scheduled = True
                        self.loop.call_soon(cell.drain)

            task = self.loop.create_task(starting())
            cell.tasks[task] = None
            task.add_done_callback(cell._task_done)
        elif cell.queue and not cell.scheduled:
            cell.scheduled = True
            self.loop.call_soon(cell.drain)

    def stop(self, name: str) -> None:
        """A graceful stop: ``on_stop`` runs, unsynced writes are synced, pending asks fail."""
        cell = self._cell(name)
        if cell.status != RUNNING:
            cell.status = STOPPED
            return
        inst = cell.instance
        cell.status = STOPPED
        cell.generation += 1
        try:
            if inst is not None:
                inst.on_stop()
        finally:
            cell.cancel_everything()
            cell.store.sync()
            cell.instance = None
            self._fail_pending(name, "stopped")
            self._notify_monitors(name, "stopped")
            if self.trace.enabled:
                self._record("stop", name, name)

    def crash(self, name: str, *, lose_unsynced: bool | None = None) -> None:
        """Inject a crash: the actor goes down and stays down until ``restart``."""
        cell = self._cell(name)
        if cell.status != RUNNING:
            return
        self._take_down(cell, "crashed (injected)", lose_unsynced)
        if self.trace.enabled:
            self._record("crash", name, name, note="injected")

    def restart(self, name: str) -> None:
        cell = self._cell(name)
        if cell.status == RUNNING:
            return
        if self.trace.enabled:
            self._record("restart", name, name)
        self._start(cell)

    def _take_down(self, cell: Cell, why: str, lose_unsynced: bool | None) -> None:
        cell.status = DOWN
        cell.generation += 1
        lost = cell.cancel_everything()
        cell.dropped += len(lost)
        cell.instance = None
        cell.handlers = {}
        cell.store.crash(lose_unsynced=self.lose_unsynced_on_crash if lose_unsynced is None else lose_unsynced)
        self._fail_pending(cell.name, "crashed")
        self._notify_monitors(cell.name, "crashed")
        self.crashes.append((self.loop.time(), cell.name, why))

    def _on_crash(self, cell: Cell, error: BaseException, *, sender: str, kind: int, corr: int) -> None:
        if isinstance(error, InvariantViolation):
            self._fail(error)
        if kind == ASK:
            self._reply(cell.name, sender, corr, ActorDead(cell.name, "crashed"), failed=True)
        cell.crash_reason = error
        self._take_down(cell, f"{type(error).__name__}: {error}", None)
        if self.trace.enabled:
            self._record("crash", cell.name, cell.name, note=f"{type(error).__name__}: {error}")
        delay = cell.policy.decide(cell.restarts, self.loop.time())
        if delay is None:
            cell.status = FAILED
            return
        cell.restarts.append(self.loop.time())
        gen = cell.generation
        self.loop.call_at(self.loop.time() + delay, self._supervised_restart, cell, gen)

    def _supervised_restart(self, cell: Cell, gen: int) -> None:
        if cell.generation == gen and cell.status == DOWN:
            if self.trace.enabled:
                self._record("restart", cell.name, cell.name, note="supervisor")
            self._start(cell)

    # ---- queries ---------------------------------------------------------------------------
    def _cell(self, name: str) -> Cell:
        cell = self.cells.get(name)
        if cell is None:
            raise UnknownActor(name)
        return cell

    def status(self, name: str) -> str:
        return self._cell(name).status

    def instance(self, name: str) -> Actor | None:
        """The live actor object (for tests and inspection; never for messaging)."""
        return self._cell(name).instance

    def mailbox_stats(self, name: str) -> MailboxStats:
        return self._cell(name).stats()

    def store(self, name: str) -> DurableStore:
        return self._cell(name).store

    def set_clock_skew(self, name: str, *, offset: float = 0.0, rate: float = 1.0) -> None:
        cell = self._cell(name)
        cell.skew_offset = offset
        cell.skew_rate = rate

    # ---- messaging ---------------------------------------------------------------------------
    def tell(self, target: str, msg: Any, *, sender: str = DRIVER) -> None:
        self.bus.send(sender, target, msg, 0, 0)

    def _check_capacity(self, target: str) -> None:
        cell = self.cells.get(target)
        if cell is not None and len(cell.queue) >= cell.capacity:
            cell.dropped += 1
            raise MailboxFull(target, cell.capacity)

    def ask_future(self, sender: str, target: str, msg: Any, timeout: float | None) -> asyncio.Future[Any]:
        if target not in self.cells:
            raise UnknownActor(target)
        corr = next(self._corr)
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._pending[corr] = (fut, target, sender)
        self._pending_by_target.setdefault(target, {})[corr] = None
        if timeout is not None:
            name = type_name(msg)
            handle = self.loop.call_at(self.loop.time() + timeout, self._ask_timeout, corr, target, name, timeout)
            fut.add_done_callback(lambda _f: handle.cancel())
        fut.add_done_callback(lambda _f: self._forget(corr, target))
        self.bus.send(sender, target, msg, ASK, corr)
        return fut

    async def ask(self, sender: str, target: str, msg: Any, *, timeout: float | None = None) -> Any:
        return await self.ask_future(sender, target, msg, timeout)

    def _forget(self, corr: int, target: str) -> None:
        self._pending.pop(corr, None)
        by = self._pending_by_target.get(target)
        if by is not None:
            by.pop(corr, None)

    def _ask_timeout(self, corr: int, target: str, name: str, timeout: float) -> None:
        entry = self._pending.get(corr)
        if entry is not None and not entry[0].done():
            entry[0].set_exception(AskTimeout(target, name, timeout))

    def _reply(self, sender: str, target: str, corr: int, value: Any, *, failed: bool) -> None:
        if corr:
            self.bus.send(sender, target, value, FAILURE if failed else REPLY, corr)

    def _complete_ask(self, dst: str, corr: int, value: Any, failed: bool) -> None:
        entry = self._pending.get(corr)
        if entry is None or entry[0].done():
            return
        fut, target, asker = entry
        if asker != dst:
            return
        if self.trace.enabled:
            self._record("deliver", target, dst, "reply" if not failed else "failure", corr)
        if failed:
            fut.set_exception(value if isinstance(value, BaseException) else RuntimeError(str(value)))
        else:
            fut.set_result(value)

    # ---- monitors ------------------------------------------------------------------------------
    def monitor(self, watcher: str, target: str) -> None:
        """``watcher`` gets ``Down(target, reason)`` when ``target`` crashes or stops."""
        self._monitors.setdefault(target, {})[watcher] = None

    def demonitor(self, watcher: str, target: str) -> None:
        self._monitors.get(target, {}).pop(watcher, None)

    def _notify_monitors(self, target: str, reason: str) -> None:
        watchers = self._monitors.pop(target, None)
        if watchers:
            for w in watchers:
                self.bus.send(target, w, Down(target, reason), 0, 0)

    def _fail_pending(self, target: str, why: str) -> None:
        by = self._pending_by_target.pop(target, None)
        if not by:
            return
        for corr in list(by):
            entry = self._pending.get(corr)
            if entry is not None and not entry[0].done():
                entry[0].set_exception(ActorDead(target, why))

    def _undeliverable(self, src: str, dst: str, msg: Any, kind: int, corr: int, cell: Cell | None) -> None:
        self._dead_letter(src, dst, msg, "unknown address" if cell is None else cell.status)
        if kind == ASK:
            # The host is up but nothing listens: the asker learns at once (connection refused).
            err = UnknownActor(dst) if cell is None else ActorDead(dst, f"is {cell.status}")
            self.bus.send(dst, src, err, FAILURE, corr)

    def _dead_letter(self, src: str, dst: str, msg: Any, why: str) -> None:
        self.dead_letters += 1
        if self.trace.enabled:
            self._record("dead", src, dst, type_name(msg), 0, why)

    # ---- failures --------------------------------------------------------------------------
    def _fail(self, error: BaseException) -> None:
        self.failures.append(error)
        self.loop.stop()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, asyncio.CancelledError):
            return
        self.failures.append(exc if exc is not None else RuntimeError(str(context.get("message"))))
        loop.stop()

    def raise_failures(self) -> None:
        if self.failures:
            err = self.failures[0]
            self.failures.clear()
            raise err

    def unregister(self, name: str) -> None:
        cell = self.cells.get(name)
        if cell is not None and cell.status == RUNNING:
            self.stop(name)
        self.cells.pop(name, None)

    @property
    def addresses(self) -> list[str]:
        return list(self.cells)

    @staticmethod
    def reply_kinds() -> tuple[int, int]:
        return REPLY, FAILURE
