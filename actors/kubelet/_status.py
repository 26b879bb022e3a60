"""The PodStatus the kubelet reports, and the STATUS column kubectl prints from it.

What it is:
- ``pod_status(pod, view, now_rfc3339)``: the kubelet's ``generateAPIPodStatus`` (v1.31)
  applied to a ``PodRuntimeView`` — what the runtime shows of the pod (newest two instances of
  each container, the sandbox, the pod IPs) plus the kubelet's own memory (the reason the last
  start failed — ``ErrImagePull``, ``ImagePullBackOff``, ``CrashLoopBackOff`` — and the probe
  results). Phase follows ``getPhase`` (Pending/Running/Succeeded/Failed by restartPolicy, and
  never out of a terminal phase); conditions are PodReadyToStartContainers, Initialized, Ready,
  ContainersReady and PodScheduled in that order, with the kubelet's reasons and messages
  (``ContainersNotReady`` / ``containers with unready status: [app]``), their
  lastTransitionTime kept when their status did not change; containerStatuses carry
  state/lastState/ready/started/restartCount/image/imageID/containerID as the kubelet writes
  them; qosClass is computed as Kubernetes does.
- ``pod_display_status`` and ``pod_columns``: kubectl's ``printPod`` — the READY, STATUS
  (Running, ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff, Completed,
  Error, Terminating, Init:0/1, PodInitializing...) and RESTARTS columns.

Everything works on plain dicts in Kubernetes JSON form; field order follows the Go structs.

Concurrency model: none; pure functions of their arguments.

Invariants: ``pod_status`` never reads a clock (times come from the view and `now_rfc3339`);
given the same inputs it returns the same dict.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from actors.api import QuantityError, parse_quantity
from actors.kubelet._backoff import human_duration

__all__ = [
    "ContainerView",
    "PodRuntimeView",
    "parse_rfc3339",
    "pod_columns",
    "pod_display_status",
    "pod_status",
    "qos_class",
    "rfc3339",
    "should_restart",
]

Obj = dict[str, Any]
RUNNING, EXITED, CREATED = "running", "exited", "created"


def rfc3339(seconds: float) -> str:
    """``metav1.Time`` as JSON: whole seconds, UTC, ``Z``."""
    d = datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class ContainerView:
    """One container instance as the runtime reports it, with the prober's verdicts."""

    name: str
    container_id: str  # containerd://...
    state: str  # RUNNING, EXITED or CREATED
    restart_count: int
    image: str
    image_id: str
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    ready: bool = False
    started: bool = False


@dataclass(frozen=True)
class PodRuntimeView:
    """What the kubelet knows of one pod when it writes the status."""

    host_ip: str = ""
    pod_ips: tuple[str, ...] = ()
    sandbox_ready: bool = False
    start_time: float | None = None
    containers: dict[str, tuple[ContainerView, ...]] = field(default_factory=dict)
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # the reason cache
    terminal: bool = False
    reason: str = ""
    message: str = ""


# -- QoS ---------------------------------------------------------------------------------------

def qos_class(pod: Obj) -> str:
    """``GetPodQOS``: Guaranteed when every container limits cpu and memory and requests equal
    limits; BestEffort when nothing requests or limits cpu or memory; else Burstable."""
    spec = pod.get("spec") or {}
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        for kind, total in (("requests", requests), ("limits", limits)):
            found = set()
            for name, value in (res.get(kind) or {}).items():
                if name not in ("cpu", "memory"):
                    continue
                try:
                    q = parse_quantity(value)
                except QuantityError:
                    continue
                if q > parse_quantity(0):
                    found.add(name)
                    total[name] = total[name] + q if name in total else q
            if kind == "limits" and found != {"cpu", "memory"}:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and len(requests) == len(limits) and all(
            name in limits and limits[name] == q for name, q in requests.items()):
        return "Guaranteed"
    return "Burstable"


# -- container statuses ------------------------------------------------------------------------

