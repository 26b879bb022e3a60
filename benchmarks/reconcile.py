"""Reconciliation latency in Kubernetes' own SLIs, under clusterloader2's "load" shape, in
virtual time under a documented, tunable latency model.

The load (perf-tests ``clusterloader2/testing/load/config.yaml``, its "Creating SVCs" and
"Creating objects" steps; the scaling and deleting steps are not run): N nodes, 30 pods per
node, one namespace per 100 nodes (``NODES_PER_NAMESPACE``; one namespace below 100 nodes,
holding them all). Per namespace, with P = 30 x its nodes (integer division, as
clusterloader2's ``DivideInt``): P/(4x250) big Deployments of 250 replicas, P/(4x30) medium
ones of 30 and P/(2x5) small ones of 5 — a quarter of the pods in big, a quarter in medium,
half in small (100 nodes: 3 + 25 + 300 Deployments, 3,000 pods). Deployment ``<size>-
deployment-<i>`` carries labels ``group: load`` and ``svc: <size>-service-<i>``; a Service
``<size>-service-<i>`` (selector ``svc``, port 80) exists for the first half of each size
(``(count+1)/2``), created one at a time before the Deployments, as the config does. Pods
run ``registry.k8s.io/pause:3.9`` requesting 1m CPU / 4M memory (the config's pause image
and requests; preloaded on every node, so no pull), ``terminationGracePeriodSeconds: 1``,
the not-ready/unreachable tolerations of 900 s; no ConfigMap/Secret volumes. Deployments
are created at independent uniform random times over the saturation time, total pods /
throughput (``RandomizedTimeLimitedLoad``; ``--throughput`` 10 pods/s, the config's
default; the GCE override is 20): 300 virtual seconds at 100 nodes.

Measured (every figure in virtual seconds):
- **Pod startup latency** (SLO: p99 <= 5 s): per pod, the time the pod was first seen by
  watch (its creation, seen through a watch on the apiserver) to the time it was first seen
  Running by watch, minus its image pull time including waiting (the ``(Xs including
  waiting)`` of its ``Pulled`` event; 0 for a present image). The SLI's "creation
  timestamp" has 1 s resolution in the object, so the measuring actor's watch stands in
  for it: its links to the apiserver are perfect (no latency), so it sees a change the
  instant the apiserver's watch cache does — a pod's creation within one etcd-to-apiserver
  hop of its commit. Also create → scheduled (``spec.nodeName`` seen) and scheduled →
  Running. p50/p90/p99/max.
- **API call latency, mutating** (SLO: p99 <= 1 s per resource and verb): at the
  apiserver, request received → response sent (``KubeApiServer.request_log``), for
  POST/PUT/PATCH/DELETE (create/update/patch/delete) per verb and resource/subresource,
  every request made during the load by every component. p50/p99; the table shows the
  worst (verb, resource) p99 and all mutating calls together.
- **Deployment create → all available**, per size (5/30/250): from the create request
  being sent to the Deployment first seen with ``availableReplicas == updatedReplicas ==
  replicas`` and ``observedGeneration`` current. p50/p99/max.
- **Controller work queues**, per kube-controller-manager controller: queue duration (add →
  get) and work duration (get → done) of every key (``RateLimitingQueue.samples``), as
  client-go's ``workqueue_queue_duration_seconds``/``workqueue_work_duration_seconds``.
- **Wall time per pod**: the simulator's wall seconds for the load (first create → all
  available) / pods; and its CPU seconds per pod (``time.process_time``), steadier on a
  shared machine.

The latency model (the defaults; every one is a flag, echoed under ``latency_model`` in the
JSON). Latencies are in milliseconds; a distribution is ``fixed:MS``, ``uniform:LO:HI``,
``exp:FLOOR:MEAN`` (a floor plus an exponential tail) or ``lognormal:MEDIAN:SIGMA``:
- ``--link-latency lognormal:0.25:0.5`` — one-way latency of every message between
  machines (kubelets and kube-proxies ↔ the control plane), drawn per message: a round
  trip of ~0.5 ms median, as within one cloud zone;
- ``--local-latency fixed:0.05`` — one-way latency between the control-plane components
  (etcd, kube-apiserver, kube-scheduler, kube-controller-manager), which talk over
  localhost on one machine;
- ``--etcd-fsync-ms 2`` — each etcd WAL fsync (the member's disk; etcd advises a p99 below
  10 ms). Note: the twin's etcd member handles nothing else while it fsyncs, so reads wait
  behind a WAL write — pessimistic next to etcd, whose reads do not;
- ``--cm-qps 20 --cm-burst 30`` — kube-controller-manager's ``--kube-api-qps/-burst``
  (Kubernetes' defaults; each controller has its own client and bucket, as with
  ``--use-service-account-credentials``); ``--scheduler-qps 50 --scheduler-burst 100``
  (KubeSchedulerConfiguration ``clientConnection``). Kubernetes' gce-100-performance job
  ran both at 100/100;
- ``--concurrent-deployment-syncs 5``, ``--concurrent-replicaset-syncs 5``,
  ``--concurrent-endpoint-syncs 5``, ``--concurrent-service-endpoint-syncs 5`` (the
  EndpointSlice controller), ``--concurrent-gc-syncs 20`` — Kubernetes' defaults.
The model is applied once every node is Ready (the cluster boots on a perfect network), and
holds throughout the load. Outside it: computation takes no virtual time (an apiserver, a
controller, the scheduler answer instantly, however much work they do), a container
starts the instant the kubelet starts it, and the apiserver has no priority-and-fairness
queueing. So these figures are the latency the *protocol* imposes — round trips, fsyncs,
client rate limits, worker counts, watch propagation — not CPU saturation.

The cluster: N nodes (8 CPU, 32 GiB, 110 pods), one etcd member, one apiserver, scheduler
and controller manager, no addons; every node Ready and its ``not-ready`` taint lifted before
the load starts (the boot's transients stay out of the figures). The Services are created
just before the load, as clusterloader2 does, so the endpoint controllers' first minutes
include creating their (empty) Endpoints and EndpointSlices.

    .venv/bin/python benchmarks/reconcile.py --json out/reconcile.json --plot out/  # 100 nodes
    .venv/bin/python benchmarks/reconcile.py --quick                 # 10 nodes, 210 pods
    .venv/bin/python benchmarks/reconcile.py --nodes 1000 --wall-limit 3600 --json out/r.json

The default is 100 nodes (clusterloader2's smallest: 3,000 pods, 300 virtual seconds; about
3.5 minutes of wall time today). ``--quick`` runs 10 nodes instead — 2 Deployments of 30 and
30 of 5, 210 pods, no Deployment of 250 (one appears from 34 nodes up) — in well under a
minute. ``--nodes N`` picks any size; ``--no-services`` leaves the Services out (the
endpoint controllers and every kube-proxy then have nothing to do: a way to see what they
cost). ``--plot DIR`` writes the CDFs of pod startup, mutating
API call and Deployment create → available latencies as PNG (``--plot-format svg``) files
named ``reconcile-<N>nodes-*.png``. ``--wall-limit S`` stops a run after S wall seconds
and reports what it measured (``complete: false``). ``--profile PATH`` writes cProfile stats.
"""

