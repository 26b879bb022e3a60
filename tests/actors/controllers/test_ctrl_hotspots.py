"""The hot spots the reconcile benchmark's profile (1,000 replicas, 100 nodes) pointed at, fixed
outside the controllers; each fix must not change what anyone observes:
- the watch cache's indexed triggers (pods watched with ``spec.nodeName=X``, every kubelet,
  are only visited by events of pods on X, before or after) give every watcher exactly the
  events a visit of all watchers gives, transitions included;
- an event's selectable fields are computed once, not once per watcher;
- pod validation's per-volume field names and the unknown-field walk, now cached per type,
  give the same answers."""

from __future__ import annotations

import random
from typing import Any

from actors.api import unknown_fields
from actors.apiserver import WatchCache
from actors.apiserver import _watchcache as wc


def _pod(name: str, node: str | None, rv_phase: str = "Pending") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node is not None:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": spec, "status": {"phase": rv_phase}}


def _run(trigger: bool, seed: int) -> list[list[dict[str, Any]]]:
    cache = WatchCache("pods")
    cache.replace([], 1)
    selectors = ["spec.nodeName=n0", "spec.nodeName=n1", "spec.nodeName=", "",
                 "status.phase!=Succeeded", "spec.nodeName=n2,status.phase=Running"]
    watchers = [cache.watch(field_selector=s) for s in selectors]
    if not trigger:  # the reference: every watcher visited by every event
        cache._triggered.clear()
    rng = random.Random(seed)
    state: dict[str, dict[str, Any]] = {}
    rv = 1
    for _ in range(300):
        rv += 1
        name = f"p{rng.randrange(8)}"
        if name in state and rng.random() < 0.2:
            cache.apply("DELETED", state.pop(name), rv)
            continue
        pod = _pod(name, rng.choice([None, "n0", "n1", "n2"]), rng.choice(["Pending", "Running", "Succeeded"]))
        cache.apply("MODIFIED" if name in state else "ADDED", pod, rv)
        state[name] = pod
    return [[(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
             for e in w.drain()] for w in watchers]  # type: ignore[misc]


def test_indexed_triggers_deliver_exactly_what_visiting_every_watcher_delivers() -> None:
    for seed in range(5):
        with_index, reference = _run(True, seed), _run(False, seed)
        assert with_index == reference
        assert all(with_index[:3])  # the pinned watchers did see events


def test_a_pinned_watcher_is_indexed_and_forgotten_when_stopped() -> None:
    cache = WatchCache("pods")
    cache.replace([], 1)
    w = cache.watch(field_selector="spec.nodeName=n0")
    assert set(cache._triggered) == {"n0"}
    cache.stop(w)
    assert not cache._triggered and cache.watchers == 0


def test_event_fields_are_computed_once_per_event(monkeypatch: Any) -> None:
    calls = []
    real = wc.selectable_fields

    def counting(resource: str, obj: Any) -> dict[str, str]:
        calls.append(obj["metadata"]["name"])
        return real(resource, obj)

    cache = WatchCache("pods")
    cache.replace([], 1)
    for _ in range(10):
        cache.watch(field_selector="status.phase!=Failed")
    monkeypatch.setattr(wc, "selectable_fields", counting)
    cache.apply("ADDED", _pod("a", "n0"), 2)
    assert calls == ["a"]  # one computation for ten watchers


def test_unknown_fields_walk_is_unchanged_by_its_type_cache() -> None:
    raw = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "bogus": 1},
           "spec": {"containers": [{"name": "c", "image": "i", "nope": True}],
                    "volumes": [{"name": "v", "emptyDir": {}, "what": 1}]}}
    assert unknown_fields(raw, "Pod") == ["metadata.bogus", "spec.containers[0].nope", "spec.volumes[0].what"]
    assert unknown_fields(raw, "Pod") == ["metadata.bogus", "spec.containers[0].nope", "spec.volumes[0].what"]