def should_restart(container: Obj, pod: Obj, latest: ContainerView | None) -> bool:
    """``ShouldContainerBeRestarted``: whether the next sync would (re)start the container."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if latest is None or latest.state == CREATED:
        return True
    if latest.state == RUNNING:
        return False
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if policy == "Never":
        return False
    return not (policy == "OnFailure" and latest.exit_code == 0)


def _state(v: ContainerView) -> Obj:
    if v.state == RUNNING:
        return {"running": {"startedAt": rfc3339(v.started_at or 0)}}
    if v.state == CREATED:
        return {"waiting": {}}
    term: Obj = {"exitCode": v.exit_code}
    if v.reason:
        term["reason"] = v.reason
    if v.message:
        term["message"] = v.message
    term.update(startedAt=rfc3339(v.started_at or 0), finishedAt=rfc3339(v.finished_at or 0),
                containerID=v.container_id)
    return {"terminated": term}


def _mounts(container: Obj) -> list[Obj]:
    out = []
    for m in container.get("volumeMounts") or []:
        entry: Obj = {"name": m.get("name"), "mountPath": m.get("mountPath")}
        if m.get("readOnly"):
            entry.update(readOnly=True, recursiveReadOnly="Disabled")
        out.append(entry)
    return out


def _container_status(c: Obj, pod: Obj, view: PodRuntimeView, old: Obj | None,
                      has_inits: bool, is_init: bool) -> Obj:
    name = c.get("name", "")
    default = "PodInitializing" if has_inits else "ContainerCreating"
    st: Obj = {"name": name, "state": {"waiting": {"reason": default}}, "lastState": {},
               "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": ""}
    if old is not None:
        if (old.get("state") or {}).get("terminated") is not None:
            st = {k: v for k, v in old.items() if k not in ("started", "volumeMounts")}
        else:
            st.update(restartCount=old.get("restartCount", 0), lastState=old.get("lastState") or {})
    instances = view.containers.get(name, ())
    latest = instances[0] if instances else None
    if latest is not None:
        st = {"name": name, "state": _state(latest), "lastState": {}, "ready": False,
              "restartCount": latest.restart_count, "image": latest.image,
              "imageID": latest.image_id, "containerID": latest.container_id}
        if len(instances) > 1:
            st["lastState"] = _state(instances[1])
    skip = is_init and latest is not None and latest.state == EXITED and latest.exit_code == 0
    if not skip and should_restart(c, pod, latest) and name in view.waiting:
        reason, message = view.waiting[name]
        if "terminated" in st["state"]:
            st["lastState"] = st["state"]
        st["state"] = {"waiting": {"reason": reason, "message": message} if message
                       else {"reason": reason}}
    running = latest is not None and latest.state == RUNNING and "running" in st["state"]
    started = running and latest is not None and latest.started
    if is_init:
        term = st["state"].get("terminated")
        st["ready"] = term is not None and term.get("exitCode") == 0
    else:
        st["ready"] = bool(started and latest is not None and latest.ready)
    st["started"] = bool(started)
    mounts = _mounts(c)
    if mounts:
        st["volumeMounts"] = mounts
    order = ("name", "state", "lastState", "ready", "restartCount", "image", "imageID",
             "containerID", "started", "volumeMounts")
    return {k: st[k] for k in order if k in st}


def _phase(spec: Obj, inits: list[Obj], regs: list[Obj], terminal: bool) -> str:
    """``getPhase`` (regular init containers only; sidecars are not modelled)."""
    policy = spec.get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    for cs in inits:
        state, last = cs["state"], cs.get("lastState") or {}
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"].get("exitCode", 0) != 0
        elif "terminated" in last:
            failed_init += last["terminated"].get("exitCode", 0) != 0
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for cs in regs:
        state, last = cs["state"], cs.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif "terminated" in last:
            stopped += 1
        else:
            waiting += 1
    if failed_init and policy == "Never":
        return "Failed"
    any_started = any("running" in cs["state"] or "terminated" in cs["state"] for cs in regs)
    if (pending_init and not any_started) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


# -- conditions --------------------------------------------------------------------------------

def _cond(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": type_, "status": "True" if ok else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"  # Go's %s of a []string


def _containers_ready(spec: Obj, statuses: list[Obj], phase: str) -> Obj:
    if phase in ("Succeeded", "Failed"):
        return _cond("ContainersReady", False,
                     "PodCompleted" if phase == "Succeeded" else "PodFailed")
    unready = [cs["name"] for cs in statuses if not cs["ready"]]
    if unready:
        return _cond("ContainersReady", False, "ContainersNotReady",
                     f"containers with unready status: {_names(unready)}")
    return _cond("ContainersReady", True)


def _ready(spec: Obj, containers_ready: Obj, conditions: list[Obj]) -> Obj:
    if containers_ready["status"] != "True":
        return {**containers_ready, "type": "Ready"}
    unready = []
    for gate in spec.get("readinessGates") or []:
        t = gate.get("conditionType")
        c = next((c for c in conditions if c.get("type") == t), None)
        if c is None:
            unready.append(f'corresponding condition of pod readiness gate "{t}" does not exist.')
        elif c.get("status") != "True":
            unready.append(f'the status of pod readiness gate "{t}" is not "True", but '
                           f'{c.get("status")}')
    if unready:
        return _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(unready))
    return _cond("Ready", True)


def _initialized(spec: Obj, inits: list[Obj], regs: list[Obj], phase: str) -> Obj:
    if phase == "Succeeded":
        return _cond("Initialized", True, "PodCompleted")
    if any("running" in cs["state"] or "terminated" in cs["state"] for cs in regs):
        return _cond("Initialized", True)
    incomplete = [cs["name"] for cs in inits if not cs["ready"]]
    if incomplete:
        return _cond("Initialized", False, "ContainersNotInitialized",
                     f"containers with incomplete status: {_names(incomplete)}")
    return _cond("Initialized", True)


_KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                       "PodScheduled")


def _stamp(conds: list[Obj], old: list[Obj], now: str) -> list[Obj]:
    out = []
    for c in conds:
        prev = next((o for o in old if o.get("type") == c["type"]), None)
        keep = prev is not None and prev.get("status") == c["status"] \
            and prev.get("lastTransitionTime")
        stamped: Obj = {"type": c["type"], "status": c["status"], "lastProbeTime": None,
                        "lastTransitionTime": prev["lastTransitionTime"] if keep else now}
        for k in ("reason", "message"):
            if k in c:
                stamped[k] = c[k]
        out.append(stamped)
    return out


def pod_status(pod: Obj, runtime_view: PodRuntimeView, now_rfc3339: str) -> Obj:
    """The status the kubelet would write for `pod` (see the module docstring)."""
    view = runtime_view
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    inits_spec, regs_spec = spec.get("initContainers") or [], spec.get("containers") or []
    old_init = {s.get("name"): s for s in old.get("initContainerStatuses") or []}
    old_regs = {s.get("name"): s for s in old.get("containerStatuses") or []}
    has_inits = bool(inits_spec)
    inits = [_container_status(c, pod, view, old_init.get(c.get("name")), has_inits, True)
             for c in inits_spec]
    regs = [_container_status(c, pod, view, old_regs.get(c.get("name")), has_inits, False)
            for c in regs_spec]
    phase = _phase(spec, inits, regs, view.terminal)
    if view.reason == "DeadlineExceeded" or (view.terminal and view.reason):
        phase = "Failed"
    if old.get("phase") in ("Succeeded", "Failed"):
        phase = old["phase"]  # no transition out of a terminal phase
    old_conds = old.get("conditions") or []
    cready = _containers_ready(spec, regs, phase)
    scheduled = next((c for c in old_conds if c.get("type") == "PodScheduled"), None)
    conds = [_cond("PodReadyToStartContainers", view.sandbox_ready),
             _initialized(spec, inits, regs, phase), _ready(spec, cready, old_conds), cready,
             {k: v for k, v in (scheduled or _cond("PodScheduled", True)).items()
              if k in ("type", "status", "reason", "message")}]
    status: Obj = {"phase": phase}
    status["conditions"] = _stamp(conds, old_conds, now_rfc3339) + [
        c for c in old_conds if c.get("type") not in _KUBELET_CONDITIONS]
    if view.reason or view.message:
        status.update(message=view.message, reason=view.reason)
    if old.get("nominatedNodeName"):
        status["nominatedNodeName"] = old["nominatedNodeName"]
    if view.host_ip:
        status.update(hostIP=view.host_ip, hostIPs=[{"ip": view.host_ip}])
    ips = list(view.pod_ips) or [p.get("ip") for p in old.get("podIPs") or []]
    if ips:
        status.update(podIP=ips[0], podIPs=[{"ip": ip} for ip in ips])
    start = old.get("startTime") or (rfc3339(view.start_time) if view.start_time is not None
                                      else None)
    if start:
        status["startTime"] = start
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = regs
    status["qosClass"] = qos_class(pod)
    return status


# -- kubectl's printer -------------------------------------------------------------------------

def _epoch(ts: str | None) -> float:
    return parse_rfc3339(ts) if ts else 0.0


def _has_true(conds: list[Obj], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conds)


def _term_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def _finished(cs: Obj) -> float:
    return _epoch(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))


@dataclass
class _Row:
    reason: str
    ready: int = 0
    restarts: int = 0
    last: float = 0.0  # when the last restart's predecessor finished
    side_restarts: int = 0
    side_last: float = 0.0


def _init_column(row: _Row, spec: Obj, st: Obj) -> bool:
    """printPod's pass over init containers; True while the pod is initializing."""
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecars = {n for n, c in inits.items() if c.get("restartPolicy") == "Always"}
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        row.restarts += cs.get("restartCount", 0)
        row.last = max(row.last, _finished(cs))
        if cs.get("name") in sidecars:
            row.side_restarts += cs.get("restartCount", 0)
            row.side_last = max(row.side_last, _finished(cs))
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if cs.get("name") in sidecars and cs.get("started"):
            row.ready += bool(cs.get("ready"))
            continue
        if term is not None:
            row.reason = _term_reason(term, "Init:")
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            row.reason = "Init:" + wait["reason"]
        else:
            row.reason = f"Init:{i}/{len(inits)}"
        return True
    return False


