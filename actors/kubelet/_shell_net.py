"""The node's pod network, as the container runtime drives CNI, and a request from a pod.

What it is:
- ``PodNetwork``: one node's side of the simulated network. ``attach`` brings the node onto
  the cluster's ``netsim.Fabric`` (its adapter with the node IP, ``cni0`` holding the gateway
  of its podCIDR, routes to every other node's podCIDR). ``setup`` is what containerd does
  for a new sandbox: create the network namespace the pause container holds and run the
  ``bridge`` CNI plugin (ADD, ``eth0``, host-local IPAM on the node's podCIDR) with the
  ``K8S_POD_*`` CNI_ARGS; it returns the pod IP and the namespace's socket calls. A
  hostNetwork pod gets the node IP and the host namespace's sockets. ``teardown`` is CNI DEL
  (idempotent) and removes the namespace. A socket a pod's binary serves beyond its app
  model (``KubeletConfig.sockets``: the coredns image answers DNS on 53) is bound in front of
  the app's own handler.
- ``pod_request``: what ``kubectl exec <pod> -- curl http://NAME:PORT/`` does: resolve a name
  through the pod's resolver (UDP to kube-dns, ``actors.dns.resolve``), then send the request
  from the pod's namespace and carry the reply back; ``RequestFailed`` says why a packet
  died (no route, connection refused, a REJECTed Service without endpoints, DNS failure).

Concurrency model: none; synchronous calls into the fabric from the kubelet actor (setup,
teardown) or from driver code (requests). The fabric is shared by every node of a
simulation, on the loop thread.

Invariants: a failed ADD leaves no namespace behind; DEL of an unknown sandbox succeeds; a
pod's IP is inside its node's podCIDR (host-local allocates from it and never twice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.dns._resolver import KUBE_DNS_IP, Lookup, ResolveError, resolve
from actors.kubelet._images import InvalidImageName, _repository
from actors.kubelet._podworker import SetupNetwork, TeardownNetwork
from netsim import (
    ADD,
    DEL,
    TCP,
    UDP,
    CNIError,
    Delivery,
    Fabric,
    Hop,
    NetNamespace,
    UnknownNode,
    bridge_network_config,
    invoke,
    path_str,
)

__all__ = ["NetworkSetupError", "PodNetwork", "PodRequest", "RequestFailed", "pod_request",
           "relabel"]

Obj = Mapping[str, Any]
Socket = Callable[[bytes], bytes | None]


class NetworkSetupError(Exception):
    """CNI ADD failed; the message is containerd's (after "failed to setup network ...")."""


class PodNetwork:
    """One node's pod network on the shared fabric (see the module docstring)."""

    def __init__(self, fabric: Fabric, node: str, *,
                 sockets: Mapping[str, Mapping[tuple[int, str], Socket]] | None = None) -> None:
        self.fabric = fabric
        self.node = node
        self.sockets = dict(sockets or {})
        self.node_ip = ""
        self.pod_cidr = ""
        self.config: dict[str, Any] = {}

    @property
    def ready(self) -> bool:
        return bool(self.pod_cidr)

    def attach(self, node_ip: str, pod_cidr: str) -> None:
        """Put the node on the fabric (once; a node already there keeps its addresses)."""
        try:
            node = self.fabric.node(self.node)
        except UnknownNode:
            node = self.fabric.add_node(self.node, node_ip, pod_cidr)
        self.node_ip, self.pod_cidr = str(node.node_ip), str(node.pod_cidr)
        self.config = bridge_network_config(self.pod_cidr)

    # -- CNI ---------------------------------------------------------------------------------
    def setup(self, action: SetupNetwork, pod: Obj) -> tuple[str, Any, Any]:
        """(pod IP, listen, unlisten) for the sandbox; raises ``NetworkSetupError``."""
        if not self.ready:
            raise NetworkSetupError("cni plugin not initialized")
        hooks = self._hooks(pod)
        if action.host_network:
            host = self.fabric.node(self.node).host
            return self.node_ip, self._listen(host, hooks), host.unlisten
        ns = self.fabric.find_netns(action.netns)
        if ns is None:
            ns = self.fabric.create_netns(self.node, action.netns)
        args = {"IgnoreUnknown": "1", "K8S_POD_NAMESPACE": action.namespace,
                "K8S_POD_NAME": action.pod_name, "K8S_POD_INFRA_CONTAINER_ID": action.sandbox_id,
                "K8S_POD_UID": action.pod_uid}
        try:
            result = invoke("bridge", ADD, config=self.config, fabric=self.fabric,
                            container_id=action.sandbox_id, netns=ns, ifname="eth0", args=args,
                            node=self.node)
        except CNIError as e:
            self.fabric.delete_netns(ns.name)
            raise NetworkSetupError(f'plugin type="bridge" failed (add): {e.msg}') from e
        ip = str(result["ips"][0]["address"]).split("/")[0]
        return ip, self._listen(ns, hooks), ns.unlisten

    def teardown(self, action: TeardownNetwork) -> None:
        if action.host_network or not self.config:
            return
        ns = self.fabric.find_netns(action.netns)
        invoke("bridge", DEL, config=self.config, fabric=self.fabric,
               container_id=action.sandbox_id, netns=ns or "", ifname="eth0", node=self.node)
        if ns is not None:
            self.fabric.delete_netns(ns.name)

    # -- sockets -------------------------------------------------------------------------------
    def _hooks(self, pod: Obj) -> dict[tuple[int, str], Socket]:
        hooks: dict[tuple[int, str], Socket] = {}
        for c in (pod.get("spec") or {}).get("containers") or []:
            try:
                repo = _repository(str(c.get("image") or ""))
            except InvalidImageName:
                continue
            hooks.update(self.sockets.get(repo, {}))
        return hooks

    @staticmethod
    def _listen(ns: NetNamespace, hooks: dict[tuple[int, str], Socket]) -> Any:
        if not hooks:
            return ns.listen

        def listen(port: int, proto: str, handler: Callable[[Any], bytes | None]) -> None:
            hook = hooks.get((port, proto))
            if hook is None:
                ns.listen(port, proto, handler)
                return

            def serve(packet: Any) -> bytes | None:
                reply = handler(packet)  # the app's own answer first (and its bookkeeping)
                return reply if reply is not None else hook(packet.payload)
            ns.listen(port, proto, serve)
        return listen


