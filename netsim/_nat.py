"""Service NAT and connection tracking: the rules kube-proxy programs on each node.

What it is: one `NatTable` per node host namespace, in the spirit of iptables' nat table as
kube-proxy (iptables mode) fills it. `prerouting` is the PREROUTING/OUTPUT hook: a packet of a
known connection is translated as its conntrack entry says (replies un-DNATed, so the client sees
the Service VIP answer); a new packet to a ClusterIP:port (KUBE-SERVICES) or to a local address
at a NodePort (KUBE-NODEPORTS) is DNATed to one backend, picked at random with the rule's seeded
generator (iptables `statistic --mode random` spreads new connections uniformly) or sticky per
client IP (`sessionAffinity: ClientIP`). `postrouting` is the POSTROUTING hook: masquerade
(SNAT to the outgoing device's address) where kube-proxy marks it — NodePort traffic and
hairpin traffic (a pod reaching itself through its Service) — or where an `ipMasq` rule says so;
then the conntrack entry is confirmed, as the kernel confirms it on the way out.

Concurrency model: none; a plain object driven by the `Fabric`, one packet at a time.
Randomness comes only from the `random.Random` instances handed in.

Rule changes come whole (`replace_rules`, iptables-restore of the full table) or partial
(`update_rules`: the rules of some keys replaced or removed, every other rule untouched, as
kube-proxy's partial restores since `MinimizeIPTablesRestore` rewrite only the chains of the
Services that changed). Both leave the same rule set and the same behaviour. `rules()` lists
Service rules, then NodePort rules, each in the order their keys were installed: a key that a
partial update adds comes last, where a whole replacement puts it where its list has it.
Nothing depends on that order (packets are matched by VIP:port/protocol and NodePort/protocol).

Invariants: rules are immutable values, replaced as a whole set (`replace_rules`), in part
(`update_rules`) or one at a time, never half-applied (everything is validated before anything
changes); a rule key keeps its generator for as long as it is installed; `generation` grows
with every rule change, whoever makes it; a conntrack entry is reachable both by its original
tuple and by its reply tuple, and no two entries share a reply tuple (masquerade picks another
source port, as the kernel does on a clash); after a rule change, entries and sticky choices
pointing at backends no longer in the rule are flushed, so new traffic reaches only current
backends — and entries of rules the change did not touch stay.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from ipaddress import IPv4Address, IPv4Network
from random import Random

import msgspec

from netsim._packet import TCP, UDP, Packet

CLIENT_IP = "ClientIP"
AFFINITIES = (None, CLIENT_IP)

Backend = tuple[str, int]
Tuple5 = tuple[str, str, int, str, int]


class ServiceRule(msgspec.Struct, frozen=True, tag="netsim.svc"):
    """ClusterIP:port/protocol → one of `backends` (pod IP, target port)."""

    vip: str
    port: int
    protocol: str
    backends: tuple[Backend, ...]
    affinity: str | None = None

    @property
    def key(self) -> str:
        return f"svc {self.vip}:{self.port}/{self.protocol}"


class NodePortRule(msgspec.Struct, frozen=True, tag="netsim.nodeport"):
    """Any local address:node_port/protocol → one of `backends`, masqueraded."""

    node_port: int
    protocol: str
    backends: tuple[Backend, ...]
    affinity: str | None = None

    @property
    def key(self) -> str:
        return f"nodeport {self.node_port}/{self.protocol}"


Rule = ServiceRule | NodePortRule


class MasqueradeRule(msgspec.Struct, frozen=True, tag="netsim.masq"):
    """SNAT traffic from `source` to anywhere outside `source` and `exclude` (ipMasq)."""

    source: str
    exclude: tuple[str, ...] = ()


class ConntrackEntry(msgspec.Struct, frozen=True, tag="netsim.ct"):
    """One tracked connection: the tuple as the client sent it, and as the reply will come."""

    protocol: str
    orig_src: Backend
    orig_dst: Backend
    reply_src: Backend
    reply_dst: Backend
    rule: str = ""

    @property
    def dnat(self) -> bool:
        return self.orig_dst != self.reply_src

    @property
    def snat(self) -> bool:
        return self.orig_src != self.reply_dst


class Verdict(msgspec.Struct, frozen=True):
    """What PREROUTING decided: the (maybe rewritten) packet, a note, and pending NAT state."""

    packet: Packet
    note: str = ""
    reject: bool = False
    original: Packet | None = None  # set when the packet starts a new connection
    rule: str = ""
    masquerade: bool = False


def _tuple(p: Packet) -> Tuple5:
    return (p.protocol, p.src_ip, p.src_port, p.dst_ip, p.dst_port)


def _check_rule(rule: Rule) -> None:
    if rule.protocol not in (TCP, UDP):
        raise ValueError(f"{rule.key}: service protocol must be TCP or UDP")
    if rule.affinity not in AFFINITIES:
        raise ValueError(f"{rule.key}: affinity must be None or {CLIENT_IP!r}")
    port = rule.port if isinstance(rule, ServiceRule) else rule.node_port
    if not 0 < port <= 65535:
        raise ValueError(f"{rule.key}: port out of range")
    if isinstance(rule, ServiceRule) and canonical_ipv4(rule.vip) is None:
        IPv4Address(rule.vip)  # raises, with ipaddress' message
    for ip, bport in rule.backends:
        text = canonical_ipv4(ip)
        if text is None:
            IPv4Address(ip)  # raises, with ipaddress' message
        if text != ip or not 0 < bport <= 65535:
            raise ValueError(f"{rule.key}: bad backend {ip}:{bport}")


@functools.lru_cache(maxsize=1 << 16)
def canonical_ipv4(text: str) -> str | None:
    """``str(IPv4Address(text))``, or None when ``text`` is no IPv4 address. Cached: every
    node's kube-proxy checks the same pod addresses at every sync."""
    try:
        return str(IPv4Address(text))
    except ValueError:
        return None


