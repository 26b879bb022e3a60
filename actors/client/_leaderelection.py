"""Leader election: client-go's ``tools/leaderelection`` ``LeaderElector`` over a resource lock.

What it is: several replicas of a component (schedulers, controller managers) each run an
elector on the same lock; exactly one write of its name into the lock succeeds, by optimistic
concurrency (create, or update carrying the resourceVersion it read — a 409 AlreadyExists or
Conflict means someone else won). The lock is a coordination.k8s.io/v1 ``Lease``
(``LeaseLock``, the default) or, the legacy form, an Endpoints or ConfigMap whose annotation
``control-plane.alpha.kubernetes.io/leader`` holds the record as JSON
(``{"holderIdentity":…,"leaseDurationSeconds":15,"acquireTime":…,"renewTime":…,
"leaderTransitions":N}``, RFC 3339 seconds) — ``new_lock("leases"|"endpoints"|"configmaps")``.

The algorithm, as ``tryAcquireOrRenew``:
- The leader first tries a fast path: update with the record it last wrote. Failing that
  (or when not leader) it reads the lock; a missing lock is created.
- A follower only takes the lock when the record it observed has *not changed for
  leaseDurationSeconds measured on its own clock since it observed the change* — timestamps
  in the record are never compared with local time, so clock offsets do not matter (clock
  *rate* skew does: the doc.go caveat). leaderTransitions is incremented when the holder
  changes; acquireTime is kept across renewals.
- Acquiring retries every retryPeriod × [1, 1+jitter) (``wait.JitterUntil``, jitter 1.2);
  the leader renews every retryPeriod and, if it cannot renew within renewDeadline (an
  in-flight request is cancelled at the deadline), stops leading: ``on_stopped_leading``.
  ``run`` then returns; as in client-go, the component decides what to do (exit, restart).
- ``release_on_cancel``: ``stop()`` writes an empty holder with leaseDurationSeconds 1 so a
  follower can take over at once.

There is no fencing (doc.go): a leader that stalls longer than renewDeadline may still act
for a moment; with no clock-rate skew, leaseDuration > renewDeadline + retryPeriod keeps the
old leader's belief ending before a follower can acquire.

Give the elector a client of its own whose ``timeout`` is renewDeadline and whose rate limit
is not shared with the component's work, as kube-scheduler and kube-controller-manager do: a
lost request then costs one renewDeadline, not the default 30 s ask timeout.

Concurrency model: ``run`` is a task spawned on the client's actor; callbacks run in it
(coroutine callbacks are spawned as their own tasks; ``on_started_leading`` 's is cancelled
when leadership ends, as client-go cancels its context). Local time is ``actor.now()``
(skew applies); record timestamps come from ``actor.wall_time()``; sleeps are in loop time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import msgspec

from actors.api import ApiError

from ._rest import TransportError

if TYPE_CHECKING:
    from runtime import Actor

    from ._rest import Client

__all__ = [
    "LEADER_ANNOTATION",
    "AnnotationLock",
    "ConfigMapLock",
    "EndpointsLock",
    "LeaderElectionRecord",
    "LeaderElectionStats",
    "LeaderElector",
    "LeaseLock",
    "LockNotInitialized",
    "ResourceLock",
    "format_micro_time",
    "format_time",
    "new_identity",
    "new_lock",
    "parse_time",
]

LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
JITTER_FACTOR = 1.2


# ---- time on the wire ------------------------------------------------------------------------
def format_time(t: float) -> str:
    """metav1.Time: RFC 3339 in UTC, whole seconds (``2020-03-20T08:49:12Z``)."""
    return datetime.datetime.fromtimestamp(int(t), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(t: float) -> str:
    """metav1.MicroTime: RFC 3339 in UTC with microseconds (``2026-01-01T00:00:00.000000Z``)."""
    micros = round(t * 1_000_000)
    dt = datetime.datetime.fromtimestamp(micros // 1_000_000, tz=datetime.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros % 1_000_000:06d}Z"


def parse_time(text: str | None) -> float:
    """Seconds since the epoch from a (Micro)Time string; 0.0 for an unset time."""
    if not text:
        return 0.0
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def new_identity(actor: Actor, prefix: str) -> str:
    """``<prefix>_<uuid>`` as components build it (hostname + "_" + uuid), the uuid drawn from
    the actor's seeded generator so runs are reproducible."""
    return f"{prefix}_{uuid.UUID(int=actor.rng.getrandbits(128), version=4)}"


