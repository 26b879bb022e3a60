"""etcd benchmark: committed writes per second of wall time, with their virtual latency, and
linearizable / serializable reads per second, for clusters of 1, 3 and 5 members.

    python benchmarks/etcd.py [--quick] [--json PATH] [--repeat N]

Load: ``--concurrency`` closed-loop clients (default 256) ask the leader directly from outside
the actors (``ActorSystem.ask_future``): each one sends its next request as soon as the last one
is answered, so a member sees many proposals at once and batches them into one Ready, as
etcd does. This measures the member path (shell, Raft, MVCC), not ``EtcdClient``'s failover.
Model: a LAN (one way uniform in 0.25-0.75 ms between every pair) and an SSD (one WAL fsync
takes 1 ms of virtual time, during which proposals queue up for the next batch).
Latencies are virtual (what the model says a client would wait); rates are wall time (what
the simulator costs), with the same run's rate per CPU second beside them (``per_cpu_second``
in the JSON): on a busy machine the wall figure falls with the share of CPU the process gets,
the CPU figure is what an idle machine's wall clock would show. Writes are puts of 64-byte
values over 1,000 keys.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.etcd import EtcdConfig, EtcdMember, PutRequest, RangeRequest
from actors.etcd._raft import Role
from benchmarks._common import median_rate, parser, table, write_json
from runtime import DRIVER, LinkModel, Simulation, Uniform

SIZES = (1, 3, 5)
VALUE = b"x" * 64
_cpu: list[float] = []  # CPU seconds of the last measured loop (the wall figure's idle-machine twin)
MODEL = {"one_way": 0.0005, "fsync": 0.001}  # seconds; set from --one-way-ms / --fsync-ms


def _cluster(members: int, seed: int = 1) -> tuple[Simulation, str]:
    sim = Simulation(seed)
    one_way = MODEL["one_way"]
    sim.set_network(LinkModel(latency=Uniform(one_way / 2, one_way * 1.5)))
    peers = {i: f"etcd-{i}" for i in range(1, members + 1)}
    for i, name in peers.items():
        sim.spawn(name, EtcdMember, EtcdConfig(member_id=i, peers=peers, snapshot_count=100_000))
        sim.system.store(name).sync_latency = MODEL["fsync"]
    sim.run_until(lambda: _leader(sim, peers) is not None, timeout=30.0)
    sim.advance(0.5)
    leader = _leader(sim, peers)
    assert leader is not None
    return sim, leader


def _leader(sim: Simulation, peers: dict[int, str]) -> str | None:
    for name in peers.values():
        m = sim.actor(name)
        if m is not None and m.node.role is Role.LEADER:
            return name
    return None


def _closed_loop(sim: Simulation, target: str, make: Any, total: int, concurrency: int) -> tuple[int, float, list[float]]:
    """``concurrency`` clients, ``total`` requests; returns (done, wall seconds, virtual latencies)."""
    system, loop = sim.system, sim.loop
    latencies: list[float] = []
    issued = 0

    def issue() -> None:
        nonlocal issued
        k = issued
        issued += 1
        sent = loop.time()
        fut = system.ask_future(DRIVER, target, make(k), None)
        fut.add_done_callback(lambda f: done(f, sent))

    def done(fut: Any, sent: float) -> None:
        fut.result()  # an error is a benchmark failure
        latencies.append(loop.time() - sent)
        if issued < total:
            issue()

    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(min(concurrency, total)):
        issue()
    sim.run_until(lambda: len(latencies) >= total, timeout=3600.0, poll=0.05)
    wall = time.perf_counter() - t0
    _cpu.append(time.process_time() - c0)
    return len(latencies), wall, latencies


def bench_writes(members: int, total: int, concurrency: int, lat: dict[int, list[float]]) -> tuple[int, float]:
    sim, leader = _cluster(members)
    with sim:
        done, wall, latencies = _closed_loop(
            sim, leader, lambda k: PutRequest(key=b"key-%04d" % (k % 1000), value=VALUE), total, concurrency)
        lat.setdefault(members, []).extend(latencies)
        return done, wall


def bench_reads(members: int, total: int, concurrency: int, serializable: bool) -> tuple[int, float]:
    sim, leader = _cluster(members)
    with sim:
        _closed_loop(sim, leader, lambda k: PutRequest(key=b"key-%04d" % k, value=VALUE), 1000, 64)
        done, wall, _ = _closed_loop(
            sim, leader, lambda k: RangeRequest(key=b"key-%04d" % (k % 1000), serializable=serializable),
            total, concurrency)
        return done, wall


def _rates(fn: Any, repeat: int) -> tuple[float, float]:
    """Median rate per wall second and per CPU second of ``fn`` (returning (ops, wall s))."""
    cpu_rates: list[float] = []

    def run() -> tuple[int, float]:
        n, wall = fn()
        cpu_rates.append(n / _cpu[-1])
        return n, wall
    wall_rate, _ = median_rate(run, repeat)
    return wall_rate, statistics.median(cpu_rates)


def _pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] * 1000 if len(xs) > 1 else xs[0] * 1000


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--concurrency", type=int, default=256, help="closed-loop clients")
    p.add_argument("--one-way-ms", type=float, default=0.5, help="mean one-way network latency (uniform, +-50%%)")
    p.add_argument("--fsync-ms", type=float, default=1.0, help="virtual time one WAL fsync takes")
    args = p.parse_args()
    MODEL["one_way"], MODEL["fsync"] = args.one_way_ms / 1000, args.fsync_ms / 1000
    q = args.quick
    repeat = args.repeat or (1 if q else 3)
    writes = 5_000 if q else 50_000
    reads = 5_000 if q else 50_000
    conc = args.concurrency
    res: dict[str, Any] = {"writes_per_s": {}, "write_latency_ms": {}, "linearizable_reads_per_s": {},
                           "serializable_reads_per_s": {}, "per_cpu_second": {}}
    rows = []
    for n in SIZES:
        lat: dict[int, list[float]] = {}
        w, w_cpu = _rates(lambda n=n, lat=lat: bench_writes(n, writes, conc, lat), repeat)
        p50, p99 = _pct(lat[n], 50), _pct(lat[n], 99)
        lin, lin_cpu = _rates(lambda n=n: bench_reads(n, reads, conc, False), repeat)
        ser, ser_cpu = _rates(lambda n=n: bench_reads(n, reads, conc, True), repeat)
        key = str(n)
        res["writes_per_s"][key] = w
        res["write_latency_ms"][key] = {"p50": p50, "p99": p99}
        res["linearizable_reads_per_s"][key] = lin
        res["serializable_reads_per_s"][key] = ser
        res["per_cpu_second"][key] = {"writes": w_cpu, "linearizable_reads": lin_cpu, "serializable_reads": ser_cpu}
        target = " (target >= 20,000)" if n == 3 else ""
        rows += [
            (f"writes_per_s[{n}]", f"{w:,.0f}", f"committed puts per wall s{target}; {w_cpu:,.0f} per CPU s"),
            (f"write_latency_ms[{n}]", f"{p50:.2f} / {p99:.2f}", "virtual p50 / p99"),
            (f"linearizable_reads_per_s[{n}]", f"{lin:,.0f}", f"ReadIndex reads at the leader; {lin_cpu:,.0f} per CPU s"),
            (f"serializable_reads_per_s[{n}]", f"{ser:,.0f}", f"local reads; {ser_cpu:,.0f} per CPU s"),
        ]
    print(table(rows, f"etcd benchmark ({'quick' if q else 'full'}; median of {repeat}; "
                      f"{conc} closed-loop clients; {args.one_way_ms:g} ms one way, {args.fsync_ms:g} ms fsync)"))
    res["params"] = {"writes": writes, "reads": reads, "concurrency": conc, "repeat": repeat,
                     "one_way_latency_ms": args.one_way_ms, "fsync_ms": args.fsync_ms,
                     "value_bytes": len(VALUE)}
    write_json(args.json, res)


if __name__ == "__main__":
    main()
