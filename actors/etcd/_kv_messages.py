"""etcd v3 KV, lease and watch records: requests, responses, events and the named errors.

What it is: the data the pure etcd state machine (`_state_machine.py`) consumes and produces.
Each request that changes state (`KVRequest`) is encodable with `msgspec.msgpack` so that it can
be the `data` of a Raft log entry; one long-lived encoder and decoder serve the whole union.
Field names follow etcd's `rpc.proto` (etcd-io/etcd api/etcdserverpb) in snake case, with the
enums spelled as short lower-case strings.

Concurrency model: none. These are immutable values; build changed copies with
`msgspec.structs.replace`, never mutate one you received.

Invariants:
* key ranges follow etcd: `range_end == b""` is the single key `key`; `range_end == b"\\0"` is
  every key `>= key`; otherwise the half-open interval `[key, range_end)`; `prefix_end(p)`
  turns a prefix into its range end;
* a `KeyValue` with `version == 0` is a tombstone: the `kv` of a delete event carries only the
  key and the deleting revision, exactly as etcd's delete events do;
* every error a client can cause is a `KVError` subclass carrying etcd's message; the state
  machine turns it into an `ErrorResponse`, and `error_from_response` turns it back.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

__all__ = [
    "MAX_LEASE_TTL",
    "Compare",
    "CompactedError",
    "CompactionRequest",
    "CompactionResponse",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "DuplicateKeyError",
    "EmptyKeyError",
    "ErrorResponse",
    "Event",
    "FutureRevisionError",
    "InvalidRequestError",
    "KVError",
    "KVRequest",
    "KVResponse",
    "KeyNotFoundError",
    "KeyValue",
    "LeaseExistsError",
    "LeaseExpireRequest",
    "LeaseExpireResponse",
    "LeaseGrantRequest",
    "LeaseGrantResponse",
    "LeaseKeepAliveRequest",
    "LeaseKeepAliveResponse",
    "LeaseLeasesRequest",
    "LeaseLeasesResponse",
    "LeaseNotFoundError",
    "LeaseProvidedError",
    "LeaseRevokeRequest",
    "LeaseRevokeResponse",
    "LeaseTTLTooLargeError",
    "LeaseTimeToLiveRequest",
    "LeaseTimeToLiveResponse",
    "PutRequest",
    "PutResponse",
    "RangeRequest",
    "RangeResponse",
    "RequestOp",
    "ResponseHeader",
    "ResponseOp",
    "TooManyOpsError",
    "TxnRequest",
    "TxnResponse",
    "ValueProvidedError",
    "WatchCancelRequest",
    "WatchCreateRequest",
    "WatchIdExistsError",
    "WatchNotFoundError",
    "WatchProgressRequest",
    "WatchRequest",
    "WatchResponse",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "error_from_response",
    "in_range",
    "prefix_end",
    "range_bounds",
]

# etcd's lease.MaxLeaseTTL: the largest TTL (seconds) a grant may ask for.
MAX_LEASE_TTL = 9_000_000_000


# --------------------------------------------------------------------------- key ranges


def prefix_end(prefix: bytes) -> bytes:
    """The `range_end` that selects every key starting with `prefix` (clientv3 WithPrefix).

    The last byte below 0xff is incremented and the rest dropped; a prefix of only 0xff bytes
    (or the empty prefix) has no upper bound, spelled `b"\\0"` as in etcd.
    """
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def range_bounds(key: bytes, range_end: bytes = b"") -> tuple[bytes, bytes | None]:
    """`(low, high)` of an etcd key range: low inclusive, high exclusive, `None` = unbounded."""
    if range_end == b"":
        return key, key + b"\0"  # the smallest key greater than `key`: a single-key range
    if range_end == b"\0":
        return key, None
    return key, range_end


def in_range(candidate: bytes, key: bytes, range_end: bytes = b"") -> bool:
    """Whether `candidate` lies in the etcd range `(key, range_end)`."""
    if range_end == b"":
        return candidate == key
    if range_end == b"\0":
        return candidate >= key
    return key <= candidate < range_end


# --------------------------------------------------------------------------- records


class KeyValue(msgspec.Struct, frozen=True, gc=False, omit_defaults=True, tag="kv.kv"):
    """One version of a key (mvccpb.KeyValue). `version == 0` marks a deletion (tombstone)."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    value: bytes = b""
    lease: int = 0


