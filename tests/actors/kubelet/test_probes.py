"""Probes: thresholds, initial delay, startup gating, and the kubelet's wording of outcomes."""

import pytest

from actors.kubelet import (
    FAILURE,
    LIVENESS,
    READINESS,
    STARTUP,
    SUCCESS,
    UNKNOWN,
    ContainerRuntime,
    HttpResponse,
    ImageCache,
    PodProbes,
    ProbeOutcome,
    ProbeSpec,
    ProbeWorker,
    evaluate,
)

T0 = 1_700_000_000.0
OK, BAD = ProbeOutcome(SUCCESS), ProbeOutcome(FAILURE, "boom")


def test_spec_defaults_are_the_api_servers():
    spec = ProbeSpec.from_dict({"httpGet": {"path": "/healthz", "port": 8080}})
    assert (spec.initial_delay, spec.timeout, spec.period, spec.success_threshold,
            spec.failure_threshold) == (0, 1, 10, 1, 3)
    assert spec.handler == {"httpGet": {"path": "/healthz", "port": 8080}}


def test_initial_results_per_kind():
    spec = ProbeSpec({})
    assert ProbeWorker(LIVENESS, spec, "c", T0).result == SUCCESS
    assert ProbeWorker(READINESS, spec, "c", T0).result == FAILURE
    assert ProbeWorker(STARTUP, spec, "c", T0).result == UNKNOWN


def drive(worker, outcomes, started=True):
    """Tick the worker at each due time with the given outcomes; (time, result) after each."""
    seen = []
    for outcome in outcomes:
        t = worker.next_due
        worker.tick(t, started, lambda outcome=outcome: outcome)
        seen.append((t - T0, worker.result))
    return seen


def test_failure_threshold_counts_consecutive_failures():
    w = ProbeWorker(LIVENESS, ProbeSpec({}, initial_delay=5, period=5), "c", T0)
    assert drive(w, [OK, BAD, BAD, OK, BAD, BAD]) == [
        (5, SUCCESS), (10, SUCCESS), (15, SUCCESS), (20, SUCCESS), (25, SUCCESS), (30, SUCCESS)]
    assert drive(w, [BAD]) == [(35, FAILURE)]
    assert w.on_hold and w.done
    assert w.tick(w.next_due, True, lambda: OK) is None  # on hold until replaced


def test_success_threshold_for_readiness():
    w = ProbeWorker(READINESS, ProbeSpec({}, period=10, success_threshold=2,
                                         failure_threshold=1), "c", T0)
    assert drive(w, [OK, OK, BAD, OK, OK]) == [
        (0, FAILURE), (10, SUCCESS), (20, FAILURE), (30, FAILURE), (40, SUCCESS)]
    assert not w.on_hold  # readiness never goes on hold


def test_late_ticks_skip_missed_periods():
    w = ProbeWorker(READINESS, ProbeSpec({}, period=10), "c", T0)
    w.tick(T0 + 35, True, lambda: OK)
    assert w.next_due == T0 + 40


def test_startup_gates_liveness_and_readiness():
    probes = PodProbes()
    container = {"name": "app",
                 "startupProbe": {"exec": {"command": ["x"]}, "periodSeconds": 10,
                                  "failureThreshold": 30},
                 "livenessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 10},
                 "readinessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 10}}
    probes.container_started("app", container, "c1", T0)
    ran = []
    for t in (0, 10, 20, 30):
        def run(name, w, t=t):
            ran.append((w.kind, t))
            return OK if t >= 20 else BAD
        probes.run_due(T0 + t, run)
    # startup fails twice, succeeds at 20; the others begin in the same round and then follow
    assert ran == [(STARTUP, 0), (STARTUP, 10), (STARTUP, 20), (LIVENESS, 20), (READINESS, 20),
                   (LIVENESS, 30), (READINESS, 30)]
    assert probes.started("app", "c1") and probes.ready("app", "c1")
    assert not probes.ready("app", "other-instance")
    assert probes.failed("app", "c1") is None


def test_startup_failure_means_kill():
    probes = PodProbes()
    probes.container_started("app", {"startupProbe": {"tcpSocket": {"port": 1},
                                                      "failureThreshold": 2}}, "c1", T0)
    for t in (0, 10):
        failures = probes.run_due(T0 + t, lambda n, w: BAD)
        assert [(n, k) for n, k, _ in failures] == [("app", STARTUP)]
    assert probes.failed("app", "c1") == STARTUP and not probes.started("app", "c1")
    assert probes.next_due() is None


@pytest.fixture
def nginx():
    rt = ContainerRuntime("minikube", ImageCache(preloaded=["registry.k8s.io/pause:3.9",
                                                            "nginx", "busybox"]))
    sid = rt.run_pod_sandbox("uid", "web", "default", now=T0)
    rt.attach_network(sid, "10.244.0.5")
    cid = rt.create_container(sid, "nginx", "nginx", now=T0)
    rt.start_container(cid, T0)
    return rt, cid


def check(rt, cid, probe, container=None, **kw):
    return evaluate(ProbeSpec.from_dict(probe), runtime=rt, container_id=cid,
                    container=container or {}, pod_ip="10.244.0.5", now=T0, **kw)


def test_http_probe_outcomes(nginx):
    rt, cid = nginx
    assert check(rt, cid, {"httpGet": {"path": "/", "port": 80}}) == ProbeOutcome(SUCCESS)
    assert check(rt, cid, {"httpGet": {"path": "/healthz", "port": 80}}) == ProbeOutcome(
        FAILURE, "HTTP probe failed with statuscode: 404")
    assert check(rt, cid, {"httpGet": {"path": "/", "port": 8080}}).output == (
        'Get "http://10.244.0.5:8080/": dial tcp 10.244.0.5:8080: connect: connection refused')
    named = {"ports": [{"name": "web", "containerPort": 80}]}
    assert check(rt, cid, {"httpGet": {"path": "/", "port": "web"}}, named).result == SUCCESS
    slow = check(rt, cid, {"httpGet": {"path": "/", "port": 80}, "timeoutSeconds": 1},
                 http=lambda *a: HttpResponse(200, delay=2.0))
    assert slow.output == ('Get "http://10.244.0.5:80/": context deadline exceeded '
                           "(Client.Timeout exceeded while awaiting headers)")


def test_tcp_and_exec_probe_outcomes(nginx):
    rt, cid = nginx
    assert check(rt, cid, {"tcpSocket": {"port": 80}}).result == SUCCESS
    assert check(rt, cid, {"tcpSocket": {"port": 81}}) == ProbeOutcome(
        FAILURE, "dial tcp 10.244.0.5:81: connect: connection refused")
    assert check(rt, cid, {"exec": {"command": ["cat", "/tmp/healthy"]}}) == ProbeOutcome(
        FAILURE, "cat: can't open '/tmp/healthy': No such file or directory")
    assert check(rt, cid, {"exec": {"command": ["sh", "-c", "sleep 3"]}}).output == (
        'command "sh -c sleep 3" timed out')
    errored = check(rt, cid, {"exec": {"command": ["healthcheck"]}})
    assert errored.error.startswith("rpc error: code = Unknown desc = failed to exec in "
                                    "container: failed to start exec: OCI runtime exec failed")
