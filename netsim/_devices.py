"""Network devices: interfaces, veth pairs, Linux bridges and the underlay switch.

What it is: the layer-2 half of the simulated pod network. An `Interface` is a device in one
network namespace (loopback, one end of a veth pair, a Linux bridge, or a node's Ethernet
adapter). Devices point at each other the way the kernel's do: a veth end knows its peer, a
bridge knows its ports, a port knows its master. `l2_reach` answers the one question layer 3
asks of layer 2: "sending out of this device, who owns that address, and which devices does the
frame cross on the way?" (the ARP question, with the frame's path as the answer).

Concurrency model: none. Plain synchronous objects, mutated only by the `Fabric` and the CNI
plugins that own them; no clock, no randomness (MACs and veth names are hashes).

Invariants: a veth end's `peer` points back at it; a bridge port's `master` is the bridge that
lists it in `ports`; names and MACs are derived from stable strings with SHA-256, so they are
the same whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netsim._namespace import NetNamespace

LOOPBACK = "loopback"
VETH = "veth"
BRIDGE = "bridge"
ETHER = "ether"
KINDS = (LOOPBACK, VETH, BRIDGE, ETHER)


class NetsimError(Exception):
    """Base of netsim's expected errors (a caller asked for something the network refuses)."""


class UnknownNode(NetsimError, KeyError):
    """No node of that name is part of the fabric."""


class UnknownNamespace(NetsimError, KeyError):
    """No network namespace of that name or path exists."""


class DeviceExists(NetsimError, ValueError):
    """A device, namespace or node of that name already exists."""


class AddressConflict(NetsimError, ValueError):
    """An address or CIDR overlaps one already in use."""