# ---- the record and the locks ------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class LeaderElectionRecord:
    """resourcelock.LeaderElectionRecord; times are seconds since the epoch (0 = unset)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: float = 0.0
    renew_time: float = 0.0
    leader_transitions: int = 0


class LockNotInitialized(Exception):
    """``update`` before ``get`` or ``create`` (client-go: "call get or create first")."""


class ResourceLock(Protocol):
    identity: str

    async def get(self) -> tuple[LeaderElectionRecord, Any]: ...

    async def create(self, record: LeaderElectionRecord) -> None: ...

    async def update(self, record: LeaderElectionRecord) -> None: ...

    def describe(self) -> str: ...


class LeaseLock:
    """The record in a coordination.k8s.io/v1 Lease's spec (MicroTime timestamps)."""

    resource = "leases"

    def __init__(self, client: Client, namespace: str, name: str, identity: str) -> None:
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.obj: dict[str, Any] | None = None  # the last object read or written (its RV)

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    @staticmethod
    def _spec(r: LeaderElectionRecord) -> dict[str, Any]:
        return {
            "holderIdentity": r.holder_identity,
            "leaseDurationSeconds": r.lease_duration_seconds,
            "acquireTime": format_micro_time(r.acquire_time),
            "renewTime": format_micro_time(r.renew_time),
            "leaseTransitions": r.leader_transitions,
        }

    async def get(self) -> tuple[LeaderElectionRecord, Any]:
        self.obj = await self.client.get(self.resource, self.name, self.namespace)
        spec = self.obj.get("spec") or {}
        record = LeaderElectionRecord(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=spec.get("leaseDurationSeconds") or 0,
            acquire_time=parse_time(spec.get("acquireTime")),
            renew_time=parse_time(spec.get("renewTime")),
            leader_transitions=spec.get("leaseTransitions") or 0,
        )
        return record, msgspec.json.encode(spec, order="sorted")

    async def create(self, record: LeaderElectionRecord) -> None:
        obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "metadata": {"name": self.name, "namespace": self.namespace},
               "spec": self._spec(record)}
        self.obj = await self.client.create(self.resource, obj, self.namespace)

    async def update(self, record: LeaderElectionRecord) -> None:
        if self.obj is None:
            raise LockNotInitialized("lease not initialized, call get or create first")
        self.obj = await self.client.update(self.resource, {**self.obj, "spec": self._spec(record)})


def record_to_annotation(r: LeaderElectionRecord) -> str:
    """The JSON Go's encoding/json writes for the record (field order and compact form kept)."""
    return json.dumps({
        "holderIdentity": r.holder_identity,
        "leaseDurationSeconds": r.lease_duration_seconds,
        "acquireTime": format_time(r.acquire_time),
        "renewTime": format_time(r.renew_time),
        "leaderTransitions": r.leader_transitions,
    }, separators=(",", ":"))


def record_from_annotation(text: str) -> LeaderElectionRecord:
    d = json.loads(text)
    return LeaderElectionRecord(
        holder_identity=d.get("holderIdentity") or "",
        lease_duration_seconds=int(d.get("leaseDurationSeconds") or 0),
        acquire_time=parse_time(d.get("acquireTime")),
        renew_time=parse_time(d.get("renewTime")),
        leader_transitions=int(d.get("leaderTransitions") or 0),
    )


class AnnotationLock:
    """The legacy locks: the record as JSON in the ``control-plane.alpha.kubernetes.io/leader``
    annotation of an Endpoints or ConfigMap object."""

    resource = ""
    kind = ""

    def __init__(self, client: Client, namespace: str, name: str, identity: str) -> None:
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.obj: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def get(self) -> tuple[LeaderElectionRecord, Any]:
        self.obj = await self.client.get(self.resource, self.name, self.namespace)
        text = ((self.obj.get("metadata") or {}).get("annotations") or {}).get(LEADER_ANNOTATION)
        if text is None:
            return LeaderElectionRecord(), b""
        try:
            return record_from_annotation(text), text.encode()
        except (ValueError, TypeError) as e:
            raise LockNotInitialized(f"unreadable leader annotation on {self.describe()}: {e}") from e

    async def create(self, record: LeaderElectionRecord) -> None:
        obj = {"apiVersion": "v1", "kind": self.kind,
               "metadata": {"name": self.name, "namespace": self.namespace,
                            "annotations": {LEADER_ANNOTATION: record_to_annotation(record)}}}
        self.obj = await self.client.create(self.resource, obj, self.namespace)

    async def update(self, record: LeaderElectionRecord) -> None:
        if self.obj is None:
            raise LockNotInitialized(f"{self.kind.lower()} not initialized, call get or create first")
        meta = dict(self.obj.get("metadata") or {})
        meta["annotations"] = {**(meta.get("annotations") or {}), LEADER_ANNOTATION: record_to_annotation(record)}
        self.obj = await self.client.update(self.resource, {**self.obj, "metadata": meta})


