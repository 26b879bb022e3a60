"""The history format: exact JSON lines, decoding errors, pairing, the recorder, the public API."""

from __future__ import annotations

import json

import pytest

import actors.checker
from actors.checker import (
    Event,
    HistoryError,
    HistoryRecorder,
    decode_jsonl,
    encode_jsonl,
    pair_operations,
)


def test_public_api_is_pinned() -> None:
    assert sorted(actors.checker.__all__) == [
        "Counterexample",
        "Event",
        "HistoryError",
        "HistoryRecorder",
        "KeyVerdict",
        "Operation",
        "Verdict",
        "check",
        "check_file",
        "decode_jsonl",
        "encode_jsonl",
        "pair_operations",
    ]
    for name in actors.checker.__all__:
        assert getattr(actors.checker, name) is not None


def test_event_lines_have_the_exact_field_names_and_order() -> None:
    events = [
        Event(0, "invoke", "read", "k1", None, 5),
        Event(0, "ok", "read", "k1", None, 7),
        Event(1, "invoke", "cas", "k1", (None, 3), 9),
    ]
    assert encode_jsonl(events) == (
        b'{"process":0,"type":"invoke","f":"read","key":"k1","value":null,"time":5}\n'
        b'{"process":0,"type":"ok","f":"read","key":"k1","value":null,"time":7}\n'
        b'{"process":1,"type":"invoke","f":"cas","key":"k1","value":[null,3],"time":9}\n'
    )


def test_decode_is_the_inverse_of_encode_and_reads_foreign_spacing() -> None:
    events = [
        Event(3, "invoke", "cas", "k", (1, 2), 0),
        Event(3, "info", "cas", "k", (1, 2), 10),
    ]
    assert decode_jsonl(encode_jsonl(events)) == events
    foreign = "\n".join(
        json.dumps({"process": 0, "type": t, "f": "write", "key": "k", "value": 4, "time": n})
        for n, t in enumerate(["invoke", "ok"])
    )
    assert decode_jsonl(foreign.encode() + b"\n\n") == [
        Event(0, "invoke", "write", "k", 4, 0),
        Event(0, "ok", "write", "k", 4, 1),
    ]


@pytest.mark.parametrize(
    "line",
    [
        b'{"process":0,"type":"start","f":"read","key":"k","value":null,"time":0}',
        b'{"process":0,"type":"invoke","f":"delete","key":"k","value":null,"time":0}',
        b'{"process":0,"type":"invoke","f":"read","key":"k","value":null}',
        b'{"process":0,"type":"invoke","f":"write","key":"k","value":1.5,"time":0}',
        b'{"process":0,"type":"invoke","f":"cas","key":"k","value":[1],"time":0}',
        b"not json",
    ],
)
def test_decode_names_the_bad_line(line: bytes) -> None:
    good = b'{"process":0,"type":"invoke","f":"read","key":"k","value":null,"time":0}\n'
    with pytest.raises(HistoryError, match="^line 2: "):
        decode_jsonl(good + line + b"\n")


def test_pairing_gives_calls_returns_inputs_and_outputs() -> None:
    events = [
        Event(0, "invoke", "write", "k", 1, 0),
        Event(1, "invoke", "read", "k", None, 1),
        Event(0, "ok", "write", "k", 1, 2),
        Event(1, "ok", "read", "k", 1, 3),
        Event(0, "invoke", "cas", "k", (1, 2), 4),
        Event(1, "invoke", "write", "k", 3, 5),
        Event(0, "info", "cas", "k", (1, 2), 6),
        Event(1, "fail", "write", "k", 3, 7),
        Event(2, "invoke", "read", "j", None, 8),
    ]
    ops = pair_operations(events)
    summary = [
        (o.id, o.process, o.f, o.key, o.input, o.output, o.status, o.call, o.ret) for o in ops
    ]
    assert summary == [
        (0, 0, "write", "k", 1, None, "ok", 0, 2),
        (1, 1, "read", "k", None, 1, "ok", 1, 3),
        (2, 0, "cas", "k", (1, 2), None, "info", 4, None),
        (3, 1, "write", "k", 3, None, "fail", 5, 7),
        (4, 2, "read", "j", None, None, "info", 8, None),
    ]
    assert (ops[0].call_time, ops[0].ret_time) == (0, 2)
    assert ops[2].ret_time is None


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (
            [Event(0, "invoke", "read", "k", None, 0), Event(0, "invoke", "read", "k", None, 1)],
            "outstanding",
        ),
        ([Event(0, "ok", "read", "k", None, 0)], "no invoke"),
        (
            [Event(0, "invoke", "read", "k", None, 0), Event(0, "ok", "read", "j", None, 1)],
            "answers",
        ),
        (
            [Event(0, "invoke", "read", "k", None, 5), Event(0, "ok", "read", "k", None, 4)],
            "goes back",
        ),
        ([Event(0, "invoke", "write", "k", None, 0)], "integer"),
        ([Event(0, "invoke", "cas", "k", 1, 0)], r"\[expected, new\]"),
        ([Event(0, "invoke", "read", "k", 1, 0)], "null"),
        (
            [Event(0, "invoke", "write", "k", 1, 0), Event(0, "ok", "write", "k", 2, 1)],
            "differs",
        ),
    ],
)
def test_pairing_rejects_broken_histories(events: list[Event], message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        pair_operations(events)


def test_recorder_produces_events_in_order_and_fills_in_values() -> None:
    recorder = HistoryRecorder()
    write = recorder.invoke(0, "write", "k", 4, 10)
    read = recorder.invoke(1, "read", "k", None, 11)
    cas = recorder.invoke(2, "cas", "k", [4, 5], 12)
    recorder.ok(write, None, 13)
    recorder.ok(read, 4, 14)
    recorder.info(cas, None, 15)
    lost = recorder.invoke(1, "read", "k", None, 16)
    recorder.fail(lost, 99, 17)
    assert recorder.events == [
        Event(0, "invoke", "write", "k", 4, 10),
        Event(1, "invoke", "read", "k", None, 11),
        Event(2, "invoke", "cas", "k", (4, 5), 12),
        Event(0, "ok", "write", "k", 4, 13),
        Event(1, "ok", "read", "k", 4, 14),
        Event(2, "info", "cas", "k", (4, 5), 15),
        Event(1, "invoke", "read", "k", None, 16),
        Event(1, "fail", "read", "k", None, 17),
    ]
    assert decode_jsonl(recorder.to_jsonl()) == recorder.events


def test_recorder_enforces_the_format() -> None:
    recorder = HistoryRecorder()
    handle = recorder.invoke(0, "write", "k", 1, 10)
    with pytest.raises(HistoryError, match="outstanding"):
        recorder.invoke(0, "read", "k", None, 11)
    with pytest.raises(HistoryError, match="goes back"):
        recorder.ok(handle, None, 9)
    with pytest.raises(HistoryError, match="differs"):
        recorder.ok(handle, 2, 11)
    recorder.ok(handle, None, 11)
    with pytest.raises(HistoryError, match="not outstanding"):
        recorder.ok(handle, None, 12)
    with pytest.raises(HistoryError, match="integer"):
        recorder.invoke(1, "write", "k", None, 12)
    assert len(recorder.events) == 2  # rejected events are not recorded
    recorder.invoke(1, "read", "k", None, 12)  # and process 1 is still free
