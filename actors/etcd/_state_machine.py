"""The etcd v3 state machine under Raft: applies committed requests to the MVCC store, the
lessor and the watch hub (etcd-io/etcd server/etcdserver apply).

What it is: `apply(index, request, now)` executes one committed `KVRequest` and returns the
response for the client that proposed it. A request etcd would refuse raises a named
`KVError` inside, which becomes an `ErrorResponse` (never a crash, and never a half-applied
change: a refused Txn rolls back). `snapshot()` / `restore()` move the whole replicated state
as bytes, for Raft's InstallSnapshot and for restarts.

Concurrency model: none. Plain synchronous code owned by one etcd member actor; time enters
only as `now`, and only the lessor's local expiry clock depends on it.

Invariants:
* determinism: the same requests applied in the same order give the same responses and
  byte-identical snapshots on every replica, whatever `now` each one saw;
* `applied_index` only grows; an entry at or below it is skipped (etcd's consistent index, so
  a log replayed over a snapshot is harmless);
* after every apply the watch hub has queued every committed change (`watch_hub.sync()`).

etcd behaviour mirrored: request validation of v3rpc (empty key, value/lease provided, at most
`max_txn_ops` ops per Txn branch, no duplicate or overlapping puts/deletes in a Txn), Txn
compares evaluated together before any op (`compareToPath`), reads in a Txn seeing its own
earlier writes, sort/limit/count semantics of applierV3backend.Range, and a comparison on a
missing key comparing against zero (a `value` comparison on a missing key is always false).
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter

import msgspec

from actors.etcd._kv_messages import (
    CompactedError,
    CompactionRequest,
    CompactionResponse,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    DuplicateKeyError,
    EmptyKeyError,
    ErrorResponse,
    InvalidRequestError,
    KeyNotFoundError,
    KeyValue,
    KVError,
    KVRequest,
    KVResponse,
    LeaseExpireRequest,
    LeaseExpireResponse,
    LeaseGrantRequest,
    LeaseGrantResponse,
    LeaseKeepAliveRequest,
    LeaseKeepAliveResponse,
    LeaseLeasesRequest,
    LeaseLeasesResponse,
    LeaseNotFoundError,
    LeaseProvidedError,
    LeaseRevokeRequest,
    LeaseRevokeResponse,
    LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    ResponseHeader,
    ResponseOp,
    TooManyOpsError,
    TxnRequest,
    TxnResponse,
    ValueProvidedError,
    in_range,
)
from actors.etcd._lease import DEFAULT_MIN_LEASE_TTL, Lessor, LessorState
from actors.etcd._mvcc import MVCCState, MVCCStore, WriteTxn
from actors.etcd._watch import WatchHub

__all__ = ["DEFAULT_MAX_TXN_OPS", "KVStateMachine"]

DEFAULT_MAX_TXN_OPS = 128  # etcd's --max-txn-ops default

_NO_HEADER = ResponseHeader(0)  # replaced once the request's final revision is known
_SORT_KEYS = {
    "key": attrgetter("key"),
    "version": attrgetter("version"),
    "create": attrgetter("create_revision"),
    "mod": attrgetter("mod_revision"),
    "value": attrgetter("value"),
}
_COMPARE_FIELDS = {
    "value": "value",
    "version": "version",
    "create": "create_revision",
    "mod": "mod_revision",
    "lease": "lease",
}
_ZERO_KV = KeyValue(b"", 0, 0, 0)  # what a comparison on a missing key compares against


class _Snapshot(msgspec.Struct, frozen=True, tag="kv.snapshot"):
    applied_index: int
    mvcc: MVCCState
    lessor: LessorState


_SNAPSHOT_ENCODER = msgspec.msgpack.Encoder()
_SNAPSHOT_DECODER = msgspec.msgpack.Decoder(_Snapshot)


class KVStateMachine:
    """One member's replicated etcd state: store, lessor and (local) watch hub."""

    def __init__(
        self,
        *,
        member_id: int = 0,
        min_lease_ttl: int = DEFAULT_MIN_LEASE_TTL,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
        max_watch_events: int = 1000,
    ) -> None:
        self.member_id = member_id
        self.max_txn_ops = max_txn_ops
        self.store = MVCCStore()
        self.lessor = Lessor(min_ttl=min_lease_ttl)
        self.watch_hub = WatchHub(
            self.store, member_id=member_id, max_events_per_response=max_watch_events
        )
        self.applied_index = 0
        self._raft_term = 0

    @property
    def revision(self) -> int:
        return self.store.revision

    @property
    def raft_term(self) -> int:
        """The term stamped into response headers; the shell keeps it current."""
        return self._raft_term

    @raft_term.setter
    def raft_term(self, term: int) -> None:
        self._raft_term = term
        self.watch_hub.raft_term = term

    # ----------------------------------------------------------------- entry points

    def apply(self, index: int, request: KVRequest, now: float) -> KVResponse | None:
        """Apply the committed entry at `index`; None if it was already applied."""
        if index <= self.applied_index:
            return None
        self.applied_index = index
        try:
            response = self._execute(request, now)
        except KVError as error:
            response = self._error(error)
        self.watch_hub.sync()
        return response

    def read(
        self, request: RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest, now: float = 0.0
    ) -> KVResponse:
        """Serve a read without the log (after a ReadIndex, or a serializable read)."""
        if not isinstance(request, RangeRequest | LeaseTimeToLiveRequest | LeaseLeasesRequest):
            raise TypeError(f"read() serves only reads, not {type(request).__name__}")
        try:
            return self._execute(request, now)
        except KVError as error:
            return self._error(error)

    def snapshot(self) -> bytes:
        """The whole replicated state (applied index, history, compaction, leases) as bytes."""
        state = _Snapshot(self.applied_index, self.store.dump(), self.lessor.dump())
        return _SNAPSHOT_ENCODER.encode(state)

    def restore(self, data: bytes) -> None:
        """Replace the replicated state with a snapshot. The lessor comes back demoted; the
        watchers stay and catch up (or are compacted) from the restored history."""
        state = _SNAPSHOT_DECODER.decode(data)
        if state.applied_index < self.applied_index:
            raise ValueError(
                f"snapshot at index {state.applied_index} is older than the applied index "
                f"{self.applied_index}: a state machine never goes back"
            )
        self.store.load(state.mvcc)
        self.lessor.load(state.lessor)
        for kv in self.store.live():
            if kv.lease:
                self.lessor.attach(kv.lease, kv.key)  # raises if the snapshot is inconsistent
        self.applied_index = state.applied_index
        self.watch_hub.sync()

    # ----------------------------------------------------------------- dispatch

    def _header(self) -> ResponseHeader:
        return ResponseHeader(self.store.revision, self._raft_term, self.member_id)

    def _error(self, error: KVError) -> ErrorResponse:
        compact = error.compact_revision if isinstance(error, CompactedError) else 0
        return ErrorResponse(self._header(), error.code, str(error), compact)

    def _execute(self, request: KVRequest, now: float) -> KVResponse:
        match request:
            case RangeRequest():
                _check_op(request, self.max_txn_ops)
                return _stamp(self._range(self.store, request), self._header())
            case PutRequest() | DeleteRangeRequest() | TxnRequest():
                return self._write(request)
            case CompactionRequest():
                self.store.compact(request.revision)
                return CompactionResponse(self._header())
            case LeaseGrantRequest():
                lease = self.lessor.grant(request.id, request.ttl, now)
                return LeaseGrantResponse(self._header(), lease.id, lease.ttl)
            case LeaseRevokeRequest():
                self._revoke(request.id)
                return LeaseRevokeResponse(self._header())
            case LeaseKeepAliveRequest():
                ttl = self.lessor.renew(request.id, now)
                return LeaseKeepAliveResponse(self._header(), request.id, ttl)
            case LeaseExpireRequest():
                return self._expire(request)
            case LeaseTimeToLiveRequest():
                return self._time_to_live(request, now)
            case LeaseLeasesRequest():
                return LeaseLeasesResponse(self._header(), tuple(self.lessor.ids()))
            case _:
                raise InvalidRequestError(f"etcdserver: unknown request {type(request).__name__}")

    # ----------------------------------------------------------------- KV writes

    def _write(self, request: RequestOp) -> KVResponse:
        _check_op(request, self.max_txn_ops)
        path: list[bool] = []
        if isinstance(request, TxnRequest):
            _check_intervals(request.success)
            _check_intervals(request.failure)
            self._choose_path(request, path)
        with self.store.write() as txn:
            response = self._run(txn, request, iter(path))
        for event in txn.events:  # keep the lessor's key sets in step with the store
            if event.prev_kv is not None and event.prev_kv.lease:
                self.lessor.detach(event.prev_kv.lease, event.kv.key)
            if event.type == "put" and event.kv.lease:
                self.lessor.attach(event.kv.lease, event.kv.key)
        return _stamp(response, self._header())

    def _choose_path(self, request: TxnRequest, path: list[bool]) -> None:
        """Every Txn's branch, pre-order, judged on the state before the Txn (etcd)."""
        succeeded = all(self._compare(c) for c in request.compare)
        path.append(succeeded)
        for op in request.success if succeeded else request.failure:
            if isinstance(op, TxnRequest):
                self._choose_path(op, path)

    def _compare(self, compare: Compare) -> bool:
        kvs = self.store.range(compare.key, compare.range_end).kvs
        if not kvs:
            if compare.target == "value":
                return False  # a missing value is not the empty value
            kvs = (_ZERO_KV,)
        field = _COMPARE_FIELDS[compare.target]
        expected = getattr(compare, field)
        for kv in kvs:
            actual = getattr(kv, field)
            match compare.result:
                case "equal":
                    ok = actual == expected
                case "not_equal":
                    ok = actual != expected
                case "greater":
                    ok = actual > expected
                case _:
                    ok = actual < expected
            if not ok:
                return False
        return True

    def _run(self, txn: WriteTxn, op: RequestOp, path: Iterator[bool]) -> ResponseOp:
        match op:
            case RangeRequest():
                return self._range(txn, op)
            case PutRequest():
                return self._put(txn, op)
            case DeleteRangeRequest():
                events = txn.delete_range(op.key, op.range_end)
                prev = tuple(e.prev_kv for e in events if e.prev_kv) if op.prev_kv else ()
                return DeleteRangeResponse(_NO_HEADER, len(events), prev)
            case TxnRequest():
                succeeded = next(path)
                ops = op.success if succeeded else op.failure
                return TxnResponse(
                    _NO_HEADER, succeeded, tuple(self._run(txn, o, path) for o in ops)
                )
        raise InvalidRequestError(f"etcdserver: unknown op {type(op).__name__}")

    def _put(self, txn: WriteTxn, op: PutRequest) -> PutResponse:
        prev = txn.get(op.key)
        if (op.ignore_value or op.ignore_lease) and prev is None:
            raise KeyNotFoundError()
        value = prev.value if op.ignore_value and prev else op.value
        lease = prev.lease if op.ignore_lease and prev else op.lease
        if lease and lease not in self.lessor:
            raise LeaseNotFoundError()
        txn.put(op.key, value, lease)
        return PutResponse(_NO_HEADER, prev if op.prev_kv else None)

    def _range(self, reader: MVCCStore | WriteTxn, op: RangeRequest) -> RangeResponse:
        # applierV3backend.Range: results come key-ascending, so sorting by key ascending is a
        # no-op and any other target without an order means ascending.
        order, target = op.sort_order, op.sort_target
        if order == "none" and target != "key":
            order = "ascend"
        elif order == "ascend" and target == "key":
            order = "none"
        limit = max(op.limit, 0)
        result = reader.range(
            op.key, op.range_end, revision=op.revision,
            limit=0 if order != "none" else limit, count_only=op.count_only,
        )  # fmt: skip
        kvs = list(result.kvs)
        if order != "none":
            kvs.sort(key=_SORT_KEYS[target], reverse=order == "descend")
        more = not op.count_only and 0 < limit < result.count
        if limit > 0:
            kvs = kvs[:limit]
        if op.keys_only:
            kvs = [msgspec.structs.replace(kv, value=b"") for kv in kvs]
        return RangeResponse(_NO_HEADER, tuple(kvs), more, result.count)

    # ----------------------------------------------------------------- leases

    def _revoke(self, lease_id: int) -> None:
        keys = self.lessor.revoke(lease_id)
        if not keys:
            return
        with self.store.write() as txn:  # all of a lease's keys go in one revision
            for key in keys:
                if len(txn.delete_range(key)) != 1:
                    raise RuntimeError(f"lease {lease_id} had key {key!r} attached but not live")

    def _expire(self, request: LeaseExpireRequest) -> LeaseExpireResponse:
        # One revision per lease, as etcd applies one LeaseRevoke per expired lease; ids
        # already revoked (by a client, or a duplicate proposal) are skipped.
        revoked = []
        for lease_id in request.ids:
            if lease_id in self.lessor:
                self._revoke(lease_id)
                revoked.append(lease_id)
        return LeaseExpireResponse(self._header(), tuple(revoked))

    def _time_to_live(self, request: LeaseTimeToLiveRequest, now: float) -> KVResponse:
        if request.id not in self.lessor:
            return LeaseTimeToLiveResponse(self._header(), request.id, -1)
        lease = self.lessor.get(request.id)
        keys = tuple(sorted(lease.keys)) if request.keys else ()
        ttl = self.lessor.time_to_live(request.id, now)
        return LeaseTimeToLiveResponse(self._header(), request.id, ttl, lease.ttl, keys)


