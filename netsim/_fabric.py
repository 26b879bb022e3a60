"""The whole simulated pod network: nodes, the underlay between them, and packet forwarding.

What it is: every node has a host namespace with its adapter `eth0` (node IP, on the underlay
switch), a Linux bridge `cni0` holding the gateway address (first address of the node's
podCIDR), and the routes a host-gw/routed setup programs — each other node's podCIDR via that
node's IP. Pod sandboxes get their own namespaces; CNI plugins wire them in. `send` walks a
packet through namespaces the way the kernel would: netfilter PREROUTING/OUTPUT (the node's
`NatTable`), local delivery or a longest-prefix route lookup, TTL decrement when forwarding,
POSTROUTING, ARP for the next hop (cached per device, recorded once), then layer 2 to the device
owning that address — recording each device crossed as a `Hop` and summing link latencies.
Pod-to-pod traffic is never rewritten: only the Service rules in `NatTable` rewrite addresses.

Concurrency model: none; synchronous and deterministic. No clock — latency is a number summed
along the path — and no randomness but the `random.Random` handed to the fabric or to a rule.
Callers (actors) wrap it. A listener handler runs synchronously inside the `send` that
delivered to it; it may change the fabric (cut a link, program rules), which the rest of that
walk then sees.

Invariants: node names, namespace names, node IPs and podCIDRs are unique; every node has a
route to every other node's podCIDR via its node IP, kept up to date on add/remove; a dropped
packet has a reason and no destination; a forwarded packet's TTL drops by one per routing
namespace and the packet is dropped ("ttl exceeded") rather than forwarded with TTL 0.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from random import Random

import msgspec

from netsim._devices import (
    BRIDGE,
    ETHER,
    LOOPBACK,
    AddressConflict,
    DeviceExists,
    Interface,
    L2Reach,
    Switch,
    UnknownNamespace,
    UnknownNode,
    derive_mac,
    l2_reach,
    make_veth_pair,
    release,
)
from netsim._ipam import HostLocalAllocator
from netsim._namespace import HOST, POD, NetNamespace
from netsim._nat import NatTable, NodePortRule, Rule, ServiceRule, Verdict
from netsim._packet import (
    HOP_ADAPTER,
    HOP_BRIDGE,
    HOP_GATEWAY,
    HOP_POD,
    HOP_VETH,
    ICMP,
    TCP,
    Delivery,
    Packet,
    PathRecorder,
)
from netsim._routing import PeerRoutes, Route

# A packet crosses at most one routing namespace per TTL unit; this bounds the walk loudly.
_MAX_STEPS = 512


class Node:
    """A node's network: host namespace, adapter, bridge, nat table, IPAM stores."""

    def __init__(self, name: str, node_ip: IPv4Address, pod_cidr: IPv4Network, nat: NatTable):
        self.name = name
        self.node_ip = node_ip
        self.pod_cidr = pod_cidr
        self.gateway = IPv4Interface(f"{pod_cidr.network_address + 1}/{pod_cidr.prefixlen}")
        self.host = NetNamespace(name, name, HOST)
        self.nat = nat
        # host-local's state directory (/var/lib/cni/networks/<network>) on this host.
        self.ipam: dict[str, HostLocalAllocator] = {}

    @property
    def adapter(self) -> Interface:
        return self.host.interface("eth0")

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.node_ip} podCIDR {self.pod_cidr}>"


def _hop(trip: PathRecorder, iface: Interface, packet: Packet, *, routed: bool = False) -> None:
    """Record that `packet` crossed `iface`; `routed` marks a bridge acting as the gateway."""
    ns = iface.netns
    assert ns is not None, f"{iface.name} crossed while in no namespace"
    trip.hop(iface.name, ns.node, ns.name, packet, _kind(ns, iface, routed))


def _kind(ns: NetNamespace, iface: Interface, routed: bool) -> str:
    if ns.kind == POD:
        return HOP_POD
    if iface.kind == BRIDGE:
        return HOP_GATEWAY if routed else HOP_BRIDGE
    if iface.kind in (ETHER, LOOPBACK):
        return HOP_ADAPTER
    return HOP_VETH