def derive_mac(*parts: str) -> str:
    """A deterministic, locally administered unicast MAC for the given identity.

    The first octet is 0x02 (locally administered, unicast), as the kernel does for the random
    MACs it gives veths; the rest comes from SHA-256 so that runs are reproducible.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def veth_name(container_id: str, ifname: str = "eth0") -> str:
    """The host-side veth name for a container's interface: `veth` + 8 hex characters.

    The bridge plugin names host ends `veth` + 8 hex digits (random there); we hash the container
    id and the interface name instead, so the name is stable and fits IFNAMSIZ (15 chars).
    """
    return "veth" + hashlib.sha256(f"{container_id}/{ifname}".encode()).hexdigest()[:8]


@dataclass(eq=False)
class Interface:
    """One network device in one namespace.

    `link_latency_s` is the latency of the link this device sits on: for a veth end, the pair;
    for a bridge, one crossing of the bridge (port to bridge or bridge to port); for a node
    adapter, its uplink to the underlay switch.
    """

    name: str
    kind: str
    mac: str
    link_latency_s: float = 0.0
    addresses: list[IPv4Interface] = field(default_factory=list)
    peer: Interface | None = None
    master: Interface | None = None
    ports: list[Interface] = field(default_factory=list)
    netns: NetNamespace | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown device kind {self.kind!r}; expected one of {KINDS}")

    @property
    def primary(self) -> IPv4Address | None:
        """The first address configured on the device, used as a source address."""
        return self.addresses[0].ip if self.addresses else None

    def owns(self, ip: IPv4Address) -> bool:
        return any(a.ip == ip for a in self.addresses)

    def __repr__(self) -> str:
        where = self.netns.name if self.netns is not None else "-"
        return f"<Interface {self.name} {self.kind} {self.mac} in {where}>"


def make_veth_pair(
    inner: str, inner_mac: str, outer: str, outer_mac: str, *, latency_s: float
) -> tuple[Interface, Interface]:
    """Create a veth pair; frames sent into one end come out of the other."""
    a = Interface(inner, VETH, inner_mac, link_latency_s=latency_s)
    b = Interface(outer, VETH, outer_mac, link_latency_s=latency_s)
    a.peer, b.peer = b, a
    return a, b


def enslave(bridge: Interface, port: Interface) -> None:
    """Attach `port` to `bridge` (`ip link set port master bridge`)."""
    if bridge.kind != BRIDGE:
        raise ValueError(f"{bridge.name} is not a bridge")
    if port.master is not None:
        raise DeviceExists(f"{port.name} is already a port of {port.master.name}")
    port.master = bridge
    bridge.ports.append(port)


def release(port: Interface) -> None:
    """Detach `port` from its bridge, if it has one."""
    if port.master is not None:
        port.master.ports.remove(port)
        port.master = None


@dataclass(frozen=True)
class Leg:
    """One device a frame crosses. `routed` marks a bridge acting as the L3 gateway."""

    iface: Interface
    routed: bool = False


@dataclass(frozen=True)
class L2Reach:
    """Where a frame for an address ends up: the device owning it and the devices crossed.

    `bridged_at` is the index in `legs` of a bridge that switched the frame between two of its
    ports: the host's netfilter sees such frames too (br_netfilter), which is how kube-proxy's
    conntrack un-DNATs replies between pods of one node.
    """

    target: Interface
    legs: tuple[Leg, ...]
    latency_s: float
    bridged_at: int | None = None


def l2_reach(out: Interface, ip: IPv4Address) -> L2Reach | None:
    """Who answers ARP for `ip` on the segment `out` is attached to, and the frame's path.

    Handles loopback, veth pairs (plain or with the far end enslaved to a bridge) and bridges;
    the underlay is the `Switch`'s business because it carries cuts.
    """
    if out.kind == LOOPBACK:
        return L2Reach(out, (Leg(out),), 0.0) if out.netns and out.netns.is_local(ip) else None
    if out.kind == BRIDGE:
        for port in out.ports:
            if port.peer is not None and port.peer.owns(ip):
                legs = (Leg(out, routed=True), Leg(port), Leg(port.peer))
                return L2Reach(port.peer, legs, out.link_latency_s + port.link_latency_s)
        return None
    if out.kind == VETH and out.peer is not None:
        return _reach_through_veth(out, out.peer, ip)
    return None


def _reach_through_veth(out: Interface, peer: Interface, ip: IPv4Address) -> L2Reach | None:
    if peer.master is None:
        if peer.owns(ip):
            return L2Reach(peer, (Leg(out), Leg(peer)), out.link_latency_s)
        return None
    bridge = peer.master
    if bridge.owns(ip):
        legs = (Leg(out), Leg(peer), Leg(bridge, routed=True))
        return L2Reach(bridge, legs, out.link_latency_s + bridge.link_latency_s)
    for port in bridge.ports:
        if port is not peer and port.peer is not None and port.peer.owns(ip):
            legs = (Leg(out), Leg(peer), Leg(bridge), Leg(port), Leg(port.peer))
            latency = out.link_latency_s + 2 * bridge.link_latency_s + port.link_latency_s
            return L2Reach(port.peer, legs, latency, bridged_at=2)
    return None


class Switch:
    """The underlay: one L2 segment joining every node's adapter, with cuttable links.

    A node's uplink can be cut (the node is isolated from every other), or the path between two
    nodes (a pairwise partition, as a nemesis would inject).
    """

    def __init__(self) -> None:
        self._ports: dict[str, Interface] = {}
        self._cut_uplinks: set[str] = set()
        self._cut_pairs: set[frozenset[str]] = set()

    def attach(self, node: str, adapter: Interface) -> None:
        if node in self._ports:
            raise DeviceExists(f"node {node} is already attached to the underlay")
        self._ports[node] = adapter

    def detach(self, node: str) -> None:
        self._ports.pop(node, None)
        self._cut_uplinks.discard(node)
        self._cut_pairs = {p for p in self._cut_pairs if node not in p}

    def cut_uplink(self, node: str) -> None:
        self._cut_uplinks.add(node)

    def cut_pair(self, a: str, b: str) -> None:
        self._cut_pairs.add(frozenset((a, b)))

    def restore(self, a: str | None = None, b: str | None = None) -> None:
        """Heal everything (no argument), a node's uplink (one), or a pair (two)."""
        if a is None and b is None:
            self._cut_uplinks.clear()
            self._cut_pairs.clear()
        elif b is None:
            assert a is not None
            self._cut_uplinks.discard(a)
        elif a is None:
            self._cut_uplinks.discard(b)
        else:
            self._cut_pairs.discard(frozenset((a, b)))

    def cuts(self) -> tuple[tuple[str, ...], ...]:
        """The current cuts, sorted: `(node,)` for an uplink, `(a, b)` for a pair."""
        uplinks = [(n,) for n in sorted(self._cut_uplinks)]
        pairs = [tuple(sorted(p)) for p in self._cut_pairs]
        return tuple(uplinks + sorted(pairs))

    def reach(self, src_node: str, ip: IPv4Address) -> tuple[L2Reach | None, str]:
        """(reach, "") if an adapter owns `ip` and the path is up; (None, reason) otherwise."""
        out = self._ports[src_node]
        for node, adapter in self._ports.items():
            if node == src_node or not adapter.owns(ip):
                continue
            reason = self._blocked(src_node, node)
            if reason:
                return None, reason
            latency = out.link_latency_s + adapter.link_latency_s
            return L2Reach(adapter, (Leg(out), Leg(adapter)), latency), ""
        return None, ""

    def _blocked(self, a: str, b: str) -> str:
        ports = self._ports
        for node in (a, b):
            if node in self._cut_uplinks:
                return f"link cut: {node} {ports[node].name} ↔ underlay"
        if frozenset((a, b)) in self._cut_pairs:
            return f"link cut: {a} {ports[a].name} ↔ {b} {ports[b].name}"
        return ""
