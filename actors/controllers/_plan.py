"""Plans: what a pure controller reconcile asks its actor shell to do, and the small
object helpers every reconcile shares.

What it is: each ``_logic_*`` module exposes functions ``reconcile_x(obj, <cached lists>,
*, now) -> Plan`` over plain dicts in Kubernetes' JSON form. A ``Plan`` is data: ordered
``actions`` (``Create``/``Update``/``Patch``/``Delete``), unconditional ``events`` and a
``requeue_after``. The shell (a controller actor with informers and a work queue) executes
it with these semantics, which mirror what kube-controller-manager does inline:

1. ``events`` are recorded as they are (they do not depend on any write's outcome).
2. ``actions`` run in order. An action's ``on_success`` events are recorded when it
   succeeds and its ``on_failure`` events when it fails; in their messages the shell
   replaces ``{name}`` by the object's name as the API server returned it (``generateName``)
   and ``{error}`` by the error's message.
3. Consecutive ``Create`` actions with the same non-None ``batch`` form one slow-start batch
   (``controller.slowStartBatch``): the shell may run them concurrently; every action of a
   batch is attempted.
4. The first failure stops the plan after its batch (the remaining actions are skipped) and
   the shell requeues the key rate-limited, as a sync that returns an error. ``Delete`` of an
   object that is already gone (404) counts as success, as the controllers ignore NotFound.
5. Writes to the same object inside one plan chain: a later ``Update`` or ``Patch`` of an
   object uses the resourceVersion returned by the earlier write of the same plan (Go code
   keeps the object returned by ``Update`` and writes it again).
6. ``requeue_after`` (seconds) asks for ``queue.AddAfter(key, d)``; None asks for nothing.

``Update`` with ``subresource="status"`` carries the whole object, as ``UpdateStatus`` does;
the API server keeps only what its status strategy allows.

``sync_controller_revisions`` is ``pkg/controller/history`` as DaemonSets and StatefulSets use
it: one ControllerRevision per distinct pod template, named ``<owner>-<hash>``.

Concurrency model: none. Values only; ``PlanBuilder`` is a local accumulator used inside
one reconcile call and never shared.

Invariants: no helper here mutates its argument (working copies are ``copy.deepcopy``);
``PlanBuilder`` keeps one ``Update``/``Create`` per object and subresource (a later write
of the same object replaces the body in place, keeping its position and joining its events)
unless a second write is asked for explicitly, so a plan never conflicts with itself.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from actors.api import pod_template_hash
from actors.api._registry import json_copy

__all__ = [
    "Action",
    "Create",
    "Delete",
    "Event",
    "ObjectRef",
    "Patch",
    "Plan",
    "PlanBuilder",
    "Update",
    "annotations_of",
    "sync_controller_revisions",
    "controller_ref_of",
    "creation_time",
    "deep_copy",
    "format_time",
    "get_condition",
    "labels_of",
    "meta_of",
    "name_of",
    "namespace_of",
    "new_controller_ref",
    "parse_time",
    "scaled_value",
    "uid_of",
]

NORMAL = "Normal"
WARNING = "Warning"

_UTC = datetime.UTC


# -- plan types -----------------------------------------------------------------------


class ObjectRef(msgspec.Struct, frozen=True, kw_only=True):
    """The object an action writes or an event is about (``v1.ObjectReference``)."""

    api_version: str
    kind: str
    name: str = ""
    namespace: str = ""
    uid: str = ""

    @classmethod
    def of(cls, obj: Mapping[str, Any], *, api_version: str = "", kind: str = "") -> ObjectRef:
        """The reference of ``obj``; its own apiVersion/kind win over the defaults
        (informer caches may strip TypeMeta, so callers pass what they know)."""
        m = meta_of(obj)
        return cls(
            api_version=str(obj.get("apiVersion") or api_version),
            kind=str(obj.get("kind") or kind),
            name=str(m.get("name") or ""),
            namespace=str(m.get("namespace") or ""),
            uid=str(m.get("uid") or ""),
        )

    def key(self) -> str:
        """``namespace/name`` (or ``name``), as ``cache.MetaNamespaceKeyFunc``."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """An event to record: ``recorder.Eventf(involved, type, reason, message)``."""

    type: str
    reason: str
    message: str
    involved: ObjectRef

    def render(self, *, name: str = "", error: str = "") -> Event:
        msg = self.message.replace("{name}", name).replace("{error}", error)
        return msgspec.structs.replace(self, message=msg)


class Create(msgspec.Struct, frozen=True, kw_only=True, tag="plan.create"):
    ref: ObjectRef  # name is "" when the body uses generateName
    body: dict[str, Any]
    batch: int | None = None
    on_success: tuple[Event, ...] = ()
    on_failure: tuple[Event, ...] = ()


class Update(msgspec.Struct, frozen=True, kw_only=True, tag="plan.update"):
    ref: ObjectRef
    body: dict[str, Any]  # the whole object, with the resourceVersion it was read at
    subresource: str | None = None  # "status", "finalize"
    on_success: tuple[Event, ...] = ()
    on_failure: tuple[Event, ...] = ()


class Patch(msgspec.Struct, frozen=True, kw_only=True, tag="plan.patch"):
    ref: ObjectRef
    patch: Any
    patch_type: str = "merge"  # "merge" (RFC 7386), "strategic", "json" (RFC 6902)
    subresource: str | None = None
    on_success: tuple[Event, ...] = ()
    on_failure: tuple[Event, ...] = ()


class Delete(msgspec.Struct, frozen=True, kw_only=True, tag="plan.delete"):
    ref: ObjectRef
    propagation_policy: str | None = None  # "Background", "Foreground", "Orphan"
    preconditions_uid: str | None = None
    grace_period_seconds: int | None = None
    on_success: tuple[Event, ...] = ()
    on_failure: tuple[Event, ...] = ()


Action = Create | Update | Patch | Delete


class Plan(msgspec.Struct, frozen=True, kw_only=True, tag="plan"):
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None

    def of_type(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]


class PlanBuilder:
    """Accumulates one reconcile's plan (see the module docstring's invariants)."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._events: list[Event] = []
        self._index: dict[tuple[str, str, str, str | None], int] = {}
        self._requeue: float | None = None

    def event(self, type_: str, reason: str, message: str, involved: ObjectRef) -> None:
        self._events.append(Event(type=type_, reason=reason, message=message, involved=involved))

    def create(self, ref: ObjectRef, body: dict[str, Any], *, batch: int | None = None,
               on_success: Iterable[Event] = (), on_failure: Iterable[Event] = ()) -> None:
        if ref.name:
            self._index[(ref.kind, ref.namespace, ref.name, None)] = len(self._actions)
        self._actions.append(Create(ref=ref, body=body, batch=batch,
                                    on_success=tuple(on_success), on_failure=tuple(on_failure)))

    def update(self, ref: ObjectRef, body: dict[str, Any], *, subresource: str | None = None,
               on_success: Iterable[Event] = (), on_failure: Iterable[Event] = (),
               again: bool = False) -> None:
        """Plan a write of ``body``; it replaces an earlier write of the same object and
        subresource, unless ``again`` asks for a second write after the actions between
        (the Job controller flushes its status before and after removing finalizers)."""
        key = (ref.kind, ref.namespace, ref.name, subresource)
        i = None if again else self._index.get(key)
        if i is not None:
            prev = self._actions[i]
            assert isinstance(prev, Create | Update)
            self._actions[i] = msgspec.structs.replace(
                prev, body=body, on_success=prev.on_success + tuple(on_success),
                on_failure=prev.on_failure + tuple(on_failure))
            return
        self._index[key] = len(self._actions)
        self._actions.append(Update(ref=ref, body=body, subresource=subresource,
                                    on_success=tuple(on_success), on_failure=tuple(on_failure)))

    def patch(self, ref: ObjectRef, patch: Any, *, patch_type: str = "merge",
              subresource: str | None = None, on_success: Iterable[Event] = (),
              on_failure: Iterable[Event] = ()) -> None:
        self._actions.append(Patch(ref=ref, patch=patch, patch_type=patch_type,
                                   subresource=subresource, on_success=tuple(on_success),
                                   on_failure=tuple(on_failure)))

    def delete(self, ref: ObjectRef, *, propagation_policy: str | None = None,
               preconditions_uid: str | None = None, grace_period_seconds: int | None = None,
               on_success: Iterable[Event] = (), on_failure: Iterable[Event] = ()) -> None:
        self._actions.append(Delete(ref=ref, propagation_policy=propagation_policy,
                                    preconditions_uid=preconditions_uid,
                                    grace_period_seconds=grace_period_seconds,
                                    on_success=tuple(on_success), on_failure=tuple(on_failure)))

    def requeue_after(self, seconds: float) -> None:
        """Ask for a later sync; the earliest request wins (as ``AddAfter``)."""
        seconds = max(0.0, float(seconds))
        if self._requeue is None or seconds < self._requeue:
            self._requeue = seconds

    @property
    def actions(self) -> list[Action]:
        return list(self._actions)

    def build(self) -> Plan:
        return Plan(actions=tuple(self._actions), events=tuple(self._events),
                    requeue_after=self._requeue)


