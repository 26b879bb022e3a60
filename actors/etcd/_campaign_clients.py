"""The client side of fault campaigns: register clients, a watcher, and the ledger of what they saw.

What it is: ``RegisterClient`` is one Jepsen-style process doing read / write / cas on integer
registers (etcd keys ``k1``..``kN``) through ``EtcdClient``, one operation at a time, either on
its own (a random workload until a deadline) or when told (``Invoke``, for Hypothesis rules).
``WatchClient`` keeps one resumable watch on every register from revision 1. ``Ledger`` is
the campaign's notebook: the history in the checker's JSON-lines format (``HistoryRecorder``),
the response revisions, and the acknowledged writes the durability checks look for.

Outcomes (the history's ``type``): an answer is ``ok``; a refusal before anything was proposed,
a cas whose compare failed, or a proposal whose log slot another entry took is ``fail``
(certainly not applied); a write that timed out or whose member went down holding it is
``info`` (``UnknownOutcome``: it may apply later, or never). A read never has effects, so a
read that got no answer is ``fail``.

Concurrency model: each client is an actor; an operation runs in a task spawned by the actor,
so the mailbox stays free for watch responses and ``Down`` notices, which go to the
``EtcdClient``. The ledger is a plain object shared by the clients of one simulation (one
thread); it is the observer's notebook, not part of the system under test. Times are the
loop's virtual time in integer nanoseconds (clock skew faults do not move them).

Invariant checked as it goes: response revisions never go back in real time (an operation
that starts after another finished sees a revision at least as high: etcd's revision is a
logical clock of a linearizable store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import anyio
import msgspec

from actors.checker import Event as HistoryEvent
from actors.checker import HistoryRecorder
from actors.etcd._client import EtcdClient, EtcdError, UnknownOutcome, Watch
from actors.etcd._kv_messages import (
    Compare,
    PutRequest,
    RangeRequest,
    TxnRequest,
    WatchResponse,
)
from runtime import Actor, Down, handler

if TYPE_CHECKING:
    from actors.checker._history import OpHandle

__all__ = ["AckedWrite", "Halt", "Invoke", "Ledger", "RegisterClient", "WatchClient", "random_op"]

OpName = Literal["read", "write", "cas"]
OpValue = int | tuple[int, int] | None


class Invoke(msgspec.Struct, frozen=True, tag="campaign.invoke"):
    """Ask a client to run one operation (replies False if it is still busy)."""

    f: OpName
    key: str
    value: OpValue = None


class Halt(msgspec.Struct, frozen=True, tag="campaign.halt"):
    """End a client's random workload after its current operation."""


class AckedWrite(msgspec.Struct, frozen=True):
    key: str
    value: int
    revision: int
    process: int


class _Pending(msgspec.Struct):
    handle: OpHandle
    floor: int  # the highest revision seen by an op that completed before this one began


