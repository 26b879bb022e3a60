"""Hypothesis stateful test: 3 or 5 RaftNodes under an adversarial network, with crashes.

Rules tick nodes, deliver / drop / duplicate / reorder in-flight messages, process Readies
(persist, send, apply), partition and heal, crash (losing everything a processed Ready did
not persist) and restart from disk, propose, read, compact, campaign and transfer leadership.
After every step the harness's Checker verifies the Raft paper's Figure 3 properties
(Election Safety, Leader Append-Only, Log Matching, Leader Completeness, State Machine
Safety) plus commit agreement and ReadIndex linearizability. Membership changes (one voter
added or removed at a time, 3 to 5 voters) run alongside. At the end of every run
(`teardown`) the network heals, every node restarts, and liveness is required: a leader
followed by a quorum within a few election timeouts, and a proposal applied everywhere.

The default budget is small and derandomized (the same examples on every run, a few
seconds); `-m campaign` (or KUBETWIN_CAMPAIGN_BUDGET=<examples>) runs a larger randomized
search, whose failures Hypothesis prints as a replayable program and stores in its database.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from actors.etcd._raft import ConfChange, NotLeader, ProposalDropped, Role, fault_tolerance
from tests.actors.etcd.raft_harness import Cluster, SafetyViolation
from tests.budget import campaign_budget

ET = 5  # small election timeout keeps runs short; heartbeat is 1 tick
MAX_IDS = 8  # 3 or 5 founders plus the nodes added later
NODE = st.integers(0, 15)
K = st.integers(0, 10_000)


class RaftMachine(RuleBasedStateMachine):
    unsafe_commit_old_term = False

    def __init__(self) -> None:
        super().__init__()
        self.c: Cluster | None = None
        self.counter = 0

    # --- setup ---------------------------------------------------------------------------

    @initialize(
        seed=st.integers(0, 2**32 - 1),
        n=st.sampled_from([3, 5]),
        batch=st.sampled_from([1, 3]),
        pre_vote=st.booleans(),
        check_quorum=st.booleans(),
    )
    def setup(self, seed: int, n: int, batch: int, pre_vote: bool, check_quorum: bool) -> None:
        self.c = Cluster(
            n,
            seed=seed,
            auto_ready=False,
            auto_check=False,
            election_tick=ET,
            max_entries_per_msg=batch,  # 1: old-term entries travel apart from the no-op
            max_inflight_msgs=3,
            pre_vote=pre_vote,
            check_quorum=check_quorum,
            unsafe_commit_old_term=self.unsafe_commit_old_term,
        )

    @property
    def cl(self) -> Cluster:
        assert self.c is not None
        return self.c

    def _id(self, k: int) -> int:
        return self.cl.ids[k % len(self.cl.ids)]

    def _live(self, k: int) -> int | None:
        i = self._id(k)
        return i if self.cl.nodes[i] is not None else None

    def _has_msgs(self) -> bool:
        return self.c is not None and bool(self.c.in_flight)

    # --- time and storage ----------------------------------------------------------------

    @rule(k=NODE, n=st.integers(1, 2 * ET))
    def tick(self, k: int, n: int) -> None:
        if (i := self._live(k)) is not None:
            self.cl.tick(i, n)

    @rule(k=NODE)
    def process_ready(self, k: int) -> None:
        self.cl.process_ready(self._id(k))

    @rule(rounds=st.integers(1, 3 * ET), proposals=st.integers(0, 3))
    def burst(self, rounds: int, proposals: int) -> None:
        """Fair weather for a while: everyone ticks, persists, and every message arrives."""
        c = self.cl
        for _ in range(rounds):
            c.tick_all()
            for _ in range(proposals):
                self._client_write()
            for i in c.live():
                c.process_ready(i)
            for _ in range(len(c.in_flight)):
                c.deliver(0)
            c.check()

    @rule(rnd=st.randoms(use_true_random=True), steps=st.integers(1, 300))
    def chaos(self, rnd: random.Random, steps: int) -> None:
        """Many small adversarial steps from a Hypothesis-seeded rng: clock ticks (everyone's,
        or one node's), Ready processing, out-of-order deliveries, losses, duplicates, client
        writes and reads, and now and then a fault (the same menu as the single rules), so
        that a run is eventful even when swarm testing disables most rules."""
        c = self.cl
        for _ in range(steps):
            roll = rnd.random()
            live = c.live()
            if roll < 0.10:
                c.tick_all()
            elif roll < 0.14 and live:
                c.tick(rnd.choice(live))
            elif roll < 0.32 and live:
                c.process_ready(rnd.choice(live))
            elif roll < 0.36:
                self._client_write()
            elif roll < 0.37 and live:
                self._client_read(rnd.choice(live))
            elif roll < 0.40:
                self._random_fault(rnd)
            elif c.in_flight:
                k = rnd.randrange(len(c.in_flight))
                if roll < 0.90:
                    c.deliver(k)
                elif roll < 0.96:
                    c.drop(k)
                else:
                    c.duplicate(k)
            c.check()

    def _random_fault(self, rnd: random.Random) -> None:
        faults = [
            lambda: self.crash(rnd.randrange(16)) if self._may_crash() else None,
            lambda: self.restart(rnd.randrange(16)) if self._down() else None,
            lambda: self.partition([rnd.randrange(2) for _ in range(MAX_IDS)]),
            self.heal,
            self.heal,
            lambda: self.compact(rnd.randrange(16)),
            lambda: self.campaign(rnd.randrange(16)),
            lambda: self.transfer(rnd.randrange(16), rnd.randrange(16)),
            lambda: self.reconfigure(rnd.random() < 0.5, rnd.randrange(16)),
        ]
        rnd.choice(faults)()

    def _client_write(self) -> None:
        lead = self.cl.leader()
        if lead is not None:
            self.counter += 1
            try:
                self.cl.node(lead).propose(b"p%d" % self.counter)
            except ProposalDropped:
                pass

    def _client_read(self, i: int) -> None:
        self.counter += 1
        try:
            self.cl.read_index(i, b"r%d" % self.counter)
        except (NotLeader, ProposalDropped):
            pass

    # --- the network ---------------------------------------------------------------------

    @precondition(_has_msgs)
    @rule(k=K)
    def deliver_any(self, k: int) -> None:  # reordering
        self.cl.deliver(k % len(self.cl.in_flight))

    @precondition(_has_msgs)
    @rule(k=K)
    def drop(self, k: int) -> None:
        self.cl.drop(k % len(self.cl.in_flight))

    @precondition(_has_msgs)
    @rule(k=K)
    def duplicate(self, k: int) -> None:
        self.cl.duplicate(k % len(self.cl.in_flight))

    @rule(sides=st.lists(st.integers(0, 1), min_size=MAX_IDS, max_size=MAX_IDS))
    def partition(self, sides: list[int]) -> None:
        groups: list[list[int]] = [[], []]
        for i, side in zip(self.cl.ids, sides, strict=False):
            groups[side].append(i)
        self.cl.partition(*groups)

    @rule()
    def heal(self) -> None:
        self.cl.heal()

    # --- faults --------------------------------------------------------------------------

    def _down(self) -> list[int]:
        return [i for i in self.cl.ids if self.cl.nodes[i] is None]

    def _may_crash(self) -> bool:
        return self.c is not None and len(self._down()) <= fault_tolerance(len(self.c.ids))

    @precondition(_may_crash)
    @rule(k=NODE)
    def crash(self, k: int) -> None:
        """Crash a node; at most one more than the cluster tolerates are down at a time."""
        if (i := self._live(k)) is not None:
            self.cl.crash(i)

    @precondition(lambda self: self.c is not None and bool(self._down()))
    @rule(k=NODE)
    def restart(self, k: int) -> None:
        down = self._down()
        self.cl.restart(down[k % len(down)])

    # --- clients -------------------------------------------------------------------------

    @rule(k=NODE, n=st.integers(1, 5))
    def propose(self, k: int, n: int) -> None:
        """n == 1: propose(); n > 1: one propose_batch() of n entries (the shell's path)."""
        if (i := self._live(k)) is None:
            return
        datas = [b"p%d" % (self.counter + j + 1) for j in range(n)]
        self.counter += n
        try:
            if n == 1:
                self.cl.node(i).propose(datas[0])
            else:
                self.cl.node(i).propose_batch(datas)
        except (NotLeader, ProposalDropped):
            pass

    @rule(k=NODE)
    def read(self, k: int) -> None:
        if (i := self._live(k)) is not None:
            self._client_read(i)

    @rule(k=NODE)
    def compact(self, k: int) -> None:
        if (i := self._live(k)) is not None:
            self.cl.compact(i)

    @rule(k=NODE)
    def campaign(self, k: int) -> None:
        if (i := self._live(k)) is not None:
            self.cl.node(i).campaign()

    @rule(k=NODE, to=NODE)
    def transfer(self, k: int, to: int) -> None:
        if (i := self._live(k)) is not None and self.cl.node(i).role is Role.LEADER:
            voters = self.cl.node(i).voters
            self.cl.node(i).transfer_leader(voters[to % len(voters)])

    @rule(add=st.booleans(), k=NODE)
    def reconfigure(self, add: bool, k: int) -> None:
        """Single-server membership changes, keeping 3 to 5 voters; a node is only ever added
        once (a fresh id that joins with no configuration), and may be the leader itself
        when removed."""
        lead = self.cl.leader()
        if lead is None:
            return
        node = self.cl.node(lead)
        voters = node.voters
        try:
            if add and len(voters) < 5 and len(self.cl.ids) < MAX_IDS:
                new = max(self.cl.ids) + 1
                node.propose_conf_change(ConfChange("add", new))
                self.cl.add_node(new)
            elif not add and len(voters) > 3:
                node.propose_conf_change(ConfChange("remove", voters[k % len(voters)]))
        except ProposalDropped:  # includes ConfChangeInProgress
            pass

    # --- properties ----------------------------------------------------------------------

    @invariant()
    def safety(self) -> None:
        if self.c is not None:
            self.c.check()

    def teardown(self) -> None:
        if self.c is not None:
            check_liveness(self.c)


def check_liveness(c: Cluster, *, timeouts: int = 30, attempts: int = 5) -> None:
    """After healing and restarting everyone: a leader within a few election timeouts, then a
    proposal applied on every voter of the leader's configuration."""
    c.heal()
    c.drop_if = None
    for i in c.ids:
        if c.nodes[i] is None:
            c.restart(i)
    c.auto_ready = True
    c.auto_check = True
    c.stabilize()
    for attempt in range(attempts):
        lead = c.run_until_leader(timeouts * 2 * ET)
        data = b"live-%d" % attempt
        try:
            c.propose(lead, data)
        except ProposalDropped:  # a transfer in flight; it ends within an election timeout
            c.stabilize(ticks=ET)
            continue
        c.stabilize(ticks=2)
        if all(data in c.applied_data(i) for i in c.node(lead).voters):
            c.check()
            return
    raise AssertionError(f"no proposal committed everywhere after healing: {c.statuses()}")


COMMON = {
    "deadline": None,
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}


def test_raft_safety_and_liveness_under_faults() -> None:
    run_state_machine_as_test(
        RaftMachine,
        settings=settings(
            max_examples=120, stateful_step_count=100, derandomize=True, database=None, **COMMON
        ),
    )


@pytest.mark.campaign
def test_raft_safety_and_liveness_campaign(request: pytest.FixtureRequest) -> None:
    run_state_machine_as_test(
        RaftMachine,
        settings=settings(
            max_examples=campaign_budget(request, {"small": 100, "medium": 1000, "large": 10000}),
            stateful_step_count=150,
            **COMMON,
        ),
    )


class UnsafeRaftMachine(RaftMachine):
    """The same machine over nodes that commit old-term entries by counting replicas."""

    unsafe_commit_old_term = True


@pytest.mark.campaign
def test_campaign_catches_the_figure8_commit_bug(request: pytest.FixtureRequest) -> None:
    """The machine finds the Figure 8 bug on its own (no scripted scenario).

    Probabilistic: a randomized search stopped at the first failure, without shrinking. In five
    trials it took 1 to 60 seconds; the budget floor makes a miss very unlikely.
    """
    budget = campaign_budget(request, {"small": 0, "medium": 20_000, "large": 20_000})
    if budget == 0:
        pytest.skip("a probabilistic bug hunt of up to a minute: run it with a medium budget")
    budget = max(budget, 20_000)
    with pytest.raises(SafetyViolation):
        run_state_machine_as_test(
            UnsafeRaftMachine,
            settings=settings(
                max_examples=budget,
                stateful_step_count=100,
                database=None,
                **{**COMMON, "phases": [Phase.generate]},
            ),
        )
