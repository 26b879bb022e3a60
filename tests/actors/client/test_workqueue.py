"""The work queue: dedup, processing exclusivity, re-add on done, delays, back-off, metrics,
and run_workers driving reconciles in virtual time."""

import pytest

from actors.client import (
    ItemExponentialFailureRateLimiter,
    QueueEmpty,
    QueueShutDown,
    RateLimitingQueue,
    Result,
)
from runtime import NEVER_RESTART, Actor, InvariantViolation, Simulation


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(clock=None, limiter=None):
    clock = clock or Clock()
    return RateLimitingQueue(limiter, name="test", clock=clock), clock


def test_a_waiting_key_is_queued_once():
    q, _ = make()
    for k in ["a", "b", "a", "a", "c", "b"]:
        q.add(k)
    assert len(q) == 3
    assert [q.get_nowait() for _ in range(3)] == ["a", "b", "c"]
    assert q.statistics().adds == 3  # duplicates are not counted as adds
    with pytest.raises(QueueEmpty):
        q.get_nowait()


def test_a_key_being_processed_is_not_handed_out_again_until_done():
    q, _ = make()
    q.add("a")
    assert q.get_nowait() == "a"
    q.add("a")  # added while processing: dirty, not queued
    assert len(q) == 0
    with pytest.raises(QueueEmpty):
        q.get_nowait()  # a second worker gets nothing
    q.add("a")  # still once
    q.done("a")  # re-queued now
    assert len(q) == 1
    assert q.get_nowait() == "a"
    q.done("a")
    assert len(q) == 0 and not q.is_processing("a")


def test_done_for_a_key_not_processing_is_a_broken_invariant():
    q, _ = make()
    with pytest.raises(InvariantViolation):
        q.done("nope")


def test_add_after_earliest_deadline_wins_and_delayed_keys_are_not_counted():
    q, clock = make()
    q.add_after("a", 10.0)
    q.add_after("a", 5.0)  # earlier: wins
    q.add_after("a", 20.0)  # later: ignored
    q.add_after("b", 0)  # no delay: at once
    assert len(q) == 1 and q.get_nowait() == "b"
    assert q.statistics().waiting == 1
    clock.t = 4.9
    assert len(q) == 0
    clock.t = 5.0
    assert len(q) == 1 and q.get_nowait() == "a"
    clock.t = 30.0
    assert len(q) == 0  # the superseded 10 s and 20 s entries do not re-add it


def test_add_rate_limited_backs_off_exponentially_and_forget_resets():
    q, clock = make(limiter=ItemExponentialFailureRateLimiter(0.005, 1000.0))
    seen = []
    for _ in range(4):
        q.add_rate_limited("k")
        start = clock.t
        while True:
            clock.t = round(clock.t + 0.001, 6)
            if len(q):
                break
        seen.append(round(clock.t - start, 3))
        q.done(q.get_nowait())
    assert seen == [0.005, 0.01, 0.02, 0.04]
    assert q.num_requeues("k") == 4
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert q.statistics().retries == 4


def test_shut_down_refuses_adds_and_drains_what_is_queued():
    q, _ = make()
    q.add("a")
    q.add_after("late", 5)
    q.shut_down()
    q.add("b")
    assert q.shutting_down
    assert q.get_nowait() == "a"
    with pytest.raises(QueueShutDown):
        q.get_nowait()
    q.done("a")


def test_metrics_latency_work_duration_and_longest_running():
    q, clock = make()
    q.add("a")
    q.add("b")
    clock.t = 2.0
    assert q.get_nowait() == "a"
    clock.t = 3.0
    assert q.get_nowait() == "b"
    clock.t = 7.0
    q.done("a")
    st = q.statistics()
    assert st.queue_latency_count == 2
    assert st.queue_latency_total == pytest.approx(5.0)  # 2 s for a, 3 s for b
    assert st.queue_latency_max == pytest.approx(3.0)
    assert st.work_duration_count == 1 and st.work_duration_total == pytest.approx(5.0)
    assert st.processing == 1 and st.depth == 0
    assert st.longest_running_processor_seconds == pytest.approx(4.0)
    assert st.unfinished_work_seconds == pytest.approx(4.0)


def test_async_get_waits_in_virtual_time_for_a_delayed_key():
    with Simulation(seed=1) as sim:
        q = RateLimitingQueue(name="q", clock=sim.loop.time)

        async def scenario():
            q.add_after("k", 5.0)
            key = await q.get()
            return key, sim.now

        assert sim.run(scenario()) == ("k", pytest.approx(5.0))


def test_async_get_raises_shutdown_to_waiting_getters():
    with Simulation(seed=1) as sim:
        q = RateLimitingQueue(name="q", clock=sim.loop.time)

        async def getter():
            try:
                await q.get()
            except QueueShutDown:
                return "shut down"

        async def scenario():
            import asyncio

            task = asyncio.ensure_future(getter())
            await asyncio.sleep(1)
            q.shut_down()
            return await task

        assert sim.run(scenario()) == "shut down"


class Controller(Actor):
    """A controller actor: 2 workers over a queue; reconcile fails for some keys."""

    def __init__(self, failures: dict[str, int], results: dict[str, Result]) -> None:
        self.failures = dict(failures)
        self.results = results
        self.log_ = []
        self.in_flight: set[str] = set()
        self.max_parallel_same_key = 0

    def on_start(self) -> None:
        self.queue = RateLimitingQueue(name="ctl", actor=self)
        self.queue.run_workers(2, self.reconcile)

    async def reconcile(self, key: str) -> Result | None:
        import anyio

        assert key not in self.in_flight, "a key was handed to two workers at once"
        self.in_flight.add(key)
        try:
            self.log_.append((round(self.now(), 4), key))
            await anyio.sleep(0.5)  # work takes time: other workers run meanwhile
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                raise RuntimeError(f"transient failure of {key}")
            return self.results.get(key)
        finally:
            self.in_flight.discard(key)


def test_run_workers_requeues_failures_with_back_off_and_honours_requeue_after():
    with Simulation(seed=3) as sim:
        sim.spawn("ctl", Controller, {"flaky": 2}, {"periodic": Result(requeue_after=30.0)},
                  policy=NEVER_RESTART)
        ctl = sim.actor("ctl")
        for k in ["flaky", "ok", "periodic", "ok"]:
            ctl.queue.add(k)
        sim.advance(0.2)
        ctl.queue.add("ok")  # re-added while a worker processes it: runs again after done
        sim.advance(40)
        runs = {}
        for t, k in ctl.log_:
            runs.setdefault(k, []).append(t)
        # flaky fails at 0.5; ready again 5 ms later but both workers are busy (periodic and
        # the re-added ok) until 1.0; fails again at 1.5 and is back 10 ms later.
        assert runs["flaky"] == pytest.approx([0.0, 1.0, 1.51])
        assert ctl.queue.num_requeues("flaky") == 0  # forgotten after success
        assert runs["ok"] == pytest.approx([0.0, 0.5])  # dedup + re-add on done
        assert runs["periodic"] == pytest.approx([0.5, 31.0])  # waited for a free worker, then 30 s
        st = ctl.queue.statistics()
        assert st.reconcile_errors == 2
        assert not sim.system.crashes


def test_run_workers_needs_an_actor():
    q, _ = make()
    with pytest.raises(RuntimeError):
        q.run_workers(1, lambda k: None)
