"""A docker/containerd-like container runtime for one node: sandboxes and containers.

What it is: the CRI's shape without the RPCs. ``run_pod_sandbox`` makes a pod's sandbox — the
pause container that holds the network namespace. The runtime does not do CNI: the caller wires
the namespace in with netsim (CNI ADD) and hands the address back with ``attach_network``,
together with the ``listen``/``unlisten`` callbacks that bind sockets in that namespace
(``NetNamespace.listen``). Containers are created in a sandbox from an image present in the
node's ``ImageCache``, started (their app from ``_apps`` begins to run), stopped (the stop
signal, then SIGKILL when the grace period ends; apps may exit sooner) and removed. States are
CRI's: CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, with exit codes and containerd's
reasons (``Completed`` for 0, ``Error`` otherwise, ``OOMKilled`` when an app allocated more
than its memory limit, ``StartError`` when the executable does not exist).

Time: nothing happens by itself. ``advance(now)`` runs every app up to ``now`` in time order —
logs, files, listening, exits, SIGKILLs — and ``next_event_time()`` says when something will
happen next, so a shell wakes the runtime exactly then. Request-time work (an HTTP request
arriving through netsim) is stamped with the time of the last ``advance``.

Ids look like containerd's: 64 hex characters, the SHA-256 of the node name, the kind and a
counter; ``containerd://<id>`` is what containerStatuses report.

Concurrency model: none; one owner (the kubelet actor) calls it synchronously.

Invariants: a container belongs to exactly one sandbox; at most one container of a sandbox
listens on a (port, protocol); an exited container never runs again (a restart is a new
container with ``attempt`` + 1); times never go backwards inside ``advance``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.kubelet._apps import (
    INF,
    AppContext,
    AppInstance,
    ExecResult,
    HttpRequest,
    HttpResponse,
    StartFailure,
    encode_http_response,
    parse_http_request,
    run_exec,
    start_app,
)
from actors.kubelet._images import ImageCache, normalize_image
from netsim import NetsimError

__all__ = [
    "CONTAINER_CREATED",
    "CONTAINER_EXITED",
    "CONTAINER_RUNNING",
    "SANDBOX_NOTREADY",
    "SANDBOX_READY",
    "ContainerRuntime",
    "ContainerStatus",
    "ImageNotPresent",
    "NotFound",
    "SandboxStatus",
]

CONTAINER_CREATED = "CONTAINER_CREATED"
CONTAINER_RUNNING = "CONTAINER_RUNNING"
CONTAINER_EXITED = "CONTAINER_EXITED"
SANDBOX_READY = "SANDBOX_READY"
SANDBOX_NOTREADY = "SANDBOX_NOTREADY"

Listen = Callable[[int, str, Callable[[Any], bytes | None]], None]
Unlisten = Callable[[int, str], None]


class NotFound(KeyError):
    """No such container or sandbox (CRI's NotFound)."""


class ImageNotPresent(LookupError):
    """create_container with an image the node has not pulled."""


@dataclass(frozen=True)
class SandboxStatus:
    id: str
    pod_uid: str
    name: str
    namespace: str
    attempt: int
    state: str
    created_at: float
    netns: str
    ip: str = ""
    network_ready: bool = False
    host_network: bool = False


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    sandbox_id: str
    pod_uid: str
    name: str
    attempt: int
    image: str
    image_ref: str
    state: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    kind: str = "regular"  # or "init"

    @property
    def uri(self) -> str:
        return f"containerd://{self.id}"


@dataclass
class _Sandbox:
    status: SandboxStatus
    listen: Listen | None = None
    unlisten: Unlisten | None = None
    ports: dict[tuple[int, str], str] = field(default_factory=dict)


@dataclass
class _Container:
    status: ContainerStatus
    ctx: AppContext
    behaviour: str
    memory_limit: int | None
    app: AppInstance | None = None
    next_at: float | None = None
    term: tuple[float, int] | None = None  # the app exits at this time with this code
    kill_at: float | None = None  # SIGKILL
    memory: int = 0
    logs: list[tuple[float, str, str]] = field(default_factory=list)


def _exit_reason(code: int) -> str:
    return "Completed" if code == 0 else "Error"


class ContainerRuntime:
    """The container runtime of node `node` (see the module docstring)."""

    def __init__(self, node: str, images: ImageCache, *, log_limit: int = 10_000) -> None:
        self.node = node
        self.images = images
        self.log_limit = log_limit
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._counter = 0
        self._clock = float("-inf")

    def _tick(self, now: float) -> None:
        """Request-time work (a packet through netsim) is stamped with the latest time seen."""
        self._clock = max(self._clock, now)

    def _new_id(self, kind: str) -> str:
        self._counter += 1
        return hashlib.sha256(f"{self.node}/{kind}/{self._counter}".encode()).hexdigest()

    # -- sandboxes -------------------------------------------------------------------------

    def run_pod_sandbox(self, pod_uid: str, name: str, namespace: str, *, now: float,
                        attempt: int = 0, host_network: bool = False) -> str:
        """Create and start the pause container; returns the sandbox id. Its network is not
        ready until ``attach_network``."""
        self._tick(now)
        sid = self._new_id("sandbox")
        h = sid[:32]
        netns = f"cni-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        self._sandboxes[sid] = _Sandbox(SandboxStatus(
            sid, pod_uid, name, namespace, attempt, SANDBOX_READY, now, netns,
            host_network=host_network))
        return sid

    def attach_network(self, sandbox_id: str, ip: str, *, listen: Listen | None = None,
                       unlisten: Unlisten | None = None) -> None:
        """The caller's CNI ADD succeeded: the sandbox has `ip`; apps bind with `listen`."""
        sb = self._sandbox(sandbox_id)
        sb.status = _replace(sb.status, ip=ip, network_ready=True)
        sb.listen, sb.unlisten = listen, unlisten
        for (port, proto), cid in sorted(sb.ports.items()):
            self._bind(sb, cid, port, proto)
        for c in self._containers.values():
            if c.status.sandbox_id == sandbox_id:
                c.ctx.pod_ip = ip

    def stop_pod_sandbox(self, sandbox_id: str, now: float) -> None:
        """Kill what still runs in the sandbox and stop the pause container."""
        sb = self._sandbox(sandbox_id)
        for c in self._in_sandbox(sandbox_id):
            if c.status.state == CONTAINER_RUNNING:
                self._exit(c, now, 137)
            elif c.status.state == CONTAINER_CREATED:
                self._exit(c, now, 0)
        sb.status = _replace(sb.status, state=SANDBOX_NOTREADY, network_ready=False)

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self._sandbox(sandbox_id)
        for c in list(self._in_sandbox(sandbox_id)):
            del self._containers[c.status.id]
        del self._sandboxes[sandbox_id]

    def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        return self._sandbox(sandbox_id).status

    def list_sandboxes(self, pod_uid: str | None = None) -> list[SandboxStatus]:
        """Newest first."""
        out = [s.status for s in self._sandboxes.values()
               if pod_uid is None or s.status.pod_uid == pod_uid]
        return out[::-1]

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFound(f"sandbox {sandbox_id} not found") from None

    def _in_sandbox(self, sandbox_id: str) -> list[_Container]:
        return [c for c in self._containers.values() if c.status.sandbox_id == sandbox_id]

    # -- containers ------------------------------------------------------------------------

    def create_container(self, sandbox_id: str, name: str, image: str, *, now: float,
                         command: list[str] | None = None, args: list[str] | None = None,
                         env: dict[str, str] | None = None, attempt: int = 0,
                         ports: tuple[int, ...] = (), memory_limit: int | None = None,
                         kind: str = "regular") -> str:
        """Create (not start) a container; the image must be present on the node."""
        sb = self._sandbox(sandbox_id)
        ref = normalize_image(image)
        info = self.images.info(ref)
        if info is None or not self.images.present(ref, now):
            raise ImageNotPresent(f"image {ref} is not present on {self.node}")
        image_argv = [*info.entrypoint, *info.cmd]
        if command:
            argv = [*command, *(args or [])]
        else:
            argv = [*info.entrypoint, *(args if args is not None else info.cmd)]
        cid = self._new_id("container")
        s = sb.status
        ctx = AppContext(s.name, s.namespace, name, argv, image_argv, s.ip, dict(env or {}),
                         {}, tuple(dict.fromkeys([*info.ports, *ports])), info.shell)
        status = ContainerStatus(cid, sandbox_id, s.pod_uid, name, attempt, ref,
                                 self.images.image_id(ref), CONTAINER_CREATED, now, kind=kind)
        c = _Container(status, ctx, info.app, memory_limit)
        ctx.log = lambda line, c=c: self._log(c, self._clock, "stdout", line)
        self._containers[cid] = c
        return cid

    def start_container(self, container_id: str, now: float) -> None:
        """Start the container's process. Raises ``StartFailure`` (the container is then
        exited with code 128, reason StartError) when its executable does not exist."""
        c = self._container(container_id)
        self._tick(now)
        if c.status.state != CONTAINER_CREATED:
            raise ValueError(f"container {container_id} is {c.status.state}, not created")
        c.ctx.time = now
        try:
            c.app = start_app(c.behaviour, c.ctx)
        except StartFailure as e:
            c.status = _replace(c.status, state=CONTAINER_EXITED, started_at=0.0,
                                finished_at=now, exit_code=128, reason="StartError",
                                message=str(e))
            raise
        c.status = _replace(c.status, state=CONTAINER_RUNNING, started_at=now)
        c.next_at = now
        self._run(c, now)

    def stop_container(self, container_id: str, grace: float, now: float) -> float:
        """Send the stop signal; SIGKILL at ``now + grace`` if the app has not exited. Returns
        the time by which the container will have exited."""
        c = self._container(container_id)
        self._tick(now)
        if c.status.state != CONTAINER_RUNNING:
            if c.status.state == CONTAINER_CREATED:
                self._exit(c, now, 0)
            return c.status.finished_at if c.status.finished_at is not None else now
        kill_at = now + max(0.0, grace)
        if c.kill_at is None or kill_at < c.kill_at:
            c.kill_at = kill_at
        policy = c.ctx.sigterm if c.ctx.sigterm is not None else c.app and c.app.on_sigterm
        if policy and c.term is None:
            c.term = (now + policy[0], policy[1])
        self._settle(c, now)
        return self._exit_time(c)

    def remove_container(self, container_id: str) -> None:
        c = self._container(container_id)
        if c.status.state == CONTAINER_RUNNING:
            raise ValueError(f"container {container_id} is running; stop it first")
        del self._containers[container_id]

    def container_status(self, container_id: str) -> ContainerStatus:
        return self._container(container_id).status

    def list_containers(self, *, sandbox_id: str | None = None, pod_uid: str | None = None,
                        name: str | None = None) -> list[ContainerStatus]:
        """Matching containers, newest first (as the kubelet sorts them)."""
        out = [c.status for c in self._containers.values()
               if (sandbox_id is None or c.status.sandbox_id == sandbox_id)
               and (pod_uid is None or c.status.pod_uid == pod_uid)
               and (name is None or c.status.name == name)]
        return out[::-1]

    def logs(self, container_id: str, *, timestamps: bool = False) -> list[str]:
        """``kubectl logs``: the container's output lines (RFC 3339 stamps on request)."""
        c = self._container(container_id)
        if not timestamps:
            return [line for _, _, line in c.logs]
        return [f"{_stamp(t)} {line}" for t, _, line in c.logs]

    def files(self, container_id: str) -> dict[str, str]:
        """The container's writable files (a copy)."""
        return dict(self._container(container_id).ctx.files)

    def _container(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFound(f"container {container_id} not found") from None

    # -- time ------------------------------------------------------------------------------

    def advance(self, now: float) -> list[ContainerStatus]:
        """Run every app up to `now`; returns the containers that exited meanwhile."""
        exited = []
        while True:
            due = [(t, i, c) for i, c in enumerate(self._containers.values())
                   if c.status.state == CONTAINER_RUNNING
                   and (t := self._next(c)) is not None and t <= now]
            if not due:
                break
            t, _, c = min(due, key=lambda x: (x[0], x[1]))
            self._clock = max(self._clock, t)
            self._fire(c, t)
            if c.status.state == CONTAINER_EXITED:
                exited.append(c.status)
        self._clock = max(self._clock, now)
        return exited

    def next_event_time(self, *, pod_uid: str | None = None) -> float | None:
        """When the next app step, exit or SIGKILL is due (None when nothing is)."""
        times = [t for c in self._containers.values()
                 if c.status.state == CONTAINER_RUNNING
                 and (pod_uid is None or c.status.pod_uid == pod_uid)
                 and (t := self._next(c)) is not None]
        return min(times, default=None)

    def _next(self, c: _Container) -> float | None:
        times = [t for t in (c.next_at, c.term[0] if c.term else None, c.kill_at)
                 if t is not None]
        return min(times, default=None)

    def _exit_time(self, c: _Container) -> float:
        if c.status.state == CONTAINER_EXITED:
            return c.status.finished_at or 0.0
        times = [t for t in (c.term[0] if c.term else None, c.kill_at) if t is not None]
        return min(times, default=INF)

    def _settle(self, c: _Container, now: float) -> None:
        while c.status.state == CONTAINER_RUNNING and (t := self._next(c)) is not None \
                and t <= now:
            self._fire(c, t)

    def _fire(self, c: _Container, t: float) -> None:
        if c.kill_at is not None and c.kill_at <= t and (c.term is None or c.kill_at <= c.term[0]):
            self._exit(c, t, 137)  # SIGKILL: 128 + 9
        elif c.term is not None and c.term[0] <= t:
            self._exit(c, t, c.term[1])
        else:
            self._run(c, t)

    def _run(self, c: _Container, t: float) -> None:
        """Step the app's generator at `t` until it sleeps or exits."""
        assert c.app is not None
        c.ctx.time = t
        while True:
            try:
                eff = next(c.app.run)
            except StopIteration as stop:
                self._exit(c, t, int(stop.value or 0))
                return
            kind = eff[0]
            if kind == "sleep":
                c.next_at = None if eff[1] == INF else t + eff[1]
                return
            if kind == "log":
                self._log(c, t, eff[2], eff[1])
            elif kind == "touch":
                c.ctx.files[eff[1]] = eff[2]
            elif kind == "rm":
                c.ctx.files.pop(eff[1], None)
            elif kind == "listen" and not self._listen(c, eff[1], eff[2], t):
                return
            elif kind == "alloc":
                c.memory += eff[1]
                if c.memory_limit is not None and c.memory > c.memory_limit:
                    self._exit(c, t, 137, "OOMKilled")
                    return

    def _exit(self, c: _Container, t: float, code: int, reason: str = "") -> None:
        sb = self._sandboxes.get(c.status.sandbox_id)
        if sb is not None:
            for key in [k for k, cid in sb.ports.items() if cid == c.status.id]:
                del sb.ports[key]
                if sb.unlisten is not None:
                    sb.unlisten(*key)
        if c.app is not None:
            c.app.run.close()
        started = c.status.started_at if c.status.started_at is not None else 0.0
        c.status = _replace(c.status, state=CONTAINER_EXITED, started_at=started, finished_at=t,
                            exit_code=code, reason=reason or _exit_reason(code))
        c.next_at = c.kill_at = None
        c.term = None

    def _log(self, c: _Container, t: float, stream: str, line: str) -> None:
        for part in line.split("\n"):
            c.logs.append((t, stream, part))
        if len(c.logs) > self.log_limit:
            del c.logs[: len(c.logs) - self.log_limit]

    # -- sockets ---------------------------------------------------------------------------

    def _listen(self, c: _Container, port: int, proto: str, t: float) -> bool:
        sb = self._sandbox(c.status.sandbox_id)
        if (port, proto) in sb.ports or not self._bind(sb, c.status.id, port, proto):
            self._log(c, t, "stderr", f"bind() to 0.0.0.0:{port} failed (98: Address in use)")
            self._exit(c, t, 1)
            return False
        sb.ports[(port, proto)] = c.status.id
        return True

    def _bind(self, sb: _Sandbox, cid: str, port: int, proto: str) -> bool:
        if sb.listen is None:
            return True

        def handler(packet: Any) -> bytes | None:
            return self._serve(cid, port, proto, packet)
        try:
            sb.listen(port, proto, handler)
        except (NetsimError, ValueError):  # DeviceExists: the port is taken in that namespace
            return False
        return True

    def _serve(self, cid: str, port: int, proto: str, packet: Any) -> bytes | None:
        """A packet for an app's socket (the netsim listener handler)."""
        c = self._containers.get(cid)
        if c is None or c.status.state != CONTAINER_RUNNING or c.app is None:
            return None
        c.ctx.time = self._clock
        if proto == "TCP" and c.app.http is not None:
            req = parse_http_request(packet.payload, packet.src_ip, packet.src_port)
            if req is not None:
                req = _replace(req, port=port)
                return encode_http_response(c.app.http(req))
        return c.app.raw(packet.payload) if c.app.raw is not None else None

    def listener(self, sandbox_id: str, port: int, proto: str = "TCP") -> str | None:
        """The id of the container listening on (port, proto) in the sandbox, if any."""
        return self._sandbox(sandbox_id).ports.get((port, proto))

    def http_get(self, sandbox_id: str, port: int, path: str, *, now: float,
                 headers: tuple[tuple[str, str], ...] = (), client_ip: str = "",
                 ) -> HttpResponse | None:
        """An HTTP GET to the app on `port` (None: connection refused)."""
        cid = self.listener(sandbox_id, port)
        c = self._containers.get(cid) if cid else None
        if c is None or c.app is None:
            return None
        c.ctx.time = now
        if c.app.http is None:
            return HttpResponse(400, "")  # something listens, but it does not speak HTTP
        return c.app.http(HttpRequest("GET", path, headers, client_ip, 0, port))

    def exec_sync(self, container_id: str, argv: list[str], *, timeout: float,
                  now: float) -> ExecResult:
        """Run `argv` in the container (exec probes, lifecycle hooks)."""
        c = self._container(container_id)
        if c.status.state != CONTAINER_RUNNING:
            return ExecResult(-1, error=f"container not running ({container_id})")
        c.ctx.time = now
        return run_exec(c.app, c.ctx, argv, timeout)


def _replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)


def _stamp(t: float) -> str:
    d = datetime.datetime.fromtimestamp(t, tz=datetime.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(round((t % 1) * 1e9)) % 10**9:09d}Z"
