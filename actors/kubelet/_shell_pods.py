"""The kubelet's pod loop: admission, one ``PodWorker`` per pod, and carrying out its actions.

What it is: ``PodManager`` is what ``syncLoop`` + ``podWorkers`` + the admission handlers
are in the kubelet. The actor feeds it the pods bound to its node (an informer with field
selector ``spec.nodeName=<node>``):
- a new pod is admitted (``_shell_admit``) or rejected — phase Failed, the predicate's
  reason, "Pod was rejected: …", and a Warning event;
- an admitted pod gets a ``PodWorker`` on the node's shared ``ContainerRuntime``; every
  change of the pod object but a status-only one (the kubelet reconciles those without a
  sync, as ``checkAndUpdatePod`` does — most are its own writes coming back), every timer at the worker's ``next_wakeup`` and the pod network
  becoming ready make it ``sync``; its actions are carried out at once: ``SetupNetwork`` →
  CNI ADD (``PodNetwork.setup``) then ``network_ready``/``network_failed`` and sync again,
  ``TeardownNetwork`` → CNI DEL, ``ReportStatus`` → the status writer (PATCH on change),
  ``DeletePod`` → DELETE with grace 0 after the final status; its events go to the
  recorder (source ``kubelet``, host the node, ``fieldPath`` for container events);
- pods wait for the node's pod network (a Warning ``NetworkNotReady`` once, as the kubelet's
  "network is not ready" sync error). hostNetwork pods wait too, without the warning: the
  node's host namespace joins the fabric only with its podCIDR (a simplification: Kubernetes
  runs them before the CNI is ready);
- a pod removed from the API while still running (force deletion) is killed with grace 0
  (2 s at least) and torn down, without further API writes; a pod whose deletion the
  kubelet completed is forgotten and its sandbox and containers removed from the runtime.

Concurrency model: runs inside the kubelet actor (informer handlers, timers). Timers are the
actor's ``after``; API writes are the status writer's spawned task.

Invariants: at most one worker and one timer per pod uid; a rejected pod never gets a
worker; admission counts every pod with an unfinished worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from actors.api import cpu_millis, memory_bytes
from actors.kubelet._podworker import (
    DeletePod,
    PodWorker,
    ReportStatus,
    SetupNetwork,
    SyncResult,
    TeardownNetwork,
)
from actors.kubelet._runtime import NotFound
from actors.kubelet._shell_admit import Rejection, RequestsMemo, admit
from actors.kubelet._shell_net import NetworkSetupError
from actors.kubelet._shell_node import NOT_READY_MESSAGE, node_labels
from actors.kubelet._status import rfc3339

if TYPE_CHECKING:
    from runtime import Actor, Timer

    from ._actor import NodeHost
    from ._shell_node import KubeletConfig
    from ._shell_status import KubeletEventRecorder, StatusWriter

__all__ = ["PodManager", "SyncPod"]

Obj = dict[str, Any]
_SAME_INSTANT_LIMIT = 50  # syncs asked for at one instant before the next one is delayed


class SyncPod(msgspec.Struct, frozen=True, tag="kubelet.sync"):
    uid: str


def _meta(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return pod.get("metadata") or {}


def _semantic(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes the kubelet sync a pod again (``podsDifferSemantically``): not its status."""
    meta = _meta(pod)
    return (pod.get("spec"), meta.get("labels"), meta.get("annotations"),
            meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds"))


class PodManager:
    """The pods of one node (see the module docstring)."""

    def __init__(self, actor: Actor, config: KubeletConfig, host: NodeHost,
                 status: StatusWriter, recorder: KubeletEventRecorder) -> None:
        self.actor = actor
        self.config = config
        self.host = host
        self.status = status
        self.recorder = recorder
        self.rejected: dict[str, None] = {}
        self.removed: dict[str, None] = {}  # gone from the API while still running
        self._timers: dict[str, Timer] = {}
        self._instant: tuple[float, int] = (-1.0, 0)
        self._net_warned: dict[str, None] = {}
        self._synced: dict[str, None] = {}  # synced by this kubelet process (after a restart: none)
        self._requests: RequestsMemo = {}  # admission's per-pod requests, by uid
        self._labels = node_labels(config)

    # -- inputs --------------------------------------------------------------------------------
    def pod_changed(self, pod: Obj) -> None:
        uid = _meta(pod).get("uid") or ""
        if not uid:
            return
        if uid in self.rejected:
            if _meta(pod).get("deletionTimestamp"):  # nothing runs: finish the deletion at once
                self.status.delete(uid, _meta(pod).get("namespace") or "default",
                                   _meta(pod).get("name") or "")
            return
        worker = self.host.workers.get(uid)
        if worker is None:
            self.status.known(uid, pod.get("status") or {})
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                if _meta(pod).get("deletionTimestamp"):
                    self.status.delete(uid, _meta(pod).get("namespace") or "default",
                                       _meta(pod).get("name") or "")
                return  # a finished pod this kubelet does not run: nothing to do
            if not _meta(pod).get("deletionTimestamp"):
                rejection = self._admit(pod)
                if rejection is not None:
                    self._reject(pod, rejection)
                    return
            worker = PodWorker(pod, runtime=self.host.runtime, images=self.host.images,
                               node_ip=self.config.node_ip)
            self.host.workers[uid] = worker
        else:
            self.status.known(uid, pod.get("status") or {})  # after a restart: what the API holds
            if worker.finished and _meta(pod).get("deletionTimestamp") and uid not in self.removed:
                # The worker asks for the final delete once; a kubelet that crashed before
                # sending it lost it with its status manager's queue (seed 5355: a Succeeded
                # pod Terminating for good). Kubernetes' status manager retries it on every
                # sync while the pod can be deleted; a second request is idempotent.
                self.status.delete(uid, _meta(pod).get("namespace") or "default",
                                   _meta(pod).get("name") or "")
            changed = _semantic(worker.pod) != _semantic(pod)
            worker.update(pod)
            try:
                rv = int(_meta(pod).get("resourceVersion") or 0)
            except ValueError:
                rv = 0
            self.status.reconcile(uid, pod.get("status") or {}, rv)
            if not changed and uid in self._synced:
                return  # a status-only change (often our own write): reconcile, do not sync
        self.sync(uid)

    def pod_removed(self, pod: Mapping[str, Any]) -> None:
        uid = _meta(pod).get("uid") or ""
        worker = self.host.workers.get(uid)
        self.rejected.pop(uid, None)
        if worker is None:
            self.status.forget(uid)
            return
        if worker.deleted or worker.finished:
            self._forget(uid)
            return
        self.removed[uid] = None
        meta = dict(_meta(worker.pod))
        meta.setdefault("deletionTimestamp", rfc3339(self.actor.wall_time()))
        meta["deletionGracePeriodSeconds"] = 0
        worker.update({**worker.pod, "metadata": meta})
        self.sync(uid)

    def network_ready(self) -> None:
        for uid in list(self.host.workers):
            self.sync(uid)

    def on_timer(self, msg: SyncPod) -> None:
        self._timers.pop(msg.uid, None)
        self.sync(msg.uid)

    def stop(self) -> None:
        for t in self._timers.values():
            t.cancel()
        self._timers.clear()

    # -- admission -------------------------------------------------------------------------------
    def _admit(self, pod: Obj) -> Rejection | None:
        cfg = self.config
        admitted = [w.pod for w in self.host.workers.values() if not w.finished]
        if len(self._requests) > 2 * len(admitted) + 16:  # forget pods long gone
            live = {(p.get("metadata") or {}).get("uid") for p in admitted}
            self._requests = {u: v for u, v in self._requests.items() if u in live}
        return admit(pod, node=cfg.node, labels=self._labels, taints=list(cfg.taints),
                     allocatable=(cpu_millis(cfg.cpu), memory_bytes(cfg.memory), cfg.pods),
                     admitted=admitted, memo=self._requests)

    def _reject(self, pod: Obj, rejection: Rejection) -> None:
        meta = _meta(pod)
        uid = meta.get("uid") or ""
        self.rejected[uid] = None
        self.recorder.pod_event(pod, "Warning", rejection.reason, rejection.message)
        status = {**(pod.get("status") or {}), "phase": "Failed", "reason": rejection.reason,
                  "message": "Pod was rejected: " + rejection.message}
        self.status.set_status(uid, meta.get("namespace") or "default", meta.get("name") or "",
                               status)

    # -- the worker loop -------------------------------------------------------------------------
    def sync(self, uid: str) -> None:
        worker = self.host.workers.get(uid)
        if worker is None:
            return
        if not self.host.network.ready:
            # The node joins the fabric with its podCIDR, so even hostNetwork pods wait for it
            # (in Kubernetes they run before the CNI is ready); only the others are warned.
            if not (worker.pod.get("spec") or {}).get("hostNetwork"):
                self._network_not_ready(worker)
            return
        now = self.actor.wall_time()
        if uid not in self._synced and worker.status is not None and not self.status.has(uid):
            # A restarted kubelet: its status manager starts empty, as the real one does,
            # and learns each pod's status from the first sync (the worker, which outlived the
            # process, reports only changes) — without it, a condition another writer set
            # meanwhile (NodeNotReady's Ready=False) would never be corrected.
            meta = _meta(worker.pod)
            self.status.set_status(uid, meta.get("namespace") or "default",
                                   meta.get("name") or "", worker.status)
        self._synced[uid] = None
        result: SyncResult | None = None
        for _ in range(8):
            result = worker.sync(now)
            again = self._execute(uid, worker, result, now)
            for e in result.events:
                self.recorder.pod_event(worker.pod, e.type, e.reason, e.message, e.field_path)
            if not again:
                break
        assert result is not None
        if worker.deleted and uid in self.removed:
            self._forget(uid)
            return
        self._arm(uid, result.next_wakeup, now)

    def _execute(self, uid: str, worker: PodWorker, result: SyncResult, now: float) -> bool:
        again = False
        meta = _meta(worker.pod)
        ns, name = meta.get("namespace") or "default", meta.get("name") or ""
        for action in result.actions:
            if isinstance(action, SetupNetwork):
                try:
                    ip, listen, unlisten = self.host.network.setup(action, worker.pod)
                except NetworkSetupError as e:
                    worker.network_failed(action.sandbox_id, str(e), now)
                else:
                    worker.network_ready(action.sandbox_id, ip, listen=listen, unlisten=unlisten)
                again = True
            elif isinstance(action, TeardownNetwork):
                self.host.network.teardown(action)
            elif isinstance(action, ReportStatus) and uid not in self.removed:
                self.status.set_status(uid, ns, name, action.status)
            elif isinstance(action, DeletePod) and uid not in self.removed:
                self.status.delete(uid, ns, name)
        return again

    def _network_not_ready(self, worker: PodWorker) -> None:
        if worker.uid in self._net_warned:
            return
        self._net_warned[worker.uid] = None
        self.recorder.pod_event(worker.pod, "Warning", "NetworkNotReady",
                                f"network is not ready: {NOT_READY_MESSAGE}")

    def _arm(self, uid: str, wake: float | None, now: float) -> None:
        old = self._timers.pop(uid, None)
        if old is not None:
            old.cancel()
        if wake is None:
            return
        delay = max(0.0, wake - now)
        if delay == 0.0:
            at, n = self._instant
            self._instant = (now, n + 1 if at == now else 1)
            if self._instant[1] > _SAME_INSTANT_LIMIT:
                delay = 1e-3  # a worker asking again and again at one instant: let time move
        self._timers[uid] = self.actor.after(delay, SyncPod(uid))

    def _forget(self, uid: str) -> None:
        """The pod is gone from the API and from the node: drop every trace of it."""
        timer = self._timers.pop(uid, None)
        if timer is not None:
            timer.cancel()
        self.host.workers.pop(uid, None)
        self.removed.pop(uid, None)
        self._net_warned.pop(uid, None)
        self._synced.pop(uid, None)
        self.status.forget(uid)
        runtime = self.host.runtime
        for sb in runtime.list_sandboxes(uid):
            try:
                runtime.remove_pod_sandbox(sb.id)
            except NotFound:
                pass
