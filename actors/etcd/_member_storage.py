"""The etcd member's write-ahead log and snapshot on its durable store (the model of its disk).

Layout: ``raft/hs`` the hard state; ``raft/snap`` the latest snapshot; ``raft/e/<index>`` one
entry; ``raft/last`` the last persisted index. Values are msgpack bytes so the same layout
works on a real file (live mode).

Invariant: the persisted entries are contiguous from the snapshot's index + 1 to ``raft/last``;
entries handed in a Ready overwrite any persisted suffix from their first index on.
"""

from __future__ import annotations

import msgspec

from actors.etcd._raft import Entry, HardState, PersistentState, Ready, Snapshot
from runtime import DurableStore

__all__ = ["RaftDisk"]

_enc = msgspec.msgpack.Encoder()
_entry = msgspec.msgpack.Decoder(Entry)
_hs = msgspec.msgpack.Decoder(HardState)
_snap = msgspec.msgpack.Decoder(Snapshot)


def _ekey(index: int) -> str:
    return f"raft/e/{index:016d}"


class RaftDisk:
    def __init__(self, store: DurableStore) -> None:
        self.store = store
        self.last = int(store.get("raft/last", 0))
        snap = store.get("raft/snap")
        self.snapshot_index = _snap.decode(snap).index if snap is not None else 0

    def load(self) -> PersistentState | None:
        hs = self.store.get("raft/hs")
        if hs is None:
            return None
        snap_b = self.store.get("raft/snap")
        snap = _snap.decode(snap_b) if snap_b is not None else None
        first = (snap.index if snap is not None else 0) + 1
        entries = []
        for i in range(first, self.last + 1):
            raw = self.store.get(_ekey(i))
            if raw is None:
                break  # a torn tail: the rest was never durable
            entries.append(_entry.decode(raw))
        return PersistentState(hard_state=_hs.decode(hs), snapshot=snap, entries=tuple(entries))

    def save(self, rd: Ready) -> bool:
        """Persist what a Ready asks for; True when something was written (a sync is due)."""
        wrote = False
        store = self.store
        if rd.snapshot is not None:
            self.save_snapshot(rd.snapshot)
            wrote = True
        if rd.entries:
            for e in rd.entries:
                store.put(_ekey(e.index), _enc.encode(e))
            new_last = rd.entries[-1].index
            for i in range(new_last + 1, self.last + 1):
                store.delete(_ekey(i))  # a conflicting suffix, overwritten by the leader
            self.last = new_last
            store.put("raft/last", new_last)
            wrote = True
        if rd.hard_state is not None:
            store.put("raft/hs", _enc.encode(rd.hard_state))
            wrote = True
        return wrote

    def save_snapshot(self, snap: Snapshot) -> None:
        store = self.store
        store.put("raft/snap", _enc.encode(snap))
        for i in range(self.snapshot_index + 1, min(snap.index, self.last) + 1):
            store.delete(_ekey(i))
        self.snapshot_index = snap.index
        if self.last < snap.index:
            self.last = snap.index
            store.put("raft/last", snap.index)
