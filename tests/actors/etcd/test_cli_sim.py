"""`kubetwin sim etcd`: the summary, the exact history format, exit codes, and byte-identical
output for one seed under different PYTHONHASHSEED values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from actors.checker import check, decode_jsonl
from actors.cli import main

SMALL = ["sim", "etcd", "--members", "3", "--seed", "3", "--duration", "12", "--clients", "3",
         "--keys", "2", "--nemesis", "partition,crash,loss"]


def test_sim_etcd_prints_a_passing_summary_and_writes_the_history(tmp_path: Path) -> None:
    history, trace = tmp_path / "h.jsonl", tmp_path / "t.jsonl"
    result = CliRunner().invoke(main, [*SMALL, "--history", str(history), "--trace", str(trace)])
    assert result.exit_code == 0, result.output
    out = result.output
    for needle in ("operations:", "leader changes:", "faults injected", "linearizability: linearizable",
                   "raft invariants:", "0 violation(s)", "verdict: PASS", "replay: kubetwin sim etcd"):
        assert needle in out
    lines = history.read_bytes().splitlines()
    assert lines and trace.read_bytes()
    for raw in lines:
        event = json.loads(raw)
        assert list(event) == ["process", "type", "f", "key", "value", "time"]
        assert event["type"] in ("invoke", "ok", "fail", "info")
        assert event["f"] in ("read", "write", "cas")
        assert event["key"] in ("k1", "k2") and isinstance(event["time"], int)
        v = event["value"]
        if event["f"] == "read":
            assert v is None or (isinstance(v, int) and event["type"] == "ok")
        elif event["f"] == "write":
            assert isinstance(v, int)
        else:
            assert isinstance(v, list) and len(v) == 2
    times = [json.loads(raw)["time"] for raw in lines]
    assert times == sorted(times)
    assert check(decode_jsonl(history.read_bytes())).ok is True


def test_sim_etcd_rejects_an_unknown_nemesis() -> None:
    result = CliRunner().invoke(main, ["sim", "etcd", "--nemesis", "partition,meteor"])
    assert result.exit_code == 2
    assert "unknown nemesis meteor" in result.output


def _run(tmp: Path, hashseed: str) -> tuple[bytes, bytes]:
    h, t = tmp / f"h{hashseed}.jsonl", tmp / f"t{hashseed}.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    code = "from actors.cli import main; main()"
    subprocess.run([sys.executable, "-c", code, *SMALL, "--history", str(h), "--trace", str(t)],
                   env=env, check=True, capture_output=True, cwd=Path(__file__).resolve().parents[3])
    return h.read_bytes(), t.read_bytes()


def test_same_seed_gives_byte_identical_history_and_trace_under_any_hash_seed(tmp_path: Path) -> None:
    a = _run(tmp_path, "0")
    b = _run(tmp_path, "4242")
    assert a == b
    assert a[0] and a[1]
