"""The ``kubelet`` component: one ``Kubelet`` per ``NodeSpec``, and the physical network.

What it is: the factory registered as ``kubelet``. The cluster's physical world is built
here, once per simulation, and shared through ``BuildContext.extra`` like the clock is
shared by the runtime: ``FABRIC_KEY`` holds the ``netsim.Fabric`` (the underlay joining the
nodes, every node's bridge and routes, every pod's namespace), ``HOSTS_KEY`` the
``NodeHost`` of each node (its container runtime, image store and pod network), which
outlive the kubelet actors. kube-proxy programs the same fabric's NAT tables; the Python API
sends pod traffic through it (``Cluster.request``) and reads container logs from the hosts.

Per node (the i-th of the spec): node IP 192.168.49.(2+i) and podCIDR 10.244.i.0/24 — what
minikube gives its nodes and the node IPAM controller assigns in registration order; the
``system:node:<name>`` identity in ``system:nodes``; the images a kubeadm node has pulled
before it joins (pause, coredns, kube-proxy) preloaded. The spec's first node is the
control-plane node when it is minikube's (named ``minikube``) or labelled
``node-role.kubernetes.io/control-plane``. When a controller manager runs (in the spec and
registered), kubelets wait for the node IPAM controller's podCIDR; otherwise they register
with their own.
The control-plane node also gets its static pod source (``actors.cluster._static_pods``):
the mirror pods of the control plane, which that node's kubelet then runs.

Concurrency model: none; runs while the simulation is built.
"""

from __future__ import annotations

import random

from actors.cluster._components import BuildContext, Component, register_component, registered
from actors.cluster._static_pods import static_pod_components
from actors.dns._addon import COREDNS_IMAGE
from actors.dns._component import COREDNS_REPOSITORY, cluster_zone, coredns_sockets
from actors.kube_proxy._manifests import KUBE_PROXY_IMAGE
from actors.kubelet._actor import Kubelet, NodeHost
from actors.kubelet._images import PAUSE_IMAGE, ImageCache
from actors.kubelet._runtime import ContainerRuntime
from actors.kubelet._shell_net import PodNetwork
from actors.kubelet._shell_node import CONTROL_PLANE_LABEL, KubeletConfig, node_addressing
from netsim import Fabric

__all__ = ["FABRIC_KEY", "HOSTS_KEY", "cluster_fabric", "node_hosts"]

FABRIC_KEY = "netsim.fabric"
HOSTS_KEY = "kubelet.hosts"


def cluster_fabric(ctx: BuildContext) -> Fabric:
    """The simulation's one physical network (created on first use)."""
    fabric = ctx.extra.get(FABRIC_KEY)
    if fabric is None:
        n = max(1, len(ctx.spec.nodes))
        _, _, underlay, cluster = node_addressing(0, n)
        fabric = Fabric(underlay_cidr=underlay, cluster_cidr=cluster,
                        rng=random.Random(f"{ctx.seed}:netsim"))
        ctx.extra[FABRIC_KEY] = fabric
    return fabric  # type: ignore[no-any-return]


def node_hosts(ctx: BuildContext) -> dict[str, NodeHost]:
    hosts = ctx.extra.get(HOSTS_KEY)
    if hosts is None:
        hosts = ctx.extra[HOSTS_KEY] = {}
    return hosts  # type: ignore[no-any-return]


def _build(ctx: BuildContext) -> list[Component]:
    spec = ctx.spec
    fabric, hosts = cluster_fabric(ctx), node_hosts(ctx)
    sockets = {}
    if "coredns" in spec.addons:
        sockets[COREDNS_REPOSITORY] = coredns_sockets(cluster_zone(ctx))
    with_cm = spec.controller_managers > 0 and "kube-controller-manager" in registered()
    out = []
    for i, n in enumerate(spec.nodes):
        ip, cidr, _, cluster = node_addressing(i, len(spec.nodes))
        token = ctx.add_user(f"system:node:{n.name}", ("system:nodes",))
        control_plane = i == 0 and (n.name == "minikube" or CONTROL_PLANE_LABEL in n.labels)
        cfg = KubeletConfig(
            node=n.name, node_ip=ip, pod_cidr=cidr, apiservers=ctx.apiservers, token=token,
            cpu=n.cpu, memory=n.memory, pods=n.pods, labels=dict(n.labels),
            taints=tuple(n.taints), control_plane=control_plane,
            minikube=i == 0 and n.name == "minikube", cluster_cidr=cluster,
            wait_for_pod_cidr=with_cm, sockets=sockets)
        if n.name not in hosts:
            images = ImageCache(preloaded=(PAUSE_IMAGE, COREDNS_IMAGE, KUBE_PROXY_IMAGE))
            hosts[n.name] = NodeHost(n.name, images, ContainerRuntime(n.name, images),
                                     PodNetwork(fabric, n.name, sockets=sockets))
        host = hosts[n.name]
        out.append(Component(f"kubelet/{n.name}",
                             lambda cfg=cfg, host=host: Kubelet(cfg, host)))  # type: ignore[misc]
    return out + static_pod_components(ctx)  # the control-plane node's mirror pods


register_component("kubelet", _build)
