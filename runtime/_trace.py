"""The trace: a typed record of every delivery and fault, exportable as JSON lines.

Records carry virtual time in integer nanoseconds so that the exported bytes are identical for
identical seeds on every machine (no float formatting differences)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import msgspec

__all__ = ["Trace", "TraceEvent"]


class TraceEvent(msgspec.Struct, frozen=True, array_like=False):
    t: int  # virtual nanoseconds
    kind: str  # send | deliver | drop | dead | timer | fault | crash | restart | start | stop
    src: str
    dst: str
    type: str = ""
    corr: int = 0
    note: str = ""


_encoder = msgspec.json.Encoder()


class Trace:
    """An append-only list of ``TraceEvent``; ``enabled`` False makes recording free."""

    def __init__(self, enabled: bool = False, limit: int | None = None) -> None:
        self._enabled = enabled
        self.limit = limit
        self.events: list[TraceEvent] = []
        self.listeners: list[Callable[[], None]] = []

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, on: bool) -> None:
        self._enabled = on
        for fn in self.listeners:
            fn()

    def record(self, event: TraceEvent) -> None:
        if self.limit is not None and len(self.events) >= self.limit:
            del self.events[: len(self.events) // 2]
        self.events.append(event)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def to_jsonl(self) -> bytes:
        return b"".join(_encoder.encode(e) + b"\n" for e in self.events)

    def write_jsonl(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.to_jsonl())

    def filter(self, *kinds: str) -> list[TraceEvent]:
        return [e for e in self.events if e.kind in kinds]

    def sequence_diagram(self, events: Iterable[TraceEvent] | None = None) -> str:
        """A Mermaid sequence diagram of deliveries (a view; the JSON lines are the data)."""
        lines = ["sequenceDiagram"]
        for e in events if events is not None else self.events:
            if e.kind == "deliver":
                lines.append(f"    {_q(e.src)}->>{_q(e.dst)}: {e.type} @{e.t / 1e9:.3f}s")
            elif e.kind in ("crash", "restart", "fault"):
                lines.append(f"    Note over {_q(e.dst or e.src)}: {e.kind} {e.note}")
        return "\n".join(lines) + "\n"


def _q(name: str) -> str:
    return name.replace("/", "_").replace("-", "_") or "runtime"
