"""The etcd gRPC front end driven by a Python gRPC client (grpcio), for what etcdctl does
not show: per-stream watch ids, cancel and progress on one Watch stream, replay from a
revision, the relay's cleanup, KeepAlive streams, a member going down, revision filters,
MemberRemove and UNIMPLEMENTED methods. Three live EtcdMember actors, ports bound to 0."""

from __future__ import annotations

from typing import Any

import anyio
import grpc
import pytest

from actors.etcd import EtcdConfig, EtcdMember, StatusRequest
from actors.live._etcd_grpc import serve_etcd
from actors.live._etcd_proto import kv_pb2
from actors.live._etcd_proto import rpc_pb2 as pb
from runtime import DRIVER, live_system

MEMBERS = ["etcd-0", "etcd-1", "etcd-2"]


class Client:
    open: list[Client] = []

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        Client.open.append(self)

    def unary(self, method: str, req: Any, resp_cls: Any) -> Any:
        call = self.channel.unary_unary(method, request_serializer=type(req).SerializeToString,
                                        response_deserializer=resp_cls.FromString)
        return call(req, timeout=5)

    def stream(self, method: str, req_cls: Any, resp_cls: Any) -> Any:
        return self.channel.stream_stream(method, request_serializer=req_cls.SerializeToString,
                                          response_deserializer=resp_cls.FromString)()

    async def put(self, key: bytes, value: bytes) -> Any:
        return await self.unary("/etcdserverpb.KV/Put", pb.PutRequest(key=key, value=value),
                                pb.PutResponse)

    def watch(self) -> Any:
        return self.stream("/etcdserverpb.Watch/Watch", pb.WatchRequest, pb.WatchResponse)


def _create(key: bytes, **kw: Any) -> Any:
    return pb.WatchRequest(create_request=pb.WatchCreateRequest(key=key, **kw))


async def _read(call: Any) -> Any:
    with anyio.fail_after(5):
        return await call.read()


async def _leader(system) -> int:
    with anyio.fail_after(15):
        while True:
            leads = {(await system.ask(DRIVER, m, StatusRequest(), timeout=2)).leader
                     for m in MEMBERS}
            if len(leads) == 1 and 0 not in leads:
                return leads.pop()
            await anyio.sleep(0.05)


async def _watch_stream(system, c: Client, out: dict) -> None:
    call = c.watch()
    await call.write(_create(b"/w/", range_end=b"/w0", prev_kv=True))  # auto id: 0
    await call.write(_create(b"/other"))  # auto id: 1
    await call.write(_create(b"/x", watch_id=1))  # taken on this stream
    out["created"] = [await _read(call) for _ in range(3)]
    await c.put(b"/w/a", b"1")
    await c.put(b"/w/a", b"2")
    out["events"] = [await _read(call), await _read(call)]
    await call.write(pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=0)))
    out["canceled"] = await _read(call)
    await call.write(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))
    out["progress"] = await _read(call)
    out["relays"] = [a for a in system.addresses if "/watch-" in a]
    await call.done_writing()  # a half-close ends the stream, as on etcd
    with anyio.fail_after(5):
        out["end"] = await call.code()
    with anyio.move_on_after(5):  # the member hears of the relay's end (Down) just after
        while (any("/watch-" in a for a in system.addresses)
               or any(system.instance(m).watch_owner for m in MEMBERS)):
            await anyio.sleep(0.02)
    out["owners"] = [len(system.instance(m).watch_owner) for m in MEMBERS]


async def _replay(c: Client, out: dict) -> None:
    call = c.watch()
    await call.write(_create(b"/w/a", start_revision=1))
    out["replay"] = [await _read(call), await _read(call)]
    call.cancel()


async def _keepalive(c: Client, out: dict) -> None:
    grant = await c.unary("/etcdserverpb.Lease/LeaseGrant", pb.LeaseGrantRequest(TTL=30),
                          pb.LeaseGrantResponse)
    call = c.stream("/etcdserverpb.Lease/LeaseKeepAlive", pb.LeaseKeepAliveRequest,
                    pb.LeaseKeepAliveResponse)
    replies = []
    for lease in (grant.ID, grant.ID, 424242):
        await call.write(pb.LeaseKeepAliveRequest(ID=lease))
        replies.append(await _read(call))
    await call.done_writing()
    out["keepalive"] = (grant, replies, await call.code())


async def _filters_and_unimplemented(c: Client, out: dict) -> None:
    for i in range(3):
        await c.put(f"/f/{i}".encode(), b"v")
    out["filtered"] = await c.unary("/etcdserverpb.KV/Range", pb.RangeRequest(
        key=b"/f/", range_end=b"/f0", limit=1, min_mod_revision=1,
        sort_order=pb.RangeRequest.DESCEND, sort_target=pb.RangeRequest.KEY), pb.RangeResponse)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.unary("/etcdserverpb.Auth/Authenticate", pb.StatusRequest(), pb.StatusResponse)
    out["unimplemented"] = err.value.code()


