"""A linearizability checker for key-value register histories (read, write, cas).

Algorithm: Wing & Gong's backtracking search as refined by Lowe ("Testing for
Linearizability", 2017) and laid out the way Porcupine does it:

- P-compositionality (Horn & Kroening 2015): each key is an independent register, so a history
  is linearizable iff every key's sub-history is; keys are checked one by one, smallest first.
- The history is a doubly linked list of call and return entries in real-time order. The
  candidates to linearize next are the calls before the first remaining return entry (an
  operation whose return comes earlier must be linearized first). Linearizing an operation
  lifts its call and return entries out of the list; backtracking puts them back (dancing
  links, strictly last-in first-out).
- Lowe's memoization: the configurations already entered (linearized ops, register state)
  are remembered; entering one again can only fail again, so it is skipped.
- Reads that can be linearized at the current point are committed without branching: a read
  does not change the state, so if any completion exists from here, one exists that takes the
  read first (every operation that must precede it is already linearized). When the search
  backtracks over such a read, the node below it has failed as well.

Uncertain outcomes (Jepsen's `:info`, etcd's timed-out requests): a `fail` operation certainly
did not take effect and is dropped. An `info` operation (or one still outstanding when the
history ends) has response time +infinity: it has a call entry and no return entry, so the
search may linearize it at any point after its invoke, or never. Reads with unknown outcome
constrain nothing and are dropped. The search succeeds once every `ok` operation is
linearized. Info ops multiply the search space, so Lowe's just-in-time idea is pushed further:

- an info op is linearized only just before an op that observes its value: after it, a write
  may not come next (a write would hide it, and the linearization without it is just as good);
- an info write or cas whose value no op could observe after its invoke is dropped up front;
- identical info ops (same f and values) are interchangeable once invoked, so they are taken
  in invoke order;
- a configuration is skipped when one entered before *dominates* it: same ok ops and state,
  a subset of its info ops, not more obliged. Every completion of the dominated one completes
  the dominating one, since an info op left unlinearized may simply never be linearized.

Values used many times together with many info ops still make failing histories expensive
(the problem is NP-complete); unique write values keep the search near-linear.

Concurrency model: none; pure synchronous code, no clock. `max_steps` bounds the work
deterministically (one step = one candidate tried or one backtrack); when the budget runs
out, the verdict is unknown (`ok=None`), never a guess.

Invariants: a `Verdict` with `ok=True` carries, per key, a witness order that the model
accepts and that respects real time; `ok=False` is only returned after the search space of a
key is exhausted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import msgspec

from ._history import Event, Operation, Value, decode_jsonl, pair_operations

_READ, _WRITE, _CAS = 0, 1, 2
_KIND = {"read": _READ, "write": _WRITE, "cas": _CAS}


class KeyVerdict(msgspec.Struct, frozen=True):
    """The outcome for one key.

    `ok` is None when the step budget ran out before a decision. `operations` counts the
    operations the search considered (fail operations and unknown reads are dropped).
    `linearization` lists operation ids in a witness order when `ok` is True; it includes the
    `info` operations the witness took as applied.
    """

    key: str
    ok: bool | None
    operations: int
    steps: int
    linearization: tuple[int, ...] | None = None


class Counterexample(msgspec.Struct, frozen=True):
    """Why a key is not linearizable, for the failing key with the fewest operations.

    `operations` is the key's whole history (fail and info included), in invoke order.
    `prefix` is the longest linearizable prefix the search found, in linearization order;
    `state` is the register value after it; `blocked` is the completed operation that, after
    that prefix, neither it nor any operation concurrent with it could explain.
    """

    key: str
    operations: tuple[Operation, ...]
    prefix: tuple[Operation, ...]
    state: Value
    blocked: Operation | None

    def describe(self) -> str:
        lines = [f"key {self.key!r} is not linearizable ({len(self.operations)} operations):"]
        lines += [f"  {_show(op)}" for op in self.operations]
        lines.append(f"longest linearizable prefix ({len(self.prefix)} operations):")
        lines += [f"  {_show(op)}" for op in self.prefix]
        lines.append(f"register after the prefix: {self.state!r}")
        if self.blocked is not None:
            lines.append(f"cannot linearize next: {_show(self.blocked)}")
        return "\n".join(lines)


class Verdict(msgspec.Struct, frozen=True):
    """The outcome for a whole history.

    `ok` is False if any key is not linearizable, else None if any key ran out of budget,
    else True.
    """

    ok: bool | None
    per_key: dict[str, KeyVerdict]
    counterexample: Counterexample | None
    steps: int


def _show(op: Operation) -> str:
    if op.f == "read":
        what = f"read -> {op.output!r}" if op.status == "ok" else "read"
    else:
        what = f"{op.f} {list(op.input) if isinstance(op.input, tuple) else op.input!r}"
    ret = "inf" if op.ret is None else str(op.ret)
    return f"#{op.id} p{op.process} {what} [{op.status}] lines {op.call}..{ret}"


class _Search(msgspec.Struct):
    """The result of searching one key."""

    ok: bool | None
    steps: int
    order: list[int]  # witness (ok) or longest prefix (not ok), as indices into `ops`
    state: Value
    blocked: int | None


def check(events: Sequence[Event], *, max_steps: int | None = None) -> Verdict:
    """Check a register history for linearizability, key by key.

    `max_steps` is a deterministic budget shared by all keys (smallest keys go first); when it
    runs out, the affected keys and the overall verdict are unknown (`ok=None`).
    Raises `HistoryError` when the events do not follow the history format.
    """
    if max_steps is not None and max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    by_key: dict[str, list[Operation]] = {}
    for op in pair_operations(events):
        by_key.setdefault(op.key, []).append(op)
    remaining = max_steps
    per_key: dict[str, KeyVerdict] = {}
    failures: list[tuple[int, str, _Search, list[Operation]]] = []
    for key, ops in sorted(by_key.items(), key=lambda item: (len(item[1]), item[0])):
        considered = _relevant(ops)
        result = _search(considered, remaining)
        if remaining is not None:
            remaining = max(0, remaining - result.steps)
        witness = None
        if result.ok:
            witness = tuple(considered[i].id for i in result.order)
        elif result.ok is False:
            failures.append((len(ops), key, result, considered))
        per_key[key] = KeyVerdict(key, result.ok, len(considered), result.steps, witness)
    counterexample = None
    if failures:
        _, key, result, considered = min(failures, key=lambda item: (item[0], item[1]))
        counterexample = Counterexample(
            key=key,
            operations=tuple(by_key[key]),
            prefix=tuple(considered[i] for i in result.order),
            state=result.state,
            blocked=None if result.blocked is None else considered[result.blocked],
        )
    verdicts = [v.ok for v in per_key.values()]
    ok = False if False in verdicts else (None if None in verdicts else True)
    steps = sum(v.steps for v in per_key.values())
    return Verdict(ok=ok, per_key=per_key, counterexample=counterexample, steps=steps)


def check_file(path: str | os.PathLike[str], *, max_steps: int | None = None) -> Verdict:
    """Read a JSON-lines history file and `check` it."""
    with open(path, "rb") as fh:
        return check(decode_jsonl(fh.read()), max_steps=max_steps)


def _relevant(ops: list[Operation]) -> list[Operation]:
    """The operations of one key that can matter to the search.

    A failed op never took effect, and a read with an unknown result constrains nothing.
    An info write or cas whose new value no operation could observe afterwards (no ok read of
    it, no cas expecting it, that returns after the info op's invoke) can be left out too: in
    any linearization that includes it, only writes can follow it before its value is
    overwritten, so dropping it leaves a linearization. Repeated until nothing more drops,
    since dropping an info cas removes an observer.
    """
    kept = [op for op in ops if op.status != "fail" and (op.f != "read" or op.status == "ok")]
    while True:
        last_seen: dict[Value, float] = {}  # value -> latest return of an op observing it
        for op in kept:
            if op.f == "read" or op.f == "cas":
                seen = op.output if op.f == "read" else op.input[0]  # type: ignore[index]
                ret = float("inf") if op.ret is None else op.ret
                last_seen[seen] = max(last_seen.get(seen, -1), ret)
        pruned = [op for op in kept if not _unobservable(op, last_seen)]
        if len(pruned) == len(kept):
            return kept
        kept = pruned


def _unobservable(op: Operation, last_seen: dict[Value, float]) -> bool:
    if op.status != "info" or op.f == "read":
        return False
    new = op.input if op.f == "write" else op.input[1]  # type: ignore[index]
    return last_seen.get(new, -1) <= op.call  # type: ignore[arg-type]


def _encode(ops: list[Operation]) -> tuple[list[int], list[Value], list[Value]]:
    """Per op: its kind, then `a` (read: result; write: value; cas: expected), `b` (cas: new)."""
    kinds, arg_a, arg_b = [], [], []
    for op in ops:
        kinds.append(_KIND[op.f])
        if op.f == "read":
            arg_a.append(op.output)
            arg_b.append(None)
        elif op.f == "write":
            assert isinstance(op.input, int), op
            arg_a.append(op.input)
            arg_b.append(None)
        else:
            assert isinstance(op.input, tuple), op
            arg_a.append(op.input[0])
            arg_b.append(op.input[1])
    return kinds, arg_a, arg_b


def _entry_list(ops: list[Operation]) -> tuple[list[int], list[int]]:
    """The doubly linked list of call/return entries in real-time order, as (next, prev).

    Node 2i is op i's call, 2i+1 its return (none for info ops); node 2n is the head and
    2n+1 the end sentinel (odd, so a scan that reaches it backtracks as at a return entry).
    """
    n = len(ops)
    head, end = 2 * n, 2 * n + 1
    nxt = [end] * (2 * n + 2)
    prv = [head] * (2 * n + 2)
    entries = sorted(
        [(op.call, 2 * i) for i, op in enumerate(ops)]
        + [(op.ret, 2 * i + 1) for i, op in enumerate(ops) if op.ret is not None]
    )
    last = head
    for _, node in entries:
        nxt[last], prv[node] = node, last
        last = node
    nxt[last], prv[end] = end, last
    return nxt, prv


def _search(ops: list[Operation], budget: int | None) -> _Search:
    """Wing & Gong / Lowe search over one key's operations (see the module docstring).

    A configuration is (ok ops linearized, state, info ops linearized, obliged); `obliged`
    means the last op linearized was an info op, so the next may not be a write (a legal read
    or cas after it necessarily observes its value). `cache` maps (ok ops, state) to the
    antichain of (info ops, obliged) pairs entered under it.
    """
    kinds, arg_a, arg_b = _encode(ops)
    has_ret = [op.ret is not None for op in ops]
    bits = [1 << i for i in range(len(ops))]
    twin = _earlier_twins(ops, kinds, arg_a, arg_b)
    nxt, prv = _entry_list(ops)
    head, end = 2 * len(ops), 2 * len(ops) + 1

    state: Value = None
    lin_ok = lin_info = 0
    obliged = False
    to_go = sum(has_ret)  # ok operations not yet linearized
    stack: list[tuple[int, Value, bool]] = []  # (call node, state before, obliged before)
    cache: dict[tuple[int, Value], list[tuple[int, bool]]] = {(0, None): [(0, False)]}
    best: list[int] = []
    best_state: Value = None
    blocked: int | None = None
    steps = 0
    entry = nxt[head]
    while to_go:
        steps += 1
        if budget is not None and steps > budget:
            return _Search(None, steps - 1, [], None, None)
        if not entry & 1:
            i = entry >> 1
            kind = kinds[i]
            if kind == _WRITE:
                legal, new_state = not obliged, arg_a[i]
            else:
                legal, new_state = state == arg_a[i], (state if kind == _READ else arg_b[i])
            if legal and not (twin[i] and not lin_info & twin[i]):
                certain = has_ret[i]
                ok2 = lin_ok | bits[i] if certain else lin_ok
                info2 = lin_info if certain else lin_info | bits[i]
                seen = cache.setdefault((ok2, new_state), [])
                if not any(not (s_i & ~info2) and s_o <= (not certain) for s_i, s_o in seen):
                    _add_minimal(seen, info2, not certain)
                    stack.append((entry, state, obliged))
                    state, lin_ok, lin_info, obliged = new_state, ok2, info2, not certain
                    _lift(nxt, prv, entry, certain)
                    to_go -= certain
                    entry = nxt[head]
                    continue
                if kind != _READ:
                    entry = nxt[entry]
                    continue
                # A legal read whose configuration is dominated: this node fails too.
            else:
                entry = nxt[entry]
                continue
        elif len(stack) > len(best) or blocked is None:
            # Every candidate before this return entry has been tried: this node is dead.
            best = [node >> 1 for node, _, _ in stack]
            best_state = state
            blocked = entry >> 1 if entry != end else None
        # Backtrack; past a committed read, the node below has failed as well.
        while True:
            if not stack:
                return _Search(False, steps, best, best_state, blocked)
            node, state, obliged = stack.pop()
            i = node >> 1
            if has_ret[i]:
                lin_ok ^= bits[i]
                to_go += 1
            else:
                lin_info ^= bits[i]
            _unlift(nxt, prv, node, has_ret[i])
            if kinds[i] != _READ:
                break
        entry = nxt[node]
    return _Search(True, steps, [node >> 1 for node, _, _ in stack], state, None)


def _earlier_twins(
    ops: list[Operation], kinds: list[int], arg_a: list[Value], arg_b: list[Value]
) -> list[int]:
    """Per info op, the bit of the last earlier-invoked info op identical to it, else 0.

    Identical info ops are interchangeable once both are invoked (neither ever returns), so
    the search takes them in invoke order: an info op may be linearized only after its twin.
    Without this, k equal timed-out writes multiply the configurations by up to 2^k.
    """
    last: dict[tuple[int, Value, Value], int] = {}
    twin = [0] * len(ops)
    for i, op in enumerate(ops):
        if op.ret is None:
            signature = (kinds[i], arg_a[i], arg_b[i])
            if signature in last:
                twin[i] = 1 << last[signature]
            last[signature] = i
    return twin


def _add_minimal(seen: list[tuple[int, bool]], info: int, obliged: bool) -> None:
    """Record a configuration entered, dropping those it dominates (kept an antichain)."""
    seen[:] = [(s_i, s_o) for s_i, s_o in seen if info & ~s_i or obliged > s_o]
    seen.append((info, obliged))


def _lift(nxt: list[int], prv: list[int], call: int, has_ret: bool) -> None:
    p, q = prv[call], nxt[call]
    nxt[p], prv[q] = q, p
    if has_ret:
        ret = call + 1
        p, q = prv[ret], nxt[ret]
        nxt[p], prv[q] = q, p


def _unlift(nxt: list[int], prv: list[int], call: int, has_ret: bool) -> None:
    # Reverse order of `_lift`: the links saved in the lifted nodes are valid again only once
    # everything lifted after them is back.
    if has_ret:
        ret = call + 1
        nxt[prv[ret]] = ret
        prv[nxt[ret]] = ret
    nxt[prv[call]] = call
    prv[nxt[call]] = call
