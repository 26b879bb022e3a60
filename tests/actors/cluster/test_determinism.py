"""The same spec and seed give a byte-identical trace, whatever PYTHONHASHSEED is."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = """
import hashlib
from actors import ClusterSpec, simulate
with simulate(ClusterSpec(etcd_members=3, apiservers=2, nodes=[]), seed=9, trace=True) as c:
    w = c.watch("configmaps", "default")
    for i in range(5):
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x-"}})
    c.crash("etcd-0"); c.advance(5); c.restart("etcd-0"); c.advance(5)
    c.list("configmaps")
    w.drain()
    print(hashlib.sha256(c.sim.trace.to_jsonl()).hexdigest())
"""


def _run(hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=300)
    return out.stdout.strip()


def test_same_seed_same_trace_across_hash_seeds():
    assert _run("1") == _run("2")
