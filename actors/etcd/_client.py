"""The etcd client used by actors (the apiserver, campaign clients): finds the leader, fails
over between members, and never turns an unknown outcome into a reported failure.

Outcomes: a request answered is ``ok``; refused before anything was proposed (``NotLeader``,
a member that is down — connection refused — or an etcd error such as a failed compare) is a
definite failure and is retried on another member when it was a routing problem; a write
that got no answer in time is ``UnknownOutcome`` (it may still be applied later). Reads are
retried freely: they have no effects.

Watches resume: a watch follows its member with a monitor and progress notifications; when the
member goes down or falls silent, it is re-created on another member from the last revision
seen + 1, so its consumer sees no gap and no duplicate (etcd's resumable-watch guarantee).

Concurrency model: methods are coroutines run inside the owning actor's handlers or tasks; the
owning actor routes ``WatchResponse`` and ``runtime.Down`` messages to ``dispatch``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import anyio

from actors.etcd._kv_messages import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    ErrorResponse,
    KVError,
    LeaseGrantRequest,
    LeaseKeepAliveRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchResponse,
    prefix_end,
)
from actors.etcd._member_messages import (
    HealthRequest,
    MemberListRequest,
    NotLeaderError,
    ProposalFailed,
    StatusRequest,
    Unavailable,
)
from runtime import Actor, ActorDead, AskTimeout, Down, ExpectedError, UnknownActor

__all__ = ["EtcdClient", "EtcdError", "UnknownOutcome", "Watch"]

_WRITES = (PutRequest, DeleteRangeRequest, TxnRequest, CompactionRequest, LeaseGrantRequest,
           LeaseRevokeRequest, LeaseKeepAliveRequest)


class UnknownOutcome(ExpectedError):
    """A write got no answer in time: it may or may not be applied."""


class EtcdError(ExpectedError):
    """etcd refused the request (definite failure); ``code`` names the etcd error."""

    def __init__(self, code: str, message: str, compact_revision: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.compact_revision = compact_revision


def _raise_error(resp: ErrorResponse) -> None:
    raise EtcdError(resp.code, resp.message, resp.compact_revision)


class EtcdClient:
    def __init__(self, actor: Actor, endpoints: list[str], *, request_timeout: float = 5.0,
                 attempt_timeout: float = 1.5) -> None:
        if not endpoints:
            raise ValueError("an etcd client needs at least one endpoint")
        self.actor = actor
        self.endpoints = list(endpoints)
        self.request_timeout = request_timeout
        self.attempt_timeout = attempt_timeout
        self._leader: str | None = None
        self._next = 0
        self._watches: dict[tuple[str, int], Watch] = {}
        # Responses that reached the actor before their watch was registered (the member
        # replies with the id, then sends responses; the actor drains them all before the
        # waiting coroutine registers the id): replayed at registration. Kept only while a
        # create to that member is in flight (``_creating``); what is left when none is
        # belongs to an orphan (a create whose reply was lost, or a watch from before the
        # member restarted and reused its id) and is cancelled, as clientv3 cancels a
        # response's unexpected watch id (seed 5235 had handed one to a later watch).
        self._early: dict[tuple[str, int], list[WatchResponse]] = {}
        self._creating: dict[str, int] = {}  # member -> watch creates in flight to it
        self._by_member: dict[str, list[Watch]] = {}

    # ---- routing -------------------------------------------------------------------------------
    def _pick(self, tried: int) -> str:
        if self._leader is not None and tried == 0:
            return self._leader
        ep = self.endpoints[self._next % len(self.endpoints)]
        self._next += 1
        return ep

    async def request(self, req: Any, *, any_member: bool = False) -> Any:
        """Send one request, failing over as its kind allows; returns the response."""
        is_write = isinstance(req, _WRITES)
        deadline = anyio.current_time() + self.request_timeout
        tried = 0
        last_error: BaseException | None = None
        while anyio.current_time() < deadline:
            # A known leader is always tried first; otherwise round robin over the endpoints.
            target = self._pick(0 if any_member or self._leader is not None else tried)
            tried += 1
            budget = min(self.attempt_timeout, max(0.001, deadline - anyio.current_time()))
            try:
                resp = await self.actor.ask(target, req, timeout=budget)
            except NotLeaderError as e:
                # The hint may name a member added after this client was configured: follow
                # it anyway (clientv3 learns new members by syncing its endpoints).
                self._leader = e.leader
                last_error = e
                if self._leader is None:
                    await anyio.sleep(0.05)  # an election is under way
                continue
            except (ActorDead, UnknownActor, Unavailable) as e:
                if self._leader == target:
                    self._leader = None
                if is_write and isinstance(e, ActorDead) and e.why in ("crashed", "stopped"):
                    # The member went down while it held the request: it may have proposed it
                    # (and the entry may commit under the next leader). Retrying could apply
                    # the write twice; failing would claim it was not applied.
                    raise UnknownOutcome(f"etcd member {target} went down: outcome unknown") from e
                last_error = e
                await anyio.sleep(0.01)
                continue
            except ProposalFailed as e:
                raise EtcdError("leader_changed", str(e)) from None
            except AskTimeout as e:
                if self._leader == target:
                    self._leader = None
                if is_write:
                    raise UnknownOutcome(f"etcd request timed out on {target}: outcome unknown") from e
                last_error = e
                continue
            if is_write and not any_member:
                self._leader = target
            if isinstance(resp, ErrorResponse):
                _raise_error(resp)
            return resp
        if is_write and isinstance(last_error, AskTimeout):
            raise UnknownOutcome("etcd request timed out: outcome unknown")
        raise EtcdError("unavailable", f"etcdserver: request timed out ({last_error})")

    # ---- the KV API -----------------------------------------------------------------------------
    async def range(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False, **kw: Any) -> Any:
        if prefix:
            range_end = prefix_end(key)
        return await self.request(RangeRequest(key=key, range_end=range_end, **kw))

    async def get(self, key: bytes, *, serializable: bool = False) -> Any:
        resp = await self.request(RangeRequest(key=key, serializable=serializable))
        return resp.kvs[0] if resp.kvs else None

    async def put(self, key: bytes, value: bytes, *, lease: int = 0, prev_kv: bool = False) -> Any:
        return await self.request(PutRequest(key=key, value=value, lease=lease, prev_kv=prev_kv))

    async def delete(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False, prev_kv: bool = False) -> Any:
        if prefix:
            range_end = prefix_end(key)
        return await self.request(DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv))

    async def txn(self, compare: list[Compare] | tuple[Compare, ...], success: list[RequestOp] | tuple[RequestOp, ...] = (),
                  failure: list[RequestOp] | tuple[RequestOp, ...] = ()) -> Any:
        return await self.request(TxnRequest(compare=tuple(compare), success=tuple(success), failure=tuple(failure)))

    async def compact(self, revision: int) -> Any:
        return await self.request(CompactionRequest(revision=revision))

    async def lease_grant(self, ttl: int) -> Any:
        return await self.request(LeaseGrantRequest(ttl=ttl))

    async def lease_revoke(self, lease_id: int) -> Any:
        return await self.request(LeaseRevokeRequest(id=lease_id))

    async def lease_keepalive(self, lease_id: int) -> Any:
        return await self.request(LeaseKeepAliveRequest(id=lease_id))

    async def status(self, member: str) -> Any:
        return await self.actor.ask(member, StatusRequest(), timeout=self.attempt_timeout)

    async def health(self, member: str) -> Any:
        return await self.actor.ask(member, HealthRequest(), timeout=self.attempt_timeout)

    async def member_list(self) -> Any:
        return await self.request(MemberListRequest(), any_member=True)

    # ---- watches ---------------------------------------------------------------------------------
    async def watch(self, key: bytes, range_end: bytes = b"", *, prefix: bool = False, start_revision: int = 0,
                    prev_kv: bool = False, progress_notify: bool = True, silence_timeout: float = 20.0) -> Watch:
        if prefix:
            range_end = prefix_end(key)
        w = Watch(self, key, range_end, start_revision, prev_kv, progress_notify, silence_timeout)
        await w._establish()
        return w

    def dispatch(self, msg: WatchResponse | Down) -> bool:
        """Route a message the owning actor received; True if it belonged to this client."""
        if isinstance(msg, Down):
            for key in [k for k in self._early if k[0] == msg.address]:
                del self._early[key]
            watches = self._by_member.pop(msg.address, [])
            for w in watches:
                w._lost(f"member {msg.address} {msg.reason}")
            if self._leader == msg.address:
                self._leader = None
            return bool(watches)
        w = self._watches.get((self.actor.sender, msg.watch_id))
        if w is None:
            member = self.actor.sender
            if self._creating.get(member):
                if msg.seq and len(self._early) < 1024:
                    self._early.setdefault((member, msg.watch_id), []).append(msg)
            elif not msg.canceled:
                # Nobody here wants it (its create timed out, or it is from before a
                # restart): cancel it, and never hand it to a later watch of the same id.
                self.actor.tell(member, WatchCancelRequest(watch_id=msg.watch_id))
            return False
        w._receive(msg)
        return True

    def _register(self, w: Watch, member: str, watch_id: int) -> None:
        self._watches[(member, watch_id)] = w
        self._by_member.setdefault(member, []).append(w)
        for resp in self._early.pop((member, watch_id), ()):
            if self._watches.get((member, watch_id)) is w:
                w._receive(resp)

    def _create_started(self, member: str) -> None:
        self._creating[member] = self._creating.get(member, 0) + 1

    def _create_ended(self, member: str) -> None:
        """A watch create to ``member`` returned (registered, or failed): unless another is
        in flight, the responses still unclaimed belong to no one of ours."""
        left = self._creating.get(member, 0) - 1
        if left > 0:
            self._creating[member] = left
            return
        self._creating.pop(member, None)
        for key in [k for k in self._early if k[0] == member]:
            del self._early[key]
            self.actor.tell(member, WatchCancelRequest(watch_id=key[1]))

    def _unregister(self, w: Watch) -> None:
        if w.member is not None:
            self._watches.pop((w.member, w.watch_id), None)
            lst = self._by_member.get(w.member)
            if lst and w in lst:
                lst.remove(w)


class Watch:
    """An etcd watch that survives member failures. Iterate it for ``WatchResponse``s."""

    def __init__(self, client: EtcdClient, key: bytes, range_end: bytes, start: int, prev_kv: bool,
                 progress_notify: bool, silence_timeout: float) -> None:
        self.client = client
        self.key, self.range_end, self.prev_kv = key, range_end, prev_kv
        self.progress_notify = progress_notify
        self.silence_timeout = silence_timeout
        self.next_revision = start  # the first revision still wanted (0: from now)
        self.member: str | None = None
        self.watch_id = 0
        self.closed = False
        self.compacted: int = 0
        self.resumes = 0
        self._send, self._recv = anyio.create_memory_object_stream[WatchResponse](max_buffer_size=math.inf)
        self._heard = 0.0
        self._generation = 0
        self._seq = 0  # the last WatchResponse.seq taken on the current member's watch

    async def _establish(self) -> None:
        client = self.client
        tried = 0
        while not self.closed:
            member = client._pick(tried)
            tried += 1
            req = WatchCreateRequest(key=self.key, range_end=self.range_end, start_revision=self.next_revision,
                                     prev_kv=self.prev_kv, progress_notify=self.progress_notify)
            client._create_started(member)
            try:
                watch_id = await client.actor.ask(member, req, timeout=client.attempt_timeout)
            except (ActorDead, UnknownActor, AskTimeout, KVError, ExpectedError):
                client._create_ended(member)
                await anyio.sleep(0.05)
                continue
            if self.closed:  # cancelled while the create was in flight
                client._create_ended(member)
                client.actor.tell(member, WatchCancelRequest(watch_id=watch_id))
                return
            self.member, self.watch_id, self._seq = member, watch_id, 0
            self._generation += 1
            client._register(self, member, watch_id)
            client._create_ended(member)
            client.actor.monitor(member)
            self._heard = anyio.current_time()
            if self.silence_timeout:
                client.actor.spawn(self._guard(self._generation), name=f"etcd-watch-guard-{member}-{watch_id}")
            return

    async def _guard(self, generation: int) -> None:
        while not self.closed and generation == self._generation:
            await anyio.sleep(self.silence_timeout / 2)
            if generation != self._generation or self.closed:
                return
            if anyio.current_time() - self._heard > self.silence_timeout:
                self._lost("silent")
                return

    def _receive(self, resp: WatchResponse) -> None:
        self._heard = anyio.current_time()
        if resp.seq:
            if resp.seq <= self._seq:
                return  # a duplicate the bus made
            if resp.seq != self._seq + 1:
                self._lost("gap")  # a response was lost: re-create from next_revision
                return
            self._seq = resp.seq
        if resp.canceled:
            if resp.compact_revision:
                self.compacted = resp.compact_revision
                self._close_with(resp)
            else:
                self._lost(resp.cancel_reason or "canceled")
            return
        if resp.created:
            if self.next_revision == 0:
                self.next_revision = resp.header.revision + 1
        elif resp.events:
            self.next_revision = resp.events[-1].kv.mod_revision + 1
        elif resp.header.revision:
            # A progress notification: everything up to it has been seen.
            self.next_revision = max(self.next_revision, resp.header.revision + 1)
        self._send.send_nowait(resp)

    def _close_with(self, resp: WatchResponse) -> None:
        self.client._unregister(self)
        self._send.send_nowait(resp)
        self.closed = True
        self._send.close()

    def _lost(self, why: str) -> None:
        if self.closed:
            return
        old = self.member
        self.client._unregister(self)
        if old is not None:
            self.client.actor.tell(old, WatchCancelRequest(watch_id=self.watch_id))
        self.member = None
        self._generation += 1
        self.resumes += 1
        self.client.actor.spawn(self._establish(), name="etcd-watch-resume")

    def cancel(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.member is not None:
            self.client.actor.tell(self.member, WatchCancelRequest(watch_id=self.watch_id))
        self.client._unregister(self)
        self._send.close()

    def __aiter__(self) -> AsyncIterator[WatchResponse]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[WatchResponse]:
        async for resp in self._recv:
            yield resp

