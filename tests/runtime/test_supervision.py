import pytest

from runtime import NEVER_RESTART, RestartPolicy, Simulation
from tests.runtime._actors import Boom, Get, Ping, Recorder


def test_policy_backoff_and_intensity():
    p = RestartPolicy(max_restarts=3, within=10.0, backoff=0.5, backoff_factor=2.0, backoff_max=1.5)
    hist: list[float] = []
    delays = []
    for t in (0.0, 1.0, 2.0):
        delays.append(p.decide(hist, t))
        hist.append(t)
    assert delays == [0.5, 1.0, 1.5]
    assert p.decide(hist, 3.0) is None  # 3 restarts within 10 s: give up
    assert p.decide(hist, 11.5) == 1.0  # the window slid: only the restart at 2.0 still counts
    assert NEVER_RESTART.decide([], 0.0) is None


def test_crash_restarts_after_backoff_and_loses_volatile_state():
    with Simulation(seed=3) as sim:
        sim.spawn("r", Recorder, policy=RestartPolicy(backoff=2.0))
        sim.ask("r", Ping(1))
        sim.system.store("r").sync()
        sim.tell("r", Boom())
        sim.run_until_idle()
        assert sim.system.status("r") == "down"
        sim.advance(1.9)
        assert sim.system.status("r") == "down"
        sim.advance(0.2)
        assert sim.system.status("r") == "running"
        assert sim.ask("r", Get()) == []  # volatile state is gone
        assert sim.actor("r").total == 1  # the synced durable value survived


def test_supervisor_gives_up_past_max_restarts():
    with Simulation(seed=3) as sim:
        sim.spawn("r", Recorder, policy=RestartPolicy(max_restarts=2, within=100, backoff=0.1))
        for _ in range(3):
            sim.tell("r", Boom())
            sim.advance(1.0)
        assert sim.system.status("r") == "failed"
        assert len(sim.system.crashes) == 3


@pytest.mark.parametrize("lose", [True, False])
def test_unsynced_writes_lost_only_when_fault_on(lose):
    with Simulation(seed=3) as sim:
        sim.system.lose_unsynced_on_crash = lose
        sim.spawn("r", Recorder)
        sim.ask("r", Ping(1))
        sim.system.store("r").sync()
        sim.ask("r", Ping(2))  # written, not synced
        sim.crash("r")
        sim.restart("r")
        assert sim.actor("r").total == (1 if lose else 2)


def test_injected_crash_stays_down_until_restart():
    with Simulation(seed=3) as sim:
        sim.spawn("r", Recorder)
        sim.crash("r")
        sim.advance(60)
        assert sim.system.status("r") == "down"
        sim.restart("r")
        assert sim.system.status("r") == "running"
