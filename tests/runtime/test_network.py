from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import DRIVER, Fixed, LinkModel, Simulation, Uniform
from tests.runtime._actors import Get, Ping, Recorder


def _sent_from(sim, n_senders, msgs):
    from runtime import Actor, handler

    class Burst(Actor):
        @handler
        def ping(self, m: Ping):
            for i in range(m.n):
                self.tell("sink", Ping(i))

    for s in range(n_senders):
        sim.spawn(f"s{s}", Burst)
        sim.tell(f"s{s}", Ping(msgs))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), senders=st.integers(1, 4), msgs=st.integers(1, 30),
       low=st.floats(0, 0.05), spread=st.floats(0, 0.2))
def test_fifo_per_sender_under_random_latency(seed, senders, msgs, low, spread):
    with Simulation(seed=seed) as sim:
        sim.set_network(LinkModel(latency=Uniform(low, low + spread)))
        sim.spawn("sink", Recorder)
        _sent_from(sim, senders, msgs)
        sim.advance(5)
        seen = sim.actor("sink").seen
        assert len(seen) == senders * msgs
        for s in range(senders):
            assert [n for who, n, _ in seen if who == f"s{s}"] == list(range(msgs))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), split=st.lists(st.booleans(), min_size=4, max_size=4),
       heal_after=st.floats(0.5, 3.0))
def test_no_message_crosses_a_partition(seed, split, heal_after):
    names = [f"n{i}" for i in range(4)]
    a = [n for n, s in zip(names, split) if s]
    b = [n for n, s in zip(names, split) if not s]
    with Simulation(seed=seed, trace=True) as sim:
        sim.set_network(LinkModel(latency=Uniform(0.001, 0.1)))
        for n in names:
            sim.spawn(n, Recorder)
        sim.partition(a, b)
        for src in names:
            for dst in names:
                if src != dst:
                    sim.system.bus.send(src, dst, Ping(1), 0, 0)
        sim.advance(heal_after)
        for n in names:
            side = a if n in a else b
            assert {who for who, _, _ in sim.actor(n).seen} <= set(side)
        sim.heal()
        for src in a:
            for dst in b:
                sim.system.bus.send(src, dst, Ping(2), 0, 0)
        sim.advance(1)
        for dst in b:
            assert {who for who, n, _ in sim.actor(dst).seen if n == 2} == set(a)


def test_partition_started_in_flight_still_cuts():
    with Simulation(seed=1) as sim:
        sim.set_network(LinkModel(latency=Fixed(1.0)))
        sim.spawn("r", Recorder)
        sim.tell("r", Ping(1))
        sim.advance(0.5)
        sim.partition([DRIVER], ["r"])
        sim.advance(1.0)
        assert sim.actor("r").seen == []


def test_fixed_latency_and_loss_and_duplication_rates():
    with Simulation(seed=11) as sim:
        sim.spawn("r", Recorder)
        sim.set_network(LinkModel(latency=Fixed(0.25)))
        t0 = sim.now
        sim.ask("r", Get())
        assert sim.now - t0 == 0.5  # there and back
        sim.set_network(LinkModel(loss=0.3))
        for i in range(2000):
            sim.tell("r", Ping(i))
        sim.run_until_idle()
        got = len(sim.actor("r").seen)
        assert 1250 < got < 1550  # about 70 % arrive
        sim.actor("r").seen.clear()
        sim.set_network(LinkModel(duplicate=0.5))
        for i in range(1000):
            sim.tell("r", Ping(i))
        sim.run_until_idle()
        assert 1400 < len(sim.actor("r").seen) < 1600


def test_reordering_happens_only_when_asked():
    def received(reorder):
        with Simulation(seed=5) as sim:
            sim.set_network(LinkModel(latency=Uniform(0.0, 0.5), reorder=reorder))
            sim.spawn("r", Recorder)
            for i in range(200):
                sim.tell("r", Ping(i))
            sim.advance(2)
            return [n for _, n, _ in sim.actor("r").seen]

    assert received(0.0) == list(range(200))
    out = received(1.0)
    assert sorted(out) == list(range(200)) and out != list(range(200))
