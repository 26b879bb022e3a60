"""kube-apiserver benchmark: creates/s and updates/s through the whole request chain
(authentication, RBAC, admission, validation, etcd Txn through Raft, the watch cache), and
watch events delivered/s with 100 watchers — all in wall time, on a simulated cluster
(one etcd member and one apiserver, then three members).

A load actor keeps ``--concurrency`` requests in flight (the apiserver serves each in its
own task); the figures are wall-clock rates of the simulator, not of a real cluster.

    python benchmarks/apiserver.py [--quick] [--json PATH]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import anyio
import msgspec

from actors import ClusterSpec, simulate
from actors.apiserver._protocol import ApiRequest, WatchEvent
from benchmarks._common import median_rate, parser, table, write_json
from runtime import Actor, handler


class Load(msgspec.Struct, frozen=True, tag="bench.load"):
    requests: list[ApiRequest]
    concurrency: int


class Loader(Actor):
    """Sends the requests with a bounded number in flight; answers with the failures."""

    def __init__(self, apiserver: str) -> None:
        self.apiserver = apiserver

    @handler
    async def load(self, m: Load) -> int:
        failures = 0
        it = iter(m.requests)

        async def worker() -> None:
            nonlocal failures
            for req in it:
                resp = await self.ask(self.apiserver, req, timeout=600)
                failures += resp.code >= 400

        async with anyio.create_task_group() as tg:
            for _ in range(m.concurrency):
                tg.start_soon(worker)
        return failures


class Counter(Actor):
    def on_start(self) -> None:
        self.count = 0

    @handler
    def event(self, m: WatchEvent) -> None:
        self.count += 1


def _cm(name: str, value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"v": value}}


def _creates(token: str, prefix: str, n: int) -> list[ApiRequest]:
    return [ApiRequest(verb="create", resource="configmaps", namespace="default",
                       body=_cm(f"{prefix}{i}", "0"), token=token) for i in range(n)]


def _updates(token: str, prefix: str, n: int, objects: int) -> list[ApiRequest]:
    return [ApiRequest(verb="patch", resource="configmaps", namespace="default",
                       name=f"{prefix}{i % objects}", patch_type="merge",
                       body={"data": {"v": str(i)}}, token=token) for i in range(n)]


def _run_load(cluster: object, requests: list[ApiRequest], concurrency: int) -> float:
    sim = cluster.sim  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    failures = sim.ask("$bench/loader", Load(requests, concurrency), timeout=1e9)
    dt = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return dt


def bench_writes(n: int, etcd: int, concurrency: int, updates: bool) -> tuple[int, float]:
    with simulate(ClusterSpec(etcd_members=etcd, nodes=[]), seed=1) as cluster:
        cluster.sim.spawn("$bench/loader", Loader, "kube-apiserver-0")
        token = cluster.token_for("kubernetes-admin")
        if updates:
            objects = max(1, n // 10)
            _run_load(cluster, _creates(token, "u", objects), concurrency)
            return n, _run_load(cluster, _updates(token, "u", n, objects), concurrency)
        return n, _run_load(cluster, _creates(token, "c", n), concurrency)


def bench_watch(n: int, watchers: int, concurrency: int) -> tuple[int, float]:
    """Events delivered per second: ``watchers`` watches on configmaps, ``n`` creates."""
    with simulate(ClusterSpec(nodes=[]), seed=1) as cluster:
        sim = cluster.sim
        token = cluster.token_for("kubernetes-admin")
        sim.spawn("$bench/loader", Loader, "kube-apiserver-0")
        rv = cluster.list("configmaps", "default")["metadata"]["resourceVersion"]
        for i in range(watchers):
            name = f"$bench/watch-{i}"
            sim.spawn(name, Counter)
            req = ApiRequest(verb="watch", resource="configmaps", namespace="default",
                             params={"resourceVersion": rv}, token=token)
            sim.system.ask_future(name, "kube-apiserver-0", req, 60)
        sim.run_until_idle()
        counters = [sim.actor(f"$bench/watch-{i}") for i in range(watchers)]
        t0 = time.perf_counter()
        _run_load(cluster, _creates(token, "w", n), concurrency)
        sim.run_until(lambda: all(c.count >= n for c in counters), timeout=3600)
        dt = time.perf_counter() - t0
        return sum(c.count for c in counters), dt


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    q = args.quick
    repeat = args.repeat or (1 if q else 3)
    n = 300 if q else 3000
    conc = 16
    res: dict[str, object] = {}
    rows = []
    for etcd in (1, 3):
        c, _ = median_rate(lambda etcd=etcd: bench_writes(n, etcd, conc, False), repeat)
        u, _ = median_rate(lambda etcd=etcd: bench_writes(n, etcd, conc, True), repeat)
        res[f"creates_per_s_etcd{etcd}"], res[f"updates_per_s_etcd{etcd}"] = c, u
        rows.append((f"creates_per_s (etcd×{etcd})", f"{c:,.0f}",
                     f"{n} ConfigMap creates, {conc} in flight"))
        rows.append((f"updates_per_s (etcd×{etcd})", f"{u:,.0f}",
                     f"{n} merge patches over {max(1, n // 10)} objects"))
    nw = n // 3
    w, _ = median_rate(lambda: bench_watch(nw, 100, conc), repeat)
    res["watch_events_per_s_100_watchers"] = w
    rows.append(("watch_events_per_s (100 watchers)", f"{w:,.0f}",
                 f"{nw} creates × 100 watchers, create to last delivery"))
    print(table(rows, f"apiserver benchmark ({'quick' if q else 'full'}; median of {repeat}; "
                      "wall time)"))
    res["params"] = {"n": n, "concurrency": conc, "watch_creates": nw, "watchers": 100,
                     "repeat": repeat}
    write_json(args.json, res)


if __name__ == "__main__":
    main()
