"""etcd's lessor (etcd-io/etcd server/lease): leases, their TTLs, expiry and attached keys.

What it is: the bookkeeping behind LeaseGrant / LeaseRevoke / LeaseKeepAlive. The lessor
never deletes keys itself; `revoke` hands the attached keys back and the state machine deletes
them in one revision.

Concurrency model: none. Plain synchronous code; time enters only as the `now` arguments
(seconds of virtual time).

Replicated vs local state, as in etcd:
* replicated (applied from the Raft log, part of the snapshot): which leases exist, their
  granted TTL, which keys are attached, the id counter;
* local (never in the snapshot): each lease's expiry instant. Only the leader acts on it:
  it calls `expired(now)` and proposes a LeaseExpireRequest. Keep-alives in etcd go to the
  leader's lessor without passing through Raft, so a new leader cannot know how fresh each
  lease is; `promote(now)` therefore restarts every lease's full TTL (etcd's Promote).
  A lessor starts demoted (as etcd's does, and as one restored from a snapshot is): while
  demoted, no lease has an expiry and `expired()` is empty. The shell promotes it when its
  member becomes leader and demotes it when the member steps down.

Minimum TTL: etcd raises a shorter grant to `minLeaseTTL = ceil(1.5 * election timeout)`,
`ceil(3 * ElectionTicks / 2 * TickMs / 1000)` seconds: 2 s with the defaults (10 ticks of
100 ms), so a lease cannot expire during a normal leader election. `Lessor(min_ttl=...)`
takes the value for the cluster's own timing.

Invariants:
* every attached key belongs to exactly one lease, and the lease exists;
* ids are never 0 (0 means "no lease" on a key); automatic ids come from a counter that skips
  ids in use, so equal request sequences give equal ids on every replica.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import msgspec

from actors.etcd._kv_messages import (
    MAX_LEASE_TTL,
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseTTLTooLargeError,
)

__all__ = ["DEFAULT_MIN_LEASE_TTL", "Lease", "LessorState", "Lessor"]

DEFAULT_MIN_LEASE_TTL = 2  # etcd's default: ceil(1.5 * 10 ticks * 100 ms) seconds

_FOREVER = math.inf


@dataclass(slots=True)
class Lease:
    """A lease as the lessor holds it. Read it; change it only through the `Lessor`."""

    id: int
    ttl: int
    expiry: float = _FOREVER
    keys: set[bytes] = field(default_factory=set)

    def remaining(self, now: float) -> float:
        return max(self.expiry - now, 0.0)


class LessorState(msgspec.Struct, frozen=True, tag="lease.state"):
    """The replicated part of a lessor: `(id, ttl)` pairs in id order and the id counter."""

    next_id: int
    leases: tuple[tuple[int, int], ...]


class Lessor:
    """Grants, refreshes and revokes leases; reports the expired ones to the leader."""

    def __init__(self, *, min_ttl: int = DEFAULT_MIN_LEASE_TTL) -> None:
        if min_ttl < 1:
            raise ValueError(f"min_ttl must be at least 1 second, got {min_ttl}")
        self.min_ttl = min_ttl
        self._leases: dict[int, Lease] = {}
        self._next_id = 1
        # (expiry, id) entries; an entry is stale once its lease is gone or re-timed.
        self._heap: list[tuple[float, int]] = []
        self._primary = False

    # ----------------------------------------------------------------- replicated changes

    def grant(self, lease_id: int, ttl: int, now: float) -> Lease:
        """Create a lease; `lease_id == 0` takes the next free id from the counter.

        The TTL is raised to `min_ttl`. Raises `LeaseExistsError` for an id in use and
        `LeaseTTLTooLargeError` above etcd's MaxLeaseTTL.
        """
        if ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLargeError()
        if lease_id == 0:
            while self._next_id in self._leases:
                self._next_id += 1
            lease_id = self._next_id
            self._next_id += 1
        elif lease_id in self._leases:
            raise LeaseExistsError()
        lease = Lease(lease_id, max(ttl, self.min_ttl))
        self._leases[lease_id] = lease
        self._set_expiry(lease, now + lease.ttl)
        return lease

    def revoke(self, lease_id: int) -> list[bytes]:
        """Remove the lease; returns its attached keys, sorted, for the caller to delete."""
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise LeaseNotFoundError()
        return sorted(lease.keys)

    def renew(self, lease_id: int, now: float) -> int:
        """Keep-alive: restart the lease's TTL from `now` (if primary); returns the TTL."""
        lease = self.get(lease_id)
        self._set_expiry(lease, now + lease.ttl)
        return lease.ttl

    def attach(self, lease_id: int, key: bytes) -> None:
        self.get(lease_id).keys.add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        """Forget `key` on the lease; a lease already revoked has nothing to forget."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    # ----------------------------------------------------------------- queries

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._leases

    def __len__(self) -> int:
        return len(self._leases)

    def get(self, lease_id: int) -> Lease:
        lease = self._leases.get(lease_id)
        if lease is None:
            raise LeaseNotFoundError()
        return lease

    def ids(self) -> list[int]:
        return sorted(self._leases)

    def time_to_live(self, lease_id: int, now: float) -> int:
        """Whole seconds left (etcd truncates); the granted TTL while no expiry is tracked."""
        lease = self.get(lease_id)
        if lease.expiry == _FOREVER:
            return lease.ttl
        return int(lease.remaining(now))

    def expired(self, now: float, limit: int | None = None) -> list[int]:
        """Ids of leases whose expiry is at or before `now`, earliest first.

        Pure with respect to the replicated state: nothing is revoked until the leader's
        LeaseExpireRequest is applied, so asking twice returns the same ids.
        """
        found: list[tuple[float, int]] = []
        heap = self._heap
        while heap and heap[0][0] <= now and (limit is None or len(found) < limit):
            entry = heapq.heappop(heap)
            lease = self._leases.get(entry[1])
            if lease is not None and lease.expiry == entry[0]:
                found.append(entry)
        for entry in found:
            heapq.heappush(heap, entry)
        return [lease_id for _, lease_id in found]

    # ----------------------------------------------------------------- leadership

    @property
    def primary(self) -> bool:
        """Whether this lessor tracks expiry (its member is the leader)."""
        return self._primary

    def promote(self, now: float, extend: float = 0.0) -> None:
        """Become the lessor that expires leases: every lease gets its full TTL from `now`.

        etcd passes the election timeout as `extend`, so the time without a leader (when no
        keep-alive could arrive) is not held against any lease.
        """
        self._primary = True
        self._heap = []
        for lease in self._leases.values():
            self._set_expiry(lease, now + extend + lease.ttl)

    def demote(self) -> None:
        """Stop tracking expiry (a follower's lessor never expires leases)."""
        self._primary = False
        self._heap = []
        for lease in self._leases.values():
            lease.expiry = _FOREVER

    # ----------------------------------------------------------------- snapshot

    def dump(self) -> LessorState:
        leases = tuple((lease_id, self._leases[lease_id].ttl) for lease_id in self.ids())
        return LessorState(self._next_id, leases)

    def load(self, state: LessorState) -> None:
        """Replace every lease with `state`: no keys attached, demoted (expiry untracked)."""
        self._next_id = state.next_id
        self._leases = {lease_id: Lease(lease_id, ttl) for lease_id, ttl in state.leases}
        self._heap = []
        self._primary = False

    # ----------------------------------------------------------------- internals

    def _set_expiry(self, lease: Lease, expiry: float) -> None:
        if not self._primary:
            return  # a follower does not time leases: the leader's promote() will
        lease.expiry = expiry
        heapq.heappush(self._heap, (expiry, lease.id))
        if len(self._heap) > 2 * len(self._leases) + 64:
            # Renewals leave stale entries behind; rebuild before they dominate the heap.
            self._heap = [(x.expiry, x.id) for x in self._leases.values() if x.expiry < _FOREVER]
            heapq.heapify(self._heap)