class ResponseHeader(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.header"):
    """The store revision a response was computed at, and who computed it."""

    revision: int
    raft_term: int = 0
    member_id: int = 0


class Event(
    msgspec.Struct, frozen=True, gc=False, omit_defaults=True, tag="kv.event", tag_field="tag"
):
    """A change to one key (mvccpb.Event). `kv.mod_revision` is the change's revision.

    The tag lives in `tag` because etcd's own field name, `type`, is msgspec's default tag field.
    """

    type: Literal["put", "delete"]
    kv: KeyValue
    prev_kv: KeyValue | None = None


# --------------------------------------------------------------------------- KV requests

SortOrder = Literal["none", "ascend", "descend"]
SortTarget = Literal["key", "version", "create", "mod", "value"]


class RangeRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.range"):
    key: bytes
    range_end: bytes = b""
    revision: int = 0  # <= 0: the current revision
    limit: int = 0  # <= 0: no limit
    keys_only: bool = False
    count_only: bool = False
    sort_order: SortOrder = "none"
    sort_target: SortTarget = "key"
    serializable: bool = False  # read mode only; the state machine answers the same either way


class PutRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.put"):
    key: bytes
    value: bytes
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


class DeleteRangeRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.delete_range"):
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


class Compare(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.compare"):
    """One guard of a Txn. Only the field named by `target` is compared."""

    key: bytes
    target: Literal["value", "version", "create", "mod", "lease"]
    result: Literal["equal", "not_equal", "greater", "less"]
    value: bytes = b""
    version: int = 0
    create_revision: int = 0
    mod_revision: int = 0
    lease: int = 0
    range_end: bytes = b""


class TxnRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.txn"):
    compare: tuple[Compare, ...] = ()
    success: tuple[RequestOp, ...] = ()
    failure: tuple[RequestOp, ...] = ()


class CompactionRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.compact"):
    revision: int
    physical: bool = False  # accepted for fidelity; compaction here is always immediate


class LeaseGrantRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.grant"):
    ttl: int
    id: int = 0  # 0: the lessor picks the next free id from its counter


class LeaseRevokeRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.revoke"):
    id: int


class LeaseKeepAliveRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.keepalive"):
    id: int


class LeaseExpireRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.expire"):
    """Proposed by the leader for the ids its lessor reported `expired(now)`."""

    ids: tuple[int, ...]


class LeaseTimeToLiveRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.ttl"):
    id: int
    keys: bool = False


class LeaseLeasesRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.leases"):
    pass


RequestOp = RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest
KVRequest = (
    RangeRequest
    | PutRequest
    | DeleteRangeRequest
    | TxnRequest
    | CompactionRequest
    | LeaseGrantRequest
    | LeaseRevokeRequest
    | LeaseKeepAliveRequest
    | LeaseExpireRequest
    | LeaseTimeToLiveRequest
    | LeaseLeasesRequest
)


# --------------------------------------------------------------------------- KV responses


class RangeResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.range_resp"):
    header: ResponseHeader
    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0


class PutResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.put_resp"):
    header: ResponseHeader
    prev_kv: KeyValue | None = None


class DeleteRangeResponse(
    msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.delete_range_resp"
):
    header: ResponseHeader
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


class TxnResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.txn_resp"):
    header: ResponseHeader
    succeeded: bool = False
    responses: tuple[ResponseOp, ...] = ()


class CompactionResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.compact_resp"):
    header: ResponseHeader


class LeaseGrantResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.grant_resp"):
    header: ResponseHeader
    id: int
    ttl: int


class LeaseRevokeResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.revoke_resp"):
    header: ResponseHeader


class LeaseKeepAliveResponse(
    msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.keepalive_resp"
):
    header: ResponseHeader
    id: int
    ttl: int


class LeaseExpireResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.expire_resp"):
    header: ResponseHeader
    revoked: tuple[int, ...] = ()  # the requested ids that still existed, in request order


class LeaseTimeToLiveResponse(
    msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.ttl_resp"
):
    header: ResponseHeader
    id: int
    ttl: int  # remaining whole seconds; -1 when the lease does not exist (as etcd)
    granted_ttl: int = 0
    keys: tuple[bytes, ...] = ()


class LeaseLeasesResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="lease.leases_resp"):
    header: ResponseHeader
    leases: tuple[int, ...] = ()


class ErrorResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="kv.error"):
    """A request the state machine refused; `code` names the `KVError` subclass."""

    header: ResponseHeader
    code: str
    message: str
    compact_revision: int = 0


ResponseOp = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse
KVResponse = (
    RangeResponse
    | PutResponse
    | DeleteRangeResponse
    | TxnResponse
    | CompactionResponse
    | LeaseGrantResponse
    | LeaseRevokeResponse
    | LeaseKeepAliveResponse
    | LeaseExpireResponse
    | LeaseTimeToLiveResponse
    | LeaseLeasesResponse
    | ErrorResponse
)


# --------------------------------------------------------------------------- watch


class WatchCreateRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="watch.create"):
    key: bytes
    range_end: bytes = b""
    start_revision: int = 0  # 0: only changes after the current revision
    prev_kv: bool = False
    filters: tuple[Literal["noput", "nodelete"], ...] = ()
    progress_notify: bool = False
    watch_id: int = 0  # 0: the hub assigns one


class WatchCancelRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="watch.cancel"):
    watch_id: int


class WatchProgressRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag="watch.progress"):
    pass


WatchRequest = WatchCreateRequest | WatchCancelRequest | WatchProgressRequest


class WatchResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag="watch.resp"):
    """One message to a watcher. Events of one revision are never split across responses.

    A response that is not `created`, not `canceled` and has no events is a progress
    notification: every event up to `header.revision` has already been delivered.
    """

    header: ResponseHeader
    watch_id: int
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    events: tuple[Event, ...] = ()
    # 1, 2, … per watch: the bus may drop or duplicate a message where gRPC's stream would
    # not, so the client drops duplicates and re-creates the watch on a gap. 0: unsequenced.
    seq: int = 0

    @property
    def is_progress_notify(self) -> bool:
        return not (self.created or self.canceled or self.events)


# --------------------------------------------------------------------------- errors


class KVError(Exception):
    """An expected refusal of a request: reported to the client, never a crash."""

    code: ClassVar[str] = "kv_error"
    default_message: ClassVar[str] = "etcdserver: request refused"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class CompactedError(KVError):
    code = "compacted"
    default_message = "mvcc: required revision has been compacted"

    def __init__(self, compact_revision: int = 0, message: str | None = None) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


class FutureRevisionError(KVError):
    code = "future_revision"
    default_message = "mvcc: required revision is a future revision"


class EmptyKeyError(KVError):
    code = "empty_key"
    default_message = "etcdserver: key is not provided"


class KeyNotFoundError(KVError):
    """Only for `ignore_value` / `ignore_lease` puts: a missing key is not an error in a range."""

    code = "key_not_found"
    default_message = "etcdserver: key not found"


class ValueProvidedError(KVError):
    code = "value_provided"
    default_message = "etcdserver: value is provided"


class LeaseProvidedError(KVError):
    code = "lease_provided"
    default_message = "etcdserver: lease is provided"


class TooManyOpsError(KVError):
    code = "too_many_ops"
    default_message = "etcdserver: too many operations in txn request"


class DuplicateKeyError(KVError):
    code = "duplicate_key"
    default_message = "etcdserver: duplicate key given in txn request"


class InvalidRequestError(KVError):
    code = "invalid_request"
    default_message = "etcdserver: invalid request"


class LeaseNotFoundError(KVError):
    code = "lease_not_found"
    default_message = "etcdserver: requested lease not found"


class LeaseExistsError(KVError):
    code = "lease_exists"
    default_message = "etcdserver: lease already exists"


class LeaseTTLTooLargeError(KVError):
    code = "lease_ttl_too_large"
    default_message = "etcdserver: too large lease TTL"


class WatchIdExistsError(KVError):
    code = "watch_id_exists"
    default_message = "mvcc: duplicate watch ID provided on the WatchStream"


class WatchNotFoundError(KVError):
    code = "watch_not_found"
    default_message = "mvcc: watcher does not exist"


_ERRORS_BY_CODE: dict[str, type[KVError]] = {
    cls.code: cls
    for cls in (
        CompactedError,
        FutureRevisionError,
        EmptyKeyError,
        KeyNotFoundError,
        ValueProvidedError,
        LeaseProvidedError,
        TooManyOpsError,
        DuplicateKeyError,
        InvalidRequestError,
        LeaseNotFoundError,
        LeaseExistsError,
        LeaseTTLTooLargeError,
        WatchIdExistsError,
        WatchNotFoundError,
    )
}


def error_from_response(response: ErrorResponse) -> KVError:
    """The named exception an `ErrorResponse` stands for (for a client to raise)."""
    cls = _ERRORS_BY_CODE.get(response.code, KVError)
    if cls is CompactedError:
        return CompactedError(response.compact_revision, response.message)
    return cls(response.message)


# --------------------------------------------------------------------------- codecs

_ENCODER = msgspec.msgpack.Encoder()
_REQUEST_DECODER = msgspec.msgpack.Decoder(KVRequest)
_RESPONSE_DECODER = msgspec.msgpack.Decoder(KVResponse)


def encode_request(request: KVRequest) -> bytes:
    return _ENCODER.encode(request)


def decode_request(data: bytes) -> KVRequest:
    return _REQUEST_DECODER.decode(data)


def encode_response(response: KVResponse) -> bytes:
    return _ENCODER.encode(response)


def decode_response(data: bytes) -> KVResponse:
    return _RESPONSE_DECODER.decode(data)
