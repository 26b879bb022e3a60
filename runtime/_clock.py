"""Virtual time: an asyncio event loop whose clock jumps to the next timer.

Concurrency model: one thread, one asyncio loop. In simulated mode the loop's ``time()`` is a
number we own; when no callback is ready, the loop's "select" does not block but moves the clock
straight to the earliest scheduled timer. asyncio sleeps, ``call_at``/``call_later`` and therefore
anyio's sleeps, timeouts and cancel scopes all follow it, because they read ``loop.time()``.

We evaluated the ``looptime`` library (a pytest plugin that patches a running loop's clock). It
is tied to pytest fixtures and fixed-point time rounding; the simulation needs a standalone loop
that synchronous code can step (``run_until_idle``, ``advance``), so this module owns the ~100
lines instead.

Invariants: virtual time never decreases; the loop never waits on a real clock; with no timer
scheduled and nothing ready the loop stops instead of spinning (the simulation is quiescent).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Mapping
from typing import Any

__all__ = ["VirtualClockLoop", "new_virtual_loop"]


class _VirtualSelector(selectors.BaseSelector):
    """A selector with no file descriptors: waiting for ``timeout`` means moving the clock."""

    def __init__(self) -> None:
        self._map: dict[Any, selectors.SelectorKey] = {}
        self.loop: VirtualClockLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, id(fileobj), events, data)
        self._map[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._map.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        assert loop is not None
        if timeout is None or timeout > 0:
            # Nothing is runnable at this instant.
            loop._on_quiescent(timeout)
        return []

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._map

    def close(self) -> None:
        self._map.clear()


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop running on virtual time.

    ``stop_when_idle`` makes the loop stop the first time nothing is runnable at the current
    instant (time is not advanced). ``horizon`` bounds how far time may jump in one run.
    """

    def __init__(self, start: float = 0.0) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._vnow = float(start)
        self.stop_when_idle = False
        self.horizon: float | None = None
        self.quiescent = False
        # asyncio compares timer deadlines against time() + resolution; keep it tiny but nonzero.
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._vnow

    def _on_quiescent(self, timeout: float | None) -> None:
        if self.stop_when_idle:
            self.stop()
            return
        if timeout is None:
            # No timers at all: the simulation is quiescent forever.
            self.quiescent = True
            self.stop()
            return
        when = self._vnow + timeout
        scheduled = self._scheduled  # type: ignore[attr-defined]
        if scheduled:
            # Jump exactly onto the head timer's deadline to avoid float drift.
            when = max(self._vnow, scheduled[0]._when)
        if self.horizon is not None and when > self.horizon:
            self._vnow = max(self._vnow, self.horizon)
            self.stop()
            return
        self._vnow = when

    def advance_to(self, t: float) -> None:
        """Move the clock forward without running anything (only for an idle loop)."""
        if t > self._vnow:
            self._vnow = t


def new_virtual_loop(start: float = 0.0) -> VirtualClockLoop:
    return VirtualClockLoop(start)
