"""The controller shell: what every kube-controller-manager controller shares — informers, a
work queue of keys, ``reconcile(key)`` around the pure logic, plan execution through the
client, events, and ReplicaSet-style expectations.

What it is, as client-go controllers are written:
- A ``Controller`` subclass declares its informers (``informers()``: resource, selectors,
  indexers) on the manager's one ``SharedInformerFactory`` and registers handlers that only
  *choose keys*: ``enqueue(obj)``, ``enqueue_controller_of(obj, kind)`` (a Pod event enqueues
  its controller owner's key, resolved by name in the cache and checked by uid, as
  ``resolveControllerRef``), or whatever keys the controller derives (Services selecting a
  pod, …). Handlers never act on the event's object.
- ``reconcile(key)`` reads the caches, calls the controller's pure ``plan(key)`` and executes
  the ``Plan`` through the controller's own ``Client`` (create/update/patch/delete, status and
  finalize subresources), recording the plan's events through an ``EventRecorder`` whose
  source component is the controller's (``deployment-controller``, ``replicaset-controller``,
  …). It returns a ``Result``: the plan's ``requeue_after``, or ``requeue`` (rate limited)
  after a failed write. Nothing is remembered between reconciles except what Kubernetes also
  keeps in memory (expectations, a previous sync's error, node health): a reconcile that dies
  halfway is simply run again and recomputes the rest from the caches (level-triggered).
- Plan execution (``execute``): actions run in plan order. Runs of fan-out actions — pod
  creates of one slow-start ``batch`` and consecutive pod deletes — run concurrently, as
  ``slowStartBatch`` and the ReplicaSet controller's parallel deletes do; a batch with a
  failure skips the batches after it (their creates are counted as observed, so expectations
  do not wait for them) and the plan goes on (the status write still happens, as
  ``syncReplicaSet`` writes status after a failed ``manageReplicas``). Any other failed action
  stops the plan there: later actions may depend on it (a status written after a create). A
  delete answered 404 succeeded (the object is gone either way).
- ``Expectations`` (``controller.ControllerExpectations``, in ``_logic_replicaset``): a
  controller with ``uses_expectations`` records the pod creates and deletes a plan will make
  *before* sending them; pod informer events lower them (``creation_observed`` on add,
  ``deletion_observed`` on delete or when a deletionTimestamp appears); failed writes lower
  them too. ``expectations_satisfied(key)`` tells ``plan`` whether the cache has caught up.
  Expectations time out after 5 minutes (a lost event never wedges a controller).

Concurrency model: everything runs on the manager actor's loop — handlers inside informer
tasks, ``reconcile`` in the queue's worker tasks (``workers`` of them, never two on one
key), plan writes as awaits inside a worker. ``plan`` itself is synchronous: the caches do
not move while it runs.

Invariants: cached objects are never mutated (the pure logic deep-copies what it changes);
a key is only ever reconciled from the current cache; events carry exactly the reason and
message the pure logic produced.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from actors.api import ApiError, by_kind, selector_from_api
from actors.client import (
    STANDARD_INDEXERS,
    Client,
    DeletedFinalStateUnknown,
    EventRecorder,
    IndexFunc,
    RateLimitingQueue,
    Result,
    SharedInformer,
    SharedInformerFactory,
    TransportError,
    meta_namespace_key,
)
from actors.client._store import ReadMeter

from ._logic_replicaset import Expectations
from ._plan import (
    Action,
    Create,
    Delete,
    Event,
    ObjectRef,
    Patch,
    Plan,
    Update,
    labels_of,
    namespace_of,
)

if TYPE_CHECKING:
    from runtime import Actor

__all__ = [
    "CONTROLLER_INDEX",
    "CONTROLLERS",
    "Controller",
    "ControllerHost",
    "ControllerRecorder",
    "InformerSpec",
    "PlanFailed",
    "controller_key_of",
    "index_by_controller_or_orphan",
    "obj_of",
    "owners_selecting",
    "register_controller",
]


@dataclasses.dataclass(frozen=True)
class InformerSpec:
    """One informer a controller needs (shared with every controller asking the same)."""

    resource: str
    namespace: str | None = None
    label_selector: Any = None
    field_selector: Any = None
    indexers: Mapping[str, IndexFunc] | None = None


class PlanFailed(Exception):
    """A plan's write failed (the first failure); the key is retried with back-off."""

    def __init__(self, action: Action, error: BaseException) -> None:
        super().__init__(f"{type(action).__name__} {action.ref.kind} {action.ref.key()}: {error}")
        self.action = action
        self.error = error