async def _member_down(system, c: Client, member: str, out: dict) -> None:
    call = c.watch()
    await call.write(_create(b"/d"))
    await _read(call)
    system.crash(member)
    with anyio.fail_after(5):
        out["down-watch"] = (await call.code(), await call.details())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await c.unary("/etcdserverpb.KV/Range", pb.RangeRequest(key=b"/d"), pb.RangeResponse)
    out["down-range"] = (err.value.code(), err.value.details())
    system.restart(member)


async def _remove(system, c: Client, out: dict) -> None:
    await c.unary("/etcdserverpb.Cluster/MemberRemove", pb.MemberRemoveRequest(ID=3),
                  pb.MemberRemoveResponse)
    with anyio.fail_after(5):
        while True:
            ml = await c.unary("/etcdserverpb.Cluster/MemberList", pb.MemberListRequest(),
                               pb.MemberListResponse)
            if len(ml.members) == 2:
                break
            await anyio.sleep(0.05)
    out["after-remove"] = ml


async def _session() -> dict:
    out: dict = {}
    async with live_system(seed=3) as system:
        peers = {i + 1: m for i, m in enumerate(MEMBERS)}
        for i, m in enumerate(MEMBERS):
            system.spawn(m, EtcdMember, EtcdConfig(member_id=i + 1, peers=peers))
        endpoints = await serve_etcd(system, MEMBERS)
        try:
            leader = await _leader(system)
            follower = next(i for i in range(3) if i + 1 != leader)
            c = Client(endpoints[follower].address)
            await _watch_stream(system, c, out)
            await _replay(c, out)
            await _keepalive(c, out)
            await _filters_and_unimplemented(c, out)
            await _member_down(system, c, MEMBERS[follower], out)
            await _leader(system)
            await _remove(system, Client(endpoints[leader - 1].address), out)
            out["leader"], out["follower"] = leader, follower + 1
        finally:
            while Client.open:
                await Client.open.pop().channel.close()
            for e in endpoints:
                await e.stop(None)
    return out


@pytest.fixture(scope="module")
def session() -> dict:
    return anyio.run(_session)


def test_watch_ids_are_per_stream_and_a_taken_id_is_refused(session) -> None:
    first, second, dup = session["created"]
    assert (first.created, first.watch_id, second.created, second.watch_id) == (True, 0, True, 1)
    assert dup.created and dup.canceled and dup.watch_id == 1
    assert dup.cancel_reason == "mvcc: duplicate watch ID provided on the WatchStream"


def test_watch_events_carry_prev_kv_and_the_serving_member(session) -> None:
    put1, put2 = session["events"]
    assert [e.kv.value for e in put1.events] == [b"1"] and not put1.events[0].HasField("prev_kv")
    assert put2.events[0].prev_kv.value == b"1" and put2.events[0].kv.version == 2
    assert put2.events[0].type == kv_pb2.Event.PUT and put2.watch_id == 0
    assert put2.header.member_id == session["follower"] and put2.header.cluster_id


def test_cancel_progress_and_half_close(session) -> None:
    canceled = session["canceled"]
    assert canceled.canceled and canceled.watch_id == 0 and not canceled.events
    progress = session["progress"]  # per remaining watch, from the member's hub
    assert progress.watch_id == 1 and not progress.events and not progress.created
    assert progress.header.revision >= session["events"][1].header.revision
    assert len(session["relays"]) == 1 and session["relays"][0].startswith(
        f"$grpc/etcd-{session['follower'] - 1}/watch-")
    assert session["end"] == grpc.StatusCode.OK
    assert session["owners"] == [0, 0, 0]


def test_watch_replays_from_a_start_revision(session) -> None:
    created, history = session["replay"]
    assert created.created
    assert [e.kv.value for e in history.events] == [b"1", b"2"]


def test_keepalive_stream_renews_and_reports_a_missing_lease_as_ttl_0(session) -> None:
    grant, replies, code = session["keepalive"]
    assert grant.TTL == 30 and grant.ID > 0
    assert [(r.ID, r.TTL) for r in replies] == [(grant.ID, 30), (grant.ID, 30), (424242, 0)]
    assert code == grpc.StatusCode.OK


def test_revision_filters_sort_and_limit(session) -> None:
    resp = session["filtered"]
    assert [kv.key for kv in resp.kvs] == [b"/f/2"] and resp.more and resp.count == 3


def test_unknown_methods_are_unimplemented(session) -> None:
    assert session["unimplemented"] == grpc.StatusCode.UNIMPLEMENTED


def test_a_member_going_down_ends_its_streams_and_rpcs(session) -> None:
    assert session["down-watch"] == (grpc.StatusCode.UNAVAILABLE, "etcdserver: server stopped")
    assert session["down-range"] == (grpc.StatusCode.UNAVAILABLE, "etcdserver: server stopped")


def test_member_remove(session) -> None:
    ml = session["after-remove"]
    assert sorted(m.ID for m in ml.members) == [1, 2]
    assert all(m.clientURLs[0].startswith("http://127.0.0.1:") for m in ml.members)
