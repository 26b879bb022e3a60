"""What a simulated cluster is made of: ``NodeSpec`` and ``ClusterSpec``.

What it is: plain, frozen descriptions a user builds in code (the topology the DESIGN's
"cluster composition" names): how many etcd members, apiservers, schedulers and
controller managers, which nodes with what capacity, labels and taints, which addons,
and extra users (name -> groups) who get a bearer token. ``ClusterSpec()`` is the seed's
minikube: one of each control-plane component and one node named ``minikube``.

Concurrency model: none; immutable values, checked when built.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["KNOWN_ADDONS", "ClusterSpec", "NodeSpec"]

# The addons a spec may name (minikube's defaults and the seed's kube-system pods). Each is
# started when a component factory for it is registered (``_components``), else skipped.
KNOWN_ADDONS = ("coredns", "storage-provisioner", "dashboard", "addon-manager")


class NodeSpec(msgspec.Struct, frozen=True, kw_only=False):
    """One node: its name, allocatable capacity, labels and taints (Taint dicts, e.g.
    ``{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}``)."""

    name: str
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110
    labels: dict[str, str] = {}
    taints: list[dict[str, Any]] = []

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a node needs a name")
        if self.pods < 0:
            raise ValueError(f"node {self.name}: pods must be >= 0, not {self.pods}")


class ClusterSpec(msgspec.Struct, frozen=True, kw_only=True):
    etcd_members: int = 1
    apiservers: int = 1
    schedulers: int = 1
    controller_managers: int = 1
    nodes: list[NodeSpec] = msgspec.field(default_factory=lambda: [NodeSpec("minikube")])
    addons: tuple[str, ...] = ("coredns", "storage-provisioner", "dashboard", "addon-manager")
    users: dict[str, tuple[str, ...]] = {}  # extra users: name -> groups (tokens minted)

    def __post_init__(self) -> None:
        if self.etcd_members < 1:
            raise ValueError("a cluster needs at least one etcd member")
        if self.apiservers < 1:
            raise ValueError("a cluster needs at least one kube-apiserver")
        if self.schedulers < 0 or self.controller_managers < 0:
            raise ValueError("schedulers and controller_managers must be >= 0")
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique: {names}")
        unknown = [a for a in self.addons if a not in KNOWN_ADDONS]
        if unknown:
            raise ValueError(f"unknown addon(s) {unknown}; known: {list(KNOWN_ADDONS)}")