class ControllerHost:
    """What the manager gives its controllers (see ``_manager``)."""

    actor: Actor
    factory: SharedInformerFactory

    def client_for(self, controller: Controller) -> Client:  # pragma: no cover - interface
        raise NotImplementedError

    def options_for(self, name: str) -> Any:
        """Options for the controller ``name`` (None: its defaults)."""
        return None


def obj_of(obj: Any) -> Mapping[str, Any]:
    """The object of an ``on_delete`` argument (a tombstone carries its last known state)."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def controller_key_of(obj: Mapping[str, Any], kind: str) -> tuple[str, str] | None:
    """``(namespace/name, uid)`` of ``obj``'s controller owner when it is a ``kind``."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            if ref.get("kind") != kind:
                return None
            ns = meta.get("namespace")
            name = ref.get("name") or ""
            return (f"{ns}/{name}" if ns else name), ref.get("uid") or ""
    return None


CONTROLLER_INDEX = "controller_or_orphan"


def owners_selecting(owners: SharedInformer, obj: Mapping[str, Any]) -> list[str]:
    """Keys of the owners in ``obj``'s namespace (``owners`` indexed by "namespace") whose
    non-empty ``spec.selector`` selects ``obj``'s labels (``getPodControllers`` and kin)."""
    labels = labels_of(obj)
    out = []
    for owner in owners.indexer.by_index("namespace", namespace_of(obj)):
        raw = (owner.get("spec") or {}).get("selector")
        if raw and selector_from_api(raw).matches(labels):
            out.append(meta_namespace_key(owner))
    return out


