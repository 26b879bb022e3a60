"""The durable store: the runtime's model of an actor's disk.

Each actor name owns one store; it outlives crashes and restarts of the actor (the in-memory
state of the actor does not). Writes land in a page cache first; ``sync`` makes them durable.
When the fault "lose unsynced writes" is on, a crash throws the page cache away, as a power
loss would. ``FileStore`` keeps the same contract on a real file (live mode): a journal of
msgpack records, appended and fsync'ed on ``sync``, compacted when it grows.

Values must be msgspec-encodable (bytes, ints, str, lists, dicts, Structs encoded by the caller).
Concurrency: touched only by its owner actor's handlers, on the loop thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec

__all__ = ["DurableStore", "FileStore", "StoreStats"]

_TOMBSTONE = object()


class StoreStats(msgspec.Struct):
    writes: int = 0
    syncs: int = 0
    lost_writes: int = 0
    keys: int = 0


class DurableStore:
    """A key-value disk with an explicit ``sync``. Keys are strings."""

    def __init__(self) -> None:
        self._synced: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        self.stats = StoreStats()
        self.sync_latency = 0.0  # seconds one fsync takes (the slow-disk fault raises it)

    # ---- reads see the page cache over the disk ---------------------------------------------
    def get(self, key: str, default: Any = None) -> Any:
        v = self._pending.get(key, _TOMBSTONE)
        if v is _TOMBSTONE:
            if key in self._pending:
                return default
            return self._synced.get(key, default)
        return v

    def __contains__(self, key: str) -> bool:
        return self.get(key, _TOMBSTONE) is not _TOMBSTONE

    def keys(self) -> Iterator[str]:
        seen = set()
        for k, v in self._pending.items():
            seen.add(k)
            if v is not _TOMBSTONE:
                yield k
        for k in self._synced:
            if k not in seen:
                yield k

    # ---- writes -------------------------------------------------------------------------
    def put(self, key: str, value: Any) -> None:
        self._pending[key] = value
        self.stats.writes += 1

    def delete(self, key: str) -> None:
        self._pending[key] = _TOMBSTONE
        self.stats.writes += 1

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def sync(self) -> None:
        """Make every write so far durable."""
        if self._pending:
            self._flush(self._pending)
            for k, v in self._pending.items():
                if v is _TOMBSTONE:
                    self._synced.pop(k, None)
                else:
                    self._synced[k] = v
            self._pending = {}
        self.stats.syncs += 1
        self.stats.keys = len(self._synced)

    def _flush(self, pending: dict[str, Any]) -> None:
        """Hook for a real disk."""

    def crash(self, *, lose_unsynced: bool) -> int:
        """Model the machine going down. Returns how many writes were lost."""
        lost = 0
        if lose_unsynced:
            lost = len(self._pending)
            self._pending = {}
            self.stats.lost_writes += lost
        else:
            # The OS survived the process crash: its page cache reaches the disk eventually.
            self.sync()
        return lost

    def wipe(self) -> None:
        """A replaced disk: everything is gone."""
        self._synced.clear()
        self._pending.clear()


class FileStore(DurableStore):
    """A ``DurableStore`` kept in a journal file: survives the process, for live mode."""

    _enc = msgspec.msgpack.Encoder()
    _dec = msgspec.msgpack.Decoder()

    def __init__(self, path: str, *, compact_every: int = 10_000) -> None:
        super().__init__()
        self.path = path
        self._compact_every = compact_every
        self._records = 0
        if os.path.exists(path):
            self._load()
        self._file = open(path, "ab")

    def _load(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + 4 <= len(data):
            n = int.from_bytes(data[pos : pos + 4], "big")
            if pos + 4 + n > len(data):
                break  # a torn last record: the write never completed
            op, key, value = self._dec.decode(data[pos + 4 : pos + 4 + n])
            if op == 0:
                self._synced[key] = value
            else:
                self._synced.pop(key, None)
            pos += 4 + n
            self._records += 1

    def _frame(self, key: str, value: Any) -> bytes:
        rec = self._enc.encode((1, key, None) if value is _TOMBSTONE else (0, key, value))
        return len(rec).to_bytes(4, "big") + rec

    def _flush(self, pending: dict[str, Any]) -> None:
        self._file.write(b"".join(self._frame(k, v) for k, v in pending.items()))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._records += len(pending)
        if self._records > self._compact_every and self._records > 2 * len(self._synced):
            self._compact(pending)

    def _compact(self, pending: dict[str, Any]) -> None:
        state = dict(self._synced)
        for k, v in pending.items():
            if v is _TOMBSTONE:
                state.pop(k, None)
            else:
                state[k] = v
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(self._frame(k, v) for k, v in state.items()))
            f.flush()
            os.fsync(f.fileno())
        self._file.close()
        os.replace(tmp, self.path)
        self._file = open(self.path, "ab")
        self._records = len(state)

    def close(self) -> None:
        self._file.close()
