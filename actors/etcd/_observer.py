"""Raft safety, observed from outside: what members report, and the checks run on it.

What it is: an etcd member configured with ``EtcdConfig(observer=address)`` tells that address
an ``Applied`` record after each batch of entries it applies, ``BecameLeader`` when it wins an
election and ``SnapshotInstalled`` when it replaces its state with a leader's snapshot. The
``SafetyObserver`` actor feeds them to ``RaftSafety``, which also inspects the members' live
Raft cores (``RaftNode.status()`` / ``log_view()``) whenever its owner asks. Together they check
the five properties of the Raft paper's Figure 3:

* Election Safety: at most one leader per term (every ``BecameLeader``, and the live leaders);
* Leader Append-Only: a live leader's entries never change while it leads the same term;
* Log Matching: one (index, term) names one entry everywhere, and that entry always follows
  the same (index - 1, term); so logs sharing an entry share the whole prefix before it;
* Leader Completeness: a leader of term T holds every entry that was applied (hence committed)
  by a member whose term was below T at the time;
* State Machine Safety: no two members apply different entries (or reach different store
  revisions) at one index; a member applies in increasing index order.

Concurrency model: ``RaftSafety`` is plain synchronous code; the observer actor only forwards
messages to it. Members reach the observer over the bus, so the harness gives it perfect links
and keeps it out of every partition (``attach_observer``); a record that is lost anyway only
weakens the checks, it never makes them fail.

Invariants: checks never raise; each violation is recorded once as a sentence in
``violations`` (the first ones matter; the list is capped) and ``check()`` raises
``InvariantViolation`` listing them. Inspection is incremental: the live logs are scanned
backwards only as far as the first entry object already verified (logs change only at their
tail), so a check costs in proportion to what changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import msgspec

from actors.etcd._raft import Entry, LogView, RaftNode, Role
from runtime import Actor, InvariantViolation, LinkModel, Simulation, handler

__all__ = [
    "Applied",
    "AppliedEntry",
    "BecameLeader",
    "RaftSafety",
    "SafetyObserver",
    "SnapshotInstalled",
    "attach_observer",
    "entry_digest",
]

_MAX_VIOLATIONS = 50


class AppliedEntry(msgspec.Struct, frozen=True, array_like=True):
    index: int
    term: int
    digest: bytes  # entry_digest(entry)
    revision: int  # the member's store revision right after applying it


class Applied(msgspec.Struct, frozen=True, tag="etcd.obs.applied"):
    """Entries one member applied in one Ready; ``at_term`` is its term when it applied them."""

    member_id: int
    boot: int  # counts the member's starts (a restart re-applies from its snapshot)
    at_term: int
    entries: tuple[AppliedEntry, ...]


class BecameLeader(msgspec.Struct, frozen=True, tag="etcd.obs.leader"):
    member_id: int
    boot: int
    term: int


class SnapshotInstalled(msgspec.Struct, frozen=True, tag="etcd.obs.snapshot"):
    member_id: int
    boot: int
    index: int


def entry_digest(entry: Entry) -> bytes:
    """Eight bytes naming an entry's content (type and data; index and term travel beside)."""
    return hashlib.blake2b(bytes((entry.type,)) + entry.data, digest_size=8).digest()


class _Committed(msgspec.Struct):
    term: int
    digest: bytes
    revision: int
    at_term: int  # the lowest term an applier had: the entry was committed in a term <= this
    by: int


