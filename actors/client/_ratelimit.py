"""Rate limiters: client-go's flowcontrol token bucket and the work queue's rate limiters.

What it is:
- ``TokenBucket(qps, burst, now)``: ``golang.org/x/time/rate`` as client-go's
  ``flowcontrol.NewTokenBucketRateLimiter`` uses it. The bucket starts full (``burst``
  tokens) and refills at ``qps`` tokens a second up to ``burst``. ``reserve()`` takes a token
  now and says how long the caller must wait before using it (the bucket may go negative:
  later callers queue behind earlier ones, as ``rate.Limiter.Reserve`` does);
  ``try_accept()`` takes a token only if one is available now.
- The work queue's limiters (``k8s.io/client-go/util/workqueue/default_rate_limiters.go``),
  each answering ``when(item) -> seconds``, ``forget(item)`` and ``num_requeues(item)``:
  ``ItemExponentialFailureRateLimiter`` (base * 2**failures, capped), ``ItemFastSlowRateLimiter``
  (fast delay for the first attempts, then slow), ``BucketRateLimiter`` (one token bucket for all
  items), ``MaxOfRateLimiter`` (the longest of several) and ``default_controller_rate_limiter``
  (max of per-item exponential 5 ms..1000 s and an overall bucket of 10 qps, burst 100).
- ``Backoff``: ``wait.NewExponentialBackoffManager`` as the reflector uses it (0.8 s doubling
  to 30 s, jittered ×[1, 2), reset after 2 calm minutes); its jitter comes from a passed-in
  seeded generator.

Concurrency model: none. Pure, synchronous arithmetic; time comes from the ``now`` callable the
caller passes in (the actor's clock, the loop's virtual time, or a test's fake clock).

Invariants: a bucket never holds more than ``burst`` tokens; ``reserve`` never returns a
negative delay; per-item limiters count failures per item until ``forget``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import random

__all__ = [
    "Backoff",
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "TokenBucket",
    "default_controller_rate_limiter",
]


class TokenBucket:
    """A token bucket of ``burst`` tokens refilled at ``qps`` a second, read on ``now()``."""

    __slots__ = ("qps", "burst", "_now", "_tokens", "_last")

    def __init__(self, qps: float, burst: int, now: Callable[[], float]) -> None:
        if not qps > 0:
            raise ValueError(f"qps must be positive, got {qps!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.qps = float(qps)
        self.burst = int(burst)
        self._now = now
        self._tokens = float(burst)  # x/time/rate starts a new limiter full
        self._last = now()

    def _advance(self) -> float:
        now = self._now()
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
        return now

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while reservations are queued)."""
        self._advance()
        return self._tokens

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before it may be used (0 if at once)."""
        self._advance()
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def try_accept(self) -> bool:
        """Take one token if one is available now (``flowcontrol.RateLimiter.TryAccept``)."""
        self._advance()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RateLimiter(Protocol):
    """What a rate-limiting work queue asks of its limiter (client-go's ``RateLimiter``)."""

    def when(self, item: Hashable) -> float: ...

    def forget(self, item: Hashable) -> None: ...

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` seconds for an item, capped at ``max_delay``."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base = base
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        # client-go computes in float and caps before converting, so huge exponents are safe.
        try:
            backoff = self.base * math.pow(2.0, exp)
        except OverflowError:
            return self.max_delay
        return min(backoff, self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter:
    """``fast_delay`` for an item's first ``max_fast_attempts`` failures, then ``slow_delay``."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        self.fast_delay = fast_delay
        self.slow_delay = slow_delay
        self.max_fast_attempts = max_fast_attempts
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        n = self._failures.get(item, 0) + 1
        self._failures[item] = n
        return self.fast_delay if n <= self.max_fast_attempts else self.slow_delay

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """One token bucket shared by all items: an overall retry rate, not per item."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, now: Callable[[], float]) -> None:
        self.bucket = TokenBucket(qps, burst, now)

    def when(self, item: Hashable) -> float:
        return self.bucket.reserve()

    def forget(self, item: Hashable) -> None:
        return None

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for; each limiter sees every call."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        # Every limiter must observe the failure (and the bucket must spend its token), so
        # evaluate them all before taking the max, as client-go does.
        return max([lim.when(item) for lim in self.limiters])

    def forget(self, item: Hashable) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)


def default_controller_rate_limiter(now: Callable[[], float]) -> MaxOfRateLimiter:
    """client-go's ``DefaultControllerRateLimiter``: per-item exponential 5 ms..1000 s, and an
    overall bucket of 10 qps with a burst of 100 (only for retry speed)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(10.0, 100, now=now),
    )


class Backoff:
    """``wait.NewExponentialBackoffManager``: ``initial`` doubling to ``cap``, each step
    jittered to [d, d*(1+jitter)), reset to ``initial`` after ``reset_after`` calm seconds."""

    def __init__(self, rng: random.Random, initial: float = 0.8, cap: float = 30.0,
                 reset_after: float = 120.0, factor: float = 2.0, jitter: float = 1.0) -> None:
        self._rng = rng
        self.initial, self.cap, self.reset_after = initial, cap, reset_after
        self.factor, self.jitter = factor, jitter
        self._next = initial
        self._last = float("-inf")

    def next(self, now: float) -> float:
        if now - self._last > self.reset_after:
            self._next = self.initial
        self._last = now
        d = min(self._next, self.cap)
        self._next = min(self._next * self.factor, self.cap)
        return d + self._rng.random() * self.jitter * d