from __future__ import annotations

import cProfile
import gc
import os
import random
import resource
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import msgspec

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import ADMIN_USER, Cluster
from benchmarks._common import parser, table, write_json
from benchmarks._reconcile_load import (
    LoadDriver,
    LoadShape,
    deployment_manifest,
    load_shape,
    service_manifest,
)
from benchmarks._reconcile_measure import (
    SLO_API_S,
    SLO_POD_STARTUP_S,
    api_latencies,
    deployment_latencies,
    plots,
    pod_startup,
    pull_seconds,
    workqueue_latencies,
)
from runtime import Exponential, Fixed, Latency, LinkModel, LogNormal, Uniform

DRIVER_NAME = "$bench-load"
_NOT_READY = "node.kubernetes.io/not-ready"
CONTROL_PLANE_PREFIXES = ("etcd-", "kube-apiserver-", "kube-scheduler-", "kube-controller-manager-")
# --concurrent-*-syncs flag -> the twin's controller name, and Kubernetes' default.
CONCURRENT_SYNCS = {"deployment": ("deployment", 5), "replicaset": ("replicaset", 5),
                    "endpoint": ("endpoint", 5), "service-endpoint": ("endpointslice", 5),
                    "gc": ("garbagecollector", 20)}


class LatencyModel(msgspec.Struct, frozen=True, kw_only=True):
    """The tunable latency model (see the module docstring); latencies in milliseconds."""

    link_latency: str = "lognormal:0.25:0.5"
    local_latency: str = "fixed:0.05"
    etcd_fsync_ms: float = 2.0
    cm_qps: float = 20.0
    cm_burst: int = 30
    scheduler_qps: float = 50.0
    scheduler_burst: int = 100
    concurrent_syncs: dict[str, int] = msgspec.field(
        default_factory=lambda: {name: n for name, n in CONCURRENT_SYNCS.values()})


