"""The kubelet's writes about pods: the status manager and the event recorder.

What it is:
- ``StatusWriter``: the kubelet's status manager. ``set_status`` records the latest status
  of a pod; one writer task sends, per pod in the order they became dirty, a strategic
  merge PATCH of ``pods/<name>/status`` (conditions merge by type: other writers' stay) —
  only when the status differs from the last one the API accepted, and only the latest
  (intermediate statuses are coalesced, as ``syncBatch`` does). Keys the new status lacks
  are set to null so the stored status equals the kubelet's.
  ``delete`` queues the final ``DELETE`` with ``gracePeriodSeconds: 0`` (and a uid
  precondition), sent after the pod's last status. A pod that is gone (404) is forgotten;
  transport failures are retried after 1 s; other rejections are logged and dropped.
- ``KubeletEventRecorder``: the client's ``EventRecorder`` that also stamps
  ``involvedObject.fieldPath`` (``spec.containers{nginx}``) on container events, as the
  kubelet's ``recorder.Eventf(ref-with-fieldPath, ...)`` does, and keeps event names unique
  when several events of one object share a virtual instant (Pulled, Created, Started, or
  another component's event about the same pod).

Concurrency model: both belong to the kubelet actor; their writes run in tasks spawned on it
(``actor.spawn``). Nothing blocks a handler.

Invariants: for each pod, statuses are written in the order they were set and the delete
follows the last of them; a status equal to the last written is never sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from actors.api import ApiError
from actors.client import Client, EventRecorder, TransportError

if TYPE_CHECKING:
    from runtime import Actor

__all__ = ["KubeletEventRecorder", "StatusWriter"]

Obj = dict[str, Any]
RETRY = 1.0



# PodStatus lists merged by key under a strategic merge patch (their patchMergeKey).
_MERGE_KEYS = {"conditions": "type", "podIPs": "ip", "hostIPs": "ip"}


def status_patch(old: Obj, new: Obj) -> Obj:
    """The strategic merge patch from the status last sent to ``new`` (the kubelet's
    ``CreateTwoWayMergePatch``): removed fields become null, and so do fields removed from
    an element of a list merged by key (a condition turning Ready drops its reason and
    message). Elements are never deleted: conditions other writers own stay theirs."""
    patch: Obj = {k: None for k in old if k not in new}
    for k, v in new.items():
        key = _MERGE_KEYS.get(k)
        was = old.get(k)
        if key is None or not isinstance(v, list) or not isinstance(was, list):
            patch[k] = v
            continue
        before = {e.get(key): e for e in was if isinstance(e, dict)}
        items = []
        for e in v:
            prev = before.pop(e.get(key), None) if isinstance(e, dict) else None
            items.append({**{f: None for f in prev if f not in e}, **e} if prev else e)
        patch[k] = items
    return patch


class KubeletEventRecorder(EventRecorder):
    """``EventRecorder`` with a field path for container events (see the module docstring)."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        super().__init__(client, component, host)
        self._field_path = ""
        self._last_nanos: dict[str, int] = {}
        self._offset = client.actor.rng.randrange(1, 1000)

    def pod_event(self, pod: Mapping[str, Any], type_: str, reason: str, message: str,
                  field_path: str = "") -> None:
        meta = pod.get("metadata") or {}
        ref = {"kind": "Pod", "apiVersion": "v1", "metadata": meta}
        self._field_path = field_path
        try:
            self.event(ref, type_, reason, message)
        finally:
            self._field_path = ""

    def _make_event(self, ref: dict[str, Any], type_: str, reason: str, message: str
                    ) -> dict[str, Any]:
        if self._field_path:
            ref = {**ref, "fieldPath": self._field_path}
        ev = super()._make_event(ref, type_, reason, message)
        # Names are <object>.<Unix nanoseconds in hex>; in virtual time several events of one
        # object share an instant (Pulled, Created, Started; or the scheduler's Scheduled), and
        # equal names collide (AlreadyExists). A real clock would read a few nanoseconds later
        # in this process: add this recorder's own sub-microsecond offset, and take the next
        # free nanosecond after the last one used for the object.
        name, _, stamp = ev["metadata"]["name"].rpartition(".")
        nanos = max(int(stamp, 16) + self._offset, self._last_nanos.get(name, -1) + 1)
        self._last_nanos[name] = nanos
        if len(self._last_nanos) > 4096:
            self._last_nanos.pop(next(iter(self._last_nanos)))
        ev["metadata"] = {**ev["metadata"], "name": f"{name}.{nanos:x}"}
        return ev


