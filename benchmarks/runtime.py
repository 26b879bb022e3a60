"""Runtime benchmark: tell and ask throughput against the floor (a bare anyio memory stream) and
a peer (Pykka), and the memory of an idle actor.

    python benchmarks/runtime.py [--quick] [--json PATH]
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import anyio
import msgspec

from benchmarks._common import median_rate, parser, table, write_json
from runtime import Actor, Simulation, handler


class Msg(msgspec.Struct, frozen=True, tag="b.msg"):
    n: int


class Go(msgspec.Struct, frozen=True, tag="b.go"):
    n: int


class Sink(Actor):
    def on_start(self) -> None:
        self.count = 0

    @handler
    def msg(self, m: Msg) -> int:
        self.count += 1
        return m.n


class Source(Actor):
    @handler
    def go(self, m: Go) -> None:
        tell = self.tell
        x = Msg(1)
        for _ in range(m.n):
            tell("sink", x)


class Asker(Actor):
    @handler
    async def go(self, m: Go) -> int:
        ask = self.ask
        x = Msg(1)
        for _ in range(m.n):
            await ask("sink", x)
        return m.n


def bench_tell(n: int) -> tuple[int, float]:
    with Simulation(seed=1) as sim:
        sim.spawn("sink", Sink, capacity=n + 10)
        sim.spawn("source", Source)
        sim.run_until_idle()
        t0 = time.perf_counter()
        sim.tell("source", Go(n))
        sim.run_until_idle()
        dt = time.perf_counter() - t0
        assert sim.actor("sink").count == n
        return n, dt


def bench_ask(n: int) -> tuple[int, float]:
    with Simulation(seed=1) as sim:
        sim.spawn("sink", Sink)
        sim.spawn("asker", Asker)
        sim.run_until_idle()
        t0 = time.perf_counter()
        sim.ask("asker", Go(n), timeout=1e9)
        dt = time.perf_counter() - t0
        assert sim.actor("sink").count == n
        return n, dt


def bench_raw_stream(n: int) -> tuple[int, float]:
    async def main() -> float:
        send, recv = anyio.create_memory_object_stream(max_buffer_size=n + 10)
        x = Msg(1)
        count = 0
        t0 = time.perf_counter()
        snd = send.send_nowait
        for _ in range(n):
            snd(x)
        rcv = recv.receive_nowait
        try:
            while True:
                rcv()
                count += 1
        except anyio.WouldBlock:
            pass
        assert count == n
        return time.perf_counter() - t0

    return n, anyio.run(main)


def bench_pykka(n: int, ask: bool) -> tuple[int, float]:
    import pykka

    class PSink(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: object) -> object:
            self.count += 1
            return self.count

    ref = PSink.start()
    try:
        x = Msg(1)
        t0 = time.perf_counter()
        if ask:
            for _ in range(n):
                ref.ask(x)
        else:
            for _ in range(n - 1):
                ref.tell(x)
            ref.ask(x)  # wait until the sink has handled all of them
        return n, time.perf_counter() - t0
    finally:
        ref.stop()


def idle_actor_bytes(count: int) -> float:
    with Simulation(seed=1) as sim:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            sim.spawn(f"idle-{i}", Sink)
        sim.run_until_idle()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return (after - before) / count


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    q = args.quick
    repeat = args.repeat or (1 if q else 3)
    n_tell = 100_000 if q else 1_000_000
    n_ask = 10_000 if q else 100_000
    n_pykka = 5_000 if q else 50_000
    res = {}
    res["tell_per_s"], tell_runs = median_rate(lambda: bench_tell(n_tell), repeat)
    res["ask_per_s"], ask_runs = median_rate(lambda: bench_ask(n_ask), repeat)
    res["raw_stream_per_s"], _ = median_rate(lambda: bench_raw_stream(n_tell), repeat)
    res["pykka_tell_per_s"], _ = median_rate(lambda: bench_pykka(n_pykka, ask=False), repeat)
    res["pykka_ask_per_s"], _ = median_rate(lambda: bench_pykka(n_pykka // 5, ask=True), repeat)
    res["idle_actor_bytes"] = idle_actor_bytes(10_000)
    res["tell_vs_pykka"] = res["tell_per_s"] / res["pykka_tell_per_s"]
    res["ask_vs_pykka"] = res["ask_per_s"] / res["pykka_ask_per_s"]
    res["tell_vs_raw_stream"] = res["tell_per_s"] / res["raw_stream_per_s"]
    rows = [
        ("tell_per_s", f"{res['tell_per_s']:,.0f}", f"target ≥ 1,000,000; {res['tell_vs_pykka']:.1f}× Pykka (target ≥ 2×)"),
        ("ask_per_s", f"{res['ask_per_s']:,.0f}", f"{res['ask_vs_pykka']:.1f}× Pykka (target ≥ 2×)"),
        ("raw_stream_per_s", f"{res['raw_stream_per_s']:,.0f}", f"the floor; tell is {res['tell_vs_raw_stream']:.2f}× of it"),
        ("pykka_tell_per_s", f"{res['pykka_tell_per_s']:,.0f}", "Pykka ThreadingActor tell"),
        ("pykka_ask_per_s", f"{res['pykka_ask_per_s']:,.0f}", "Pykka ThreadingActor ask (blocking)"),
        ("idle_actor_bytes", f"{res['idle_actor_bytes']:,.0f}", "per idle actor, 10,000 actors (target ≤ 4,096)"),
    ]
    print(table(rows, f"runtime benchmark ({'quick' if q else 'full'}; median of {repeat})"))
    res["params"] = {"n_tell": n_tell, "n_ask": n_ask, "n_pykka": n_pykka, "repeat": repeat,
                     "tell_runs": tell_runs, "ask_runs": ask_runs}
    write_json(args.json, res)


if __name__ == "__main__":
    main()
