import anyio
import pytest

from runtime import Simulation, SimulationTimeout


def test_anyio_sleep_and_timeouts_follow_virtual_time():
    with Simulation(seed=1) as sim:

        async def body():
            t0 = anyio.current_time()
            await anyio.sleep(3600)
            slept = anyio.current_time() - t0
            with anyio.move_on_after(5) as scope:
                await anyio.sleep(100)
            with pytest.raises(TimeoutError):
                with anyio.fail_after(2):
                    await anyio.Event().wait()
            return slept, scope.cancelled_caught

        slept, caught = sim.run(body())
        assert slept == 3600 and caught
        assert sim.now == 3607


def test_advance_is_exact_and_time_never_goes_back():
    with Simulation(seed=1) as sim:
        times = []
        for _ in range(5):
            sim.advance(0.1)
            times.append(sim.now)
        assert times == sorted(times)
        assert sim.now == pytest.approx(0.5)


def test_run_until_names_the_seed_on_timeout():
    with Simulation(seed=424242) as sim:
        with pytest.raises(SimulationTimeout) as e:
            sim.run_until(lambda: False, timeout=10)
        assert "seed=424242" in str(e.value)
        assert sim.now == pytest.approx(10)


def test_run_until_stops_at_first_true_instant():
    with Simulation(seed=1) as sim:
        hits = []
        sim.loop.call_at(7.25, lambda: hits.append(1))
        took = sim.run_until(lambda: bool(hits), timeout=100)
        assert took == 7.25