def parse_latency(text: str) -> Latency:
    """``fixed:MS`` | ``uniform:LO:HI`` | ``exp:FLOOR:MEAN`` | ``lognormal:MEDIAN:SIGMA``
    (milliseconds; a lognormal's sigma is unitless) → a runtime latency in seconds."""
    kind, _, rest = text.partition(":")
    try:
        args = [float(x) for x in rest.split(":")] if rest else []
    except ValueError:
        raise ValueError(f"bad latency {text!r}: numbers expected after {kind}:") from None
    ms = [a / 1000 for a in args]
    match kind, len(args):
        case "fixed", 1:
            return Fixed(ms[0])
        case "uniform", 2:
            return Uniform(ms[0], ms[1])
        case "exp", 2:
            return Exponential(ms[0], ms[1])
        case "lognormal", 2 if args[0] > 0:
            return LogNormal(ms[0], args[1])
    raise ValueError(f"bad latency {text!r}: fixed:MS, uniform:LO:HI, exp:FLOOR:MEAN or "
                     "lognormal:MEDIAN:SIGMA (milliseconds)")


# ---- the cluster -----------------------------------------------------------------------------
def _install_clients(model: LatencyModel) -> None:
    """The controller manager's and scheduler's client QPS/burst and concurrent syncs, as
    component factories (in force for the next ``simulate``)."""
    from actors.cluster._components import register_component
    from actors.controllers._component import controller_manager_components
    from actors.controllers._manager import ControllerManagerConfig
    from actors.scheduler._component import scheduler_components

    register_component("kube-controller-manager", controller_manager_components(ControllerManagerConfig(
        qps=model.cm_qps, burst=model.cm_burst, concurrent_syncs=dict(model.concurrent_syncs))))
    register_component("kube-scheduler", scheduler_components(
        {"clientConnection": {"qps": model.scheduler_qps, "burst": model.scheduler_burst}}))


def _restore_clients() -> None:
    from actors.cluster._components import register_component
    from actors.controllers._component import controller_manager_components
    from actors.scheduler._component import scheduler_components

    register_component("kube-controller-manager", controller_manager_components())
    register_component("kube-scheduler", scheduler_components())


def apply_latency_model(c: Cluster, model: LatencyModel) -> None:
    """The network and disk parts of the model, on a running cluster."""
    net = c.sim.system.network
    net.set_default(LinkModel(latency=parse_latency(model.link_latency)))
    local = LinkModel(latency=parse_latency(model.local_latency))
    plane = [a for a in c.sim.system.addresses if a.startswith(CONTROL_PLANE_PREFIXES)]
    for i, a in enumerate(plane):
        for b in plane[i:]:
            net.set_link(a, b, local)
    for member in c.etcd_members:
        c.sim.system.store(member).sync_latency = model.etcd_fsync_ms / 1000


def _wait_nodes_schedulable(c: Cluster, nodes: int) -> None:
    """Every node Ready and without the ``node.kubernetes.io/not-ready`` taint: a node joins
    tainted, and the node lifecycle controller lifts the taints one PATCH at a time within
    its client's QPS (50 s for 1,000 nodes at 20 QPS) — a boot transient, kept out of the
    measurement, as clusterloader2 runs on a settled cluster."""
    def schedulable(c: Cluster) -> bool:
        items = c.list("nodes")["items"]
        return len(items) == nodes and all(
            any(x["type"] == "Ready" and x["status"] == "True" for x in n["status"].get("conditions") or ())
            and not any(t.get("key") == _NOT_READY for t in (n.get("spec") or {}).get("taints") or ())
            for n in items)

    c.run_until(schedulable, timeout=900, poll=1.0)


