"""``Kubelet``: the node agent, one actor per node at address ``kubelet/<node>``.

What it is: the shell around the kubelet's pure core (``PodWorker``, ``ContainerRuntime``,
``ImageCache``). At start it registers its Node (``_shell_node.node_object``: capacity,
labels, taints, addresses, conditions, nodeInfo; on AlreadyExists — a restarted kubelet —
it reconciles the status instead), records the kubelet's start-up events on the Node, then:
- renews ``kube-node-lease/<node>`` every 10 s (leaseDurationSeconds 40), creating it when
  missing, re-reading it on a conflict;
- computes the node status every 10 s and PATCHes ``nodes/<node>/status`` (strategic merge:
  conditions by type, so conditions other components own survive) when it changed
  (heartbeats aside) or 5 minutes after the last report;
- takes its podCIDR from the Node's ``spec.podCIDR`` (set by the node IPAM controller);
  when the cluster runs no controller manager, the kubelet registers the Node with the
  podCIDR of its own configuration (what the node IPAM controller would have assigned: the
  i-th /24 of 10.244.0.0/16); when a controller manager runs, it waits for node IPAM (or,
  only if ``pod_cidr_wait`` is set, patches that podCIDR in itself after that many
  seconds). With a podCIDR the node joins
  the pod network (``PodNetwork.attach``) and Ready turns True;
- watches the pods bound to it (``spec.nodeName=<node>``) and hands them to ``PodManager``;
- watches its own Node and stops when the Node is deleted (the containers it ran keep their
  state in the runtime, as a real node's containerd does when its kubelet stops).

The node's machine — container runtime, image store, pod network, and the pod workers'
bookkeeping — lives in a ``NodeHost`` that outlives the actor: a kubelet that crashes and
restarts finds its containers still running and resumes them, as a real kubelet does.

Concurrency model: an actor. Registration, lease renewal and status updates run in spawned
tasks (one at a time each); informer handlers and timers run pod syncs synchronously.

Invariants: at most one lease renewal and one status update in flight; the node network is
attached once, with the first podCIDR seen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec

from actors.api import ApiError, to_dict
from actors.apiserver._protocol import ContainerLogRequest
from actors.client import (
    Client,
    ClientActorMixin,
    DeletedFinalStateUnknown,
    SharedInformerFactory,
    TransportError,
)
from actors.kubelet._images import ImageCache
from actors.kubelet._logs import container_logs
from actors.kubelet._podworker import PodWorker
from actors.kubelet._runtime import ContainerRuntime
from actors.kubelet._shell_net import PodNetwork
from actors.kubelet._shell_node import (
    KubeletConfig,
    lease_object,
    node_object,
    node_status,
    status_changed,
)
from actors.kubelet._shell_pods import PodManager, SyncPod
from actors.kubelet._shell_status import KubeletEventRecorder, StatusWriter
from runtime import Actor, handler

__all__ = ["Kubelet", "NodeHost"]

Obj = dict[str, Any]
USER_AGENT = "kubelet/v1.31.0 (linux/amd64) kubernetes/9edcffc"


@dataclass
class NodeHost:
    """A node's machine: what survives the kubelet process (see the module docstring)."""

    name: str
    images: ImageCache
    runtime: ContainerRuntime
    network: PodNetwork
    workers: dict[str, PodWorker] = field(default_factory=dict)


class Tick(msgspec.Struct, frozen=True, tag="kubelet.tick"):
    what: str  # "lease" | "status" | "podcidr"


