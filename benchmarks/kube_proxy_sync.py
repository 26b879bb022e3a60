"""kube-proxy sync benchmark: wall time of one node's sync after one Service's EndpointSlice
changed, with clusterloader2 "load"'s 1,640 Services, partial (incremental) vs full.

Every node's kube-proxy syncs at most once per minSyncPeriod (1 s); in a cluster where
something changes every second, that is one sync per node per second. A full sync recomputes
every Service's rules and replaces the node's NAT table whole (``Fabric.replace_service_rules``,
iptables-restore of the whole table); a partial sync (``MinimizeIPTablesRestore``, on by
default since Kubernetes 1.27) recomputes the Services that changed and replaces only their
rules (``Fabric.update_service_rules``). This script builds the informers' caches as the
proxy holds them (``Indexer`` stores, EndpointSlices indexed by Service), 1,640 ClusterIP
Services (a tenth NodePort, a port or two each) with one EndpointSlice of 1–10 endpoints
each, a node's ``NatTable``, then times K syncs; between two syncs one Service's slice is
replaced (an endpoint moves, as a rollout does it).

Figures (median of ``--repeat`` runs of K syncs, milliseconds per sync):
- ``partial``: the proxy's path — ``ChangeTracker.plan`` (one Service recomputed),
  ``NatTable.update_rules``, ``committed``;
- ``full``: a full sync — the tracker's full plan (every Service) and ``replace_rules``,
  which is what every sync cost before partial syncs;
- ``ratio``: full / partial.

    python benchmarks/kube_proxy_sync.py [--quick] [--json PATH] [--repeat R]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from random import Random
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors.client import Indexer
from actors.kube_proxy import SERVICE_NAME_LABEL, ChangeTracker, node_rules
from actors.kube_proxy._actor import SERVICE_INDEX, _InformerCaches, _slice_index
from benchmarks._common import parser, table, write_json
from netsim import NatTable

NODE = "node-00001"


def make_service(i: int) -> dict[str, Any]:
    ports = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    if i % 3 == 0:
        ports.append({"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090})
    nodeport = i % 10 == 0
    if nodeport:
        for j, p in enumerate(ports):
            p["nodePort"] = 30000 + (2 * i + j) % 2768
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": f"ns-{i % 50}",
                         "resourceVersion": str(10 + i)},
            "spec": {"type": "NodePort" if nodeport else "ClusterIP",
                     "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
                     "selector": {"app": f"svc-{i}"}, "ports": ports}}


def make_slice(i: int, rng: Random, version: int = 0) -> dict[str, Any]:
    endpoints = [{"addresses": [f"10.{64 + rng.randrange(64)}.{rng.randrange(256)}."
                                f"{rng.randrange(1, 255)}"],
                  "nodeName": f"node-{rng.randrange(1, 1001):05d}",
                  "conditions": {"ready": True, "serving": True, "terminating": False}}
                 for _ in range(1 + rng.randrange(10))]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"svc-{i}-abcde", "namespace": f"ns-{i % 50}",
                         "labels": {SERVICE_NAME_LABEL: f"svc-{i}"},
                         "resourceVersion": str(100_000 + 10 * i + version)},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                      {"name": "metrics", "port": 9090, "protocol": "TCP"}]}


def build(n: int) -> tuple[Indexer, Indexer, _InformerCaches]:
    services, slices = Indexer(), Indexer()
    slices.add_indexers({SERVICE_INDEX: _slice_index})
    rng = Random(1)
    for i in range(n):
        services.add(make_service(i))
        slices.add(make_slice(i, rng))
    return services, slices, _InformerCaches(services, slices)


def run(n: int, k: int, full: bool) -> float:
    """Seconds per sync over ``k`` syncs, one Service's slice replaced before each."""
    _, slices, caches = build(n)
    tracker, nat = ChangeTracker(node=NODE), NatTable(rng=Random(2))
    if full:
        tracker.full_sync_period = 0.0  # every sync full, as all were before partial syncs
    plan = tracker.plan(caches, now=0.0)
    nat.replace_rules(plan.add)
    tracker.committed(plan, now=0.0)
    rng = Random(3)
    t0 = time.perf_counter()
    for i in range(k):
        j = (i * 7919) % n
        old = slices.get_by_key(f"ns-{j % 50}/svc-{j}-abcde")
        new = make_slice(j, rng, version=i + 1)
        slices.add(new)
        tracker.slice_changed(old, new)  # the informer's event
        plan = tracker.plan(caches, now=1.0 + i)
        if plan.full:
            nat.replace_rules(plan.add)
        else:
            nat.update_rules(plan.remove, plan.add)
        tracker.committed(plan, now=1.0 + i)
        assert plan.full == full and (full or len(plan.rules) == 1)
    elapsed = (time.perf_counter() - t0) / k
    services = caches.services()
    want = {r.key: r for r in node_rules(services, slices.list(), node=NODE)}
    assert {r.key: r for r in nat.rules()} == want  # the same table either way
    return elapsed


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    q = args.quick
    repeat = args.repeat or (1 if q else 5)
    n, k_partial, k_full = (200, 50, 10) if q else (1640, 500, 20)
    partial = statistics.median(run(n, k_partial, False) for _ in range(repeat))
    full = statistics.median(run(n, k_full, True) for _ in range(repeat))
    _, slices, caches = build(n)
    rules = len(node_rules(caches.services(), slices.list(), node=NODE))
    rows = [
        (f"{n} Services ({rules} rules): partial sync", f"{partial * 1e3:.3f}",
         f"ms/sync (median of {repeat} x {k_partial} syncs)"),
        (f"{n} Services ({rules} rules): full sync", f"{full * 1e3:.3f}",
         f"ms/sync (median of {repeat} x {k_full} syncs)"),
        (f"{n} Services: ratio", f"{full / partial:.0f}", "full / partial"),
    ]
    print(table(rows, f"kube-proxy sync benchmark ({'quick' if q else 'full'}; one node, one "
                      "Service's EndpointSlice replaced per sync)"))
    write_json(args.json, {"services": n, "rules": rules, "repeat": repeat,
                           "ms_per_sync": {"partial": partial * 1e3, "full": full * 1e3,
                                           "ratio": full / partial}})


if __name__ == "__main__":
    main()
