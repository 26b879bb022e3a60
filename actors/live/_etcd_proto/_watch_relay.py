"""Watch streams of the etcd gRPC front end: one mailbox actor per gRPC Watch stream.

What it is: for each Watch RPC the front end spawns a `WatchRelay` (`$grpc/<member>/watch-<n>`)
and tells it what the client asks (`WatchOpen`, `WatchCancel`, `WatchProgress`). The relay
creates the stream's watches on the member *from its own address*, so the member's
`WatchResponse` tells land in its mailbox; it maps the member's watch ids (one counter per
member in kubetwin's hub) to the stream's own (etcd numbers watches per stream, from 0) and
feeds the protobuf responses into an anyio memory stream that the RPC writes out.

Concurrency model: an actor on the system's loop. The create handler is async, so it holds
the mailbox until the member has answered the watch id: the responses queued behind it
always find their mapping. The RPC's reader *asks* it to create a watch and waits until the
watch's `created` response is in the stream before it passes on the client's next request.
Every other handler only does `send_nowait`.

Invariants: a stream's responses keep the member's order; a relay that ends its stream (the
member went down, the client is too slow) records why in its `StreamEnd` before closing, and
the RPC turns that into its gRPC status. The member drops the relay's watches when the relay
is unregistered (it monitors the relay).
"""

from __future__ import annotations

from typing import Any

import anyio
import grpc
import msgspec
from anyio.streams.memory import MemoryObjectSendStream

from actors.etcd._kv_messages import (
    WatchCancelRequest,
    WatchCreateRequest,
    WatchIdExistsError,
    WatchProgressRequest,
    WatchResponse,
)
from actors.live._etcd_proto import _convert as cv
from actors.live._etcd_proto import rpc_pb2 as pb
from runtime import Actor, ActorError, Down, ReplyHandle, handler

__all__ = ["StreamEnd", "WatchCancel", "WatchOpen", "WatchProgress", "WatchRelay"]

_S = grpc.StatusCode


class WatchOpen(msgspec.Struct, frozen=True, tag="grpc.watch_open"):
    request: WatchCreateRequest
    watch_id: int  # the stream's id the client asked for; 0: the next free one


class WatchCancel(msgspec.Struct, frozen=True, tag="grpc.watch_cancel"):
    watch_id: int  # the stream's id


class WatchProgress(msgspec.Struct, frozen=True, tag="grpc.watch_progress"):
    pass


class StreamEnd:
    """Why a relay ended its stream, read by the RPC once the stream is drained."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: tuple[grpc.StatusCode, str] | None = None


class WatchRelay(Actor):
    """One gRPC Watch stream's mailbox: creates its watches on the member, relays responses."""

    def __init__(self, member: str, send: MemoryObjectSendStream[Any], end: StreamEnd,
                 cluster_id: int, ask_timeout: float = 2.0) -> None:
        self._member = member
        self._send = send
        self._end = end
        self._cluster_id = cluster_id
        self._ask_timeout = ask_timeout
        self._to_stream: dict[int, int] = {}  # member watch id -> stream watch id
        self._to_member: dict[int, int] = {}
        self._next_id = 0
        self._opening: dict[int, ReplyHandle] = {}  # member watch id -> the open's reply

    def on_start(self) -> None:
        self.monitor(self._member)

    def on_stop(self) -> None:
        self._release()
        self._send.close()

    def _release(self) -> None:
        for reply in self._opening.values():
            reply.send(None)
        self._opening.clear()

    def _push(self, item: Any) -> None:
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            self._close(_S.RESOURCE_EXHAUSTED, "etcdserver: too many requests")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the RPC is gone; its cleanup unregisters this relay

    def _close(self, code: grpc.StatusCode, message: str) -> None:
        if self._end.error is None:
            self._end.error = (code, message)
        self._release()
        self._send.close()

    def _claim(self, wanted: int) -> int | None:
        if wanted:
            return None if wanted in self._to_member else wanted
        while self._next_id in self._to_member:
            self._next_id += 1
        self._next_id += 1
        return self._next_id - 1

    @handler
    async def _on_open(self, m: WatchOpen) -> None:
        """Asked by the RPC's reader, answered once the watch's `created` response is in the
        stream: the reader sends nothing more until then, so the stream's responses keep the
        order of its requests (etcd's recvLoop creates watches one at a time)."""
        reply = self.defer_reply()
        sid = self._claim(m.watch_id)
        if sid is None:  # etcd: created and canceled at once, with the reason
            self._push(pb.WatchResponse(
                header=pb.ResponseHeader(cluster_id=self._cluster_id), watch_id=m.watch_id,
                created=True, canceled=True, cancel_reason=str(WatchIdExistsError())))
            reply.send(None)
            return
        try:
            wid = await self.ask(self._member, m.request, timeout=self._ask_timeout)
        except (ActorError, TimeoutError):
            self._close(_S.UNAVAILABLE, "etcdserver: server stopped")
            reply.send(None)
            return
        self._to_stream[wid], self._to_member[sid] = sid, wid
        self._opening[wid] = reply

    @handler
    def _on_response(self, m: WatchResponse) -> None:
        sid = self._to_stream.get(m.watch_id)
        if sid is None:
            return
        if m.canceled:
            del self._to_stream[m.watch_id]
            self._to_member.pop(sid, None)
        self._push(cv.watch_response_to_pb(m, sid, cluster_id=self._cluster_id))
        if m.created and m.watch_id in self._opening:
            self._opening.pop(m.watch_id).send(None)

    @handler
    def _on_cancel(self, m: WatchCancel) -> None:
        wid = self._to_member.get(m.watch_id)
        if wid is not None:  # etcd sends nothing for an id the stream does not have
            self.tell(self._member, WatchCancelRequest(watch_id=wid))

    @handler
    def _on_progress(self, m: WatchProgress) -> None:
        # The member answers with a progress notification per watch of this relay, each
        # after every event up to its revision (etcd 3.4 sends one with watch_id -1).
        self.tell(self._member, WatchProgressRequest())

    @handler
    def _on_down(self, m: Down) -> None:
        self._close(_S.UNAVAILABLE, "etcdserver: server stopped")
