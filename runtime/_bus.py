"""The bus: named addresses, and every message between them.

Concurrency model: loop thread only. With a perfect network and tracing off, ``send`` appends
straight into the target's mailbox (the fast path). Otherwise each copy of a message gets a
delivery time from the network model and waits in the bus's own heap, ordered by
(time, sequence) so that messages on one link stay FIFO unless the model reorders them.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from ._cell import RUNNING
from ._messages import ASK, FAILURE, REPLY, type_name

if TYPE_CHECKING:
    import asyncio

    from ._system import ActorSystem

__all__ = ["Bus"]


class Bus:
    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.network = system.network
        self._cells = system.cells
        self._heap: list[tuple[float, int, str, str, Any, int, int]] = []
        self._seq = 0
        self._last: dict[tuple[str, str], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self.fast = False
        self.network.listeners.append(self._recompute)
        system.trace.listeners.append(self._recompute)
        self._recompute()
        self.lost = 0

    def _recompute(self) -> None:
        self.fast = self.network.perfect and not self.system.trace.enabled

    def send(self, src: str, dst: str, msg: Any, kind: int, corr: int) -> None:
        if self.fast and not self._heap:
            if kind == 0:
                # The fast path: a perfect network, no trace, nothing in flight.
                cell = self._cells.get(dst)
                if cell is not None and cell.status == RUNNING:
                    cell.enqueue((src, msg, 0, 0))
                    return
            self._arrive(src, dst, msg, kind, corr)
            return
        system = self.system
        fate, delays, reorder = self.network.fate(src, dst, system.net_rng)
        if system.trace.enabled:
            system._record("send", src, dst, _kind_name(msg, kind), corr)
        if not delays:
            self.lost += 1
            if system.trace.enabled:
                system._record("drop", src, dst, _kind_name(msg, kind), corr, fate)
            return
        now = system.loop.time()
        link = (src, dst)
        for d in delays:
            t = now + d
            if not reorder:
                last = self._last.get(link, 0.0)
                if t < last:
                    t = last
                self._last[link] = t
            self._seq += 1
            heapq.heappush(self._heap, (t, self._seq, src, dst, msg, kind, corr))
        self._schedule()

    def _schedule(self) -> None:
        if not self._heap:
            return
        head = self._heap[0][0]
        if head < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            loop = self.system.loop
            self._timer_at = head
            self._timer = loop.call_at(head, self._pump)

    def _pump(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        heap = self._heap
        now = self.system.loop.time() + 1e-12
        while heap and heap[0][0] <= now:
            _, _, src, dst, msg, kind, corr = heapq.heappop(heap)
            # A partition that started while the message was in flight still cuts it.
            if not self.network.connected(src, dst):
                self.lost += 1
                if self.system.trace.enabled:
                    self.system._record("drop", src, dst, _kind_name(msg, kind), corr, "partitioned")
                continue
            self._arrive(src, dst, msg, kind, corr)
        if not heap:
            self._last.clear()
        self._schedule()

    def _arrive(self, src: str, dst: str, msg: Any, kind: int, corr: int) -> None:
        system = self.system
        if kind >= REPLY:
            system._complete_ask(dst, corr, msg, kind == FAILURE)
            return
        cell = self._cells.get(dst)
        if cell is None or cell.status != RUNNING:
            system._undeliverable(src, dst, msg, kind, corr, cell)
            return
        if system.trace.enabled:
            system._record("deliver", src, dst, type_name(msg), corr)
        if not cell.enqueue((src, msg, kind, corr)) and kind == ASK:
            from ._errors import MailboxFull

            system._reply(dst, src, corr, MailboxFull(dst, cell.capacity), failed=True)

    def in_flight(self) -> int:
        return len(self._heap)


def _kind_name(msg: Any, kind: int) -> str:
    if kind == REPLY:
        return "reply"
    if kind == FAILURE:
        return "failure"
    return type_name(msg)
