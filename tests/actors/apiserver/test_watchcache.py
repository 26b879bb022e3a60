"""The watch cache: list resourceVersion semantics, paging and continue tokens, watch from
a revision, 410 for a revision out of the window, selector transitions, bookmarks."""

from __future__ import annotations

import base64
import json

import pytest

from actors.api import ApiError
from actors.apiserver._watchcache import (
    Predicate,
    TooLargeResourceVersion,
    WatchCache,
    selectable_fields,
)


def pod(name, ns="default", labels=None, node="", phase="Pending"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase}}


def names(items):
    return [i["metadata"]["name"] for i in items]


def events(w):
    return [(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"].get(
        "resourceVersion")) for e in w.drain()]


@pytest.fixture
def cache():
    c = WatchCache("pods", capacity=4, kind="Pod")
    c.replace([pod("b"), pod("a"), pod("x", ns="kube-system")], 10)
    return c


def test_list_is_sorted_by_key_at_the_latest_revision(cache):
    cache.apply("ADDED", pod("c"), 11)
    items, rv, token = cache.list()
    assert names(items) == ["a", "b", "c", "x"] and rv == "11" and token == ""
    assert items[2]["metadata"]["resourceVersion"] == "11"
    assert names(cache.list(namespace="kube-system").items) == ["x"]
    assert cache.list(resource_version="0").resource_version == "11"
    assert cache.list(resource_version="10", resource_version_match="NotOlderThan"
                      ).resource_version == "11"


def test_a_future_revision_is_too_large(cache):
    with pytest.raises(TooLargeResourceVersion) as e:
        cache.list(resource_version="12")
    assert e.value.code == 504
    assert e.value.message == "Timeout: Too large resource version: 12, current: 10"
    assert e.value.details.causes[0].type == "ResourceVersionTooLarge"
    assert e.value.details.retry_after_seconds == 1


def test_exact_lists_rebuild_the_past_from_the_window(cache):
    cache.apply("ADDED", pod("c"), 11)
    cache.apply("MODIFIED", pod("a", labels={"v": "2"}), 12)
    cache.apply("DELETED", pod("b"), 13)
    past = cache.list(resource_version="11", resource_version_match="Exact")
    assert names(past.items) == ["a", "b", "c", "x"] and past.resource_version == "11"
    assert past.items[0]["metadata"]["labels"] == {}
    assert names(cache.list(resource_version="10", resource_version_match="Exact").items) == [
        "a", "b", "x"]
    cache.apply("ADDED", pod("d"), 14)
    cache.apply("ADDED", pod("e"), 15)  # the window (4 events) no longer holds revision 11
    with pytest.raises(ApiError) as e:
        cache.list(resource_version="10", resource_version_match="Exact")
    assert (e.value.code, e.value.reason, e.value.message) == (
        410, "Expired", "too old resource version: 10 (11)")


def test_paging_with_continue_tokens(cache):
    cache.apply("ADDED", pod("c"), 11)
    first = cache.list(limit=2)
    assert names(first.items) == ["a", "b"] and first.continue_token
    token = json.loads(base64.urlsafe_b64decode(first.continue_token + "=="))
    assert token == {"v": "meta.k8s.io/v1", "rv": 11, "start": "default/b\x00"}
    cache.apply("ADDED", pod("bb"), 12)  # created after the first page: not in this list
    second = cache.list(limit=2, continue_token=first.continue_token)
    assert names(second.items) == ["c", "x"] and second.resource_version == "11"
    assert second.continue_token == ""
    last = cache.list(limit=3)
    assert names(last.items) == ["a", "b", "bb"] and last.continue_token


def test_a_page_that_ends_the_namespace_has_no_token(cache):
    page = cache.list(namespace="default", limit=2)
    assert names(page.items) == ["a", "b"] and page.continue_token == ""


def test_an_expired_continue_token_is_410_with_a_fresh_token(cache):
    first = cache.list(limit=1)
    for i, n in enumerate("cdefg"):
        cache.apply("ADDED", pod(n), 11 + i)
    with pytest.raises(ApiError) as e:
        cache.list(continue_token=first.continue_token)
    assert e.value.code == 410 and e.value.reason == "Expired"
    assert e.value.message.startswith("The provided continue parameter is too old")
    assert e.value.status.metadata.continue_


def test_list_option_rules(cache):
    with pytest.raises(ApiError) as e:
        cache.list(resource_version_match="Exact")
    assert e.value.message == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                               'Forbidden: resourceVersionMatch is forbidden unless '
                               'resourceVersion is provided')
    with pytest.raises(ApiError) as e:
        cache.list(continue_token=cache.list(limit=1).continue_token, resource_version="10")
    assert e.value.message == "specifying resource version is not allowed when using continue"
    with pytest.raises(ApiError) as e:
        cache.list(continue_token="not-a-token")
    assert e.value.code == 400


def test_selectors_on_list(cache):
    cache.apply("ADDED", pod("web-1", labels={"app": "web"}, node="n1", phase="Running"), 11)
    assert names(cache.list(label_selector="app=web").items) == ["web-1"]
    assert names(cache.list(field_selector="spec.nodeName=n1").items) == ["web-1"]
    assert names(cache.list(field_selector="status.phase!=Running").items) == ["a", "b", "x"]
    assert names(cache.list(field_selector="metadata.namespace=kube-system").items) == ["x"]
    with pytest.raises(ApiError) as e:
        cache.list(field_selector="spec.image=x")
    assert (e.value.code, e.value.message) == (400, "field label not supported: spec.image")
    with pytest.raises(ApiError) as e:
        cache.list(label_selector="a in (")
    assert e.value.code == 400


