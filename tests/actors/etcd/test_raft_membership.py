"""Single-server membership changes (Raft thesis §4.1), applied when the entry is applied."""

from __future__ import annotations

import pytest

from actors.etcd._raft import (
    ConfChange,
    ConfChangeInProgress,
    ProposalDropped,
    Role,
    decode_conf_change,
    fault_tolerance,
    quorum,
)
from tests.actors.etcd.raft_harness import Cluster

ET = 10


def test_quorum_and_fault_tolerance() -> None:
    assert [quorum(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]
    assert [fault_tolerance(n) for n in range(1, 8)] == [0, 0, 1, 1, 2, 2, 3]
    assert fault_tolerance(4) == fault_tolerance(3) == 1
    with pytest.raises(ValueError):
        quorum(0)


def _settle(c: Cluster) -> int:
    lead = c.run_until_leader(20 * ET)
    c.stabilize(ticks=2)
    return lead


def test_add_a_node_that_joins_with_no_configuration() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    c.propose(1, b"before")
    c.deliver_all()
    c.add_node(4)
    assert c.node(4).status().voters == ()
    c.node(1).propose_conf_change(ConfChange("add", 4))
    c.process_ready(1)
    c.stabilize(ticks=2)
    for i in (1, 2, 3, 4):
        assert c.node(i).status().voters == (1, 2, 3, 4)
    assert c.applied_data(4) == [b"before"]
    # Four voters: quorum 3, so one failure is tolerated, two are not.
    c.crash(2)
    c.propose(1, b"one-down")
    c.deliver_all()
    assert c.applied_data(4)[-1] == b"one-down"
    c.crash(3)
    index = c.propose(1, b"two-down")
    c.stabilize(ticks=3)
    assert c.node(1).status().commit < index


def test_a_joined_node_can_become_leader() -> None:
    c = Cluster(3, seed=2)
    c.elect(1)
    c.add_node(4)
    c.node(1).propose_conf_change(ConfChange("add", 4))
    c.process_ready(1)
    c.stabilize(ticks=2)
    c.node(1).transfer_leader(4)
    c.process_ready(1)
    c.deliver_all()
    assert c.leader() == 4
    c.propose(4, b"from-4")
    c.deliver_all()
    assert all(c.applied_data(i)[-1] == b"from-4" for i in c.ids)


def test_remove_a_follower_it_stops() -> None:
    c = Cluster(3, seed=3)
    c.elect(1)
    c.deliver_all()
    c.node(1).propose_conf_change(ConfChange("remove", 3))
    c.process_ready(1)
    c.stabilize(ticks=2)
    assert c.node(1).status().voters == (1, 2)
    assert c.node(3).status().removed  # it learned its removal from the final heartbeat
    term = c.node(3).term
    for _ in range(5 * ET):
        c.tick_all()
        c.deliver_all()
    assert c.node(3).term == term and c.node(3).role is Role.FOLLOWER
    with pytest.raises(ProposalDropped):
        c.node(3).propose(b"x")
    # Two voters, quorum 2: both needed.
    c.propose(1, b"pair")
    c.deliver_all()
    assert c.applied_data(2)[-1] == b"pair"


def test_remove_the_leader_it_steps_down_and_the_rest_elect() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    c.deliver_all()
    c.node(1).propose_conf_change(ConfChange("remove", 1))
    c.process_ready(1)
    c.deliver_all()
    assert c.node(1).status().removed and c.node(1).role is Role.FOLLOWER
    c.crash(1)
    lead = _settle(c)
    assert lead in (2, 3)
    assert c.node(lead).status().voters == (2, 3)


def test_one_membership_change_at_a_time() -> None:
    c = Cluster(3, seed=5)
    c.node(1).campaign()
    c.process_ready(1)
    while c.node(1).role is not Role.LEADER:
        c.deliver(0)
    with pytest.raises(ConfChangeInProgress):  # the no-op of the term is not applied yet
        c.node(1).propose_conf_change(ConfChange("add", 4))
    c.deliver_all()
    c.node(1).propose_conf_change(ConfChange("add", 4))
    with pytest.raises(ConfChangeInProgress):
        c.node(1).propose_conf_change(ConfChange("remove", 3))
    c.process_ready(1)
    c.add_node(4)
    c.stabilize(ticks=2)
    c.node(1).propose_conf_change(ConfChange("remove", 3))  # fine once applied


def test_invalid_changes_are_refused() -> None:
    c = Cluster(1, seed=6)
    c.elect(1)
    with pytest.raises(ValueError):
        c.node(1).propose_conf_change(ConfChange("add", 1))
    with pytest.raises(ValueError):
        c.node(1).propose_conf_change(ConfChange("remove", 7))
    with pytest.raises(ValueError):
        c.node(1).propose_conf_change(ConfChange("remove", 1))  # the last voter


def test_conf_change_entry_carries_the_resulting_voters() -> None:
    c = Cluster(3, seed=7)
    c.elect(1)
    c.deliver_all()
    index = c.node(1).propose_conf_change(ConfChange("remove", 2))
    entry = next(e for e in c.node(1).log_view().entries if e.index == index)
    assert decode_conf_change(entry.data) == ConfChange("remove", 2, voters=(1, 3))


def test_snapshot_carries_the_configuration_to_a_late_joiner() -> None:
    c = Cluster(3, seed=8)
    c.elect(1)
    c.deliver_all()
    c.node(1).propose_conf_change(ConfChange("remove", 3))
    c.process_ready(1)
    c.deliver_all()
    for k in range(5):
        c.propose(1, b"v%d" % k)
    c.deliver_all()
    c.compact(1)
    assert c.node(1).log_view().snapshot_index > 0
    c.add_node(5)
    c.node(1).propose_conf_change(ConfChange("add", 5))
    c.process_ready(1)
    c.stabilize(ticks=3 * ET)
    assert c.node(5).status().voters == (1, 2, 5)
    assert c.sms[5].digest == c.sms[1].digest


def test_restart_reapplies_membership_from_the_log() -> None:
    c = Cluster(3, seed=9)
    c.elect(1)
    c.add_node(4)
    c.node(1).propose_conf_change(ConfChange("add", 4))
    c.process_ready(1)
    c.stabilize(ticks=2)
    c.crash(2)
    c.restart(2)
    assert c.node(2).status().voters == (1, 2, 3)  # bootstrap config until re-applied
    c.stabilize(ticks=2)
    assert c.node(2).status().voters == (1, 2, 3, 4)
