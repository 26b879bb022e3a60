"""The pure parts of the etcd gRPC front end: protobuf <-> record translation, etcd's error
statuses, the committed stubs against their .proto files, the etcdctl env file."""

from __future__ import annotations

import os

import grpc
import pytest
from google.protobuf import descriptor_pb2

from actors.etcd._kv_messages import (
    DeleteRangeResponse,
    ErrorResponse,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    ResponseHeader,
    TxnRequest,
    TxnResponse,
    WatchResponse,
)
from actors.etcd._member_messages import MemberStatus
from actors.live._etcd_grpc import EtcdEndpoint, cluster_id_for, write_etcdctl_env
from actors.live._etcd_proto import _convert as cv
from actors.live._etcd_proto import kv_pb2, rpc_pb2

PROTO_DIR = os.path.join("actors", "live", "_etcd_proto")


def test_range_request_enums_and_fields() -> None:
    req = cv.range_from_pb(rpc_pb2.RangeRequest(
        key=b"/a", range_end=b"/b", limit=5, revision=7, sort_order=2, sort_target=3,
        serializable=True, keys_only=True, count_only=True))
    assert req == RangeRequest(key=b"/a", range_end=b"/b", revision=7, limit=5, keys_only=True,
                               count_only=True, sort_order="descend", sort_target="mod",
                               serializable=True)


def test_revision_filters_are_applied_after_an_unlimited_range() -> None:
    pb = rpc_pb2.RangeRequest(key=b"a", range_end=b"z", limit=1, min_mod_revision=3)
    assert cv.range_from_pb(pb).limit == 0  # filters need every key first (etcd does the same)
    kvs = tuple(KeyValue(k, r, r, 1, b"v") for k, r in ((b"a", 2), (b"b", 3), (b"c", 4)))
    out = cv.RevisionFilter(pb).apply(RangeResponse(ResponseHeader(4), kvs, False, 3))
    assert [kv.key for kv in out.kvs] == [b"b"] and out.more and out.count == 3
    assert not cv.RevisionFilter(rpc_pb2.RangeRequest(key=b"a")).active


def test_txn_request_with_compares_and_nested_ops() -> None:
    pb = rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(result=3, target=2, key=b"k", mod_revision=4),
                 rpc_pb2.Compare(result=1, target=3, key=b"k", value=b"x")],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k", value=b"v",
                                                                 prev_kv=True)),
                 rpc_pb2.RequestOp(request_txn=rpc_pb2.TxnRequest())],
        failure=[rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"k"))])
    txn = cv.txn_from_pb(pb)
    assert [(c.result, c.target, c.mod_revision, c.value) for c in txn.compare] == [
        ("not_equal", "mod", 4, b""), ("greater", "value", 0, b"x")]
    assert txn.success == (PutRequest(key=b"k", value=b"v", prev_kv=True), TxnRequest())
    assert txn.failure[0].key == b"k"
    with pytest.raises(ValueError):
        cv.txn_from_pb(rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp()]))
    filtered = rpc_pb2.RangeRequest(key=b"k", min_mod_revision=2)
    with pytest.raises(ValueError, match="not supported in a txn"):
        cv.txn_from_pb(rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_range=filtered)]))


def test_txn_response_nested_headers_hold_only_the_revision() -> None:
    header = cv.header_to_pb(ResponseHeader(9, 2, 1), cluster_id=77, member_id=3)
    resp = TxnResponse(ResponseHeader(9, 2, 1), True, (
        PutResponse(ResponseHeader(0), KeyValue(b"k", 1, 1, 1, b"old")),
        DeleteRangeResponse(ResponseHeader(0), 1),
        RangeResponse(ResponseHeader(0), (KeyValue(b"k", 1, 9, 2, b"v"),), False, 1)))
    pb = cv.txn_to_pb(resp, header)
    assert (pb.header.cluster_id, pb.header.member_id, pb.header.revision) == (77, 3, 9)
    put, delete, rng = (r.WhichOneof("response") for r in pb.responses)
    assert (put, delete, rng) == ("response_put", "response_delete_range", "response_range")
    assert pb.responses[0].response_put.prev_kv.value == b"old"
    assert pb.responses[2].response_range.header == rpc_pb2.ResponseHeader(revision=9)


def test_watch_response_events_prev_kv_and_stream_id() -> None:
    put = Event("put", KeyValue(b"k", 2, 3, 2, b"new"), KeyValue(b"k", 2, 2, 1, b"old"))
    delete = Event("delete", KeyValue(b"k", 0, 4, 0))
    pb = cv.watch_response_to_pb(
        WatchResponse(ResponseHeader(4, 1, 2), watch_id=17, events=(put, delete)), 0,
        cluster_id=5)
    assert (pb.watch_id, pb.header.member_id, pb.header.cluster_id, pb.fragment) == (0, 2, 5,
                                                                                      False)
    assert [e.type for e in pb.events] == [kv_pb2.Event.PUT, kv_pb2.Event.DELETE]
    assert pb.events[0].prev_kv.value == b"old" and not pb.events[1].HasField("prev_kv")
    assert pb.events[1].kv.version == 0 and pb.events[1].kv.mod_revision == 4


