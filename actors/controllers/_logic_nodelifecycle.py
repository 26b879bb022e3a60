"""Node lifecycle (``pkg/controller/nodelifecycle``) and taint-based eviction
(``pkg/controller/tainteviction``, formerly the NoExecuteTaintManager).

What it is: ``monitor_node_health(nodes, leases, pods, state, *, now)`` is one
``monitorNodeHealth`` pass plus the ``doNoExecuteTaintingPass`` that follows it: a node whose
Ready condition heartbeat and Lease both stayed silent for the grace period (40 s, the
long-standing ``--node-monitor-grace-period``; Kubernetes 1.32 raised the default to 50 s:
pass ``NodeLifecycleConfig(grace_period=50)`` for that) gets Ready, MemoryPressure,
DiskPressure and PIDPressure set to Unknown ("Kubelet stopped posting node status."), a
"NodeNotReady" event, and its pods marked not ready; a not-ready node is queued for the
``node.kubernetes.io/not-ready`` NoExecute taint, an unreachable one for
``node.kubernetes.io/unreachable``, and the queue is drained per zone by a token bucket at
0.1 nodes/s; a zone with more than 2 and at least 55 % of its nodes not ready is in
PartialDisruption (0.01 nodes/s if it has more than 50 nodes, else no eviction); when every
zone is fully disrupted, taints are removed and evictions stop (the control plane is the
likely culprit). ``reconcile_node_condition_taints(node)`` keeps the NoSchedule taints that
mirror conditions (TaintNodesByCondition). ``reconcile_taint_eviction(node, pods, scheduled,
*, now)`` deletes pods that do not tolerate a NoExecute taint, at once or after their
smallest ``tolerationSeconds`` (300 s for the defaults the API server adds).

Concurrency model: none; pure functions. What Kubernetes keeps in memory (per-node health
probes, zone states, the per-zone tainting queues and rate limiters, the scheduled
evictions) is an explicit, immutable state passed in and returned.

Invariants: a node is tainted not-ready and unreachable never both (the swap is immediate,
only new taints are rate limited); every NoExecute taint added carries ``timeAdded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from ._logic_daemonset import tolerates
from ._plan import (
    NORMAL,
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    creation_time,
    deep_copy,
    format_time,
    get_condition,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    parse_time,
)

__all__ = [
    "NodeHealth",
    "NodeLifecycleConfig",
    "NodeLifecycleResult",
    "NodeLifecycleState",
    "TaintEvictionResult",
    "compute_zone_state",
    "monitor_node_health",
    "reconcile_node_condition_taints",
    "reconcile_taint_eviction",
    "zone_key",
]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
_NO_SCHEDULE_BY_CONDITION = {
    ("Ready", "False"): NOT_READY_TAINT, ("Ready", "Unknown"): UNREACHABLE_TAINT,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
_CONDITION_TAINT_KEYS = frozenset([*_NO_SCHEDULE_BY_CONDITION.values(), _UNSCHEDULABLE_TAINT])
_UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

INITIAL, NORMAL_STATE = "Initial", "Normal"
PARTIAL, FULL = "PartialDisruption", "FullDisruption"


class NodeLifecycleConfig(msgspec.Struct, frozen=True, kw_only=True):
    grace_period: float = 40.0  # --node-monitor-grace-period (50 s from Kubernetes 1.32)
    startup_grace_period: float = 60.0  # --node-startup-grace-period
    monitor_period: float = 5.0  # --node-monitor-period
    eviction_qps: float = 0.1  # --node-eviction-rate
    secondary_eviction_qps: float = 0.01  # --secondary-node-eviction-rate
    large_cluster_threshold: int = 50  # --large-cluster-size-threshold
    unhealthy_zone_threshold: float = 0.55  # --unhealthy-zone-threshold


class NodeHealth(msgspec.Struct, frozen=True, kw_only=True):
    """``nodeHealthData``: when the controller last saw the node alive."""

    probe_timestamp: float
    ready_transition_timestamp: float
    heartbeat: str | None = None  # the Ready condition's lastHeartbeatTime last seen
    ready_status: str | None = None
    lease_renew: float | None = None


class _Bucket(msgspec.Struct, frozen=True, kw_only=True):
    """A token bucket of burst 1 (``flowcontrol.NewTokenBucketRateLimiter(qps, 1)``)."""

    qps: float
    tokens: float = 1.0
    last: float = 0.0

    def refill(self, now: float) -> _Bucket:
        if self.qps <= 0:
            return msgspec.structs.replace(self, tokens=0.0, last=now)
        return msgspec.structs.replace(self, tokens=min(1.0, self.tokens + (now - self.last) * self.qps), last=now)

    def swap(self, qps: float, now: float) -> _Bucket:
        """``SwapLimiter``: a fresh bucket, drained if the old one was empty (burst 1)."""
        if qps == self.qps:
            return self
        old = self.refill(now)
        return _Bucket(qps=qps, tokens=1.0 if (qps > 0 and old.tokens >= 1.0) else 0.0, last=now)


class NodeLifecycleState(msgspec.Struct, frozen=True, kw_only=True):
    health: dict[str, NodeHealth] = msgspec.field(default_factory=dict)
    zone_states: dict[str, str] = msgspec.field(default_factory=dict)
    taint_queues: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    buckets: dict[str, _Bucket] = msgspec.field(default_factory=dict)
    known_nodes: tuple[str, ...] = ()


class NodeLifecycleResult(msgspec.Struct, frozen=True, kw_only=True):
    plan: Plan
    state: NodeLifecycleState


def zone_key(node: Mapping[str, Any]) -> str:
    """``GetZoneKey``: region and zone (GA labels, else the beta ones), "" if neither."""
    labels = labels_of(node)
    region = labels.get("topology.kubernetes.io/region") or labels.get("failure-domain.beta.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone", "")
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def compute_zone_state(ready_statuses: Sequence[str | None], threshold: float = 0.55) -> tuple[int, str]:
    """``ComputeZoneState``: (not ready count, state)."""
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, FULL
    if not_ready > 2 and not_ready / (not_ready + ready) >= threshold:
        return not_ready, PARTIAL
    return not_ready, NORMAL_STATE


def _node_ref(node: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(node, api_version="v1", kind="Node")


def _taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(t) for t in (node.get("spec") or {}).get("taints") or ()]


def _has_taint(node: Mapping[str, Any], key: str, effect: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == effect for t in _taints(node))


def _swap_taints(b: PlanBuilder, node: Mapping[str, Any], add: Iterable[str], remove: Iterable[str],
                 effect: str, now: float) -> None:
    """``SwapNodeControllerTaint``: one patch of ``spec.taints`` (new ones stamped now)."""
    add, remove = list(add), set(remove)
    taints = [t for t in _taints(node) if not (t.get("key") in remove and t.get("effect") == effect)]
    for key in add:
        if not any(t.get("key") == key and t.get("effect") == effect for t in taints):
            taint = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = format_time(now)
            taints.append(taint)
    if taints != _taints(node):
        b.patch(_node_ref(node), {"spec": {"taints": taints or None}})


# -- node health (tryUpdateNodeHealth) -----------------------------------------------------------


def _update_health(b: PlanBuilder, node: Mapping[str, Any], lease: Mapping[str, Any] | None,
                   saved: NodeHealth | None, now: float, cfg: NodeLifecycleConfig
                   ) -> tuple[dict[str, Any], dict[str, Any] | None, NodeHealth]:
    """Returns (observed Ready condition, current Ready condition, health)."""
    created = creation_time(node) or now
    ready = get_condition(node.get("status"), "Ready")
    if ready is None:
        stamp = meta_of(node).get("creationTimestamp")
        observed = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
        grace = cfg.startup_grace_period
        if saved is None:
            saved = NodeHealth(probe_timestamp=created, ready_transition_timestamp=created)
    else:
        observed = dict(ready)
        grace = cfg.grace_period
        beat, status = ready.get("lastHeartbeatTime"), ready.get("status")
        if saved is None:  # first sight, e.g. after a controller restart
            saved = NodeHealth(probe_timestamp=now, ready_transition_timestamp=now, heartbeat=beat, ready_status=status)
        elif saved.heartbeat != beat:
            transition = now if saved.ready_status != status else saved.ready_transition_timestamp
            saved = msgspec.structs.replace(saved, probe_timestamp=now, ready_transition_timestamp=transition,
                                            heartbeat=beat, ready_status=status)
    renew = parse_time((lease or {}).get("spec", {}).get("renewTime"))
    if renew is not None and (saved.lease_renew is None or saved.lease_renew < renew):
        saved = msgspec.structs.replace(saved, probe_timestamp=now, lease_renew=renew)
    if now <= saved.probe_timestamp + grace:
        return observed, ready, saved
    # Silent for longer than the grace period: every kubelet-owned condition goes Unknown.
    copy_ = deep_copy(dict(node))
    conds = copy_.setdefault("status", {}).setdefault("conditions", [])
    for type_ in _UNKNOWN_CONDITIONS:
        cond = next((c for c in conds if c.get("type") == type_), None)
        if cond is None:
            conds.append({"type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                          "message": "Kubelet never posted node status.",
                          "lastHeartbeatTime": meta_of(node).get("creationTimestamp"),
                          "lastTransitionTime": format_time(now)})
        elif cond.get("status") != "Unknown":
            cond.update(status="Unknown", reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.", lastTransitionTime=format_time(now))
    current = get_condition(copy_["status"], "Ready")
    if current != observed:
        b.update(_node_ref(node), copy_, subresource="status")
        saved = msgspec.structs.replace(saved, ready_transition_timestamp=now)
    return observed, current, saved


def _mark_pods_not_ready(b: PlanBuilder, pods: Iterable[Mapping[str, Any]], now: float) -> None:
    """``MarkPodsNotReady``: Ready=False on the node's pods, each with a "NodeNotReady" event."""
    for pod in pods:
        ready = get_condition(pod.get("status"), "Ready")
        if ready is None or ready.get("status") == "False":
            continue
        copy_ = deep_copy(dict(pod))
        for cond in copy_["status"]["conditions"]:
            if cond.get("type") == "Ready":
                cond.update(status="False", lastTransitionTime=format_time(now))
        ref = ObjectRef.of(pod, api_version="v1", kind="Pod")
        b.update(ref, copy_, subresource="status",
                 on_success=[Event(type=WARNING, reason="NodeNotReady", message="Node is not ready", involved=ref)])