def _prepare_namespaces(c: Cluster, shape: LoadShape) -> None:
    """The namespaces (and their ``default`` ServiceAccount, which pods need), then the
    Services one at a time (clusterloader2's ``Sequence`` tuning set)."""
    for ns in shape.namespaces:
        c.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def accounts(c: Cluster) -> bool:
        return all(c.get("serviceaccounts", "default", ns) for ns in shape.namespaces)

    c.run_until(accounts, timeout=120, poll=0.5)
    for ns, name in shape.services:
        c.create(service_manifest(ns, name))


def _enable_recording(c: Cluster) -> tuple[list[Any], dict[str, Any]]:
    """Switch on the apiservers' request logs and the controllers' work-queue samples."""
    log: list[Any] = []
    for name in c.apiservers:
        c.sim.actor(name).request_log = log
    queues = {}
    for name in c.sim.system.addresses:
        if name.startswith("kube-controller-manager-"):
            for ctrl_name, ctrl in (getattr(c.sim.actor(name), "controllers", None) or {}).items():
                ctrl.queue.samples = ([], [])
                queues[ctrl_name] = ctrl.queue
    return log, queues


# ---- one run ---------------------------------------------------------------------------------
def run(nodes: int, *, model: LatencyModel | None = None, throughput: float = 10.0,
        seed: int = 1, timeout: float | None = None, wall_limit: float = float("inf"),
        pods_per_node: int = 30, services: bool = True, progress: bool = True) -> dict[str, Any]:
    """Boot ``nodes`` nodes, apply the latency model, run the load; the figures as a dict
    (``raw_samples`` holds the samples for ``plots`` and is not written to the JSON). Per-pod
    costs divide by the pods that ran (all of them, when ``complete``)."""
    model = model or LatencyModel()
    shape = load_shape(nodes, pods_per_node=pods_per_node, throughput=throughput, services=services)
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i:04d}", cpu="8", memory="32Gi", pods=110)
                              for i in range(nodes)], addons=())
    rng = random.Random(seed)
    at = [rng.uniform(0.0, shape.saturation_s) for _ in shape.deployments]
    timeout = timeout if timeout is not None else shape.saturation_s + 900.0  # operationTimeout 15m
    wall0 = time.perf_counter()
    _install_clients(model)
    try:
        with simulate(spec, seed=seed, ready_timeout=600.0) as c:
            _wait_nodes_schedulable(c, nodes)
            boot_wall = time.perf_counter() - wall0
            # As scale.py: the load runs without the cyclic GC (its garbage is acyclic; the
            # peak RSS reported would show it otherwise). Virtual-time figures do not change.
            gc.freeze()
            gc.disable()
            apply_latency_model(c, model)
            manifests = [deployment_manifest(ns, name, replicas, svc)
                         for ns, name, _size, replicas, svc in shape.deployments]
            c.sim.spawn(DRIVER_NAME, LoadDriver, c.apiservers, c.token_for(ADMIN_USER), manifests, at)
            for a in c.apiservers:  # the measuring actor sees what the apiserver sees, at once
                c.sim.system.network.set_link(DRIVER_NAME, a, LinkModel())
            _prepare_namespaces(c, shape)
            driver: LoadDriver = c.sim.actor(DRIVER_NAME)
            c.run_until(lambda _c: driver.synced(), timeout=60, poll=0.5)
            log, queues = _enable_recording(c)
            load_wall0, load_cpu0, t0 = time.perf_counter(), time.process_time(), c.now
            driver.go()
            complete = _drive(c, driver, shape, t0=t0, timeout=timeout,
                              wall_deadline=wall0 + wall_limit, progress=progress)
            load_wall = time.perf_counter() - load_wall0
            load_cpu = time.process_time() - load_cpu0
            # The last Deployment's availability, not the poll that noticed it.
            virtual = (max(driver.available.values(), default=t0) if complete else c.now) - t0
            ran = max(1, len(driver.running))
            pulls = pull_seconds(c, shape.namespaces)
            parts = {"pods": pod_startup(driver, pulls), "api": api_latencies(log),
                     "deployments": deployment_latencies(driver, shape),
                     "workqueues": workqueue_latencies(queues)}
    finally:
        gc.enable()
        gc.unfreeze()
        _restore_clients()
    return {"nodes": nodes, "shape": shape.describe(), "latency_model": msgspec.to_builtins(model),
            "seed": seed, "complete": complete, "virtual_s": round(virtual, 3),
            "wall_s": round(time.perf_counter() - wall0, 2), "boot_wall_s": round(boot_wall, 2),
            "load_wall_s": round(load_wall, 2),
            "wall_ms_per_pod": round(1000 * load_wall / ran, 3),
            # CPU time too: on a shared machine it is the steadier figure of the two.
            "load_cpu_s": round(load_cpu, 2), "cpu_ms_per_pod": round(1000 * load_cpu / ran, 3),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **{k: summary for k, (summary, _raw) in parts.items()},
            "raw_samples": {k: raw for k, (_summary, raw) in parts.items()}}