class StatusWriter:
    """The status manager (see the module docstring)."""

    def __init__(self, actor: Actor, client: Client) -> None:
        self._actor = actor
        self._client = client
        self._latest: dict[str, tuple[str, str, Obj]] = {}  # uid -> (namespace, name, status)
        self._sent: dict[str, Obj] = {}
        self._deletes: dict[str, tuple[str, str]] = {}
        self._dirty: dict[str, None] = {}
        self._inflight = ""  # the uid whose status patch is on its way
        # uid -> (resourceVersion, status): another writer's change seen during our write
        self._foreign: dict[str, tuple[int, Obj | None]] = {}
        self._task: asyncio.Task[Any] | None = None
        self.patches = 0
        self.deletes = 0

    def known(self, uid: str, status: Mapping[str, Any]) -> None:
        """The API already holds ``status`` for this pod (seen through the informer)."""
        self._sent.setdefault(uid, dict(status))

    def reconcile(self, uid: str, api_status: Mapping[str, Any], rv: int = 0) -> None:
        """The status manager's ``needsReconcile``: the API's pod conditions are not the ones
        this kubelet last wrote (another writer — the node lifecycle controller marking pods
        not ready while the node was unreachable — changed them): write ours again.
        ``rv``: the pod's resourceVersion as seen (0: unknown)."""
        latest, sent = self._latest.get(uid), self._sent.get(uid)
        if latest is None or sent is None:
            return
        if uid == self._inflight:
            # Our write is on its way and was computed against what we believed the API
            # held; whether this view is older or newer than it is known only when it lands.
            if rv > self._foreign.get(uid, (0, None))[0]:
                self._foreign[uid] = (rv, dict(api_status))
            return
        if _conditions(api_status) != _conditions(sent):
            self._sent[uid] = dict(api_status)
            self._kick(uid)

    def set_status(self, uid: str, namespace: str, name: str, status: Obj) -> None:
        self._latest[uid] = (namespace, name, status)
        self._kick(uid)

    def delete(self, uid: str, namespace: str, name: str) -> None:
        self._deletes[uid] = (namespace, name)
        self._kick(uid)

    def forget(self, uid: str) -> None:
        for d in (self._latest, self._sent, self._deletes, self._dirty, self._foreign):
            d.pop(uid, None)

    def has(self, uid: str) -> bool:
        """Whether this status manager holds a status of the pod (since it started)."""
        return uid in self._latest

    def pending(self, uid: str) -> bool:
        return uid in self._dirty

    def _kick(self, uid: str) -> None:
        self._dirty[uid] = None
        if self._task is None or self._task.done():
            self._task = self._actor.spawn(self._run(), name=f"{self._actor.name}:status")

    async def _run(self) -> None:
        while self._dirty:
            uid = next(iter(self._dirty))
            del self._dirty[uid]
            try:
                await self._write(uid)
            except (TransportError, _Retry) as e:
                self._actor.log.info("pod status write failed, will retry", error=str(e))
                self._dirty[uid] = None
                await anyio.sleep(RETRY)

    async def _write(self, uid: str) -> None:
        latest = self._latest.get(uid)
        if latest is not None:
            ns, name, status = latest
            old = self._sent.get(uid)
            if status != old:
                patch = status_patch(old or {}, status)
                self._inflight = uid
                try:
                    written = await self._client.patch("pods", name, {"status": patch},
                                                       "strategic", namespace=ns,
                                                       subresource="status")
                except ApiError as e:
                    if e.code == 404:
                        self.forget(uid)
                        return
                    if _transient(e):
                        raise _Retry(str(e)) from None
                    self._actor.log.warning("pod status rejected", pod=name, error=str(e))
                else:
                    self.patches += 1
                    self._sent[uid] = status
                    seen_rv, seen = self._foreign.pop(uid, (0, None))
                    if seen is not None and seen_rv > _rv(written) and \
                            _conditions(seen) != _conditions(status):
                        # Another writer changed the conditions after our write landed
                        # (cluster campaign seed 5010: pods left Ready=False on a Ready node).
                        self._sent[uid] = seen
                        self._dirty[uid] = None
                finally:
                    self._inflight = ""
        target = self._deletes.pop(uid, None)
        if target is not None:
            try:
                await self._client.delete("pods", target[1], target[0], grace_period_seconds=0,
                                          preconditions={"uid": uid})
                self.deletes += 1
            except TransportError:
                self._deletes[uid] = target  # retried by _run, as a 5xx below
                raise
            except ApiError as e:
                if _transient(e):
                    # The final delete of a terminated pod must happen (the status manager
                    # retries it while the pod can be deleted): a 5xx under faults lost it,
                    # leaving the pod Terminating for ever (found by the cluster campaign).
                    self._deletes[uid] = target
                    raise _Retry(str(e)) from None
                if e.code not in (404, 409):
                    self._actor.log.warning("pod delete rejected", pod=target[1], error=str(e))


def _rv(obj: Any) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except (AttributeError, TypeError, ValueError):
        return 0


def _conditions(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    return sorted((str(c.get("type")), str(c.get("status"))) for c in status.get("conditions") or ())


class _Retry(Exception):
    """A write answered 429 or 5xx: try again after ``RETRY`` (not a rejection)."""


def _transient(e: ApiError) -> bool:
    return e.code == 429 or e.code >= 500
