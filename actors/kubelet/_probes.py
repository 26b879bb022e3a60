"""Container probes: liveness, readiness and startup, as the kubelet's prober runs them.

What it is: ``evaluate`` runs one probe against the app model — ``httpGet`` calls the app's
HTTP handler on that port and path (through the runtime, or a caller-supplied callback that
goes through netsim), ``tcpSocket`` checks that something listens, ``exec`` runs the command in
the container, ``grpc`` is checked as a TCP connect — and words the outcome as the kubelet does
(``HTTP probe failed with statuscode: 500``; ``Get "http://10.244.0.5:80/": dial tcp
10.244.0.5:80: connect: connection refused``; the exec command's output). ``ProbeWorker`` is
the per-container, per-kind state machine of pkg/kubelet/prober/worker.go: results are kept
until ``failureThreshold`` failures or ``successThreshold`` successes in a row change them;
liveness and readiness are not run until the startup probe has succeeded; the startup probe
stops once it has; a liveness or startup failure puts the worker on hold until the container is
replaced. Initial results: readiness Failure (not ready until a probe succeeds), liveness
Success, startup Unknown (not started).

Scheduling (the twin's one simplification): a worker probes at ``startedAt +
initialDelaySeconds`` and then every ``periodSeconds``; the real worker ticks on a grid that
starts when the pod is added (plus an immediate readiness run), so its first probe lands within
one period of that. A probe that errors (the command cannot be run) raises an event and leaves
the result unchanged, as the kubelet throws such results away.

Concurrency model: none; times passed in.

Invariants: a worker's results only change after a threshold of identical outcomes; a worker
on hold never probes again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.kubelet._apps import HttpResponse
from actors.kubelet._runtime import ContainerRuntime

__all__ = [
    "FAILURE",
    "LIVENESS",
    "READINESS",
    "STARTUP",
    "SUCCESS",
    "UNKNOWN",
    "HttpProber",
    "PodProbes",
    "ProbeOutcome",
    "ProbeSpec",
    "ProbeWorker",
    "evaluate",
]

SUCCESS = "Success"
FAILURE = "Failure"
UNKNOWN = "Unknown"
LIVENESS = "Liveness"
READINESS = "Readiness"
STARTUP = "Startup"
_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
_INITIAL = {LIVENESS: SUCCESS, READINESS: FAILURE, STARTUP: UNKNOWN}

# (host, port, path, headers, timeout) -> the response, or None for connection refused.
HttpProber = Callable[[str, int, str, tuple[tuple[str, str], ...], float], HttpResponse | None]


@dataclass(frozen=True)
class ProbeSpec:
    """A probe with the API server's defaults applied."""

    handler: dict[str, Any]
    initial_delay: int = 0
    timeout: int = 1
    period: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace: int | None = None

    @classmethod
    def from_dict(cls, probe: dict[str, Any]) -> ProbeSpec:
        return cls({k: probe[k] for k in ("exec", "httpGet", "tcpSocket", "grpc") if k in probe},
                   probe.get("initialDelaySeconds") or 0, probe.get("timeoutSeconds") or 1,
                   probe.get("periodSeconds") or 10, probe.get("successThreshold") or 1,
                   probe.get("failureThreshold") or 3,
                   probe.get("terminationGracePeriodSeconds"))


@dataclass(frozen=True)
class ProbeOutcome:
    result: str  # SUCCESS or FAILURE
    output: str = ""
    error: str = ""  # set when the probe could not be run at all


def _port(port: int | str, container: dict[str, Any]) -> int | None:
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    return None


def evaluate(spec: ProbeSpec, *, runtime: ContainerRuntime, container_id: str,
             container: dict[str, Any], pod_ip: str, now: float,
             http: HttpProber | None = None) -> ProbeOutcome:
    """Run one probe now (see the module docstring for the wording of outcomes)."""
    h = spec.handler
    if "exec" in h:
        argv = list((h["exec"] or {}).get("command") or [])
        res = runtime.exec_sync(container_id, argv, timeout=spec.timeout, now=now)
        if res.error:
            return ProbeOutcome(FAILURE, error="rpc error: code = Unknown desc = failed to exec "
                                               f"in container: failed to start exec: {res.error}")
        if res.timed_out:
            return ProbeOutcome(FAILURE, f'command "{" ".join(argv)}" timed out')
        return ProbeOutcome(SUCCESS if res.exit_code == 0 else FAILURE, res.output)
    sandbox = runtime.container_status(container_id).sandbox_id
    if "httpGet" in h:
        return _http_probe(spec, h["httpGet"] or {}, runtime, sandbox, container, pod_ip, now,
                           http)
    if "tcpSocket" in h or "grpc" in h:
        t = h.get("tcpSocket") or h.get("grpc") or {}
        port = _port(t.get("port", 0), container)
        host = t.get("host") or pod_ip
        if port is not None and runtime.listener(sandbox, port) is not None:
            return ProbeOutcome(SUCCESS)
        if "grpc" in h:
            return ProbeOutcome(FAILURE, f'timeout: failed to connect service ":{port}" within '
                                         f"{spec.timeout}s")
        return ProbeOutcome(FAILURE, f"dial tcp {host}:{port}: connect: connection refused")
    return ProbeOutcome(FAILURE, error="missing probe handler")


