"""The bus's network model, as data: per-link latency (fixed or a distribution), loss,
duplication, reordering, and partitions between groups of addresses.

Pure and synchronous: every draw takes the caller's seeded ``random.Random``; nothing here reads
a clock. The bus asks ``fate(src, dst)`` once per message and gets back the delivery delays
(empty: lost; two: duplicated).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Literal

import msgspec

__all__ = [
    "Exponential",
    "Fixed",
    "Latency",
    "LinkModel",
    "LogNormal",
    "NetworkModel",
    "Uniform",
]


class Fixed(msgspec.Struct, frozen=True, tag="lat.fixed"):
    seconds: float = 0.0

    def sample(self, rng: random.Random) -> float:
        return self.seconds


class Uniform(msgspec.Struct, frozen=True, tag="lat.uniform"):
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


class Exponential(msgspec.Struct, frozen=True, tag="lat.exp"):
    """A fixed floor plus an exponential tail with the given mean."""

    floor: float
    mean: float

    def sample(self, rng: random.Random) -> float:
        return self.floor + rng.expovariate(1.0 / self.mean) if self.mean > 0 else self.floor


class LogNormal(msgspec.Struct, frozen=True, tag="lat.lognormal"):
    median: float
    sigma: float

    def sample(self, rng: random.Random) -> float:
        import math

        return rng.lognormvariate(math.log(self.median), self.sigma)


Latency = Fixed | Uniform | Exponential | LogNormal


class LinkModel(msgspec.Struct, frozen=True, tag="link"):
    """How one directed link behaves. Rates are probabilities per message."""

    latency: Latency = Fixed(0.0)
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0

    @property
    def perfect(self) -> bool:
        return (
            isinstance(self.latency, Fixed)
            and self.latency.seconds == 0.0
            and self.loss == 0.0
            and self.duplicate == 0.0
            and self.reorder == 0.0
        )


Kind = Literal["deliver", "lost", "partitioned"]


class NetworkModel:
    """Links, partitions and faults. Addresses match exactly, or by group membership."""

    def __init__(self, default: LinkModel | None = None) -> None:
        self.default = default or LinkModel()
        self._links: dict[tuple[str, str], LinkModel] = {}
        self._node_links: dict[str, LinkModel] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._isolated: set[str] = set()
        self.version = 0  # bumped on every change
        self.listeners: list[Callable[[], None]] = []  # told of every change (the bus's fast path)

    def _changed(self) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()

    # ---- configuration -------------------------------------------------------------------
    def set_default(self, model: LinkModel) -> None:
        self.default = model
        self._changed()

    def set_link(self, src: str, dst: str, model: LinkModel, *, both: bool = True) -> None:
        self._links[(src, dst)] = model
        if both:
            self._links[(dst, src)] = model
        self._changed()

    def set_actor_links(self, address: str, model: LinkModel) -> None:
        """Every message to or from ``address`` follows ``model`` (unless a pair is set)."""
        self._node_links[address] = model
        self._changed()

    def clear_links(self) -> None:
        self._links.clear()
        self._node_links.clear()
        self._changed()

    def partition(self, *groups: Iterable[str]) -> None:
        """Block every pair of addresses that lie in different groups (both directions)."""
        sets = [sorted(set(g)) for g in groups]
        for i, a in enumerate(sets):
            for b in sets[i + 1 :]:
                for x in a:
                    for y in b:
                        if x != y:
                            self._blocked.add((x, y))
                            self._blocked.add((y, x))
        self._changed()

    def block(self, src: str, dst: str) -> None:
        """A one-way cut: ``src`` can no longer reach ``dst``."""
        self._blocked.add((src, dst))
        self._changed()

    def isolate(self, address: str) -> None:
        self._isolated.add(address)
        self._changed()

    def heal(self) -> None:
        self._blocked.clear()
        self._isolated.clear()
        self._changed()

    # ---- queries ---------------------------------------------------------------------------
    @property
    def perfect(self) -> bool:
        return (
            self.default.perfect
            and not self._links
            and not self._node_links
            and not self._blocked
            and not self._isolated
        )

    def connected(self, src: str, dst: str) -> bool:
        if src == dst:
            return True
        if src in self._isolated or dst in self._isolated:
            return False
        return (src, dst) not in self._blocked

    def link(self, src: str, dst: str) -> LinkModel:
        m = self._links.get((src, dst))
        if m is not None:
            return m
        m = self._node_links.get(src) or self._node_links.get(dst)
        return m if m is not None else self.default

    def fate(self, src: str, dst: str, rng: random.Random) -> tuple[Kind, list[float], bool]:
        """Delays for each copy of a message (``[]`` when it is lost) and whether it may
        overtake earlier messages on the link (reordering)."""
        if not self.connected(src, dst):
            return "partitioned", [], False
        m = self.link(src, dst)
        if m.loss and rng.random() < m.loss:
            return "lost", [], False
        delays = [m.latency.sample(rng)]
        if m.duplicate and rng.random() < m.duplicate:
            delays.append(m.latency.sample(rng))
        reorder = bool(m.reorder) and rng.random() < m.reorder
        return "deliver", delays, reorder