def _drive(c: Cluster, driver: LoadDriver, shape: LoadShape, *, t0: float, timeout: float,
           wall_deadline: float, progress: bool) -> bool:
    """Step until every Deployment is available (True), or the virtual timeout or the wall
    deadline passes (False)."""
    poll, wall0 = 5.0, time.perf_counter()
    while True:
        done = len(driver.available) >= len(shape.deployments)
        if progress:
            print(f"  t={c.now - t0:7.1f}s wall={time.perf_counter() - wall0:7.1f}s "
                  f"deployments {len(driver.issued)}/{len(shape.deployments)} created, "
                  f"{len(driver.available)} available; pods running {len(driver.running)}/{shape.pods}",
                  file=sys.stderr, flush=True)
        if done:
            return True
        if c.now - t0 >= timeout or time.perf_counter() >= wall_deadline:
            return False
        c.advance(poll if c.now - t0 < shape.saturation_s else 1.0)


# ---- the report ------------------------------------------------------------------------------
def _ms(x: float) -> str:
    """Seconds as the table shows them: ms below one second, seconds above."""
    return "n/a" if x != x else (f"{1000 * x:.1f} ms" if x < 1 else f"{x:.2f} s")


def report_rows(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    p, api, deps = r["pods"]["startup"], r["api"], r["deployments"]
    ok = lambda v, slo: "OK" if v == v and v <= slo else "VIOLATED"  # noqa: E731
    rows = [
        ("pod startup p50", _ms(p["p50"]), f"create → Running by watch, pull excluded; n={p['n']}"),
        ("pod startup p90", _ms(p["p90"]), ""),
        ("pod startup p99", _ms(p["p99"]), f"SLO ≤ {SLO_POD_STARTUP_S:g} s: {ok(p['p99'], SLO_POD_STARTUP_S)}"),
        ("  create → scheduled p99", _ms(r["pods"]["create_to_schedule"]["p99"]), ""),
        ("  scheduled → Running p99", _ms(r["pods"]["schedule_to_running"]["p99"]), ""),
        ("mutating API calls p50", _ms(api["all"]["p50"]), f"at the apiserver; n={api['all']['n']}"),
        ("mutating API calls p99", _ms(api["all"]["p99"]), "all verbs and resources together"),
    ]
    worst = api.get("worst")
    if worst:
        rows.append((f"  worst p99: {worst['call']}", _ms(worst["p99"]),
                     f"SLO ≤ {SLO_API_S:g} s per verb+resource: {ok(worst['p99'], SLO_API_S)}"))
    for call, d in sorted(api["by_call"].items(), key=lambda kv: -kv[1]["n"])[:8]:
        rows.append((f"  {call} p50 / p99", f"{_ms(d['p50'])} / {_ms(d['p99'])}", f"n={d['n']}"))
    for size, d in deps.items():
        rows.append((f"Deployment of {size} → available p50 / p99", f"{_ms(d['p50'])} / {_ms(d['p99'])}",
                     f"max {_ms(d['max'])}; {d['n']}/{d['count']} available"))
    for name, q in sorted(r["workqueues"].items(), key=lambda kv: -kv[1]["adds"]):
        if q["queue"]["n"]:
            rows.append((f"workqueue {name}: queue / work p99",
                         f"{_ms(q['queue']['p99'])} / {_ms(q['work']['p99'])}",
                         f"p50 {_ms(q['queue']['p50'])} / {_ms(q['work']['p50'])}; {q['queue']['n']} keys"))
    rows += [("virtual time of the load", f"{r['virtual_s']:.1f} s", "first create → all available"
              if r["complete"] else "INCOMPLETE: stopped at the timeout or wall limit"),
             ("wall per pod", f"{r['wall_ms_per_pod']:.1f} ms",
              f"simulator cost; load {r['load_wall_s']:.0f} s wall ({r['cpu_ms_per_pod']:.1f} ms "
              f"CPU per pod), boot {r['boot_wall_s']:.0f} s; peak RSS "
              f"{r.get('peak_rss_mib', float('nan')):.0f} MiB")]
    return rows


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100, help="cluster size (default 100)")
    p.add_argument("--throughput", type=float, default=10.0, help="pods/s the load creates (10)")
    p.add_argument("--no-services", dest="services", action="store_false",
                   help="create no Services (clusterloader2 creates one per two Deployments)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--wall-limit", type=float, default=float("inf"), metavar="S",
                   help="stop after S wall seconds and report what was measured")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="virtual seconds allowed (default: saturation time + 15 min)")
    p.add_argument("--plot", metavar="DIR", help="write the latency CDFs to DIR")
    p.add_argument("--plot-format", choices=("png", "svg"), default="png")
    p.add_argument("--profile", metavar="PATH", help="write cProfile stats of the run to PATH")
    d = LatencyModel()
    p.add_argument("--link-latency", default=d.link_latency, help="one-way, between machines (ms)")
    p.add_argument("--local-latency", default=d.local_latency, help="one-way, control plane (ms)")
    p.add_argument("--etcd-fsync-ms", type=float, default=d.etcd_fsync_ms)
    p.add_argument("--cm-qps", type=float, default=d.cm_qps)
    p.add_argument("--cm-burst", type=int, default=d.cm_burst)
    p.add_argument("--scheduler-qps", type=float, default=d.scheduler_qps)
    p.add_argument("--scheduler-burst", type=int, default=d.scheduler_burst)
    for flag, (_name, n) in CONCURRENT_SYNCS.items():
        p.add_argument(f"--concurrent-{flag}-syncs", type=int, default=n)
    args = p.parse_args()
    for text in (args.link_latency, args.local_latency):
        try:
            parse_latency(text)
        except ValueError as e:
            p.error(str(e))
    model = LatencyModel(
        link_latency=args.link_latency, local_latency=args.local_latency,
        etcd_fsync_ms=args.etcd_fsync_ms, cm_qps=args.cm_qps, cm_burst=args.cm_burst,
        scheduler_qps=args.scheduler_qps, scheduler_burst=args.scheduler_burst,
        concurrent_syncs={name: getattr(args, f"concurrent_{flag.replace('-', '_')}_syncs")
                          for flag, (name, _n) in CONCURRENT_SYNCS.items()})
    nodes = 10 if args.quick else args.nodes
    kw = {"model": model, "throughput": args.throughput, "seed": args.seed,
          "timeout": args.timeout, "wall_limit": args.wall_limit, "services": args.services}
    if args.profile:
        prof = cProfile.Profile()
        r = prof.runcall(run, nodes, **kw)
        prof.dump_stats(args.profile)
    else:
        r = run(nodes, **kw)
    raw = r.pop("raw_samples", None)
    title = (f"kubetwin reconcile: clusterloader2 load, {nodes} nodes, {r['shape']['pods']} pods "
             f"({r['shape']['throughput']:g} pods/s), virtual time")
    print(table(report_rows(r), title))
    if args.plot:
        r["plots"] = plots(raw, args.plot, nodes, args.plot_format)
        for path in r["plots"]:
            print(f"wrote {path}")
    worst = (r["api"]["worst"] or {}).get("p99", float("nan"))
    slo = {"pod_startup_p99_s": SLO_POD_STARTUP_S, "api_mutating_p99_s": SLO_API_S,
           "pod_startup_met": r["pods"]["startup"]["p99"] <= SLO_POD_STARTUP_S,
           "api_mutating_met": worst <= SLO_API_S}
    write_json(args.json, _finite({"benchmark": "reconcile", "slo": slo,
                           "pod_startup_p50_s": r["pods"]["startup"]["p50"],
                           "pod_startup_p99_s": r["pods"]["startup"]["p99"], **r}))


def _finite(x: Any) -> Any:
    """NaN (an empty sample's percentile) as JSON null, not the non-standard NaN token."""
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


if __name__ == "__main__":
    main()
