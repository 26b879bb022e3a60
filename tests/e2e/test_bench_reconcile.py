"""benchmarks/reconcile.py's measurements, on a tiny load: that they produce sane numbers.

The load shape and the latency-spec parser are checked against clusterloader2's arithmetic;
one 3-node run (45 pods, 9 Deployments of 5, virtual time) checks that every SLI is measured
for every object and that the latency model reaches the apiserver's figures; a run with the
model zeroed checks the knobs are wired. Nothing here asserts wall time.
"""

from __future__ import annotations

import pytest

from actors.client import RateLimitingQueue
from benchmarks import reconcile
from benchmarks._common import distribution, percentile
from benchmarks._reconcile_load import load_shape
from benchmarks._reconcile_measure import api_latencies, go_seconds
from runtime import Exponential, Fixed, LogNormal, Uniform


def test_load_shape_is_clusterloader2s():
    s = reconcile.load_shape(100)
    assert s.describe()["deployments_by_size"] == {"250": 3, "30": 25, "5": 300}
    assert (s.pods, len(s.services), s.saturation_s, s.namespaces) == (3000, 2 + 13 + 150, 300.0, ["load-1"])
    big = [d for d in s.deployments if d[2] == 250]
    assert big[0] == ("load-1", "big-deployment-0", 250, 250, "big-service-0")
    s = load_shape(1000, throughput=20)
    assert (s.pods, len(s.namespaces), s.saturation_s) == (30_000, 10, 1500.0)
    assert load_shape(3).describe()["deployments_by_size"] == {"5": 9}


def test_latency_specs():
    assert reconcile.parse_latency("fixed:0.5") == Fixed(0.0005)
    assert reconcile.parse_latency("uniform:1:3") == Uniform(0.001, 0.003)
    assert reconcile.parse_latency("exp:0.1:0.2") == Exponential(0.0001, 0.0002)
    assert reconcile.parse_latency("lognormal:0.25:0.5") == LogNormal(0.00025, 0.5)
    for bad in ("fixed", "lognormal:0:1", "gauss:1:2", "fixed:x"):
        with pytest.raises(ValueError):
            reconcile.parse_latency(bad)


def test_percentiles_are_nearest_rank():
    xs = [float(i) for i in range(1, 101)]
    assert (percentile(xs, 50), percentile(xs, 99), percentile(xs, 100)) == (50.0, 99.0, 100.0)
    assert percentile([3.0], 99) == 3.0
    assert distribution([], (50,))["n"] == 0
    assert go_seconds("1.238s") == pytest.approx(1.238)
    assert go_seconds("744.14ms") == pytest.approx(0.74414)
    assert go_seconds("1m2.5s") == pytest.approx(62.5)


def test_api_latencies_groups_mutating_calls_by_method_and_resource():
    log = [("create", "pods", None, 201, 1.0, 1.004), ("create", "pods", "binding", 201, 1.0, 1.002),
           ("patch", "pods", "status", 200, 2.0, 2.5), ("get", "pods", None, 200, 0.0, 9.0),
           ("watch", "pods", None, 200, 0.0, 0.0)]
    summary, raw = api_latencies(log)
    assert set(summary["by_call"]) == {"POST pods", "POST pods/binding", "PATCH pods/status"}
    assert summary["all"]["n"] == 3 and summary["all"]["max"] == pytest.approx(0.5)
    assert summary["worst"]["call"] == "PATCH pods/status"
    assert summary["read_only"]["GET pods"]["n"] == 1
    assert len(raw["all mutating"]) == 3


def test_work_queue_samples_are_opt_in():
    clock = [0.0]
    q = RateLimitingQueue(clock=lambda: clock[0])
    q.add("a")
    assert q.samples is None
    q.samples = ([], [])
    q.add("b")
    clock[0] = 1.0
    assert q.get_nowait() == "a"
    clock[0] = 1.5
    q.done("a")
    assert q.samples == ([1.0], [0.5])


@pytest.fixture(scope="module")
def tiny():
    return reconcile.run(3, seed=3, progress=False)


def test_tiny_load_measures_every_object(tiny):
    r = tiny
    assert r["complete"] and r["shape"]["pods"] == 45
    startup = r["pods"]["startup"]
    assert startup["n"] == r["pods"]["pods_created"] == 45
    assert 0 < startup["p50"] <= startup["p90"] <= startup["p99"] <= startup["max"] < 5.0
    assert r["pods"]["create_to_schedule"]["n"] == 45
    calls = r["api"]["by_call"]
    assert calls["POST pods"]["n"] == 45 and calls["POST pods/binding"]["n"] == 45
    assert calls["POST deployments"]["n"] == 9
    # Every write waits for etcd's fsync (2 ms by default) at least once.
    assert calls["POST pods"]["p50"] >= 0.002
    assert r["api"]["worst"]["p99"] < 1.0
    deps = r["deployments"]["5"]
    assert deps["n"] == deps["count"] == 9 and 0 < deps["p50"] <= deps["max"]
    queues = r["workqueues"]
    for name in ("deployment", "replicaset", "endpointslice"):
        assert queues[name]["queue"]["n"] > 0 and queues[name]["work"]["n"] > 0
    assert r["latency_model"]["etcd_fsync_ms"] == 2.0
    assert r["wall_ms_per_pod"] > 0


def test_zero_latency_model_zeroes_the_apiserver_figures(tiny):
    model = reconcile.LatencyModel(link_latency="fixed:0", local_latency="fixed:0",
                                   etcd_fsync_ms=0.0, cm_qps=-1, scheduler_qps=-1)
    r = reconcile.run(3, model=model, seed=3, progress=False)
    assert r["complete"] and r["pods"]["startup"]["n"] == 45
    assert r["api"]["all"]["max"] == 0.0
    assert r["pods"]["startup"]["p99"] < tiny["pods"]["startup"]["p99"]


def test_image_pulls_are_excluded_from_pod_startup(tiny, monkeypatch):
    import benchmarks._reconcile_load as load

    monkeypatch.setattr(load, "IMAGE", "nginx:1.27")  # not preloaded: 1.2 s pulls, serialized
    r = reconcile.run(3, seed=3, progress=False)
    assert r["pods"]["pulls_excluded"] > 0
    assert r["pods"]["startup"]["p99"] < 1.0  # the pulls (and the waits behind them) are out
    assert r["deployments"]["5"]["max"] > tiny["deployments"]["5"]["max"]  # ...but cost time


def test_plots(tiny, tmp_path):
    pytest.importorskip("matplotlib")
    paths = reconcile.plots(tiny["raw_samples"], str(tmp_path), 3, "svg")
    assert [p.rsplit("-", 1)[-1] for p in paths] == ["startup.svg", "latency.svg", "deployments.svg"]
    assert all((tmp_path / p.rsplit("/", 1)[-1]).stat().st_size > 0 for p in paths)
