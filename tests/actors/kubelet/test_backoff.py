"""The kubelet's back-off (client-go flowcontrol semantics) and Go's duration printing."""

import pytest

from actors.kubelet import Backoff, go_duration, human_duration


def test_doubles_from_ten_seconds_to_the_five_minute_cap():
    b = Backoff()
    seq = []
    t = 0.0
    for _ in range(8):
        seq.append(b.next("k", t, t))
        t += 1  # failures close together: never stale
    assert seq == [10, 20, 40, 80, 160, 300, 300, 300]


def test_window_since_the_event_time():
    b = Backoff()
    b.next("k", 100.0, 100.0)
    assert b.in_backoff_since("k", 100.0, 109.9)
    assert not b.in_backoff_since("k", 100.0, 110.0)
    assert not b.in_backoff_since("other", 100.0, 100.0)


def test_window_since_the_last_update():
    b = Backoff()
    b.next("img", 0.0, 5.0)  # stamped at `now`, not at the event
    assert b.in_backoff_since_update("img", 14.9)
    assert not b.in_backoff_since_update("img", 15.0)


def test_resets_after_ten_minutes_of_quiet():
    b = Backoff()
    for t in range(6):
        b.next("k", t, t)
    assert b.get("k") == 300
    last = b.last_update("k")
    assert b.next("k", last + 599, last + 599) == 300  # still within 2 x 300 s: capped
    last = b.last_update("k")
    assert b.next("k", last + 601, last + 601) == 10  # stable for over 10 minutes: fresh start
    assert not b.in_backoff_since("k", last - 700, last + 601)


def test_gc_and_reset():
    b = Backoff()
    b.next("a", 0, 0)
    b.next("b", 500, 500)
    b.gc(700)
    assert b.keys() == ("b",)
    b.reset("b")
    assert b.keys() == () and b.get("b") == 0


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        Backoff(0, 10)
    with pytest.raises(ValueError):
        Backoff(20, 10)


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.313, "313ms"), (0.29999999999, "300ms"), (1.2385, "1.238s"), (1.2, "1.2s"),
    (10, "10s"), (80, "1m20s"), (300, "5m0s"), (65.5, "1m5.5s"), (3600, "1h0m0s"),
    (3725.25, "1h2m5.25s"),
])
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (45, "45s"), (119, "119s"), (120, "2m"),
    (150, "2m30s"), (900, "15m"), (3 * 3600 + 20 * 60, "3h20m"), (10 * 3600, "10h"),
    (52 * 3600, "2d4h"), (30 * 86400, "30d"), (3 * 365 * 86400, "3y"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text