class Ledger:
    """Everything the clients saw, in the order it happened."""

    def __init__(self) -> None:
        self.recorder = HistoryRecorder()
        self.acked: list[AckedWrite] = []
        self.violations: list[str] = []
        self.counts = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
        self.max_revision = 0
        self.outstanding = 0

    @property
    def events(self) -> list[HistoryEvent]:
        return self.recorder.events

    def to_jsonl(self) -> bytes:
        return self.recorder.to_jsonl()

    def invoke(self, process: int, op: Invoke, time_ns: int) -> _Pending:
        value = None if op.f == "read" else op.value
        handle = self.recorder.invoke(process, op.f, op.key, value, time_ns)
        self.counts["invoke"] += 1
        self.outstanding += 1
        return _Pending(handle, self.max_revision)

    def complete(self, pending: _Pending, kind: Literal["ok", "fail", "info"], *, value: Any = None,
                 revision: int = 0, time_ns: int) -> None:
        h = pending.handle
        getattr(self.recorder, kind)(h, value, time_ns)
        self.counts[kind] += 1
        self.outstanding -= 1
        if revision:
            if revision < pending.floor:
                self._violation(f"revision went back: p{h.process} {h.f} {h.key} saw revision "
                                f"{revision} after an operation that finished before it saw "
                                f"{pending.floor}")
            self.max_revision = max(self.max_revision, revision)
        if kind == "ok" and h.f != "read":
            new = h.value if h.f == "write" else h.value[1]  # type: ignore[index]
            assert isinstance(new, int)
            self.acked.append(AckedWrite(h.key, new, revision, h.process))

    def _violation(self, text: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(text)


def random_op(rng: Any, keys: int, values: int = 5) -> Invoke:
    """Jepsen's register workload: read, write or cas with equal odds, small integer values."""
    key = f"k{rng.randrange(keys) + 1}"
    f = rng.choice(("read", "write", "cas"))
    if f == "read":
        return Invoke("read", key)
    if f == "write":
        return Invoke("write", key, rng.randrange(values))
    return Invoke("cas", key, (rng.randrange(values), rng.randrange(values)))


def _encode(v: int) -> bytes:
    return str(v).encode()


class RegisterClient(Actor):
    """One process of the register workload. ``until``: run a random workload until then."""

    def __init__(self, process: int, endpoints: list[str], ledger: Ledger, *, keys: int = 3,
                 until: float | None = None, think: tuple[float, float] = (0.05, 0.4),
                 request_timeout: float = 5.0) -> None:
        self.process = process
        self.endpoints = endpoints
        self.ledger = ledger
        self.keys = keys
        self.until = until
        self.think = think
        self.request_timeout = request_timeout

    def on_start(self) -> None:
        self.client = EtcdClient(self, self.endpoints, request_timeout=self.request_timeout)
        self.busy = False
        self.done = 0
        if self.until is not None:
            self.spawn(self._workload(), name=f"client-{self.process}-workload")

    @property
    def _now_ns(self) -> int:
        return round(self.system.now * 1e9)

    async def _workload(self) -> None:
        rng = self.rng
        while self.until is not None and self.system.now < self.until:
            await self._run(random_op(rng, self.keys))
            await anyio.sleep(rng.uniform(*self.think))

    @handler
    def _halt(self, m: Halt) -> None:
        self.until = -1.0

    @handler
    def _invoke(self, m: Invoke) -> bool:
        if self.busy:
            return False
        self.busy = True  # before the task starts: the next Invoke may come at once
        self.spawn(self._run(m), name=f"client-{self.process}-op")
        return True

    @handler
    def _route(self, m: WatchResponse | Down) -> None:
        self.client.dispatch(m)

    async def _run(self, op: Invoke) -> None:
        self.busy = True
        pending = self.ledger.invoke(self.process, op, self._now_ns)
        try:
            kind, value, revision = await self._call(op)
        finally:
            self.busy = False
        self.ledger.complete(pending, kind, value=value, revision=revision, time_ns=self._now_ns)
        self.done += 1

    async def _call(self, op: Invoke) -> tuple[Literal["ok", "fail", "info"], Any, int]:
        key = op.key.encode()
        try:
            if op.f == "read":
                resp = await self.client.request(RangeRequest(key=key))
                value = int(resp.kvs[0].value) if resp.kvs else None
                return "ok", value, resp.header.revision
            if op.f == "write":
                assert isinstance(op.value, int)
                resp = await self.client.request(PutRequest(key=key, value=_encode(op.value)))
                return "ok", None, resp.header.revision
            assert isinstance(op.value, tuple)
            expected, new = op.value
            txn = TxnRequest(
                compare=(Compare(key=key, target="value", result="equal", value=_encode(expected)),),
                success=(PutRequest(key=key, value=_encode(new)),),
            )
            resp = await self.client.request(txn)
            return ("ok" if resp.succeeded else "fail"), None, resp.header.revision
        except UnknownOutcome:
            return ("fail" if op.f == "read" else "info"), None, 0
        except EtcdError:
            return "fail", None, 0


class WatchClient(Actor):
    """One resumable watch on every register (prefix ``k``) from revision 1; keeps the events
    as (revision, key, value or None for a delete)."""

    def __init__(self, endpoints: list[str], *, prefix: bytes = b"k") -> None:
        self.endpoints = endpoints
        self.prefix = prefix

    def on_start(self) -> None:
        self.client = EtcdClient(self, self.endpoints)
        self.events: list[tuple[int, str, int | None]] = []
        self.watch: Watch | None = None
        self.spawn(self._follow(), name="watch-client")

    async def _follow(self) -> None:
        self.watch = await self.client.watch(self.prefix, prefix=True, start_revision=1)
        async for resp in self.watch:
            for ev in resp.events:
                value = int(ev.kv.value) if ev.type == "put" else None
                self.events.append((ev.kv.mod_revision, ev.kv.key.decode(), value))

    @handler
    def _route(self, m: WatchResponse | Down) -> None:
        self.client.dispatch(m)

    @property
    def resumes(self) -> int:
        return self.watch.resumes if self.watch is not None else 0
