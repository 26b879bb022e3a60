"""The scheduling queue: activeQ, backoffQ and the unschedulable pods (``scheduling_queue.go``).

What it is: ``SchedulingQueue`` holds pending pods. ``pop()`` hands out the most important
active pod (higher priority first, then earlier queue timestamp, then arrival); a pod
that fails goes back through ``add_unschedulable``: to the unschedulable set, or straight
to backoff if a cluster event arrived while it was being scheduled. Cluster events
(``move_all_to_active_or_backoff``) release unschedulable pods whose rejecting plugins
registered for the event; pods waiting longer than 5 minutes are released anyway
(``flush``). A released pod still inside its back-off waits in backoffQ.

Concurrency model: none. Time is passed in (``now``, seconds); nothing blocks: ``pop``
returns None when activeQ is empty and ``next_wakeup`` tells the shell when to flush.

Invariants:
- A pod (by key) is in at most one of activeQ, backoffQ, unschedulable.
- Back-off is 1 s after the first attempt, doubling per attempt, capped at 10 s, counted
  from the time the pod was last put back (``QueuedPodInfo.timestamp``).
- A pod with scheduling gates never reaches activeQ; it waits in the unschedulable set
  until an update removes its gates.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from actors.scheduler._framework import ActionType, ClusterEvent
from actors.scheduler._types import PodInfo

__all__ = [
    "ASSIGNED_POD_ADD",
    "ASSIGNED_POD_DELETE",
    "ASSIGNED_POD_UPDATE",
    "FORCE_ACTIVATE",
    "NODE_ADD",
    "NODE_DELETE",
    "QueuedPodInfo",
    "SchedulingQueue",
    "UNSCHEDULABLE_TIMEOUT",
    "node_update_event",
]

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
DEFAULT_POD_MAX_IN_UNSCHEDULABLE = 300.0  # podMaxInUnschedulablePodsDuration

NODE_ADD = ClusterEvent("Node", ActionType.ADD)
NODE_DELETE = ClusterEvent("Node", ActionType.DELETE)
ASSIGNED_POD_ADD = ClusterEvent("Pod", ActionType.ADD)
ASSIGNED_POD_DELETE = ClusterEvent("Pod", ActionType.DELETE)
ASSIGNED_POD_UPDATE = ClusterEvent("Pod", ActionType.UPDATE)
UNSCHEDULABLE_TIMEOUT = ClusterEvent("*", ActionType.ALL)
FORCE_ACTIVATE = ClusterEvent("*", ActionType.ALL)


def node_update_event(old: Mapping[str, Any], new: Mapping[str, Any]) -> ClusterEvent:
    """Which parts of a Node changed, as the event Kubernetes' node handler emits."""
    action = 0
    o_status, n_status = old.get("status") or {}, new.get("status") or {}
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    if o_status.get("allocatable") != n_status.get("allocatable"):
        action |= ActionType.UPDATE_NODE_ALLOCATABLE
    if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
        action |= ActionType.UPDATE_NODE_LABEL
    if (o_spec.get("taints") != n_spec.get("taints")
            or o_spec.get("unschedulable") != n_spec.get("unschedulable")):
        action |= ActionType.UPDATE_NODE_TAINT
    if o_status.get("conditions") != n_status.get("conditions"):
        action |= ActionType.UPDATE_NODE_CONDITION
    return ClusterEvent("Node", action)


class QueuedPodInfo:
    """A pod in the queue and its scheduling history (``framework.QueuedPodInfo``)."""

    __slots__ = ("attempts", "gated", "initial_attempt_timestamp", "pod_info", "seq",
                 "timestamp", "token", "unschedulable_plugins")

    def __init__(self, pod_info: PodInfo, now: float, seq: int) -> None:
        self.pod_info = pod_info
        self.timestamp = now
        self.attempts = 0
        self.initial_attempt_timestamp: float | None = None
        self.unschedulable_plugins: frozenset[str] = frozenset()
        self.gated = bool(pod_info.scheduling_gates)
        self.seq = seq
        self.token = 0  # the sequence number of its live heap entry

    @property
    def key(self) -> str:
        return self.pod_info.key

    def __repr__(self) -> str:
        return (f"QueuedPodInfo({self.pod_info.namespace}/{self.pod_info.name}, "
                f"attempts={self.attempts}, ts={self.timestamp})")


def priority_sort_key(q: QueuedPodInfo) -> tuple[Any, ...]:
    """PrioritySort: higher priority first, then the earlier queue timestamp."""
    return (-q.pod_info.priority, q.timestamp, q.seq)


def _as_pod_info(pod: PodInfo | Mapping[str, Any]) -> PodInfo:
    return pod if isinstance(pod, PodInfo) else PodInfo.from_api(pod)


