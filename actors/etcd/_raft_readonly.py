"""Pending ReadIndex requests on a leader (Raft thesis §6.4, etcd-io/raft `ReadOnlySafe`).

What it is: the queue of linearizable read requests waiting for the leader to confirm that it
is still the leader. A request records the commit index at arrival; it is released once a
quorum of voters has answered a heartbeat carrying its context (or a later one: heartbeat
rounds are ordered, so confirming a later request confirms every earlier one).

Concurrency model: none; owned by the leader's RaftNode and discarded whenever it steps down,
so a deposed leader can never release a read.

Invariants: contexts are unique among pending requests (a duplicate is ignored); requests are
released in arrival order.
"""

from __future__ import annotations

from collections.abc import Set

__all__ = ["ReadOnly", "ReadRequest"]


class ReadRequest:
    __slots__ = ("acks", "ctx", "index", "requester")

    def __init__(self, index: int, requester: int, ctx: bytes) -> None:
        self.index = index
        self.requester = requester
        self.ctx = ctx
        self.acks: set[int] = set()


class ReadOnly:
    def __init__(self) -> None:
        self._pending: dict[bytes, ReadRequest] = {}
        self._queue: list[bytes] = []

    def __len__(self) -> int:
        return len(self._queue)

    def add_request(self, index: int, requester: int, ctx: bytes) -> bool:
        if ctx in self._pending:
            return False
        self._pending[ctx] = ReadRequest(index, requester, ctx)
        self._queue.append(ctx)
        return True

    def recv_ack(self, node: int, ctx: bytes) -> Set[int]:
        req = self._pending.get(ctx)
        if req is None:
            return frozenset()
        req.acks.add(node)
        return req.acks

    def advance(self, ctx: bytes) -> list[ReadRequest]:
        """Release the request for `ctx` and every request queued before it."""
        if ctx not in self._pending:
            return []
        cut = self._queue.index(ctx) + 1
        released = [self._pending.pop(c) for c in self._queue[:cut]]
        del self._queue[:cut]
        return released

    def last_pending_ctx(self) -> bytes:
        return self._queue[-1] if self._queue else b""
