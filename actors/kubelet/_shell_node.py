"""What the kubelet writes about its node: the Node object, its status, and the node Lease.

What it is: pure builders for the kubelet actor.
- ``KubeletConfig``: one node's kubelet configuration (``NodeSpec`` capacity, labels and
  taints, addresses, timings), with Kubernetes' defaults: ``nodeStatusUpdateFrequency`` 10 s,
  ``nodeStatusReportFrequency`` 5 min, ``nodeLeaseDurationSeconds`` 40 renewed every 10 s
  (a quarter of it), ``kubeAPIQPS``/``kubeAPIBurst`` 50/100.
- ``node_object``: what ``tryRegisterWithAPIServer`` creates — labels (``kubernetes.io/
  hostname``, ``kubernetes.io/os=linux``, ``kubernetes.io/arch=amd64`` and their beta
  twins, the spec's, and for minikube's control-plane node ``node-role.kubernetes.io/
  control-plane`` with minikube's own labels), the spec's taints, the kubelet's annotations.
- ``node_status``: capacity = allocatable (cpu, memory, pods, ephemeral-storage, hugepages:
  minikube's kubelet reserves nothing and sets its hard eviction thresholds to 0%),
  conditions MemoryPressure/DiskPressure/PIDPressure/Ready in the kubelet's order, reasons
  and messages (Ready: ``KubeletReady`` "kubelet is posting ready status", or
  ``KubeletNotReady`` while the pod network is not up), addresses InternalIP/Hostname,
  daemonEndpoints, nodeInfo (``containerd://1.7.22``, ``v1.31.0``, Ubuntu 22.04, amd64) and
  the images present. ``status_changed`` ignores heartbeat times, as the kubelet does when
  it decides whether a status must be written before the 5-minute report.
- ``lease_object``: ``kube-node-lease/<node>``, owned by the Node.
- ``node_addressing``: the node IP and fallback podCIDR of the i-th node of a spec.

Concurrency model: none; pure functions of their arguments (times passed in).

Invariants: a condition's lastTransitionTime changes only when its status does; the same
inputs give the same objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from actors.client import format_micro_time
from actors.kubelet._status import rfc3339

__all__ = ["KubeletConfig", "lease_object", "node_addressing", "node_labels", "node_object",
           "node_status", "status_changed"]

Obj = dict[str, Any]
KUBELET_VERSION = "v1.31.0"
CONTAINER_RUNTIME = "containerd://1.7.22"
OS_IMAGE = "Ubuntu 22.04.5 LTS"
KERNEL = "5.15.0-125-generic"
EPHEMERAL_STORAGE = "17734596Ki"  # minikube's default 20000 MB disk, as the kubelet sees it
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
NOT_READY_MESSAGE = ("container runtime network not ready: NetworkReady=false "
                     "reason:NetworkPluginNotReady message:Network plugin returns error: "
                     "cni plugin not initialized")
_PRESSURE = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
)


@dataclass(frozen=True)
class KubeletConfig:
    """One node's kubelet (see the module docstring)."""

    node: str
    node_ip: str
    pod_cidr: str  # used when no node IPAM controller assigns one (see the actor)
    apiservers: tuple[str, ...]
    token: str
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Mapping[str, Any]] = ()
    control_plane: bool = False
    minikube: bool = False
    cluster_cidr: str = "10.244.0.0/16"
    wait_for_pod_cidr: bool = False  # a controller manager runs: take spec.podCIDR from it
    # With a controller manager, self-assign pod_cidr after this long without one from node
    # IPAM; None (the default) waits for node IPAM as a real kubelet does (a self-assigned
    # CIDR can collide with one IPAM hands another node meanwhile).
    pod_cidr_wait: float | None = None
    lease_duration: int = 40
    status_update: float = 10.0
    status_report: float = 300.0
    qps: float = 50.0
    burst: int = 100
    # image repository -> {(port, protocol): socket server} (what a binary serves: coredns)
    sockets: Mapping[str, Mapping[tuple[int, str], Any]] = field(default_factory=dict)

    @property
    def lease_renew(self) -> float:
        return self.lease_duration / 4  # renewIntervalFraction 0.25


def node_addressing(index: int, total: int) -> tuple[str, str, str, str]:
    """(node IP, podCIDR, underlay CIDR, cluster CIDR) of node ``index`` of ``total``:
    minikube's 192.168.49.2, .3, … and 10.244.<i>.0/24 for up to 253 nodes; a /16 underlay
    and 10.128.0.0/9 split in /24s beyond."""
    if total <= 253:
        underlay, cluster = "192.168.49.0/24", "10.244.0.0/16"
    else:
        underlay, cluster = "192.168.0.0/16", "10.128.0.0/9"
    ip = IPv4Address("192.168.49.2") + index
    net = IPv4Network(cluster)
    cidr = IPv4Network((int(net.network_address) + index * 256, 24))
    if ip not in IPv4Network(underlay) or not cidr.subnet_of(net):
        raise ValueError(f"node {index}: no address left in {underlay} / {cluster}")
    return str(ip), str(cidr), underlay, cluster


