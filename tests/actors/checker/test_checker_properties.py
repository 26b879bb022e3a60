"""Property tests: histories of a simulated linearizable register always pass; a read result
mutated into a surely impossible one is always caught; the checker agrees with a brute-force
oracle on small random histories; a 5,000-operation campaign-sized history checks quickly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from actors.checker import Event, HistoryRecorder, Operation, check, pair_operations
from actors.checker._history import OpHandle

Choose = Callable[[int], int]  # choose(n) -> an index in range(n)


@dataclass(eq=False)  # compared by identity: two ops may carry equal handles
class _Op:
    handle: OpHandle
    effected: bool = False
    result: object = None  # read: the value read; cas: whether the compare matched


@dataclass
class _Register:
    """A linearizable register store driven by `choose`: each operation takes effect at one
    point between its invoke and its completion -- or, for `info`, at any later point or never.
    """

    choose: Choose
    processes: int
    keys: list[str]
    values: int  # writes draw from range(values); 0 means every write has a fresh value
    trouble: int  # about one op in `trouble` ends in fail or info
    recorder: HistoryRecorder = field(default_factory=HistoryRecorder)
    store: dict[str, int | None] = field(default_factory=dict)
    outstanding: dict[int, _Op] = field(default_factory=dict)
    floating: list[_Op] = field(default_factory=list)  # info ops that may still take effect
    now: int = 0
    fresh: int = 100

    def value(self) -> int:
        if not self.values:
            self.fresh += 1
            return self.fresh
        return self.choose(self.values)

    def tick(self) -> int:
        self.now += 1 + self.choose(3)
        return self.now

    def step(self) -> None:
        actions = []
        if len(self.outstanding) < self.processes:
            actions.append(self.invoke)
        if any(not op.effected for op in self.outstanding.values()) or self.floating:
            actions.append(self.apply)
        if self.outstanding:
            actions.append(self.complete)
        actions[self.choose(len(actions))]()

    def invoke(self) -> None:
        idle = [p for p in range(self.processes) if p not in self.outstanding]
        process = idle[self.choose(len(idle))]
        key = self.keys[self.choose(len(self.keys))]
        f = ("read", "write", "cas")[self.choose(3)]
        value: object = None
        if f == "write":
            value = self.value()
        elif f == "cas":
            # Half the time expect the current value, so that plenty of cas succeed.
            expected = self.store.get(key) if self.choose(2) else self.value()
            value = (expected, self.value())
        handle = self.recorder.invoke(process, f, key, value, self.tick())  # type: ignore[arg-type]
        self.outstanding[process] = _Op(handle)

    def apply(self, op: _Op | None = None) -> None:
        if op is None:
            pending = [o for o in self.outstanding.values() if not o.effected] + self.floating
            op = pending[self.choose(len(pending))]
        op.effected = True
        if op in self.floating:
            self.floating.remove(op)
        h = op.handle
        current = self.store.get(h.key)
        if h.f == "read":
            op.result = current
        elif h.f == "write":
            self.store[h.key] = h.value  # type: ignore[assignment]
        else:
            expected, new = h.value  # type: ignore[misc]
            op.result = current == expected
            if op.result:
                self.store[h.key] = new

    def complete(self) -> None:
        processes = sorted(self.outstanding)
        process = processes[self.choose(len(processes))]
        op = self.outstanding[process]
        if not op.effected and self.choose(self.trouble):
            self.apply(op)  # the usual case: it takes effect just before its response
        del self.outstanding[process]
        h, now = op.handle, self.tick()
        if op.effected:
            if h.f == "cas" and not op.result:
                # The compare did not match: etcd answers "not applied", Jepsen records :fail.
                done = self.recorder.fail if self.choose(self.trouble) else self.recorder.info
                done(h, None, now)
            elif self.choose(self.trouble):
                self.recorder.ok(h, op.result if h.f == "read" else None, now)
            else:
                self.recorder.info(h, None, now)
        elif self.choose(2):
            self.recorder.fail(h, None, now)  # never takes effect
        else:
            self.recorder.info(h, None, now)  # may still take effect later, or never
            self.floating.append(op)


def simulate(
    choose: Choose, *, ops: int, processes: int, keys: int, values: int = 4, trouble: int = 3
) -> list[Event]:
    register = _Register(choose, processes, [f"k{i}" for i in range(keys)], values, trouble)
    while len(register.recorder.events) < 2 * ops:
        register.step()
    return register.recorder.events


def _hypothesis_choose(data: st.DataObject) -> Choose:
    return lambda n: data.draw(st.integers(0, n - 1)) if n > 1 else 0


# --- linearizable by construction -------------------------------------------------------------

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(
    data=st.data(),
    processes=st.integers(1, 6),
    keys=st.integers(1, 3),
    ops=st.integers(1, 40),
)
def test_simulated_register_histories_are_linearizable(
    data: st.DataObject, processes: int, keys: int, ops: int
) -> None:
    events = simulate(_hypothesis_choose(data), ops=ops, processes=processes, keys=keys)
    verdict = check(events)
    assert verdict.ok is True, verdict.counterexample and verdict.counterexample.describe()
    _assert_witnesses_valid(events, verdict.per_key)


# --- surely impossible reads are caught -------------------------------------------------------


def _impossible_values(ops: list[Operation], read: Operation) -> list[int | None]:
    """Values `read` surely cannot return: never written by a possibly-applied op invoked
    before the read returned (fail ops never apply); absent, once an op that certainly wrote
    has returned before the read was invoked (nothing deletes)."""
    assert read.ret is not None
    writers = [o for o in ops if o.key == read.key and o.f != "read" and o.status != "fail"]
    possible: set[int | None] = set()
    for o in writers:
        if o.call < read.ret:
            possible.add(o.input if o.f == "write" else o.input[1])  # type: ignore[index]
    definite = [o for o in writers if o.status == "ok" and o.ret is not None and o.ret < read.call]
    if not definite:
        possible.add(None)
    candidates: list[int | None] = [None, *range(6), 10**9]
    return [v for v in candidates if v not in possible]


@_SETTINGS
@given(data=st.data(), processes=st.integers(1, 6), keys=st.integers(1, 2))
def test_mutating_a_read_into_an_impossible_value_is_caught(
    data: st.DataObject, processes: int, keys: int
) -> None:
    events = simulate(_hypothesis_choose(data), ops=30, processes=processes, keys=keys)
    ops = pair_operations(events)
    reads = [o for o in ops if o.f == "read" and o.status == "ok"]
    assume(reads)
    read = data.draw(st.sampled_from(reads))
    impossible = _impossible_values(ops, read)
    assume(impossible)
    value = data.draw(st.sampled_from(impossible))
    assert read.ret is not None
    mutated = list(events)
    mutated[read.ret] = Event(read.process, "ok", "read", read.key, value, events[read.ret].time)
    verdict = check(mutated)
    assert verdict.ok is False
    assert verdict.counterexample is not None
    assert verdict.counterexample.key == read.key


# --- agreement with a brute-force oracle on small random histories ----------------------------


def _brute_force(ops: list[Operation]) -> bool:
    """Naive definition-level search: place operations one by one; an op may go next when no
    unplaced completed op returned before its invoke; info ops may be left out."""
    live = [o for o in ops if o.status != "fail" and not (o.f == "read" and o.status != "ok")]
    by_key: dict[str, list[Operation]] = {}
    for o in live:
        by_key.setdefault(o.key, []).append(o)
    return all(_place(tuple(key_ops), None) for key_ops in by_key.values())


def _place(left: tuple[Operation, ...], state: int | None) -> bool:
    if all(o.ret is None for o in left):
        return True
    for o in left:
        if any(p.ret is not None and p.ret < o.call for p in left):
            continue
        if o.f == "read":
            legal, new = o.output == state, state
        elif o.f == "write":
            legal, new = True, o.input
        else:
            legal, new = o.input[0] == state, o.input[1]  # type: ignore[index]
        if legal and _place(tuple(p for p in left if p is not o), new):  # type: ignore[arg-type]
            return True
    return False


@st.composite
def _random_history(draw: st.DrawFn) -> list[Event]:
    """Arbitrary (usually non-linearizable) well-formed histories of up to 7 operations."""
    recorder = HistoryRecorder()
    outstanding: dict[int, OpHandle] = {}
    value = st.integers(0, 2)
    for now in range(draw(st.integers(1, 14))):
        process = draw(st.integers(0, 2))
        if process in outstanding:
            handle = outstanding.pop(process)
            kind = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
            result = draw(st.one_of(st.none(), value)) if handle.f == "read" else None
            getattr(recorder, kind)(handle, result, now)
            continue
        f = draw(st.sampled_from(["read", "write", "cas"]))
        key = draw(st.sampled_from(["a", "b"]))
        arg = {"read": None, "write": draw(value), "cas": (draw(value), draw(value))}[f]
        outstanding[process] = recorder.invoke(process, f, key, arg, now)  # type: ignore[arg-type]
    return recorder.events


@settings(max_examples=400, deadline=None)
@given(_random_history())
def test_agrees_with_brute_force_oracle(events: list[Event]) -> None:
    verdict = check(events)
    assert verdict.ok is _brute_force(pair_operations(events))
    _assert_witnesses_valid(events, verdict.per_key)


def _assert_witnesses_valid(events: list[Event], per_key: dict) -> None:
    """A witness order must be accepted by the register model, respect real time, and include
    every completed op."""
    ops = pair_operations(events)
    for key, kv in per_key.items():
        if kv.ok is not True:
            continue
        order = [ops[i] for i in kv.linearization]
        assert {o.id for o in ops if o.key == key and o.status == "ok"} <= set(kv.linearization)
        state = None
        for pos, o in enumerate(order):
            assert o.key == key and o.status != "fail"
            assert all(p.ret is None or p.ret > o.call for p in order[pos + 1 :])
            if o.f == "read":
                assert o.output == state
            elif o.f == "write":
                state = o.input
            else:
                assert o.input[0] == state
                state = o.input[1]


# --- a campaign-sized history -----------------------------------------------------------------


def test_five_thousand_operations_check_in_reasonable_time() -> None:
    # Ten clients over five keys, a small value domain and about a third of the ops failing
    # or timing out: linearizable by construction.
    rng = random.Random(20240611)
    events = simulate(lambda n: rng.randrange(n), ops=5000, processes=10, keys=5, values=8)
    verdict = check(events)
    assert verdict.ok is True
    assert sum(kv.operations for kv in verdict.per_key.values()) > 2500


def test_a_late_stale_read_in_five_thousand_operations_is_found() -> None:
    # Unique write values (as etcd's robustness traffic uses) and 5% trouble; one read near
    # the end is turned into a read of the initial null: the search must exhaust everything
    # before it.
    rng = random.Random(7)
    events = simulate(
        lambda n: rng.randrange(n), ops=5000, processes=10, keys=5, values=0, trouble=20
    )
    ops = pair_operations(events)
    read = [o for o in ops if o.f == "read" and o.status == "ok" and o.output is not None][-10]
    assert read.ret is not None and None in _impossible_values(ops, read)
    events[read.ret] = Event(read.process, "ok", "read", read.key, None, events[read.ret].time)
    verdict = check(events)
    assert verdict.ok is False
    assert verdict.counterexample is not None
    assert verdict.counterexample.key == read.key
    assert verdict.counterexample.blocked is not None
