"""Actors: classes with typed handlers for msgspec message types.

Concurrency model: an actor's state is touched only by its own handlers, one message at a time,
on the loop thread. A synchronous handler runs to completion inside the actor's drain; an
``async`` handler holds the actor's mailbox until it finishes (so state is still touched by
one handler at a time). Long waits that must not block the mailbox go in ``spawn``ed tasks,
which should hand results back with ``tell_self``.

A handler's return value is the reply to an ``ask``. Raising an ``ExpectedError`` sends it back
to the asker and leaves the actor running; any other exception crashes the actor, and its
supervisor decides what happens next.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_type_hints

if TYPE_CHECKING:
    import asyncio
    import random

    from ._cell import Cell
    from ._durable import DurableStore
    from ._system import ActorSystem

__all__ = ["Actor", "ReplyHandle", "Timer", "handler"]

F = TypeVar("F", bound=Callable[..., Any])


def handler(fn: F) -> F:
    """Mark a method as the handler of the message type(s) its parameter is annotated with."""
    fn.__kt_handler__ = True  # type: ignore[attr-defined]
    return fn


def _message_types(cls: type, fn: Callable[..., Any]) -> list[type]:
    module = sys.modules.get(fn.__module__)
    globalns = dict(vars(module)) if module is not None else {}
    try:
        hints = get_type_hints(fn, globalns=globalns)
    except NameError:
        # A class defined inside a function: its annotations name that function's locals.
        localns: dict[str, Any] = {}
        frame: types.FrameType | None = sys._getframe(1)
        while frame is not None:
            for k, v in frame.f_locals.items():
                localns.setdefault(k, v)
            frame = frame.f_back
        hints = get_type_hints(fn, globalns=globalns, localns=localns)
    params = [p for p in fn.__code__.co_varnames[1 : fn.__code__.co_argcount]]
    if not params or params[0] not in hints:
        raise TypeError(f"handler {cls.__name__}.{fn.__name__} needs an annotated message parameter")
    ann = hints[params[0]]
    origin = typing.get_origin(ann)
    if origin is Union or origin is types.UnionType:
        return list(typing.get_args(ann))
    return [ann]


class Timer:
    """A pending ``after``/``every`` timer; ``cancel()`` is idempotent."""

    __slots__ = ("_handle", "_cell", "cancelled")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self._handle: asyncio.TimerHandle | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._cell.timers.pop(self, None)


class ReplyHandle:
    """A reply promised for later (``Actor.defer_reply``). Send exactly once."""

    __slots__ = ("_system", "_sender", "_target", "_corr", "done")

    def __init__(self, system: ActorSystem, sender: str, target: str, corr: int) -> None:
        self._system = system
        self._sender = sender
        self._target = target
        self._corr = corr
        self.done = corr == 0

    def send(self, value: Any) -> None:
        if not self.done:
            self.done = True
            self._system._reply(self._sender, self._target, self._corr, value, failed=False)

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.done = True
            self._system._reply(self._sender, self._target, self._corr, error, failed=True)


class Actor:
    """Base class. Subclasses declare ``@handler`` methods and optional hooks.

    ``on_start`` runs when the actor starts and after every restart (state is rebuilt from its
    durable store there); ``on_stop`` runs on a graceful stop, never on a crash.
    """

    __kt_handlers__: dict[type, str] = {}
    _cell: Cell

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                if callable(fn) and getattr(fn, "__kt_handler__", False):
                    for t in _message_types(klass, fn):
                        table[t] = attr
        cls.__kt_handlers__ = table

    # ---- hooks -------------------------------------------------------------------------------
    def on_start(self) -> None | Coroutine[Any, Any, None]:
        return None

    def on_stop(self) -> None:
        return None

    def on_unhandled(self, msg: Any) -> None:
        self._cell.system._dead_letter(self._cell.sender, self._cell.name, msg, "unhandled")

    # ---- identity, time, chance, disk ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._cell.name

    @property
    def system(self) -> ActorSystem:
        return self._cell.system

    def now(self) -> float:
        """This actor's reading of the clock in seconds (clock skew faults apply)."""
        return self._cell.now()

    def wall_time(self) -> float:
        """Seconds since the Unix epoch as this actor's machine believes (skew applies)."""
        return self._cell.system.wall_base + self._cell.now()

    @property
    def rng(self) -> random.Random:
        return self._cell.rng

    @property
    def store(self) -> DurableStore:
        return self._cell.store

    @property
    def log(self) -> Any:
        return self._cell.logger()

    @property
    def sender(self) -> str:
        """The address that sent the message being handled."""
        return self._cell.sender

    # ---- messaging -------------------------------------------------------------------------
    def tell(self, target: str, msg: Any) -> None:
        self._cell.system.bus.send(self._cell.name, target, msg, 0, 0)

    def try_tell(self, target: str, msg: Any) -> None:
        """Like ``tell`` but raises ``MailboxFull`` when the target's mailbox is full now."""
        self._cell.system._check_capacity(target)
        self._cell.system.bus.send(self._cell.name, target, msg, 0, 0)

    def tell_self(self, msg: Any) -> None:
        self._cell.enqueue((self._cell.name, msg, 0, 0))

    async def ask(self, target: str, msg: Any, *, timeout: float | None = None) -> Any:
        return await self._cell.system.ask(self._cell.name, target, msg, timeout=timeout)

    def monitor(self, target: str) -> None:
        """Receive ``runtime.Down(target, reason)`` when ``target`` crashes or stops.
        One-shot: after a Down, monitor again to keep watching the restarted actor."""
        self._cell.system.monitor(self._cell.name, target)

    def demonitor(self, target: str) -> None:
        self._cell.system.demonitor(self._cell.name, target)

    def defer_reply(self) -> ReplyHandle:
        """Take over the reply to the current ask; the handler's return value is then ignored."""
        cell = self._cell
        h = ReplyHandle(cell.system, cell.name, cell.sender, cell.corr)
        cell.deferred = True
        return h

    # ---- timers and tasks ----------------------------------------------------------------------
    def after(self, delay: float, msg: Any) -> Timer:
        return self._cell.start_timer(delay, msg, None)

    def every(self, interval: float, msg: Any, *, initial: float | None = None) -> Timer:
        return self._cell.start_timer(interval if initial is None else initial, msg, interval)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` beside the mailbox; it dies with the actor. Its exceptions crash the actor."""
        return self._cell.spawn_task(coro, name)

    def stop_self(self) -> None:
        self._cell.system.stop(self._cell.name)
