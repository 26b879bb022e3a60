"""A simulated etcd cluster under test: members, the safety observer, clients, faults, checks.

What it is: ``EtcdCluster`` spawns ``EtcdMember`` actors named ``etcd-<id>`` in a
``Simulation``, with a ``SafetyObserver`` and the campaign's clients, and offers the fault and
membership moves that Hypothesis rules and the campaign make. ``check()`` runs every safety
check that can run at any instant; ``check_converged()`` the ones that need a quiet, healed
cluster. Violations are sentences collected in ``violations`` (nothing raises mid-run, so a
campaign can report everything it found).

Network model, as etcd's robustness tests and Jepsen use it: link faults (loss, duplication,
reordering, delay) and partitions hit the *peer* network only. Clients and the observer keep
reliable links (gRPC runs over TCP: a request may time out, but a stream never silently drops,
repeats or reorders a message), and partitions list members only. A client can still lose
its member to a crash, which it sees as an ended stream.

Concurrency model: synchronous driver code between simulation steps; it inspects actors
through ``sim.actor`` (read-only) and moves them only through the runtime.

Checks (each step): the Raft properties of ``RaftSafety``; every acknowledged write is in the
history of every member that got past its revision, with its value (durability); response
revisions never go back in real time (``Ledger``); the watcher's events are exactly the
store's history, in order, without gap or duplicate; a member's revision never goes back; no
member crashed of an exception. After healing (``check_converged``): a leader followed by a
quorum, all voters at the same revision with the same keys, the watcher caught up, no client
operation pending.
"""

from __future__ import annotations

from typing import Any

from actors.etcd._campaign_clients import Ledger, RegisterClient, WatchClient
from actors.etcd._kv_messages import CompactedError, prefix_end
from actors.etcd._member import EtcdConfig, EtcdMember
from actors.etcd._member_messages import MemberAddRequest, MemberRemoveRequest
from actors.etcd._observer import RaftSafety, SafetyObserver, attach_observer
from actors.etcd._raft import RaftNode, Role, quorum
from runtime import DRIVER, NEVER_RESTART, Latency, LinkModel, Simulation, Uniform

__all__ = ["BASE_LATENCY", "EtcdCluster"]

BASE_LATENCY: Latency = Uniform(0.0005, 0.003)  # one data-centre round trip is ~1-5 ms
OBSERVER = "observer"
WATCHER = "watcher"
_INJECTED = "crashed (injected)"


