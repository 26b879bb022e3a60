import anyio

from runtime import DRIVER, live_system
from tests.runtime._actors import Get, Ping, Recorder


def test_same_actor_code_runs_live_and_persists(tmp_path):
    async def main():
        async with live_system(seed=1, data_dir=str(tmp_path)) as system:
            system.spawn("r", Recorder)
            for i in range(3):
                assert await system.ask(DRIVER, "r", Ping(i), timeout=5) == i
            seen = await system.ask(DRIVER, "r", Get(), timeout=5)
            assert [n for _, n, _ in seen] == [0, 1, 2]
            assert abs(system.wall_time() - __import__("time").time()) < 5
        async with live_system(seed=1, data_dir=str(tmp_path)) as system:
            system.spawn("r", Recorder)
            await system.ask(DRIVER, "r", Get(), timeout=5)
            return system.instance("r").total

    assert anyio.run(main) == 3
