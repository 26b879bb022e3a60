"""meta/v1 types shared by every kind: ObjectMeta, ListMeta, Status, LabelSelector, Condition.

What it is: the msgspec Struct bases every API type derives from, and the
``k8s.io/apimachinery/pkg/apis/meta/v1`` types themselves.

Concurrency model: none. Every Struct is frozen (``msgspec.structs.replace`` makes a
changed copy) and holds no reference cycles, so ``gc=False`` is safe and keeps
150,000 pods cheap for the collector.

Invariants:
- Python attributes are snake_case; the JSON names are exactly Kubernetes' (camelCase
  through ``rename="camel"``, with an explicit ``name=`` where Kubernetes spells an
  initialism in capitals: ``podIP``, ``clusterIPs``, ``nonResourceURLs``...).
- Every optional field defaults to ``None`` and ``omit_defaults=True`` drops it on
  encoding, so an object round-trips exactly: a field set to ``0``, ``""``, ``[]`` or
  ``{}`` is kept, an unset one is left out (Kubernetes' ``omitempty`` pointers).
- A top-level kind carries ``kind`` as the msgspec tag (always encoded first, checked on
  decoding) and ``apiVersion`` filled from the class when absent, so the encoding starts
  ``{"kind":"Pod","apiVersion":"v1",...}`` as the apiserver's does.
- Timestamps stay RFC 3339 strings, as in Kubernetes' JSON; no clock is read here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

__all__ = [
    "Condition",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "LocalObjectReference",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "ResourceList",
    "Status",
    "StatusCause",
    "StatusDetails",
    "TypedLocalObjectReference",
]

# Quantities travel as strings ("500m", "1Gi"); a YAML number (cpu: 1) is accepted and
# turned into its string form, as the apiserver's Quantity unmarshalling does.
ResourceList = dict[str, str | int | float]


def _no_time() -> None:
    return None


def time_field() -> Any:
    """A ``metav1.Time`` held by value (not a pointer): Go's ``omitempty`` does not omit a
    struct, so an unset time is written as ``null`` (``creationTimestamp: null`` in a pod
    template, ``lastProbeTime: null`` in a pod condition). msgspec's ``omit_defaults`` cannot
    compare a ``default_factory`` other than an empty collection, so such a field is always
    written."""
    return msgspec.field(default_factory=_no_time)


class Obj(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", frozen=True,
          gc=False):
    """Base of every nested API struct (each subclass repeats ``kw_only=True``: msgspec
    does not inherit it)."""


class TopLevel(msgspec.Struct, omit_defaults=True, rename="camel", frozen=True, gc=False,
               tag_field="kind"):
    """Base of every top-level kind: ``kind`` is the tag, ``apiVersion`` defaults per class.

    Not kw_only itself, on purpose: msgspec moves inherited kw_only fields after the
    subclass's own, which would encode ``apiVersion`` last. Every kind declares
    ``kw_only=True`` for its own fields.
    """

    API_VERSION: ClassVar[str] = "v1"

    api_version: str | None = None

    def __post_init__(self) -> None:
        if self.api_version is None:
            msgspec.structs.force_setattr(self, "api_version", self.API_VERSION)

    @property
    def kind(self) -> str:
        return self.__struct_config__.tag  # type: ignore[return-value]


def normalize_resources(obj: msgspec.Struct, *names: str) -> None:
    """Turn numbers in ResourceLists into strings in place (called from __post_init__)."""
    for name in names:
        rl = getattr(obj, name)
        if rl and any(not isinstance(v, str) for v in rl.values()):
            fixed = {k: (v if isinstance(v, str) else _number_text(v)) for k, v in rl.items()}
            msgspec.structs.force_setattr(obj, name, fixed)


def _number_text(v: int | float) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


class OwnerReference(Obj, kw_only=True):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Obj, kw_only=True):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = time_field()
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    # Server-side apply bookkeeping: kept verbatim, never interpreted here.
    managed_fields: list[dict[str, Any]] | None = None


class ListMeta(Obj, kw_only=True):
    self_link: str | None = None
    resource_version: str | None = None
    continue_: str | None = msgspec.field(default=None, name="continue")
    remaining_item_count: int | None = None


class LabelSelectorRequirement(Obj, kw_only=True):
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class LabelSelector(Obj, kw_only=True):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class Condition(Obj, kw_only=True):
    """metav1.Condition, the standard condition shape of newer APIs."""

    type: str | None = None
    status: str | None = None
    observed_generation: int | None = None
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class ObjectReference(Obj, kw_only=True):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(Obj, kw_only=True):
    name: str | None = None


class TypedLocalObjectReference(Obj, kw_only=True):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class StatusCause(Obj, kw_only=True):
    """One cause of a failure; Kubernetes' JSON calls the type ``reason``.

    It doubles as the validation ``Cause``: ``type`` is FieldValueInvalid and friends,
    ``message`` the error body, ``field`` the field path.
    """

    type: str | None = msgspec.field(default=None, name="reason")
    message: str | None = None
    field: str | None = None

    def error(self) -> str:
        """The ``field: message`` line Kubernetes prints for a field error."""
        return f"{self.field}: {self.message}" if self.field else (self.message or "")


class StatusDetails(Obj, kw_only=True):
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    uid: str | None = None
    causes: list[StatusCause] | None = None
    retry_after_seconds: int | None = None


class Status(TopLevel, tag="Status", kw_only=True):
    metadata: ListMeta | None = None
    status: str | None = None
    message: str | None = None
    reason: str | None = None
    details: StatusDetails | None = None
    code: int | None = None
