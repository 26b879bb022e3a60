"""Model-based property test of KVStateMachine, driven with encoded requests like Raft entries.

Two state machines apply the same committed requests: `sm`, a follower whose lessor is
demoted, and `twin`, a leader with a promoted lessor and a clock a thousand seconds ahead.
Beside them, a model of the keyspace (one dict per revision) and of the leases. Random puts
(with real, missing or no leases), range deletes, Txns with compares and both branches,
historic and sorted ranges, compactions, lease grants, revokes and expiries.
Checked: every response against the model; both replicas give identical responses and
byte-identical snapshots; the twin sometimes restarts from its own snapshot and carries on
identically; revisions never decrease; watchers opened at any revision see exactly the
model's changes.
"""

from __future__ import annotations

import itertools
from operator import attrgetter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from actors.etcd._kv_messages import (
    CompactionRequest,
    Compare,
    DeleteRangeRequest,
    ErrorResponse,
    KeyValue,
    LeaseExpireRequest,
    LeaseGrantRequest,
    LeaseRevokeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
    decode_request,
    encode_request,
    in_range,
    prefix_end,
)
from actors.etcd._state_machine import KVStateMachine

KEYS = [b"a", b"ab", b"b", b"ba", b"c"]
keys = st.sampled_from(KEYS)
values = st.sampled_from([b"", b"0", b"1", b"x"])
BOGUS_LEASE = 999


@st.composite
def spans(draw) -> tuple[bytes, bytes]:
    key = draw(keys)
    kind = draw(st.sampled_from(["single", "prefix", "from", "span"]))
    if kind == "single":
        return key, b""
    if kind == "prefix":
        return key, prefix_end(key)
    if kind == "from":
        return key, b"\0"
    return key, draw(keys)


compares = st.builds(
    Compare,
    key=keys,
    target=st.sampled_from(["value", "version", "create", "mod", "lease"]),
    result=st.sampled_from(["equal", "not_equal", "greater", "less"]),
    value=values,
    version=st.integers(0, 3),
    create_revision=st.integers(0, 8),
    mod_revision=st.integers(0, 8),
    lease=st.integers(0, 2),
    range_end=st.sampled_from([b"", b"\0", b"c"]),
)
FIELDS = {"value": "value", "version": "version", "create": "create_revision",
          "mod": "mod_revision", "lease": "lease"}  # fmt: skip
SORT_KEYS = {"key": attrgetter("key"), "version": attrgetter("version"),
             "create": attrgetter("create_revision"), "mod": attrgetter("mod_revision"),
             "value": attrgetter("value")}  # fmt: skip


class Model:
    """The keyspace as one dict per revision, plus leases; obviously correct, slow."""

    def __init__(self) -> None:
        self.states: list[dict[bytes, KeyValue]] = [{}, {}]
        self.changes: dict[int, list[tuple[str, KeyValue]]] = {}
        self.compacted = 0
        self.leases: set[int] = set()
        self.next_lease = 1

    @property
    def revision(self) -> int:
        return len(self.states) - 1

    def compare(self, c: Compare) -> bool:
        head = self.states[-1]
        kvs = [head[k] for k in sorted(head) if in_range(k, c.key, c.range_end)]
        if not kvs:
            if c.target == "value":
                return False
            kvs = [KeyValue(b"", 0, 0, 0)]
        field = FIELDS[c.target]
        ops = {"equal": lambda a, b: a == b, "not_equal": lambda a, b: a != b,
               "greater": lambda a, b: a > b, "less": lambda a, b: a < b}  # fmt: skip
        return all(ops[c.result](getattr(kv, field), getattr(c, field)) for kv in kvs)

    def write(self, ops) -> tuple[list, bool]:
        """Apply ops (Put/Delete/Range) as one transaction; returns (results, changed)."""
        rev = self.revision + 1
        state = dict(self.states[-1])
        changes: list[tuple[str, KeyValue]] = []
        results = []
        for op in ops:
            if isinstance(op, PutRequest):
                prev = state.get(op.key)
                create, version = (
                    (rev, 1) if prev is None else (prev.create_revision, prev.version + 1)
                )
                state[op.key] = KeyValue(op.key, create, rev, version, op.value, op.lease)
                changes.append(("put", state[op.key]))
                results.append(prev)
            elif isinstance(op, DeleteRangeRequest):
                gone = [state.pop(k) for k in sorted(state) if in_range(k, op.key, op.range_end)]
                changes.extend(("delete", KeyValue(kv.key, 0, rev, 0)) for kv in gone)
                results.append(gone)
            else:
                results.append(
                    [state[k] for k in sorted(state) if in_range(k, op.key, op.range_end)]
                )
        if changes:
            self.changes[rev] = changes
            self.states.append(state)
        return results, bool(changes)

    def range(self, request: RangeRequest) -> tuple[list[KeyValue], int, bool]:
        state = self.states[request.revision if request.revision > 0 else -1]
        kvs = [state[k] for k in sorted(state) if in_range(k, request.key, request.range_end)]
        order, target = request.sort_order, request.sort_target
        if order == "none" and target != "key":
            order = "ascend"
        if order != "none":
            kvs.sort(key=SORT_KEYS[target], reverse=order == "descend")
        count = len(kvs)
        more = 0 < request.limit < count
        return (kvs[: request.limit] if request.limit > 0 else kvs), count, more


