"""Pod admission on the node: the kubelet's ``PredicateAdmitHandler``.

What it is: ``admit(pod, ...)`` runs the scheduler's general filters the kubelet re-checks
before it runs a pod (a pod bound by hand with ``spec.nodeName`` never met the scheduler):
resources (``OutOfcpu``, ``OutOfmemory``, ``OutOfpods``: "Node didn't have enough resource:
cpu, requested: 2000, used: 500, capacity: 2000", in millicores and bytes), host ports
(``NodePorts``), node selector and required node affinity (``NodeAffinity``), then the node's
NoExecute taints (``TaintToleration``) — each a "Predicate X failed" message, as
``lifecycle.PredicateFailureError`` words them. The kubelet then sets the pod Failed with that
reason and the message prefixed by "Pod was rejected: " and records a Warning event.

Requests are those the scheduler counts: the sum of the app containers' requests, or the
largest init container's if larger, plus the pod overhead.

Concurrency model: none; pure functions.

Invariants: the first failing predicate decides (resources first, as in ``generalFilter``);
a pod that fits is never rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actors.api import (
    QuantityError,
    SelectorError,
    cpu_millis,
    memory_bytes,
    selector_from_node_selector_requirements,
)

__all__ = ["Rejection", "admit", "pod_requests"]

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str  # the event's message; the status message is "Pod was rejected: " + this


def _quantity(rl: Obj, name: str) -> int:
    raw = rl.get(name)
    if raw is None:
        return 0
    try:
        return cpu_millis(raw) if name == "cpu" else memory_bytes(raw)
    except (QuantityError, TypeError, ValueError, OverflowError):
        return 0


RequestsMemo = dict[str, tuple[Obj, tuple[int, int]]]  # pod uid -> (pod object, requests)


def pod_requests(pod: Obj, memo: RequestsMemo | None = None) -> tuple[int, int]:
    """(cpu millicores, memory bytes) the pod requests. With ``memo`` (one kubelet's, keyed
    by pod uid): computed once per pod object, holding only the last object seen per pod
    (admission sums the requests of every pod on the node; pod objects are never mutated in
    place, and an identity check means a new version is computed afresh)."""
    if memo is None:
        return _pod_requests(pod)
    uid = (pod.get("metadata") or {}).get("uid") or ""
    got = memo.get(uid)
    if got is not None and got[0] is pod:
        return got[1]
    out = memo[uid] = (pod, _pod_requests(pod))
    return out[1]


def _pod_requests(pod: Obj) -> tuple[int, int]:
    spec = pod.get("spec") or {}

    def req(c: Obj, name: str) -> int:
        return _quantity((c.get("resources") or {}).get("requests") or {}, name)

    out = []
    for name in ("cpu", "memory"):
        regular = sum(req(c, name) for c in spec.get("containers") or [])
        init = max((req(c, name) for c in spec.get("initContainers") or []), default=0)
        out.append(max(regular, init) + _quantity(spec.get("overhead") or {}, name))
    return out[0], out[1]


def _host_ports(pod: Obj) -> set[tuple[str, int]]:
    return {((p.get("protocol") or "TCP"), int(p["hostPort"]))
            for c in (pod.get("spec") or {}).get("containers") or []
            for p in c.get("ports") or [] if p.get("hostPort")}


def _term_matches(term: Obj, labels: Mapping[str, str], node: str) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches nothing
    try:
        if exprs and not selector_from_node_selector_requirements(exprs).matches(labels):
            return False
        if fields and not selector_from_node_selector_requirements(fields).matches(
                {"metadata.name": node}):
            return False
    except SelectorError:
        return False
    return True


def _affinity_ok(pod: Obj, labels: Mapping[str, str], node: str) -> bool:
    spec = pod.get("spec") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(_term_matches(t, labels, node) for t in required.get("nodeSelectorTerms") or [])


def _tolerated(taint: Obj, tolerations: Iterable[Obj]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (
                taint.get("value") or ""):
            return True
    return False


def _resources(pod: Obj, allocatable: tuple[int, int, int],
               admitted: Sequence[Obj], memo: RequestsMemo | None) -> Rejection | None:
    cpu, mem = pod_requests(pod, memo)
    used_cpu = used_mem = 0
    for p in admitted:
        c, m = pod_requests(p, memo)
        used_cpu, used_mem = used_cpu + c, used_mem + m
    for name, want, used, cap in (("pods", 1, len(admitted), allocatable[2]),
                                  ("cpu", cpu, used_cpu, allocatable[0]),
                                  ("memory", mem, used_mem, allocatable[1])):
        if want > 0 and want + used > cap:
            return Rejection(f"OutOf{name}", f"Node didn't have enough resource: {name}, "
                                             f"requested: {want}, used: {used}, capacity: {cap}")
    return None


def admit(pod: Obj, *, node: str, labels: Mapping[str, str], taints: Sequence[Obj],
          allocatable: tuple[int, int, int], admitted: Sequence[Obj],
          memo: RequestsMemo | None = None) -> Rejection | None:
    """None when the pod may run here; else why not. ``allocatable`` is (cpu millicores,
    memory bytes, pods); ``admitted`` the pods already running (or starting) on the node."""
    rejection = _resources(pod, allocatable, admitted, memo)
    if rejection is not None:
        return rejection
    spec = pod.get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != node:
        return Rejection("NodeName", "Predicate NodeName failed")
    used_ports: set[tuple[str, int]] = set()
    for p in admitted:
        used_ports |= _host_ports(p)
    if _host_ports(pod) & used_ports:
        return Rejection("NodePorts", "Predicate NodePorts failed")
    if not _affinity_ok(pod, labels, node):
        return Rejection("NodeAffinity", "Predicate NodeAffinity failed")
    tolerations = spec.get("tolerations") or []
    for taint in taints:
        if taint.get("effect") == "NoExecute" and not _tolerated(taint, tolerations):
            return Rejection("TaintToleration", "Predicate TaintToleration failed")
    return None