# --------------------------------------------------------------------------- validation


def _stamp(response: ResponseOp, header: ResponseHeader) -> ResponseOp:
    """Give a response (and, for a Txn, every nested response) its final header."""
    if isinstance(response, TxnResponse):
        nested = tuple(_stamp(r, header) for r in response.responses)
        return msgspec.structs.replace(response, header=header, responses=nested)
    return msgspec.structs.replace(response, header=header)


def _check_op(op: RequestOp, max_ops: int) -> None:
    """etcd v3rpc's checkRequestOp / checkTxnRequest: shape errors, before any state is read."""
    match op:
        case RangeRequest():
            if not op.key:
                raise EmptyKeyError()
            if (
                op.sort_order not in ("none", "ascend", "descend")
                or op.sort_target not in _SORT_KEYS
            ):
                raise InvalidRequestError("etcdserver: invalid sort option")
        case PutRequest():
            if not op.key:
                raise EmptyKeyError()
            if op.ignore_value and op.value:
                raise ValueProvidedError()
            if op.ignore_lease and op.lease:
                raise LeaseProvidedError()
        case DeleteRangeRequest():
            if not op.key:
                raise EmptyKeyError()
        case TxnRequest():
            ops = max(len(op.compare), len(op.success), len(op.failure))
            if ops > max_ops:
                raise TooManyOpsError()
            for compare in op.compare:
                if not compare.key:
                    raise EmptyKeyError()
                if compare.target not in _COMPARE_FIELDS or compare.result not in (
                    "equal", "not_equal", "greater", "less",
                ):  # fmt: skip
                    raise InvalidRequestError("etcdserver: invalid compare")
            for nested in (*op.success, *op.failure):
                _check_op(nested, max_ops - ops)
        case _:
            raise InvalidRequestError(f"etcdserver: unknown op {type(op).__name__}")


def _check_intervals(ops: tuple[RequestOp, ...]) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    """etcd's checkIntervals: within one branch, a key may be put once and never both put and
    deleted; the two branches of a nested Txn exclude each other, so they may share puts."""
    dels = [(op.key, op.range_end) for op in ops if isinstance(op, DeleteRangeRequest)]
    puts: set[bytes] = set()

    def deleted(key: bytes) -> bool:
        return any(in_range(key, low, end) for low, end in dels)

    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        puts_then, dels_then = _check_intervals(op.success)
        puts_else, dels_else = _check_intervals(op.failure)
        for key in puts_then:
            if key in puts or deleted(key):
                raise DuplicateKeyError()
            puts.add(key)
        for key in puts_else:
            if (key in puts and key not in puts_then) or deleted(key):
                raise DuplicateKeyError()
            puts.add(key)
        dels.extend(dels_then)
        dels.extend(dels_else)
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts or deleted(op.key):
                raise DuplicateKeyError()
            puts.add(op.key)
    return puts, dels
