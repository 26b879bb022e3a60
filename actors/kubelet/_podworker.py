"""The per-pod state machine of the kubelet: sync a desired pod against the runtime.

What it is: ``PodWorker.sync(now)`` is the kubelet's ``SyncPod`` for one pod, level-triggered:
it reads the runtime (after ``runtime.advance(now)``), compares with the pod spec and does what
kubelet v1.31 with containerd would do, returning a ``SyncResult``: the ``actions`` the caller
must carry out or may trace, the ``events`` with the kubelet's reasons and wording, and
``next_wakeup`` — when to call ``sync`` again (None: only when something outside changes).

What it implements, in kubelet order:
- the sandbox first: ``SetupNetwork`` asks the caller for CNI ADD; the caller answers with
  ``network_ready(sandbox_id, ip, listen=...)`` or ``network_failed(...)``
  (FailedCreatePodSandBox, retried 10 s later); a sandbox found dead is replaced
  (SandboxChanged);
- init containers one at a time, in order; a failed one is retried under restartPolicy, or
  fails the pod under Never;
- image pulls per imagePullPolicy through the node's ``ImageCache`` (Pulling, Pulled
  "Successfully pulled image ... in 1.238s (1.238s including waiting). Image size: N bytes.",
  "already present on machine", ErrImageNeverPull), failures as ErrImagePull then
  ImagePullBackOff with the 10 s → 300 s back-off; a container whose pull is in flight blocks
  the ones after it, as the kubelet's synchronous pull does;
- Created/Started ("Created container nginx", "Started container nginx" — v1.31 wording),
  restarts by restartPolicy with CrashLoopBackOff ("back-off 10s restarting failed
  container=app pod=name_ns(uid)"); the first restart is immediate, as in Kubernetes;
- probes (``_probes``): liveness/startup failure kills ("Container app failed liveness probe,
  will be restarted") and restarts; readiness gates Ready;
- activeDeadlineSeconds → phase Failed, reason DeadlineExceeded;
- termination when the pod is deleted (or terminal): preStop hooks, the stop signal, SIGKILL
  at the grace period (at least 2 s), the sandbox stopped (``TeardownNetwork``: CNI DEL), the
  final status reported, then ``DeletePod`` (the caller deletes with grace 0);
- ``ReportStatus`` whenever the status (``_status.pod_status``) changes.

The kubelet re-syncs a pod whose sync failed after 10 s; the twin does the same
(``requeue_after``) and also wakes exactly when a back-off expires, so restarts land on the
back-off boundary. PLEG's relist is instantaneous: an exit is seen by the next ``sync``.

Concurrency model: none; one owner calls ``update``/``sync``/``network_*`` synchronously.
Deterministic: no clock, no randomness.

Invariants: at most one sandbox is live per pod; a container is never started while a kill of
its previous instance is in flight; every container name keeps at most two instances in the
runtime (the current one and the last dead one, for lastState).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from actors.api import memory_bytes
from actors.kubelet._apps import StartFailure
from actors.kubelet._backoff import (
    IMAGE_BACKOFF_INITIAL,
    IMAGE_BACKOFF_MAX,
    Backoff,
    go_duration,
)
from actors.kubelet._images import ImageCache, InvalidImageName, PullResult, normalize_image
from actors.kubelet._probes import HttpProber, PodProbes, ProbeWorker, evaluate
from actors.kubelet._runtime import (
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    SANDBOX_READY,
    ContainerRuntime,
    ContainerStatus,
    NotFound,
)
from actors.kubelet._status import (
    CREATED,
    EXITED,
    RUNNING,
    ContainerView,
    PodRuntimeView,
    pod_status,
    rfc3339,
)

__all__ = [
    "DeletePod",
    "Event",
    "KillContainer",
    "PodWorker",
    "PullImage",
    "ReportStatus",
    "SetupNetwork",
    "StartContainer",
    "SyncResult",
    "TeardownNetwork",
]

Obj = dict[str, Any]
MIN_GRACE = 2.0  # minimumGracePeriodInSeconds
_STATES = {CONTAINER_RUNNING: RUNNING, CONTAINER_EXITED: EXITED}
STARTED, FAILED, WAITING = "started", "failed", "waiting"


@dataclass(frozen=True)
class Event:
    """A kubelet event: type Normal/Warning, reason, message; `field_path` names the container
    (``spec.containers{nginx}``) for container events, empty for pod events."""

    type: str
    reason: str
    message: str
    field_path: str = ""
    time: float = 0.0


@dataclass(frozen=True)
class SetupNetwork:
    """Do CNI ADD for the sandbox's namespace, then call ``network_ready`` (or
    ``network_failed``). For a hostNetwork pod, answer with the node's IP and host listeners."""

    sandbox_id: str
    netns: str
    pod_uid: str
    pod_name: str
    namespace: str
    host_network: bool = False


