"""etcd's v3 gRPC API for kubetwin's etcd members, on loopback ports, for the real `etcdctl`.

What it is: `serve_etcd(system, members)` starts one plain-text gRPC server (grpcio's HTTP/2,
`grpc.aio`; no TLS, as `etcdctl --endpoints=127.0.0.1:PORT` expects) per member actor on
127.0.0.1 (port 0: a free port) and returns the endpoints; `write_etcdctl_env` writes
`export ETCDCTL_API=3` / `export ETCDCTL_ENDPOINTS=…` for `source DIR/etcdctl.env; etcdctl …`.
Each endpoint serves its own member: KV Range / Put / DeleteRange / Txn / Compact, Watch (a
bidirectional stream), Lease Grant / Revoke / KeepAlive (a stream) / TimeToLive / Leases,
Cluster MemberList / MemberRemove, Maintenance Status / Alarm (none raised) / Defragment
(nothing to do) / MoveLeader. Anything else answers UNIMPLEMENTED, as grpc-go does.

The parts: `_etcd_proto/_convert` (protobuf <-> `actors.etcd` records, etcd's error codes),
`_etcd_proto/_gateway` (asks to the member, forwarding to the leader as an etcd follower does)
and `_etcd_proto/_watch_relay` (the mailbox actor behind each Watch stream). This module holds
the RPC methods, the gRPC method tables and the servers.

Concurrency model: the gRPC servers run on the actor system's own asyncio loop (live mode), so
RPC coroutines ask actors directly. Per Watch RPC two coroutines: the RPC writes what its
relay queued; a reader task passes the client's requests to the relay in order, waiting on
each create until its `created` response is queued (so responses follow request order). Nothing here may let an
exception escape into the loop (the live system stops on one).

Invariants: whatever ends a Watch RPC (the client half-closes or hangs up, the member goes
down, the buffer overflows, the server stops), its relay is unregistered exactly once, which
makes the member drop the stream's watches. Headers carry the cluster id and the id of the
member that served the RPC.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import shlex
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import grpc

from actors.etcd._kv_messages import (
    CompactionRequest,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseLeasesRequest,
    LeaseRevokeRequest,
    LeaseTimeToLiveRequest,
    ResponseHeader,
)
from actors.etcd._member_messages import (
    MemberList,
    MemberListRequest,
    MemberRemoveRequest,
    MoveLeaderRequest,
)
from actors.live._etcd_proto import _convert as cv
from actors.live._etcd_proto import rpc_pb2 as pb
from actors.live._etcd_proto._gateway import GRPC_SENDER, REQUEST_BUDGET, Gateway, RpcError
from actors.live._etcd_proto._watch_relay import (
    StreamEnd,
    WatchCancel,
    WatchOpen,
    WatchProgress,
    WatchRelay,
)
from runtime import NEVER_RESTART, ActorSystem

__all__ = ["GRPC_SENDER", "EtcdEndpoint", "RpcError", "WatchRelay", "cluster_id_for",
           "serve_etcd", "write_etcdctl_env"]

PEER_SCHEME = "kubetwin-bus"  # members talk over the actor bus: no peer port to name
WATCH_BUFFER = 10_000  # responses waiting for a slow Watch client; past it the stream ends
OPEN_TIMEOUT = 10.0  # a watch's creation, by the relay and its member (seconds)
_S = grpc.StatusCode
_SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),  # port 0 must mean a port nobody else holds
    # etcdctl pings every 2 s (--keepalive-time); grpc-core's default policy would GOAWAY it.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
    ("grpc.http2.max_ping_strikes", 0),
]


@dataclass
class EtcdEndpoint:
    """One member's gRPC server. `address` is what etcdctl's --endpoints takes."""

    member: str
    host: str
    port: int
    server: Any = field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    async def stop(self, grace: float | None = 0.5) -> None:
        await self.server.stop(grace)


def cluster_id_for(members: Sequence[str]) -> int:
    """A stable cluster id from the member names (etcd derives its id from its members)."""
    digest = hashlib.blake2b(",".join(sorted(members)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # 63 bits: printable as int64 too


def _budget(context: Any) -> float:
    left = context.time_remaining()
    if left is None:
        return REQUEST_BUDGET
    return max(0.05, min(REQUEST_BUDGET, left - 0.3))  # answer before the client gives up


# --------------------------------------------------------------------------- the services


class _Servicer:
    """The RPCs of one endpoint. Each returns a response message or raises `RpcError`."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self._streams = itertools.count(1)

    async def _reply(self, resp: Any) -> Any:
        return await self.gw.header(resp.header)

    # ---- KV
    async def range(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(cv.range_from_pb(req), budget=_budget(context), write=False)
        filters = cv.RevisionFilter(req)
        if filters.active:
            resp = filters.apply(resp)
        return cv.range_to_pb(resp, await self._reply(resp))

    async def put(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(cv.put_from_pb(req), budget=_budget(context), write=True)
        return cv.put_to_pb(resp, await self._reply(resp))

    async def delete_range(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(cv.delete_from_pb(req), budget=_budget(context), write=True)
        return cv.delete_to_pb(resp, await self._reply(resp))

    async def txn(self, req: Any, context: Any) -> Any:
        try:
            txn = cv.txn_from_pb(req)
        except ValueError as e:
            raise RpcError(_S.INVALID_ARGUMENT, str(e)) from e
        resp = await self.gw.call(txn, budget=_budget(context), write=True)
        return cv.txn_to_pb(resp, await self._reply(resp))

    async def compact(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(CompactionRequest(revision=req.revision, physical=req.physical),
                                  budget=_budget(context), write=True)
        return pb.CompactionResponse(header=await self._reply(resp))

    # ---- Lease
    async def lease_grant(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(LeaseGrantRequest(ttl=req.TTL, id=req.ID),
                                  budget=_budget(context), write=True)
        return pb.LeaseGrantResponse(header=await self._reply(resp), ID=resp.id, TTL=resp.ttl)

    async def lease_revoke(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(LeaseRevokeRequest(id=req.ID), budget=_budget(context),
                                  write=True)
        return pb.LeaseRevokeResponse(header=await self._reply(resp))

    async def lease_time_to_live(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(LeaseTimeToLiveRequest(id=req.ID, keys=req.keys),
                                  budget=_budget(context), write=False)
        return pb.LeaseTimeToLiveResponse(header=await self._reply(resp), ID=resp.id,
                                          TTL=resp.ttl, grantedTTL=resp.granted_ttl,
                                          keys=list(resp.keys))

    async def lease_leases(self, req: Any, context: Any) -> Any:
        resp = await self.gw.call(LeaseLeasesRequest(), budget=_budget(context), write=False)
        return pb.LeaseLeasesResponse(header=await self._reply(resp),
                                      leases=[pb.LeaseStatus(ID=i) for i in resp.leases])

    async def lease_keep_alive(self, requests: Any, context: Any) -> AsyncIterator[Any]:
        async for req in requests:
            try:
                resp = await self.gw.call(LeaseKeepAliveRequest(id=req.ID),
                                          budget=REQUEST_BUDGET, write=True)
            except RpcError as e:
                if e.code is not _S.NOT_FOUND:
                    await context.abort(e.code, e.message)
                # etcd's leaseKeepAlive: a lease that is gone is TTL 0, not an error.
                yield pb.LeaseKeepAliveResponse(header=await self.gw.header(None), ID=req.ID)
                continue
            yield pb.LeaseKeepAliveResponse(header=await self._reply(resp), ID=resp.id,
                                            TTL=resp.ttl)

    # ---- Cluster
    def _member_pb(self, member_id: int, name: str) -> Any:
        url = self.gw.client_urls.get(name)
        return pb.Member(ID=member_id, name=name,
                         peerURLs=[f"{PEER_SCHEME}://{name}"] if name else [],
                         clientURLs=[url] if url else [])

    async def _members(self) -> tuple[Any, list[Any]]:
        ml: MemberList = await self.gw.local(MemberListRequest())
        st = await self.gw.status()
        header = cv.header_to_pb(ResponseHeader(st.revision, st.term),
                                 cluster_id=self.gw.cluster_id, member_id=st.member_id)
        return header, [self._member_pb(m.member_id, m.name) for m in ml.members]

    async def member_list(self, req: Any, context: Any) -> Any:
        header, members = await self._members()
        return pb.MemberListResponse(header=header, members=members)

    async def member_remove(self, req: Any, context: Any) -> Any:
        _, members = await self._members()
        if req.ID not in {m.ID for m in members}:
            raise RpcError(_S.NOT_FOUND, "etcdserver: member not found")
        await self.gw.call(MemberRemoveRequest(member_id=req.ID), budget=_budget(context),
                           write=True)
        header, members = await self._members()
        return pb.MemberRemoveResponse(header=header, members=members)

    async def member_add(self, req: Any, context: Any) -> Any:
        raise RpcError(_S.UNIMPLEMENTED, "kubetwin: member add is not served over gRPC (a new "
                                         "member is an actor: spawn it with EtcdConfig("
                                         "joining=True), then ask MemberAddRequest)")

    # ---- Maintenance
    async def status(self, req: Any, context: Any) -> Any:
        return cv.status_to_pb(await self.gw.status(), cluster_id=self.gw.cluster_id)

    async def alarm(self, req: Any, context: Any) -> Any:
        st = await self.gw.status()  # kubetwin raises no alarms (no quota, no corruption)
        return pb.AlarmResponse(header=cv.status_to_pb(st, cluster_id=self.gw.cluster_id).header)

    async def defragment(self, req: Any, context: Any) -> Any:
        st = await self.gw.status()  # an in-memory store has nothing to defragment
        return pb.DefragmentResponse(header=cv.status_to_pb(st, cluster_id=self.gw.cluster_id).header)

    async def move_leader(self, req: Any, context: Any) -> Any:
        st = await self.gw.status()
        if req.targetID not in st.voters:
            raise RpcError(_S.FAILED_PRECONDITION, "etcdserver: bad leader transferee")
        budget = _budget(context)
        deadline = anyio.current_time() + budget
        await self.gw.call(MoveLeaderRequest(target_id=req.targetID), budget=budget, write=False)
        while anyio.current_time() < deadline:  # etcd answers once the transfer is done
            st = await self.gw.status()
            if st.leader == req.targetID:
                return pb.MoveLeaderResponse(header=cv.status_to_pb(st, cluster_id=self.gw.cluster_id).header)
            await anyio.sleep(0.05)
        raise RpcError(_S.UNAVAILABLE,
                       "etcdserver: request timed out, leader transfer took too long")

    # ---- Watch
    async def watch(self, requests: Any, context: Any) -> None:
        gw = self.gw
        metadata = dict(context.invocation_metadata() or ())
        if metadata.get("hasleader") == "true" and not (await gw.status()).leader:
            raise RpcError(_S.UNAVAILABLE, "etcdserver: no leader")  # clientv3 WithRequireLeader
        name = f"{gw.sender}/watch-{next(self._streams)}"
        send, receive = anyio.create_memory_object_stream[Any](WATCH_BUFFER)
        end = StreamEnd()
        gw.system.spawn(name, WatchRelay, gw.member, send, end, gw.cluster_id,
                        policy=NEVER_RESTART)
        reader = asyncio.get_running_loop().create_task(self._read_watch(context, name))
        try:
            async with receive:
                async for resp in receive:
                    await context.write(resp)
        finally:
            reader.cancel()
            gw.system.unregister(name)
        if end.error is not None:
            raise RpcError(*end.error)

    async def _read_watch(self, context: Any, relay: str) -> None:
        system, sender = self.gw.system, self.gw.sender
        try:
            while (req := await context.read()) is not grpc.aio.EOF:
                which = req.WhichOneof("request_union")
                if which == "create_request":
                    create = req.create_request
                    opened = WatchOpen(cv.watch_create_from_pb(create), create.watch_id)
                    await system.ask(sender, relay, opened, timeout=OPEN_TIMEOUT)
                    continue
                if which == "cancel_request":
                    msg: Any = WatchCancel(req.cancel_request.watch_id)
                elif which == "progress_request":
                    msg = WatchProgress()
                else:
                    continue
                system.tell(relay, msg, sender=sender)
        except Exception:  # a broken RPC: this task must not raise into the loop
            pass
        # Half-closed (etcd ends the stream then) or broken: the relay goes, the RPC ends.
        system.unregister(relay)


def _unary(fn: Any, req_cls: Any, resp_cls: Any) -> Any:
    async def run(request: Any, context: Any) -> Any:
        try:
            return await fn(request, context)
        except RpcError as e:
            await context.abort(e.code, e.message)
    return grpc.unary_unary_rpc_method_handler(run, request_deserializer=req_cls.FromString,
                                               response_serializer=resp_cls.SerializeToString)


def _stream(fn: Any, req_cls: Any, resp_cls: Any, *, generator: bool) -> Any:
    if generator:
        run = fn
    else:
        async def run(requests: Any, context: Any) -> None:
            try:
                await fn(requests, context)
            except RpcError as e:
                await context.abort(e.code, e.message)
    return grpc.stream_stream_rpc_method_handler(run, request_deserializer=req_cls.FromString,
                                                 response_serializer=resp_cls.SerializeToString)


def _handlers(s: _Servicer) -> tuple[Any, ...]:
    def service(name: str, methods: dict[str, Any]) -> Any:
        return grpc.method_handlers_generic_handler(f"etcdserverpb.{name}", methods)

    return (
        service("KV", {
            "Range": _unary(s.range, pb.RangeRequest, pb.RangeResponse),
            "Put": _unary(s.put, pb.PutRequest, pb.PutResponse),
            "DeleteRange": _unary(s.delete_range, pb.DeleteRangeRequest, pb.DeleteRangeResponse),
            "Txn": _unary(s.txn, pb.TxnRequest, pb.TxnResponse),
            "Compact": _unary(s.compact, pb.CompactionRequest, pb.CompactionResponse)}),
        service("Watch", {
            "Watch": _stream(s.watch, pb.WatchRequest, pb.WatchResponse, generator=False)}),
        service("Lease", {
            "LeaseGrant": _unary(s.lease_grant, pb.LeaseGrantRequest, pb.LeaseGrantResponse),
            "LeaseRevoke": _unary(s.lease_revoke, pb.LeaseRevokeRequest, pb.LeaseRevokeResponse),
            "LeaseKeepAlive": _stream(s.lease_keep_alive, pb.LeaseKeepAliveRequest,
                                      pb.LeaseKeepAliveResponse, generator=True),
            "LeaseTimeToLive": _unary(s.lease_time_to_live, pb.LeaseTimeToLiveRequest,
                                      pb.LeaseTimeToLiveResponse),
            "LeaseLeases": _unary(s.lease_leases, pb.LeaseLeasesRequest, pb.LeaseLeasesResponse)}),
        service("Cluster", {
            "MemberList": _unary(s.member_list, pb.MemberListRequest, pb.MemberListResponse),
            "MemberRemove": _unary(s.member_remove, pb.MemberRemoveRequest,
                                   pb.MemberRemoveResponse),
            "MemberAdd": _unary(s.member_add, pb.MemberAddRequest, pb.MemberAddResponse)}),
        service("Maintenance", {
            "Status": _unary(s.status, pb.StatusRequest, pb.StatusResponse),
            "Alarm": _unary(s.alarm, pb.AlarmRequest, pb.AlarmResponse),
            "Defragment": _unary(s.defragment, pb.DefragmentRequest, pb.DefragmentResponse),
            "MoveLeader": _unary(s.move_leader, pb.MoveLeaderRequest, pb.MoveLeaderResponse)}),
    )


# --------------------------------------------------------------------------- serving


async def serve_etcd(system: ActorSystem, members: list[str], *, host: str = "127.0.0.1",
                     ports: list[int] | None = None, cluster_id: int | None = None,
                     ) -> list[EtcdEndpoint]:
    """Start one gRPC server per member actor (port 0: a free one); returns the endpoints,
    already serving. Stop them with `EtcdEndpoint.stop()` before the actor system ends."""
    if not members:
        raise ValueError("serve_etcd needs at least one member")
    ports = list(ports) if ports is not None else [0] * len(members)
    if len(ports) != len(members):
        raise ValueError(f"{len(members)} members but {len(ports)} ports")
    cid = cluster_id if cluster_id is not None else cluster_id_for(members)
    urls: dict[str, str] = {}  # filled as servers bind; every gateway shares it
    endpoints: list[EtcdEndpoint] = []
    try:
        for member, port in zip(members, ports):
            server = grpc.aio.server(options=_SERVER_OPTIONS)
            server.add_generic_rpc_handlers(_handlers(_Servicer(Gateway(system, member, cid, urls))))
            bound = server.add_insecure_port(f"{host}:{port}")
            await server.start()
            endpoint = EtcdEndpoint(member, host, bound, server)
            endpoints.append(endpoint)
            urls[member] = endpoint.url
    except BaseException:
        for endpoint in endpoints:
            await endpoint.stop(None)
        raise
    return endpoints


def write_etcdctl_env(path: str, endpoints: Sequence[EtcdEndpoint | str]) -> str:
    """Write `export ETCDCTL_API=3` and `export ETCDCTL_ENDPOINTS=h:p,…` (to `path`, or to
    `path/etcdctl.env` when `path` is a directory); returns the file written."""
    if not endpoints:
        raise ValueError("no endpoints to write")
    addresses = [e.address if isinstance(e, EtcdEndpoint) else e for e in endpoints]
    if os.path.isdir(path):
        path = os.path.join(path, "etcdctl.env")
    with open(path, "w") as f:
        f.write("export ETCDCTL_API=3\n")
        f.write(f"export ETCDCTL_ENDPOINTS={shlex.quote(','.join(addresses))}\n")
    return path