class _Pass:
    """One monitor pass's mutable copy of the state."""

    def __init__(self, state: NodeLifecycleState, now: float, cfg: NodeLifecycleConfig, b: PlanBuilder) -> None:
        self.health = dict(state.health)
        self.zone_states = dict(state.zone_states)
        self.queues = {z: list(q) for z, q in state.taint_queues.items()}
        self.buckets = dict(state.buckets)
        self.now, self.cfg, self.b = now, cfg, b

    def ensure_zone(self, zone: str) -> None:
        if zone not in self.queues:
            self.queues[zone] = []
            self.buckets[zone] = _Bucket(qps=self.cfg.eviction_qps, last=self.now)
        self.zone_states.setdefault(zone, INITIAL)

    def queued(self, name: str) -> bool:
        return any(name in q for q in self.queues.values())

    def unqueue(self, name: str) -> None:
        for q in self.queues.values():
            if name in q:
                q.remove(name)

    def mark_reachable(self, node: Mapping[str, Any]) -> None:
        """``markNodeAsReachable``: drop both NoExecute taints and any queued tainting."""
        _swap_taints(self.b, node, [], [NOT_READY_TAINT, UNREACHABLE_TAINT], "NoExecute", self.now)
        self.unqueue(name_of(node))

    def taint_based_eviction(self, node: Mapping[str, Any], observed: Mapping[str, Any]) -> None:
        """``processTaintBaseEviction``: swap an opposite taint at once, else queue the node."""
        status, name = observed.get("status"), name_of(node)
        if status == "True":
            return self.mark_reachable(node)
        if status not in ("False", "Unknown"):
            return None
        want, opposite = (NOT_READY_TAINT, UNREACHABLE_TAINT) if status == "False" else (UNREACHABLE_TAINT, NOT_READY_TAINT)
        if _has_taint(node, opposite, "NoExecute"):
            _swap_taints(self.b, node, [want], [opposite], "NoExecute", self.now)
        elif not self.queued(name) and not _has_taint(node, want, "NoExecute"):
            self.queues[zone_key(node)].append(name)
        return None

    def zone_qps(self, state: str, size: int) -> float:
        if state == PARTIAL:  # ReducedQPSFunc
            return self.cfg.secondary_eviction_qps if size > self.cfg.large_cluster_threshold else 0.0
        return self.cfg.eviction_qps  # Normal, and FullDisruption in a partly healthy cluster

    def handle_disruption(self, zone_ready: Mapping[str, list[str | None]], nodes: Sequence[Mapping[str, Any]]) -> None:
        new = {z: compute_zone_state(c, self.cfg.unhealthy_zone_threshold)[1] for z, c in zone_ready.items()}
        all_full_now = all(s == FULL for s in new.values())
        for z in [z for z in self.zone_states if z not in zone_ready]:
            del self.zone_states[z]
        all_were_full = all(s == FULL for s in self.zone_states.values())
        if all_full_now and all_were_full:
            return
        if all_full_now:  # every zone down: likely our own partition; stop evicting
            for node in nodes:
                self.mark_reachable(node)
            for z in self.zone_states:
                self.buckets[z] = self.buckets[z].swap(0.0, self.now)
                self.zone_states[z] = FULL
            return
        for z, old in list(self.zone_states.items()):
            if all_were_full or old != new[z]:
                self.buckets[z] = self.buckets[z].swap(self.zone_qps(new[z], len(zone_ready[z])), self.now)
                self.zone_states[z] = new[z]
        if all_were_full:  # leaving master disruption mode: give every node a fresh grace period
            self.health = {n: msgspec.structs.replace(h, probe_timestamp=self.now,
                                                      ready_transition_timestamp=self.now)
                           for n, h in self.health.items()}

    def tainting_pass(self, nodes: Mapping[str, Mapping[str, Any]]) -> None:
        """``doNoExecuteTaintingPass``: per zone, one node per token."""
        for zone in sorted(self.queues):
            bucket, queue = self.buckets[zone].refill(self.now), self.queues[zone]
            while queue and bucket.tokens >= 1.0:
                bucket = msgspec.structs.replace(bucket, tokens=bucket.tokens - 1.0)
                node = nodes.get(queue[0])
                ready = get_condition((node or {}).get("status"), "Ready")
                if node is not None and ready is not None and ready.get("status") in ("False", "Unknown"):
                    want, opposite = ((NOT_READY_TAINT, UNREACHABLE_TAINT) if ready["status"] == "False"
                                      else (UNREACHABLE_TAINT, NOT_READY_TAINT))
                    _swap_taints(self.b, node, [want], [opposite], "NoExecute", self.now)
                queue.pop(0)
            self.buckets[zone] = bucket
            if queue and bucket.qps > 0:
                self.b.requeue_after((1.0 - bucket.tokens) / bucket.qps)

    def state(self, known: Iterable[str]) -> NodeLifecycleState:
        return NodeLifecycleState(health=self.health, zone_states=self.zone_states,
                                  taint_queues={z: tuple(q) for z, q in self.queues.items()},
                                  buckets=self.buckets, known_nodes=tuple(sorted(known)))


