"""clusterloader2's "load" shape for ``benchmarks/reconcile.py``: what to create (``load_shape``,
the manifests) and the actor that creates it on schedule and watches what follows
(``LoadDriver``).

The arithmetic is perf-tests' ``clusterloader2/testing/load/config.yaml`` (see reconcile.py's
docstring): one namespace per 100 nodes, 30 pods per node, a quarter of each namespace's pods
in Deployments of 250, a quarter in Deployments of 30, half in Deployments of 5, integer
divisions throughout; Services for the first half of each size.

Concurrency model: ``LoadDriver`` is one actor; its informers' handlers stamp what they see
with its (virtual) clock, and each create runs in its own task so that a slow answer never
delays the next create. The synchronous driver reads its dicts between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.api import ApiError
from actors.client import Client, ClientActorMixin, SharedInformerFactory
from runtime import Actor, handler

BIG, MEDIUM, SMALL = 250, 30, 5
NODES_PER_NAMESPACE = 100
LOAD_LABEL = "group=load"
IMAGE = "registry.k8s.io/pause:3.9"  # preloaded on every node (the sandbox image)


@dataclass(frozen=True)
class LoadShape:
    nodes: int
    pods_per_node: int
    throughput: float  # pods/s
    namespaces: list[str]
    # (namespace, name, size class, replicas, svc label)
    deployments: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    services: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)

    @property
    def pods(self) -> int:
        return sum(d[3] for d in self.deployments)

    @property
    def saturation_s(self) -> float:
        """clusterloader2's ``saturationTime``: total pods / throughput."""
        return self.pods / self.throughput

    def describe(self) -> dict[str, Any]:
        by_size: dict[str, int] = {}
        for d in self.deployments:
            by_size[str(d[2])] = by_size.get(str(d[2]), 0) + 1
        return {"nodes": self.nodes, "pods_per_node": self.pods_per_node, "pods": self.pods,
                "namespaces": len(self.namespaces), "deployments_by_size": by_size,
                "services": len(self.services), "throughput": self.throughput,
                "saturation_s": round(self.saturation_s, 3), "image": IMAGE}


def load_shape(nodes: int, *, pods_per_node: int = 30, throughput: float = 10.0,
               services: bool = True) -> LoadShape:
    """The objects clusterloader2's load config creates for ``nodes`` nodes. Below 100 nodes
    (which clusterloader2 refuses) one namespace holds all the nodes' pods. ``services``
    False: no Services (the Deployments keep their ``svc`` labels)."""
    if nodes < 1 or pods_per_node < 1 or throughput <= 0:
        raise ValueError("nodes, pods per node and throughput must be positive")
    namespaces = max(1, nodes // NODES_PER_NAMESPACE)
    per_ns_nodes = nodes if nodes < NODES_PER_NAMESPACE else NODES_PER_NAMESPACE
    pods = per_ns_nodes * pods_per_node
    counts = {BIG: pods // (4 * BIG), MEDIUM: pods // (4 * MEDIUM), SMALL: pods // (2 * SMALL)}
    names = [f"load-{i + 1}" for i in range(namespaces)]
    shape = LoadShape(nodes, pods_per_node, throughput, names)
    label = {BIG: "big", MEDIUM: "medium", SMALL: "small"}
    for ns in names:
        for size, count in counts.items():
            for i in range((count + 1) // 2 if services else 0):
                shape.services.append((ns, f"{label[size]}-service-{i}"))
        for size, count in counts.items():
            for i in range(count):
                shape.deployments.append((ns, f"{label[size]}-deployment-{i}", size, size,
                                          f"{label[size]}-service-{i}"))
    return shape


def deployment_manifest(namespace: str, name: str, replicas: int, svc: str) -> dict[str, Any]:
    """clusterloader2's ``deployment.yaml`` (pause image, 1m/4M requests, 900 s tolerations),
    without its ConfigMap and Secret volumes."""
    tolerations = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 900}
                   for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": {"group": "load", "svc": svc}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"name": name}},
                     "template": {"metadata": {"labels": {"group": "load", "name": name, "svc": svc}},
                                  "spec": {"containers": [{"name": name, "image": IMAGE, "resources": {
                                      "requests": {"cpu": "1m", "memory": "4M"}}}],
                                      "terminationGracePeriodSeconds": 1,
                                      "tolerations": tolerations}}}}


def service_manifest(namespace: str, name: str) -> dict[str, Any]:
    """clusterloader2's ``service.yaml``."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"svc": name}, "ports": [{"port": 80, "targetPort": 80}]}}


class _Create(msgspec.Struct, frozen=True, tag="bench.load.create"):
    index: int


class LoadDriver(ClientActorMixin, Actor):
    """Creates the Deployments at their offsets after ``go()`` and stamps, in its own virtual
    clock, what it sees through informers (all namespaces, label ``group=load``): per pod,
    first seen (created), first seen bound (scheduled), first seen Running; per Deployment,
    the create sent and first seen fully available. Its client has no rate limit."""

    def __init__(self, apiservers: list[str], token: str, manifests: list[dict[str, Any]],
                 offsets: list[float]) -> None:
        self.apiservers, self.token = apiservers, token
        self.manifests, self.offsets = manifests, offsets

    def on_start(self) -> None:
        self.issued: dict[str, float] = {}  # "ns/name" -> create sent
        self.answered: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.available: dict[str, float] = {}
        self.created: dict[str, float] = {}  # "ns/name" of a pod -> first seen
        self.scheduled: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.client = Client(self, apiservers=self.apiservers, token=self.token, qps=-1)
        self.factory = SharedInformerFactory(self.client)
        self.factory.informer_for("pods", label_selector=LOAD_LABEL).add_event_handler(
            on_add=self._pod, on_update=lambda _old, new: self._pod(new))
        self.factory.informer_for("deployments", label_selector=LOAD_LABEL).add_event_handler(
            on_add=self._deployment, on_update=lambda _old, new: self._deployment(new))
        self.factory.start()

    def synced(self) -> bool:
        return self.factory.has_synced()

    def go(self) -> None:
        """Arm one timer per Deployment (called from the synchronous driver)."""
        for i, offset in enumerate(self.offsets):
            self.after(offset, _Create(i))

    @handler
    def _on_create(self, m: _Create) -> None:
        self.spawn(self._create(self.manifests[m.index]), name=f"{self.name}:create")

    async def _create(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        self.issued[key] = self.now()
        try:
            await self.client.create("deployments", obj)
        except ApiError as e:
            self.failed[key] = f"{e.code} {e.message}"
        self.answered[key] = self.now()

    def _pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        now = self.now()
        self.created.setdefault(key, now)
        if key not in self.scheduled and (pod.get("spec") or {}).get("nodeName"):
            self.scheduled[key] = now
        if key not in self.running and (pod.get("status") or {}).get("phase") == "Running":
            self.running[key] = now

    def _deployment(self, d: dict[str, Any]) -> None:
        meta, spec, st = d["metadata"], d.get("spec") or {}, d.get("status") or {}
        key = f"{meta['namespace']}/{meta['name']}"
        if key in self.available:
            return
        n = spec.get("replicas", 1)
        if (st.get("observedGeneration", 0) >= meta.get("generation", 1)
                and st.get("availableReplicas", 0) == n and st.get("updatedReplicas", 0) == n
                and st.get("replicas", 0) == n):
            self.available[key] = self.now()
