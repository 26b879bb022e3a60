"""The Raft paper's Figure 8 (§5.4.2), replayed deterministically on five nodes.

(a) S1 leads term 1 and replicates entry X at index 2 to S2 only.
(b) S1 crashes; S5 wins term 2 with votes from S3, S4, S5 and appends its own entry at
    index 2 (its no-op), which reaches nobody.
(c) S5 crashes; S1 restarts and wins term 3 (S1, S2, S3); it replicates X (term 1) to S3, so X is on a
    majority, while its own term-3 no-op reaches only S2. Counting replicas, X looks
    committed; the §5.4.2 rule says it is not, because it is not from the current term.
(d) S1 crashes; S5 restarts and wins term 4 (S3, S4, S5: its last term 2 beats their term 1) and
    overwrites index 2 everywhere.

With the correct rule nothing breaks. With `unsafe_commit_old_term=True` S1 commits and
applies X in (c), S5 applies a different entry at index 2 in (d), and the state-machine-safety
check fails: this is the test suite demonstrating that it catches the broken variant.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actors.etcd._raft import MsgApp, Role
from tests.actors.etcd.raft_harness import Cluster, SafetyViolation


def _win(c: Cluster, i: int, tries: int = 5) -> None:
    for _ in range(tries):
        c.campaign(i)
        c.deliver_all()
        if c.node(i).role is Role.LEADER:
            return
    raise AssertionError(f"S{i} did not win: {c.statuses()}")


def _s1_term3_entries_that_s3_would_accept(c: Cluster) -> Callable[[object], bool]:
    # S3 still sees S1's first probe (and rejects it: it lacks index 2), then gets X alone.
    def lose(m: object) -> bool:
        return (
            isinstance(m, MsgApp)
            and (m.frm, m.to) == (1, 3)
            and any(e.term == 3 for e in m.entries)
            and m.index <= c.node(3).status().last_index
        )

    return lose


def _figure8(unsafe: bool, *, auto_check: bool = False, commit_agreement: bool = True) -> Cluster:
    c = Cluster(
        5,
        seed=8,
        pre_vote=False,  # plain elections: the scenario is about the commit rule
        check_quorum=False,
        max_entries_per_msg=1,
        unsafe_commit_old_term=unsafe,
        auto_check=auto_check,
    )
    c.checker.check_commit_agreement = commit_agreement
    _win(c, 1)  # term 1; its no-op (index 1) commits everywhere
    # (a)
    c.partition([1, 2], [3], [4], [5])
    assert c.propose(1, b"X") == 2
    c.deliver_all()
    # (b)
    c.crash(1)
    c.partition([1], [2], [3, 4, 5])
    c.drop_if = lambda m: isinstance(m, MsgApp) and m.frm == 5  # S5's entry reaches nobody
    _win(c, 5)
    assert c.node(5).term == 2 and c.node(5).log_view().entries[-1].term == 2
    c.drop_if = None
    # (c)
    c.crash(5)
    c.restart(1)
    c.partition([1, 2, 3], [4], [5])
    # S1's term-3 entries never reach S3; S3 only gets X.
    c.drop_if = _s1_term3_entries_that_s3_would_accept(c)
    _win(c, 1)
    assert c.node(1).term == 3
    c.deliver_all()
    assert [e.data for e in c.node(3).log_view().entries] == [b"", b"X"]
    c.drop_if = None
    # (d)
    c.crash(1)
    c.restart(5)
    c.partition([2, 3, 4, 5])
    _win(c, 5)
    assert c.node(5).term == 4
    c.stabilize(ticks=2)
    return c


def test_figure8_correct_rule_never_commits_the_old_term_entry() -> None:
    c = _figure8(unsafe=False, auto_check=True)
    assert c.checker.committed.get(2, (None, None))[1] != b"X"
    c.check()
    # S1 comes back and converges on S5's log; X is gone from every log and was never applied.
    c.heal()
    c.restart(1)
    c.stabilize(ticks=30)
    assert all(c.node(i).log_view().entries == c.node(5).log_view().entries for i in c.ids)
    assert all(b"X" not in c.applied_data(i) for i in c.ids)
    assert len({c.sms[i].digest for i in c.ids}) == 1


def test_figure8_unsafe_old_term_commit_is_caught_by_state_machine_safety() -> None:
    # Only the apply-time check is on: S1 applied X at index 2, S5 applies its no-op there.
    with pytest.raises(SafetyViolation, match="State Machine Safety"):
        _figure8(unsafe=True, commit_agreement=False)


def test_figure8_unsafe_old_term_commit_is_caught_by_commit_agreement() -> None:
    with pytest.raises(SafetyViolation, match="two different entries committed at index 2"):
        _figure8(unsafe=True)


def test_figure8_unsafe_old_term_commit_is_caught_by_leader_completeness() -> None:
    with pytest.raises(SafetyViolation, match="Leader Completeness"):
        _figure8(unsafe=True, auto_check=True)


def test_figure8_unsafe_variant_really_committed_x_in_step_c() -> None:
    """Make sure the failure above comes from the old-term commit and nothing else."""
    c = Cluster(
        5,
        seed=8,
        pre_vote=False,
        check_quorum=False,
        max_entries_per_msg=1,
        unsafe_commit_old_term=True,
        auto_check=False,
    )
    _win(c, 1)
    c.partition([1, 2], [3], [4], [5])
    c.propose(1, b"X")
    c.deliver_all()
    c.crash(1)
    c.partition([1], [2], [3, 4, 5])
    c.drop_if = lambda m: isinstance(m, MsgApp) and m.frm == 5
    _win(c, 5)
    c.restart(1)
    c.partition([1, 2, 3], [4], [5])
    c.drop_if = _s1_term3_entries_that_s3_would_accept(c)
    _win(c, 1)
    c.deliver_all()
    assert c.node(1).status().commit == 2 and c.applied_data(1) == [b"X"]
    assert c.checker.committed[2] == (1, b"X")
