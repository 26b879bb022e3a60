"""Translation between etcd's v3 protobuf messages and kubetwin's etcd records.

What it is: pure functions, one direction each, from the generated `rpc_pb2`/`kv_pb2` classes
to the frozen msgspec records of `actors.etcd` (requests) and back (responses), plus the table
of gRPC status codes and messages etcd gives its errors (etcd-io/etcd api/v3rpc/rpctypes).
Enums travel as numbers on the wire and as short lower-case strings in kubetwin.

Concurrency model: none; no I/O, no clock. The gRPC shell (`actors/live/_etcd_grpc.py`) owns
the calls.

Invariants: every header a client sees carries the cluster id and the id of the member it
talked to (etcd answers from the member that served the RPC, even when the leader applied the
write first); a delete event's kv is a tombstone (key and revision only), as etcd sends it.
"""

from __future__ import annotations

from typing import Any

import grpc

from actors.etcd._kv_messages import (
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    ErrorResponse,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    ResponseHeader,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
)
from actors.etcd._member_messages import MemberStatus
from actors.live._etcd_proto import kv_pb2, rpc_pb2

__all__ = [
    "ERRORS",
    "RevisionFilter",
    "compare_from_pb",
    "delete_from_pb",
    "delete_to_pb",
    "error_status",
    "event_to_pb",
    "header_to_pb",
    "kv_to_pb",
    "put_from_pb",
    "put_to_pb",
    "range_from_pb",
    "range_to_pb",
    "request_op_from_pb",
    "response_op_to_pb",
    "status_to_pb",
    "txn_from_pb",
    "txn_to_pb",
    "watch_create_from_pb",
    "watch_response_to_pb",
]

_SORT_ORDER = ("none", "ascend", "descend")
_SORT_TARGET = ("key", "version", "create", "mod", "value")
_COMPARE_RESULT = ("equal", "greater", "less", "not_equal")
_COMPARE_TARGET = ("version", "create", "mod", "value", "lease")
_FILTER = ("noput", "nodelete")
_EVENT_TYPE = {"put": kv_pb2.Event.PUT, "delete": kv_pb2.Event.DELETE}

