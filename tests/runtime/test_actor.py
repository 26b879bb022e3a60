import anyio
import msgspec
import pytest

from runtime import (
    DRIVER,
    Actor,
    ActorDead,
    AskTimeout,
    MailboxFull,
    Simulation,
    UnknownActor,
    handler,
)
from tests.runtime._actors import (
    Boom,
    Forwarder,
    Get,
    NotAllowed,
    Ping,
    Recorder,
    Refuse,
    Slow,
    Tick,
)


def test_tell_delivers_in_order_and_ask_replies():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        for i in range(100):
            sim.tell("r", Ping(i))
        sim.run_until_idle()
        seen = sim.ask("r", Get())
        assert [n for _, n, _ in seen] == list(range(100))
        assert {s for s, _, _ in seen} == {DRIVER}
        assert sim.ask("r", Ping(7)) == 7


def test_ask_timeout_is_named_and_carries_target():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        sim.partition([DRIVER], ["r"])
        with pytest.raises(AskTimeout) as e:
            sim.ask("r", Get(), timeout=2.0)
        assert e.value.address == "r"
        assert sim.now == pytest.approx(2.0)


def test_ask_fails_when_target_crashes_mid_request():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)

        async def scenario():
            fut = sim.system.ask_future(DRIVER, "r", Slow(5.0), timeout=60)
            await anyio.sleep(1.0)
            sim.crash("r")
            with pytest.raises(ActorDead) as e:
                await fut
            return e.value.why

        assert sim.run(scenario()) == "crashed"
        assert sim.now == pytest.approx(1.0)


def test_ask_to_down_actor_fails_at_once_and_unknown_address_is_named():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        sim.crash("r")
        with pytest.raises(ActorDead):
            sim.ask("r", Get())
        with pytest.raises(UnknownActor):
            sim.ask("nobody", Get())


def test_expected_error_goes_back_to_asker_without_crash():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        with pytest.raises(NotAllowed):
            sim.ask("r", Refuse())
        assert sim.system.status("r") == "running"
        assert sim.system.crashes == []


def test_async_handler_holds_the_mailbox():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        order = []

        async def scenario():
            a = sim.system.ask_future(DRIVER, "r", Slow(3.0), timeout=None)
            b = sim.system.ask_future(DRIVER, "r", Ping(1), timeout=None)
            b.add_done_callback(lambda f: order.append(("ping", sim.now)))
            a.add_done_callback(lambda f: order.append(("slow", sim.now)))
            await a
            await b

        sim.run(scenario())
        assert order == [("slow", 3.0), ("ping", 3.0)]


def test_timers_after_every_and_cancel():
    class T(Actor):
        def on_start(self):
            self.fired = []
            self.t = self.every(1.0, Tick())
            self.after(2.5, Ping(1))

        @handler
        def tick(self, m: Tick):
            self.fired.append(("tick", self.now()))
            if sum(1 for k, _ in self.fired if k == "tick") == 4:
                self.t.cancel()

        @handler
        def ping(self, m: Ping):
            self.fired.append(("after", self.now()))

    with Simulation(seed=1) as sim:
        sim.spawn("t", T)
        sim.advance(10)
        assert sim.actor("t").fired == [
            ("tick", 1.0), ("tick", 2.0), ("after", 2.5), ("tick", 3.0), ("tick", 4.0)
        ]


def test_on_start_and_on_stop_hooks_and_stop_fails_pending():
    log = []

    class H(Actor):
        def on_start(self):
            log.append("start")

        def on_stop(self):
            log.append("stop")

        @handler
        async def slow(self, m: Slow):
            await anyio.sleep(m.seconds)

    with Simulation(seed=1) as sim:
        sim.spawn("h", H)

        async def scenario():
            fut = sim.system.ask_future(DRIVER, "h", Slow(10), timeout=None)
            await anyio.sleep(1)
            sim.system.stop("h")
            with pytest.raises(ActorDead) as e:
                await fut
            return e.value.why

        assert sim.run(scenario()) == "stopped"
        assert log == ["start", "stop"]