class EndpointsLock(AnnotationLock):
    resource = "endpoints"
    kind = "Endpoints"


class ConfigMapLock(AnnotationLock):
    resource = "configmaps"
    kind = "ConfigMap"


_LOCKS: dict[str, type[LeaseLock] | type[AnnotationLock]] = {
    "leases": LeaseLock, "endpoints": EndpointsLock, "configmaps": ConfigMapLock,
}


def new_lock(lock_type: str, client: Client, namespace: str, name: str, identity: str) -> ResourceLock:
    """``resourcelock.New``: ``--leader-elect-resource-lock`` = leases | endpoints | configmaps."""
    cls = _LOCKS.get(lock_type)
    if cls is None:
        raise ValueError(f"unknown resource lock type {lock_type!r} (leases, endpoints, configmaps)")
    return cls(client, namespace, name, identity)


# ---- the elector -----------------------------------------------------------------------------
class LeaderElectionStats(msgspec.Struct, frozen=True):
    leading: bool
    holder: str
    attempts: int
    acquisitions: int
    renewals: int
    failed_attempts: int
    lost: int


_LOCK_ERRORS = (ApiError, TransportError, LockNotInitialized)


class LeaderElector:
    """One candidate in a leader election (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        *,
        name: str,
        identity: str,
        namespace: str = "kube-system",
        lock_type: str = "leases",
        lock: ResourceLock | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        jitter_factor: float = JITTER_FACTOR,
        on_started_leading: Callable[[], Any] | None = None,
        on_stopped_leading: Callable[[], Any] | None = None,
        on_new_leader: Callable[[str], Any] | None = None,
        release_on_cancel: bool = False,
    ) -> None:
        # client-go's NewLeaderElector validation.
        if not lease_duration > renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if not renew_deadline > jitter_factor * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if lease_duration < 1 or renew_deadline < 1 or retry_period < 1 or not identity:
            raise ValueError("leaseDuration, renewDeadline and retryPeriod must be ≥ 1 s; identity is required")
        self.client = client
        self.name = name
        self.identity = identity
        self.lock = lock if lock is not None else new_lock(lock_type, client, namespace, name, identity)
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.jitter_factor = jitter_factor
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.release_on_cancel = release_on_cancel
        self._actor = client.actor
        self.leading = False  # between on_started_leading and on_stopped_leading
        self._observed = LeaderElectionRecord()
        self._observed_raw: Any = None
        self._observed_time = float("-inf")
        self._reported = ""
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = False
        self._leader_task: asyncio.Task[Any] | None = None
        self._n = {"attempts": 0, "acquisitions": 0, "renewals": 0, "failed": 0, "lost": 0}

    # ---- public --------------------------------------------------------------------------
    def start(self) -> asyncio.Task[Any]:
        """Spawn ``run`` on the client's actor; again after a lost lease if the component wants
        to campaign anew (most exit instead: kube-scheduler and kube-controller-manager die on
        ``OnStoppedLeading`` and are restarted — crash the actor for that)."""
        if self._task is None or self._task.done():
            self._task = self._actor.spawn(self.run(), name=f"{self._actor.name}:leader-election:{self.name}")
        return self._task

    async def run(self) -> None:
        """Acquire, then renew until the lease is lost (``on_stopped_leading``); returns then."""
        await self._acquire()
        self._begin_leading()
        try:
            await self._renew()
        except asyncio.CancelledError:
            if not self._cancelling:
                self.leading = False  # the actor died: no callbacks run on a dead actor
            raise
        self._end_leading(lost=True)

    async def stop(self) -> None:
        """Stop campaigning (client-go: cancel the context). If leading, release the lock first
        when ``release_on_cancel``; ``on_stopped_leading`` runs if we were leading."""
        task, self._task = self._task, None
        was_leading = self.leading
        if task is not None and not task.done():
            self._cancelling = True
            task.cancel()
            await asyncio.wait([task])
            self._cancelling = False
        if was_leading and self.release_on_cancel:
            await self._release()
        self._end_leading(lost=False)

    def is_leader(self) -> bool:
        """client-go's IsLeader: the last observed record names this candidate."""
        return self._observed.holder_identity == self.identity

    def get_leader(self) -> str:
        return self._observed.holder_identity

    @property
    def observed_record(self) -> LeaderElectionRecord:
        return self._observed

    def statistics(self) -> LeaderElectionStats:
        n = self._n
        return LeaderElectionStats(
            leading=self.leading, holder=self._observed.holder_identity, attempts=n["attempts"],
            acquisitions=n["acquisitions"], renewals=n["renewals"], failed_attempts=n["failed"],
            lost=n["lost"],
        )

    # ---- loops -----------------------------------------------------------------------------
    async def _acquire(self) -> None:
        while True:
            ok = await self._try_acquire_or_renew()
            self._maybe_report_transition()
            if ok:
                self._n["acquisitions"] += 1
                return
            r = self._actor.rng.random()
            await anyio.sleep(self.retry_period * (1.0 + r * self.jitter_factor))

    async def _renew(self) -> None:
        while True:
            renewed = False
            # A renewal round may take at most renewDeadline; the in-flight request is cancelled.
            with anyio.move_on_after(self.renew_deadline):
                while True:
                    if await self._try_acquire_or_renew():
                        renewed = True
                        break
                    await anyio.sleep(self.retry_period)
            self._maybe_report_transition()
            if not renewed:
                return
            self._n["renewals"] += 1
            await anyio.sleep(self.retry_period)

    async def _try_acquire_or_renew(self) -> bool:
        self._n["attempts"] += 1
        ok = await self._attempt()
        if not ok:
            self._n["failed"] += 1
        return ok

    async def _attempt(self) -> bool:
        now = self._actor.now()
        wall = self._actor.wall_time()
        record = LeaderElectionRecord(self.identity, int(self.lease_duration), wall, wall, 0)
        # 1. The leader's fast path: write over what it last wrote (the RV it holds).
        if self.is_leader() and self._lease_valid(now):
            mine = dataclasses.replace(record, acquire_time=self._observed.acquire_time,
                                       leader_transitions=self._observed.leader_transitions)
            try:
                await self.lock.update(mine)
            except _LOCK_ERRORS:
                pass  # fall back to the slow path
            else:
                self._set_observed(mine)
                return True
        # 2. Read the lock, or create it.
        try:
            old, raw = await self.lock.get()
        except ApiError as e:
            if e.code != 404:
                return False
            try:
                await self.lock.create(record)
            except _LOCK_ERRORS:
                return False  # AlreadyExists: another candidate created it first
            self._set_observed(record)
            return True
        except (TransportError, LockNotInitialized):
            return False
        # 3. A changed record restarts the follower's lease clock (its own clock).
        if raw != self._observed_raw:
            self._set_observed(old)
            self._observed_raw = raw
        if old.holder_identity and self._lease_valid(now) and not self.is_leader():
            return False
        # 4. Take or keep it, by optimistic concurrency on the RV just read.
        if self.is_leader():
            record = dataclasses.replace(record, acquire_time=old.acquire_time,
                                         leader_transitions=old.leader_transitions)
        else:
            record = dataclasses.replace(record, leader_transitions=old.leader_transitions + 1)
        try:
            await self.lock.update(record)
        except _LOCK_ERRORS:
            return False  # Conflict: someone else wrote first
        self._set_observed(record)
        return True

    async def _release(self) -> bool:
        if not self.is_leader():
            return True
        wall = self._actor.wall_time()
        record = LeaderElectionRecord("", 1, wall, wall, self._observed.leader_transitions)
        try:
            await self.lock.update(record)
        except _LOCK_ERRORS:
            return False
        self._set_observed(record)
        return True

    # ---- state and callbacks -----------------------------------------------------------------
    def _lease_valid(self, now: float) -> bool:
        return self._observed_time + self._observed.lease_duration_seconds > now

    def _set_observed(self, record: LeaderElectionRecord) -> None:
        self._observed = record
        self._observed_time = self._actor.now()

    def _maybe_report_transition(self) -> None:
        holder = self._observed.holder_identity
        if holder == self._reported:
            return
        self._reported = holder
        if self.on_new_leader is not None:
            self._call(self.on_new_leader, holder)

    def _begin_leading(self) -> None:
        self.leading = True
        self._actor.log.info("became leader", lock=self.lock.describe(), identity=self.identity)
        if self.on_started_leading is not None:
            self._leader_task = self._call(self.on_started_leading)

    def _end_leading(self, *, lost: bool) -> None:
        if not self.leading:
            return
        self.leading = False
        if lost:
            self._n["lost"] += 1
        self._actor.log.info("stopped leading", lock=self.lock.describe(), identity=self.identity)
        if self._leader_task is not None:
            self._leader_task.cancel()
            self._leader_task = None
        if self.on_stopped_leading is not None:
            self._call(self.on_stopped_leading)

    def _call(self, fn: Callable[..., Any], *args: Any) -> asyncio.Task[Any] | None:
        r = fn(*args)
        if inspect.iscoroutine(r):
            return self._actor.spawn(r)
        return None