class RaftSafety:
    """The Figure-3 checks over reports and live inspections; see the module docstring."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.checks = 0
        self.leaders: dict[int, int] = {}  # term -> member id
        self.elections = 0
        self.applied: dict[int, _Committed] = {}  # index -> the entry applied there
        self._applied_order: list[int] = []  # indices, in the order first applied
        self._last_applied: dict[tuple[int, int], int] = {}  # (member, boot) -> last index
        self._entries: dict[tuple[int, int], tuple[int, bytes]] = {}  # (index, term) -> prev term, digest
        self._logs: dict[str, tuple[RaftNode, dict[int, Entry]]] = {}
        self._leading: dict[str, tuple[RaftNode, int, int, Entry | None, int]] = {}
        self._commits: dict[str, tuple[RaftNode, int]] = {}

    # ---- reports ---------------------------------------------------------------------------
    def violation(self, text: str) -> None:
        if text not in self.violations and len(self.violations) < _MAX_VIOLATIONS:
            self.violations.append(text)

    def on_leader(self, m: BecameLeader) -> None:
        self.elections += 1
        other = self.leaders.setdefault(m.term, m.member_id)
        if other != m.member_id:
            self.violation(f"Election Safety: members {other} and {m.member_id} both led term {m.term}")

    def on_snapshot(self, m: SnapshotInstalled) -> None:
        key = (m.member_id, m.boot)
        self._last_applied[key] = max(self._last_applied.get(key, 0), m.index)

    def on_applied(self, m: Applied) -> None:
        key = (m.member_id, m.boot)
        last = self._last_applied.get(key, 0)
        applied = self.applied
        for e in m.entries:
            if e.index <= last:
                self.violation(f"State Machine Safety: member {m.member_id} applied index "
                               f"{e.index} after {last} (out of order)")
            last = e.index
            seen = applied.get(e.index)
            if seen is None:
                applied[e.index] = _Committed(e.term, e.digest, e.revision, m.at_term, m.member_id)
                self._applied_order.append(e.index)
                continue
            if (seen.term, seen.digest) != (e.term, e.digest):
                self.violation(f"State Machine Safety: member {m.member_id} applied (term {e.term}) "
                               f"at index {e.index}, member {seen.by} applied a different entry "
                               f"(term {seen.term}) there")
            elif seen.revision != e.revision:
                self.violation(f"State Machine Safety: index {e.index} left member {m.member_id} at "
                               f"revision {e.revision}, member {seen.by} at {seen.revision}")
            if m.at_term < seen.at_term:
                seen.at_term = m.at_term
        self._last_applied[key] = last

    # ---- inspection of the live cores ---------------------------------------------------------
    def inspect(self, nodes: Mapping[str, RaftNode]) -> None:
        """Check the live Raft cores (name -> node of a running member)."""
        self.checks += 1
        leaders: dict[int, str] = {}
        for name, node in nodes.items():
            view = node.log_view()
            self._check_log(name, node, view)
            self._check_commit(name, node)
            if node.role is Role.LEADER:
                other = leaders.setdefault(node.term, name)
                if other != name:
                    self.violation(f"Election Safety: {other} and {name} both lead term {node.term}")
                self._check_leader(name, node, view)
        for name in [n for n in self._logs if n not in nodes]:
            del self._logs[name]

    def _check_commit(self, name: str, node: RaftNode) -> None:
        st = node.status()
        prev = self._commits.get(name)
        if prev is not None and prev[0] is node and st.commit < prev[1]:
            self.violation(f"{name}: commit index went back from {prev[1]} to {st.commit}")
        if not st.applied <= st.commit <= st.last_index:
            self.violation(f"{name}: applied {st.applied} <= commit {st.commit} <= last "
                           f"{st.last_index} does not hold")
        self._commits[name] = (node, st.commit)

    def _check_log(self, name: str, node: RaftNode, view: LogView) -> None:
        """Log Matching, incrementally: verify entries newer than the last verified object."""
        cached = self._logs.get(name)
        if cached is None or cached[0] is not node or len(cached[1]) > 2 * len(view.entries) + 64:
            cached = (node, {})
            self._logs[name] = cached
        seen = cached[1]
        entries = view.entries
        known = self._entries
        for k in range(len(entries) - 1, -1, -1):
            e = entries[k]
            if seen.get(e.index) is e:
                break
            prev_term = entries[k - 1].term if k else view.snapshot_term
            digest = entry_digest(e)
            recorded = known.setdefault((e.index, e.term), (prev_term, digest))
            if recorded != (prev_term, digest):
                self.violation(f"Log Matching: {name} holds a different entry at (index {e.index}, "
                               f"term {e.term}) than another log (or after a different term)")
            seen[e.index] = e

    def _check_leader(self, name: str, node: RaftNode, view: LogView) -> None:
        """Leader Append-Only and Leader Completeness for a live leader."""
        first, entries = view.snapshot_index + 1, view.entries
        last = first + len(entries) - 1
        prev = self._leading.get(name)
        start = 0
        if prev is not None and prev[0] is node and prev[1] == node.term:
            _, _, old_last, old_entry, start = prev
            if old_entry is not None and old_last >= first:
                now = entries[old_last - first] if old_last <= last else None
                if now is None or (now.term, now.data) != (old_entry.term, old_entry.data):
                    self.violation(f"Leader Append-Only: {name}, leader of term {node.term}, "
                                   f"changed or dropped its entry {old_last}")
        order = self._applied_order
        for pos in range(start, len(order)):
            index = order[pos]
            c = self.applied[index]
            if index < first or c.at_term >= node.term:
                continue  # compacted here, or maybe committed in this term or later
            mine = entries[index - first] if index <= last else None
            if mine is None or mine.term != c.term or entry_digest(mine) != c.digest:
                self.violation(f"Leader Completeness: {name}, leader of term {node.term}, lacks "
                               f"entry {index} (term {c.term}) applied by member {c.by} in term "
                               f"{c.at_term}")
        tail = entries[-1] if entries else None
        self._leading[name] = (node, node.term, last, tail, len(order))

    # ---- results ------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return not self.violations

    def check(self) -> None:
        if self.violations:
            raise InvariantViolation("Raft safety violated:\n  " + "\n  ".join(self.violations))


class SafetyObserver(Actor):
    """Receives members' reports and keeps a ``RaftSafety`` (read it through ``sim.actor``)."""

    def __init__(self, safety: RaftSafety | None = None) -> None:
        self.safety = safety if safety is not None else RaftSafety()

    @handler
    def _applied(self, m: Applied) -> None:
        self.safety.on_applied(m)

    @handler
    def _leader(self, m: BecameLeader) -> None:
        self.safety.on_leader(m)

    @handler
    def _snapshot(self, m: SnapshotInstalled) -> None:
        self.safety.on_snapshot(m)


def attach_observer(sim: Simulation, observer: str, members: Iterable[str]) -> None:
    """Give every member a perfect link to ``observer`` (link faults never touch reports)."""
    for name in members:
        sim.system.network.set_link(name, observer, LinkModel(), both=True)
