"""Model-based property test of MVCCStore + WatchHub.

Beside the store runs the simplest possible model: the whole keyspace as a dict, copied at
every revision, and the list of changes of every revision. Random puts, deletes (single key,
prefix, from-key, explicit range), multi-op write transactions (duplicate keys included, which
must roll back), compactions and watches from any start revision are applied to both.
Checked after every step: the revision never decreases and only grows by one per changing
transaction; reads at any retained revision equal the model; and every watcher's events,
concatenated, are exactly the model's changes in its range from its start revision: in order,
no gap, no duplicate, with the right prev_kv.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from actors.etcd._kv_messages import (
    CompactedError,
    DuplicateKeyError,
    FutureRevisionError,
    KeyValue,
    in_range,
    prefix_end,
)
from actors.etcd._mvcc import MVCCStore
from actors.etcd._watch import WatchHub

KEYS = [b"a", b"ab", b"abc", b"b", b"ba", b"c"]
keys = st.sampled_from(KEYS)
values = st.binary(max_size=3)


@st.composite
def key_ranges(draw) -> tuple[bytes, bytes]:
    key = draw(keys)
    kind = draw(st.sampled_from(["single", "prefix", "from", "span", "all"]))
    if kind == "single":
        return key, b""
    if kind == "prefix":
        return key, prefix_end(key)
    if kind == "from":
        return key, b"\0"
    if kind == "all":
        return b"\0", b"\0"
    return key, draw(keys)  # may be empty or inverted: etcd then selects nothing


write_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), keys, values),
        st.tuples(st.just("delete"), key_ranges()),
    ),
    min_size=1,
    max_size=4,
)


class MVCCModel(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.store = MVCCStore()
        self.hub = WatchHub(self.store, max_events_per_response=3)
        self.states: list[dict[bytes, KeyValue]] = [{}, {}]  # index = revision; 1 = initial
        self.changes: dict[int, list[tuple[str, KeyValue]]] = {}
        self.compacted = 0
        self.last_revision = 1
        self.watchers: dict[int, dict] = {}

    # ------------------------------------------------------------------ model

    def _model_txn(self, ops) -> tuple[bool, dict[bytes, KeyValue], list[tuple[str, KeyValue]]]:
        """Apply ops to a copy of the head state; (refused?, new state, changes)."""
        rev = len(self.states)
        state = dict(self.states[-1])
        changes: list[tuple[str, KeyValue]] = []
        touched: set[bytes] = set()
        for op in ops:
            if op[0] == "put":
                _, key, value = op
                if key in touched:
                    return True, {}, []
                prev = state.get(key)
                if prev is None:
                    kv = KeyValue(key, rev, rev, 1, value)
                else:
                    kv = KeyValue(key, prev.create_revision, rev, prev.version + 1, value)
                state[key] = kv
                changes.append(("put", kv))
                touched.add(key)
            else:
                low, end = op[1]
                for key in sorted(k for k in state if in_range(k, low, end)):
                    if key in touched:
                        return True, {}, []
                    del state[key]
                    changes.append(("delete", KeyValue(key, 0, rev, 0)))
                    touched.add(key)
        return False, state, changes

    def _commit_model(self, state, changes) -> None:
        if changes:
            self.changes[len(self.states)] = changes
            self.states.append(state)

    # ------------------------------------------------------------------ rules

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        _, state, changes = self._model_txn([("put", key, value)])
        self.store.put(key, value)
        self._commit_model(state, changes)

    @rule(span=key_ranges())
    def delete(self, span: tuple[bytes, bytes]) -> None:
        _, state, changes = self._model_txn([("delete", span)])
        events = self.store.delete_range(*span)
        assert len(events) == len(changes)
        self._commit_model(state, changes)

    @rule(ops=write_ops)
    def txn(self, ops) -> None:
        refused, state, changes = self._model_txn(ops)
        try:
            with self.store.write() as txn:
                for op in ops:
                    if op[0] == "put":
                        txn.put(op[1], op[2])
                    else:
                        txn.delete_range(*op[1])
        except DuplicateKeyError:
            assert refused
            return
        assert not refused
        self._commit_model(state, changes)

    @rule(data=st.data(), sync_first=st.booleans())
    def compact(self, data, sync_first: bool) -> None:
        # The state machine always syncs the hub before a compaction; without that, watchers
        # needing compacted, undelivered revisions must be canceled at the next sync.
        if sync_first:
            self.hub.sync()
        revision = data.draw(st.integers(0, self.store.revision + 1), label="compact at")
        if revision <= self.compacted:
            expected: type[Exception] | None = CompactedError
        elif revision > self.store.revision:
            expected = FutureRevisionError
        else:
            expected = None
        try:
            self.store.compact(revision)
        except (CompactedError, FutureRevisionError) as error:
            assert type(error) is expected
            return
        assert expected is None
        self.compacted = revision

    @rule()
    def sync(self) -> None:
        self.hub.sync()

    @rule(data=st.data(), span=key_ranges(), prev_kv=st.booleans())
    def watch(self, data, span, prev_kv: bool) -> None:
        start = data.draw(st.integers(0, self.store.revision + 2), label="start revision")
        watch_id = self.hub.watch(*span, start_revision=start, prev_kv=prev_kv)
        effective = start if start > 0 else self.store.revision + 1
        self.watchers[watch_id] = {
            "span": span, "start": effective, "prev_kv": prev_kv, "events": [],
            "compacted": self.compacted if effective < self.compacted else 0, "responses": [],
        }  # fmt: skip

    @rule(data=st.data(), span=key_ranges(), limit=st.integers(0, 3), count_only=st.booleans())
    def read_at_revision(self, data, span, limit: int, count_only: bool) -> None:
        revision = data.draw(st.integers(0, self.store.revision + 1), label="read at")
        try:
            result = self.store.range(*span, revision=revision, limit=limit, count_only=count_only)
        except CompactedError:
            assert 0 < revision < self.compacted
            return
        except FutureRevisionError:
            assert revision > self.store.revision
            return
        assert revision <= 0 or revision >= self.compacted
        state = self.states[revision if revision > 0 else -1]
        expected = [state[k] for k in sorted(state) if in_range(k, *span)]
        assert result.count == len(expected)
        if count_only:
            assert result.kvs == ()
        else:
            assert list(result.kvs) == (expected[:limit] if limit else expected)

    @rule()
    def dump_and_load(self) -> None:
        copy = MVCCStore()
        state = self.store.dump()
        copy.load(state)
        assert copy.dump() == state and copy.db_size() == self.store.db_size()
        low = max(self.compacted, 1)
        assert list(copy.events(low)) == list(self.store.events(low))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def revision_matches_model_and_never_decreases(self) -> None:
        assert self.store.revision == len(self.states) - 1
        assert self.store.revision >= self.last_revision
        self.last_revision = self.store.revision

    @invariant()
    def head_equals_model(self) -> None:
        head = self.states[-1]
        assert list(self.store.range(b"\0", b"\0").kvs) == [head[k] for k in sorted(head)]
        assert len(self.store) == len(head)

    @invariant()
    def watch_events_reconstruct_the_model_changes(self) -> None:
        for watch_id, response in self.hub.drain():
            watcher = self.watchers[watch_id]
            watcher["responses"].append(response)
            watcher["events"].extend(response.events)
        for watcher in self.watchers.values():
            responses = watcher["responses"]
            assert responses[0].created
            if watcher["compacted"]:
                assert responses[1].canceled
                assert responses[1].compact_revision == watcher["compacted"]
                continue
            # The watcher has every change up to `through`: the hub's delivered revision, or
            # the head its creation-time replay ran to (a header says so), whichever is later.
            through = self.hub.delivered_revision
            canceled = [r for r in responses if r.canceled]
            if canceled:
                # Canceled by a sync that found history it had not delivered compacted: it
                # got every change up to the previously delivered revision, and no more.
                [cancel] = canceled
                assert cancel is responses[-1]
                through = cancel.header.revision
            through = max([through] + [r.header.revision for r in responses if r.events])
            if canceled:
                assert watcher["start"] < cancel.compact_revision
                assert cancel.compact_revision > through + 1  # it needed a compacted revision
            expected = [
                (kind, kv)
                for rev in range(watcher["start"], through + 1)
                for kind, kv in self.changes.get(rev, [])
                if in_range(kv.key, *watcher["span"])
            ]
            got = watcher["events"]
            assert [(e.type, e.kv) for e in got] == expected
            for event in got:
                rev = event.kv.mod_revision
                prev = self.states[rev - 1].get(event.kv.key) if watcher["prev_kv"] else None
                assert event.prev_kv == prev
            # Atomic: no revision split across responses.
            revisions = [{e.kv.mod_revision for e in r.events} for r in responses if r.events]
            for before, after in zip(revisions, revisions[1:]):
                assert max(before) < min(after)


MVCCModel.TestCase.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
TestMVCCModel = MVCCModel.TestCase
