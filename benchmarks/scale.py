"""The scalability envelope: N nodes and P pods per node, from an empty cluster to steady state.

One run builds a cluster (one etcd member, one apiserver, scheduler and controller manager,
N kubelets renewing their node Leases every 10 s and posting status, N kube-proxies), creates
Deployments totalling N x P pods (500 replicas each at most), and steps virtual time until
the steady state: every pod Running and Ready, every node Ready (read from the etcd store,
not through the API). It reports wall time, peak RSS (``resource.getrusage``, the process's
high-water mark: sizes run one per process) and simulated events (messages delivered to
mailboxes) per wall second.

    .venv/bin/python benchmarks/scale.py --quick                     # 100 nodes x 30 pods
    .venv/bin/python benchmarks/scale.py --nodes 1000 --json out/scale-1000.json
    .venv/bin/python benchmarks/scale.py --plot out/ --json out/scale.json PREVIOUS.json ...

Sizes beyond one per process: pass earlier JSON files as arguments to merge their runs into
the table, the JSON (key ``runs``) and the plot (``--plot DIR``: scale.png, needs matplotlib
from the ``bench`` extra).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec

from actors import ClusterSpec, NodeSpec, simulate
from benchmarks._common import parser, table, write_json

_DEC = msgspec.json.Decoder()
PER_DEPLOYMENT = 500
# etcd's own --snapshot-count default (since 3.2); the simulation's members default to 10,000
# so that short runs and campaigns see snapshots, which at this size would re-encode the
# whole store every few seconds of virtual time.
ETCD_SNAPSHOT_COUNT = 100_000


def _deployment(i: int, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"load-{i}"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": f"load-{i}"}},
                     "template": {"metadata": {"labels": {"app": f"load-{i}"}}, "spec": {"containers": [
                         {"name": "main", "image": "nginx:1.27",
                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def _steady(cluster: Any, nodes: int, pods: int) -> tuple[bool, int, int]:
    """(steady, running-and-ready pods of the Deployments, ready nodes), from the store of
    etcd-0. Only the Deployments' pods (namespace default) count: kube-system's kube-proxy
    pods (one per node) had let a run pass for steady with that many load pods not Ready."""
    store = cluster.sim.actor("etcd-0").sm.store
    ready_pods = ready_nodes = 0
    for kv in store.live():
        k = kv.key
        if k.startswith(b"/registry/pods/default/"):
            st = _DEC.decode(kv.value).get("status") or {}
            if st.get("phase") == "Running" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ()):
                ready_pods += 1
        elif k.startswith(b"/registry/minions/"):
            st = _DEC.decode(kv.value).get("status") or {}
            if any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ()):
                ready_nodes += 1
    return ready_pods >= pods and ready_nodes >= nodes, ready_pods, ready_nodes


def _events(cluster: Any) -> int:
    system = cluster.sim.system
    return sum(system.mailbox_stats(name).received for name in system.addresses)


def _components(qps: float | None, sync_cost: float = 0.0) -> None:
    """etcd at its own snapshot count; the controller manager's and scheduler's client QPS
    raised (--kube-api-qps, as scalability tests run them); None keeps Kubernetes' defaults
    (20/30 and 50/100).
    ``sync_cost``: the controller manager's modeled CPU time per cached object a sync reads
    (``ControllerManagerConfig.sync_cost_per_object``; 0: syncs take no virtual time)."""
    from actors.cluster._components import etcd_components, register_component

    register_component("etcd", etcd_components(snapshot_count=ETCD_SNAPSHOT_COUNT))
    if qps is None and not sync_cost:
        return
    from actors.controllers._component import controller_manager_components
    from actors.controllers._manager import ControllerManagerConfig
    from actors.scheduler._component import scheduler_components

    cm = ControllerManagerConfig(sync_cost_per_object=sync_cost)
    if qps is not None:
        burst = int(qps * 1.5)
        cm = ControllerManagerConfig(qps=qps, burst=burst, sync_cost_per_object=sync_cost)
        register_component("kube-scheduler", scheduler_components(
            {"clientConnection": {"qps": qps, "burst": burst}}))
    register_component("kube-controller-manager", controller_manager_components(cm))


def run(nodes: int, per_node: int, *, timeout: float, poll: float, seed: int = 0,
        wall_limit: float = float("inf"), qps: float | None = None,
        sync_cost_us: float = 0.0) -> dict[str, Any]:
    pods = nodes * per_node
    _components(qps, sync_cost_us * 1e-6)
    spec = ClusterSpec(etcd_members=1, apiservers=1, schedulers=1, controller_managers=1,
                       nodes=[NodeSpec(f"node-{i}", cpu="32", memory="128Gi", pods=max(110, per_node))
                              for i in range(nodes)], addons=())
    t0 = time.perf_counter()
    # A simulation this size holds millions of long-lived objects that the cyclic GC would
    # traverse again and again (a quarter of the wall time at 300 nodes) while finding
    # nothing to free: collect rarely during the build, never look at what it made again,
    # and run the load without the cyclic collector (reference counting still frees
    # everything acyclic). Measured at 1,000 nodes: 8.7 % less CPU, the same peak RSS to
    # the MiB (3,051) — the load makes no cyclic garbage worth collecting; the peak RSS
    # reported would show it if it did.
    gc.set_threshold(200_000, 50, 100)
    with simulate(spec, seed=seed, ready_timeout=600.0) as cluster:
        gc.freeze()
        gc.disable()
        built = time.perf_counter() - t0
        left, i = pods, 0
        while left > 0:
            n = min(PER_DEPLOYMENT, left)
            cluster.create(_deployment(i, n))
            left, i = left - n, i + 1
        steady, ready_pods, ready_nodes = False, 0, 0
        start_v = cluster.now
        while cluster.now - start_v < timeout:
            cluster.advance(poll)
            steady, ready_pods, ready_nodes = _steady(cluster, nodes, pods)
            print(f"  t={cluster.now:7.1f}s wall={time.perf_counter() - t0:7.1f}s pods ready "
                  f"{ready_pods}/{pods} nodes ready {ready_nodes}/{nodes}", file=sys.stderr, flush=True)
            if steady or time.perf_counter() - t0 > wall_limit:
                break
        wall = time.perf_counter() - t0
        events = _events(cluster)
        virtual = cluster.now
    gc.enable()
    gc.unfreeze()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"nodes": nodes, "pods": pods, "wall_s": round(wall, 2), "build_s": round(built, 2),
            "virtual_s": round(virtual, 1), "peak_rss_mib": round(rss, 1),
            "events": events, "events_per_s": round(events / wall, 1), "steady": steady,
            "ready_pods": ready_pods, "ready_nodes": ready_nodes, "kube_api_qps": qps,
            "sync_cost_us": sync_cost_us, "etcd_snapshot_count": ETCD_SNAPSHOT_COUNT,
            "cyclic_gc_during_load": False}


def _plot(runs: list[dict[str, Any]], directory: str) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return None
    runs = sorted(runs, key=lambda r: r["nodes"])
    xs = [r["nodes"] for r in runs]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(xs, [r["wall_s"] for r in runs], "-", color="tab:blue")
    b.plot(xs, [r["peak_rss_mib"] for r in runs], "-", color="tab:red")
    for r in runs:  # a run stopped before steady state is an x, with its ready pods
        marker = "o" if r["steady"] else "x"
        a.plot([r["nodes"]], [r["wall_s"]], marker, color="tab:blue", markersize=8)
        b.plot([r["nodes"]], [r["peak_rss_mib"]], marker, color="tab:red", markersize=8)
        if not r["steady"]:
            a.annotate(f"not steady: {r.get('ready_pods', 0):,}/{r['pods']:,} pods",
                       (r["nodes"], r["wall_s"]), textcoords="offset points", xytext=(-150, 0))
    a.set(xscale="log", xlabel="nodes", ylabel="wall seconds (o: to steady state)", title="time")
    b.set(xscale="log", xlabel="nodes", ylabel="peak RSS (MiB)", title="memory")
    fig.tight_layout()
    path = str(Path(directory) / "scale.png")
    Path(directory).mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1000, help="nodes (one size per run)")
    p.add_argument("--pods-per-node", type=int, default=30)
    p.add_argument("--timeout", type=float, default=1800.0, help="virtual seconds allowed to reach steady state")
    p.add_argument("--poll", type=float, default=5.0, help="virtual seconds between steady-state checks")
    p.add_argument("--kube-api-qps", type=float, default=None,
                   help="controller manager and scheduler client QPS (default: Kubernetes' 20 and 50)")
    p.add_argument("--sync-cost-us", type=float, default=0.0,
                   help="controller syncs cost this many virtual microseconds per cached object "
                        "they read (default 0: computation takes no virtual time)")
    p.add_argument("--wall-limit", type=float, default=float("inf"),
                   help="give up (steady: false) after this many wall seconds")
    p.add_argument("--plot", metavar="DIR", help="write DIR/scale.png (matplotlib)")
    p.add_argument("previous", nargs="*", help="JSON files of earlier runs to merge")
    args = p.parse_args()
    nodes = 100 if args.quick else args.nodes
    runs = []
    for path in args.previous:
        runs += json.loads(Path(path).read_text()).get("runs", [])
    runs.append(run(nodes, args.pods_per_node, timeout=args.timeout, poll=args.poll,
                    wall_limit=args.wall_limit, qps=args.kube_api_qps,
                    sync_cost_us=args.sync_cost_us))
    rows = [(f"{r['nodes']} nodes / {r['pods']} pods" + (f" (qps {r['kube_api_qps']:g})" if r.get("kube_api_qps") else "")
             + (f" (sync {r['sync_cost_us']:g} us/obj)" if r.get("sync_cost_us") else ""),
             f"{r['wall_s']:.1f} s",
             f"{r['peak_rss_mib']:.0f} MiB peak RSS, {r['events_per_s']:.0f} events/s, "
             f"{'steady' if r['steady'] else 'NOT steady'}") for r in runs]
    print(table(rows, "scale: empty cluster to steady state (wall time)"))
    if args.plot:
        path = _plot(runs, args.plot)
        if path:
            print(f"wrote {path}")
    write_json(args.json, {"runs": runs})


if __name__ == "__main__":
    main()