# -- object helpers -------------------------------------------------------------------


def deep_copy(obj: Any) -> Any:
    """A working copy of a cached object (cached objects are never mutated)."""
    return json_copy(obj) if isinstance(obj, (dict, list)) else copy.deepcopy(obj)


def meta_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    m = (obj or {}).get("metadata")
    return m if isinstance(m, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta_of(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta_of(obj).get("namespace") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta_of(obj).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta_of(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta_of(obj).get("annotations") or {})


def creation_time(obj: Mapping[str, Any]) -> float | None:
    return parse_time(meta_of(obj).get("creationTimestamp"))


def controller_ref_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``."""
    for ref in meta_of(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Mapping[str, Any], *, api_version: str, kind: str) -> dict[str, Any]:
    """``metav1.NewControllerRef``: blockOwnerDeletion and controller both true."""
    return {"apiVersion": api_version, "kind": kind, "name": name_of(owner),
            "uid": uid_of(owner), "controller": True, "blockOwnerDeletion": True}


def get_condition(status: Mapping[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in (status or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


# -- time: metav1.Time is RFC 3339 with whole seconds; ``now`` is seconds since the epoch --

_FRACTION = re.compile(r"\.\d+")


def format_time(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), tz=_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> float | None:
    """Seconds since the epoch of an RFC 3339 timestamp (fractions kept), or None."""
    if not text:
        return None
    if isinstance(text, int | float):
        return float(text)
    s = str(text).replace("Z", "+00:00")
    frac = 0.0
    if m := _FRACTION.search(s):
        frac = float("0" + m.group(0))
        s = s[: m.start()] + s[m.end():]
    return datetime.datetime.fromisoformat(s).timestamp() + frac


# -- intstr (apimachinery/pkg/util/intstr) --------------------------------------------


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, "25%" of ``total`` rounded
    up (surge) or down (unavailable). Exact integer arithmetic: Go's float ceil/floor of
    ``v*total/100`` gives the same results for any realistic sizes."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: invalid type: {value!r}")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        pct = int(value[:-1])
    except ValueError:
        raise ValueError(f'invalid value "{value}": strconv.Atoi: parsing "{value[:-1]}": '
                         "invalid syntax") from None
    product = pct * total
    return -(-product // 100) if round_up else product // 100


# -- controller history (pkg/controller/history) ----------------------------------------

REVISION_HASH_LABEL = "controller-revision-hash"


def _revision_data(template: Mapping[str, Any]) -> dict[str, Any]:
    """What DaemonSets and StatefulSets store: a strategic patch replacing the template."""
    return {"spec": {"template": {**deep_copy(dict(template)), "$patch": "replace"}}}


def _revision_number(rev: Mapping[str, Any]) -> int:
    return int(rev.get("revision") or 0)


def sync_controller_revisions(owner: Mapping[str, Any], revisions: Iterable[Mapping[str, Any]], *,
                              owner_ref: ObjectRef, template: Mapping[str, Any],
                              collision_count: int | None, builder: PlanBuilder,
                              ) -> tuple[dict[str, Any], int | None]:
    """Find or plan the ControllerRevision of ``template`` (``getStatefulSetRevisions``,
    ``constructHistory``): the newest equal revision is reused, an older equal one is
    renumbered to the next revision (a rollback), else a new one is created. A name taken
    by different data bumps the collision count, as ``CreateControllerRevision`` does.
    Returns the update revision (as it will be) and the collision count to store."""
    owned = sorted((r for r in revisions if (controller_ref_of(r) or {}).get("uid") == owner_ref.uid),
                   key=lambda r: (_revision_number(r), creation_time(r) or 0.0, name_of(r)))
    data = _revision_data(template)
    next_number = (_revision_number(owned[-1]) + 1) if owned else 1
    equal = [r for r in owned if r.get("data") == data]
    if equal and equal[-1] is owned[-1]:
        return deep_copy(dict(owned[-1])), collision_count
    if equal:
        rev = deep_copy(dict(equal[-1]))
        rev["revision"] = next_number
        builder.update(ObjectRef.of(rev, api_version="apps/v1", kind="ControllerRevision"), rev)
        return rev, collision_count
    taken = {name_of(r): r for r in revisions}
    while True:
        h = pod_template_hash(data, collision_count)
        name = f"{name_of(owner)[:223]}-{h}"
        if name not in taken:
            break
        collision_count = (collision_count or 0) + 1
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels[REVISION_HASH_LABEL] = h
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
           "metadata": {"name": name, "namespace": owner_ref.namespace, "labels": labels,
                        "ownerReferences": [new_controller_ref(owner, api_version=owner_ref.api_version,
                                                               kind=owner_ref.kind)]},
           "data": data, "revision": next_number}
    builder.create(ObjectRef(api_version="apps/v1", kind="ControllerRevision", name=name,
                             namespace=owner_ref.namespace), deep_copy(rev))
    return rev, collision_count


def truncate_history(revisions: Iterable[Mapping[str, Any]], *, owner_ref: ObjectRef,
                     live_names: set[str], limit: int, builder: PlanBuilder) -> None:
    """Delete the oldest revisions no pod uses beyond ``revisionHistoryLimit``."""
    owned = sorted((r for r in revisions if (controller_ref_of(r) or {}).get("uid") == owner_ref.uid),
                   key=lambda r: (_revision_number(r), creation_time(r) or 0.0, name_of(r)))
    history = [r for r in owned if name_of(r) not in live_names]
    for rev in history[: max(0, len(history) - limit)]:
        builder.delete(ObjectRef.of(rev, api_version="apps/v1", kind="ControllerRevision"))