def _regular_column(row: _Row, st: Obj, conds: list[Obj]) -> None:
    """printPod's pass over regular containers, last to first."""
    row.restarts, row.last = row.side_restarts, row.side_last
    running = False
    for cs in reversed(st.get("containerStatuses") or []):
        row.restarts += cs.get("restartCount", 0)
        row.last = max(row.last, _finished(cs))
        state = cs.get("state") or {}
        wait, term = state.get("waiting"), state.get("terminated")
        if wait is not None and wait.get("reason"):
            row.reason = wait["reason"]
        elif term is not None:
            row.reason = _term_reason(term)
        elif cs.get("ready") and state.get("running") is not None:
            running = True
            row.ready += 1
    if row.reason == "Completed" and running:
        row.reason = "Running" if _has_true(conds, "Ready") else "NotReady"


def pod_columns(pod: Obj, now: float) -> tuple[str, str, str]:
    """kubectl get pods' READY, STATUS and RESTARTS for `pod` at `now` (``printPod``)."""
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    conds = st.get("conditions") or []
    row = _Row(st.get("reason") or st.get("phase") or "")
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in conds):
        row.reason = "SchedulingGated"
    total = len(spec.get("containers") or []) + sum(
        c.get("restartPolicy") == "Always" for c in spec.get("initContainers") or [])
    if not _init_column(row, spec, st) or _has_true(conds, "Initialized"):
        _regular_column(row, st, conds)
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if st.get("reason") == "NodeLost":
            row.reason = "Unknown"
        elif st.get("phase") not in ("Succeeded", "Failed"):
            row.reason = "Terminating"
    restarts = str(row.restarts)
    if row.restarts and row.last:
        restarts += f" ({human_duration(now - row.last)} ago)"
    return f"{row.ready}/{total}", row.reason, restarts


def pod_display_status(pod: Obj) -> str:
    """kubectl's STATUS column for `pod`."""
    return pod_columns(pod, 0.0)[1]
