"""Hypothesis strategies for fault schedules: part of the public API, for users' own tests.

Import requires ``hypothesis`` (the ``test`` extra)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from ._faults import (
    ClockSkew,
    Crash,
    Fault,
    FaultSchedule,
    Heal,
    Isolate,
    LinkFaults,
    Partition,
    Restart,
    SlowDisk,
    TimedFault,
)
from ._network import Fixed, Uniform

__all__ = ["faults", "fault_schedules", "link_faults", "partitions"]


def partitions(names: Sequence[str]) -> st.SearchStrategy[Partition]:
    """Split ``names`` into two non-empty groups."""
    names = list(names)

    @st.composite
    def build(draw: st.DrawFn) -> Partition:
        side = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
        a = tuple(n for n, s in zip(names, side) if s)
        b = tuple(n for n, s in zip(names, side) if not s)
        if not a or not b:
            a, b = tuple(names[:1]), tuple(names[1:])
        return Partition((a, b))

    return build()


def link_faults(max_loss: float = 0.3) -> st.SearchStrategy[LinkFaults]:
    rate = st.floats(0.0, max_loss, allow_nan=False)
    latency = st.one_of(
        st.builds(Fixed, st.floats(0.0, 0.05, allow_nan=False)),
        st.floats(0.0, 0.02, allow_nan=False).flatmap(
            lambda lo: st.builds(Uniform, st.just(lo), st.floats(lo, lo + 0.1, allow_nan=False))
        ),
    )
    return st.builds(LinkFaults, loss=rate, duplicate=rate, reorder=rate, latency=latency)


def faults(names: Sequence[str], *, kinds: Sequence[str] = ("partition", "heal", "crash", "restart", "links")) -> st.SearchStrategy[Fault]:
    names = list(names)
    name = st.sampled_from(names)
    options: dict[str, st.SearchStrategy[Fault]] = {
        "partition": partitions(names),
        "heal": st.just(Heal()),
        "isolate": st.builds(Isolate, name),
        "crash": st.builds(Crash, name, st.sampled_from([None, True, False])),
        "restart": st.builds(Restart, name),
        "links": link_faults(),
        "slowdisk": st.builds(SlowDisk, name, st.floats(0.0, 0.5, allow_nan=False)),
        "skew": st.builds(ClockSkew, name, st.floats(-5.0, 5.0, allow_nan=False), st.floats(0.9, 1.1, allow_nan=False)),
    }
    return st.one_of([options[k] for k in kinds])


def fault_schedules(
    names: Sequence[str],
    *,
    duration: float = 30.0,
    max_faults: int = 10,
    kinds: Sequence[str] = ("partition", "heal", "crash", "restart", "links"),
    heal_at_end: bool = True,
) -> st.SearchStrategy[FaultSchedule]:
    """A schedule of faults within ``duration`` seconds; with ``heal_at_end`` it finishes by
    healing the network, restoring perfect links and restarting every name (so liveness can be
    checked afterwards)."""
    timed = st.builds(TimedFault, st.floats(0.0, duration, allow_nan=False), faults(names, kinds=kinds))

    def finish(events: list[TimedFault]) -> FaultSchedule:
        evs = sorted(events, key=lambda e: e.at)
        if heal_at_end:
            evs.append(TimedFault(duration, Heal()))
            evs.append(TimedFault(duration, LinkFaults()))
            evs.extend(TimedFault(duration, Restart(n)) for n in names)
        return FaultSchedule(tuple(evs))

    return st.lists(timed, max_size=max_faults).map(finish)
