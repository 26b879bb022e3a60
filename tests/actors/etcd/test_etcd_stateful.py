"""Hypothesis stateful test: a simulated etcd cluster (3 or 5 `EtcdMember` actors, three register
clients and a watcher) under partitions, crashes and restarts (with and without loss of
unsynced writes), lossy / duplicating / reordering peer links, slow disks and membership
changes.

Rules are synchronous: each one moves the simulation (`sim.advance`) or injects a fault, and
client operations run as background tasks in the client actors, their outcomes recorded in a
`Ledger`. After EVERY step the invariants run: the five Raft safety properties (from the
members' observer reports and their live Raft cores), revisions never going back in real
time, every acknowledged write present in every member past its revision, and the watcher's
stream equal to the store's history (ordered, no gap, no duplicate). At the end of every
example (`teardown`) the faults heal and liveness is required: a leader followed by a quorum
within a few election timeouts, every pending operation completed, a fresh write and read
succeeding, the voters converged, the watcher caught up, and the history linearizable.

The default budget is small and derandomized (the same examples every run); the
`campaign`-marked test runs a larger randomized search, sized by KUBETWIN_CAMPAIGN_BUDGET
("small" in CI, "medium", "large", or a number of examples).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from actors.checker import check
from actors.etcd._campaign_clients import Halt, Invoke, Ledger
from actors.etcd._campaign_cluster import EtcdCluster
from actors.etcd._raft import Role
from runtime import Crash, Simulation, SimulationTimeout, SlowDisk
from runtime.strategies import link_faults
from tests.budget import campaign_budget

CLIENTS = 3
RULED = 2  # the client that runs the operations rules invoke
DT = st.sampled_from([0.1, 0.3, 1.0, 2.5])  # virtual seconds a rule lets pass
KEYS = ("k1", "k2")
ELECTION_TIMEOUT = 1.0  # 10 ticks of 100 ms (etcd's defaults); randomized up to 2 s
VALUE = st.integers(0, 4)
OP = st.one_of(
    st.builds(Invoke, st.just("read"), st.sampled_from(KEYS)),
    st.builds(Invoke, st.just("write"), st.sampled_from(KEYS), VALUE),
    st.builds(Invoke, st.just("cas"), st.sampled_from(KEYS), st.tuples(VALUE, VALUE)),
)


class EtcdFaults(RuleBasedStateMachine):
    unsafe_commit_old_term = False

    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.cluster: EtcdCluster | None = None
        self.ledger = Ledger()

    @initialize(seed=st.integers(0, 2**16), members=st.sampled_from([3, 5]),
                snapshot_count=st.sampled_from([20, 10_000]), batch=st.sampled_from([256, 1]))
    def setup(self, seed: int, members: int, snapshot_count: int, batch: int) -> None:
        self.sim = Simulation(seed)
        # batch 1: old-term entries travel apart from a new leader's own (Figure 8's window)
        self.cluster = EtcdCluster(self.sim, members=members, snapshot_count=snapshot_count,
                                   max_entries_per_msg=batch,
                                   unsafe_commit_old_term=self.unsafe_commit_old_term)
        for p in range(CLIENTS):
            # Clients 0 and 1 run a random workload all along; client 2 runs what rules ask.
            until = None if p == RULED else float("inf")
            self.cluster.add_client(p, self.ledger, keys=len(KEYS), until=until, request_timeout=3.0)
        self.cluster.add_watcher()
        self.sim.run_until(lambda: self.c.leader() is not None, timeout=10 * ELECTION_TIMEOUT)

    @property
    def c(self) -> EtcdCluster:
        assert self.cluster is not None
        return self.cluster

    @property
    def s(self) -> Simulation:
        assert self.sim is not None
        return self.sim

    def _member(self, k: int) -> str:
        names = self.c.names
        return names[k % len(names)]

    def _up(self) -> list[str]:
        return [n for n in self.c.names if self.s.system.status(n) == "running"]

    # ---- time and clients (every rule lets some virtual time pass) -----------------------------
    @rule(dt=DT)
    def advance(self, dt: float) -> None:
        self.s.advance(dt)

    @rule(op=OP, dt=DT)
    def invoke(self, op: Invoke, dt: float) -> None:
        self.s.tell(f"client-{RULED}", op)  # declined while the previous one runs
        self.s.advance(dt)

    # ---- faults -----------------------------------------------------------------------------------
    @rule(side=st.lists(st.booleans(), min_size=8, max_size=8), dt=DT)
    def partition(self, side: list[bool], dt: float) -> None:
        names = self.c.names
        a = [n for n, s in zip(names, side) if s]
        b = [n for n in names if n not in a]
        self.s.heal()
        if a and b:
            self.s.partition(a, b)
        self.s.advance(dt)

    @rule(dt=DT)
    def heal(self, dt: float) -> None:
        self.s.heal()
        self.s.advance(dt)

    @rule(k=st.integers(0, 9), lose=st.sampled_from([None, True, False]), dt=DT)
    def crash(self, k: int, lose: bool | None, dt: float) -> None:
        self.s.inject(Crash(self._member(k), lose_unsynced=lose))
        self.s.advance(dt)

    @rule(k=st.integers(0, 9), dt=DT)
    def restart(self, k: int, dt: float) -> None:
        self.c.restart(self._member(k))
        self.s.advance(dt)

    def _leaders(self) -> list[str]:
        return [n for n, node in self.c.nodes().items() if node.role is Role.LEADER]

    @rule(lose=st.sampled_from([None, True, False]), dt=DT)
    def crash_leader(self, lose: bool | None, dt: float) -> None:
        for name in self._leaders():
            self.c.crash(name, lose_unsynced=lose)
        self.s.advance(dt)

    @rule(dt=DT)
    def isolate_next_leader(self, dt: float) -> None:
        """Wait for the next election and cut the winner off before it replicates anything."""
        nodes = self.c.nodes()
        term = max((n.term for n in nodes.values()), default=0)

        def elected() -> bool:
            return any(n.role is Role.LEADER and n.term > term for n in self.c.nodes().values())
        try:
            self.s.run_until(elected, timeout=3 * ELECTION_TIMEOUT)
        except SimulationTimeout:
            return
        winner = [n for n, node in self.c.nodes().items() if node.role is Role.LEADER and node.term > term]
        self.s.heal()
        self.s.partition(winner, [n for n in self.c.names if n not in winner])
        self.s.advance(dt)

    @rule(on=st.booleans())
    def lose_unsynced_on_crash(self, on: bool) -> None:
        self.s.system.lose_unsynced_on_crash = on

    @rule(faults=link_faults(max_loss=0.3), dt=DT)
    def links(self, faults: object, dt: float) -> None:
        self.s.inject(faults)  # type: ignore[arg-type]
        self.s.advance(dt)

    @rule(dt=DT)
    def clean_links(self, dt: float) -> None:
        self.c.heal_links()
        self.s.advance(dt)

    @rule(k=st.integers(0, 9), latency=st.sampled_from([0.0, 0.01, 0.2]), dt=DT)
    def slow_disk(self, k: int, latency: float, dt: float) -> None:
        self.s.inject(SlowDisk(self._member(k), latency))
        self.s.advance(dt)

    # ---- membership -------------------------------------------------------------------------------
    def _healthy(self) -> bool:
        return len(self._up()) == len(self.c.names) and self.c.leader() is not None

    @precondition(lambda self: self.cluster is not None and len(self.c.voters()) < 6)
    @rule(dt=DT)
    def member_add(self, dt: float) -> None:
        if self._healthy():
            self.c.member_add(timeout=3.0)
        self.s.advance(dt)

    @precondition(lambda self: self.cluster is not None and len(self.c.voters()) > 3)
    @rule(k=st.integers(0, 9), dt=DT)
    def member_remove(self, k: int, dt: float) -> None:
        voters = self.c.voters()
        if self._healthy():
            self.c.member_remove(voters[k % len(voters)], timeout=3.0)
        self.s.advance(dt)

    # ---- invariants -------------------------------------------------------------------------------
    @invariant()
    def safety(self) -> None:
        if self.cluster is None:
            return
        self.c.check(self.ledger)
        found = self.c.all_violations(self.ledger)
        assert not found, "\n".join(found)

    def teardown(self) -> None:
        if self.sim is None:
            return
        try:
            if not self.c.all_violations(self.ledger):
                self._liveness()
        finally:
            self.sim.close()

    def _liveness(self) -> None:
        c, s = self.c, self.s
        c.heal_all()
        for p in range(CLIENTS):
            s.tell(f"client-{p}", Halt())
        s.run_until(lambda: c.leader() is not None, timeout=6 * ELECTION_TIMEOUT, poll=0.05)
        try:
            s.run_until(lambda: self.ledger.outstanding == 0, timeout=10.0, poll=0.1)
        except SimulationTimeout:
            pass  # reported by check_converged below
        for key in KEYS:
            done, invoked = self.ledger.counts["ok"], self.ledger.counts["invoke"]
            s.tell(f"client-{RULED}", Invoke("write", key, 4))
            s.run_until(lambda: self.ledger.counts["invoke"] > invoked, timeout=1.0)  # noqa: B023
            s.run_until(lambda: self.ledger.outstanding == 0, timeout=10.0, poll=0.1)
            assert self.ledger.counts["ok"] > done, f"a write of {key} failed after the faults healed"
        s.advance(2 * ELECTION_TIMEOUT)  # followers apply, the watcher catches up
        c.check_converged(self.ledger)
        found = c.all_violations(self.ledger)
        assert not found, "\n".join(found)
        verdict = check(self.ledger.events)
        assert verdict.ok is True, verdict.counterexample.describe() if verdict.counterexample else verdict


def test_a_watch_leaves_a_removed_member_that_never_learned_of_its_removal() -> None:
    """Found in the whole suite's process (the derandomized search below, shrunk): the last
    step removes a member while it is cut off; it never learns of it, stays up leaderless,
    and the watcher's client kept re-creating its watch there (each ended by 'no leader'
    after three election timeouts), 4 events behind etcd's history for good. A member with
    no leader now refuses watch creates, as etcd's stream interceptor does for
    WithRequireLeader watches, and the client moves on."""
    state = EtcdFaults()
    state.setup(seed=1, snapshot_count=20, batch=256, members=3)
    steps = [
        ('slow_disk', dict(dt=0.1, k=7, latency=0.01)),
        ('slow_disk', dict(dt=1.0, k=0, latency=0.2)),
        ('slow_disk', dict(dt=2.5, k=4, latency=0.2)),
        ('crash', dict(dt=2.5, k=0, lose=None)),
        ('advance', dict(dt=2.5)),
        ('advance', dict(dt=2.5)),
        ('restart', dict(dt=0.1, k=0)),
        ('lose_unsynced_on_crash', dict(on=False)),
        ('restart', dict(dt=2.5, k=0)),
        ('restart', dict(dt=0.3, k=0)),
        ('member_add', dict(dt=2.5)),
        ('advance', dict(dt=0.1)),
        ('advance', dict(dt=0.3)),
        ('advance', dict(dt=0.1)),
        ('advance', dict(dt=2.5)),
        ('partition', dict(dt=1.0, side=[True, True, False, False, False, True, True, True])),
        ('member_remove', dict(dt=1.0, k=0)),
        ('partition', dict(dt=1.0, side=[True, True, True, True, True, True, False, False])),
        ('partition', dict(dt=0.1, side=[False, True, True, True, False, True, True, True])),
        ('crash_leader', dict(dt=0.3, lose=None)),
        ('crash_leader', dict(dt=0.1, lose=None)),
        ('crash_leader', dict(dt=1.0, lose=False)),
        ('clean_links', dict(dt=0.3)),
        ('slow_disk', dict(dt=0.3, k=2, latency=0.0)),
        ('isolate_next_leader', dict(dt=0.1)),
        ('partition', dict(dt=0.3, side=[False, False, True, True, True, True, True, True])),
        ('slow_disk', dict(dt=1.0, k=2, latency=0.01)),
        ('isolate_next_leader', dict(dt=0.3)),
        ('crash_leader', dict(dt=0.1, lose=None)),
        ('lose_unsynced_on_crash', dict(on=False)),
        ('crash', dict(dt=2.5, k=3, lose=None)),
        ('member_add', dict(dt=1.0)),
        ('member_add', dict(dt=0.3)),
        ('restart', dict(dt=0.1, k=3)),
        ('restart', dict(dt=2.5, k=6)),
        ('crash_leader', dict(dt=2.5, lose=False)),
        ('partition', dict(dt=1.0, side=[True, False, False, False, False, False, True, False])),
        ('restart', dict(dt=0.3, k=0)),
        ('invoke', dict(dt=1.0, op=Invoke('read', 'k2'))),
        ('crash_leader', dict(dt=1.0, lose=None)),
        ('crash', dict(dt=0.1, k=2, lose=False)),
        ('clean_links', dict(dt=0.3)),
        ('advance', dict(dt=0.3)),
        ('invoke', dict(dt=0.1, op=Invoke('cas', 'k1', (2, 3)))),
        ('crash', dict(dt=2.5, k=1, lose=None)),
        ('partition', dict(dt=1.0, side=[True, False, True, True, False, False, False, False])),
        ('clean_links', dict(dt=2.5)),
        ('isolate_next_leader', dict(dt=2.5)),
        ('member_remove', dict(dt=2.5, k=7)),
    ]
    try:
        for name, kwargs in steps:
            getattr(state, name)(**kwargs)
            state.safety()
    finally:
        state.teardown()  # heals, then requires liveness: the watcher caught up

COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}


def _under_faults() -> None:
    run_state_machine_as_test(
        EtcdFaults,
        settings=settings(max_examples=50, stateful_step_count=50, derandomize=True, database=None,
                          **COMMON),
    )


def test_etcd_cluster_safety_and_liveness_under_faults() -> None:
    """The derandomized search, in the suite's own process again: run there (after ~2,000
    other tests) it generated other examples than alone, one of which found the removed-member
    watch bug above; with that fixed it passes in-suite as alone."""
    _under_faults()


@pytest.mark.campaign
def test_etcd_cluster_safety_and_liveness_campaign(request: pytest.FixtureRequest) -> None:
    examples = campaign_budget(request, {"small": 30, "medium": 300, "large": 3000})
    run_state_machine_as_test(
        EtcdFaults,
        settings=settings(max_examples=examples, stateful_step_count=60, **COMMON),
    )

