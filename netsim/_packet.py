"""Packets, the hops they take, and the outcome of sending one.

What it is: the data that moves through the simulated network and the record it leaves. A
`Packet` is an IPv4 header reduced to addresses, ports, protocol and TTL, plus its payload. A
`Hop` is one device the packet crossed, with the addresses it carried there and a note when
netfilter rewrote it. A `Delivery` is the whole journey: delivered or dropped (and why), the
packet as it arrived, the hops, the summed link latency. A `PathRecorder` builds the hops and
the `Delivery` while the fabric walks the packet.

Concurrency model: immutable values (frozen, tagged msgspec Structs), safe to share and encode;
a `PathRecorder` is private to one walk.
Rewrites (TTL, NAT) make new packets with `msgspec.structs.replace`.

Invariants: addresses are canonical dotted-quad IPv4 strings; ports are 0..65535 (0 for ICMP);
protocol is TCP, UDP or ICMP; a delivered `Delivery` has an empty reason, a dropped one has a
reason and no packet at destination.
"""

from __future__ import annotations

from ipaddress import IPv4Address

import msgspec

TCP = "TCP"
UDP = "UDP"
ICMP = "ICMP"
PROTOCOLS = (TCP, UDP, ICMP)

# Hop kinds: how a device shows up in a printed path.
HOP_POD = "pod"
HOP_VETH = "veth"
HOP_GATEWAY = "gateway"
HOP_BRIDGE = "bridge"
HOP_ADAPTER = "adapter"


class Packet(msgspec.Struct, frozen=True, tag="netsim.packet"):
    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    protocol: str
    payload: bytes = b""
    ttl: int = 64

    def __post_init__(self) -> None:
        for ip in (self.src_ip, self.dst_ip):
            if str(IPv4Address(ip)) != ip:
                raise ValueError(f"not a canonical IPv4 address: {ip!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        for port in (self.src_port, self.dst_port):
            if not 0 <= port <= 65535:
                raise ValueError(f"port out of range: {port}")
        if not 0 <= self.ttl <= 255:
            raise ValueError(f"ttl out of range: {self.ttl}")

    @property
    def src(self) -> str:
        return f"{self.src_ip}:{self.src_port}"

    @property
    def dst(self) -> str:
        return f"{self.dst_ip}:{self.dst_port}"


class Hop(msgspec.Struct, frozen=True, tag="netsim.hop"):
    """A device the packet crossed: where, the addresses it carried there, and any rewrite."""

    device: str
    node: str
    namespace: str
    src: str
    dst: str
    note: str = ""
    kind: str = ""


class Delivery(msgspec.Struct, frozen=True, tag="netsim.delivery"):
    delivered: bool
    packet_at_destination: Packet | None
    path: tuple[Hop, ...]
    latency_s: float
    reason: str = ""


class PathRecorder:
    """The record a packet leaves while it travels: hops, summed latency, and a netfilter note
    waiting for the next hop (a rewrite made before the packet crossed any device)."""

    def __init__(self) -> None:
        self.hops: list[Hop] = []
        self.latency_s = 0.0
        self._pending = ""

    def note(self, text: str) -> None:
        """Attach a rewrite note to the hop where it happened (the last one recorded)."""
        if not text:
            return
        if self.hops:
            last = self.hops[-1]
            self.hops[-1] = msgspec.structs.replace(last, note=_join(last.note, text))
        else:
            self._pending = _join(self._pending, text)

    def hop(self, device: str, node: str, namespace: str, packet: Packet, kind: str) -> None:
        last = self.hops[-1] if self.hops else None
        if last is not None and (last.namespace, last.device) == (namespace, device):
            return  # in and straight back out of one device (DNAT, then forward): one hop
        note, self._pending = self._pending, ""
        self.hops.append(Hop(device, node, namespace, packet.src_ip, packet.dst_ip, note, kind))

    def done(self, packet: Packet) -> Delivery:
        return Delivery(True, packet, tuple(self.hops), self.latency_s)

    def drop(self, reason: str) -> Delivery:
        return Delivery(False, None, tuple(self.hops), self.latency_s, reason)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def hop_label(hop: Hop) -> str:
    """How one hop reads in the seed's notation (`pod A eth0`, `cni0 gateway (node-1)`...)."""
    if hop.kind == HOP_POD:
        return f"pod {hop.namespace} {hop.device}"
    if hop.kind == HOP_ADAPTER:
        return f"{hop.node} {hop.device}"
    if hop.kind == HOP_GATEWAY:
        return f"{hop.device} gateway ({hop.node})"
    if hop.kind == HOP_BRIDGE:
        return f"{hop.device} bridge ({hop.node})"
    return f"{hop.device} ({hop.node})"


def path_str(delivery: Delivery, *, notes: bool = True) -> str:
    """The hop-by-hop path, as the seed writes it:

    `pod A eth0 → vethA (node-1) → cni0 gateway (node-1) → node-1 eth0 → node-2 eth0 →
    cni0 gateway (node-2) → vethB (node-2) → pod B eth0`

    A hop where netfilter rewrote the packet carries its note in brackets (`[DNAT …]`); pass
    `notes=False` for the bare path. A dropped packet ends with `✗ <reason>`.
    """
    parts = []
    for hop in delivery.path:
        label = hop_label(hop)
        parts.append(f"{label} [{hop.note}]" if notes and hop.note else label)
    text = " → ".join(parts)
    if not delivery.delivered:
        text = f"{text} ✗ {delivery.reason}" if text else f"✗ {delivery.reason}"
    return text
