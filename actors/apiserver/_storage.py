"""The apiserver's storage layer over etcd (``k8s.io/apiserver/pkg/storage/etcd3``).

What it is: objects are stored as JSON bytes under their registry key
(``/registry/pods/default/web``); the stored bytes never carry ``resourceVersion`` (the
versioner strips it before writing, as Kubernetes does), and every object read back gets
``metadata.resourceVersion`` = the key's etcd ``mod_revision``. Writes are etcd
transactions guarded by the key's revisions:

- create: ``Txn(create_revision(key) == 0) put`` — else the key exists (``KeyExists``);
- update: ``Txn(mod_revision(key) == rv) put else get`` — a lost race returns the current
  state (``RevisionMismatch``) so the caller's guaranteed-update loop can retry on it;
- delete: ``Txn(mod_revision(key) == rv) delete else get``.

Also here: the lease manager that attaches TTL'd objects (events) to shared leases, and
the compactor that every apiserver runs (storage/etcd3/compact.go): a Txn on
``compact_rev_key`` elects one compactor per interval cluster-wide.

Concurrency model: coroutines run in the apiserver actor's request tasks; state (the
lease manager's current lease, the compactor's last revision) belongs to the actor and is
only touched from its tasks, never across an ``await`` without re-checking.

Invariants: a write answered successfully was applied exactly once; a write whose outcome
is unknown (``UnknownOutcome``) is reported as such, never as a failure.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from actors.etcd import (
    Compare,
    DeleteRangeRequest,
    EtcdClient,
    KeyValue,
    PutRequest,
    RangeRequest,
    prefix_end,
)

__all__ = [
    "COMPACT_REV_KEY",
    "Compactor",
    "KeyExists",
    "LeaseManager",
    "NotFoundKey",
    "RevisionMismatch",
    "Storage",
    "Stored",
    "decode_value",
    "encode_value",
    "list_prefix",
    "registry_key",
]

COMPACT_REV_KEY = b"compact_rev_key"
_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder()


class Stored(NamedTuple):
    """One object as read from etcd: the dict (with its resourceVersion), its revisions."""

    obj: dict[str, Any]
    rv: int
    lease: int = 0


class KeyExists(Exception):
    """A create found the key already there."""


class NotFoundKey(Exception):
    """The key is absent."""


class RevisionMismatch(Exception):
    """A guarded write lost a race; ``current`` is the state it lost to (None: deleted)."""

    def __init__(self, current: Stored | None) -> None:
        super().__init__("revision mismatch")
        self.current = current


def encode_value(obj: dict[str, Any]) -> bytes:
    """The stored bytes: the object without its resourceVersion (the etcd3 versioner's
    PrepareObjectForStorage)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
    return _ENC.encode(obj)


def decode_value(value: bytes, mod_revision: int) -> dict[str, Any]:
    obj = _DEC.decode(value)
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta["resourceVersion"] = str(mod_revision)
    return obj  # type: ignore[no-any-return]


def _stored(kv: KeyValue) -> Stored:
    return Stored(decode_value(kv.value, kv.mod_revision), kv.mod_revision, kv.lease)


class Storage:
    """Typed-agnostic object storage over one ``EtcdClient``."""

    def __init__(self, client: EtcdClient) -> None:
        self.client = client

    async def get(self, key: str) -> Stored | None:
        """A quorum read (resourceVersion unset: "most recent")."""
        resp = await self.client.request(RangeRequest(key=key.encode()))
        return _stored(resp.kvs[0]) if resp.kvs else None

    async def revision(self) -> int:
        """The store's current revision, by a quorum read of nothing."""
        resp = await self.client.request(RangeRequest(key=COMPACT_REV_KEY, count_only=True))
        return int(resp.header.revision)

    async def list(self, prefix: str, *, revision: int = 0) -> tuple[list[Stored], int]:
        """Every object under ``prefix`` at ``revision`` (0: now), and that revision."""
        key = prefix.encode()
        resp = await self.client.request(RangeRequest(key=key, range_end=prefix_end(key),
                                                      revision=revision))
        return [_stored(kv) for kv in resp.kvs], int(resp.header.revision)

    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0) -> Stored:
        k = key.encode()
        resp = await self.client.txn(
            [Compare(key=k, target="create", result="equal", create_revision=0)],
            [PutRequest(key=k, value=encode_value(obj), lease=lease)],
        )
        if not resp.succeeded:
            raise KeyExists(key)
        rev = int(resp.responses[0].header.revision)
        return Stored(_with_rv(obj, rev), rev, lease)

    async def update(self, key: str, obj: dict[str, Any], expected_rv: int, *,
                     lease: int = 0) -> Stored:
        """Write ``obj`` if the key is still at ``expected_rv``; else ``RevisionMismatch``."""
        k = key.encode()
        resp = await self.client.txn(
            [Compare(key=k, target="mod", result="equal", mod_revision=expected_rv)],
            [PutRequest(key=k, value=encode_value(obj), lease=lease)],
            [RangeRequest(key=k)],
        )
        if not resp.succeeded:
            kvs = resp.responses[0].kvs if resp.responses else ()
            raise RevisionMismatch(_stored(kvs[0]) if kvs else None)
        rev = int(resp.responses[0].header.revision)
        return Stored(_with_rv(obj, rev), rev, lease)

    async def delete(self, key: str, expected_rv: int) -> Stored:
        """Delete the key if still at ``expected_rv``; returns the last state (with its own
        resourceVersion, as etcd3's Delete decodes it) and the deletion's revision."""
        k = key.encode()
        resp = await self.client.txn(
            [Compare(key=k, target="mod", result="equal", mod_revision=expected_rv)],
            [DeleteRangeRequest(key=k, prev_kv=True)],
            [RangeRequest(key=k)],
        )
        if not resp.succeeded:
            kvs = resp.responses[0].kvs if resp.responses else ()
            raise RevisionMismatch(_stored(kvs[0]) if kvs else None)
        dr = resp.responses[0]
        if not dr.prev_kvs:
            raise RevisionMismatch(None)
        prev = dr.prev_kvs[0]
        return Stored(decode_value(prev.value, prev.mod_revision), int(dr.header.revision),
                      prev.lease)


