"""End-to-end reconcile benchmark: a Deployment of N replicas (100 and 1,000) in a 100-node
simulated cluster, from ``create`` to all replicas available.

Figures, per replica count:
- ``deployment_ready_s``: virtual seconds from the create to ``status.availableReplicas == N``
  (the model's prediction: kube-controller-manager's QPS 20/burst 30 and slow-start batches,
  the scheduler, kubelets and image pulls all in the path);
- ``pod_startup_p50_s``/``pod_startup_p99_s``: per pod, virtual seconds from its creation
  to Running as observed through a watch, minus its image pull (the "including waiting"
  figure of its ``Pulled`` event) — the Kubernetes pod startup SLI ("excluding time to pull
  images … observed via watch"; resolution 1 ms, as the pull times are printed);
- ``wall_ms_per_pod``: the simulator's wall-clock cost per replica, create to available.

The cluster: 100 nodes (8 CPU, 32 GiB, 110 pods), one etcd member, one apiserver, scheduler
and controller manager, no addons; the cluster boots and every node is Ready before the
clock starts. An observer actor watches pods and the Deployment through informers and stamps
each change with the virtual time it sees it.

    python benchmarks/reconcile.py [--quick] [--json PATH] [--profile PATH]

``--quick`` runs 10 and 100 replicas on 10 nodes. ``--profile`` writes cProfile stats of the
largest run.
"""

from __future__ import annotations

import cProfile
import os
import re
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from actors import ClusterSpec, NodeSpec, simulate
from actors.client import Client, ClientActorMixin, SharedInformerFactory
from actors.cluster import ADMIN_USER, Cluster
from benchmarks._common import parser, table, write_json
from runtime import Actor

_PULLED = re.compile(r"\(([\d.]+)(m?s) including waiting\)")


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def _seconds(value: str, unit: str) -> float:
    return float(value) / (1000.0 if unit == "ms" else 1.0)


def _deployment(n: int) -> dict[str, Any]:
    labels = {"app": "bench"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": "default", "labels": labels},
            "spec": {"replicas": n, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "app", "image": "nginx",
                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


class Observer(ClientActorMixin, Actor):
    """Watches pods and the Deployment through informers and stamps what it sees with its
    own (virtual) clock: when each pod first appeared and first ran, and when the Deployment
    was first seen fully available."""

    def __init__(self, apiservers: list[str], token: str, replicas: int) -> None:
        self.apiservers, self.token, self.replicas = apiservers, token, replicas

    def on_start(self) -> None:
        self.created: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.available_at: float | None = None
        client = Client(self, apiservers=self.apiservers, token=self.token, qps=-1)
        factory = SharedInformerFactory(client)
        factory.informer_for("pods", namespace="default").add_event_handler(
            on_add=self._pod, on_update=lambda _old, new: self._pod(new))
        factory.informer_for("deployments", namespace="default").add_event_handler(
            on_add=self._deployment, on_update=lambda _old, new: self._deployment(new))
        factory.start()

    def _pod(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        self.created.setdefault(name, self.now())
        if (pod.get("status") or {}).get("phase") == "Running":
            self.running.setdefault(name, self.now())

    def _deployment(self, d: dict[str, Any]) -> None:
        if self.available_at is None and (d.get("status") or {}).get("availableReplicas") == self.replicas:
            self.available_at = self.now()


def _wait_nodes_ready(c: Cluster, nodes: int) -> None:
    def ready(c: Cluster) -> bool:
        items = c.list("nodes")["items"]
        return len(items) == nodes and all(
            any(x["type"] == "Ready" and x["status"] == "True" for x in n["status"].get("conditions") or ())
            for n in items)

    c.run_until(ready, timeout=300, poll=1.0)


def _pull_seconds(c: Cluster) -> dict[str, float]:
    """Pod name -> its image pull time including waiting (0 when the image was present)."""
    out: dict[str, float] = {}
    for e in c.list("events", "default")["items"]:
        if e["reason"] == "Pulled" and e["involvedObject"]["kind"] == "Pod":
            m = _PULLED.search(e["message"])
            if m:
                out[e["involvedObject"]["name"]] = _seconds(m.group(1), m.group(2))
    return out


def run(replicas: int, nodes: int, seed: int = 1) -> dict[str, float]:
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i:03d}", cpu="8", memory="32Gi") for i in range(nodes)],
                       addons=())
    with simulate(spec, seed=seed) as c:
        _wait_nodes_ready(c, nodes)
        c.sim.spawn("$bench-observer", Observer, c.apiservers, c.token_for(ADMIN_USER), replicas)
        obs: Observer = c.sim.actor("$bench-observer")
        c.advance(1.0)  # its informers list
        wall0 = time.perf_counter()
        t0 = c.now
        c.create(_deployment(replicas))
        c.sim.run_until(lambda: obs.available_at is not None, timeout=3600, poll=0.5)
        wall = time.perf_counter() - wall0
        assert obs.available_at is not None
        ready_s = obs.available_at - t0
        pulls = _pull_seconds(c)
        # Pull times are printed to the millisecond: clamp the rounding below zero.
        startup = [max(0.0, obs.running[n] - obs.created[n] - pulls.get(n, 0.0)) for n in obs.running]
    return {"deployment_ready_s": ready_s, "pod_startup_p50_s": statistics.median(startup),
            "pod_startup_p99_s": _percentile(startup, 99), "wall_ms_per_pod": 1000 * wall / replicas,
            "pods_measured": len(startup)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--profile", metavar="PATH", help="write cProfile stats of the largest run")
    args = p.parse_args()
    sizes, nodes = ((10, 100), 10) if args.quick else ((100, 1000), 100)
    results: dict[str, dict[str, float]] = {}
    for n in sizes:
        if args.profile and n == sizes[-1]:
            prof = cProfile.Profile()
            results[str(n)] = prof.runcall(run, n, nodes)
            prof.dump_stats(args.profile)
        else:
            results[str(n)] = run(n, nodes)
    rows = []
    for n, r in results.items():
        rows += [(f"deployment ready, {n} replicas", f"{r['deployment_ready_s']:.1f} s", "virtual, create → all available"),
                 (f"pod startup p50, {n} replicas", f"{1000 * r['pod_startup_p50_s']:.2f} ms",
                  "virtual, create → Running seen by watch, pull excluded"),
                 (f"pod startup p99, {n} replicas", f"{1000 * r['pod_startup_p99_s']:.2f} ms", "virtual"),
                 (f"wall per pod, {n} replicas", f"{r['wall_ms_per_pod']:.1f} ms", "simulator cost")]
    print(table(rows, f"kubetwin reconcile: one Deployment in a {nodes}-node cluster"))
    keys = ("deployment_ready_s", "pod_startup_p50_s", "pod_startup_p99_s", "wall_ms_per_pod")
    write_json(args.json, {"benchmark": "reconcile", "nodes": nodes,
                           **{k: {n: round(r[k], 4) for n, r in results.items()} for k in keys}})


if __name__ == "__main__":
    main()