def _http_probe(spec: ProbeSpec, g: dict[str, Any], runtime: ContainerRuntime, sandbox: str,
                container: dict[str, Any], pod_ip: str, now: float,
                http: HttpProber | None) -> ProbeOutcome:
    port = _port(g.get("port", 0), container)
    if port is None:
        return ProbeOutcome(FAILURE, error=f"unable to find port {g.get('port')!r}")
    host = g.get("host") or pod_ip
    path = g.get("path") or "/"
    url = f"{(g.get('scheme') or 'HTTP').lower()}://{host}:{port}{path}"
    headers = (("User-Agent", "kube-probe/1.31"), ("Accept", "*/*"),
               *((x.get("name", ""), x.get("value", "")) for x in g.get("httpHeaders") or ()))
    if http is not None:
        resp = http(host, port, path, headers, float(spec.timeout))
    else:
        resp = runtime.http_get(sandbox, port, path, now=now, headers=headers, client_ip=pod_ip)
    if resp is None:
        return ProbeOutcome(FAILURE, f'Get "{url}": dial tcp {host}:{port}: connect: '
                                     "connection refused")
    if resp.delay > spec.timeout:
        return ProbeOutcome(FAILURE, f'Get "{url}": context deadline exceeded '
                                     "(Client.Timeout exceeded while awaiting headers)")
    if 200 <= resp.status < 400:
        return ProbeOutcome(SUCCESS)
    return ProbeOutcome(FAILURE, f"HTTP probe failed with statuscode: {resp.status}")


class ProbeWorker:
    """One probe of one container instance (pkg/kubelet/prober/worker.go's state)."""

    def __init__(self, kind: str, spec: ProbeSpec, container_id: str, started_at: float) -> None:
        self.kind = kind
        self.spec = spec
        self.container_id = container_id
        self.result = _INITIAL[kind]
        self.next_due = started_at + spec.initial_delay
        self.on_hold = False
        self._last = UNKNOWN
        self._run = 0

    @property
    def done(self) -> bool:
        return self.on_hold or (self.kind == STARTUP and self.result == SUCCESS)

    def tick(self, now: float, started: bool, run: Callable[[], ProbeOutcome]
             ) -> ProbeOutcome | None:
        """Probe if due (and not gated); returns the outcome of a probe that ran."""
        if self.done or now < self.next_due:
            return None
        self.next_due += self.spec.period * max(1, int((now - self.next_due) // self.spec.period)
                                                + 1)
        if (self.kind == STARTUP) == started:  # startup runs until started; the rest after
            return None
        outcome = run()
        if outcome.error:
            return outcome  # thrown away: the result stands
        if outcome.result == self._last:
            self._run += 1
        else:
            self._last, self._run = outcome.result, 1
        threshold = (self.spec.failure_threshold if outcome.result == FAILURE
                     else self.spec.success_threshold)
        if self._run >= threshold:
            self.result = outcome.result
            if outcome.result == FAILURE and self.kind in (LIVENESS, STARTUP):
                self.on_hold, self._run = True, 0
        return outcome


class PodProbes:
    """The probe workers of one pod's running containers, keyed by container name."""

    def __init__(self) -> None:
        self._workers: dict[str, dict[str, ProbeWorker]] = {}
        self._instance: dict[str, str] = {}

    def container_started(self, name: str, container: dict[str, Any], container_id: str,
                          started_at: float) -> None:
        """A new container instance runs: fresh workers for each probe it declares."""
        self._instance[name] = container_id
        self._workers[name] = {
            kind: ProbeWorker(kind, ProbeSpec.from_dict(container[field]), container_id,
                              started_at)
            for kind, field in _FIELDS.items() if container.get(field)}

    def container_gone(self, name: str) -> None:
        self._workers.pop(name, None)
        self._instance.pop(name, None)

    def _worker(self, name: str, container_id: str, kind: str) -> ProbeWorker | None:
        w = self._workers.get(name, {}).get(kind)
        return w if w is not None and w.container_id == container_id else None

    def _known(self, name: str, container_id: str) -> bool:
        """False for an instance other than the one the workers were made for."""
        return self._instance.get(name, container_id) == container_id

    def started(self, name: str, container_id: str) -> bool:
        w = self._worker(name, container_id, STARTUP)
        return self._known(name, container_id) and (w is None or w.result == SUCCESS)

    def ready(self, name: str, container_id: str) -> bool:
        if not self.started(name, container_id):
            return False
        w = self._worker(name, container_id, READINESS)
        return w is None or w.result == SUCCESS

    def failed(self, name: str, container_id: str) -> str | None:
        """LIVENESS or STARTUP when that probe failed this container (it must be killed)."""
        for kind in (LIVENESS, STARTUP):
            w = self._worker(name, container_id, kind)
            if w is not None and w.result == FAILURE:
                return kind
        return None

    def probe_grace(self, name: str, container_id: str, kind: str) -> int | None:
        w = self._worker(name, container_id, kind)
        return w.spec.termination_grace if w is not None else None

    def run_due(self, now: float, run: Callable[[str, ProbeWorker], ProbeOutcome]
                ) -> list[tuple[str, str, ProbeOutcome]]:
        """Run every probe due at `now`; returns (container name, kind, outcome) of each run
        that failed or errored (each is an Unhealthy event)."""
        out = []
        for name in sorted(self._workers):
            workers = self._workers[name]
            for kind in (STARTUP, LIVENESS, READINESS):
                w = workers.get(kind)
                if w is None:
                    continue
                started = self.started(name, w.container_id)
                outcome = w.tick(now, started, lambda w=w, name=name: run(name, w))
                if outcome is not None and (outcome.error or outcome.result == FAILURE):
                    out.append((name, kind, outcome))
        return out

    def next_due(self) -> float | None:
        return min((w.next_due for ws in self._workers.values() for w in ws.values()
                    if not w.done), default=None)
