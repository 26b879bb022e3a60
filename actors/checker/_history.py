"""Register histories: the JSON-lines event format, a recorder, and invoke/completion pairing.

A history is the list of client-visible events of a campaign against a key-value register, one
`Event` per line, in the order they happened (the Jepsen/Knossos shape)::

    {"process": 0, "type": "invoke", "f": "write", "key": "k1", "value": 3, "time": 1200}
    {"process": 0, "type": "ok",     "f": "write", "key": "k1", "value": 3, "time": 1900}

`value` is: for a read, null on invoke and the result on ok (null when the key is absent); for
a write, the written integer; for a cas, `[expected, new]`. `type` is `invoke` or one of the
three completions: `ok` (took effect), `fail` (certainly did not take effect), `info` (unknown:
it may take effect at any time after its invoke, or never -- a timed-out etcd request, see
etcd's API guarantees: "clients may be uncertain on timeout").

Concurrency model: none. Plain data and pure functions; `HistoryRecorder` is a single-threaded
builder that the (single-threaded) simulation drives.

Invariants checked at the boundary (`HistoryError` names the offending line):
- each process has at most one outstanding operation, and a completion answers the
  outstanding invoke of its process, with the same `f` and `key`;
- `time` never decreases from one line to the next;
- values have the shape their `f` calls for.

Real-time order is the *line* order, which refines `time` (equal times are ordered by line):
operation A precedes B iff A's completion line comes before B's invoke line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

EventType = Literal["invoke", "ok", "fail", "info"]
OpName = Literal["read", "write", "cas"]
#: A register value: an integer, or None for "absent".
Value = int | None
#: What a line's `value` may hold: a read result / written value, or a cas `[expected, new]`.
EventValue = int | tuple[int | None, int | None] | None


class HistoryError(ValueError):
    """A history that does not follow the event format; the message names the line."""


class Event(msgspec.Struct, frozen=True):
    """One line of a history. Field names and order are the file format: do not rename."""

    process: int
    type: EventType
    f: OpName
    key: str
    value: EventValue
    time: int


class Operation(msgspec.Struct, frozen=True):
    """An invoke paired with its completion.

    `call` and `ret` are line indices in the history (the real-time order); `ret` is None when
    the operation never returned for sure (`info`, or still outstanding at the end of the
    history): its response time is +infinity. `input` is None for reads, the value for writes
    and `(expected, new)` for cas; `output` is the read result (None otherwise, or unknown).
    """

    id: int
    process: int
    f: OpName
    key: str
    input: EventValue
    output: Value
    status: Literal["ok", "fail", "info"]
    call: int
    ret: int | None
    call_time: int
    ret_time: int | None


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Event)


def encode_jsonl(events: Iterable[Event]) -> bytes:
    """Encode events as JSON lines (one object per line, trailing newline)."""
    return b"".join(_ENCODER.encode(event) + b"\n" for event in events)


def decode_jsonl(data: bytes) -> list[Event]:
    """Decode JSON lines into events; blank lines are skipped.

    Raises `HistoryError` naming the 1-based line of the first malformed object.
    """
    events: list[Event] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(_DECODER.decode(line))
        except msgspec.DecodeError as exc:
            raise HistoryError(f"line {number}: {exc}") from None
    return events


def _check_invoke_value(index: int, event: Event) -> None:
    value = event.value
    if event.f == "read" and value is not None:
        raise HistoryError(f"event {index}: a read invoke carries value null, got {value!r}")
    if event.f == "write" and not isinstance(value, int):
        raise HistoryError(f"event {index}: a write carries an integer, got {value!r}")
    if event.f == "cas" and not isinstance(value, tuple):
        raise HistoryError(f"event {index}: a cas carries [expected, new], got {value!r}")


def _check_completion_value(index: int, invoke: Event, event: Event) -> None:
    value = event.value
    if invoke.f == "read":
        if isinstance(value, tuple):
            raise HistoryError(f"event {index}: a read result is an integer or null")
    elif value is not None and value != invoke.value:
        # Writes and cas repeat their input on completion (or leave it null); anything else
        # means the recorder paired the wrong events.
        raise HistoryError(
            f"event {index}: {invoke.f} completion value {value!r} "
            f"differs from its invoke value {invoke.value!r}"
        )


def pair_operations(events: Sequence[Event]) -> list[Operation]:
    """Pair each invoke with its completion, in invoke order.

    Invokes never completed become `info` operations with `ret=None`.
    Raises `HistoryError` when the history breaks the format's invariants.
    """
    outstanding: dict[int, int] = {}  # process -> line index of its outstanding invoke
    completions: dict[int, int] = {}  # invoke line -> completion line
    last_time: int | None = None
    for index, event in enumerate(events):
        if last_time is not None and event.time < last_time:
            raise HistoryError(f"event {index}: time {event.time} goes back from {last_time}")
        last_time = event.time
        if event.type == "invoke":
            if event.process in outstanding:
                raise HistoryError(
                    f"event {index}: process {event.process} invokes while its op at "
                    f"event {outstanding[event.process]} is outstanding"
                )
            _check_invoke_value(index, event)
            outstanding[event.process] = index
            continue
        call = outstanding.pop(event.process, None)
        if call is None:
            raise HistoryError(
                f"event {index}: {event.type} for process {event.process} with no invoke"
            )
        invoke = events[call]
        if (invoke.f, invoke.key) != (event.f, event.key):
            raise HistoryError(
                f"event {index}: {event.type} {event.f} {event.key!r} answers "
                f"{invoke.f} {invoke.key!r} invoked at event {call}"
            )
        _check_completion_value(index, invoke, event)
        completions[call] = index
    return [
        _make_operation(op_id, call, completions.get(call), events)
        for op_id, call in enumerate(i for i, e in enumerate(events) if e.type == "invoke")
    ]


def _make_operation(op_id: int, call: int, ret: int | None, events: Sequence[Event]) -> Operation:
    invoke = events[call]
    status: Literal["ok", "fail", "info"] = "info"
    output: Value = None
    ret_time = None
    if ret is not None:
        done = events[ret]
        ret_time = done.time
        if done.type == "ok":
            status = "ok"
            if invoke.f == "read" and not isinstance(done.value, tuple):
                output = done.value
        elif done.type == "fail":
            status = "fail"
    return Operation(
        id=op_id,
        process=invoke.process,
        f=invoke.f,
        key=invoke.key,
        input=invoke.value,
        output=output,
        status=status,
        call=call,
        ret=ret if status != "info" else None,
        call_time=invoke.time,
        ret_time=ret_time if status != "info" else None,
    )


class OpHandle(msgspec.Struct, frozen=True):
    """What `HistoryRecorder.invoke` returns: enough to complete the operation later."""

    process: int
    f: OpName
    key: str
    value: EventValue


class HistoryRecorder:
    """Builds a history event by event, enforcing the format's invariants as it goes.

    `invoke` returns a handle; exactly one of `ok`, `fail` or `info` completes it. For a read,
    `ok` takes the read result (fail/info record null). For writes and cas a completion value of
    None repeats the invoke value, as the format asks.
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._outstanding: dict[int, OpHandle] = {}

    @property
    def events(self) -> list[Event]:
        """A copy of the events recorded so far, in order."""
        return list(self._events)

    def to_jsonl(self) -> bytes:
        return encode_jsonl(self._events)

    def invoke(self, process: int, f: OpName, key: str, value: EventValue, time: int) -> OpHandle:
        if process in self._outstanding:
            raise HistoryError(f"process {process} already has an outstanding operation")
        if f == "cas" and isinstance(value, list):
            value = (value[0], value[1])
        event = Event(process=process, type="invoke", f=f, key=key, value=value, time=time)
        _check_invoke_value(len(self._events), event)
        self._append(event)
        handle = OpHandle(process=process, f=f, key=key, value=value)
        self._outstanding[process] = handle
        return handle

    def ok(self, handle: OpHandle, value: EventValue, time: int) -> None:
        self._complete(handle, "ok", value, time)

    def fail(self, handle: OpHandle, value: EventValue, time: int) -> None:
        self._complete(handle, "fail", value, time)

    def info(self, handle: OpHandle, value: EventValue, time: int) -> None:
        self._complete(handle, "info", value, time)

    def _complete(self, handle: OpHandle, kind: EventType, value: EventValue, time: int) -> None:
        if self._outstanding.get(handle.process) is not handle:
            raise HistoryError(f"operation {handle} is not outstanding")
        if handle.f == "read":
            value = value if kind == "ok" else None
        elif value is None:
            value = handle.value
        event = Event(handle.process, kind, handle.f, handle.key, value, time)
        invoke = Event(handle.process, "invoke", handle.f, handle.key, handle.value, time)
        _check_completion_value(len(self._events), invoke, event)
        self._append(event)
        del self._outstanding[handle.process]

    def _append(self, event: Event) -> None:
        if self._events and event.time < self._events[-1].time:
            raise HistoryError(f"time {event.time} goes back from {self._events[-1].time}")
        self._events.append(event)
