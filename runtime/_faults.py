"""Faults as data, and the nemesis that applies a schedule of them at virtual times.

A ``FaultSchedule`` is a msgspec Struct, so Hypothesis can generate one (``runtime.strategies``),
a failing run can print it, and the same schedule replays the same run.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import msgspec

from ._network import Fixed, Latency, LinkModel

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "ClockSkew",
    "Crash",
    "Fault",
    "FaultSchedule",
    "Heal",
    "Isolate",
    "LinkFaults",
    "LoseUnsynced",
    "Nemesis",
    "Partition",
    "Restart",
    "SlowDisk",
    "TimedFault",
    "apply_fault",
]


class Partition(msgspec.Struct, frozen=True, tag="partition"):
    groups: tuple[tuple[str, ...], ...]


class Heal(msgspec.Struct, frozen=True, tag="heal"):
    pass


class Isolate(msgspec.Struct, frozen=True, tag="isolate"):
    name: str


class Crash(msgspec.Struct, frozen=True, tag="crash"):
    name: str
    lose_unsynced: bool | None = None


class Restart(msgspec.Struct, frozen=True, tag="restart"):
    name: str


class LinkFaults(msgspec.Struct, frozen=True, tag="links"):
    """Set the default link model: loss, duplication, reordering and delay for every message."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    latency: Latency = Fixed(0.0)


class SlowDisk(msgspec.Struct, frozen=True, tag="slowdisk"):
    name: str
    sync_latency: float


class ClockSkew(msgspec.Struct, frozen=True, tag="skew"):
    name: str
    offset: float = 0.0
    rate: float = 1.0


class LoseUnsynced(msgspec.Struct, frozen=True, tag="loseunsynced"):
    enabled: bool = True


Fault = Partition | Heal | Isolate | Crash | Restart | LinkFaults | SlowDisk | ClockSkew | LoseUnsynced


class TimedFault(msgspec.Struct, frozen=True):
    at: float
    fault: Fault


class FaultSchedule(msgspec.Struct, frozen=True):
    events: tuple[TimedFault, ...] = ()

    def sorted(self) -> FaultSchedule:
        return FaultSchedule(tuple(sorted(self.events, key=lambda e: e.at)))

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @staticmethod
    def from_json(data: bytes | str) -> FaultSchedule:
        return msgspec.json.decode(data, type=FaultSchedule)


def apply_fault(system: ActorSystem, fault: Fault) -> None:
    match fault:
        case Partition(groups=groups):
            system.network.partition(*groups)
        case Heal():
            system.network.heal()
        case Isolate(name=name):
            system.network.isolate(name)
        case Crash(name=name, lose_unsynced=lose):
            if name in system.cells:
                system.crash(name, lose_unsynced=lose)
        case Restart(name=name):
            if name in system.cells:
                system.restart(name)
        case LinkFaults(loss=loss, duplicate=dup, reorder=reo, latency=lat):
            system.network.set_default(LinkModel(latency=lat, loss=loss, duplicate=dup, reorder=reo))
        case SlowDisk(name=name, sync_latency=lat):
            if name in system.cells:
                system.store(name).sync_latency = lat
        case ClockSkew(name=name, offset=off, rate=rate):
            if name in system.cells:
                system.set_clock_skew(name, offset=off, rate=rate)
        case LoseUnsynced(enabled=on):
            system.lose_unsynced_on_crash = on
    if system.trace.enabled:
        system._record("fault", "$nemesis", getattr(fault, "name", ""), type(fault).__name__.lower(),
                       note=msgspec.json.encode(fault).decode())


class Nemesis:
    """Applies a schedule at its virtual times, relative to when ``start`` is called."""

    def __init__(self, system: ActorSystem, schedule: FaultSchedule) -> None:
        self.system = system
        self.schedule = schedule.sorted()
        self.applied: list[TimedFault] = []

    def start(self) -> None:
        # One timer per instant, applying that instant's faults in schedule order: the
        # loop's timer heap does not keep insertion order among equal deadlines, and
        # order matters (a Heal then a Partition at the same instant is a partition).
        loop = self.system.loop
        t0 = loop.time()
        for at, group in itertools.groupby(self.schedule.events, key=lambda e: e.at):
            loop.call_at(t0 + at, self._apply, tuple(group))

    def _apply(self, events: tuple[TimedFault, ...]) -> None:
        for ev in events:
            apply_fault(self.system, ev.fault)
            self.applied.append(ev)