def node_labels(cfg: KubeletConfig) -> dict[str, str]:
    labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": cfg.node,
              "kubernetes.io/os": "linux"}
    if cfg.minikube:
        labels.update({"minikube.k8s.io/name": cfg.node, "minikube.k8s.io/primary": "true",
                       "minikube.k8s.io/version": "v1.34.0"})
    if cfg.control_plane:
        labels.update({CONTROL_PLANE_LABEL: "",
                       "node.kubernetes.io/exclude-from-external-load-balancers": ""})
    labels.update(cfg.labels)
    return labels


def _uuid(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _resources(cfg: KubeletConfig) -> Obj:
    return {"cpu": cfg.cpu, "ephemeral-storage": EPHEMERAL_STORAGE, "hugepages-1Gi": "0",
            "hugepages-2Mi": "0", "memory": cfg.memory, "pods": str(cfg.pods)}


def _conditions(ready: bool, now: float, old: Sequence[Mapping[str, Any]]) -> list[Obj]:
    before = {c.get("type"): c for c in old}
    rows = [(t, "False", r, m) for t, r, m in _PRESSURE]
    rows.append(("Ready", "True", "KubeletReady", "kubelet is posting ready status") if ready
                else ("Ready", "False", "KubeletNotReady", NOT_READY_MESSAGE))
    out = []
    for type_, status, reason, message in rows:
        prev = before.get(type_)
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
        out.append({"type": type_, "status": status, "lastHeartbeatTime": rfc3339(now),
                    "lastTransitionTime": since or rfc3339(now), "reason": reason,
                    "message": message})
    return out


def node_status(cfg: KubeletConfig, *, now: float, ready: bool,
                images: Sequence[tuple[str, int]] = (), image_ids: Mapping[str, str] | None = None,
                old: Mapping[str, Any] | None = None) -> Obj:
    """The status the kubelet reports (see the module docstring)."""
    old_conds = (old or {}).get("conditions") or []
    listed = sorted(images, key=lambda x: (-x[1], x[0]))[:50]  # nodeStatusMaxImages
    ids = image_ids or {}
    return {
        "capacity": _resources(cfg), "allocatable": _resources(cfg),
        "conditions": _conditions(ready, now, old_conds),
        "addresses": [{"type": "InternalIP", "address": cfg.node_ip},
                      {"type": "Hostname", "address": cfg.node}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": hashlib.sha256(cfg.node.encode()).hexdigest()[:32],
                     "systemUUID": _uuid(f"{cfg.node}/system"),
                     "bootID": _uuid(f"{cfg.node}/boot"), "kernelVersion": KERNEL,
                     "osImage": OS_IMAGE, "containerRuntimeVersion": CONTAINER_RUNTIME,
                     "kubeletVersion": KUBELET_VERSION, "operatingSystem": "linux",
                     "architecture": "amd64",
                     # Deprecated (KEP-4004): kubelet 1.31 leaves it empty, but Go always
                     # writes the key, and clients built from the OpenAPI require it.
                     "kubeProxyVersion": ""},
        "images": [{"names": [n for n in (ids.get(ref), ref) if n], "sizeBytes": size}
                   for ref, size in listed],
    }


def node_object(cfg: KubeletConfig, *, now: float, ready: bool, pod_cidr: str | None,
                images: Sequence[tuple[str, int]] = (),
                image_ids: Mapping[str, str] | None = None) -> Obj:
    spec: Obj = {}
    if pod_cidr:
        spec.update(podCIDR=pod_cidr, podCIDRs=[pod_cidr])
    if cfg.taints:
        spec["taints"] = [dict(t) for t in cfg.taints]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": cfg.node, "labels": node_labels(cfg),
                         "annotations": {
                             "node.alpha.kubernetes.io/ttl": "0",
                             "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                             "kubeadm.alpha.kubernetes.io/cri-socket":
                                 "unix:///run/containerd/containerd.sock"}},
            "spec": spec,
            "status": node_status(cfg, now=now, ready=ready, images=images,
                                  image_ids=image_ids)}


def _without_heartbeats(status: Mapping[str, Any]) -> Obj:
    return {**status, "conditions": [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                                      for c in status.get("conditions") or []]}


def status_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    return old is None or _without_heartbeats(old) != _without_heartbeats(new)


def lease_object(node: str, node_uid: str, *, now: float, duration: int) -> Obj:
    meta: Obj = {"name": node, "namespace": "kube-node-lease"}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                    "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration,
                     "renewTime": format_micro_time(now)}}
