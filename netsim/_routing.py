"""Route tables and neighbour (ARP) tables, one of each per network namespace.

What it is: the kernel's FIB and neighbour cache, reduced to what pod networking needs.
`RouteTable.lookup` is longest-prefix match (then lowest metric, then first added), as the
kernel's main table resolves it; routes are on-link (`dev` only, scope link: the destination is
resolved by ARP directly) or via a gateway. `NeighbourTable` caches IP → MAC per device and
keeps a record of every ARP exchange, so one can see that resolution happened, and only once.

Concurrency model: none; plain synchronous objects owned by their `NetNamespace`.

Invariants: routes are immutable values (frozen msgspec Structs); a table never holds two routes
with the same (dst, metric) — `add` refuses, `replace` swaps, as `ip route add/replace` do.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

import msgspec

from netsim._devices import NetsimError

SCOPE_LINK = "link"
SCOPE_GLOBAL = "global"


class RouteExists(NetsimError, ValueError):
    """`ip route add` of a destination (and metric) already in the table: EEXIST."""


class Route(msgspec.Struct, frozen=True, tag="netsim.route"):
    """One entry of a route table. `via` empty means on-link (scope link)."""

    dst: str
    dev: str
    via: str = ""
    metric: int = 0
    proto: str = "static"

    def __post_init__(self) -> None:
        net = ip_network(self.dst, strict=True)
        if net.version != 4 or (self.via and ip_address(self.via).version != 4):
            raise ValueError(f"only IPv4 routes are simulated: {self.dst} via {self.via!r}")

    @property
    def network(self) -> IPv4Network:
        return IPv4Network(self.dst)

    @property
    def gateway(self) -> IPv4Address | None:
        return IPv4Address(self.via) if self.via else None

    @property
    def scope(self) -> str:
        return SCOPE_GLOBAL if self.via else SCOPE_LINK

    def __str__(self) -> str:
        dst = "default" if self.dst == "0.0.0.0/0" else self.dst
        via = f" via {self.via}" if self.via else ""
        return f"{dst}{via} dev {self.dev} proto {self.proto} metric {self.metric}"


class PeerRoutes:
    """The host-gw routes every node holds to every other node's podCIDR, kept once.

    N nodes hold N x (N - 1) such routes; stored per table they made joining 5,000 nodes
    cost 25 million Route values. A node's `RouteTable` reads this shared set as part of its
    own (`attach_peers`), minus its own entry and any it removed locally, so `ip route` and
    lookups see exactly what per-table copies would show.
    """

    def __init__(self) -> None:
        self._by_owner: dict[str, tuple[IPv4Network, Route]] = {}
        # prefixlen -> network address (int) -> (owner, route): longest-prefix lookup is one
        # dict probe per prefix length in use.
        self._index: dict[int, dict[int, tuple[str, Route, IPv4Network]]] = {}

    def set(self, owner: str, route: Route) -> None:
        self.discard(owner)
        net = route.network
        self._by_owner[owner] = (net, route)
        self._index.setdefault(net.prefixlen, {})[int(net.network_address)] = (owner, route, net)

    def discard(self, owner: str) -> None:
        entry = self._by_owner.pop(owner, None)
        if entry is not None:
            net = entry[0]
            bucket = self._index[net.prefixlen]
            bucket.pop(int(net.network_address), None)
            if not bucket:
                del self._index[net.prefixlen]

    def overlapping(self, net: IPv4Network) -> str | None:
        """The owner of a route whose network overlaps ``net``, if any."""
        base = int(net.network_address)
        for plen, bucket in self._index.items():
            if plen <= net.prefixlen:
                hit = bucket.get(base & _mask(plen))
                if hit is not None:
                    return hit[0]
            else:
                for owner, _, inner in bucket.values():
                    if inner.subnet_of(net):
                        return owner
        return None

    def lookup(self, addr: int) -> list[tuple[str, Route, IPv4Network]]:
        """Candidates containing ``addr``: (owner, route, network), most specific first."""
        out = []
        for plen in sorted(self._index, reverse=True):
            hit = self._index[plen].get(addr & _mask(plen))
            if hit is not None:
                out.append(hit)
        return out

    def entries(self) -> list[tuple[str, IPv4Network, Route]]:
        return [(owner, net, route) for owner, (net, route) in self._by_owner.items()]


def _mask(prefixlen: int) -> int:
    return (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF if prefixlen else 0


class RouteTable:
    """A namespace's main route table."""

    def __init__(self) -> None:
        self._peers: PeerRoutes | None = None
        self._self = ""  # this table's owner in _peers (its own entry is not a route here)
        self._hidden: set[IPv4Network] = set()  # shared routes deleted from this table
        # Parsed networks kept beside the routes: lookups happen per packet per hop.
        self._routes: list[tuple[IPv4Network, Route]] = []
        # (network, metric) -> position in _routes: a node's table holds a route per other
        # node, and scanning it on every add made joining N nodes cost O(N^3).
        self._positions: dict[tuple[IPv4Network, int], int] = {}

    def attach_peers(self, peers: PeerRoutes, owner: str) -> None:
        """Read ``peers`` (all but ``owner``'s entry) as routes of this table."""
        self._peers, self._self = peers, owner

    def _visible_peers(self) -> list[tuple[IPv4Network, Route]]:
        if self._peers is None:
            return []
        return [(net, r) for owner, net, r in self._peers.entries()
                if owner != self._self and net not in self._hidden
                and self._index(net, r.metric) is None]

    def add(self, route: Route) -> None:
        if self._index(route.network, route.metric) is not None or any(
                n == route.network and r.metric == route.metric
                for n, r in self._visible_peers_at(route.network)):
            raise RouteExists(f"route {route.dst} metric {route.metric} already exists")
        self._positions[(route.network, route.metric)] = len(self._routes)
        self._routes.append((route.network, route))

    def replace(self, route: Route) -> None:
        i = self._index(route.network, route.metric)
        if i is None:
            self._positions[(route.network, route.metric)] = len(self._routes)
            self._routes.append((route.network, route))
        else:
            self._routes[i] = (route.network, route)

    def remove(self, dst: str, *, dev: str | None = None) -> int:
        """Delete routes to `dst` (optionally only through `dev`); returns how many went."""
        net = ip_network(dst)
        keep = [(n, r) for n, r in self._routes if not (n == net and dev in (None, r.dev))]
        removed = len(self._routes) - len(keep)
        for n, r in self._visible_peers_at(net):
            if n == net and dev in (None, r.dev):
                self._hidden.add(n)
                removed += 1
        self._routes = keep
        self._reindex()
        return removed

    def remove_dev(self, dev: str) -> None:
        """A device went away: so do all routes through it, as in the kernel."""
        self._routes = [(n, r) for n, r in self._routes if r.dev != dev]
        self._hidden.update(n for n, r in self._visible_peers() if r.dev == dev)
        self._reindex()

    def _visible_peers_at(self, net: IPv4Network) -> list[tuple[IPv4Network, Route]]:
        if self._peers is None:
            return []
        return [(n, route) for owner, route, n in self._peers.lookup(int(net.network_address))
                if n == net and owner != self._self and n not in self._hidden]

    def lookup(self, ip: IPv4Address | str) -> Route | None:
        addr = IPv4Address(ip)
        best: tuple[int, int] | None = None
        found: Route | None = None
        for net, route in self._routes:
            if addr in net:
                key = (-net.prefixlen, route.metric)
                if best is None or key < best:
                    best, found = key, route
        if self._peers is not None:
            for owner, route, net in self._peers.lookup(int(addr)):
                if owner == self._self:
                    continue
                if net in self._hidden or self._index(net, route.metric) is not None:
                    continue  # deleted here, or replaced by a route of this table's own
                key = (-net.prefixlen, route.metric)
                if best is None or key < best:
                    best, found = key, route
                break
        return found

    def routes(self) -> tuple[Route, ...]:
        """All routes, most specific first (the order `ip route` readers expect)."""
        ordered = sorted([*self._routes, *self._visible_peers()],
                         key=lambda nr: (-nr[0].prefixlen, nr[0], nr[1].metric))
        return tuple(r for _, r in ordered)

    def _index(self, net: IPv4Network, metric: int) -> int | None:
        return self._positions.get((net, metric))

    def _reindex(self) -> None:
        self._positions = {(n, r.metric): i for i, (n, r) in enumerate(self._routes)}

    def __len__(self) -> int:
        return len(self._routes) + len(self._visible_peers())


class ArpExchange(msgspec.Struct, frozen=True, tag="netsim.arp"):
    """A record that `dev` asked who-has `ip` and `mac` answered."""

    dev: str
    ip: str
    mac: str


class NeighbourTable:
    """IP → MAC per device, filled on first use; every exchange recorded in `exchanges`."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, IPv4Address], str] = {}
        self.exchanges: list[ArpExchange] = []

    def lookup(self, dev: str, ip: IPv4Address) -> str | None:
        return self._entries.get((dev, ip))

    def learn(self, dev: str, ip: IPv4Address, mac: str) -> None:
        """Record an ARP reply. A changed MAC (address reused) is a new exchange too."""
        self._entries[(dev, ip)] = mac
        self.exchanges.append(ArpExchange(dev, str(ip), mac))

    def forget(self, dev: str | None = None) -> None:
        """Flush entries (all, or one device's), as `ip neigh flush` does."""
        self._entries = {k: v for k, v in self._entries.items() if dev is not None and k[0] != dev}

    def entries(self) -> dict[tuple[str, str], str]:
        return {(dev, str(ip)): mac for (dev, ip), mac in sorted(self._entries.items())}