class Fabric:
    """The cluster's data plane. Build it, `add_node` each node, then wire pods in with CNI."""

    def __init__(
        self,
        *,
        underlay_cidr: str = "192.168.49.0/24",
        cluster_cidr: str = "10.244.0.0/16",
        rng: Random | None = None,
        veth_latency_s: float = 10e-6,
        bridge_latency_s: float = 5e-6,
        underlay_latency_s: float = 100e-6,
    ) -> None:
        self.underlay = IPv4Network(underlay_cidr)
        self.cluster_cidr = IPv4Network(cluster_cidr)
        self.rng = rng if rng is not None else Random(0)
        self.veth_latency_s = veth_latency_s
        self.bridge_latency_s = bridge_latency_s
        self.underlay_latency_s = underlay_latency_s
        self._switch = Switch()
        self._peers = PeerRoutes()  # every node's route to every other node's podCIDR
        self._node_ips: dict[IPv4Address, str] = {}
        self._nodes: dict[str, Node] = {}
        self._netns: dict[str, NetNamespace] = {}

    # -- nodes -------------------------------------------------------------------------------

    def add_node(
        self, name: str, node_ip: str, pod_cidr: str, *, latency_s: float | None = None
    ) -> Node:
        """Bring a node onto the network: host namespace, eth0 on the underlay, cni0 with the
        gateway, and routes between its podCIDR and every other node's (host-gw style)."""
        if name in self._nodes or name in self._netns:
            raise DeviceExists(f"a node or namespace named {name!r} already exists")
        ip, cidr = IPv4Address(node_ip), IPv4Network(pod_cidr)
        if ip not in self.underlay or ip in (
            self.underlay.network_address,
            self.underlay.broadcast_address,
        ):
            raise AddressConflict(
                f"node IP {ip} is not a host address of the underlay {self.underlay}"
            )
        if ip in self._node_ips:
            raise AddressConflict(f"node IP {ip} is already used by {self._node_ips[ip]}")
        clash = self._peers.overlapping(cidr)
        if clash is not None:
            raise AddressConflict(f"podCIDR {cidr} overlaps {clash}'s {self._nodes[clash].pod_cidr}")
        node = Node(name, ip, cidr, NatTable(rng=self.rng))
        host = node.host
        mac = derive_mac("node", name, "eth0")
        latency = self.underlay_latency_s if latency_s is None else latency_s
        host.add_interface(Interface("eth0", ETHER, mac, link_latency_s=latency))
        host.add_address("eth0", f"{ip}/{self.underlay.prefixlen}")
        self._nodes[name] = node
        self._netns[name] = host
        self.ensure_bridge(name, "cni0", node.gateway)
        self._switch.attach(name, node.adapter)
        self._node_ips[ip] = name
        self._peers.set(name, Route(str(cidr), "eth0", via=str(ip)))
        host.routes.attach_peers(self._peers, name)
        return node

    def remove_node(self, name: str) -> None:
        """Take a node off the network, with its pods' namespaces and its routes elsewhere."""
        node = self.node(name)
        for ns in [ns for ns in self._netns.values() if ns.node == name and ns.kind == POD]:
            self.delete_netns(ns.name)
        self._switch.detach(name)
        del self._nodes[name], self._netns[name]
        self._node_ips.pop(node.node_ip, None)
        self._peers.discard(name)

    def node(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise UnknownNode(f"no node named {name!r}") from None

    def nodes(self) -> tuple[Node, ...]:
        return tuple(self._nodes.values())

    # -- namespaces and devices --------------------------------------------------------------

    def create_netns(self, node: str, name: str) -> NetNamespace:
        """A pod sandbox's namespace (what the pause container holds), with only `lo`."""
        self.node(node)
        if name in self._netns:
            raise DeviceExists(f"a namespace named {name!r} already exists")
        ns = NetNamespace(name, node, POD)
        self._netns[name] = ns
        return ns

    def delete_netns(self, name: str) -> None:
        """Destroy a pod namespace; its veth ends die, and so do their peers (kernel behaviour)."""
        ns = self.netns(name)
        if ns.kind == HOST:
            raise ValueError(f"{name} is a node's host namespace: use remove_node")
        for iface in ns.interfaces():
            if iface.peer is not None:
                self.delete_link(ns, iface.name)
        del self._netns[name]

    def netns(self, name_or_path: str | NetNamespace) -> NetNamespace:
        found = self.find_netns(name_or_path)
        if found is None:
            raise UnknownNamespace(f"no network namespace {name_or_path!r}")
        return found

    def find_netns(self, name_or_path: str | NetNamespace) -> NetNamespace | None:
        if isinstance(name_or_path, NetNamespace):
            ns = self._netns.get(name_or_path.name)
            return ns if ns is name_or_path else None
        name = name_or_path.removeprefix("/var/run/netns/")
        return self._netns.get(name)

    def namespaces(self, node: str | None = None) -> tuple[NetNamespace, ...]:
        return tuple(ns for ns in self._netns.values() if node is None or ns.node == node)

    def owner_of(self, ip: str) -> NetNamespace | None:
        """The pod namespace holding `ip`, else the host namespace holding it, else None."""
        addr = IPv4Address(ip)
        holders = [
            ns
            for ns in self._netns.values()
            if any(i.owns(addr) for i in ns.interfaces() if i.kind != LOOPBACK)
        ]
        holders.sort(key=lambda ns: ns.kind != POD)
        return holders[0] if holders else None

    def create_veth(
        self, netns: NetNamespace, ifname: str, host_ifname: str
    ) -> tuple[Interface, Interface]:
        """A veth pair: `ifname` inside `netns`, `host_ifname` in its node's host namespace."""
        host = self.node(netns.node).host
        if netns.has_interface(ifname):
            raise DeviceExists(f"container veth name provided ({ifname}) already exists")
        if host.has_interface(host_ifname):
            raise DeviceExists(f"{netns.node}: device {host_ifname} already exists")
        inner, outer = make_veth_pair(
            ifname,
            derive_mac(netns.node, netns.name, ifname),
            host_ifname,
            derive_mac(netns.node, host.name, host_ifname),
            latency_s=self.veth_latency_s,
        )
        netns.add_interface(inner)
        host.add_interface(outer)
        return inner, outer

    def delete_link(self, netns: NetNamespace, ifname: str) -> bool:
        """`ip link del`: removes the device and, for a veth, its peer. False if absent."""
        if not netns.has_interface(ifname):
            return False
        iface = netns.remove_interface(ifname)
        release(iface)
        peer = iface.peer
        if peer is not None:
            release(peer)
            if peer.netns is not None:
                peer.netns.remove_interface(peer.name)
            iface.peer = peer.peer = None
        return True

    def ensure_bridge(
        self, node: str, name: str = "cni0", gateway: IPv4Interface | None = None
    ) -> Interface:
        """The named bridge in the node's host namespace, created if missing; with `gateway`,
        make sure the bridge holds that address (the bridge plugin's isGateway)."""
        host = self.node(node).host
        if host.has_interface(name):
            bridge = host.interface(name)
            if bridge.kind != BRIDGE:
                raise DeviceExists(f"{node}: {name} exists and is not a bridge")
        else:
            bridge = Interface(
                name, BRIDGE, derive_mac("bridge", node, name), link_latency_s=self.bridge_latency_s
            )
            host.add_interface(bridge)
        if gateway is not None and gateway not in bridge.addresses:
            host.add_address(name, gateway)
        return bridge

    def set_link_latency(self, node: str, device: str, seconds: float) -> None:
        """Set a link's latency: a node's `eth0` uplink, a bridge, or a veth pair (both ends)."""
        iface = self.node(node).host.interface(device)
        iface.link_latency_s = seconds
        if iface.peer is not None:
            iface.peer.link_latency_s = seconds

    # -- faults ------------------------------------------------------------------------------

    def cut(self, node_a: str, node_b: str) -> None:
        """Partition two nodes from each other on the underlay (both directions)."""
        self.node(node_a), self.node(node_b)
        self._switch.cut_pair(node_a, node_b)

    def cut_node(self, node: str) -> None:
        """Cut a node's uplink: it reaches no other node, and none reaches it."""
        self.node(node)
        self._switch.cut_uplink(node)

    def restore(self, node_a: str | None = None, node_b: str | None = None) -> None:
        """Heal all cuts (no argument), a node's uplink (one), or a pair's partition (two)."""
        self._switch.restore(node_a, node_b)

    def cuts(self) -> tuple[tuple[str, ...], ...]:
        return self._switch.cuts()

    # -- service rules (kube-proxy's hook) ---------------------------------------------------

    def nat(self, node: str) -> NatTable:
        return self.node(node).nat

    def add_service_rule(
        self,
        node: str,
        vip: str,
        port: int,
        proto: str,
        backends: list[tuple[str, int]],
        affinity: str | None = None,
        rng: Random | None = None,
    ) -> ServiceRule:
        return self.nat(node).add_service_rule(vip, port, proto, backends, affinity, rng)

    def add_nodeport_rule(
        self,
        node: str,
        node_port: int,
        proto: str,
        backends: list[tuple[str, int]],
        affinity: str | None = None,
        rng: Random | None = None,
    ) -> NodePortRule:
        return self.nat(node).add_nodeport_rule(node_port, proto, backends, affinity, rng)

    def remove_service_rule(self, node: str, vip: str, port: int, proto: str) -> None:
        self.nat(node).remove_service_rule(vip, port, proto)

    def replace_service_rules(self, node: str, rules: list[Rule]) -> None:
        """Atomically swap a node's whole Service/NodePort rule set (iptables-restore)."""
        self.nat(node).replace_rules(rules)

    def update_service_rules(self, node: str, remove_keys: list[str], add_rules: list[Rule]) -> None:
        """Atomically replace part of a node's rule set (a partial iptables-restore): the rules
        keyed `remove_keys` go, `add_rules` are installed, every other rule stays untouched."""
        self.nat(node).update_rules(remove_keys, add_rules)

    # -- traffic -----------------------------------------------------------------------------

    def send(self, from_netns: str | NetNamespace, packet: Packet) -> Delivery:
        """Send `packet` from a namespace; the listener it reaches (if any) is called."""
        delivery, _, _ = self._travel(self.netns(from_netns), packet)
        return delivery

    def request(
        self,
        from_netns: str | NetNamespace,
        dst_ip: str,
        dst_port: int,
        payload: bytes = b"",
        *,
        protocol: str = TCP,
    ) -> tuple[bytes | None, Delivery, Delivery | None]:
        """Send a request from an ephemeral port and carry the listener's reply back.

        Returns (reply payload or None, forward delivery, return delivery or None). The reply
        goes back through the same netfilter hooks, so a Service's reply is un-DNATed and the
        client sees it come from the address it asked; a reply that does not match the client's
        connection is dropped, as a socket would ignore it. ICMP is an echo request.
        """
        ns = self.netns(from_netns)
        dst = str(IPv4Address(dst_ip))
        port = 0 if protocol == ICMP else dst_port
        src = self._source_address(ns, IPv4Address(dst))
        sport = 0 if protocol == ICMP else ns.ephemeral_port()
        forward, server, reply = self._travel(ns, Packet(src, sport, dst, port, protocol, payload))
        if not forward.delivered or server is None or reply is None:
            return None, forward, None
        at = forward.packet_at_destination
        assert at is not None
        back = Packet(at.dst_ip, at.dst_port, at.src_ip, at.src_port, protocol, reply)
        ret, _, _ = self._travel(server, back, client=(ns, (dst, port), (src, sport)))
        return (
            (ret.packet_at_destination.payload if ret.packet_at_destination else None),
            forward,
            ret,
        )

    def _source_address(self, ns: NetNamespace, dst: IPv4Address) -> str:
        if ns.is_local(dst):
            return "127.0.0.1" if dst.is_loopback else str(dst)
        route = ns.routes.lookup(dst)
        src = ns.source_for(route.dev) if route is not None else None
        return str(src) if src is not None else "0.0.0.0"

    # -- the walk ----------------------------------------------------------------------------

    def _travel(
        self,
        ns: NetNamespace,
        packet: Packet,
        *,
        client: tuple[NetNamespace, tuple[str, int], tuple[str, int]] | None = None,
    ) -> tuple[Delivery, NetNamespace | None, bytes | None]:
        trip = PathRecorder()
        arrived_on: Interface | None = None  # None: generated locally, not forwarded
        for _ in range(_MAX_STEPS):
            verdict = self._netfilter(ns, packet)
            if verdict is not None:
                trip.note(verdict.note)
                if verdict.reject:
                    return trip.drop("connection refused"), None, None
                packet = verdict.packet
            dst = IPv4Address(packet.dst_ip)
            if ns.is_local(dst):
                if arrived_on is None:
                    _hop(trip, ns.interface("lo"), packet)
                return self._arrive(ns, packet, trip, client)
            route = ns.routes.lookup(dst)
            if route is None:
                return trip.drop(f"no route to host {dst}"), None, None
            if arrived_on is not None:
                if packet.ttl <= 1:  # ip_forward: never send a packet on with TTL 0
                    return trip.drop("ttl exceeded"), None, None
                packet = msgspec.structs.replace(packet, ttl=packet.ttl - 1)
            if verdict is not None:
                node = self._nodes[ns.node]
                packet, note = node.nat.postrouting(verdict, packet, ns.source_for(route.dev))
                trip.note(note)
            out = ns.interface(route.dev)
            reach, reason = self._resolve(ns, out, route.gateway or dst)
            if reach is None:
                if reason:  # the frame left the adapter and died on the cut link
                    _hop(trip, out, packet)
                return trip.drop(reason or f"no route to host {dst}"), None, None
            packet = self._cross(reach, packet, trip)
            arrived_on = reach.target
            assert arrived_on.netns is not None
            ns = arrived_on.netns
        raise RuntimeError(f"packet walked {_MAX_STEPS} namespaces: forwarding loop without TTL?")

    def _netfilter(self, ns: NetNamespace, packet: Packet) -> Verdict | None:
        """The node's nat hooks apply in its host namespace only; pods have no rules."""
        node = self._nodes.get(ns.node)
        if node is None or ns is not node.host:
            return None
        return node.nat.prerouting(packet, ns.addresses())

    def _resolve(
        self, ns: NetNamespace, out: Interface, next_hop: IPv4Address
    ) -> tuple[L2Reach | None, str]:
        """ARP for the next hop on `out`'s segment (recorded in the neighbour table on first
        use, or when the answer changed), and the frame's way there."""
        if out.kind == ETHER:
            reach, reason = self._switch.reach(ns.node, next_hop)
        else:
            reach, reason = l2_reach(out, next_hop), ""
        if reach is not None and ns.neighbours.lookup(out.name, next_hop) != reach.target.mac:
            ns.neighbours.learn(out.name, next_hop, reach.target.mac)
        return reach, reason

    def _cross(self, reach: L2Reach, packet: Packet, trip: PathRecorder) -> Packet:
        for i, leg in enumerate(reach.legs):
            _hop(trip, leg.iface, packet, routed=leg.routed)
            if i == reach.bridged_at:
                packet = self._br_netfilter(leg.iface, packet, trip)
        trip.latency_s += reach.latency_s
        return packet

    def _br_netfilter(self, bridge: Interface, packet: Packet, trip: PathRecorder) -> Packet:
        """Bridged frames between pods meet the host's conntrack (bridge-nf-call-iptables=1,
        which kube-proxy requires): a Service reply between two pods of one node is un-DNATed."""
        host = bridge.netns
        node = self._nodes.get(host.node) if host is not None else None
        if node is None:
            return packet
        verdict = node.nat.track(packet)
        if verdict is None:
            return packet
        trip.note(verdict.note)
        return verdict.packet

    def _arrive(
        self,
        ns: NetNamespace,
        packet: Packet,
        trip: PathRecorder,
        client: tuple[NetNamespace, tuple[str, int], tuple[str, int]] | None,
    ) -> tuple[Delivery, NetNamespace | None, bytes | None]:
        if client is not None:
            client_ns, peer, local = client
            got_peer = (packet.src_ip, packet.src_port)
            got_local = (packet.dst_ip, packet.dst_port)
            if ns is not client_ns or got_local != local or got_peer != peer:
                reason = (
                    f"reply from {packet.src} does not match the connection to {peer[0]}:{peer[1]}"
                )
                return trip.drop(reason), None, None
            return trip.done(packet), ns, None
        if packet.protocol == ICMP:
            return trip.done(packet), ns, packet.payload  # the kernel answers echo requests
        handler = ns.listener(packet.dst_port, packet.protocol)
        if handler is None:
            return trip.drop("connection refused"), None, None
        delivery = trip.done(packet)
        return delivery, ns, handler(packet)
