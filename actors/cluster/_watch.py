"""Watches from the Python API: a small collector actor per watch, and its handle.

What it is: ``WatchCollector`` asks an apiserver for the watch *from its own address*, so
the apiserver's ``WatchEvent`` tells land in its mailbox, and keeps them in order as
``{"type", "object"}`` dicts. It remembers the last resourceVersion it saw (bookmarks
included); when its apiserver goes down it re-watches from there on the next apiserver,
as a reflector does, so no event is lost or repeated. An ERROR event (410 Gone for a
resourceVersion too old) ends the watch: the caller re-lists. ``WatchHandle`` is the
driver's side: ``drain()`` returns the events seen so far, ``stop()`` ends the watch.

Concurrency model: the collector is an actor; the handle only reads its state between
simulation steps (inspection) and talks to it by ``tell``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from actors.apiserver._protocol import ApiRequest, ApiResponse, StopWatch, WatchEvent
from actors.client._rest import WATCH_IDLE_TIMEOUT
from runtime import Actor, ActorDead, AskTimeout, Down, UnknownActor, handler

if TYPE_CHECKING:
    from runtime import Simulation

__all__ = ["WatchCollector", "WatchHandle"]


class _Stop(msgspec.Struct, frozen=True, tag="cluster.watch_stop"):
    pass


class _IdleCheck(msgspec.Struct, frozen=True, tag="cluster.watch_idle"):
    pass


class WatchCollector(Actor):
    def __init__(self, apiservers: list[str], request: ApiRequest, *, resume: bool = True,
                 first: int = 0, timeout: float = 30.0) -> None:
        self.apiservers = apiservers
        self.request = request
        self.resume = resume
        self.first = first
        self.timeout = timeout

    def on_start(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.rv = self.request.params.get("resourceVersion", "")
        self.target: str | None = None
        self.watch_id = 0
        self._seq = 0  # the last WatchEvent.seq taken (duplicates dropped, a gap re-watches)
        self.ended = False
        self.error: dict[str, Any] | None = None
        self.reconnects = 0
        self._next = self.first
        self.opened = False
        self._last_heard = self.now()
        if self.request.params.get("allowWatchBookmarks") == "true":
            # As the client's informers do (WATCH_IDLE_TIMEOUT): a live apiserver sends a
            # bookmark every minute, so a silent stream is a dead one; re-watch.
            self.every(WATCH_IDLE_TIMEOUT / 3, _IdleCheck())
        self.spawn(self._open(), name=f"{self.name}:open")

    async def _open(self) -> None:
        """Ask the apiservers in turn until one opens the watch."""
        for _ in range(len(self.apiservers) * 20):
            if self.ended:
                return
            target = self.apiservers[self._next % len(self.apiservers)]
            self._next += 1
            params = dict(self.request.params)
            if self.rv:
                params["resourceVersion"] = self.rv
            req = msgspec.structs.replace(self.request, params=params)
            self.target, self.watch_id, self._seq = target, 0, 0
            try:
                resp: ApiResponse = await self.ask(target, req, timeout=self.timeout)
            except (ActorDead, UnknownActor, AskTimeout):
                await anyio.sleep(0.5)
                continue
            if resp.code >= 400:
                self._end(resp.body)
                return
            self.watch_id = resp.watch_id
            self.opened = True
            self._last_heard = self.now()
            self.monitor(target)
            return
        self._end({"kind": "Status", "status": "Failure", "code": 503,
                   "message": "no kube-apiserver could open the watch"})

    def _end(self, status: dict[str, Any] | None) -> None:
        self.ended = True
        self.error = status

    @handler
    def _on_event(self, m: WatchEvent) -> None:
        if self.sender != self.target or self.ended:
            return  # a straggler from a watch we left
        if self.watch_id and m.watch_id != self.watch_id:
            return
        self._last_heard = self.now()
        if m.seq:
            if m.seq <= self._seq:
                return  # a duplicate the bus made
            if m.seq != self._seq + 1:
                self._reopen()  # an event was lost: as a broken connection, re-watch from rv
                return
            self._seq = m.seq
        self.events.append({"type": m.type, "object": m.object})
        if m.type == "ERROR":
            self._end(m.object)
            return
        rv = ((m.object or {}).get("metadata") or {}).get("resourceVersion")
        if rv:
            self.rv = rv

    @handler
    def _on_down(self, m: Down) -> None:
        if m.address != self.target or self.ended:
            return
        if not self.resume:
            self._end({"kind": "Status", "status": "Failure", "code": 503,
                       "message": f"{m.address} went away"})
            return
        self._reopen()

    def _reopen(self) -> None:
        if self.target is not None and self.watch_id:
            self.tell(self.target, StopWatch(self.watch_id))
        self.reconnects += 1
        self.target = None
        self.spawn(self._open(), name=f"{self.name}:reopen")

    @handler
    def _on_idle_check(self, m: _IdleCheck) -> None:
        if self.ended or self.target is None or not self.watch_id:
            return
        if self.now() - self._last_heard >= WATCH_IDLE_TIMEOUT:
            self._last_heard = self.now()
            self._reopen()

    @handler
    def _on_stop(self, m: _Stop) -> None:
        if self.target is not None and self.watch_id:
            self.tell(self.target, StopWatch(self.watch_id))
        self.ended = True


class WatchHandle:
    """The driver's view of one watch."""

    def __init__(self, sim: Simulation, address: str) -> None:
        self._sim = sim
        self.address = address
        self._taken = 0

    def _collector(self) -> WatchCollector:
        actor = self._sim.actor(self.address)
        assert isinstance(actor, WatchCollector)
        return actor

    def drain(self) -> list[dict[str, Any]]:
        """The ``{"type", "object"}`` events seen since the last drain, in order."""
        self._sim.run_until_idle()
        events = self._collector().events
        out = events[self._taken:]
        self._taken = len(events)
        return out

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event seen so far (drained or not)."""
        return list(self._collector().events)

    @property
    def resource_version(self) -> str:
        return str(self._collector().rv)

    @property
    def ended(self) -> bool:
        return self._collector().ended

    @property
    def error(self) -> dict[str, Any] | None:
        """The Status that ended the watch (an ERROR event's), if any."""
        return self._collector().error

    @property
    def reconnects(self) -> int:
        return self._collector().reconnects

    def stop(self) -> None:
        """End the watch (the apiserver is told ``StopWatch``); events stay readable."""
        if self._sim.system.status(self.address) == "running":
            self._sim.tell(self.address, _Stop())
            self._sim.run_until_idle()