class StateMachineModel(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.sm = KVStateMachine()
        self.twin = KVStateMachine()
        self.twin.lessor.promote(1000.0)
        self.index = itertools.count(1)
        self.now = 0.0
        self.model = Model()
        self.last_revision = 1
        self.watchers: dict[int, dict] = {}

    def apply(self, request):
        """Apply to both replicas through the Raft entry encoding; responses must agree."""
        index = next(self.index)
        self.now += 0.5
        entry = encode_request(request)
        response = self.sm.apply(index, decode_request(entry), self.now)
        assert self.twin.apply(index, decode_request(entry), self.now + 1000.0) == response
        return response

    # ------------------------------------------------------------------ KV rules

    @rule(key=keys, value=values, lease=st.sampled_from(["none", "real", "bogus"]))
    def put(self, key: bytes, value: bytes, lease: str) -> None:
        lease_id = {"none": 0, "bogus": BOGUS_LEASE, "real": min(self.model.leases, default=0)}[
            lease
        ]
        request = PutRequest(key, value, lease=lease_id, prev_kv=True)
        response = self.apply(request)
        if lease_id and lease_id not in self.model.leases:
            assert isinstance(response, ErrorResponse) and response.code == "lease_not_found"
            return
        [prev], _ = self.model.write([request])
        assert response.prev_kv == prev and response.header.revision == self.model.revision

    @rule(span=spans())
    def delete(self, span) -> None:
        request = DeleteRangeRequest(*span, prev_kv=True)
        response = self.apply(request)
        [gone], _ = self.model.write([request])
        assert response.deleted == len(gone) and list(response.prev_kvs) == gone
        assert response.header.revision == self.model.revision

    @rule(
        guards=st.lists(compares, max_size=2),
        success=st.lists(st.sampled_from(["put", "delete", "range"]), max_size=3),
        failure=st.lists(st.sampled_from(["put", "delete", "range"]), max_size=3),
        data=st.data(),
    )
    def txn(self, guards, success, failure, data) -> None:
        def branch(kinds):  # distinct keys: duplicate-key refusals are unit-tested
            chosen = data.draw(st.permutations(KEYS))[: len(kinds)]
            return tuple(
                PutRequest(k, data.draw(values)) if kind == "put"
                else DeleteRangeRequest(k) if kind == "delete"
                else RangeRequest(k, prefix_end(k))
                for kind, k in zip(kinds, chosen)
            )  # fmt: skip

        request = TxnRequest(tuple(guards), branch(success), branch(failure))
        succeeded = all(self.model.compare(c) for c in guards)
        response = self.apply(request)
        results, _ = self.model.write(request.success if succeeded else request.failure)
        assert response.succeeded is succeeded
        assert response.header.revision == self.model.revision
        for op, result, expected in zip(request.success if succeeded else request.failure,
                                        response.responses, results):  # fmt: skip
            if isinstance(op, PutRequest):
                assert result.prev_kv is None  # not asked for
            elif isinstance(op, DeleteRangeRequest):
                assert result.deleted == len(expected)
            else:
                assert list(result.kvs) == expected and result.count == len(expected)

    @rule(
        span=spans(),
        data=st.data(),
        limit=st.integers(0, 3),
        sort_order=st.sampled_from(["none", "ascend", "descend"]),
        sort_target=st.sampled_from(["key", "version", "create", "mod", "value"]),
        count_only=st.booleans(),
    )
    def range(self, span, data, limit, sort_order, sort_target, count_only) -> None:
        revision = data.draw(st.integers(0, self.model.revision + 1), label="revision")
        request = RangeRequest(*span, revision=revision, limit=limit, sort_order=sort_order,
                               sort_target=sort_target, count_only=count_only)  # fmt: skip
        response = self.apply(request)
        if revision > self.model.revision:
            assert response.code == "future_revision"
        elif 0 < revision < self.model.compacted:
            assert response.code == "compacted"
            assert response.compact_revision == self.model.compacted
        else:
            kvs, count, more = self.model.range(request)
            assert response.count == count
            assert list(response.kvs) == ([] if count_only else kvs)
            assert response.more == (more and not count_only)

    @rule(data=st.data())
    def compact(self, data) -> None:
        revision = data.draw(st.integers(0, self.model.revision + 1), label="compact at")
        response = self.apply(CompactionRequest(revision))
        if revision <= self.model.compacted:
            assert response.code == "compacted"
        elif revision > self.model.revision:
            assert response.code == "future_revision"
        else:
            assert not isinstance(response, ErrorResponse)
            self.model.compacted = revision

    # ------------------------------------------------------------------ lease rules

    @rule(ttl=st.integers(0, 30))
    def grant(self, ttl: int) -> None:
        response = self.apply(LeaseGrantRequest(ttl))
        assert (response.id, response.ttl) == (self.model.next_lease, max(ttl, 2))
        self.model.leases.add(response.id)
        self.model.next_lease += 1

    def _revoke_in_model(self, lease_id: int) -> None:
        head = self.model.states[-1]
        self.model.write([DeleteRangeRequest(k) for k in sorted(head) if head[k].lease == lease_id])
        self.model.leases.discard(lease_id)

    @rule(data=st.data())
    def revoke(self, data) -> None:
        lease_id = data.draw(st.sampled_from(sorted(self.model.leases) + [BOGUS_LEASE]))
        response = self.apply(LeaseRevokeRequest(lease_id))
        if lease_id == BOGUS_LEASE:
            assert response.code == "lease_not_found"
            return
        self._revoke_in_model(lease_id)
        assert response.header.revision == self.model.revision

    @rule()
    def expire_on_the_leader(self) -> None:
        expired = self.twin.lessor.expired(self.now + 1000.0)
        response = self.apply(LeaseExpireRequest(tuple(expired) + (BOGUS_LEASE,)))
        assert response.revoked == tuple(expired)
        for lease_id in expired:
            self._revoke_in_model(lease_id)

    # ------------------------------------------------------------------ replicas and watches

    @rule()
    def restart_twin_from_its_snapshot(self) -> None:
        data = self.twin.snapshot()
        restored = KVStateMachine()
        restored.restore(data)
        assert restored.snapshot() == data
        restored.lessor.promote(self.now + 1000.0)
        self.twin = restored

    @rule(data=st.data(), span=spans(), prev_kv=st.booleans())
    def watch(self, data, span, prev_kv: bool) -> None:
        start = data.draw(st.integers(0, self.model.revision + 2), label="start revision")
        watch_id = self.sm.watch_hub.watch(*span, start_revision=start, prev_kv=prev_kv)
        effective = start if start > 0 else self.model.revision + 1
        compacted = self.model.compacted if effective < self.model.compacted else 0
        self.watchers[watch_id] = {"span": span, "start": effective, "prev_kv": prev_kv,
                                   "compacted": compacted, "events": [], "responses": []}  # fmt: skip

    @invariant()
    def replicas_agree_and_revision_never_decreases(self) -> None:
        assert self.sm.snapshot() == self.twin.snapshot()
        assert self.sm.revision == self.model.revision >= self.last_revision
        self.last_revision = self.sm.revision

    @invariant()
    def watch_events_reconstruct_the_model_changes(self) -> None:
        for watch_id, response in self.sm.watch_hub.drain():
            self.watchers[watch_id]["responses"].append(response)
            self.watchers[watch_id]["events"].extend(response.events)
        for watcher in self.watchers.values():
            if watcher["compacted"]:
                assert watcher["responses"][1].compact_revision == watcher["compacted"]
                continue
            expected = [
                (kind, kv)
                for rev in range(watcher["start"], self.model.revision + 1)
                for kind, kv in self.model.changes.get(rev, [])
                if in_range(kv.key, *watcher["span"])
            ]
            assert [(e.type, e.kv) for e in watcher["events"]] == expected
            for event in watcher["events"]:
                prev = self.model.states[event.kv.mod_revision - 1].get(event.kv.key)
                assert event.prev_kv == (prev if watcher["prev_kv"] else None)


StateMachineModel.TestCase.settings = settings(
    max_examples=250, stateful_step_count=50, deadline=None
)
TestStateMachineModel = StateMachineModel.TestCase