def monitor_node_health(nodes: Iterable[Mapping[str, Any]], leases: Iterable[Mapping[str, Any]],
                        pods: Iterable[Mapping[str, Any]], state: NodeLifecycleState | None = None, *,
                        now: float, config: NodeLifecycleConfig | None = None) -> NodeLifecycleResult:
    """One ``monitorNodeHealth`` pass and a tainting pass; call it every ``monitor_period``."""
    cfg, state, b = config or NodeLifecycleConfig(), state or NodeLifecycleState(), PlanBuilder()
    p = _Pass(state, now, cfg, b)
    by_name = {name_of(n): n for n in nodes}
    for name in sorted(set(by_name) - set(state.known_nodes)):
        b.event(NORMAL, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                _node_ref(by_name[name]))
    for name in sorted(set(state.known_nodes) - set(by_name)):
        b.event(NORMAL, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller",
                ObjectRef(api_version="v1", kind="Node", name=name))
        p.health.pop(name, None)
        p.unqueue(name)
    lease_of = {name_of(x): x for x in leases if namespace_of(x) == "kube-node-lease"}
    pods_on: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        pods_on.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    zone_ready: dict[str, list[str | None]] = {}
    for name in sorted(by_name):
        node = by_name[name]
        p.ensure_zone(zone_key(node))
        observed, current, p.health[name] = _update_health(b, node, lease_of.get(name), p.health.get(name), now, cfg)
        if current is None:
            continue
        zone_ready.setdefault(zone_key(node), []).append(current.get("status"))
        p.taint_based_eviction(node, observed)
        if current.get("status") != "True" and observed.get("status") == "True":
            b.event(NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady", _node_ref(node))
            _mark_pods_not_ready(b, pods_on.get(name, []), now)
    p.handle_disruption(zone_ready, [by_name[n] for n in sorted(by_name)])
    p.tainting_pass(by_name)
    b.requeue_after(cfg.monitor_period)
    return NodeLifecycleResult(plan=b.build(), state=p.state(by_name))


def reconcile_node_condition_taints(node: Mapping[str, Any], *, now: float) -> Plan:
    """``doNoScheduleTaintingPass``: the NoSchedule taints that mirror conditions and
    ``spec.unschedulable``, no more and no fewer."""
    b = PlanBuilder()
    want = {key for c in (node.get("status") or {}).get("conditions") or ()
            if (key := _NO_SCHEDULE_BY_CONDITION.get((c.get("type"), c.get("status"))))}
    if (node.get("spec") or {}).get("unschedulable"):
        want.add(_UNSCHEDULABLE_TAINT)
    have = {t.get("key") for t in _taints(node) if t.get("effect") == "NoSchedule" and t.get("key") in _CONDITION_TAINT_KEYS}
    if want != have:
        _swap_taints(b, node, sorted(want - have), have - want, "NoSchedule", now)
    return b.build()


# -- taint-based eviction (tainteviction.Controller) --------------------------------------------


class TaintEvictionResult(msgspec.Struct, frozen=True, kw_only=True):
    plan: Plan
    scheduled: dict[str, float]  # pod key -> when its eviction timer started


def _min_toleration_seconds(tolerations: Sequence[Mapping[str, Any]]) -> float:
    """``getMinTolerationTime``: 0 without tolerations, -1 (forever) without any seconds."""
    if not tolerations:
        return 0.0
    seconds = [t["tolerationSeconds"] for t in tolerations if t.get("tolerationSeconds") is not None]
    if any(s <= 0 for s in seconds):
        return 0.0
    return float(min(seconds)) if seconds else -1.0


def _matching_tolerations(taints: Sequence[Mapping[str, Any]],
                          tolerations: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """``GetMatchingTolerations``: the first toleration of each taint, None if one has none."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return None
        used.append(match)
    return used


def _evict(b: PlanBuilder, pod: Mapping[str, Any], now: float) -> None:
    """``addConditionAndDeletePod``: the DisruptionTarget condition, then the delete."""
    ref = ObjectRef.of(pod, api_version="v1", kind="Pod")
    b.event(NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {ref.key()}", ref)
    b.patch(ref, {"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint",
        "lastTransitionTime": format_time(now)}]}}, patch_type="strategic", subresource="status")
    b.delete(ref)


def reconcile_taint_eviction(node: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]],
                             scheduled: Mapping[str, float] | None = None, *, now: float) -> TaintEvictionResult:
    """``processPodOnNode`` for every pod bound to ``node`` (None: the node is gone)."""
    b, scheduled, kept = PlanBuilder(), dict(scheduled or {}), {}
    taints = [t for t in (_taints(node) if node is not None else []) if t.get("effect") == "NoExecute"]
    node_name = name_of(node) if node is not None else None
    for pod in pods:
        if node_name is None or (pod.get("spec") or {}).get("nodeName") != node_name:
            continue
        if meta_of(pod).get("deletionTimestamp"):
            continue
        ref = ObjectRef.of(pod, api_version="v1", kind="Pod")
        key = ref.key()
        used = _matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        seconds = _min_toleration_seconds(used) if used is not None else 0.0
        if not taints or seconds < 0:
            if key in scheduled:
                b.event(NORMAL, "TaintManagerEviction", f"Cancelling deletion of Pod {key}", ref)
            continue
        start = scheduled.get(key, now)
        if start + seconds <= now:
            _evict(b, pod, now)
            continue
        kept[key] = start
        b.requeue_after(start + seconds - now)
    return TaintEvictionResult(plan=b.build(), scheduled=kept)
