"""The SLIs of ``benchmarks/reconcile.py``, computed from what a run recorded: pod startup,
mutating API call latency, Deployment create → available, controller work-queue times; and
their CDF plots.

Each function returns ``(summary, raw)``: the summary (distributions from
``benchmarks._common.distribution``, seconds) goes to the table and the JSON; the raw samples
only to the plots. Pure functions of the recordings, except ``pull_seconds``, which lists
events through the cluster's API.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from benchmarks._common import distribution, plot_cdfs

SLO_POD_STARTUP_S = 5.0  # sig-scalability pod_startup_latency.md: p99 <= 5 s
SLO_API_S = 1.0  # api_call_latency.md: mutating calls, p99 <= 1 s per (resource, verb)
# The apiserver's verb -> the HTTP method the SLI (and apiserver_request_duration_seconds) names.
MUTATING = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE"}
READ_ONLY = {"get": "GET", "list": "LIST"}

_PULLED = re.compile(r"\(([0-9.hmsuµn]+) including waiting\)")
_GO_PART = re.compile(r"([0-9.]+)(h|ms|m|s|µs|us|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def go_seconds(text: str) -> float:
    """A Go ``time.Duration`` string (``1.238s``, ``744.14ms``, ``1m2.5s``) in seconds."""
    return sum(float(v) * _UNIT[u] for v, u in _GO_PART.findall(text))


def pull_seconds(c: Any, namespaces: Iterable[str]) -> dict[str, float]:
    """Pod "ns/name" -> its image pull time including waiting, from its ``Pulled`` event
    (absent: the image was present, nothing to exclude)."""
    out: dict[str, float] = {}
    for ns in namespaces:
        for e in c.list("events", ns, field_selector="reason=Pulled")["items"]:
            io = e.get("involvedObject") or {}
            m = _PULLED.search(e.get("message") or "")
            if io.get("kind") == "Pod" and m:
                out[f"{ns}/{io.get('name')}"] = go_seconds(m.group(1))
    return out


def pod_startup(driver: Any, pulls: Mapping[str, float]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The pod startup SLI per pod that ran: Running seen − creation seen − pull time
    (clamped at 0: pull times are printed rounded), and its two legs."""
    startup, to_schedule, to_run = [], [], []
    for key, running in driver.running.items():
        created = driver.created[key]
        startup.append(max(0.0, running - created - pulls.get(key, 0.0)))
        scheduled = driver.scheduled.get(key)
        if scheduled is not None:
            to_schedule.append(scheduled - created)
            to_run.append(max(0.0, running - scheduled - pulls.get(key, 0.0)))
    summary = {"startup": distribution(startup), "create_to_schedule": distribution(to_schedule),
               "schedule_to_running": distribution(to_run), "pods_created": len(driver.created),
               "pulls_excluded": sum(1 for k in driver.running if pulls.get(k))}
    return summary, {"pod startup": startup}


def _call(verb: str, resource: str, subresource: str | None) -> str:
    return f"{verb} {resource}/{subresource}" if subresource else f"{verb} {resource}"


def api_latencies(log: Iterable[tuple[str, str, str | None, int, float, float]]
                  ) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Mutating (and, in ``read_only``, GET/LIST) call latencies at the apiserver, per
    (method, resource[/subresource]); ``worst`` is the mutating call with the highest p99 —
    the one the SLO (p99 per resource and verb) would fail first."""
    by_call: dict[str, list[float]] = {}
    reads: dict[str, list[float]] = {}
    by_verb: dict[str, list[float]] = {}
    codes: dict[str, int] = {}
    for verb, resource, sub, code, received, answered in log:
        method = MUTATING.get(verb)
        if method is None:
            read = READ_ONLY.get(verb)
            if read is not None:
                reads.setdefault(_call(read, resource, sub), []).append(answered - received)
            continue
        d = answered - received
        by_call.setdefault(_call(method, resource, sub), []).append(d)
        by_verb.setdefault(method, []).append(d)
        codes[str(code)] = codes.get(str(code), 0) + 1
    every = [d for ds in by_call.values() for d in ds]
    calls = {k: distribution(v, (50, 99)) for k, v in sorted(by_call.items())}
    worst = max(calls.items(), key=lambda kv: kv[1]["p99"], default=None)
    summary = {"all": distribution(every, (50, 90, 99)), "by_call": calls,
               "by_verb": {k: distribution(v, (50, 99)) for k, v in sorted(by_verb.items())},
               "codes": codes,
               "worst": {"call": worst[0], "p99": worst[1]["p99"], "n": worst[1]["n"]} if worst else None,
               "read_only": {k: distribution(v, (50, 99)) for k, v in sorted(reads.items())}}
    return summary, {**{f"{v} (all resources)": ds for v, ds in sorted(by_verb.items())},
                     "all mutating": every}


def deployment_latencies(driver: Any, shape: Any) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Create sent → all available, per Deployment size."""
    sizes: dict[int, list[float]] = {}
    count: dict[int, int] = {}
    for ns, name, size, _replicas, _svc in shape.deployments:
        count[size] = count.get(size, 0) + 1
        key = f"{ns}/{name}"
        if key in driver.available and key in driver.issued:
            sizes.setdefault(size, []).append(driver.available[key] - driver.issued[key])
    summary = {str(s): {**distribution(sizes.get(s, []), (50, 99)), "count": count[s]}
               for s in sorted(count, reverse=True)}
    if driver.failed:
        summary["create_failures"] = dict(list(driver.failed.items())[:10])
    return summary, {f"{s} replicas": sizes.get(s, []) for s in sorted(count, reverse=True)}


def workqueue_latencies(queues: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Per controller: queue duration (add → get) and work duration (get → done) of the keys
    its queue handed out while recording."""
    out = {}
    for name, q in sorted(queues.items()):
        waited, worked = q.samples or ([], [])
        out[name] = {"queue": distribution(waited, (50, 99)), "work": distribution(worked, (50, 99)),
                     "adds": q.statistics().adds}
    return out, {}


def plots(raw: Mapping[str, Mapping[str, list[float]]], directory: str, nodes: int,
          fmt: str = "png") -> list[str]:
    """The CDFs: pod startup, mutating API calls by method, Deployment create → available
    by size. Returns the paths written."""
    stem = os.path.join(directory, f"reconcile-{nodes}nodes")
    made = [
        plot_cdfs(f"{stem}-pod-startup.{fmt}", dict(raw.get("pods", {})),
                  title=f"Pod startup latency, {nodes} nodes (create → Running, pull excluded)",
                  xlabel="seconds (virtual)", slo=SLO_POD_STARTUP_S, log_x=True),
        plot_cdfs(f"{stem}-api-latency.{fmt}", dict(raw.get("api", {})),
                  title=f"Mutating API call latency at the apiserver, {nodes} nodes",
                  xlabel="seconds (virtual)", slo=SLO_API_S, log_x=True),
        plot_cdfs(f"{stem}-deployments.{fmt}", dict(raw.get("deployments", {})),
                  title=f"Deployment create → all available, {nodes} nodes",
                  xlabel="seconds (virtual)", log_x=True),
    ]
    return [p for p in made if p]
