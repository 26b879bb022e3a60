"""Live mode: the same actors on the wall clock.

``async with live_system(seed=…, data_dir=…) as system:`` runs an ``ActorSystem`` on the
running asyncio loop (under ``anyio.run``); timers are real, the wall clock is the machine's,
and durable stores are journal files in ``data_dir`` when one is given, so a restart of the
process loses nothing that was synced. ``persist(name)`` picks the actors whose stores are
files (default: all); the others (transient actors: a mailbox per watch stream) keep theirs
in memory and leave no file behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable

from ._durable import DurableStore, FileStore
from ._system import ActorSystem

__all__ = ["live_system"]


def _store_factory(data_dir: str | None, persist: Callable[[str], bool] | None
                   ) -> Callable[[str], DurableStore]:
    if data_dir is None:
        return lambda name: DurableStore()
    os.makedirs(data_dir, exist_ok=True)

    def make(name: str) -> DurableStore:
        if persist is not None and not persist(name):
            return DurableStore()
        safe = name.replace("/", "_").replace(os.sep, "_")
        return FileStore(os.path.join(data_dir, f"{safe}.journal"))

    return make


@contextlib.asynccontextmanager
async def live_system(
    *, seed: int = 0, data_dir: str | None = None, trace: bool = False, log_level: str = "warning",
    persist: Callable[[str], bool] | None = None,
) -> AsyncIterator[ActorSystem]:
    loop = asyncio.get_running_loop()
    system = ActorSystem(
        loop,
        seed=seed,
        simulated=False,
        trace=trace,
        wall_base=time.time() - loop.time(),
        store_factory=_store_factory(data_dir, persist),
        log_level=log_level,
    )
    try:
        yield system
    finally:
        for name in list(system.cells):
            if system.cells[name].status == "running":
                system.stop(name)
        for store in system.stores.values():
            store.sync()
            if isinstance(store, FileStore):
                store.close()
