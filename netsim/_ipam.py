"""host-local IP address management: the allocator behind the `host-local` IPAM plugin.

What it is: the pure core of host-local. One `HostLocalAllocator` per (node, network name) —
host-local keeps its state on the host, under /var/lib/cni/networks/<name>, so two nodes never
share one — hands out addresses from a range set: one or more `IPRange`s, each a subnet with an
optional [rangeStart, rangeEnd]. It never hands out the subnet's network or broadcast address,
nor the gateway, nor an address already reserved. Like host-local, it allocates round-robin,
continuing after the last address it reserved, so an address just released is not immediately
handed out again (that gives stale ARP entries and connections time to die).

Concurrency model: none; plain synchronous state, no clock, no randomness.

Invariants: an owner (`<container id>/<ifname>`) holds at most one address per allocator; an
address has at most one owner; every reserved address lies in the range set and is neither the
network, the broadcast nor the gateway address.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import msgspec

from netsim._devices import NetsimError


class IpamError(NetsimError):
    """Base of the allocator's expected failures."""


class AddressExhausted(IpamError):
    """Every address of the range set is taken."""


class AddressUnavailable(IpamError):
    """A specifically requested address is outside the range set, reserved, or in use."""


class DuplicateAllocation(IpamError):
    """The owner already holds an address from this allocator."""


class IPRange(msgspec.Struct, frozen=True, tag="netsim.iprange"):
    """A subnet and the slice of it to allocate from (inclusive), with its gateway."""

    subnet: str
    range_start: str
    range_end: str
    gateway: str

    @classmethod
    def build(
        cls,
        subnet: str,
        range_start: str | None = None,
        range_end: str | None = None,
        gateway: str | None = None,
    ) -> IPRange:
        """Validate and fill host-local's defaults: .1 to the last host, gateway .1."""
        net = IPv4Network(subnet, strict=False)
        if net.prefixlen > 30:
            raise ValueError(f"subnet {subnet} is too small to allocate from (need /30 or larger)")
        first, last = net.network_address + 1, net.broadcast_address - 1
        start = IPv4Address(range_start) if range_start else first
        end = IPv4Address(range_end) if range_end else last
        gw = IPv4Address(gateway) if gateway else first
        for label, ip in (("rangeStart", start), ("rangeEnd", end), ("gateway", gw)):
            if ip not in net:
                raise ValueError(f"{label} {ip} is not in subnet {net}")
        if start > end:
            raise ValueError(f"rangeStart {start} is after rangeEnd {end}")
        return cls(str(net), str(start), str(end), str(gw))

    @property
    def network(self) -> IPv4Network:
        return IPv4Network(self.subnet)

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, IPv4Address) and (
            IPv4Address(self.range_start) <= ip <= IPv4Address(self.range_end)
        )

    def __str__(self) -> str:
        return f"{self.range_start}-{self.range_end}"


class HostLocalAllocator:
    """A range set and the addresses reserved from it."""

    def __init__(self, ranges: Sequence[IPRange]) -> None:
        self._ranges: tuple[IPRange, ...] = ()
        self._bounds: list[tuple[int, int]] = []
        self.reconfigure(ranges)
        self._by_ip: dict[IPv4Address, str] = {}
        self._by_owner: dict[str, IPv4Address] = {}
        self.last_reserved: IPv4Address | None = None

    @property
    def ranges(self) -> tuple[IPRange, ...]:
        return self._ranges

    def reconfigure(self, ranges: Sequence[IPRange]) -> None:
        """Change the range set; existing reservations are kept (host-local's files stay)."""
        if not ranges:
            raise ValueError("a range set needs at least one range")
        self._ranges = tuple(ranges)
        self._bounds = [
            (int(IPv4Address(r.range_start)), int(IPv4Address(r.range_end))) for r in ranges
        ]

    def describe(self) -> str:
        return ",".join(str(r) for r in self._ranges)

    def allocate(
        self, owner: str, *, requested: IPv4Address | None = None
    ) -> tuple[IPv4Interface, IPv4Address]:
        """Reserve an address for `owner`: (address with the subnet's prefix, gateway)."""
        if owner in self._by_owner:
            held = self._by_owner[owner]
            raise DuplicateAllocation(
                f"{held} has been allocated to {owner}, duplicate allocation is not allowed"
            )
        if requested is not None:
            rng = self._usable_range(requested)
            if rng is None or requested in self._by_ip:
                raise AddressUnavailable(
                    f"requested IP address {requested} is not available in range set {self.describe()}"
                )
            return self._reserve(owner, requested, rng)
        for ip in self._candidates():
            rng = self._usable_range(ip)
            if rng is not None and ip not in self._by_ip:
                return self._reserve(owner, ip, rng)
        raise AddressExhausted(f"no IP addresses available in range set: {self.describe()}")

    def release(self, owner: str) -> IPv4Address | None:
        """Free the owner's address; releasing an unknown owner is not an error (DEL is idempotent)."""
        ip = self._by_owner.pop(owner, None)
        if ip is not None:
            del self._by_ip[ip]
        return ip

    def lookup(self, owner: str) -> IPv4Address | None:
        return self._by_owner.get(owner)

    def allocated(self) -> dict[str, str]:
        """Reserved address → owner, in address order."""
        return {str(ip): self._by_ip[ip] for ip in sorted(self._by_ip)}

    def free_count(self) -> int:
        total = sum(
            1
            for lo, hi in self._bounds
            for i in range(lo, hi + 1)
            if self._usable_range(IPv4Address(i))
        )
        return total - len(self._by_ip)

    def _reserve(
        self, owner: str, ip: IPv4Address, rng: IPRange
    ) -> tuple[IPv4Interface, IPv4Address]:
        self._by_ip[ip] = owner
        self._by_owner[owner] = ip
        self.last_reserved = ip
        return IPv4Interface(f"{ip}/{rng.network.prefixlen}"), IPv4Address(rng.gateway)

    def _usable_range(self, ip: IPv4Address) -> IPRange | None:
        for rng in self._ranges:
            net = rng.network
            if ip in rng and ip not in (
                net.network_address,
                net.broadcast_address,
                IPv4Address(rng.gateway),
            ):
                return rng
        return None

    def _candidates(self) -> Iterator[IPv4Address]:
        """Every address of the range set once, starting after the last one reserved."""
        flat = [i for lo, hi in self._bounds for i in (lo, hi)]
        sizes = [hi - lo + 1 for lo, hi in self._bounds]
        total = sum(sizes)
        start = 0
        if self.last_reserved is not None:
            pos = self._position(int(self.last_reserved))
            if pos is not None:
                start = pos + 1
        for k in range(total):
            yield IPv4Address(self._at((start + k) % total, sizes, flat))

    def _position(self, value: int) -> int | None:
        offset = 0
        for lo, hi in self._bounds:
            if lo <= value <= hi:
                return offset + value - lo
            offset += hi - lo + 1
        return None

    @staticmethod
    def _at(index: int, sizes: list[int], flat: list[int]) -> int:
        for n, size in enumerate(sizes):
            if index < size:
                return flat[2 * n] + index
            index -= size
        raise AssertionError("index beyond the range set")