@dataclass(frozen=True)
class TeardownNetwork:
    """Do CNI DEL for the sandbox (idempotent)."""

    sandbox_id: str
    netns: str
    ip: str = ""
    host_network: bool = False


@dataclass(frozen=True)
class PullImage:
    image: str
    container: str
    started_at: float
    done_at: float
    ok: bool


@dataclass(frozen=True)
class StartContainer:
    container_id: str
    name: str


@dataclass(frozen=True)
class KillContainer:
    container_id: str
    name: str
    grace: float
    message: str


@dataclass(frozen=True)
class ReportStatus:
    status: Obj


@dataclass(frozen=True)
class DeletePod:
    """The pod has terminated on the node: delete it from the API with grace period 0."""

    uid: str
    name: str
    namespace: str


@dataclass(frozen=True)
class SyncResult:
    actions: tuple[Any, ...]
    events: tuple[Event, ...]
    next_wakeup: float | None


@dataclass
class _Kill:
    name: str
    restart: bool
    prestop_until: float | None = None
    grace: float = 0.0


def _default_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "Always" if (last.partition(":")[2] or "latest") == "latest" else "IfNotPresent"


@dataclass(eq=False)
class PodWorker:
    """The kubelet's worker for one pod on one node (see the module docstring)."""

    pod: Obj
    _: KW_ONLY
    runtime: ContainerRuntime
    images: ImageCache
    node_ip: str = ""
    backoff: Backoff = field(default_factory=Backoff)
    image_backoff: Backoff = field(
        default_factory=lambda: Backoff(IMAGE_BACKOFF_INITIAL, IMAGE_BACKOFF_MAX))
    http_prober: HttpProber | None = None
    requeue_after: float = 10.0

    def __post_init__(self) -> None:
        self._sandbox: str | None = None
        self._attempt = -1
        self._net = ""  # "", "pending", "ready"
        self._ip = ""
        self._retry_at: float | None = None
        self._start_time: float | None = None
        self._reasons: dict[str, tuple[str, str]] = {}
        self._pulls: dict[str, PullResult] = {}
        self._kills: dict[str, _Kill] = {}
        self._restart_now: set[str] = set()
        self._specs: dict[str, str] = {}
        self._probes = PodProbes()
        self._terminal: tuple[str, str] | None = None
        self._terminating = False
        self._finished = False
        self._deleted = False
        self._last_status: Obj | None = None
        self._pending: list[Event] = []
        self._events: list[Event] = []
        self._actions: list[Any] = []
        self._wakes: list[float] = []
        self._requeue_at: float | None = None
        self._again = False
        self._now = 0.0

    # -- identity and inputs ---------------------------------------------------------------

    @property
    def uid(self) -> str:
        return self.pod.get("metadata", {}).get("uid", "")

    @property
    def name(self) -> str:
        return self.pod.get("metadata", {}).get("name", "")

    @property
    def namespace(self) -> str:
        return self.pod.get("metadata", {}).get("namespace", "default")

    @property
    def finished(self) -> bool:
        """Every container stopped and the sandbox torn down."""
        return self._finished

    @property
    def deleted(self) -> bool:
        """``DeletePod`` was returned: the worker has nothing left to do."""
        return self._deleted

    @property
    def status(self) -> Obj | None:
        """The last status reported."""
        return self._last_status

    def _spec(self) -> Obj:
        return self.pod.get("spec") or {}

    def _full(self) -> str:
        return f"{self.name}_{self.namespace}({self.uid})"  # format.Pod

    def update(self, pod: Obj) -> None:
        """The pod object changed (new spec, deletionTimestamp...)."""
        self.pod = pod

    def network_ready(self, sandbox_id: str, ip: str, *, listen: Any = None,
                      unlisten: Any = None) -> None:
        """The caller's CNI ADD for `sandbox_id` gave `ip`; apps will bind with `listen`."""
        if sandbox_id != self._sandbox:
            return  # an answer for a sandbox already replaced
        self.runtime.attach_network(sandbox_id, ip, listen=listen, unlisten=unlisten)
        self._net, self._ip = "ready", ip

    def network_failed(self, sandbox_id: str, message: str, now: float) -> None:
        """The caller's CNI ADD failed: FailedCreatePodSandBox, retried after requeue_after."""
        if sandbox_id != self._sandbox:
            return
        self._pending.append(Event(
            "Warning", "FailedCreatePodSandBox",
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup "
            f'network for sandbox "{sandbox_id}": {message}', "", now))
        self.runtime.stop_pod_sandbox(sandbox_id, now)
        self.runtime.remove_pod_sandbox(sandbox_id)
        self._sandbox, self._net = None, ""
        self._retry_at = now + self.requeue_after

    # -- the sync loop ---------------------------------------------------------------------

    def sync(self, now: float) -> SyncResult:
        """Bring the pod one step closer to its spec at `now` (see the module docstring)."""
        self._now = now
        self._events, self._actions, self._wakes = self._pending, [], []
        self._pending = []
        if self._requeue_at is not None and self._requeue_at <= now:
            self._requeue_at = None
        if self._start_time is None:
            self._start_time = now
        for _ in range(8):  # re-evaluate when something ended at once (PLEG is instantaneous)
            self._again = False
            self.runtime.advance(now)
            self._step(now)
            if not self._again:
                break
        else:
            self._wakes.append(now)  # more to do at once: the caller syncs again
        self._report(now)
        if self._finished and self._deleting() and not self._deleted:
            self._deleted = True
            self._actions.append(DeletePod(self.uid, self.name, self.namespace))
        return SyncResult(tuple(self._actions), tuple(self._events), self._next_wakeup(now))

    def _step(self, now: float) -> None:
        if self._finished:
            return
        self._reap_kills(now)
        if not (self._deleting() or self._terminal is not None):
            self._check_deadline(now)
        if self._deleting() or self._terminal is not None:
            self._terminate(now)
            return
        if not self._ensure_sandbox(now):
            return
        self._run_probes(now)
        if self._sync_init(now):
            self._sync_containers(now)
            self._check_completion(now)
        if self._terminal is not None:
            self._terminate(now)

    def _deleting(self) -> bool:
        return bool(self.pod.get("metadata", {}).get("deletionTimestamp"))

    def _event(self, type_: str, reason: str, message: str, path: str = "") -> None:
        self._events.append(Event(type_, reason, message, path, self._now))

    def _requeue(self, now: float) -> None:
        self._requeue_at = now + self.requeue_after

    def _next_wakeup(self, now: float) -> float | None:
        times = list(self._wakes)
        if self._requeue_at is not None:
            times.append(self._requeue_at)
        if not self._finished:
            times += [t for t in (self.runtime.next_event_time(pod_uid=self.uid),
                                  self._probes.next_due()) if t is not None]
            times += [k.prestop_until for k in self._kills.values()
                      if k.prestop_until is not None]
        return max(min(times), now) if times else None

    # -- sandbox ---------------------------------------------------------------------------

    def _ensure_sandbox(self, now: float) -> bool:
        if self._sandbox is None:
            if self._retry_at is not None and now < self._retry_at:
                self._wakes.append(self._retry_at)
                return False
            self._create_sandbox(now)
            return False
        if self._net != "ready":
            return False
        try:
            alive = self.runtime.sandbox_status(self._sandbox).state == SANDBOX_READY
        except NotFound:
            alive = False
        if alive:
            return True
        self._event("Normal", "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.")
        self._stop_sandbox(now)
        ran = any(self.runtime.list_containers(pod_uid=self.uid))
        if self._spec().get("restartPolicy") == "Never" and ran:
            self._terminal = ("", "")
            return False
        self._create_sandbox(now)
        return False

    def _create_sandbox(self, now: float) -> None:
        self._attempt += 1
        host = bool(self._spec().get("hostNetwork"))
        sid = self.runtime.run_pod_sandbox(self.uid, self.name, self.namespace, now=now,
                                           attempt=self._attempt, host_network=host)
        self._sandbox, self._net, self._retry_at = sid, "pending", None
        netns = self.runtime.sandbox_status(sid).netns
        self._actions.append(SetupNetwork(sid, netns, self.uid, self.name, self.namespace, host))

    def _stop_sandbox(self, now: float) -> None:
        sid = self._sandbox
        if sid is None:
            return
        try:
            st = self.runtime.sandbox_status(sid)
        except NotFound:
            st = None
        if st is not None:
            self.runtime.stop_pod_sandbox(sid, now)
            self._actions.append(TeardownNetwork(sid, st.netns, st.ip, st.host_network))
        self._sandbox, self._net = None, ""
        self._probes = PodProbes()

    # -- containers ------------------------------------------------------------------------

    def _instances(self, name: str) -> list[ContainerStatus]:
        return self.runtime.list_containers(pod_uid=self.uid, name=name)

    def _path(self, c: Obj, init: bool) -> str:
        return f"spec.{'initContainers' if init else 'containers'}{{{c.get('name')}}}"

    def _sync_init(self, now: float) -> bool:
        """Start the next init container; True once all have succeeded."""
        for c in self._spec().get("initContainers") or []:
            insts = self._instances(c["name"])
            latest = insts[0] if insts else None
            if latest is not None and latest.state == CONTAINER_EXITED and latest.exit_code == 0:
                continue
            if latest is not None and latest.state == CONTAINER_RUNNING:
                return False
            if latest is not None and self._spec().get("restartPolicy") == "Never":
                self._terminal = ("", "")  # an init container failed for good
                return False
            self._start(c, now, latest, init=True)
            return False
        return True

    def _sync_containers(self, now: float) -> None:
        policy = self._spec().get("restartPolicy") or "Always"
        for c in self._spec().get("containers") or []:
            name = c["name"]
            insts = self._instances(name)
            latest = insts[0] if insts else None
            if latest is not None and latest.id in self._kills:
                continue
            if latest is not None and latest.state == CONTAINER_RUNNING:
                self._check_running(c, latest, insts[1] if len(insts) > 1 else None, now)
                continue
            if latest is not None and latest.state == CONTAINER_EXITED \
                    and name not in self._restart_now and not (
                        policy == "Always" or (policy == "OnFailure" and latest.exit_code != 0)):
                continue
            if self._start(c, now, latest, init=False) == WAITING:
                break  # the kubelet is blocked in the pull

    def _check_running(self, c: Obj, latest: ContainerStatus, prev: ContainerStatus | None,
                       now: float) -> None:
        name = c["name"]
        failed = self._probes.failed(name, latest.id)
        changed = self._specs.get(latest.id) not in (None, _spec_hash(c))
        if not failed and not changed:
            return
        restart = (self._spec().get("restartPolicy") or "Always") != "Never" or changed
        if changed:
            message, grace = f"Container {name} definition changed", self._grace()
        else:
            message = f"Container {name} failed {failed.lower()} probe"
            probe_grace = self._probes.probe_grace(name, latest.id, failed)
            grace = float(probe_grace) if probe_grace is not None else self._grace()
        if restart:
            message += ", will be restarted"
            # doBackOff against the snapshot taken before the kill: the previous dead one.
            if prev is not None and prev.state == CONTAINER_EXITED:
                restart = not self._in_crash_backoff(c, prev, now)
        self._kill(c, latest.id, grace, now, message, prestop=False, restart=restart)

    def _crash_key(self, c: Obj) -> str:
        return f"{self.name}_{self.namespace}_{self.uid}_{c['name']}_{_spec_hash(c)[:8]}"

    def _in_crash_backoff(self, c: Obj, prev: ContainerStatus, now: float) -> bool:
        """``doBackOff``: CrashLoopBackOff while inside the back-off since the last exit."""
        key, finished = self._crash_key(c), prev.finished_at or now
        if self.backoff.in_backoff_since(key, finished, now):
            name = c["name"]
            self._event("Warning", "BackOff", f"Back-off restarting failed container {name} in "
                        f"pod {self._full()}", self._path(c, prev.kind == "init"))
            self._reasons[name] = ("CrashLoopBackOff", f"back-off "
                                   f"{go_duration(self.backoff.get(key))} restarting failed "
                                   f"container={name} pod={self._full()}")
            self._wakes.append(finished + self.backoff.get(key))
            self._requeue(now)
            return True
        self.backoff.next(key, finished, now)
        return False

    def _start(self, c: Obj, now: float, prev: ContainerStatus | None, *, init: bool) -> str:
        name = c["name"]
        resuming = name in self._pulls or name in self._restart_now
        self._restart_now.discard(name)
        if prev is not None and prev.state == CONTAINER_EXITED and not resuming \
                and self._in_crash_backoff(c, prev, now):
            return FAILED
        outcome = self._ensure_image(c, now, init)
        if outcome != STARTED:
            return outcome
        path = self._path(c, init)
        res = c.get("resources") or {}
        limit = (res.get("limits") or {}).get("memory")
        cid = self.runtime.create_container(
            self._sandbox or "", name, c["image"], now=now, command=c.get("command"),
            args=c.get("args"), env={e["name"]: e.get("value", "") for e in c.get("env") or []
                                     if "name" in e},
            attempt=prev.attempt + 1 if prev is not None else 0,
            ports=tuple(p["containerPort"] for p in c.get("ports") or [] if "containerPort" in p),
            memory_limit=memory_bytes(limit) if limit is not None else None,
            kind="init" if init else "regular")
        self._specs[cid] = _spec_hash(c)
        self._event("Normal", "Created", f"Created container {name}", path)
        self._again = True
        try:
            self.runtime.start_container(cid, now)
        except StartFailure as e:
            self._event("Warning", "Failed", f"Error: {e}", path)
            self._reasons[name] = ("RunContainerError", str(e))
            self._requeue(now)
            return FAILED
        self._event("Normal", "Started", f"Started container {name}", path)
        self._reasons.pop(name, None)
        self._actions.append(StartContainer(cid, name))
        self._probes.container_started(name, c, cid, now)
        self._gc(name)
        self._post_start(c, cid, now, path)
        return STARTED

    def _post_start(self, c: Obj, cid: str, now: float, path: str) -> None:
        hook = ((c.get("lifecycle") or {}).get("postStart") or {}).get("exec")
        if not hook:
            return
        argv = list(hook.get("command") or [])
        res = self.runtime.exec_sync(cid, argv, timeout=self._grace(), now=now)
        if res.exit_code != 0 or res.error:
            cmd = " ".join(argv)
            self._event("Warning", "FailedPostStartHook",
                        f'Exec lifecycle hook ([{cmd}]) for Container "{c["name"]}" in Pod '
                        f'"{self._full()}" failed - error: command \'{cmd}\' exited with '
                        f'{res.exit_code}: {res.error}, message: "{res.output}"', path)
            self._kill(c, cid, self._grace(), now, "FailedPostStartHook", prestop=False,
                       restart=False)

    def _gc(self, name: str) -> None:
        for old in self._instances(name)[2:]:
            if old.state == CONTAINER_EXITED:
                self.runtime.remove_container(old.id)

    def _ensure_image(self, c: Obj, now: float, init: bool) -> str:
        name, image, path = c["name"], c.get("image") or "", self._path(c, init)
        policy = c.get("imagePullPolicy") or _default_pull_policy(image)
        try:
            ref = normalize_image(image)
        except InvalidImageName as e:
            msg = (f'Failed to apply default image tag "{image}": couldn\'t parse image name '
                   f'"{image}": {e}')
            self._event("Warning", "InspectFailed", msg, path)
            return self._fail(c, "InvalidImageName", msg, now, path)
        pull = self._pulls.get(name)
        if pull is not None:
            if now < pull.done_at:
                self._wakes.append(pull.done_at)
                return WAITING
            del self._pulls[name]
            if pull.ok:
                self._event("Normal", "Pulled", f'Successfully pulled image "{image}" in '
                            f"{go_duration(pull.pull_duration)} ({go_duration(pull.total_duration)}"
                            f" including waiting). Image size: {pull.size} bytes.", path)
                return STARTED
            self._event("Warning", "Failed", f'Failed to pull image "{image}": {pull.error}', path)
            self.image_backoff.next(f"{self.uid}_{image}", now, now)
            return self._fail(c, "ErrImagePull", pull.error, now, path)
        present = self.images.present(ref, now)
        if policy == "Never" or (policy == "IfNotPresent" and present):
            if present:
                self._event("Normal", "Pulled",
                            f'Container image "{image}" already present on machine', path)
                return STARTED
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self._event("Warning", "ErrImageNeverPull", msg, path)
            return self._fail(c, "ErrImageNeverPull", msg, now, path)
        key = f"{self.uid}_{image}"
        if self.image_backoff.in_backoff_since_update(key, now):
            msg = f'Back-off pulling image "{image}"'
            self._event("Normal", "BackOff", msg, path)
            self._wakes.append((self.image_backoff.last_update(key) or now)
                               + self.image_backoff.get(key))
            return self._fail(c, "ImagePullBackOff", msg, now, path)
        self._event("Normal", "Pulling", f'Pulling image "{image}"', path)
        pull = self.images.pull(ref, now)
        self._pulls[name] = pull
        self._actions.append(PullImage(ref, name, pull.started_at, pull.done_at, pull.ok))
        if pull.done_at <= now:
            return self._ensure_image(c, now, init)
        self._wakes.append(pull.done_at)
        return WAITING

    def _fail(self, c: Obj, reason: str, message: str, now: float, path: str) -> str:
        self._reasons[c["name"]] = (reason, message)
        self._event("Warning", "Failed", f"Error: {reason}", path)
        self._requeue(now)
        return FAILED

    # -- probes, deadlines, completion -----------------------------------------------------

    def _run_probes(self, now: float) -> None:
        containers = {c["name"]: c for c in self._spec().get("containers") or []}

        def run(name: str, w: ProbeWorker) -> Any:
            return evaluate(w.spec, runtime=self.runtime, container_id=w.container_id,
                            container=containers.get(name, {}), pod_ip=self._ip, now=now,
                            http=self.http_prober)

        for name, kind, outcome in self._probes.run_due(now, run):
            path = f"spec.containers{{{name}}}"
            if outcome.error:
                self._event("Warning", "Unhealthy", f"{kind} probe errored and resulted in "
                            f"unknown state: {outcome.error}", path)
            else:
                self._event("Warning", "Unhealthy", f"{kind} probe failed: {outcome.output}",
                            path)

    def _check_deadline(self, now: float) -> None:
        ads = self._spec().get("activeDeadlineSeconds")
        if ads is None or self._start_time is None:
            return
        deadline = self._start_time + ads
        if now < deadline:
            self._wakes.append(deadline)
            return
        message = "Pod was active on the node longer than the specified deadline"
        self._event("Normal", "DeadlineExceeded", message)
        self._terminal = ("DeadlineExceeded", message)

    def _check_completion(self, now: float) -> None:
        """restartPolicy Never/OnFailure: once no container will run again, the pod is done."""
        policy = self._spec().get("restartPolicy") or "Always"
        if policy == "Always" or self._kills or self._pulls:
            return
        for c in self._spec().get("containers") or []:
            insts = self._instances(c["name"])
            if not insts or insts[0].state != CONTAINER_EXITED:
                return
            if policy == "OnFailure" and insts[0].exit_code != 0:
                return
        self._terminal = ("", "")

    # -- killing and termination -----------------------------------------------------------

    def _grace(self) -> float:
        meta = self.pod.get("metadata") or {}
        if meta.get("deletionGracePeriodSeconds") is not None:
            return float(meta["deletionGracePeriodSeconds"])
        grace = self._spec().get("terminationGracePeriodSeconds")
        return float(grace) if grace is not None else 30.0

    def _kill(self, c: Obj, cid: str, grace: float, now: float, message: str, *,
              prestop: bool, restart: bool) -> None:
        init = cid in {s.id for s in self.runtime.list_containers(pod_uid=self.uid)
                       if s.kind == "init"}
        path = self._path(c, init)
        self._event("Normal", "Killing", message, path)
        kill = self._kills[cid] = _Kill(c["name"], restart, grace=grace)
        self._actions.append(KillContainer(cid, c["name"], grace, message))
        spent = self._pre_stop(c, cid, grace, now, path) if prestop else 0.0
        if spent > 0:
            kill.prestop_until = now + spent
            kill.grace = max(grace - spent, MIN_GRACE)
        else:
            self.runtime.stop_container(cid, max(grace, MIN_GRACE), now)
        self._again = True

    def _pre_stop(self, c: Obj, cid: str, grace: float, now: float, path: str) -> float:
        """Run the preStop hook; returns how long it takes (capped at the grace period)."""
        hook = (c.get("lifecycle") or {}).get("preStop") or {}
        if "sleep" in hook:
            return min(float((hook["sleep"] or {}).get("seconds") or 0), grace)
        if "exec" in hook:
            argv = list((hook["exec"] or {}).get("command") or [])
            res = self.runtime.exec_sync(cid, argv, timeout=grace, now=now)
            if res.exit_code != 0 or res.error:
                self._event("Warning", "FailedPreStopHook",
                            f"PreStopHook failed: {res.error or res.output}", path)
            return min(res.duration, grace)
        return 0.0

    def _reap_kills(self, now: float) -> None:
        for cid, kill in list(self._kills.items()):
            try:
                st = self.runtime.container_status(cid)
            except NotFound:
                del self._kills[cid]
                continue
            if kill.prestop_until is not None and kill.prestop_until <= now \
                    and st.state == CONTAINER_RUNNING:
                self.runtime.stop_container(cid, kill.grace, kill.prestop_until)
                kill.prestop_until = None
                st = self.runtime.container_status(cid)
            if st.state == CONTAINER_EXITED:
                del self._kills[cid]
                self._probes.container_gone(kill.name)
                if kill.restart and not (self._deleting() or self._terminal):
                    self._restart_now.add(kill.name)
                    self._again = True

    def _terminate(self, now: float) -> None:
        if not self._terminating:
            self._terminating = True
            self._pulls.clear()
            self._probes = PodProbes()
            specs = {c["name"]: c for c in [*(self._spec().get("initContainers") or []),
                                            *(self._spec().get("containers") or [])]}
            grace = self._grace()
            for st in reversed(self.runtime.list_containers(pod_uid=self.uid)):
                if st.state == CONTAINER_RUNNING and st.id not in self._kills:
                    self._kill(specs.get(st.name, {"name": st.name}), st.id, grace, now,
                               f"Stopping container {st.name}", prestop=self._deleting(),
                               restart=False)
            self._reap_kills(now)
        if self._kills:
            return
        if any(s.state == CONTAINER_RUNNING
               for s in self.runtime.list_containers(pod_uid=self.uid)):
            return
        self._stop_sandbox(now)
        self._finished = True
        self._requeue_at = None

    # -- status ----------------------------------------------------------------------------

    def view(self) -> PodRuntimeView:
        """What ``pod_status`` needs, from the runtime and this worker's memory."""
        containers: dict[str, tuple[ContainerView, ...]] = {}
        for st in self.runtime.list_containers(pod_uid=self.uid):
            have = containers.get(st.name, ())
            if len(have) >= 2:
                continue
            running = st.state == CONTAINER_RUNNING
            containers[st.name] = (*have, ContainerView(
                st.name, st.uri, _STATES.get(st.state, CREATED), st.attempt, st.image,
                st.image_ref, st.started_at, st.finished_at, st.exit_code, st.reason, st.message,
                running and self._probes.ready(st.name, st.id),
                running and self._probes.started(st.name, st.id)))
        sandbox_ready = False
        if self._sandbox is not None and self._net == "ready":
            try:
                sandbox_ready = self.runtime.sandbox_status(self._sandbox).state == SANDBOX_READY
            except NotFound:
                sandbox_ready = False
        reason, message = self._terminal or ("", "")
        return PodRuntimeView(self.node_ip, (self._ip,) if sandbox_ready else (), sandbox_ready,
                              self._start_time, containers, dict(self._reasons), self._finished,
                              reason, message)

    def _report(self, now: float) -> None:
        pod = {**self.pod, "status": self._last_status or self.pod.get("status") or {}}
        status = pod_status(pod, self.view(), rfc3339(now))
        if status != self._last_status:
            self._last_status = status
            self._actions.append(ReportStatus(status))


def _spec_hash(c: Obj) -> str:
    """What a container's restart key and change detection use (the kubelet hashes the
    container spec; only the image can change in place)."""
    text = json.dumps([c.get("name"), c.get("image"), c.get("command"), c.get("args")])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
