"""kube-scheduler benchmark: pods scheduled per second of wall time.

Two figures:
- **core** (``pods_per_s``): the scheduling path itself, driven directly as the actor's loop
  drives it — pop the queue, ``update_snapshot``, ``schedule_one`` with the default profile,
  ``assume_pod`` — for 100, 1,000 and 5,000 nodes with 10,000 pending pods of mixed sizes
  (100m/128Mi to 1 cpu/1Gi), then at 5,000 nodes with a NodeAffinity workload (every pod
  requires half the zones) and a PodAntiAffinity workload (pods in groups of 50 that repel
  their own group per hostname). Nodes are sized so every pod fits (at least Kubernetes'
  scheduler_perf node: 4 cpu, 32Gi, 110 pods). No binding or API traffic: what is left is
  the scheduler's own CPU cost, the figure scheduler_perf's SchedulingThroughput reports.
- **end to end** (``end_to_end``): a smaller cluster through the actor and the apiserver —
  Node and Pod objects created first, then one kube-scheduler replica started; wall and
  virtual seconds until every pod is bound (binding, the status and event writes, the
  watch confirmations). Virtual time is set by the client's QPS 50 / burst 100.

Anchors (Kubernetes' scheduler_perf, 5,000 nodes, on much larger machines): about 680
pods/s basic, 220 with node affinity, 60 with pod anti-affinity.

    python benchmarks/scheduler.py [--quick] [--json PATH]
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors import ClusterSpec, simulate
from actors.scheduler import (
    AlgorithmState,
    KubeScheduler,
    PodInfo,
    Profile,
    SchedulerCache,
    SchedulingQueue,
    Snapshot,
    schedule_one,
)
from benchmarks._common import parser, table, write_json
from runtime import RestartPolicy

SIZES = (("100m", "128Mi", 100), ("250m", "256Mi", 250), ("500m", "512Mi", 500),
         ("1", "1Gi", 1000))
ZONES = 10


def make_node(i: int, cpu: int, memory_gi: int) -> dict[str, Any]:
    name = f"node-{i:05d}"
    alloc = {"cpu": str(cpu), "memory": f"{memory_gi}Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": f"zone-{i % ZONES}"}},
            "spec": {},
            "status": {"allocatable": alloc, "capacity": dict(alloc),
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def make_pod(i: int, workload: str) -> dict[str, Any]:
    cpu, mem, _ = SIZES[i % len(SIZES)]
    name = f"pod-{i:05d}"
    labels = {"app": f"app-{i % 20}"}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                            "resources": {"requests": {"cpu": cpu,
                                                                       "memory": mem}}}]}
    if workload == "node_affinity":
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{
                "key": "topology.kubernetes.io/zone", "operator": "In",
                "values": [f"zone-{z}" for z in range(ZONES // 2)]}]}]}}}
    elif workload == "pod_anti_affinity":
        labels["group"] = f"g-{i // 50}"
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"group": labels["group"]}},
             "topologyKey": "kubernetes.io/hostname"}]}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{i:05d}",
                         "labels": labels},
            "spec": spec, "status": {"phase": "Pending"}}


def node_size(nodes: int, pods: int, workload: str) -> tuple[int, int]:
    """(cpu, memory Gi) per node so every pod fits with a margin."""
    share = nodes // 2 if workload == "node_affinity" else nodes
    avg_milli = sum(s[2] for s in SIZES) / len(SIZES)
    cpu = max(4, math.ceil(pods * avg_milli / 1000 / share * 1.3))
    return cpu, max(32, cpu * 4)


def bench_core(nodes: int, pods: int, workload: str = "basic", seed: int = 1
               ) -> tuple[int, float, int]:
    """(pods scheduled, wall seconds, pods that did not fit) for one run of the core path."""
    cpu, mem = node_size(nodes, pods, workload)
    cache = SchedulerCache()
    for i in range(nodes):
        cache.add_node(make_node(i, cpu, mem))
    queue = SchedulingQueue()
    for i in range(pods):
        queue.add(PodInfo.from_api(make_pod(i, workload)), 0.0)
    snapshot = Snapshot()
    profile = Profile()
    state = AlgorithmState(random.Random(seed))
    scheduled = failed = 0
    t0 = time.perf_counter()
    while True:
        qp = queue.pop()
        if qp is None:
            break
        cache.update_snapshot(snapshot)
        result = schedule_one(qp.pod_info, snapshot, profile, state,
                              nominated=queue.nominated_pods())
        if result.node is None:
            failed += 1
            continue
        cache.assume_pod(qp.pod_info, result.node)
        scheduled += 1
    return scheduled, time.perf_counter() - t0, failed


def bench_end_to_end(nodes: int, pods: int, seed: int = 1) -> dict[str, float]:
    """Objects first, then the scheduler: wall and virtual seconds until all are bound."""
    spec = ClusterSpec(nodes=[], schedulers=0, controller_managers=0, addons=())
    cpu, mem = node_size(nodes, pods, "basic")
    with simulate(spec, seed=seed) as cluster:
        for i in range(nodes):
            cluster.create(make_node(i, cpu, mem))
        for i in range(pods):
            p = make_pod(i, "basic")
            p["metadata"].pop("uid")
            cluster.create(p)
        token = cluster.token_for("kubernetes-admin")
        apiservers = cluster.apiservers
        sim = cluster.sim
        v0, t0 = sim.now, time.perf_counter()
        sim.spawn("kube-scheduler-0", lambda: KubeScheduler(apiservers, token),
                  policy=RestartPolicy(restart="never"))
        sched = sim.actor("kube-scheduler-0")
        sim.run_until(lambda: sched.counts["bound"] >= pods, timeout=3600, poll=0.5)
        wall, virtual = time.perf_counter() - t0, sim.now - v0
        if sim.system.status("kube-scheduler-0") != "running":
            raise RuntimeError("the scheduler crashed")
    return {"nodes": nodes, "pods": pods, "wall_s": wall, "virtual_s": virtual,
            "pods_per_wall_s": pods / wall, "pods_per_virtual_s": pods / virtual}


def _median(fn: Callable[[], tuple[int, float, int]], repeat: int) -> tuple[float, int]:
    rates, failed = [], 0
    for _ in range(repeat):
        n, secs, failed = fn()
        rates.append(n / secs)
    rates.sort()
    return rates[len(rates) // 2], failed


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    q = args.quick
    repeat = args.repeat or 1
    pods = 1000 if q else 10_000
    sizes = (100, 1000) if q else (100, 1000, 5000)
    big = 1000 if q else 5000
    res: dict[str, Any] = {"pods_per_s": {"basic": {}, "node_affinity": {},
                                          "pod_anti_affinity": {}}}
    rows = []
    for n in sizes:
        rate, failed = _median(lambda n=n: bench_core(n, pods), repeat)
        res["pods_per_s"]["basic"][str(n)] = rate
        rows.append((f"basic, {n:,} nodes", f"{rate:,.0f}",
                     f"{pods:,} pods of mixed sizes; unplaced {failed}"))
    for workload in ("node_affinity", "pod_anti_affinity"):
        rate, failed = _median(lambda w=workload: bench_core(big, pods, w), repeat)
        res["pods_per_s"][workload][str(big)] = rate
        rows.append((f"{workload}, {big:,} nodes", f"{rate:,.0f}",
                     f"{pods:,} pods; unplaced {failed}"))
    e2e = bench_end_to_end(50 if q else 100, 200 if q else 1000)
    res["end_to_end"] = e2e
    rows.append((f"end to end, {e2e['nodes']:.0f} nodes", f"{e2e['pods_per_wall_s']:,.0f}",
                 f"{e2e['pods']:.0f} pods through actor + apiserver; "
                 f"{e2e['pods_per_virtual_s']:,.1f} pods per virtual s (QPS 50)"))
    print(table(rows, f"scheduler benchmark ({'quick' if q else 'full'}; pods scheduled per "
                      "second of wall time; core = schedule_one + assume + snapshot)"))
    print("anchors (scheduler_perf, 5,000 nodes, large machines): basic ~680, node affinity "
          "~220, pod anti-affinity ~60 pods/s")
    res["params"] = {"pods": pods, "sizes": list(sizes), "affinity_nodes": big,
                     "repeat": repeat, "quick": q}
    write_json(args.json, res)


if __name__ == "__main__":
    main()