_S = grpc.StatusCode
# etcd's rpctypes: the gRPC code and message of each error a kubetwin member can report,
# keyed by `KVError.code`. etcdctl matches these messages to print etcd's own errors.
ERRORS: dict[str, tuple[grpc.StatusCode, str]] = {
    "compacted": (_S.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    "future_revision": (_S.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"),
    "empty_key": (_S.INVALID_ARGUMENT, "etcdserver: key is not provided"),
    "key_not_found": (_S.INVALID_ARGUMENT, "etcdserver: key not found"),
    "value_provided": (_S.INVALID_ARGUMENT, "etcdserver: value is provided"),
    "lease_provided": (_S.INVALID_ARGUMENT, "etcdserver: lease is provided"),
    "too_many_ops": (_S.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"),
    "duplicate_key": (_S.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    "lease_not_found": (_S.NOT_FOUND, "etcdserver: requested lease not found"),
    "lease_exists": (_S.FAILED_PRECONDITION, "etcdserver: lease already exists"),
    "lease_ttl_too_large": (_S.OUT_OF_RANGE, "etcdserver: too large lease TTL"),
}


def error_status(resp: ErrorResponse) -> tuple[grpc.StatusCode, str]:
    """The gRPC status etcd would answer for a refused request."""
    known = ERRORS.get(resp.code)
    if known is not None:
        return known
    message = resp.message if resp.message.startswith("etcdserver: ") else f"etcdserver: {resp.message}"
    return _S.INVALID_ARGUMENT, message


# --------------------------------------------------------------------------- records out


def header_to_pb(header: ResponseHeader | None, *, cluster_id: int, member_id: int) -> Any:
    if header is None:
        return rpc_pb2.ResponseHeader(cluster_id=cluster_id, member_id=member_id)
    return rpc_pb2.ResponseHeader(cluster_id=cluster_id, member_id=member_id,
                                  revision=header.revision, raft_term=header.raft_term)


def kv_to_pb(kv: KeyValue) -> Any:
    return kv_pb2.KeyValue(key=kv.key, create_revision=kv.create_revision,
                           mod_revision=kv.mod_revision, version=kv.version, value=kv.value,
                           lease=kv.lease)


def event_to_pb(event: Event) -> Any:
    pb = kv_pb2.Event(type=_EVENT_TYPE[event.type], kv=kv_to_pb(event.kv))
    if event.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(event.prev_kv))
    return pb


# --------------------------------------------------------------------------- KV requests in


class RevisionFilter:
    """RangeRequest's min/max mod/create revision bounds, which kubetwin's state machine does
    not take: the shell asks without a limit and applies them here, then the limit, as
    etcd's applierV3backend.Range does (filter, sort, then truncate; `count` unfiltered)."""

    __slots__ = ("limit", "max_create", "max_mod", "min_create", "min_mod")

    def __init__(self, pb: Any) -> None:
        self.min_mod, self.max_mod = pb.min_mod_revision, pb.max_mod_revision
        self.min_create, self.max_create = pb.min_create_revision, pb.max_create_revision
        self.limit = pb.limit

    @property
    def active(self) -> bool:
        return bool(self.min_mod or self.max_mod or self.min_create or self.max_create)

    def keep(self, kv: KeyValue) -> bool:
        return not ((self.min_mod and kv.mod_revision < self.min_mod)
                    or (self.max_mod and kv.mod_revision > self.max_mod)
                    or (self.min_create and kv.create_revision < self.min_create)
                    or (self.max_create and kv.create_revision > self.max_create))

    def apply(self, resp: RangeResponse) -> RangeResponse:
        kvs = [kv for kv in resp.kvs if self.keep(kv)]
        more = 0 < self.limit < len(kvs)
        if self.limit > 0:
            kvs = kvs[: self.limit]
        return RangeResponse(resp.header, tuple(kvs), more, resp.count)


def range_from_pb(pb: Any) -> RangeRequest:
    """The request to ask; with revision filters it is asked without a limit (see above)."""
    filters = RevisionFilter(pb)
    return RangeRequest(key=pb.key, range_end=pb.range_end, revision=pb.revision,
                        limit=0 if filters.active else pb.limit, keys_only=pb.keys_only,
                        count_only=pb.count_only, sort_order=_SORT_ORDER[pb.sort_order],
                        sort_target=_SORT_TARGET[pb.sort_target], serializable=pb.serializable)


def put_from_pb(pb: Any) -> PutRequest:
    return PutRequest(key=pb.key, value=pb.value, lease=pb.lease, prev_kv=pb.prev_kv,
                      ignore_value=pb.ignore_value, ignore_lease=pb.ignore_lease)


def delete_from_pb(pb: Any) -> DeleteRangeRequest:
    return DeleteRangeRequest(key=pb.key, range_end=pb.range_end, prev_kv=pb.prev_kv)


def compare_from_pb(pb: Any) -> Compare:
    return Compare(key=pb.key, target=_COMPARE_TARGET[pb.target],
                   result=_COMPARE_RESULT[pb.result], value=pb.value, version=pb.version,
                   create_revision=pb.create_revision, mod_revision=pb.mod_revision,
                   lease=pb.lease, range_end=pb.range_end)


def request_op_from_pb(pb: Any) -> RequestOp:
    which = pb.WhichOneof("request")
    if which == "request_range":
        if RevisionFilter(pb.request_range).active:  # applied by the shell, which a txn skips
            raise ValueError("kubetwin: min/max revision filters are not supported in a txn")
        return range_from_pb(pb.request_range)
    if which == "request_put":
        return put_from_pb(pb.request_put)
    if which == "request_delete_range":
        return delete_from_pb(pb.request_delete_range)
    if which == "request_txn":
        return txn_from_pb(pb.request_txn)
    raise ValueError("etcdserver: a txn operation names no request")


def txn_from_pb(pb: Any) -> TxnRequest:
    return TxnRequest(compare=tuple(compare_from_pb(c) for c in pb.compare),
                      success=tuple(request_op_from_pb(op) for op in pb.success),
                      failure=tuple(request_op_from_pb(op) for op in pb.failure))


# --------------------------------------------------------------------------- KV responses out


def range_to_pb(resp: RangeResponse, header: Any) -> Any:
    return rpc_pb2.RangeResponse(header=header, kvs=[kv_to_pb(kv) for kv in resp.kvs],
                                 more=resp.more, count=resp.count)


def put_to_pb(resp: PutResponse, header: Any) -> Any:
    pb = rpc_pb2.PutResponse(header=header)
    if resp.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(resp.prev_kv))
    return pb


def delete_to_pb(resp: DeleteRangeResponse, header: Any) -> Any:
    return rpc_pb2.DeleteRangeResponse(header=header, deleted=resp.deleted,
                                       prev_kvs=[kv_to_pb(kv) for kv in resp.prev_kvs])


def txn_to_pb(resp: TxnResponse, header: Any) -> Any:
    return rpc_pb2.TxnResponse(header=header, succeeded=resp.succeeded,
                               responses=[response_op_to_pb(r, header) for r in resp.responses])


def response_op_to_pb(resp: Any, header: Any) -> Any:
    """One Txn result. A nested response's header holds only the revision, as etcd's do
    (the cluster and member ids are stamped on the outermost header alone)."""
    header = rpc_pb2.ResponseHeader(revision=header.revision)
    if isinstance(resp, RangeResponse):
        return rpc_pb2.ResponseOp(response_range=range_to_pb(resp, header))
    if isinstance(resp, PutResponse):
        return rpc_pb2.ResponseOp(response_put=put_to_pb(resp, header))
    if isinstance(resp, DeleteRangeResponse):
        return rpc_pb2.ResponseOp(response_delete_range=delete_to_pb(resp, header))
    if isinstance(resp, TxnResponse):
        return rpc_pb2.ResponseOp(response_txn=txn_to_pb(resp, header))
    raise TypeError(f"not a txn response: {type(resp).__name__}")


# --------------------------------------------------------------------------- watch


def watch_create_from_pb(pb: Any) -> WatchCreateRequest:
    """The member's request. The stream's watch id is kept by the shell, never sent: ids are
    per gRPC stream in etcd but per member in kubetwin's hub."""
    return WatchCreateRequest(key=pb.key, range_end=pb.range_end,
                              start_revision=pb.start_revision, prev_kv=pb.prev_kv,
                              filters=tuple(_FILTER[f] for f in pb.filters if 0 <= f < 2),
                              progress_notify=pb.progress_notify)


def watch_response_to_pb(resp: WatchResponse, watch_id: int, *, cluster_id: int) -> Any:
    """A member's response under the stream's own watch id. A compaction cancel carries no
    reason (etcd's sendLoop sets only compact_revision; clients derive ErrCompacted)."""
    header = header_to_pb(resp.header, cluster_id=cluster_id, member_id=resp.header.member_id)
    reason = "" if resp.compact_revision else resp.cancel_reason
    return rpc_pb2.WatchResponse(header=header, watch_id=watch_id, created=resp.created,
                                 canceled=resp.canceled, compact_revision=resp.compact_revision,
                                 cancel_reason=reason, fragment=False,
                                 events=[event_to_pb(e) for e in resp.events])


# --------------------------------------------------------------------------- maintenance


def status_to_pb(st: MemberStatus, *, cluster_id: int) -> Any:
    header = rpc_pb2.ResponseHeader(cluster_id=cluster_id, member_id=st.member_id,
                                    revision=st.revision, raft_term=st.term)
    return rpc_pb2.StatusResponse(header=header, version=st.version, dbSize=st.db_size,
                                  leader=st.leader, raftIndex=st.raft_index, raftTerm=st.term,
                                  raftAppliedIndex=st.raft_applied_index, dbSizeInUse=st.db_size,
                                  isLearner=False)  # kubetwin's Raft has no learners
