"""The informer's local cache: a ``Store`` of API objects keyed by ``namespace/name`` with
secondary indexes (client-go's ``tools/cache`` ``threadSafeStore`` + ``Indexer``, without the
threads).

What it is: objects (plain dicts in Kubernetes JSON form, as the apiserver sends them) keyed
by ``meta_namespace_key`` — ``namespace/name``, or ``name`` for cluster-scoped objects — and
indexed by named index functions. The standard indexes are ``namespace``,
``node_name`` (``spec.nodeName``), ``owner_uid`` (the uid of the *controller* ownerReference)
and ``label`` (one ``key=value`` entry per label); callers add their own with
``add_indexers``. ``DeletedFinalStateUnknown`` is the tombstone an informer hands to
``on_delete`` when a relist shows an object vanished while it was not watching.

Concurrency model: none. A store belongs to one actor and is touched only from that actor's
handlers and tasks, one at a time; nothing here awaits.

Invariants:
- **Objects are treated as immutable.** The store never mutates an object, and nobody may
  mutate an object read from it (handlers, listers and reconcilers all share the same dict):
  copy it and change the copy, as with client-go's ``DeepCopy``. With the mutation detector
  on (``detect_mutations``; every informer turns it on when ``KUBE_CACHE_MUTATION_DETECTOR``
  is true, client-go's switch, and the test suite sets it) the store fingerprints each object
  it takes and checks the fingerprint when the object is replaced or deleted, and
  ``check_unmutated`` checks them all: a mutation is an ``InvariantViolation``, which stops
  the simulation.
- For every index, ``by_index(name, v)`` is exactly the set of stored objects whose index
  function yields ``v``; updating or deleting an object keeps it so.
- Iteration order is insertion order (dicts, never sets), so runs are deterministic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from runtime import InvariantViolation

__all__ = [
    "LABEL_INDEX",
    "MUTATION_DETECTOR_ENV",
    "NAMESPACE_INDEX",
    "NODE_NAME_INDEX",
    "OWNER_UID_INDEX",
    "STANDARD_INDEXERS",
    "mutation_detector_enabled",
    "DeletedFinalStateUnknown",
    "IndexFunc",
    "Indexer",
    "Store",
    "index_by_label",
    "index_by_namespace",
    "index_by_node_name",
    "index_by_owner_uid",
    "meta_namespace_key",
    "split_key",
]

IndexFunc = Callable[[Mapping[str, Any]], list[str]]

NAMESPACE_INDEX = "namespace"
NODE_NAME_INDEX = "node_name"
OWNER_UID_INDEX = "owner_uid"
LABEL_INDEX = "label"


@dataclasses.dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """An object deleted while the informer was not watching: ``obj`` is its last known state
    (possibly stale). Handlers' ``on_delete`` receive this instead of the object."""

    key: str
    obj: Mapping[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def meta_namespace_key(obj: Mapping[str, Any] | DeletedFinalStateUnknown) -> str:
    """``namespace/name`` (or ``name`` when cluster-scoped): client-go's MetaNamespaceKeyFunc,
    with tombstones keyed by the key they carry (DeletionHandlingMetaNamespaceKeyFunc)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    meta = _meta(obj)
    name = meta.get("name")
    if not name:
        raise ValueError("object has no metadata.name")
    ns = meta.get("namespace")
    return f"{ns}/{name}" if ns else name


def split_key(key: str) -> tuple[str | None, str]:
    """``"ns/name"`` → ``("ns", "name")``; ``"name"`` → ``(None, "name")``."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, key)


def index_by_namespace(obj: Mapping[str, Any]) -> list[str]:
    """MetaNamespaceIndexFunc: cluster-scoped objects index under ``""``."""
    return [_meta(obj).get("namespace") or ""]


def index_by_node_name(obj: Mapping[str, Any]) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def index_by_owner_uid(obj: Mapping[str, Any]) -> list[str]:
    """The uid of the controller ownerReference (``controller: true``), as controllers' owner
    lookups use it; objects without a controller are not indexed."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid"):
            return [ref["uid"]]
    return []


def index_by_label(obj: Mapping[str, Any]) -> list[str]:
    labels = _meta(obj).get("labels") or {}
    return [f"{k}={v}" for k, v in labels.items()]


STANDARD_INDEXERS: dict[str, IndexFunc] = {
    NAMESPACE_INDEX: index_by_namespace,
    NODE_NAME_INDEX: index_by_node_name,
    OWNER_UID_INDEX: index_by_owner_uid,
    LABEL_INDEX: index_by_label,
}


class ReadMeter:
    """Counts the cached objects handed out by every Indexer's ``list``/``by_index`` while it
    is running (``with ReadMeter() as m: ...; m.objects``): how much of the cache a
    synchronous computation read. One at a time; the simulation is single-threaded."""

    active: ReadMeter | None = None

    def __init__(self) -> None:
        self.objects = 0

    def __enter__(self) -> ReadMeter:
        ReadMeter.active = self
        return self

    def __exit__(self, *exc: object) -> None:
        ReadMeter.active = None


class Indexer:
    """Objects by key, plus named indexes. ``Store`` is the same class (client-go's Store is an
    Indexer without indexes)."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Mapping[str, Any]] = {}
        self._indexers: dict[str, IndexFunc] = dict(STANDARD_INDEXERS if indexers is None else indexers)
        # index name -> indexed value -> keys (a dict used as an ordered set)
        self._indices: dict[str, dict[str, dict[str, None]]] = {n: {} for n in self._indexers}
        self.resource_version = ""  # of the last ``replace`` (a list's resourceVersion)
        self._fingerprints: dict[str, bytes] | None = None

    # ---- writes --------------------------------------------------------------------------
    def add(self, obj: Mapping[str, Any]) -> None:
        """Insert or replace the object under its key (add and update are the same operation)."""
        key = meta_namespace_key(obj)
        old = self._items.get(key)
        if self._fingerprints is not None:
            if old is not None:
                self._check(key, old)
            self._fingerprints[key] = _fingerprint(obj)
        self._items[key] = obj
        self._reindex(key, old, obj)

    update = add

    def delete(self, obj_or_key: Mapping[str, Any] | DeletedFinalStateUnknown | str) -> None:
        key = obj_or_key if isinstance(obj_or_key, str) else meta_namespace_key(obj_or_key)
        old = self._items.pop(key, None)
        if old is not None:
            self._reindex(key, old, None)
        if self._fingerprints is not None:
            if old is not None:
                self._check(key, old)
            self._fingerprints.pop(key, None)

    def replace(self, objs: Iterable[Mapping[str, Any]], resource_version: str = "") -> None:
        """Make the store hold exactly ``objs`` (a fresh list from the apiserver)."""
        if self._fingerprints is not None:
            self.check_unmutated()
        self._items = {}
        self._indices = {n: {} for n in self._indexers}
        if self._fingerprints is not None:
            self._fingerprints = {}
        for obj in objs:
            self.add(obj)
        self.resource_version = resource_version

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions; existing objects are indexed at once (client-go only allows this
        before the informer starts — here it is always safe)."""
        for name, fn in indexers.items():
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                self._index_one(name, fn, key, obj)

    # ---- reads ---------------------------------------------------------------------------
    def get_by_key(self, key: str) -> Mapping[str, Any] | None:
        return self._items.get(key)

    def get(self, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self._items.get(meta_namespace_key(obj))

    def list(self) -> list[Mapping[str, Any]]:
        meter = ReadMeter.active
        if meter is not None:
            meter.objects += len(self._items)
        return list(self._items.values())

    def list_keys(self) -> list[str]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def by_index(self, index_name: str, value: str) -> list[Mapping[str, Any]]:
        items = self._items
        out = [items[k] for k in self._index(index_name).get(value, ())]
        meter = ReadMeter.active
        if meter is not None:
            meter.objects += len(out)
        return out

    def index_keys(self, index_name: str, value: str) -> list[str]:
        return list(self._index(index_name).get(value, ()))

    def list_index_values(self, index_name: str) -> list[str]:
        return list(self._index(index_name))

    @property
    def indexers(self) -> dict[str, IndexFunc]:
        return dict(self._indexers)

    # ---- mutation detection (a test aid, like client-go's cache mutation detector) ------
    def detect_mutations(self) -> None:
        """Start fingerprinting stored objects so ``check_unmutated`` can catch mutation."""
        self._fingerprints = {k: _fingerprint(o) for k, o in self._items.items()}

    def check_unmutated(self) -> None:
        """Raise ``InvariantViolation`` naming the first stored object someone mutated."""
        if self._fingerprints is None:
            raise RuntimeError("call detect_mutations() first")
        for key, obj in self._items.items():
            self._check(key, obj)

    def _check(self, key: str, obj: Mapping[str, Any]) -> None:
        assert self._fingerprints is not None
        if _fingerprint(obj) != self._fingerprints.get(key):
            raise InvariantViolation(f"cached object {key!r} was mutated in place (the "
                                     "informer's objects are shared: copy before changing)")

    # ---- internals -----------------------------------------------------------------------
    def _index(self, name: str) -> dict[str, dict[str, None]]:
        idx = self._indices.get(name)
        if idx is None:
            raise KeyError(f"no indexer named {name!r}")
        return idx

    def _index_one(self, name: str, fn: IndexFunc, key: str, obj: Mapping[str, Any]) -> None:
        idx = self._indices[name]
        for value in fn(obj):
            idx.setdefault(value, {})[key] = None

    def _reindex(self, key: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        for name, fn in self._indexers.items():
            before = fn(old) if old is not None else []
            after = fn(new) if new is not None else []
            if before == after:
                continue
            idx = self._indices[name]
            for value in before:
                if value in after:
                    continue
                keys = idx.get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del idx[value]
            for value in after:
                idx.setdefault(value, {})[key] = None


Store = Indexer

_ENC = msgspec.json.Encoder(order="deterministic")

MUTATION_DETECTOR_ENV = "KUBE_CACHE_MUTATION_DETECTOR"


def mutation_detector_enabled() -> bool:
    """Whether ``KUBE_CACHE_MUTATION_DETECTOR`` is true (Go's ``strconv.ParseBool`` spellings,
    as client-go reads it). It adds checks only: a run's trajectory is the same either way."""
    return os.environ.get(MUTATION_DETECTOR_ENV, "") in ("1", "t", "T", "true", "TRUE", "True")


def _fingerprint(obj: Mapping[str, Any]) -> bytes:
    return _ENC.encode(obj)
