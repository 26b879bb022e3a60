"""The scheduler shell's scheduling and binding cycles (kube-scheduler's ``schedule_one.go``).

What it is, step by step as Kubernetes does it:
- **scheduling cycle** (synchronous, on the leader's loop): pop the queue; skip a pod being
  deleted (a ``FailedScheduling`` event "skip schedule deleting pod: ns/name") or one
  already assumed; bring the snapshot up to date from the cache; run the pure
  ``schedule_one`` over it. No fit: the fit-error message ("0/3 nodes are available: 3
  Insufficient cpu."), PostFilter (preemption) and the failure handler. A fit: *assume*
  the pod on the node in the cache (so the next cycle already counts it), drop its
  nomination, run Reserve and Permit, and hand the binding to a task.
- **binding cycle** (a task per pod, so scheduling never waits for the apiserver): PreBind,
  Bind (DefaultBinder builds the ``v1.Binding``; the task POSTs it to ``pods/binding``),
  ``finish_binding``, then the ``Scheduled`` event "Successfully assigned ns/name to node"
  and PostBind. A failed binding *forgets* the assumed pod (freeing its resources for the
  others: an AssignedPodDelete move) and goes through the failure handler.
- **failure handler** (``handleSchedulingFailure``): unless the informer shows the pod gone
  or already bound, put it back (unschedulable set, or backoff when an event arrived
  meanwhile or no plugin is to blame), record the nomination, emit ``FailedScheduling``
  (Warning) and patch ``status.conditions`` PodScheduled=False with reason
  ``Unschedulable`` (or ``SchedulerError``) and the message — only when the condition or
  ``nominatedNodeName`` actually changes (``updatePod``).
- **preemption** (``prepareCandidate``): each victim gets the ``DisruptionTarget``
  condition (PreemptionByScheduler), is deleted (its normal grace period) and gets the
  event "Preempted by pod <uid> on node <node>"; lower-priority pods nominated to that node
  lose their nomination. The preemptor is nominated (``status.nominatedNodeName``) and
  waits in the queue until the victims are gone.

Concurrency model: the cycle runs synchronously between two awaits of the leader's loop,
so it sees one consistent cache; API writes (bindings, status patches, deletions) run in
spawned tasks and report back by touching the cache and queue from the same loop thread.

Invariants: a pod is assumed at most once; every assumed pod is either confirmed by the
informer or forgotten when its binding fails; no API write happens inside the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from actors.api import ApiError
from actors.client import TransportError, format_time
from actors.scheduler._algorithm import NoNodesAvailable, schedule_one
from actors.scheduler._cache import CacheError
from actors.scheduler._framework import Code, Diagnosis, Status, fit_error_message
from actors.scheduler._plugins import BINDING_KEY
from actors.scheduler._queue import ASSIGNED_POD_DELETE
from actors.scheduler._types import PodInfo

if TYPE_CHECKING:
    from actors.client import Client, EventRecorder, SharedInformer
    from actors.scheduler._algorithm import AlgorithmState, ScheduleResult
    from actors.scheduler._cache import SchedulerCache
    from actors.scheduler._framework import ClusterEvent, CycleState, PostFilterResult, Profile
    from actors.scheduler._queue import QueuedPodInfo, SchedulingQueue
    from actors.scheduler._types import Snapshot

__all__ = ["REASON_SCHEDULER_ERROR", "REASON_UNSCHEDULABLE", "SchedulingCycle"]

REASON_UNSCHEDULABLE = "Unschedulable"  # v1.PodReasonUnschedulable
REASON_SCHEDULER_ERROR = "SchedulerError"  # v1.PodReasonSchedulerError
NOTE_LENGTH_LIMIT = 1024  # validation.NoteLengthLimit: event messages are truncated to it


def truncate_message(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[:NOTE_LENGTH_LIMIT - 4] + " ..."


def _as_pod(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A reference-able pod: list items may lack kind/apiVersion."""
    return {**obj, "kind": "Pod", "apiVersion": "v1"}


