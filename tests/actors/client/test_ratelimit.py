"""Token bucket and work-queue rate limiter arithmetic (client-go's numbers)."""

import pytest

from actors.client import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_starts_full_then_queues_reservations_at_one_over_qps():
    clock = Clock()
    tb = TokenBucket(5.0, 10, clock)
    assert [tb.reserve() for _ in range(10)] == [0.0] * 10
    # The bucket goes negative: each further reservation waits 0.2 s more than the last.
    assert [tb.reserve() for _ in range(3)] == pytest.approx([0.2, 0.4, 0.6])
    clock.t += 0.6  # three tokens refilled: exactly repays the debt
    assert tb.tokens == pytest.approx(0.0)
    assert tb.reserve() == pytest.approx(0.2)


def test_token_bucket_refills_up_to_burst_only():
    clock = Clock()
    tb = TokenBucket(2.0, 3, clock)
    for _ in range(3):
        assert tb.try_accept()
    assert not tb.try_accept()
    clock.t += 0.5
    assert tb.try_accept()  # one token after 0.5 s at 2 qps
    assert not tb.try_accept()
    clock.t += 1000
    assert tb.tokens == 3.0
    assert [tb.try_accept() for _ in range(4)] == [True, True, True, False]


def test_token_bucket_rejects_nonsense():
    with pytest.raises(ValueError):
        TokenBucket(0, 1, Clock())
    with pytest.raises(ValueError):
        TokenBucket(1, 0, Clock())


def test_item_exponential_doubles_per_item_caps_and_forgets():
    rl = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    assert [rl.when("a") for _ in range(5)] == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.08])
    assert rl.when("b") == pytest.approx(0.005)  # per item
    assert rl.num_requeues("a") == 5
    for _ in range(30):
        last = rl.when("a")
    assert last == 1000.0  # 0.005 * 2**34 > 1000: capped
    rl.forget("a")
    assert rl.num_requeues("a") == 0
    assert rl.when("a") == pytest.approx(0.005)


def test_item_exponential_huge_exponent_does_not_overflow():
    rl = ItemExponentialFailureRateLimiter(1.0, 60.0)
    rl._failures["x"] = 5000
    assert rl.when("x") == 60.0


def test_fast_slow_switches_after_max_fast_attempts():
    rl = ItemFastSlowRateLimiter(0.1, 10.0, 3)
    assert [rl.when("k") for _ in range(5)] == [0.1, 0.1, 0.1, 10.0, 10.0]
    assert rl.num_requeues("k") == 5
    rl.forget("k")
    assert rl.when("k") == 0.1


def test_bucket_limiter_is_overall_not_per_item():
    clock = Clock()
    rl = BucketRateLimiter(10.0, 100, now=clock)
    delays = [rl.when(f"item-{i}") for i in range(102)]
    assert delays[:100] == [0.0] * 100
    assert delays[100:] == pytest.approx([0.1, 0.2])
    assert rl.num_requeues("item-0") == 0


def test_default_controller_rate_limiter_is_max_of_exponential_and_bucket():
    clock = Clock()
    rl = default_controller_rate_limiter(clock)
    assert isinstance(rl, MaxOfRateLimiter)
    # While the bucket has tokens, the per-item exponential decides.
    assert [rl.when("k") for _ in range(3)] == pytest.approx([0.005, 0.01, 0.02])
    assert rl.num_requeues("k") == 3
    # Drain the overall bucket (97 tokens left): the 10 qps bucket now dominates a fresh item.
    for i in range(97):
        rl.when(f"other-{i}")
    assert rl.when("fresh") == pytest.approx(0.1)
    assert rl.when("fresh2") == pytest.approx(0.2)
    rl.forget("k")
    assert rl.num_requeues("k") == 0


def test_max_of_needs_a_limiter():
    with pytest.raises(ValueError):
        MaxOfRateLimiter()


def test_reflector_backoff_doubles_to_30s_jitters_and_resets_after_calm():
    import random

    from actors.client import Backoff

    b = Backoff(random.Random(1), jitter=0.0)
    assert [b.next(t) for t in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    assert b.next(8 + 121) == 0.8  # two calm minutes: back to the start
    jittered = Backoff(random.Random(1))
    for t in range(50):
        d = jittered.next(float(t))
        assert 0.8 <= d < 60.0
    assert 30.0 <= jittered.next(51.0) < 60.0  # "[30, 60) sec interval" at the cap