class EtcdCluster:
    def __init__(self, sim: Simulation, *, members: int = 3, latency: Latency = BASE_LATENCY,
                 observe: bool = True, **config: Any) -> None:
        self.sim = sim
        self.latency = latency
        self.config = config  # EtcdConfig fields for every member (timings, snapshot_count, …)
        self.safety = RaftSafety()
        self.violations: list[str] = []
        self.observer = OBSERVER if observe else None
        if observe:
            sim.spawn(OBSERVER, SafetyObserver, self.safety)
        sim.set_network(LinkModel(latency=latency))
        self.ids: list[int] = list(range(1, members + 1))  # every member ever spawned
        self.clients: list[str] = []
        self.watcher: str | None = None
        self._next_id = members + 1
        self._crashes_seen = 0
        self._durable: dict[int, tuple[Any, int, list[Any]]] = {}
        self._revisions: dict[str, tuple[Any, int]] = {}
        self._watch_checked = 0
        for i in self.ids:
            self._spawn_member(i, joining=False)

    # ---- names and inspection ------------------------------------------------------------------
    @staticmethod
    def name(member_id: int) -> str:
        return f"etcd-{member_id}"

    @property
    def names(self) -> list[str]:
        return [self.name(i) for i in self.ids]

    def member(self, name: str) -> EtcdMember | None:
        inst = self.sim.actor(name)
        return inst if isinstance(inst, EtcdMember) else None

    def running(self) -> dict[str, EtcdMember]:
        out = {}
        for name in self.names:
            m = self.member(name)
            if m is not None and hasattr(m, "node"):
                out[name] = m
        return out

    def nodes(self) -> dict[str, RaftNode]:
        return {name: m.node for name, m in self.running().items()}

    def voters(self) -> tuple[int, ...]:
        """The voters as the member with the most applied entries knows them."""
        statuses = [n.status() for n in self.nodes().values() if not n.removed]
        statuses = [st for st in statuses if st.voters]  # a joining member knows none yet
        if not statuses:
            return tuple(self.ids)
        return max(statuses, key=lambda st: (st.applied, -st.id)).voters

    def leader(self) -> str | None:
        """The live leader of the highest term that a quorum of the voters follows, if any."""
        nodes = self.nodes()
        leaders = [(n.term, name) for name, n in nodes.items() if n.role is Role.LEADER and not n.removed]
        if not leaders:
            return None
        term, name = max(leaders)
        voters = self.voters()
        lead_id = nodes[name].id
        following = sum(1 for n in nodes.values() if n.id in voters and n.term == term and n.lead == lead_id)
        return name if following >= quorum(len(voters)) else None

    # ---- composition ------------------------------------------------------------------------------
    def _member_config(self, member_id: int, joining: bool) -> EtcdConfig:
        peers = {i: self.name(i) for i in self.ids}
        return EtcdConfig(member_id=member_id, peers=peers, joining=joining, observer=self.observer,
                          **self.config)

    def _spawn_member(self, member_id: int, *, joining: bool) -> None:
        name = self.name(member_id)
        # Members never restart on their own: a member that crashes of an exception is a
        # finding (reported by check()), and injected crashes are restarted by the nemesis.
        self.sim.spawn(name, EtcdMember, self._member_config(member_id, joining), policy=NEVER_RESTART)
        if self.observer is not None:
            attach_observer(self.sim, self.observer, [name])
        for client in [*self.clients, *([self.watcher] if self.watcher else [])]:
            self._reliable(client, [name])

    def _reliable(self, client: str, members: list[str]) -> None:
        model = LinkModel(latency=self.latency)
        for name in members:
            self.sim.system.network.set_link(client, name, model, both=True)

    def add_client(self, process: int, ledger: Ledger, **kw: Any) -> str:
        name = f"client-{process}"
        self.sim.spawn(name, RegisterClient, process, self.names, ledger, **kw)
        self.clients.append(name)
        self._reliable(name, [*self.names, DRIVER])  # the test's own Invoke and Halt too
        return name

    def add_watcher(self) -> str:
        self.sim.spawn(WATCHER, WatchClient, self.names)
        self.watcher = WATCHER
        self._reliable(WATCHER, self.names)
        return WATCHER

    # ---- faults -------------------------------------------------------------------------------
    def crash(self, name: str, *, lose_unsynced: bool | None = None) -> None:
        self.sim.crash(name, lose_unsynced=lose_unsynced)

    def restart(self, name: str) -> None:
        self.sim.restart(name)

    def restart_all(self) -> None:
        for name in self.names:
            if self.sim.system.status(name) != "running":
                self.sim.restart(name)

    def heal_links(self) -> None:
        """Clean peer links again (base latency, no loss, duplication or reordering)."""
        self.sim.set_network(LinkModel(latency=self.latency))

    def heal_all(self) -> None:
        """Heal partitions, restore clean peer links and fast disks, restart every member."""
        self.sim.heal()
        self.sim.set_network(LinkModel(latency=self.latency))
        for name in self.names:
            self.sim.system.store(name).sync_latency = 0.0
            self.sim.system.set_clock_skew(name)
        self.restart_all()

    # ---- membership ---------------------------------------------------------------------------
    def member_add(self, *, timeout: float = 5.0) -> tuple[int, bool]:
        """Add a member as etcd does (``member add``, then start it with the existing cluster).
        The new member is spawned first, idle until it is a voter. Returns (id, acknowledged)."""
        new = self._next_id
        self._next_id += 1
        self.ids.append(new)
        self._spawn_member(new, joining=True)
        ok = self._ask_leader(MemberAddRequest(new, self.name(new)), timeout)
        return new, ok

    def member_remove(self, member_id: int, *, timeout: float = 5.0) -> bool:
        return self._ask_leader(MemberRemoveRequest(member_id), timeout)

    def _ask_leader(self, request: Any, timeout: float) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        fut = self.sim.system.ask_future(DRIVER, leader, request, timeout)
        self.sim.run_until(fut.done, timeout=timeout + 1)
        return fut.exception() is None

    # ---- checks -------------------------------------------------------------------------------
    def violation(self, text: str) -> None:
        if text not in self.violations and len(self.violations) < 50:
            self.violations.append(text)

    def all_violations(self, ledger: Ledger | None = None) -> list[str]:
        return [*self.safety.violations, *self.violations, *(ledger.violations if ledger else [])]

    def check(self, ledger: Ledger | None = None) -> None:
        running = self.running()
        self.safety.inspect({name: m.node for name, m in running.items()})
        self._check_crashes()
        self._check_revisions(running)
        if ledger is not None:
            self._check_durable(running, ledger)
        if self.watcher is not None:
            self._check_watch(running)

    def _check_crashes(self) -> None:
        crashes = self.sim.system.crashes
        for at, name, why in crashes[self._crashes_seen:]:
            if why != _INJECTED:
                self.violation(f"{name} crashed at {at:.3f} s: {why}")
        self._crashes_seen = len(crashes)

    def _check_revisions(self, running: dict[str, EtcdMember]) -> None:
        """A member's store revision never goes back while it runs (etcd#14370's symptom)."""
        for name, m in running.items():
            seen = self._revisions.get(name)
            if seen is not None and seen[0] is m.sm and m.sm.revision < seen[1]:
                self.violation(f"revision went back on {name}: {seen[1]} then {m.sm.revision}")
            self._revisions[name] = (m.sm, m.sm.revision)

    def _check_durable(self, running: dict[str, EtcdMember], ledger: Ledger) -> None:
        """Every acknowledged write is in each member's history once it passed that revision."""
        acked = ledger.acked
        for name, m in running.items():
            sm = m.sm
            key = m.id
            cursor = self._durable.get(key)
            if cursor is None or cursor[0] is not sm:
                cursor = (sm, 0, [])
            _, pos, deferred = cursor
            todo = deferred + acked[pos:]
            later = []
            for w in todo:
                if w.revision > sm.revision:
                    later.append(w)
                    continue
                try:
                    kv = sm.store.get(w.key.encode(), revision=w.revision)
                except CompactedError:
                    continue
                if kv is None or kv.mod_revision != w.revision or kv.value != str(w.value).encode():
                    self.violation(f"durability: {name} lacks the acknowledged write {w.key}={w.value} "
                                   f"at revision {w.revision} (has {kv})")
            self._durable[key] = (sm, len(acked), later)

    def _check_watch(self, running: dict[str, EtcdMember]) -> None:
        """The watcher's events so far are exactly the store's history of the watched keys."""
        watcher = self.sim.actor(self.watcher) if self.watcher else None
        if watcher is None or not running:
            return
        events = watcher.events
        if self._watch_checked >= len(events):
            return
        truth = max(running.values(), key=lambda m: m.sm.revision).sm.store
        lo, hi = b"k", prefix_end(b"k")
        prev = events[self._watch_checked - 1][0] if self._watch_checked else 0
        for i in range(self._watch_checked, len(events)):
            rev, key, value = events[i]
            if rev > truth.revision:
                break  # ahead of every running member (they will catch up)
            nxt = next(iter(truth.events(prev + 1, lo, hi)), None)
            want = None if nxt is None else (nxt.kv.mod_revision, nxt.kv.key.decode(),
                                             int(nxt.kv.value) if nxt.type == "put" else None)
            if want != (rev, key, value):
                self.violation(f"watch: after revision {prev} the watcher got {(rev, key, value)}, "
                               f"the history has {want} (gap, duplicate or foreign event)")
                self._watch_checked = len(events)
                return
            prev = rev
            self._watch_checked = i + 1

    def check_converged(self, ledger: Ledger | None = None) -> None:
        """After heal and a quiet spell: one leader, voters identical, watcher caught up."""
        self.check(ledger)
        if self.leader() is None:
            self.violation("liveness: no leader followed by a quorum after the faults healed")
        running = self.running()
        voters = [m for m in running.values() if m.id in self.voters() and not m.node.removed]
        states = {(m.sm.revision, m.sm.applied_index) for m in voters}
        revisions = {m.sm.revision for m in voters}
        if len(revisions) > 1:
            self.violation(f"convergence: voters at different revisions {sorted(states)}")
        elif voters and len({repr(list(m.sm.store.live())) for m in voters}) > 1:
            self.violation("convergence: voters at one revision hold different keys")
        if ledger is not None and ledger.outstanding:
            self.violation(f"liveness: {ledger.outstanding} client operation(s) never completed")
        watcher = self.sim.actor(self.watcher) if self.watcher else None
        if watcher is not None and voters:
            store = voters[0].sm.store
            history = sum(1 for _ in store.events(1, b"k", prefix_end(b"k")))
            if len(watcher.events) != history:
                self.violation(f"watch: the watcher has {len(watcher.events)} events, the history "
                               f"{history} (not caught up)")