class SchedulingCycle:
    """Mixed into ``KubeScheduler``: the attributes below are set in its ``on_start``."""

    cache: SchedulerCache
    queue: SchedulingQueue
    snapshot: Snapshot
    profiles: dict[str, Profile]
    algo: AlgorithmState
    pods: SharedInformer
    client: Client
    recorders: dict[str, EventRecorder]
    counts: dict[str, int]
    log: Any

    if TYPE_CHECKING:  # provided by Actor and KubeScheduler
        def now(self) -> float: ...
        def wall_time(self) -> float: ...
        def spawn(self, coro: Any, *, name: str | None = None) -> Any: ...
        def _kick(self) -> None: ...
        def _move(self, event: ClusterEvent, pre_check: Any = None) -> None: ...

    # ---- the scheduling cycle ------------------------------------------------------------
    def schedule_next(self) -> bool:
        """One scheduling cycle for the next active pod; False when activeQ is empty."""
        qp = self.queue.pop()
        if qp is None:
            return False
        self.counts["attempts"] += 1
        pi = qp.pod_info
        profile = self.profiles.get(pi.scheduler_name)
        if profile is None:
            return True  # not ours: the handlers never queue such pods
        if pi.terminating:
            self.recorders[profile.name].event(
                _as_pod(pi.pod), "Warning", "FailedScheduling",
                f"skip schedule deleting pod: {pi.namespace}/{pi.name}")
            return True
        if self.cache.is_assumed_pod(pi):
            return True
        cycle = self.queue.scheduling_cycle
        self.cache.update_snapshot(self.snapshot)
        try:
            result = schedule_one(pi, self.snapshot, profile, self.algo,
                                  nominated=self.queue.nominated_pods())
        except NoNodesAvailable as e:
            self._failure(qp, profile, cycle, REASON_UNSCHEDULABLE, str(e), (), "")
            return True
        if result.node is None:
            self._no_fit(qp, profile, cycle, result)
        else:
            self._assume(qp, profile, cycle, result)
        return True

    def _no_fit(self, qp: QueuedPodInfo, profile: Profile, cycle: int,
                result: ScheduleResult) -> None:
        self.counts["unschedulable"] += 1
        msg = fit_error_message(result.diagnosis, self.snapshot.num_nodes())
        pf = result.post_filter
        # No PostFilter plugins: clear the nomination. A PostFilter that gave no result
        # (the pod may not preempt now, e.g. its victims are still terminating): keep it.
        nominate: str | None = ""
        if profile.post_filter:
            nominate = None if pf is None else pf.nominated_node_name
        if pf is not None and pf.nominated_node_name:
            self._prepare_candidate(qp.pod_info, pf, profile)
        self._failure(qp, profile, cycle, REASON_UNSCHEDULABLE, msg,
                      result.diagnosis.unschedulable_plugins, nominate)

    def _assume(self, qp: QueuedPodInfo, profile: Profile, cycle: int,
                result: ScheduleResult) -> None:
        pi, node, cstate = qp.pod_info, result.node, result.cycle_state
        assert node is not None
        try:
            assumed = self.cache.assume_pod(pi, node)
        except CacheError as e:
            self._failure(qp, profile, cycle, REASON_SCHEDULER_ERROR, str(e), (), "")
            return
        self.queue.delete_nominated_pod(pi)
        s = profile.run_reserve_plugins_reserve(cstate, assumed, node)
        if s is None:
            s, _ = profile.run_permit_plugins(cstate, assumed, node)
            if s is not None and s.code == Code.WAIT:
                # Waiting pods (WaitOnPermit) are not modelled: fail loudly but recoverably.
                s = Status(Code.ERROR, ("Permit plugins asked to wait; waiting pods are not "
                                        "supported by this scheduler shell",))
            if s is not None:
                profile.run_reserve_plugins_unreserve(cstate, assumed, node)
        if s is not None:
            self._cache_forget(assumed)
            self._rejected_at(qp, profile, cycle, node, s)
            return
        self.counts["assumed"] += 1
        self.spawn(self._binding_cycle(qp, profile, assumed, node, cstate),
                   name=f"bind:{pi.namespace}/{pi.name}")

    def _rejected_at(self, qp: QueuedPodInfo, profile: Profile, cycle: int, node: str,
                     s: Status) -> None:
        """A Reserve/Permit rejection is a FitError over one node; anything else an error."""
        if s.is_rejected():
            d = Diagnosis()
            d.node_to_status[node] = s
            d.add_plugin_status(s)
            self._failure(qp, profile, cycle, REASON_UNSCHEDULABLE, fit_error_message(d, 1),
                          d.unschedulable_plugins, "")
        else:
            self._failure(qp, profile, cycle, REASON_SCHEDULER_ERROR, s.message, (), "")

    def _cache_forget(self, assumed: PodInfo) -> bool:
        try:
            self.cache.forget_pod(assumed)
        except CacheError as e:
            self.log.info("scheduler cache ForgetPod failed", error=str(e))
            return False
        return True

    # ---- the binding cycle ---------------------------------------------------------------
    async def _binding_cycle(self, qp: QueuedPodInfo, profile: Profile, assumed: PodInfo,
                             node: str, cstate: CycleState) -> None:
        s = profile.run_pre_bind_plugins(cstate, assumed, node)
        error = s.message if s is not None else ""
        if s is None:
            s = profile.run_bind_plugins(cstate, assumed, node)
            if s is None and cstate.get(BINDING_KEY) is not None:
                error = await self._post_binding(assumed, node)
            elif s is not None:
                error = s.message or "no Bind plugin bound the pod"
        self.cache.finish_binding(assumed, self.now())
        if error:
            self._binding_failed(qp, profile, assumed, node, cstate, error)
            return
        self.counts["bound"] += 1
        self.recorders[profile.name].event(
            _as_pod(assumed.pod), "Normal", "Scheduled",
            f"Successfully assigned {assumed.namespace}/{assumed.name} to {node}")
        profile.run_post_bind_plugins(cstate, assumed, node)

    async def _post_binding(self, assumed: PodInfo, node: str) -> str:
        """POST pods/<name>/binding; "" on success, else the error as the status message."""
        try:
            await self.client.bind(assumed.namespace, assumed.name, node)
        except (ApiError, TransportError) as e:
            text = e.message if isinstance(e, ApiError) else str(e)
            return f'running Bind plugin "DefaultBinder": {text}'
        return ""

    def _binding_failed(self, qp: QueuedPodInfo, profile: Profile, assumed: PodInfo,
                        node: str, cstate: CycleState, error: str) -> None:
        self.counts["bind_failures"] += 1
        profile.run_reserve_plugins_unreserve(cstate, assumed, node)
        if self._cache_forget(assumed):
            # Forgetting frees what the pod held: other pods may fit now (AssignedPodDelete).
            self._move(ASSIGNED_POD_DELETE)
        self._failure(qp, profile, self.queue.scheduling_cycle, REASON_SCHEDULER_ERROR, error,
                      (), "")

    # ---- failures ------------------------------------------------------------------------
    def _failure(self, qp: QueuedPodInfo, profile: Profile, cycle: int, reason: str,
                 message: str, plugins: Any, nominate: str | None) -> None:
        """``handleSchedulingFailure``; ``nominate`` None keeps the nomination, "" clears it."""
        if reason == REASON_SCHEDULER_ERROR:
            self.counts["errors"] += 1
        pi = qp.pod_info
        cached = self.pods.get(pi.name, pi.namespace)
        if cached is None:
            self.log.info("pod doesn't exist in informer cache", pod=f"{pi.namespace}/{pi.name}")
        elif (cached.get("spec") or {}).get("nodeName"):
            self.log.info("pod has been assigned to node; not requeued",
                          pod=f"{pi.namespace}/{pi.name}")
        else:
            qp.pod_info = PodInfo.from_api(cached)
            if self.queue.where(qp.key) is None:  # AddUnschedulableIfNotPresent
                self.queue.add_unschedulable(qp, cycle, self.now(), plugins)
            if nominate is not None:
                self.queue.add_nominated_pod(qp.pod_info, nominate)
            self._kick()
        self.recorders[profile.name].event(_as_pod(pi.pod), "Warning", "FailedScheduling",
                                           truncate_message(message))
        self._update_pod_status(cached if cached is not None else pi.pod, reason, message,
                                nominate)

    def _update_pod_status(self, pod: Mapping[str, Any], reason: str, message: str,
                           nominate: str | None) -> None:
        """``updatePod``: patch PodScheduled=False and nominatedNodeName, if either changes."""
        status = pod.get("status") or {}
        old = next((c for c in status.get("conditions") or ()
                    if c.get("type") == "PodScheduled"), None)
        same_status = old is not None and old.get("status") == "False"
        cond = {"type": "PodScheduled", "status": "False", "reason": reason,
                "message": message, "lastProbeTime": None,
                "lastTransitionTime": (old.get("lastTransitionTime") if same_status and old
                                       else format_time(self.wall_time()))}
        cond_changed = not same_status or any(
            (old or {}).get(k) != cond[k] for k in ("reason", "message"))
        nnn_changed = nominate is not None and (status.get("nominatedNodeName") or "") != nominate
        if not (cond_changed or nnn_changed):
            return
        patch: dict[str, Any] = {}
        if cond_changed:
            patch["conditions"] = [cond]
        if nnn_changed:
            patch["nominatedNodeName"] = nominate or None
        meta = pod.get("metadata") or {}
        self.spawn(self._patch_status(meta.get("namespace") or "default", meta.get("name", ""),
                                      {"status": patch}))

    async def _patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> bool:
        try:
            await self.client.patch("pods", name, patch, "strategic", namespace,
                                    subresource="status")
        except (ApiError, TransportError) as e:
            if not (isinstance(e, ApiError) and e.code == 404):
                self.log.info("error updating pod status", pod=f"{namespace}/{name}",
                              error=str(e))
            return False
        return True

    # ---- preemption ------------------------------------------------------------------------
    def _prepare_candidate(self, preemptor: PodInfo, pf: PostFilterResult,
                           profile: Profile) -> None:
        node = pf.nominated_node_name
        for victim in pf.victims:
            self.counts["preempted"] += 1
            self.spawn(self._preempt(preemptor, victim, node, profile),
                       name=f"preempt:{victim.namespace}/{victim.name}")
        # Lower-priority pods nominated to this node lose the nomination: they no longer fit.
        for p in list(self.queue.nominated_pods().get(node, ())):
            if p.priority < preemptor.priority and p.key != preemptor.key:
                self.queue.delete_nominated_pod(p)
                self.spawn(self._patch_status(p.namespace, p.name,
                                              {"status": {"nominatedNodeName": None}}))

    async def _preempt(self, preemptor: PodInfo, victim: PodInfo, node: str,
                       profile: Profile) -> None:
        cond = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                "message": f"{profile.name}: preempting to accommodate a higher priority pod",
                "lastTransitionTime": format_time(self.wall_time())}
        if not await self._patch_status(victim.namespace, victim.name,
                                        {"status": {"conditions": [cond]}}):
            return
        try:
            await self.client.delete("pods", victim.name, victim.namespace)
        except (ApiError, TransportError) as e:
            if not (isinstance(e, ApiError) and e.code == 404):
                self.log.info("tried to preempt pod", pod=f"{victim.namespace}/{victim.name}",
                              error=str(e))
                return
        self.recorders[profile.name].event(_as_pod(victim.pod), "Normal", "Preempted",
                                           f"Preempted by pod {preemptor.uid} on node {node}")