def _key_of(pod: PodInfo | Mapping[str, Any] | str) -> str:
    if isinstance(pod, str):
        return pod
    if isinstance(pod, PodInfo):
        return pod.key
    meta = pod.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def _spec_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """``isPodUpdated``: anything but status, resourceVersion, generation, managedFields."""
    def strip(p: Mapping[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (p.get("metadata") or {}).items()
                if k not in ("resourceVersion", "generation", "managedFields")}
        return {**{k: v for k, v in p.items() if k != "status"}, "metadata": meta}
    return strip(old) != strip(new)


class SchedulingQueue:
    def __init__(
        self, *, pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
        pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
        pod_max_in_unschedulable: float = DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
        events_to_register: Mapping[str, Sequence[ClusterEvent]] | None = None,
        sort_key: Callable[[QueuedPodInfo], Any] = priority_sort_key,
    ) -> None:
        self.pod_initial_backoff = pod_initial_backoff
        self.pod_max_backoff = pod_max_backoff
        self.pod_max_in_unschedulable = pod_max_in_unschedulable
        self.events_to_register = dict(events_to_register or {})
        self._sort_key = sort_key
        self._active: dict[str, QueuedPodInfo] = {}
        self._active_heap: list[tuple[Any, int, str]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._nominated: dict[str, tuple[str, PodInfo]] = {}  # pod key -> (node, pod)
        self._seq = 0
        self.scheduling_cycle = 0
        self.move_request_cycle = -1

    # -- bookkeeping ----------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _push_active(self, q: QueuedPodInfo) -> None:
        if q.gated:
            self._unschedulable[q.key] = q  # PreEnqueue (SchedulingGates) rejects it
            return
        self._active[q.key] = q
        q.token = self._next_seq()
        heapq.heappush(self._active_heap, (self._sort_key(q), q.token, q.key))

    def _push_backoff(self, q: QueuedPodInfo) -> None:
        self._backoff[q.key] = q
        q.token = self._next_seq()
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(q), q.token, q.key))

    def _remove(self, key: str) -> QueuedPodInfo | None:
        # Heap entries of a removed pod become stale and are skipped lazily.
        for m in (self._active, self._backoff, self._unschedulable):
            if key in m:
                return m.pop(key)
        return None

    def backoff_duration(self, q: QueuedPodInfo) -> float:
        """``calculateBackoffDuration``: 0 before any attempt, then 1, 2, 4, ... 10 s."""
        if q.attempts == 0:
            return 0.0
        d = self.pod_initial_backoff
        for _ in range(1, q.attempts):
            if d > self.pod_max_backoff - d:
                return self.pod_max_backoff
            d += d
        return d

    def backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.timestamp + self.backoff_duration(q)

    def is_backing_off(self, q: QueuedPodInfo, now: float) -> bool:
        return self.backoff_expiry(q) > now

    def _requeue(self, q: QueuedPodInfo, now: float) -> str:
        if q.gated:
            self._unschedulable[q.key] = q
            return "unschedulable"
        if self.is_backing_off(q, now):
            self._push_backoff(q)
            return "backoff"
        self._push_active(q)
        return "active"

    # -- the queue's API ------------------------------------------------------------------

    def add(self, pod: PodInfo | Mapping[str, Any], now: float) -> None:
        """A new pending pod: to activeQ (or the unschedulable set while gated)."""
        pi = _as_pod_info(pod)
        old = self._remove(pi.key)
        q = old if old is not None else QueuedPodInfo(pi, now, self._next_seq())
        q.pod_info, q.gated = pi, bool(pi.scheduling_gates)
        if old is None:
            q.timestamp = now
        self._push_active(q)

    def update(self, old: PodInfo | Mapping[str, Any] | None,
               new: PodInfo | Mapping[str, Any], now: float) -> None:
        new_pi = _as_pod_info(new)
        key = new_pi.key
        if key in self._active or key in self._backoff:
            q = self._remove(key)
            assert q is not None
            q.pod_info, q.gated = new_pi, bool(new_pi.scheduling_gates)
            in_backoff = not q.gated and self.is_backing_off(q, now) and q.attempts > 0
            (self._push_backoff if in_backoff else self._push_active)(q)
        elif key in self._unschedulable:
            q = self._unschedulable.pop(key)
            old_pod = None if old is None else _as_pod_info(old).pod
            changed = old_pod is None or _spec_changed(old_pod, new_pi.pod)
            q.pod_info, q.gated = new_pi, bool(new_pi.scheduling_gates)
            if changed:
                self._requeue(q, now)  # the update may have made it schedulable
            else:
                self._unschedulable[key] = q
        else:
            self._push_active(QueuedPodInfo(new_pi, now, self._next_seq()))
        if key in self._nominated:
            self._nominated[key] = (self._nominated[key][0], new_pi)

    def delete(self, pod: PodInfo | Mapping[str, Any]) -> None:
        key = _key_of(pod)
        self._remove(key)
        self._nominated.pop(key, None)

    def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule, or None if activeQ is empty (starts a cycle)."""
        while self._active_heap:
            _, token, key = heapq.heappop(self._active_heap)
            q = self._active.get(key)
            if q is None or q.token != token:
                continue  # a stale entry: the pod left or was re-pushed
            del self._active[key]
            q.attempts += 1
            self.scheduling_cycle += 1
            return q
        return None

    def add_unschedulable(self, q: QueuedPodInfo, cycle: int, now: float,
                          unschedulable_plugins: Iterable[str] | None = None) -> str:
        """A pod that failed in scheduling cycle ``cycle``; returns the queue it went to.

        If a cluster event was seen since that cycle began (or no plugin rejected it, as
        after an error), it goes to backoff/active at once; otherwise it waits for an event.
        """
        if unschedulable_plugins is not None:
            q.unschedulable_plugins = frozenset(unschedulable_plugins)
        self._remove(q.key)
        q.timestamp = now
        if q.initial_attempt_timestamp is None:
            q.initial_attempt_timestamp = now
        if self.move_request_cycle >= cycle or not q.unschedulable_plugins:
            return self._requeue(q, now)
        self._unschedulable[q.key] = q
        return "unschedulable"

    def activate(self, pods: Iterable[PodInfo | Mapping[str, Any]], now: float) -> None:
        """Move these pods to activeQ now, skipping back-off (``Activate``)."""
        for pod in pods:
            key = _key_of(pod)
            q = self._backoff.pop(key, None) or self._unschedulable.pop(key, None)
            if q is not None:
                self._push_active(q)

    def flush(self, now: float) -> int:
        """Both periodic flushes: completed back-offs, and pods unschedulable > 5 min."""
        return self.flush_backoff_completed(now) + self.flush_unschedulable_leftover(now)

    def flush_backoff_completed(self, now: float) -> int:
        moved = 0
        while self._backoff_heap and self._backoff_heap[0][0] <= now:
            _, token, key = heapq.heappop(self._backoff_heap)
            q = self._backoff.get(key)
            if q is None or q.token != token:
                continue  # stale entry
            del self._backoff[key]
            self._push_active(q)
            moved += 1
        return moved

    def flush_unschedulable_leftover(self, now: float) -> int:
        stale = [q for q in self._unschedulable.values()
                 if not q.gated and now - q.timestamp > self.pod_max_in_unschedulable]
        for q in stale:
            del self._unschedulable[q.key]
            self._requeue(q, now)
        return len(stale)

    def move_all_to_active_or_backoff(
        self, event: ClusterEvent, now: float,
        pre_check: Callable[[PodInfo], bool] | None = None,
    ) -> int:
        """Release the unschedulable pods this event may help (``MoveAllToActiveOrBackoffQueue``).

        A pod is released if one of the plugins that rejected it registered an event
        matching this one (or no plugin is on record); ``pre_check`` may veto a pod.
        """
        self.move_request_cycle = self.scheduling_cycle
        moved = 0
        for q in list(self._unschedulable.values()):
            if q.gated or not self._pod_matches_event(q, event):
                continue
            if pre_check is not None and not pre_check(q.pod_info):
                continue
            del self._unschedulable[q.key]
            self._requeue(q, now)
            moved += 1
        return moved

    def _pod_matches_event(self, q: QueuedPodInfo, event: ClusterEvent) -> bool:
        if event.resource == "*" or not q.unschedulable_plugins:
            return True
        for plugin in q.unschedulable_plugins:
            registered = self.events_to_register.get(plugin)
            if registered is None:
                return True  # a plugin without EnqueueExtensions is woken by any event
            if any(r.matches(event) for r in registered):
                return True
        return False

    # -- nominated pods (the Nominator) ----------------------------------------------------

    def add_nominated_pod(self, pod: PodInfo, node_name: str) -> None:
        if node_name:
            self._nominated[pod.key] = (node_name, pod)
        else:
            self._nominated.pop(pod.key, None)

    def delete_nominated_pod(self, pod: PodInfo) -> None:
        self._nominated.pop(pod.key, None)

    def nominated_pods(self) -> dict[str, list[PodInfo]]:
        """Node name -> pods nominated to it, in nomination order."""
        out: dict[str, list[PodInfo]] = {}
        for node, pi in self._nominated.values():
            out.setdefault(node, []).append(pi)
        return out

    # -- introspection --------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        """When the earliest back-off ends (for the shell's flush timer)."""
        live = [self.backoff_expiry(q) for q in self._backoff.values()]
        return min(live) if live else None

    def pending_pods(self) -> tuple[list[dict[str, Any]], str]:
        """All queued pods, and Kubernetes' summary line."""
        pods = [q.pod_info.pod for m in (self._active, self._backoff, self._unschedulable)
                for q in m.values()]
        summary = (f"activeQ:{len(self._active)}; backoffQ:{len(self._backoff)}; "
                   f"unschedulablePods:{len(self._unschedulable)}")
        return pods, summary

    def where(self, pod: PodInfo | Mapping[str, Any] | str) -> str | None:
        key = _key_of(pod)
        for name, m in (("active", self._active), ("backoff", self._backoff),
                        ("unschedulable", self._unschedulable)):
            if key in m:
                return name
        return None

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)
