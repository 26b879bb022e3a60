"""Order-preserving merges, checked against the behaviour apimachinery's own strategicpatch
test table pins (two-way patch, three-way patch, result), on a test type shaped like its
``mergeItem``: ``mergingList`` (merge by name), ``mergingIntList`` (merge),
``retainKeysMap`` (retainKeys). The cases are restated here, not copied."""

from __future__ import annotations

import pytest

from actors.apiserver import _strategic
from actors.apiserver._strategic import (
    Field,
    strategic_merge_patch,
    three_way_merge,
    two_way_merge,
)

SEO, DEL = "$setElementOrder/", "$deleteFromPrimitiveList/"


@pytest.fixture(autouse=True)
def merge_item_kind(monkeypatch):
    fields = {"mergingList": Field("MergeItem", ("merge",), "name"),
              "mergingIntList": Field(None, ("merge",)),
              "retainKeysMap": Field(None, ("retainKeys",))}
    monkeypatch.setitem(_strategic._TYPES, "MergeItem", fields)
    monkeypatch.setitem(_strategic._KINDS, "MergeItem", fields)


def item(name, value=None, other=None):
    out = {"name": name}
    if value is not None:
        out["value"] = value
    if other is not None:
        out["other"] = other
    return out


def keys(*names):
    return [{"name": n} for n in names]


ORIGINAL = [item(1), item(3, 3), item(2, 2)]
LIVE = [item(1, other="a"), item(2, 2, other="b"), item(3, 3)]

# (description, original, modified, current, expected patch (2-way == 3-way), result)
LIST_CASES = [
    ("delete an item, keep order", ORIGINAL, [item(2, 2), item(1)], LIVE,
     {SEO + "mergingList": keys(2, 1), "mergingList": [{"name": 3, "$patch": "delete"}]},
     [item(2, 2, other="b"), item(1, other="a")]),
    ("change an item, keep order", ORIGINAL, [item(2, 2), item(3, "x"), item(1)], LIVE,
     {SEO + "mergingList": keys(2, 3, 1), "mergingList": [item(3, "x")]},
     [item(2, 2, other="b"), item(3, "x"), item(1, other="a")]),
    ("add and delete, keep order", ORIGINAL, [item(4, 4), item(2, 2), item(1)], LIVE,
     {SEO + "mergingList": keys(4, 2, 1),
      "mergingList": [item(4, 4), {"name": 3, "$patch": "delete"}]},
     [item(4, 4), item(2, 2, other="b"), item(1, other="a")]),
    ("reorder with a server-only item",
     [item(1), item(3, 3), item(4, 4), item(2, 2)],
     [item(4, 4), item(2, 2), item(3, 3), item(1)],
     [item(1, other="a"), item(3, 3), item(4, 4), item(2, 2), item(9)],
     {SEO + "mergingList": keys(4, 2, 3, 1)},
     [item(4, 4), item(2, 2), item(3, 3), item(1, other="a"), item(9)]),
    ("reorder with server-only items in the middle",
     [item(1), item(2, 2), item(3, 3), item(4, 4)],
     [item(2, 2), item(1), item(4, 4), item(3, 3)],
     [item(1, other="a"), item(2, 2), item(7), item(9), item(8), item(3, 3), item(4, 4)],
     {SEO + "mergingList": keys(2, 1, 4, 3)},
     [item(2, 2), item(1, other="a"), item(7), item(9), item(8), item(4, 4), item(3, 3)]),
]

INT_CASES = [
    ("add an int, keep order", [1, 2], [3, 1, 2], [1, 2],
     {SEO + "mergingIntList": [3, 1, 2], "mergingIntList": [3]}, [3, 1, 2]),
    ("add several ints", [1, 2], [1, 4, 2, 3], [1, 2],
     {SEO + "mergingIntList": [1, 4, 2, 3], "mergingIntList": [4, 3]}, [1, 4, 2, 3]),
    ("delete an int", [1, 3, 2], [2, 1], [1, 2, 3],
     {SEO + "mergingIntList": [2, 1], DEL + "mergingIntList": [3]}, [2, 1]),
    ("add and delete ints", [1, 3, 2], [4, 2, 1], [1, 2, 3],
     {SEO + "mergingIntList": [4, 2, 1], "mergingIntList": [4], DEL + "mergingIntList": [3]},
     [4, 2, 1]),
    ("reorder ints around a server-only one", [1, 2, 3, 4], [2, 1, 4, 3], [1, 2, 9, 3, 4],
     {SEO + "mergingIntList": [2, 1, 4, 3]}, [2, 1, 9, 4, 3]),
]


