"""Hand-written register histories with known verdicts, and the checker's reporting."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.checker import Event, HistoryError, check, check_file, encode_jsonl


def history(*lines: tuple) -> list[Event]:
    """Events from `(process, type, f, value)` or `(process, type, f, value, key)` tuples, one
    per line in order; the key defaults to "x" and the time is the line number times 10."""
    events = []
    for n, line in enumerate(lines):
        process, kind, f, value, *key = line
        if isinstance(value, list):
            value = tuple(value)
        events.append(Event(process, kind, f, key[0] if key else "x", value, 10 * n))
    return events


def w(p: int, value: int, outcome: str = "ok") -> tuple[tuple, tuple]:
    """A write by process p that completes before anything else happens."""
    return (p, "invoke", "write", value), (p, outcome, "write", value)


def r(p: int, result: int | None) -> tuple[tuple, tuple]:
    return (p, "invoke", "read", None), (p, "ok", "read", result)


def seq(*pairs: tuple[tuple, tuple]) -> list[Event]:
    return history(*(line for pair in pairs for line in pair))


# --- basics ----------------------------------------------------------------------------------


def test_empty_history_is_linearizable() -> None:
    verdict = check([])
    assert verdict.ok is True
    assert verdict.per_key == {}
    assert verdict.counterexample is None


def test_reads_of_an_absent_key_see_null() -> None:
    assert check(seq(r(0, None), r(1, None))).ok is True
    assert check(seq(r(0, 1))).ok is False


def test_sequential_write_then_read() -> None:
    assert check(seq(w(0, 1), r(1, 1), w(1, 2), r(0, 2))).ok is True


# --- violations ------------------------------------------------------------------------------


def test_stale_read_after_a_completed_write_is_a_violation() -> None:
    assert check(seq(w(0, 1), w(0, 2), r(1, 1))).ok is False
    assert check(seq(w(0, 1), r(1, None))).ok is False


def test_lost_write_is_a_violation() -> None:
    # The cas's write is acknowledged, then a read shows the value it replaced.
    events = seq(w(0, 1), ((1, "invoke", "cas", [1, 2]), (1, "ok", "cas", [1, 2])), r(2, 1))
    assert check(events).ok is False


def test_cas_succeeding_on_a_wrong_expected_value_is_a_violation() -> None:
    cas = ((1, "invoke", "cas", [2, 3]), (1, "ok", "cas", [2, 3]))
    assert check(seq(w(0, 1), cas)).ok is False
    assert check(seq(w(0, 2), cas, r(0, 3))).ok is True


def test_cas_on_an_absent_key_expects_null() -> None:
    cas = ((0, "invoke", "cas", [None, 1]), (0, "ok", "cas", [None, 1]))
    assert check(seq(cas, r(1, 1))).ok is True
    assert check(seq(w(2, 5), cas)).ok is False


def test_a_failed_cas_is_dropped_not_read_as_a_compare_result() -> None:
    # Jepsen semantics: fail = "did not take effect", whatever the reason.
    cas = ((1, "invoke", "cas", [1, 2]), (1, "fail", "cas", [1, 2]))
    assert check(seq(w(0, 1), cas, r(0, 1))).ok is True


# --- concurrency -----------------------------------------------------------------------------


@pytest.mark.parametrize("seen", [1, 2])
def test_concurrent_writes_may_be_seen_in_either_order(seen: int) -> None:
    events = history(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 2),
        (0, "ok", "write", 1),
        (1, "ok", "write", 2),
        (2, "invoke", "read", None),
        (2, "ok", "read", seen),
        (2, "invoke", "read", None),
        (2, "ok", "read", seen),
    )
    assert check(events).ok is True


def test_once_concurrent_writes_are_ordered_the_order_cannot_flip() -> None:
    events = history(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 2),
        (0, "ok", "write", 1),
        (1, "ok", "write", 2),
        *r(2, 2),
        *r(2, 1),
    )
    assert check(events).ok is False


def test_reads_during_a_write_may_see_old_then_new() -> None:
    events = history(
        *w(0, 1),
        (0, "invoke", "write", 2),
        *r(1, 1),
        *r(1, 2),
        (0, "ok", "write", 2),
    )
    assert check(events).ok is True


def test_reads_during_a_write_cannot_see_new_then_old() -> None:
    events = history(
        *w(0, 1),
        (0, "invoke", "write", 2),
        *r(1, 2),
        *r(1, 1),
        (0, "ok", "write", 2),
    )
    assert check(events).ok is False


# --- uncertain outcomes ----------------------------------------------------------------------


def test_an_info_write_may_take_effect_later() -> None:
    assert check(seq(w(0, 1, "info"), r(1, 1))).ok is True
    # ... even much later, after a write that was acknowledged after it.
    assert check(seq(w(0, 1, "info"), w(1, 2), r(2, 2), r(2, 1))).ok is True


def test_an_info_write_may_never_take_effect() -> None:
    assert check(seq(w(0, 1, "info"), r(1, None))).ok is True
    assert check(seq(w(2, 5), w(0, 1, "info"), r(1, 5), r(1, 5))).ok is True


def test_an_info_write_takes_effect_at_most_once() -> None:
    assert check(seq(w(0, 1, "info"), r(1, 1), r(1, None))).ok is False
    assert check(seq(w(0, 1, "info"), r(1, 1), w(2, 2), r(1, 1))).ok is False


def test_an_info_write_cannot_take_effect_before_its_invoke() -> None:
    assert check(seq(r(1, 1), w(0, 1, "info"))).ok is False


def test_an_info_cas_applies_only_on_a_matching_value() -> None:
    cas = ((1, "invoke", "cas", [1, 2]), (1, "info", "cas", [1, 2]))
    assert check(seq(w(0, 1), cas, r(0, 2))).ok is True
    assert check(seq(w(0, 3), cas, r(0, 2))).ok is False


def test_info_ops_can_chain() -> None:
    # info write 1, info cas 1->2: the read of 2 needs both, in that order.
    cas = ((1, "invoke", "cas", [1, 2]), (1, "info", "cas", [1, 2]))
    assert check(seq(w(0, 1, "info"), cas, r(2, 2))).ok is True
    assert check(seq(cas, w(0, 1, "info"), r(2, 2))).ok is True  # both pending: any order
    assert check(seq(r(2, 2), w(0, 1, "info"), cas)).ok is False


def test_an_outstanding_invoke_at_the_end_counts_as_info() -> None:
    events = history((0, "invoke", "write", 1), *r(1, 1), *r(1, None))
    assert check(events).ok is False
    assert check(history((0, "invoke", "write", 1), *r(1, 1), *r(1, 1))).ok is True
    assert check(history((0, "invoke", "write", 1), *r(1, None))).ok is True


def test_reading_the_value_of_a_failed_write_is_a_violation() -> None:
    assert check(seq(w(0, 1, "fail"), r(1, 1))).ok is False
    assert check(seq(w(0, 1, "fail"), r(1, None))).ok is True


def test_an_info_read_constrains_nothing() -> None:
    events = seq(w(0, 1), ((1, "invoke", "read", None), (1, "info", "read", None)), r(0, 1))
    verdict = check(events)
    assert verdict.ok is True
    assert verdict.per_key["x"].operations == 2


# --- per key, reporting, budget --------------------------------------------------------------


def test_keys_are_independent_registers() -> None:
    events = history(
        (0, "invoke", "write", 1, "a"),
        (0, "ok", "write", 1, "a"),
        (1, "invoke", "read", None, "b"),
        (1, "ok", "read", None, "b"),
        (1, "invoke", "read", None, "a"),
        (1, "ok", "read", 1, "a"),
        (1, "invoke", "read", None, "b"),
        (1, "ok", "read", 1, "b"),
    )
    verdict = check(events)
    assert verdict.ok is False
    assert verdict.per_key["a"].ok is True
    assert verdict.per_key["b"].ok is False
    assert verdict.counterexample is not None
    assert verdict.counterexample.key == "b"


def test_witness_lists_a_legal_order() -> None:
    events = history(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 2),
        (1, "ok", "write", 2),
        (0, "ok", "write", 1),
        *r(2, 2),
    )
    verdict = check(events)
    assert verdict.per_key["x"].linearization == (0, 1, 2)  # write 1, write 2, read 2


def test_counterexample_names_the_smallest_failing_key_and_longest_prefix() -> None:
    big = [
        (0, "invoke", "write", 1, "big"),
        (0, "ok", "write", 1, "big"),
        (0, "invoke", "write", 2, "big"),
        (0, "ok", "write", 2, "big"),
        (0, "invoke", "read", None, "big"),
        (0, "ok", "read", 1, "big"),
    ]
    small = [
        (1, "invoke", "write", 7, "small"),
        (1, "ok", "write", 7, "small"),
        (1, "invoke", "read", None, "small"),
        (1, "ok", "read", 8, "small"),
    ]
    verdict = check(history(*big, *small))
    cx = verdict.counterexample
    assert verdict.ok is False
    assert cx is not None
    assert cx.key == "small"
    assert [op.f for op in cx.operations] == ["write", "read"]
    assert [(op.f, op.input) for op in cx.prefix] == [("write", 7)]
    assert cx.state == 7
    assert cx.blocked is not None
    assert (cx.blocked.f, cx.blocked.output) == ("read", 8)
    text = cx.describe()
    assert "'small'" in text
    assert "read -> 8" in text


def test_step_budget_gives_an_unknown_verdict_not_a_guess() -> None:
    events = seq(w(0, 1), r(1, 1), w(0, 2), r(1, 2))
    unknown = check(events, max_steps=2)
    assert unknown.ok is None
    assert unknown.per_key["x"].ok is None
    assert unknown.counterexample is None
    assert check(events, max_steps=1000).ok is True
    with pytest.raises(ValueError, match="max_steps"):
        check(events, max_steps=-1)


def test_budget_is_shared_by_keys_smallest_first() -> None:
    small = history(*[(0, t, "write", 1, "a") for t in ("invoke", "ok")])
    large = history(*[line for i in range(20) for line in w(1, i)])
    large = [Event(e.process, e.type, e.f, "b", e.value, e.time + 1000) for e in large]
    verdict = check(small + large, max_steps=5)
    assert verdict.per_key["a"].ok is True
    assert verdict.per_key["b"].ok is None
    assert verdict.ok is None
    assert verdict.steps <= 5


def test_malformed_history_raises() -> None:
    with pytest.raises(HistoryError):
        check(history((0, "ok", "read", 1)))


def test_check_file_reads_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(encode_jsonl(seq(w(0, 1), r(1, 1))))
    assert check_file(path).ok is True
    path.write_bytes(encode_jsonl(seq(w(0, 1), r(1, 2))))
    assert check_file(str(path)).ok is False
