"""The simulation: an actor system on virtual time, driven from synchronous code.

Hypothesis rules are synchronous, so nothing here needs an async test: ``run_until_idle``,
``advance``, ``run_until`` and ``ask`` step the loop and return. A failure names the seed and
how to replay it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ._actor import Actor
from ._clock import VirtualClockLoop
from ._errors import SimulationTimeout
from ._faults import Fault, FaultSchedule, Nemesis, apply_fault
from ._network import LinkModel
from ._supervision import DEFAULT_POLICY, RestartPolicy
from ._system import DRIVER, ActorSystem

__all__ = ["Simulation", "simulation"]

T = TypeVar("T")


class Simulation:
    def __init__(self, seed: int = 0, *, trace: bool = False, log_level: str = "warning") -> None:
        self.seed = seed
        self.loop = VirtualClockLoop()
        self.system = ActorSystem(self.loop, seed=seed, simulated=True, trace=trace, log_level=log_level)
        self._closed = False

    # ---- composition ------------------------------------------------------------------------
    def spawn(self, name: str, factory: Callable[..., Actor], *args: Any,
              policy: RestartPolicy = DEFAULT_POLICY, capacity: int = 100_000, **kwargs: Any) -> str:
        return self.system.spawn(name, factory, *args, policy=policy, capacity=capacity, **kwargs)

    def actor(self, name: str) -> Any:
        """The live actor object at ``name`` (inspection only)."""
        return self.system.instance(name)

    # ---- time ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.loop.time()

    def _run(self, *, jumps: float, horizon: float | None) -> None:
        loop = self.loop
        loop.horizon = horizon
        loop.quiescent = False
        loop.stop_when_idle = jumps == 0
        try:
            loop.run_forever()
        finally:
            loop.stop_when_idle = False
            loop.horizon = None
        self.system.raise_failures()

    def run_until_idle(self) -> None:
        """Run everything runnable at the current instant; time does not move."""
        self._run(jumps=0, horizon=None)

    def advance(self, seconds: float) -> None:
        """Run for ``seconds`` of virtual time."""
        target = self.loop.time() + seconds
        self._run(jumps=float("inf"), horizon=target)
        self.loop.advance_to(target)
        self.run_until_idle()

    def step(self, horizon: float | None = None) -> bool:
        """Jump to the next scheduled event (not past ``horizon``) and run that instant.
        Returns False when nothing is scheduled."""
        self.run_until_idle()
        loop = self.loop
        sched = [h for h in loop._scheduled if not h._cancelled]  # type: ignore[attr-defined]
        if not sched:
            return False
        t = min(h._when for h in sched)
        if horizon is not None and t > horizon:
            loop.advance_to(horizon)
            return True
        loop.advance_to(t)
        self.run_until_idle()
        return True

    def run_until(self, predicate: Callable[[], bool], *, timeout: float, poll: float | None = None) -> float:
        """Step until ``predicate()`` holds; returns the virtual time it took. ``poll`` checks the
        predicate at most every ``poll`` virtual seconds (cheaper for costly predicates)."""
        start = self.loop.time()
        deadline = start + timeout
        self.run_until_idle()
        while not predicate():
            if self.loop.time() >= deadline:
                raise SimulationTimeout(
                    f"condition not reached within {timeout:g} virtual seconds "
                    f"(seed={self.seed}; replay with the same seed to reproduce)"
                )
            if poll is not None:
                self.advance(min(poll, deadline - self.loop.time()))
            elif not self.step(horizon=deadline):
                self.loop.advance_to(deadline)
        return self.loop.time() - start

    def run(self, awaitable: Awaitable[T], *, timeout: float | None = None) -> T:
        """Run a coroutine on the simulation's loop (virtual time) and return its result."""
        loop = self.loop
        fut = asyncio.ensure_future(awaitable, loop=loop)
        fut.add_done_callback(lambda _f: loop.stop())
        if timeout is not None:
            deadline = loop.time() + timeout
            guard = loop.call_at(deadline, lambda: fut.done() or fut.cancel())
        try:
            while not fut.done():
                self._run(jumps=float("inf"), horizon=None)
                if not fut.done() and loop.quiescent:
                    fut.cancel()
                    raise SimulationTimeout(f"simulation went quiescent before completion (seed={self.seed})")
        finally:
            if timeout is not None:
                guard.cancel()
        if fut.cancelled():
            raise SimulationTimeout(f"did not complete within {timeout} virtual seconds (seed={self.seed})")
        return fut.result()

    # ---- messaging from outside --------------------------------------------------------------
    def tell(self, target: str, msg: Any) -> None:
        self.system.tell(target, msg, sender=DRIVER)

    def ask(self, target: str, msg: Any, *, timeout: float = 10.0) -> Any:
        fut = self.system.ask_future(DRIVER, target, msg, timeout)
        fut.add_done_callback(lambda _f: self.loop.stop())
        while not fut.done():
            self._run(jumps=float("inf"), horizon=None)
        return fut.result()

    # ---- faults ---------------------------------------------------------------------------------
    def crash(self, name: str, *, lose_unsynced: bool | None = None) -> None:
        self.system.crash(name, lose_unsynced=lose_unsynced)

    def restart(self, name: str) -> None:
        self.system.restart(name)

    def partition(self, *groups: list[str] | tuple[str, ...]) -> None:
        self.system.network.partition(*groups)

    def heal(self) -> None:
        self.system.network.heal()

    def set_network(self, model: LinkModel) -> None:
        self.system.network.set_default(model)

    def inject(self, fault: Fault) -> None:
        apply_fault(self.system, fault)

    def nemesis(self, schedule: FaultSchedule) -> Nemesis:
        n = Nemesis(self.system, schedule)
        n.start()
        return n

    @property
    def trace(self) -> Any:
        return self.system.trace

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for name in list(self.system.cells):
            cell = self.system.cells[name]
            if cell.status == "running":
                cell.cancel_everything()
                cell.status = "stopped"
        loop = self.loop
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def simulation(seed: int = 0, **kw: Any) -> Iterator[Simulation]:
    sim = Simulation(seed, **kw)
    try:
        yield sim
    finally:
        sim.close()
