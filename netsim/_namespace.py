"""Network namespaces: a node's host namespace, and one per pod sandbox.

What it is: the kernel's per-namespace network state — devices, addresses, a route table, a
neighbour table — plus the sockets listening in it. A pod's namespace is the pause container's:
every container of the pod shares it, so a listener registered here serves the whole pod.

Concurrency model: none; mutated by the `Fabric` (forwarding, node setup) and CNI plugins.

Invariants: every namespace has `lo` with 127.0.0.1/8; adding an address with a prefix shorter
than /32 installs the connected (proto kernel, scope link) route, and removing the address or
the device removes it, as the kernel does; a device belongs to exactly one namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Interface

from netsim._devices import LOOPBACK, DeviceExists, Interface
from netsim._packet import ICMP, PROTOCOLS, Packet
from netsim._routing import NeighbourTable, Route, RouteTable

HOST = "host"
POD = "pod"

Handler = Callable[[Packet], bytes | None]

# Linux's default net.ipv4.ip_local_port_range.
EPHEMERAL_PORTS = (32768, 60999)
_LOOPBACK_NET = IPv4Interface("127.0.0.1/8").network


class NetNamespace:
    """One network namespace on one node."""

    def __init__(self, name: str, node: str, kind: str) -> None:
        if kind not in (HOST, POD):
            raise ValueError(f"namespace kind must be {HOST!r} or {POD!r}, not {kind!r}")
        self.name = name
        self.node = node
        self.kind = kind
        self.routes = RouteTable()
        self.neighbours = NeighbourTable()
        self._interfaces: dict[str, Interface] = {}
        self._listeners: dict[tuple[int, str], Handler] = {}
        self._next_port = EPHEMERAL_PORTS[0]
        lo = Interface("lo", LOOPBACK, "00:00:00:00:00:00")
        self.add_interface(lo)
        lo.addresses.append(IPv4Interface("127.0.0.1/8"))

    @property
    def path(self) -> str:
        """The path a container runtime hands to CNI as CNI_NETNS."""
        return f"/var/run/netns/{self.name}"

    # -- devices and addresses -------------------------------------------------------------

    def add_interface(self, iface: Interface) -> Interface:
        if iface.name in self._interfaces:
            raise DeviceExists(f"{self.name}: device {iface.name} already exists")
        if iface.netns is not None:
            raise DeviceExists(f"{iface.name} already lives in namespace {iface.netns.name}")
        iface.netns = self
        self._interfaces[iface.name] = iface
        return iface

    def remove_interface(self, name: str) -> Interface:
        iface = self._interfaces.pop(name)
        iface.netns = None
        self.routes.remove_dev(name)
        self.neighbours.forget(name)
        return iface

    def interface(self, name: str) -> Interface:
        try:
            return self._interfaces[name]
        except KeyError:
            raise KeyError(f"{self.name}: no device {name}") from None

    def has_interface(self, name: str) -> bool:
        return name in self._interfaces

    def interfaces(self) -> tuple[Interface, ...]:
        return tuple(self._interfaces.values())

    def add_address(self, dev: str, cidr: str | IPv4Interface) -> IPv4Interface:
        """`ip addr add cidr dev dev`, with the connected route when the prefix is not /32."""
        iface = self.interface(dev)
        addr = IPv4Interface(cidr)
        if addr in iface.addresses:
            raise DeviceExists(f"{self.name}: {addr} already on {dev}")
        iface.addresses.append(addr)
        if addr.network.prefixlen < 32:
            self.routes.replace(Route(str(addr.network), dev, proto="kernel"))
        return addr

    def remove_address(self, dev: str, cidr: str | IPv4Interface) -> None:
        iface = self.interface(dev)
        addr = IPv4Interface(cidr)
        iface.addresses.remove(addr)
        if addr.network.prefixlen < 32 and not any(
            a.network == addr.network for a in iface.addresses
        ):
            self.routes.remove(str(addr.network), dev=dev)

    def addresses(self) -> tuple[IPv4Address, ...]:
        return tuple(a.ip for i in self._interfaces.values() for a in i.addresses)

    def is_local(self, ip: IPv4Address) -> bool:
        if ip in _LOOPBACK_NET:
            return True
        return any(i.owns(ip) for i in self._interfaces.values())

    def source_for(self, dev: str) -> IPv4Address | None:
        """The source address for traffic leaving through `dev` (its first address, else any)."""
        primary = self.interface(dev).primary
        if primary is not None:
            return primary
        for iface in self._interfaces.values():
            if iface.kind != LOOPBACK and iface.primary is not None:
                return iface.primary
        return None

    # -- sockets ---------------------------------------------------------------------------

    def listen(self, port: int, protocol: str, handler: Handler) -> None:
        """Bind `handler` to `port` on every address of the namespace (0.0.0.0:port).

        `handler(packet)` returns the reply payload, or None to send no reply.
        """
        if protocol not in PROTOCOLS or protocol == ICMP:
            raise ValueError(f"can listen on TCP or UDP, not {protocol!r}")
        if not 0 < port <= 65535:
            raise ValueError(f"port out of range: {port}")
        key = (port, protocol)
        if key in self._listeners:
            raise DeviceExists(f"{self.name}: {protocol} port {port} already in use")
        self._listeners[key] = handler

    def unlisten(self, port: int, protocol: str) -> None:
        self._listeners.pop((port, protocol), None)

    def listener(self, port: int, protocol: str) -> Handler | None:
        return self._listeners.get((port, protocol))

    def listening(self) -> tuple[tuple[int, str], ...]:
        return tuple(sorted(self._listeners))

    def ephemeral_port(self) -> int:
        """The next client port, round-robin over the ephemeral range (deterministic), skipping
        ports a listener holds."""
        low, high = EPHEMERAL_PORTS
        for _ in range(high - low + 1):
            port = self._next_port
            self._next_port = low if port >= high else port + 1
            if (port, "TCP") not in self._listeners and (port, "UDP") not in self._listeners:
                return port
        raise RuntimeError(f"{self.name}: every ephemeral port is held by a listener")

    def __repr__(self) -> str:
        return f"<NetNamespace {self.name} ({self.kind}) on {self.node}>"