# -- a request from inside a pod -------------------------------------------------------------

def relabel(delivery: Delivery, names: Mapping[str, str]) -> Delivery:
    """The delivery with pod namespaces named after their pods (``pod web-1 eth0``) instead
    of their network namespaces (``pod cni-1a2b… eth0``), for printing."""
    if not names:
        return delivery
    hops = tuple(msgspec.structs.replace(h, namespace=names.get(h.namespace, h.namespace))
                 for h in delivery.path)
    return msgspec.structs.replace(delivery, path=hops)


class RequestFailed(Exception):
    """The request did not complete: ``reason`` is where and why (netsim's drop reason)."""

    def __init__(self, reason: str, delivery: Delivery | None = None,
                 lookups: list[Lookup] | None = None, names: Mapping[str, str] | None = None
                 ) -> None:
        self.reason = reason
        self.delivery = delivery
        self.lookups = list(lookups or [])
        self.path: tuple[Hop, ...] = delivery.path if delivery is not None else ()
        self.path_str = path_str(relabel(delivery, names or {})) if delivery is not None else ""
        super().__init__(reason + (f" ({self.path_str})" if self.path_str else ""))


@dataclass(frozen=True)
class PodRequest:
    """A completed request: the reply and the way there and back. ``path`` holds netsim's
    hops (a pod hop's ``namespace`` is its network namespace); ``path_str`` prints pod hops
    with the pod's name, as the seed writes ``pod A eth0``."""

    reply: bytes
    address: str  # what the name resolved to (or the address given)
    port: int
    forward: Delivery
    back: Delivery | None
    dns: tuple[Lookup, ...] = field(default=())
    names: Mapping[str, str] = field(default_factory=dict)  # netns -> pod name

    @property
    def path(self) -> tuple[Hop, ...]:
        return self.forward.path

    @property
    def path_str(self) -> str:
        return path_str(relabel(self.forward, self.names))

    @property
    def return_path(self) -> tuple[Hop, ...]:
        return self.back.path if self.back is not None else ()

    @property
    def return_path_str(self) -> str:
        return path_str(relabel(self.back, self.names)) if self.back is not None else ""


def _split_target(to: str) -> tuple[str, int]:
    host, sep, port = to.rpartition(":")
    if not sep:
        return to, 80
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"bad port in {to!r}")
    return host, int(port)


def _is_ip(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def pod_request(fabric: Fabric, netns: NetNamespace, namespace: str, to: str,
                payload: bytes, *, protocol: str = TCP,
                names: Mapping[str, str] | None = None) -> PodRequest:
    """Send ``payload`` from the pod's namespace to ``to`` (``ADDRESS:PORT`` or
    ``NAME[:PORT]``, names looked up as the pod's resolver would) and return the reply.
    ``names`` maps network namespaces to pod names for printed paths."""
    names = dict(names or {})
    host, port = _split_target(to)
    lookups: list[Lookup] = []
    address = host
    if not _is_ip(host):
        def exchange(query: bytes) -> tuple[bytes | None, Any, Any]:
            return fabric.request(netns, KUBE_DNS_IP, 53, query, protocol=UDP)
        try:
            address, lookups = resolve(host, namespace, exchange)
        except ResolveError as e:
            last = e.lookups[-1].delivery if e.lookups else None
            raise RequestFailed(str(e), last, e.lookups, names) from None
    reply, forward, back = fabric.request(netns, address, port, payload, protocol=protocol)
    if not forward.delivered:
        raise RequestFailed(forward.reason, forward, lookups, names)
    if reply is None:
        if back is not None and not back.delivered:
            raise RequestFailed(f"the reply was dropped: {back.reason}", back, lookups, names)
        raise RequestFailed("empty reply from server", forward, lookups, names)
    return PodRequest(reply, address, port, forward, back, tuple(lookups), names)
