"""Static pods and their mirror pods: how the control plane shows up in ``kube-system``.

What it is: on a kubeadm/minikube control-plane node the kubelet runs the control-plane
components from manifests in ``/etc/kubernetes/manifests`` (static pods), and for each one
creates a *mirror pod* in the API so that ``kubectl get pods -n kube-system`` shows it:
``etcd-minikube``, ``kube-apiserver-minikube``, ``kube-controller-manager-minikube``,
``kube-scheduler-minikube`` and — on the minikube of the seed — ``kube-addon-manager-minikube``.
A mirror pod carries the annotation ``kubernetes.io/config.mirror`` (the manifest's hash, as
``kubernetes.io/config.hash``), ``kubernetes.io/config.source: file``, an ownerReference to
its Node (controller, since Kubernetes 1.17), ``nodeName`` and ``hostNetwork``, so its pod IP
is the node's IP.

- ``static_pod_manifests(spec, node, node_ip, kinds)``: the manifests kubeadm (and minikube)
  write for the components the spec runs (a scheduler or controller manager that has no
  registered factory runs nowhere, so gets no manifest), abridged to what the twin uses.
- ``mirror_pod(manifest, node, node_uid, seen)``: the mirror pod the kubelet creates.
- ``StaticPodSource``: one actor per control-plane node at ``static-pods/<node>``, the
  kubelet's file source and mirror-pod client, as ``system:node:<node>`` (the kubelet's own
  identity, which the bootstrap ``system:node`` role lets create and delete pods). Once the
  Node is registered it creates the missing mirror pods, and checks again every
  ``RESYNC`` seconds: a deleted mirror pod comes back, as the kubelet's pod sync recreates it.
  The kubelet on that node runs the mirror pods like any pod bound to it (pull, start,
  Running with the node's IP): the twin's stand-in for the static pod behind each mirror.
- ``static_pod_components(ctx)``: the factory part; the ``kubelet`` component calls it, so a
  spec gets a static pod source for its control-plane node (the first node, when it is
  minikube's or labelled ``node-role.kubernetes.io/control-plane``, as for the kubelet).

Concurrency model: an actor; its one task creates pods one at a time through its client.

Invariants: only pods missing from the API are created (by name, spec.nodeName = the node);
the manifests are pure functions of the spec, so the hashes and names are the same every run.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio

from actors.api import ApiError
from actors.client import Client, ClientActorMixin, TransportError
from runtime import Actor

from ._components import BuildContext, Component, registered
from ._spec import ClusterSpec

__all__ = ["MIRROR_ANNOTATION", "RESYNC", "StaticPodSource", "StaticPodSourceConfig",
           "control_plane_node", "mirror_pod", "static_pod_components", "static_pod_manifests"]

Obj = dict[str, Any]
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
RESYNC = 10.0  # how often the mirror pods are checked (the kubelet recreates a missing one
# on its next sync of the static pod)
RETRY = 1.0
K8S_VERSION = "v1.31.0"
ETCD_IMAGE = "registry.k8s.io/etcd:3.5.15-0"
ADDON_MANAGER_IMAGE = "k8s.gcr.io/kube-addon-manager:v9.0.2"  # the seed's minikube (2019-20)
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
# kubeadm's control-plane manifests: component -> (kind that runs it, image, cpu request).
_COMPONENTS = (
    ("etcd", "etcd", ETCD_IMAGE, "100m"),
    ("kube-apiserver", "kube-apiserver", f"registry.k8s.io/kube-apiserver:{K8S_VERSION}", "250m"),
    ("kube-controller-manager", "kube-controller-manager",
     f"registry.k8s.io/kube-controller-manager:{K8S_VERSION}", "200m"),
    ("kube-scheduler", "kube-scheduler", f"registry.k8s.io/kube-scheduler:{K8S_VERSION}",
     "100m"),
)


def control_plane_node(spec: ClusterSpec) -> str | None:
    """The node whose kubelet runs the static pods (the kubelet component's rule)."""
    if not spec.nodes:
        return None
    first = spec.nodes[0]
    if first.name == "minikube" or CONTROL_PLANE_LABEL in first.labels:
        return first.name
    return None


def _command(component: str, node: str, ip: str) -> list[str]:
    if component == "etcd":
        return ["etcd", f"--advertise-client-urls=https://{ip}:2379",
                "--data-dir=/var/lib/minikube/etcd", f"--name={node}",
                f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379"]
    if component == "kube-apiserver":
        return ["kube-apiserver", f"--advertise-address={ip}", "--secure-port=8443",
                "--etcd-servers=https://127.0.0.1:2379", "--service-cluster-ip-range=10.96.0.0/12",
                "--authorization-mode=Node,RBAC"]
    if component == "kube-controller-manager":
        return ["kube-controller-manager", "--allocate-node-cidrs=true",
                "--cluster-cidr=10.244.0.0/16", "--leader-elect=true",
                "--use-service-account-credentials=true"]
    return ["kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true"]


def _manifest(name: str, labels: Obj, annotations: Obj, container: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": labels,
                         "annotations": annotations},
            "spec": {"containers": [container], "hostNetwork": True,
                     "priorityClassName": "system-node-critical",
                     "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                     "tolerations": [{"effect": "NoExecute", "operator": "Exists"}]}}


def static_pod_manifests(spec: ClusterSpec, node: str, node_ip: str,
                         kinds: Iterable[str]) -> list[Obj]:
    """The static pods of the control-plane node ``node`` (IP ``node_ip``): one per
    control-plane component the spec runs (``kinds``: the registered component kinds), then
    minikube's addon manager when the ``addon-manager`` addon is on."""
    kinds = set(kinds)
    counts = {"etcd": spec.etcd_members, "kube-apiserver": spec.apiservers,
              "kube-controller-manager": spec.controller_managers,
              "kube-scheduler": spec.schedulers}
    out = []
    for component, kind, image, cpu in _COMPONENTS:
        if counts[kind] <= 0 or kind not in kinds:
            continue
        annotations = {}
        if component == "etcd":
            annotations["kubeadm.kubernetes.io/etcd.advertise-client-urls"] = \
                f"https://{node_ip}:2379"
        elif component == "kube-apiserver":
            annotations["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] = \
                f"{node_ip}:8443"
        container = {"name": component, "image": image, "imagePullPolicy": "IfNotPresent",
                     "command": _command(component, node, node_ip),
                     "resources": {"requests": {"cpu": cpu}}}
        out.append(_manifest(f"{component}-{node}",
                             {"component": component, "tier": "control-plane"},
                             annotations, container))
    if "addon-manager" in spec.addons and "addon-manager" in kinds:
        container = {"name": "kube-addon-manager", "image": ADDON_MANAGER_IMAGE,
                     "imagePullPolicy": "IfNotPresent",
                     "env": [{"name": "KUBECONFIG", "value": "/var/lib/minikube/kubeconfig"}],
                     "resources": {"requests": {"cpu": "5m", "memory": "50Mi"}}}
        out.append(_manifest(f"kube-addon-manager-{node}",
                             {"component": "kube-addon-manager", "version": "v9.0.2",
                              "kubernetes.io/minikube-addons": "addon-manager"},
                             {}, container))
    return out


def _rfc3339_nano(wall: float) -> str:
    t = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def config_hash(manifest: Obj) -> str:
    """``kubernetes.io/config.hash``: the kubelet hashes the manifest it read (md5, hex)."""
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def mirror_pod(manifest: Obj, node: str, node_uid: str, seen: float) -> Obj:
    """The mirror pod of a static pod: the manifest bound to ``node``, annotated as the
    kubelet does (``config.hash`` = ``config.mirror``, ``config.seen``, ``config.source``)
    and owned by the Node (``kubelet/pod/mirror_client.go``)."""
    h = config_hash(manifest)
    meta = dict(manifest["metadata"])
    meta["annotations"] = {**meta.get("annotations", {}), "kubernetes.io/config.hash": h,
                           MIRROR_ANNOTATION: h, "kubernetes.io/config.seen": _rfc3339_nano(seen),
                           "kubernetes.io/config.source": "file"}
    meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                "uid": node_uid, "controller": True}]
    return {**manifest, "metadata": meta, "spec": {**manifest["spec"], "nodeName": node}}


@dataclass(frozen=True)
class StaticPodSourceConfig:
    node: str
    apiservers: tuple[str, ...]
    token: str  # system:node:<node>, the kubelet's identity
    manifests: tuple[Obj, ...]
    resync: float = RESYNC


class StaticPodSource(ClientActorMixin, Actor):
    """The kubelet's static pod source and mirror client for one node (module docstring)."""

    def __init__(self, config: StaticPodSourceConfig) -> None:
        self.config = config
        self.created: list[str] = []  # mirror pods created, in order (inspection)

    def on_start(self) -> None:
        cfg = self.config
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             user_agent=f"kubelet/{K8S_VERSION} (linux/amd64) kubernetes/9edcffc")
        self.spawn(self._run(), name=f"{self.name}:mirror")

    async def _run(self) -> None:
        node_uid = await self._node_uid()
        while True:
            await self._sync(node_uid)
            await anyio.sleep(self.config.resync)

    async def _node_uid(self) -> str:
        while True:
            try:
                node = await self.client.get("nodes", self.config.node)
                return str(node["metadata"]["uid"])
            except (ApiError, TransportError):
                await anyio.sleep(RETRY)  # not registered yet (or no apiserver)

    async def _sync(self, node_uid: str) -> None:
        try:
            have = await self.client.list("pods", "kube-system",
                                          field_selector=f"spec.nodeName={self.config.node}")
        except (ApiError, TransportError):
            return  # next resync
        names = {p["metadata"]["name"] for p in have.get("items") or []}
        for manifest in self.config.manifests:
            name = manifest["metadata"]["name"]
            if name in names:
                continue
            pod = mirror_pod(manifest, self.config.node, node_uid, self.wall_time())
            try:
                await self.client.create("pods", pod, "kube-system")
                self.created.append(name)
            except ApiError as e:
                if e.reason != "AlreadyExists":
                    self.log.info("mirror pod not created", pod=name, error=str(e))
            except TransportError as e:
                self.log.info("apiserver unreachable", error=str(e))


def static_pod_components(ctx: BuildContext) -> list[Component]:
    """The static pod source of the spec's control-plane node (none without one)."""
    from actors.kubelet._shell_node import node_addressing

    node = control_plane_node(ctx.spec)
    if node is None:
        return []
    ip = node_addressing(0, len(ctx.spec.nodes))[0]
    manifests = static_pod_manifests(ctx.spec, node, ip, registered())
    if not manifests:
        return []
    token = ctx.add_user(f"system:node:{node}", ("system:nodes",))
    cfg = StaticPodSourceConfig(node=node, apiservers=ctx.apiservers, token=token,
                                manifests=tuple(manifests))
    return [Component(f"static-pods/{node}", lambda: StaticPodSource(cfg))]
