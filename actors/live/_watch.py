"""Watch streams: apiserver ``WatchEvent`` tells, relayed to an HTTP response.

What it is: for each ``?watch=true`` request the front end spawns a mailbox actor
(``$http/watch-<n>``) and asks the apiserver *from that address*, so the apiserver's
``WatchEvent`` tells land in the mailbox; the mailbox forwards them into an anyio memory
stream, and ``WatchResponse`` writes one JSON frame per event
(``{"type":"ADDED","object":{…}}\\n``), each in its own HTTP chunk, as the apiserver does.

Concurrency model: the mailbox actor runs on the actor system's loop (the same asyncio
loop as the ASGI server); its handler only does ``send_nowait``, never awaits. The
response task reads the stream and also listens for the client's disconnect. The stream
ends when the client goes away, the ``timeoutSeconds`` elapse, an ERROR event was sent,
the apiserver goes down (``runtime.Down``), the buffer overflows (a watcher too slow to
keep up is dropped, as the apiserver drops one; the client re-lists), or the server shuts
down (``WatchRegistry.close_all``).

Invariants: whatever ends the stream, the apiserver gets ``StopWatch`` and the mailbox
actor is unregistered, exactly once; events are written in the order they were told.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from actors.apiserver._protocol import ApiRequest, ApiResponse, StopWatch, WatchEvent
from runtime import NEVER_RESTART, Actor, ActorSystem, Down, handler

__all__ = ["WatchMailbox", "WatchRegistry", "WatchResponse"]

# Events waiting to be written, per watch; past this the watcher is too slow and dropped.
BUFFER = 10_000
Render = Callable[[WatchEvent, bool], Any]  # (event, first) -> the JSON-able frame


class WatchMailbox(Actor):
    """Receives one watch's events and forwards them into a memory stream."""

    def __init__(self, send: MemoryObjectSendStream[WatchEvent], apiserver: str) -> None:
        self._send = send
        self._apiserver = apiserver

    def on_start(self) -> None:
        self.monitor(self._apiserver)

    def on_stop(self) -> None:
        self._send.close()

    @handler
    def on_event(self, msg: WatchEvent) -> None:
        try:
            self._send.send_nowait(msg)
        except anyio.WouldBlock:
            self._send.close()  # too slow: end the stream, the client re-lists
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the response is already gone; cleanup follows from its side

    @handler
    def on_down(self, msg: Down) -> None:
        self._send.close()


class WatchRegistry:
    """The open watches of one front end, so shutdown can end them all."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self._ids = itertools.count(1)
        self._open: dict[str, MemoryObjectSendStream[WatchEvent]] = {}

    def __len__(self) -> int:
        return len(self._open)

    async def start(self, apiserver: str, request: ApiRequest, *, timeout: float
                    ) -> tuple[ApiResponse, str, MemoryObjectReceiveStream[WatchEvent]]:
        """Spawn the mailbox, ask the apiserver from it; the caller must ``finish`` it."""
        name = f"$http/watch-{next(self._ids)}"
        send, receive = anyio.create_memory_object_stream[WatchEvent](BUFFER)
        self.system.spawn(name, WatchMailbox, send, apiserver, policy=NEVER_RESTART)
        self._open[name] = send
        try:
            response = await self.system.ask(name, apiserver, request, timeout=timeout)
        except BaseException:
            self.finish(name, apiserver, 0)
            raise
        return response, name, receive

    def finish(self, name: str, apiserver: str, watch_id: int) -> None:
        """Tell the apiserver to stop and forget the mailbox (idempotent)."""
        send = self._open.pop(name, None)
        if send is None:
            return
        if watch_id:
            self.system.tell(apiserver, StopWatch(watch_id), sender=name)
        self.system.unregister(name)
        send.close()

    def close_all(self) -> None:
        """End every open stream (server shutdown); each response then finishes itself."""
        for send in list(self._open.values()):
            send.close()


class WatchResponse:
    """An ASGI response streaming one watch; written by hand (rather than a streaming
    response class) because it must notice a client disconnect while no event flows."""

    def __init__(self, registry: WatchRegistry, name: str, apiserver: str, watch_id: int,
                 events: MemoryObjectReceiveStream[WatchEvent], render: Render, *,
                 content_type: str, timeout_seconds: float | None) -> None:
        self._registry = registry
        self._name = name
        self._apiserver = apiserver
        self._watch_id = watch_id
        self._events = events
        self._render = render
        self._content_type = content_type
        self._timeout = timeout_seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", self._content_type.encode()),
                (b"cache-control", b"no-cache, private")]})
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._until_disconnect, receive, tg.cancel_scope)
                with anyio.move_on_after(self._timeout if self._timeout else float("inf")):
                    await self._pump(send)
                tg.cancel_scope.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            self._registry.finish(self._name, self._apiserver, self._watch_id)

    async def _pump(self, send: Any) -> None:
        first = True
        async with self._events:
            async for event in self._events:
                if event.watch_id != self._watch_id:
                    continue
                frame = msgspec.json.encode(
                    {"type": event.type, "object": self._render(event, first)}) + b"\n"
                first = False
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                if event.type == "ERROR":
                    return

    @staticmethod
    async def _until_disconnect(receive: Any, scope: anyio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()
