"""Shared helpers for benchmark scripts: argument parsing, the table, the JSON file, and
latency distributions (nearest-rank percentiles, CDF plots)."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
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


# ---- latency distributions (benchmarks/reconcile.py) ------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of ``values``; NaN when empty. Nearest rank
    (the value at rank ceil(q/100 * n)) is what a p99 "of N observations" means: never
    interpolated, so a p99 is always a latency that was observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) / 100 - 1e-9)  # no float error pushes it a rank up
    return ordered[min(len(ordered), max(1, rank)) - 1]


def distribution(values: list[float], qs: tuple[float, ...] = (50, 90, 99)) -> dict[str, float]:
    """``{"n", "p50", "p90", "p99", "max"}`` (keys per ``qs``) of a sample, seconds unrounded."""
    ordered = sorted(values)
    out: dict[str, float] = {"n": len(ordered)}
    for q in qs:
        out[f"p{q:g}"] = percentile(ordered, q)
    out["max"] = ordered[-1] if ordered else float("nan")
    return out


def plot_cdfs(path: str, series: dict[str, list[float]], *, title: str, xlabel: str,
              slo: float | None = None, log_x: bool = False) -> str | None:
    """Write the empirical CDF of each series (label -> values) to ``path`` (.png or .svg,
    by the suffix), with the SLO as a vertical line. Needs matplotlib (the ``bench`` extra);
    returns the path, or None (and says why on stderr) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, values in series.items():
        xs = sorted(max(v, 1e-6) for v in values) if log_x else sorted(values)  # 0 on a log axis
        if not xs:
            continue
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        ax.step(xs, ys, where="post", label=f"{label} (n={len(xs)})")
    if slo is not None:
        ax.axvline(slo, color="tab:red", linestyle="--", label=f"SLO {slo:g} s")
    ax.axhline(0.99, color="grey", linestyle=":", linewidth=0.8)
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel="fraction ≤ x", ylim=(0, 1.01))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
