"""Determinism is a tested property: the same seed gives a byte-identical trace, also in a
second process with another PYTHONHASHSEED."""

import hashlib
import os
import subprocess
import sys

from runtime import Fixed, LinkModel, Simulation, Uniform
from tests.runtime._actors import Ping, Recorder

_SCENARIO = """
import hashlib, sys
from tests.runtime.test_determinism import scenario
print(hashlib.sha256(scenario(int(sys.argv[1]))).hexdigest())
"""


def scenario(seed: int) -> bytes:
    from runtime import Actor, handler

    class Gossip(Actor):
        def on_start(self):
            self.peers = [f"g{i}" for i in range(5) if f"g{i}" != self.name]

        @handler
        def ping(self, m: Ping):
            if m.n < 40:
                peer = self.rng.choice(self.peers)
                self.tell(peer, Ping(m.n + 1))
                if self.rng.random() < 0.3:
                    self.tell(self.rng.choice(self.peers), Ping(m.n + 2))

    with Simulation(seed=seed, trace=True) as sim:
        sim.set_network(LinkModel(latency=Uniform(0.001, 0.05), loss=0.05, duplicate=0.05, reorder=0.1))
        for i in range(5):
            sim.spawn(f"g{i}", Gossip)
        sim.spawn("sink", Recorder)
        names = {f"g{i}" for i in range(5)}  # a set: iteration order must not matter
        for n in sorted(names):
            sim.tell(n, Ping(0))
        sim.advance(2)
        sim.partition(["g0", "g1"], ["g2", "g3", "g4"])
        sim.advance(1)
        sim.crash("g3")
        sim.heal()
        sim.set_network(LinkModel(latency=Fixed(0.01)))
        sim.advance(1)
        return sim.trace.to_jsonl()


def test_same_seed_same_trace_bytes():
    a, b = scenario(7), scenario(7)
    assert a == b and len(a) > 1000
    assert scenario(8) != a


def test_trace_identical_in_another_process_with_other_hash_seed():
    here = hashlib.sha256(scenario(7)).hexdigest()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    outs = []
    for hs in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hs, PYTHONPATH=root)
        r = subprocess.run([sys.executable, "-c", _SCENARIO, "7"], env=env, cwd=root,
                           capture_output=True, text=True, check=True)
        outs.append(r.stdout.strip())
    assert outs == [here, here]