def test_unhandled_message_is_a_dead_letter_not_a_crash():
    class Other(msgspec.Struct, frozen=True, tag="test.other"):
        pass

    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        sim.tell("r", Other())
        sim.run_until_idle()
        assert sim.system.dead_letters == 1
        assert sim.system.status("r") == "running"


def test_mailbox_bounded_stats_and_try_tell():
    class Sender(Actor):
        @handler
        def ping(self, m: Ping):
            for i in range(m.n):
                try:
                    self.try_tell("r", Ping(i))
                except MailboxFull:
                    self.full = getattr(self, "full", 0) + 1

    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder, capacity=10)
        sim.spawn("s", Sender)
        sim.tell("s", Ping(15))
        sim.run_until_idle()
        assert sim.actor("s").full == 5
        stats = sim.system.mailbox_stats("r")
        assert stats.high_water == 10
        assert stats.dropped == 5
        assert stats.received == 10
        assert stats.depth == 0
        assert [n for _, n, _ in sim.ask("r", Get())] == list(range(10))


def test_drain_handles_every_ready_message_before_yielding():
    log = []
    with Simulation(seed=1) as sim:
        sim.spawn("a", Recorder, log)
        sim.spawn("b", Recorder, log)
        for i in range(3):
            sim.tell("a", Ping(i))
        for i in range(3):
            sim.tell("b", Ping(i))
        sim.run_until_idle()
        # a's batch runs whole before b's: the loop yields only when a's mailbox is empty.
        assert log == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]


def test_forwarding_chain_keeps_sender_identity():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        sim.spawn("f", Forwarder, "r")
        sim.tell("f", Ping(3))
        sim.run_until_idle()
        assert sim.ask("r", Get())[0][0] == "f"


def test_handler_needs_annotated_message():
    with pytest.raises(TypeError):

        class Bad(Actor):
            @handler
            def nope(self, m):  # no annotation
                pass


def test_union_annotation_registers_each_type():
    class U(Actor):
        def on_start(self):
            self.got = []

        @handler
        def any_(self, m: Ping | Tick):
            self.got.append(type(m).__name__)

    with Simulation(seed=1) as sim:
        sim.spawn("u", U)
        sim.tell("u", Ping())
        sim.tell("u", Tick())
        sim.run_until_idle()
        assert sim.actor("u").got == ["Ping", "Tick"]


def test_defer_reply_answers_later():
    class D(Actor):
        def on_start(self):
            self.waiting = []

        @handler
        def get(self, m: Get):
            self.waiting.append(self.defer_reply())
            self.after(4.0, Tick())

        @handler
        def tick(self, m: Tick):
            for w in self.waiting:
                w.send("late")

    with Simulation(seed=1) as sim:
        sim.spawn("d", D)
        assert sim.ask("d", Get()) == "late"
        assert sim.now == 4.0


def test_crash_in_handler_counts_and_boom_reply_is_actor_dead():
    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        with pytest.raises(ActorDead):
            sim.ask("r", Boom())
        assert sim.system.crashes[0][1] == "r"
        assert "RuntimeError: boom" in sim.system.crashes[0][2]


def test_monitor_delivers_down_on_crash_and_stop_but_not_across_partition():
    from runtime import Down

    class Watcher(Actor):
        def on_start(self):
            self.downs = []
            self.monitor("r")

        @handler
        def down(self, m: Down):
            self.downs.append((m.address, m.reason))
            self.monitor(m.address)

    with Simulation(seed=1) as sim:
        sim.spawn("r", Recorder)
        sim.spawn("w", Watcher)
        sim.crash("r")
        sim.run_until_idle()
        assert sim.actor("w").downs == [("r", "crashed")]
        sim.restart("r")
        sim.system.stop("r")
        sim.run_until_idle()
        assert sim.actor("w").downs == [("r", "crashed"), ("r", "stopped")]
        sim.system.restart("r")
        sim.partition(["r"], ["w"])
        sim.crash("r")
        sim.run_until_idle()
        assert len(sim.actor("w").downs) == 2