def _checked(rules: Iterable[Rule]) -> list[Rule]:
    """The rules as a list, each validated (`ValueError` names the first bad one)."""
    out = list(rules)
    for rule in out:
        _check_rule(rule)
    return out


def _backends(backends: Iterable[tuple[str, int]]) -> tuple[Backend, ...]:
    return tuple((str(ip), int(port)) for ip, port in backends)


class NatTable:
    """A node's nat rules and conntrack table."""

    def __init__(self, *, rng: Random, max_conntrack: int = 65536) -> None:
        self._rng = rng
        self._max = max_conntrack
        self._services: dict[tuple[str, int, str], ServiceRule] = {}
        self._nodeports: dict[tuple[int, str], NodePortRule] = {}
        self._rule_rngs: dict[str, Random] = {}
        self._masq: list[MasqueradeRule] = []
        self._sticky: dict[tuple[str, str], Backend] = {}
        self._by_orig: dict[Tuple5, ConntrackEntry] = {}
        self._by_reply: dict[Tuple5, ConntrackEntry] = {}
        self._generation = 0

    # -- rules -------------------------------------------------------------------------------

    def add_service_rule(
        self,
        vip: str,
        port: int,
        protocol: str,
        backends: Iterable[tuple[str, int]],
        affinity: str | None = None,
        rng: Random | None = None,
    ) -> ServiceRule:
        """Install (or replace) the rule for `vip:port/protocol`."""
        rule = ServiceRule(str(IPv4Address(vip)), port, protocol, _backends(backends), affinity)
        self.replace_rules([*self._without(rule.key), rule], rngs={rule.key: rng})
        return rule

    def add_nodeport_rule(
        self,
        node_port: int,
        protocol: str,
        backends: Iterable[tuple[str, int]],
        affinity: str | None = None,
        rng: Random | None = None,
    ) -> NodePortRule:
        rule = NodePortRule(node_port, protocol, _backends(backends), affinity)
        self.replace_rules([*self._without(rule.key), rule], rngs={rule.key: rng})
        return rule

    def remove_service_rule(self, vip: str, port: int, protocol: str) -> None:
        self.replace_rules(self._without(f"svc {vip}:{port}/{protocol}"))

    def remove_nodeport_rule(self, node_port: int, protocol: str) -> None:
        self.replace_rules(self._without(f"nodeport {node_port}/{protocol}"))

    def replace_rules(
        self, rules: Iterable[Rule], *, rngs: dict[str, Random | None] | None = None
    ) -> None:
        """Swap in a whole new rule set at once (iptables-restore), validated before any change.

        `rngs` gives a generator per rule key; rules without one keep theirs, or use the table's.
        """
        services: dict[tuple[str, int, str], ServiceRule] = {}
        nodeports: dict[tuple[int, str], NodePortRule] = {}
        for rule in _checked(rules):
            if isinstance(rule, ServiceRule):
                services[(rule.vip, rule.port, rule.protocol)] = rule
            else:
                nodeports[(rule.node_port, rule.protocol)] = rule
        keys = {r.key for r in (*services.values(), *nodeports.values())}
        new_rngs = {k: r for k, r in self._rule_rngs.items() if k in keys}
        new_rngs.update({k: r for k, r in (rngs or {}).items() if r is not None and k in keys})
        self._services, self._nodeports, self._rule_rngs = services, nodeports, new_rngs
        self._generation += 1
        self._flush_stale()

    def update_rules(
        self,
        remove: Iterable[str],
        add: Iterable[Rule],
        *,
        rngs: dict[str, Random | None] | None = None,
    ) -> None:
        """Replace part of the rule set (a partial iptables-restore), validated before any change.

        The rules keyed `remove` go (unknown keys are ignored), then `add` is installed (a later
        rule for a key wins, as in `replace_rules`); every other rule, its generator and the
        conntrack entries and sticky choices it made stay as they are. The result is what
        `replace_rules` would make of the current rules minus `remove` plus `add`: a key both
        removed and added is replaced in place and keeps its generator. `rngs` as in
        `replace_rules`.
        """
        added = _checked(add)
        gone = {k for k in set(remove) - {r.key for r in added} if self._installed(k)}
        touched = gone | {r.key for r in added}
        if not touched:
            return
        for key in gone:
            self._unset(key)
            self._rule_rngs.pop(key, None)
        for rule in added:
            if isinstance(rule, ServiceRule):
                self._services[(rule.vip, rule.port, rule.protocol)] = rule
            else:
                self._nodeports[(rule.node_port, rule.protocol)] = rule
            rng = (rngs or {}).get(rule.key)
            if rng is not None:
                self._rule_rngs[rule.key] = rng
        self._generation += 1
        self._flush_stale(touched)

    def rules(self) -> tuple[Rule, ...]:
        return (*self._services.values(), *self._nodeports.values())

    @property
    def generation(self) -> int:
        """A counter bumped by every rule change (whole, partial or one rule), by anyone."""
        return self._generation

    def add_masquerade(self, source: str, exclude: Iterable[str] = ()) -> MasqueradeRule:
        rule = MasqueradeRule(str(IPv4Network(source)), tuple(str(IPv4Network(e)) for e in exclude))
        if rule not in self._masq:
            self._masq.append(rule)
        return rule

    def remove_masquerade(self, source: str) -> None:
        self._masq = [m for m in self._masq if m.source != str(IPv4Network(source))]

    def masquerade_rules(self) -> tuple[MasqueradeRule, ...]:
        return tuple(self._masq)

    # -- conntrack ---------------------------------------------------------------------------

    def conntrack(self) -> tuple[ConntrackEntry, ...]:
        return tuple(self._by_orig.values())

    def flush_conntrack(self) -> None:
        self._by_orig.clear()
        self._by_reply.clear()

    # -- hooks -------------------------------------------------------------------------------

    def prerouting(self, packet: Packet, local: Collection[IPv4Address]) -> Verdict:
        """PREROUTING (or OUTPUT, for locally generated packets): conntrack, then DNAT rules."""
        tracked = self.track(packet)
        if tracked is not None:
            return tracked
        rule = self._match(packet, local)
        if rule is None:
            return Verdict(packet, original=packet)
        front = f"{packet.dst_ip}:{packet.dst_port}"
        if not rule.backends:
            # kube-proxy REJECTs traffic to a Service without endpoints (ICMP port unreachable).
            return Verdict(packet, f"REJECT {front}/{packet.protocol}: no endpoints", reject=True)
        ip, port = self._choose(rule, packet.src_ip)
        dnat = msgspec.structs.replace(packet, dst_ip=ip, dst_port=port)
        masq = isinstance(rule, NodePortRule) or ip == packet.src_ip
        note = f"DNAT {front} → {ip}:{port}"
        return Verdict(dnat, note, original=packet, rule=rule.key, masquerade=masq)

    def postrouting(
        self, verdict: Verdict, packet: Packet, out_src: IPv4Address | None
    ) -> tuple[Packet, str]:
        """POSTROUTING: masquerade where marked or configured, then confirm the connection."""
        original = verdict.original
        if original is None:
            return packet, ""
        note = ""
        masq = verdict.masquerade or self._masq_matches(packet)
        if masq and out_src is not None and str(out_src) != packet.src_ip:
            sport = self._free_port(packet, str(out_src))
            note = f"SNAT {packet.src_ip}:{packet.src_port} → {out_src}:{sport}"
            packet = msgspec.structs.replace(packet, src_ip=str(out_src), src_port=sport)
        if not verdict.rule and not note:
            return packet, ""
        self._confirm(original, packet, verdict.rule)
        return packet, note

    def track(self, packet: Packet) -> Verdict | None:
        """Translate a packet of a tracked connection (either direction); None if untracked.

        Alone, this is what a bridged frame meets (br_netfilter): replies between two pods of
        one node are un-DNATed on the bridge without being routed.
        """
        key = _tuple(packet)
        entry = self._by_reply.get(key)
        if entry is not None:
            return Verdict(self._rewrite(packet, entry.orig_dst, entry.orig_src), _undo(entry))
        entry = self._by_orig.get(key)
        if entry is not None:
            return Verdict(self._rewrite(packet, entry.reply_dst, entry.reply_src), _redo(entry))
        return None

    # -- internals ---------------------------------------------------------------------------

    def _installed(self, key: str) -> Rule | None:
        """The rule installed under a rule key (the `key` property's format), if any."""
        kind, _, rest = key.partition(" ")
        where, _, proto = rest.rpartition("/")
        host, _, port = where.rpartition(":")
        if not port.isdigit():
            return None
        if kind == "svc":
            return self._services.get((host, int(port), proto))
        return self._nodeports.get((int(port), proto)) if kind == "nodeport" and not host else None

    def _unset(self, key: str) -> None:
        rule = self._installed(key)
        if isinstance(rule, ServiceRule):
            del self._services[(rule.vip, rule.port, rule.protocol)]
        elif rule is not None:
            del self._nodeports[(rule.node_port, rule.protocol)]

    def _without(self, key: str) -> list[Rule]:
        return [r for r in self.rules() if r.key != key]

    def _match(self, packet: Packet, local: Collection[IPv4Address]) -> Rule | None:
        rule = self._services.get((packet.dst_ip, packet.dst_port, packet.protocol))
        if rule is not None:
            return rule
        np = self._nodeports.get((packet.dst_port, packet.protocol))
        if np is not None and IPv4Address(packet.dst_ip) in local:
            return np
        return None

    def _choose(self, rule: Rule, client: str) -> Backend:
        if rule.affinity == CLIENT_IP:
            sticky = self._sticky.get((rule.key, client))
            if sticky is not None and sticky in rule.backends:
                return sticky
        rng = self._rule_rngs.get(rule.key, self._rng)
        chosen = rule.backends[rng.randrange(len(rule.backends))]
        if rule.affinity == CLIENT_IP:
            self._sticky[(rule.key, client)] = chosen
        return chosen

    def _masq_matches(self, packet: Packet) -> bool:
        src, dst = IPv4Address(packet.src_ip), IPv4Address(packet.dst_ip)
        for m in self._masq:
            nets = [IPv4Network(m.source), *map(IPv4Network, m.exclude)]
            if src in nets[0] and not any(dst in n for n in nets):
                return True
        return False

    def _free_port(self, packet: Packet, new_src: str) -> int:
        """Keep the source port unless the reply tuple would clash with another connection."""
        port = packet.src_port
        for _ in range(65536):
            reply = (packet.protocol, packet.dst_ip, packet.dst_port, new_src, port)
            if reply not in self._by_reply:
                return port
            port = 32768 if port >= 60999 else port + 1
        raise RuntimeError("conntrack: no free source port for masquerade")

    def _confirm(self, original: Packet, final: Packet, rule: str) -> None:
        entry = ConntrackEntry(
            protocol=original.protocol,
            orig_src=(original.src_ip, original.src_port),
            orig_dst=(original.dst_ip, original.dst_port),
            reply_src=(final.dst_ip, final.dst_port),
            reply_dst=(final.src_ip, final.src_port),
            rule=rule,
        )
        while len(self._by_orig) >= self._max:  # nf_conntrack_max: the oldest entry goes
            self._drop(next(iter(self._by_orig.values())))
        self._by_orig[_tuple(original)] = entry
        self._by_reply[(entry.protocol, *entry.reply_src, *entry.reply_dst)] = entry

    def _drop(self, entry: ConntrackEntry) -> None:
        self._by_orig.pop((entry.protocol, *entry.orig_src, *entry.orig_dst), None)
        self._by_reply.pop((entry.protocol, *entry.reply_src, *entry.reply_dst), None)

    def _flush_stale(self, keys: Collection[str] | None = None) -> None:
        """Forget sticky choices and conntrack entries whose backend left their rule (of the
        rule keys `keys`, or of every rule): only what a change touched can have gone stale."""
        if keys is None:
            live = {r.key: set(r.backends) for r in self.rules()}
        else:
            live = {k: set(rule.backends if (rule := self._installed(k)) else ()) for k in keys}

        def stale(rule: str, backend: Backend) -> bool:
            return (keys is None or rule in live) and backend not in live.get(rule, ())

        self._sticky = {k: b for k, b in self._sticky.items() if not stale(k[0], b)}
        for entry in list(self._by_orig.values()):
            if entry.rule and stale(entry.rule, entry.reply_src):
                self._drop(entry)

    @staticmethod
    def _rewrite(packet: Packet, src: Backend, dst: Backend) -> Packet:
        return msgspec.structs.replace(
            packet, src_ip=src[0], src_port=src[1], dst_ip=dst[0], dst_port=dst[1]
        )


def _undo(entry: ConntrackEntry) -> str:
    notes = []
    if entry.dnat:
        notes.append(f"un-DNAT {_fmt(entry.reply_src)} → {_fmt(entry.orig_dst)}")
    if entry.snat:
        notes.append(f"un-SNAT {_fmt(entry.reply_dst)} → {_fmt(entry.orig_src)}")
    return "; ".join(notes)


def _redo(entry: ConntrackEntry) -> str:
    notes = []
    if entry.dnat:
        notes.append(f"DNAT {_fmt(entry.orig_dst)} → {_fmt(entry.reply_src)}")
    if entry.snat:
        notes.append(f"SNAT {_fmt(entry.orig_src)} → {_fmt(entry.reply_dst)}")
    return "; ".join(notes)


def _fmt(b: Backend) -> str:
    return f"{b[0]}:{b[1]}"
