"""The Raft paper's Figure 8 (§5.4.2) through the member shell, on five simulated etcd members.

The pure core has its own Figure-8 test (`test_raft_figure8.py`); this one drives real
`EtcdMember` actors with partitions, one-way cuts and crashes, and lets the campaign's checks
(`RaftSafety` fed by the members' observer reports) judge. With the §5.4.2 rule nothing is
violated and the old-term entry X is never applied; with `unsafe_commit_old_term=True` the
term-3 leader commits X by counting replicas, a later leader overwrites it, and the checks
report State Machine Safety and Leader Completeness violations.

(a) leader A replicates X (index 2) to B only;
(b) A crashes; L2 wins among the other three and appends its no-op at index 2, which reaches
    nobody (L2 is cut off at once, then crashes);
(c) A restarts; A or B (L3) wins with P, one of the two others; X reaches P, P's ack returns,
    but L3's own term-3 entry never reaches P (a one-way cut). Unsafe: L3 commits X.
(d) L3 crashes; L2 restarts and wins with P and Q; it overwrites index 2 with its no-op.
"""

from __future__ import annotations

from actors.etcd import PutRequest
from actors.etcd._campaign_cluster import EtcdCluster
from actors.etcd._raft import Role
from runtime import DRIVER, Fixed, Simulation


def _leader_among(cluster: EtcdCluster, names: list[str]) -> str | None:
    nodes = cluster.nodes()
    leaders = [n for n in names if n in nodes and nodes[n].role is Role.LEADER]
    return leaders[0] if leaders else None


def _log(cluster: EtcdCluster, name: str) -> list[tuple[int, int, bytes]]:
    view = cluster.nodes()[name].log_view()
    return [(e.index, e.term, e.data) for e in view.entries]


def _figure8(unsafe: bool) -> EtcdCluster:
    sim = Simulation(seed=8)
    cluster = EtcdCluster(sim, members=5, latency=Fixed(0.01), pre_vote=False, check_quorum=False,
                          max_entries_per_msg=1, unsafe_commit_old_term=unsafe)
    names = cluster.names
    sim.run_until(lambda: cluster.leader() is not None, timeout=10)
    sim.advance(0.5)  # the leader's no-op (index 1) is everywhere
    a = cluster.leader()
    assert a is not None and all(len(_log(cluster, n)) == 1 for n in names)
    b, *others = [n for n in names if n != a]
    # (a)
    sim.partition([a, b], *[[n] for n in others])
    put = sim.system.ask_future(DRIVER, a, PutRequest(key=b"x", value=b"X"), 30.0)
    put.add_done_callback(lambda f: f.exception())  # A crashes holding it: never answered
    sim.run_until(lambda: len(_log(cluster, b)) == 2, timeout=1)
    x = _log(cluster, b)[1]
    # (b)
    cluster.crash(a)
    sim.heal()
    sim.partition([a], [b], others)
    sim.run_until(lambda: _leader_among(cluster, others) is not None, timeout=20)
    l2 = _leader_among(cluster, others)
    assert l2 is not None
    sim.heal()
    sim.partition([l2], [a], [b], [n for n in others if n != l2])
    sim.advance(0.1)
    cluster.crash(l2)
    p, q = [n for n in others if n != l2]
    assert len(_log(cluster, p)) == 1 and len(_log(cluster, q)) == 1
    # (c)
    cluster.restart(a)
    sim.heal()
    sim.partition([a, b, p], [q], [l2])
    sim.run_until(lambda: _leader_among(cluster, [a, b]) is not None, timeout=20)
    l3 = _leader_among(cluster, [a, b])
    assert l3 is not None
    sim.run_until(lambda: len(_log(cluster, p)) >= 2, timeout=2)
    sim.system.network.block(l3, p)  # P's acks still reach L3; L3's next entries never reach P
    assert _log(cluster, p)[1] == x
    sim.advance(1.0)
    # (d)
    cluster.crash(l3)
    cluster.restart(l2)
    sim.heal()
    sim.partition([l2, p, q], [a, b])
    sim.run_until(lambda: _leader_among(cluster, [l2]) is not None, timeout=30)
    sim.advance(2.0)
    cluster.check()
    return cluster


def test_figure8_through_the_shell_with_the_correct_rule_violates_nothing() -> None:
    cluster = _figure8(unsafe=False)
    assert cluster.all_violations() == []
    assert all(c.digest != b"" for c in cluster.safety.applied.values())
    # X was never applied anywhere: index 2 holds the term-2 leader's no-op.
    applied = cluster.safety.applied[2]
    assert applied.term != 1


def test_figure8_through_the_shell_catches_the_unsafe_old_term_commit() -> None:
    cluster = _figure8(unsafe=True)
    found = "\n".join(cluster.all_violations())
    assert "State Machine Safety" in found
    assert "Leader Completeness" in found
