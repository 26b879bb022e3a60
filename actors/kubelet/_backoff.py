"""The kubelet's back-off: client-go's ``flowcontrol.Backoff`` as the kubelet uses it.

What it is: a per-key exponential back-off. The kubelet keeps two: one for container restarts
(key: pod name, namespace, uid and container name — ``getStableKey``), one for image pulls
(key: ``<pod uid>_<image>``). Both start at 10 s, double on every failure and stop at 300 s
(``MaxContainerBackOff``, ``MaxImageBackOff``). An entry that was last updated more than twice
the maximum ago (10 minutes) is stale: the next failure starts again at 10 s. That is how a
container that ran for ten minutes before crashing gets a fresh, short back-off.

Two questions are asked of it, mirroring client-go exactly:
- ``in_backoff_since(key, event_time, now)``: is ``now`` still inside the window that began at
  ``event_time`` (the crash's finishedAt)? The container back-off asks this.
- ``in_backoff_since_update(key, now)``: is ``now`` inside the window that began at the last
  ``next()``? The image back-off asks this.
``next(key, event_time, now)`` records a failure: the entry doubles (or restarts at the initial
value when it is missing or stale relative to ``event_time``) and is stamped ``now``.

Concurrency model: none; plain state, times passed in (seconds since the epoch, virtual).

Invariants: every entry's back-off is within [initial, maximum]; no jitter (client-go's
kubelet back-offs are built without it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "IMAGE_BACKOFF_INITIAL",
    "IMAGE_BACKOFF_MAX",
    "RESTART_BACKOFF_INITIAL",
    "RESTART_BACKOFF_MAX",
    "Backoff",
    "go_duration",
    "human_duration",
]

# pkg/kubelet: backOffPeriod = 10s, MaxContainerBackOff = 300s; images use the same pair.
RESTART_BACKOFF_INITIAL = 10.0
RESTART_BACKOFF_MAX = 300.0
IMAGE_BACKOFF_INITIAL = 10.0
IMAGE_BACKOFF_MAX = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """Per-key exponential back-off with client-go's semantics (see the module docstring)."""

    def __init__(self, initial: float = RESTART_BACKOFF_INITIAL,
                 maximum: float = RESTART_BACKOFF_MAX) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {initial}, {maximum}")
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, last_update: float) -> bool:
        # "consider stable if it's ok for twice the maxDuration"
        return event_time - last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current back-off of `key` in seconds (0 when there is none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def last_update(self, key: str) -> float | None:
        entry = self._entries.get(key)
        return entry.last_update if entry else None

    def next(self, key: str, event_time: float, now: float) -> float:
        """Record a failure at `event_time`, observed at `now`; returns the new back-off."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry.last_update):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = now
        return entry.backoff

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """client-go ``IsInBackOffSince``: less than the back-off has passed since
        `event_time`."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry.last_update):
            return False
        return now - event_time < entry.backoff

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        """client-go ``IsInBackOffSinceUpdate``: less than the back-off has passed since the
        last ``next``."""
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry.last_update):
            return False
        return now - entry.last_update < entry.backoff

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self, now: float) -> None:
        """Forget entries not updated for twice the maximum (client-go ``GC``)."""
        for key in [k for k, e in self._entries.items() if now - e.last_update > 2 * self.maximum]:
            del self._entries[key]

    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(self._entries))


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for a duration truncated to milliseconds, as the kubelet
    prints them: ``0s``, ``313ms``, ``1.238s``, ``1m20s``, ``5m0s``, ``1h0m0s``."""
    ms = int(round(seconds * 1000, 3))  # truncate to ms, but not float noise (0.2999…)
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    text = f"{secs}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``: what kubectl prints for ages (``45s``,
    ``2m30s``, ``15m``, ``3h20m``, ``2d4h``)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"