def _with_rv(obj: dict[str, Any], rev: int) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {**(obj.get("metadata") or {}), "resourceVersion": str(rev)}
    return out


class LeaseManager:
    """Shares etcd leases between TTL'd objects (storage/etcd3/lease_manager.go).

    A lease granted for ``ttl`` is given ``ttl + window`` seconds and reused by every write
    asking for the same ttl within ``window`` of the grant, where ``window`` is 5% of the
    TTL capped at 60 s (Kubernetes' defaults), and for at most ``max_objects`` writes. So
    an event lives between ``ttl`` and ``ttl + window`` seconds after its last write.
    """

    def __init__(self, client: EtcdClient, *, max_objects: int = 1000) -> None:
        self.client = client
        self.max_objects = max_objects
        self._leases: dict[int, tuple[int, float, int]] = {}  # ttl -> (id, granted_at, uses)

    def _window(self, ttl: int) -> float:
        return min(0.05 * ttl, 60.0)

    async def lease_for(self, ttl: int, now: float) -> int:
        cur = self._leases.get(ttl)
        if cur is not None:
            lease_id, granted, uses = cur
            if now - granted < self._window(ttl) and uses < self.max_objects:
                self._leases[ttl] = (lease_id, granted, uses + 1)
                return lease_id
        resp = await self.client.lease_grant(ttl + int(self._window(ttl)))
        self._leases[ttl] = (int(resp.id), now, 1)
        return int(resp.id)

    def forget(self) -> None:
        """Drop the cached leases (after an etcd error naming a lost lease)."""
        self._leases.clear()


class Compactor:
    """One compaction per ``interval`` for the whole cluster (storage/etcd3/compact.go).

    Each apiserver runs ``cycle()`` every interval. The Txn on ``compact_rev_key``'s
    version succeeds for exactly one of them per interval (the others learn the new
    version); the winner compacts etcd to the revision it recorded one interval earlier,
    so about one interval of history is always kept (etcd3-backed clusters keep ~5 min).
    """

    def __init__(self, client: EtcdClient) -> None:
        self.client = client
        self.version = 0  # compact_rev_key's version last seen
        self.revision = 0  # the store revision recorded at our last successful Txn
        self.compacted = 0  # the last revision this apiserver compacted to

    async def cycle(self) -> int:
        """Run one round; returns the revision compacted to (0 if none)."""
        resp = await self.client.txn(
            [Compare(key=COMPACT_REV_KEY, target="version", result="equal", version=self.version)],
            [PutRequest(key=COMPACT_REV_KEY, value=b"")],
            [RangeRequest(key=COMPACT_REV_KEY)],
        )
        current = int(resp.header.revision)
        if not resp.succeeded:
            kvs = resp.responses[0].kvs if resp.responses else ()
            self.version = int(kvs[0].version) if kvs else 0
            return 0
        self.version += 1
        target, self.revision = self.revision, current
        if target <= 0:
            return 0
        await self.client.compact(target)
        self.compacted = target
        return target


def registry_key(prefix: str, namespaced: bool, namespace: str | None, name: str) -> str:
    if namespaced:
        return f"{prefix}/{namespace}/{name}"
    return f"{prefix}/{name}"


def list_prefix(prefix: str, namespaced: bool, namespace: str | None) -> str:
    """The etcd prefix of a list: every namespace (``/registry/pods/``) or one."""
    if namespaced and namespace:
        return f"{prefix}/{namespace}/"
    return f"{prefix}/"