class Kubelet(ClientActorMixin, Actor):
    def __init__(self, config: KubeletConfig, host: NodeHost) -> None:
        self.config = config
        self.host = host
        self.node_uid = ""
        self.registered = False
        self.last_status: Obj | None = None
        self.last_report = float("-inf")
        self.lease: Obj | None = None
        self.lease_renewals = 0
        self._was_ready: bool | None = None
        self._busy: dict[str, asyncio.Task[Any]] = {}

    def on_start(self) -> None:
        cfg = self.config
        self.client = Client(self, apiservers=list(cfg.apiservers), token=cfg.token,
                             qps=cfg.qps, burst=cfg.burst, user_agent=USER_AGENT)
        self.recorder = KubeletEventRecorder(self.client, "kubelet", cfg.node)
        self.status_writer = StatusWriter(self, self.client)
        self.pods = PodManager(self, cfg, self.host, self.status_writer, self.recorder)
        self.factory = SharedInformerFactory(self.client)
        self.factory.informer_for("pods", field_selector=f"spec.nodeName={cfg.node}"
                                  ).add_event_handler(
            on_add=self.pods.pod_changed, on_update=lambda _o, new: self.pods.pod_changed(new),
            on_delete=self._pod_deleted)
        self.factory.informer_for("nodes", field_selector=f"metadata.name={cfg.node}"
                                  ).add_event_handler(
            on_add=self._node_seen, on_update=lambda _o, new: self._node_seen(new),
            on_delete=self._node_deleted)
        self._start("register", self._register())

    def on_stop(self) -> None:
        self.factory.shutdown()
        self.pods.stop()

    def _start(self, what: str, coro: Any) -> None:
        task = self._busy.get(what)
        if task is not None and not task.done():
            coro.close()
            return
        self._busy[what] = self.spawn(coro, name=f"{self.name}:{what}")

    # -- registration ----------------------------------------------------------------------------
    def _ready(self) -> bool:
        return self.host.network.ready

    def _images(self) -> tuple[list[tuple[str, int]], dict[str, str]]:
        images = list(self.host.images.images(self.wall_time()))
        return images, {ref: self.host.images.image_id(ref) for ref, _ in images}

    async def _register(self) -> None:
        cfg = self.config
        own_cidr = None if cfg.wait_for_pod_cidr else cfg.pod_cidr
        delay = 0.1
        while True:
            images, ids = self._images()
            obj = node_object(cfg, now=self.wall_time(), ready=self._ready() or bool(own_cidr),
                              pod_cidr=own_cidr, images=images, image_ids=ids)
            try:
                node = await self.client.create("nodes", obj)
                break
            except ApiError as e:
                if e.reason == "AlreadyExists":
                    node = await self._get_node()
                    if node is not None:
                        break
                self.log.info("unable to register node", error=str(e))
            except TransportError as e:
                self.log.info("unable to register node", error=str(e))
            await anyio.sleep(delay)
            delay = min(delay * 2, 7.0)  # kubelet: 100 ms doubling to 7 s
        self.registered = True
        self._node_seen(node)
        self._startup_events()
        if own_cidr is not None and not self._ready():
            self._attach(own_cidr)
        elif cfg.wait_for_pod_cidr and not self._ready() and cfg.pod_cidr_wait is not None:
            self.after(cfg.pod_cidr_wait, Tick("podcidr"))
        self.factory.start()
        self.every(cfg.lease_renew, Tick("lease"), initial=0.0)
        self.every(cfg.status_update, Tick("status"), initial=cfg.status_update)

    async def _get_node(self) -> Obj | None:
        try:
            return await self.client.get("nodes", self.config.node)
        except (ApiError, TransportError):
            return None

    def _node_event(self, type_: str, reason: str, message: str) -> None:
        ref = {"kind": "Node", "metadata": {"name": self.config.node, "uid": self.config.node}}
        self.recorder.event(ref, type_, reason, message)

    def _startup_events(self) -> None:
        node = self.config.node
        self._node_event("Normal", "Starting", "Starting kubelet.")
        self._node_event("Normal", "NodeAllocatableEnforced",
                         "Updated Node Allocatable limit across pods")
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure",
                       "NodeHasSufficientPID"):
            self._node_event("Normal", reason, f"Node {node} status is now: {reason}")

    # -- the node object ---------------------------------------------------------------------
    def _node_seen(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        self.node_uid = meta.get("uid") or self.node_uid
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr and not self._ready():
            self._attach(cidr)
        if self.last_status is None and node.get("status"):
            self.last_status = node["status"]

    def _node_deleted(self, _node: Any) -> None:
        if self.registered:
            self.log.warning("node object deleted: the kubelet stops", node=self.config.node)
            self.stop_self()

    def _attach(self, cidr: str) -> None:
        self.host.network.attach(self.config.node_ip, cidr)
        self.pods.network_ready()
        self._start("status", self._update_status())

    async def _assign_pod_cidr(self) -> None:
        """No node IPAM controller answered: take the configured podCIDR (see the module)."""
        node = await self._get_node()
        if node is None or self._ready() or (node.get("spec") or {}).get("podCIDR"):
            return
        cidr = self.config.pod_cidr
        try:
            await self.client.patch("nodes", self.config.node,
                                    {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except (ApiError, TransportError) as e:
            self.log.info("could not set podCIDR", error=str(e))
            if self.config.pod_cidr_wait is not None:
                self.after(self.config.pod_cidr_wait, Tick("podcidr"))
            return
        if not self._ready():
            self._attach(cidr)

    # -- lease and status loops ---------------------------------------------------------------
    @handler
    def _tick(self, msg: Tick) -> None:
        if msg.what == "lease":
            self._start("lease", self._renew_lease())
        elif msg.what == "status":
            self._start("status", self._update_status())
        elif msg.what == "podcidr" and not self._ready():
            self._start("podcidr", self._assign_pod_cidr())

    @handler
    def _sync_pod(self, msg: SyncPod) -> None:
        self.pods.on_timer(msg)

    @handler
    def _container_logs(self, msg: ContainerLogRequest) -> Any:
        """``/containerLogs``: the text, or the refusal as a Status dict (never a crash)."""
        try:
            return container_logs(self.host.runtime, msg.pod, msg.container, previous=msg.previous,
                                  timestamps=msg.timestamps, tail_lines=msg.tail_lines)
        except ApiError as e:
            return to_dict(e.status)

    async def _renew_lease(self) -> None:
        cfg = self.config
        fresh = lease_object(cfg.node, self.node_uid, now=self.wall_time(),
                             duration=cfg.lease_duration)
        try:
            if self.lease is None:
                self.lease = await self._get_or_create_lease(fresh)
                self.lease_renewals += 1
                return
            lease = {**self.lease, "spec": {**(self.lease.get("spec") or {}),
                                            **fresh["spec"]}}
            self.lease = await self.client.update("leases", lease)
            self.lease_renewals += 1
        except ApiError as e:
            self.log.info("failed to renew the node lease", error=str(e))
            self.lease = None  # re-read (a 409: someone else wrote it) at the next renewal
        except TransportError as e:
            self.log.info("failed to renew the node lease", error=str(e))

    async def _get_or_create_lease(self, fresh: Obj) -> Obj:
        try:
            current = await self.client.get("leases", self.config.node, "kube-node-lease")
        except ApiError as e:
            if e.code != 404:
                raise
            return await self.client.create("leases", fresh, "kube-node-lease")
        lease = {**current, "spec": {**(current.get("spec") or {}), **fresh["spec"]}}
        return await self.client.update("leases", lease)

    async def _update_status(self) -> None:
        if not self.registered:
            return
        now = self.wall_time()
        images, ids = self._images()
        ready = self._ready()
        status = node_status(self.config, now=now, ready=ready, images=images,
                             image_ids=ids, old=self.last_status)
        if ready != self._was_ready:
            if ready or self._was_ready is not None:
                reason = "NodeReady" if ready else "NodeNotReady"
                self._node_event("Normal", reason,
                                 f"Node {self.config.node} status is now: {reason}")
            self._was_ready = ready
        if not status_changed(self.last_status, status) and \
                now - self.last_report < self.config.status_report:
            return
        try:
            node = await self.client.patch("nodes", self.config.node, {"status": status},
                                           "strategic", subresource="status")
        except (ApiError, TransportError) as e:
            self.log.info("error updating node status, will retry", error=str(e))
            return
        self.last_status = node.get("status") or status
        self.last_report = now

    # -- pods ----------------------------------------------------------------------------------
    def _pod_deleted(self, obj: Any) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self.pods.pod_removed(pod)