@pytest.mark.parametrize(("desc", "original", "modified", "current", "patch", "result"),
                         LIST_CASES, ids=[c[0] for c in LIST_CASES])
def test_merging_list_cases(desc, original, modified, current, patch, result):
    o, m, c = ({"mergingList": x} for x in (original, modified, current))
    assert two_way_merge(o, m, "MergeItem") == patch
    assert three_way_merge(o, m, c, "MergeItem") == patch
    assert strategic_merge_patch(c, patch, "MergeItem") == {"mergingList": result}
    assert strategic_merge_patch(o, patch, "MergeItem") == m


@pytest.mark.parametrize(("desc", "original", "modified", "current", "patch", "result"),
                         INT_CASES, ids=[c[0] for c in INT_CASES])
def test_merging_int_list_cases(desc, original, modified, current, patch, result):
    o, m, c = ({"mergingIntList": x} for x in (original, modified, current))
    assert two_way_merge(o, m, "MergeItem") == patch
    assert three_way_merge(o, m, c, "MergeItem") == patch
    assert strategic_merge_patch(c, patch, "MergeItem") == {"mergingIntList": result}


def test_set_element_order_with_duplicate_keys():
    dup = [item(1), item(2, "dup1"), item(3), item(2, "dup2"), item(4)]
    modified = [item(2, "dup1"), item(1), item(4), item(3), item(2, "dup2")]
    patch = two_way_merge({"mergingList": dup}, {"mergingList": modified}, "MergeItem")
    assert patch == {SEO + "mergingList": keys(2, 1, 4, 3, 2)}
    assert strategic_merge_patch({"mergingList": dup}, patch, "MergeItem") == {"mergingList": [
        item(2, "dup1"), item(2, "dup2"), item(1), item(4), item(3)]}


RETAIN_CASES = [
    ("clears a defaulted field", {}, {"other": "bar"}, {"value": "foo"},
     {"other": "bar"}, {"$retainKeys": ["other"], "other": "bar"}, {"other": "bar"}),
    ("adds a field", {"name": "foo"}, {"name": "foo", "value": "bar"}, {"name": "foo"},
     {"$retainKeys": ["name", "value"], "value": "bar"},
     {"$retainKeys": ["name", "value"], "value": "bar"}, {"name": "foo", "value": "bar"}),
    ("adds a field and clears another", {"name": "foo"}, {"name": "foo", "value": "bar"},
     {"name": "foo", "other": "a"}, {"$retainKeys": ["name", "value"], "value": "bar"},
     {"$retainKeys": ["name", "value"], "value": "bar"}, {"name": "foo", "value": "bar"}),
    ("deletes a field", {"name": "foo", "value": "bar"}, {"name": "foo"},
     {"name": "foo", "value": "bar"}, {"$retainKeys": ["name"], "value": None},
     {"$retainKeys": ["name"], "value": None}, {"name": "foo"}),
]


@pytest.mark.parametrize(("desc", "original", "modified", "current", "two", "three", "result"),
                         RETAIN_CASES, ids=[c[0] for c in RETAIN_CASES])
def test_retain_keys_cases(desc, original, modified, current, two, three, result):
    def wrap(x):
        return {"retainKeysMap": x} if x else {}

    assert two_way_merge(wrap(original), wrap(modified), "MergeItem") == wrap(two)
    patch = three_way_merge(wrap(original), wrap(modified), wrap(current), "MergeItem")
    assert patch == wrap(three)
    assert strategic_merge_patch(wrap(current), patch, "MergeItem") == wrap(result)