def index_by_controller_or_orphan(obj: Mapping[str, Any]) -> list[str]:
    """The controller owner's uid, or ``orphan/<namespace>`` for an object without one: a
    ReplicaSet's candidates are its own pods, its siblings' and its namespace's orphans."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid"):
            return [ref["uid"]]
    return [f"orphan/{meta.get('namespace') or ''}"]


def _resource_of(ref: ObjectRef) -> str:
    group = ref.api_version.rpartition("/")[0]
    return by_kind(group, ref.kind).resource


def _error_text(e: BaseException) -> str:
    if isinstance(e, ApiError):
        return e.message or str(e)
    return str(e)


class ControllerRecorder(EventRecorder):
    """An ``EventRecorder`` whose event names never collide in virtual time.

    Names are ``<object>.<Unix nanoseconds in hex>``; a controller records several events about
    one object at one virtual instant (a ReplicaSet's ``SuccessfulCreate`` for a whole batch),
    and equal names would be refused as AlreadyExists. A real clock reads a few nanoseconds
    apart: this recorder adds its own small offset and takes the next free nanosecond after
    the last one it used for the object."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        super().__init__(client, component, host)
        self._offset = client.actor.rng.randrange(1, 1000)
        self._last: dict[str, int] = {}

    def _make_event(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
        ev = super()._make_event(ref, type_, reason, message)
        name, _, stamp = ev["metadata"]["name"].rpartition(".")
        nanos = max(int(stamp, 16) + self._offset, self._last.get(name, -1) + 1)
        self._last[name] = nanos
        if len(self._last) > 4096:
            self._last.pop(next(iter(self._last)))
        ev["metadata"] = {**ev["metadata"], "name": f"{name}.{nanos:x}"}
        return ev

    def record(self, event: Event) -> None:
        ref = event.involved
        meta = {"name": ref.name, "namespace": ref.namespace or None, "uid": ref.uid or None}
        obj = {"kind": ref.kind, "apiVersion": ref.api_version,
               "metadata": {k: v for k, v in meta.items() if v}}
        self.event(obj, event.type, event.reason, event.message)


# ---- the registry ------------------------------------------------------------------------------
CONTROLLERS: dict[str, type[Controller]] = {}


def register_controller(cls: type[Controller]) -> type[Controller]:
    """Class decorator: make ``cls`` available to ``--controllers`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no controller name")
    CONTROLLERS[cls.name] = cls
    return cls


class Controller:
    """Base of every controller (see the module docstring). Subclasses set the class
    attributes, implement ``setup`` (informers and handlers) and ``plan(key)``, or override
    ``reconcile`` when a key needs more than one plan."""

    name: ClassVar[str] = ""  # the --controllers name ("deployment")
    component: ClassVar[str] = ""  # events' source component ("deployment-controller")
    service_account: ClassVar[str] = ""  # kube-system SA it authenticates as
    workers: ClassVar[int] = 1  # --concurrent-*-syncs
    enabled_by_default: ClassVar[bool] = True
    uses_expectations: ClassVar[bool] = False

    def __init__(self, host: ControllerHost) -> None:
        self.host = host
        self.actor = host.actor
        self.factory = host.factory
        self.client = host.client_for(self)
        self.recorder = ControllerRecorder(self.client, self.component)
        self.queue = RateLimitingQueue(name=self.name, actor=self.actor)
        self.expectations = Expectations() if self.uses_expectations else None
        self.counts = {"reconciles": 0, "failures": 0, "writes": 0}
        self.last_error: dict[Hashable, str] = {}  # key -> the previous sync's write error

    # ---- to implement -------------------------------------------------------------------------
    def setup(self) -> None:
        """Ask for informers (``informer``) and add handlers. Runs before the factory starts."""
        raise NotImplementedError

    def plan(self, key: Any) -> Plan | None:
        """The plan for ``key`` from the caches (None: nothing to do)."""
        raise NotImplementedError

    def start(self) -> None:
        """After the caches synced: start the workers (override to add periodic keys)."""
        self.queue.run_workers(self.workers, self.reconcile)

    # ---- informers and keys -------------------------------------------------------------------
    def informer(self, spec: InformerSpec | str) -> SharedInformer:
        if isinstance(spec, str):
            spec = InformerSpec(spec)
        # The standard indexes (namespace, node name, owner, label) always, plus the asked ones.
        return self.factory.informer_for(spec.resource, namespace=spec.namespace,
                                         label_selector=spec.label_selector,
                                         field_selector=spec.field_selector,
                                         indexers={**STANDARD_INDEXERS, **(spec.indexers or {})})

    def enqueue(self, obj: Any) -> None:
        self.queue.add(meta_namespace_key(obj))

    def handle(self, informer: SharedInformer, enqueue: Callable[[Any], None] | None = None) -> None:
        """Enqueue the object's own key on add, update and delete."""
        fn = enqueue or self.enqueue
        informer.add_event_handler(on_add=fn, on_update=lambda _old, new: fn(new),
                                   on_delete=fn)

    def resolve_controller(self, obj: Mapping[str, Any], kind: str,
                           owners: SharedInformer) -> str | None:
        """``resolveControllerRef``: the key of ``obj``'s controller of ``kind`` if the cache
        holds that very object (same uid), else None."""
        found = controller_key_of(obj, kind)
        if found is None:
            return None
        key, uid = found
        owner = owners.indexer.get_by_key(key)
        if owner is None or (owner.get("metadata") or {}).get("uid") != uid:
            return None
        return key

    def now(self) -> float:
        """Seconds since the epoch on this machine's clock: what the pure logic compares
        RFC 3339 timestamps with."""
        return self.actor.wall_time()

    # ---- expectations -----------------------------------------------------------------------------
    def expectations_satisfied(self, key: str) -> bool:
        return self.expectations is None or self.expectations.satisfied(key, self.actor.now())

    def creation_observed(self, key: str) -> None:
        if self.expectations is not None:
            self.expectations.creation_observed(key)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        if self.expectations is not None:
            self.expectations.deletion_observed(key, pod_key)

    # ---- reconcile ---------------------------------------------------------------------------------
    async def reconcile(self, key: Any) -> Result:
        self.counts["reconciles"] += 1
        cost = getattr(getattr(self.host, "config", None), "sync_cost_per_object", 0.0)
        if cost > 0:
            with ReadMeter() as meter:
                plan = self.plan(key)
            if meter.objects:
                await anyio.sleep(meter.objects * cost)  # the sync's own work, modeled
        else:
            plan = self.plan(key)
        if plan is None:
            self.last_error.pop(key, None)
            return Result()
        return await self.run_plan(key, plan)

    async def run_plan(self, key: Any, plan: Plan) -> Result:
        """Execute ``plan`` for ``key``; a failure requeues with back-off and is remembered
        for the next ``plan`` (``last_error``)."""
        if self.expectations is not None and isinstance(key, str):
            self.expectations.expect_plan(key, plan, self.actor.now())
        try:
            await self.execute(plan, key=key)
        except PlanFailed as e:
            self.counts["failures"] += 1
            self.last_error[key] = _error_text(e.error)
            self.actor.log.info("sync failed", controller=self.name, key=str(key), error=str(e))
            return Result(requeue=True)
        self.last_error.pop(key, None)
        if plan.requeue_after is not None:
            return Result(requeue_after=max(plan.requeue_after, 0.001))
        return Result()

    # ---- plan execution ----------------------------------------------------------------------------
    async def execute(self, plan: Plan, *, key: Any = None) -> None:
        for event in plan.events:
            self.recorder.record(event)
        first: PlanFailed | None = None
        creates_failed = False
        for group in _groups(plan.actions):
            if len(group) == 1 and not _fans_out(group[0]):
                await self._run_one(group[0], key)
                continue
            if creates_failed and isinstance(group[0], Create):
                for a in group:  # slowStartBatch: skipped creates will never be observed
                    self._lower_expectations(a, key)
                continue
            failure = await self._run_fan_out(group, key)
            if failure is not None and isinstance(group[0], Create):
                creates_failed = True
            first = first or failure
        if first is not None:
            raise first

    async def _run_fan_out(self, group: Sequence[Action], key: Any) -> PlanFailed | None:
        """One slow-start batch or a run of pod deletes, concurrently; None if all succeeded."""
        results = await asyncio.gather(*(self._attempt(a, key) for a in group))
        return next((r for r in results if r is not None), None)

    async def _attempt(self, action: Action, key: Any) -> PlanFailed | None:
        try:
            await self._run_one(action, key)
        except PlanFailed as e:
            return e
        return None

    async def _run_one(self, action: Action, key: Any) -> None:
        try:
            result = await self._write(action)
        except (ApiError, TransportError) as e:
            if isinstance(action, Delete) and isinstance(e, ApiError) and e.code == 404:
                self._after_delete(action, key)
                return
            self._lower_expectations(action, key)
            for ev in action.on_failure:
                self.recorder.record(ev.render(name=action.ref.name, error=_error_text(e)))
            raise PlanFailed(action, e) from e
        self.counts["writes"] += 1
        name = ((result or {}).get("metadata") or {}).get("name") or action.ref.name
        for ev in action.on_success:
            self.recorder.record(ev.render(name=name))

    def _after_delete(self, action: Delete, key: Any) -> None:
        if action.ref.kind == "Pod" and isinstance(key, str):
            self.deletion_observed(key, action.ref.key())

    def _lower_expectations(self, action: Action, key: Any) -> None:
        """A create or delete that failed will never be observed (``CreationObserved`` /
        ``DeletionObserved`` on error, as the ReplicaSet controller does)."""
        if not isinstance(key, str) or action.ref.kind != "Pod":
            return
        if isinstance(action, Create):
            self.creation_observed(key)
        elif isinstance(action, Delete):
            self.deletion_observed(key, action.ref.key())

    async def _write(self, action: Action) -> dict[str, Any] | None:
        ref = action.ref
        resource = _resource_of(ref)
        c = self.client
        match action:
            case Create():
                ns = ref.namespace or (action.body.get("metadata") or {}).get("namespace")
                return await c.create(resource, action.body, ns)
            case Update():
                return await c.update(resource, action.body, subresource=action.subresource)
            case Patch():
                return await c.patch(resource, ref.name, action.patch, patch_type=action.patch_type,
                                     namespace=ref.namespace or None, subresource=action.subresource)
            case Delete():
                pre = {"uid": action.preconditions_uid} if action.preconditions_uid else None
                return await c.delete(resource, ref.name, ref.namespace or None,
                                      grace_period_seconds=action.grace_period_seconds,
                                      propagation_policy=action.propagation_policy,
                                      preconditions=pre)
        raise TypeError(f"unknown plan action {action!r}")


def _fans_out(action: Action) -> bool:
    return (isinstance(action, Create) and action.batch is not None) or \
        (isinstance(action, Delete) and action.ref.kind == "Pod")


def _group_key(action: Action) -> tuple[str, int | None] | None:
    if isinstance(action, Create) and action.batch is not None:
        return ("create", action.batch)
    if isinstance(action, Delete) and action.ref.kind == "Pod":
        return ("delete", None)
    return None


def _groups(actions: Iterable[Action]) -> list[list[Action]]:
    """Consecutive fan-out actions of one kind (one create batch, or pod deletes) together;
    every other action alone."""
    out: list[list[Action]] = []
    last: tuple[str, int | None] | None = None
    for a in actions:
        k = _group_key(a)
        if k is not None and k == last and out:
            out[-1].append(a)
        else:
            out.append([a])
        last = k
    return out