def test_watch_from_a_revision_delivers_the_window_then_live_events(cache):
    cache.apply("ADDED", pod("c"), 11)
    cache.apply("MODIFIED", pod("c", node="n1"), 12)
    w = cache.watch(resource_version="11")
    assert events(w) == [("MODIFIED", "c", "12")]
    cache.apply("DELETED", pod("c"), 13)
    assert events(w) == [("DELETED", "c", "13")]
    assert cache.watchers == 1
    cache.stop(w)
    cache.apply("ADDED", pod("d"), 14)
    assert events(w) == [] and cache.watchers == 0


def test_watch_from_zero_starts_with_the_current_state(cache):
    w = cache.watch(resource_version="0", namespace="default")
    assert events(w) == [("ADDED", "a", None), ("ADDED", "b", None)]
    cache.apply("ADDED", pod("y", ns="kube-system"), 11)
    cache.apply("ADDED", pod("c"), 12)
    assert events(w) == [("ADDED", "c", "12")]


def test_watch_from_a_revision_older_than_the_window_is_gone(cache):
    for i, n in enumerate("cdefg"):
        cache.apply("ADDED", pod(n), 11 + i)
    assert cache.oldest_resource_version == 11
    with pytest.raises(ApiError) as e:
        cache.watch(resource_version="10")
    assert (e.value.code, e.value.reason, e.value.message) == (
        410, "Expired", "too old resource version: 10 (11)")
    w = cache.watch(resource_version="11")
    assert [n for _, n, _ in events(w)] == ["d", "e", "f", "g"]


def test_selector_transitions_become_added_and_deleted(cache):
    w = cache.watch(resource_version="10", label_selector="app=web")
    cache.apply("MODIFIED", pod("a", labels={"app": "web"}), 11)  # moves in
    cache.apply("MODIFIED", pod("a", labels={"app": "web", "v": "2"}), 12)
    cache.apply("MODIFIED", pod("a", labels={"app": "db"}), 13)  # moves out
    cache.apply("MODIFIED", pod("a", labels={"app": "db", "v": "3"}), 14)  # not ours
    got = w.drain()
    assert [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in got] == [
        ("ADDED", "11"), ("MODIFIED", "12"), ("DELETED", "13")]
    # the synthetic DELETED carries the last state the watcher could see, at the new revision
    assert got[2]["object"]["metadata"]["labels"] == {"app": "web", "v": "2"}


def test_field_selector_watch_follows_scheduling(cache):
    w = cache.watch(resource_version="10", field_selector="spec.nodeName=n1")
    cache.apply("MODIFIED", pod("a", node="n1"), 11)  # bound to n1
    cache.apply("MODIFIED", pod("a", node="n1", phase="Running"), 12)
    cache.apply("DELETED", pod("a", node="n1"), 13)
    assert events(w) == [("ADDED", "a", "11"), ("MODIFIED", "a", "12"), ("DELETED", "a", "13")]


def test_bookmarks_go_only_to_watchers_that_asked(cache):
    quiet = cache.watch(resource_version="10")
    w = cache.watch(resource_version="10", allow_bookmarks=True)
    cache.progress(15)
    cache.bookmark()
    assert w.drain() == [{"type": "BOOKMARK", "object": {
        "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "15"}}}]
    assert quiet.drain() == []
    future = cache.watch(resource_version="20", allow_bookmarks=True)
    cache.bookmark()
    assert future.drain() == []


def test_an_unresponsive_watcher_is_closed():
    c = WatchCache("pods", capacity=10, max_pending=2)
    c.replace([], 1)
    w = c.watch(resource_version="1")
    for i, n in enumerate("abc"):
        c.apply("ADDED", pod(n), 2 + i)
    assert w.closed and w.close_reason == "unresponsive" and c.watchers == 0
    assert [n for _, n, _ in events(w)] == ["a", "b"]


def test_a_relist_closes_every_watcher(cache):
    w = cache.watch(resource_version="10")
    cache.replace([pod("z")], 50)
    assert w.closed and w.close_reason == "relist"
    assert names(cache.list().items) == ["z"] and cache.resource_version == 50
    with pytest.raises(ValueError):
        cache.apply("ADDED", pod("q"), 50)  # revisions only grow


def test_selectable_fields_per_resource():
    f = selectable_fields("pods", {**pod("a", node="n1"), "status": {
        "phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}})
    assert f["status.podIP"] == "10.0.0.5" and f["spec.hostNetwork"] == "false"
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert selectable_fields("nodes", node) == {"metadata.name": "n1",
                                                "spec.unschedulable": "true"}
    ev = {"metadata": {"name": "e", "namespace": "d"}, "involvedObject": {"kind": "Pod",
          "name": "a"}, "reason": "Scheduled", "type": "Normal",
          "source": {"component": "default-scheduler"}}
    f = selectable_fields("events", ev)
    assert (f["involvedObject.kind"], f["source"], f["reason"]) == (
        "Pod", "default-scheduler", "Scheduled")
    assert selectable_fields("secrets", {"metadata": {"name": "s", "namespace": "d"},
                                         "type": "Opaque"})["type"] == "Opaque"
    assert selectable_fields("jobs", {"metadata": {}, "status": {"succeeded": 2}})[
        "status.successful"] == "2"
    assert Predicate("namespaces", field_selector="status.phase=Active").matches(
        {"metadata": {"name": "x"}, "status": {"phase": "Active"}})


def test_bookmarks_name_the_kind_from_the_registry():
    c = WatchCache("deployments")
    c.replace([], 7)
    w = c.watch(resource_version="7", allow_bookmarks=True)
    c.bookmark()
    assert w.drain() == [{"type": "BOOKMARK", "object": {
        "kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "7"}}}]