def test_compaction_cancel_carries_no_reason() -> None:
    # etcd's sendLoop sets only compact_revision; clientv3 then reports ErrCompacted.
    resp = WatchResponse(ResponseHeader(9), 1, canceled=True, compact_revision=5,
                         cancel_reason="mvcc: required revision has been compacted")
    pb = cv.watch_response_to_pb(resp, 3, cluster_id=1)
    assert pb.canceled and pb.compact_revision == 5 and pb.cancel_reason == ""


def test_watch_create_drops_the_stream_watch_id() -> None:
    req = cv.watch_create_from_pb(rpc_pb2.WatchCreateRequest(
        key=b"/r", range_end=b"/s", start_revision=3, prev_kv=True, progress_notify=True,
        filters=[1], watch_id=9))
    assert (req.key, req.range_end, req.start_revision, req.prev_kv, req.progress_notify,
            req.filters, req.watch_id) == (b"/r", b"/s", 3, True, True, ("nodelete",), 0)


@pytest.mark.parametrize(("code", "status", "message"), [
    ("compacted", grpc.StatusCode.OUT_OF_RANGE,
     "etcdserver: mvcc: required revision has been compacted"),
    ("future_revision", grpc.StatusCode.OUT_OF_RANGE,
     "etcdserver: mvcc: required revision is a future revision"),
    ("lease_not_found", grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found"),
    ("empty_key", grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided"),
    ("invalid_request", grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: odd request"),
])
def test_error_statuses_follow_etcd_rpctypes(code, status, message) -> None:
    resp = ErrorResponse(ResponseHeader(1), code, "odd request")
    assert cv.error_status(resp) == (status, message)


def test_status_response_fields() -> None:
    st = MemberStatus(member_id=2, name="etcd-1", leader=3, leader_name="etcd-2", term=4,
                      raft_index=10, raft_applied_index=9, revision=6, db_size=123,
                      role="follower", voters=(1, 2, 3))
    pb = cv.status_to_pb(st, cluster_id=8)
    assert (pb.header.cluster_id, pb.header.member_id, pb.header.revision,
            pb.header.raft_term) == (8, 2, 6, 4)
    assert (pb.leader, pb.raftIndex, pb.raftTerm, pb.raftAppliedIndex, pb.dbSize,
            pb.version, pb.isLearner) == (3, 10, 4, 9, 123, "3.5.17", False)


def test_cluster_id_is_stable_and_order_free() -> None:
    a = cluster_id_for(["etcd-0", "etcd-1", "etcd-2"])
    assert a == cluster_id_for(["etcd-2", "etcd-0", "etcd-1"]) and 0 < a < 2**63
    assert a != cluster_id_for(["etcd-0", "etcd-1"])


def test_write_etcdctl_env_file_or_directory(tmp_path) -> None:
    eps = [EtcdEndpoint("etcd-0", "127.0.0.1", 2379, None), "127.0.0.1:2380"]
    path = write_etcdctl_env(str(tmp_path), eps)
    assert path == str(tmp_path / "etcdctl.env")
    assert open(path).read() == ("export ETCDCTL_API=3\n"
                                 "export ETCDCTL_ENDPOINTS=127.0.0.1:2379,127.0.0.1:2380\n")
    other = write_etcdctl_env(str(tmp_path / "x.env"), eps[:1])
    assert open(other).read().endswith("ETCDCTL_ENDPOINTS=127.0.0.1:2379\n")
    with pytest.raises(ValueError):
        write_etcdctl_env(str(tmp_path), [])


def test_committed_stubs_match_the_proto_files(tmp_path) -> None:
    """The generated modules were made from the .proto files as they are now."""
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools is not installed")
    out = tmp_path / "set.pb"
    files = [os.path.join(PROTO_DIR, "kv.proto"), os.path.join(PROTO_DIR, "rpc.proto")]
    assert protoc.main(["protoc", "-I.", f"--descriptor_set_out={out}", *files]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    for f in fresh.file:  # protoc fills in json names; the generated modules leave them out
        for message in f.message_type:
            for fld in message.field:
                fld.ClearField("json_name")
            for nested in message.nested_type:
                for fld in nested.field:
                    fld.ClearField("json_name")
    committed = {m.DESCRIPTOR.name: descriptor_pb2.FileDescriptorProto.FromString(
        m.DESCRIPTOR.serialized_pb) for m in (kv_pb2, rpc_pb2)}
    assert {f.name: f for f in fresh.file} == committed


def test_field_numbers_etcdctl_relies_on() -> None:
    fields = {(m, f.name): f.number for m in ("RangeRequest", "WatchResponse", "StatusResponse",
                                             "Member", "ResponseHeader", "Compare")
              for f in rpc_pb2.DESCRIPTOR.message_types_by_name[m].fields}
    assert fields[("RangeRequest", "keys_only")] == 8
    assert fields[("WatchResponse", "events")] == 11
    assert fields[("StatusResponse", "raftAppliedIndex")] == 7
    assert fields[("Member", "isLearner")] == 5
    assert fields[("ResponseHeader", "raft_term")] == 4
    assert fields[("Compare", "range_end")] == 64
    services = {s.name: [m.name for m in s.methods] for s in rpc_pb2.DESCRIPTOR.services_by_name.values()}
    assert services["KV"] == ["Range", "Put", "DeleteRange", "Txn", "Compact"]
    assert rpc_pb2.DESCRIPTOR.package == "etcdserverpb" and kv_pb2.DESCRIPTOR.package == "mvccpb"
