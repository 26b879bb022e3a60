"""Shared helpers for benchmark scripts: argument parsing, the table, the JSON file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    p.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    p.add_argument("--repeat", type=int, default=None, help="repetitions per figure (median taken)")
    return p


def median_rate(fn: Callable[[], tuple[int, float]], repeat: int) -> tuple[float, list[float]]:
    """Run ``fn`` (returning (operations, seconds)) ``repeat`` times; median ops/s and all rates."""
    rates = []
    for _ in range(repeat):
        n, secs = fn()
        rates.append(n / secs)
    return statistics.median(rates), rates


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - t0


def table(rows: list[tuple[str, str, str]], title: str) -> str:
    w0 = max(len(r[0]) for r in rows + [("figure", "", "")])
    w1 = max(len(r[1]) for r in rows + [("", "value", "")])
    out = [title, f"{'figure':<{w0}}  {'value':>{w1}}  note", "-" * (w0 + w1 + 30)]
    out += [f"{a:<{w0}}  {b:>{w1}}  {c}" for a, b, c in rows]
    return "\n".join(out)


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if not path:
        return
    data = dict(data)
    data.setdefault("machine", {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "platform": platform.platform()})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
