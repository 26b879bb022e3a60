"""The EndpointSlice writers' stale-cache tracker (``StaleSlices``)."""

from actors.controllers._slicetracker import SliceTracker


def sl(uid: str, rv: int, service: str = "web") -> dict:
    return {"metadata": {"uid": uid, "resourceVersion": str(rv), "namespace": "ns",
                         "labels": {"kubernetes.io/service-name": service}}}


def key_of(obj: dict) -> str | None:
    name = obj["metadata"]["labels"].get("kubernetes.io/service-name")
    return f"ns/{name}" if name else None


def test_a_cache_lagging_its_own_writes_is_stale_per_key() -> None:
    t = SliceTracker(key_of)
    assert not t.stale("ns/web", [])
    t.wrote(sl("a", 5))
    assert t.stale("ns/web", [])                 # created, not seen yet
    assert t.stale("ns/web", [sl("a", 4)])       # an older version
    assert not t.stale("ns/web", [sl("a", 5)])
    assert not t.stale("ns/web", [sl("a", 9)])   # someone wrote after us
    assert not t.stale("ns/other", [])           # other keys are not looked at
    t.deleted("ns/web", "a")
    assert t.stale("ns/web", [sl("a", 9)])       # deleted, still cached
    assert not t.stale("ns/web", [])
    t.forget("a")
    assert not t.stale("ns/web", [sl("a", 9)])


def test_a_slice_moving_to_another_key_is_tracked_there_only() -> None:
    t = SliceTracker(key_of)
    t.wrote(sl("a", 5))
    t.wrote(sl("a", 6, service="api"))
    assert not t.stale("ns/web", [])
    assert t.stale("ns/api", [sl("a", 5, service="api")])
    t.forget("a")
    assert not t.stale("ns/api", [])
