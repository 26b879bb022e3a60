"""JSON merge patch against RFC 7386 Appendix A, JSON patch against RFC 6902 Appendix A,
and the places where Kubernetes (evanphx/json-patch v4) differs from the RFC."""

from __future__ import annotations

import copy

import pytest

from actors.apiserver._patch import PatchError, json_equal, json_merge_patch, json_patch

# RFC 7386 Appendix A, every row.
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "want"), RFC7386)
def test_rfc7386_appendix_a(target, patch, want):
    before = copy.deepcopy(target)
    assert json_merge_patch(target, patch) == want
    assert target == before


def test_merge_patch_result_shares_nothing_with_inputs():
    patch = {"a": {"b": [1]}}
    out = json_merge_patch({}, patch)
    out["a"]["b"].append(2)
    assert patch == {"a": {"b": [1]}}


# RFC 6902 Appendix A.
RFC6902_OK = [
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
     {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
     {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]},
     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
     {"foo": "bar", "baz": "qux"}),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
     {"/": 9, "~1": 10}),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
    ("copy", {"a": {"b": [1]}}, [{"op": "copy", "from": "/a", "path": "/c"}],
     {"a": {"b": [1]}, "c": {"b": [1]}}),
    ("escape /", {"a/b": 1}, [{"op": "replace", "path": "/a~1b", "value": 2}], {"a/b": 2}),
]


@pytest.mark.parametrize(("name", "doc", "ops", "want"), RFC6902_OK, ids=[c[0] for c in RFC6902_OK])
def test_rfc6902_appendix_a(name, doc, ops, want):
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == want
    assert doc == before


RFC6902_ERRORS = [
    ("A.9 test failure", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
     "testing value /baz failed: test failed"),
    ("A.12 add to nonexistent target", {"foo": "bar"},
     [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     'add operation does not apply: doc is missing path: "/baz/bat": missing value'),
    ("A.15 strings are not numbers", {"/": 9, "~1": 10},
     [{"op": "test", "path": "/~01", "value": "10"}], "testing value /~01 failed: test failed"),
    ("remove a missing member", {"a": 1}, [{"op": "remove", "path": "/b"}],
     "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value"),
    ("replace past the end", {"a": [1]}, [{"op": "replace", "path": "/a/3", "value": 0}],
     "replace operation does not apply: doc is missing key: /a/3: missing value"),
    ("add past the end", {"a": [1]}, [{"op": "add", "path": "/a/5", "value": 0}],
     "error in add for path: '/a/5': Unable to access invalid index: 5: invalid index referenced"),
    ("bad index", {"a": [1]}, [{"op": "add", "path": "/a/x", "value": 0}],
     "error in add for path: '/a/x': value was not a proper array index: 'x': "
     'strconv.Atoi: parsing "x": invalid syntax'),
    ("unknown op", {}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ("no op", {}, [{"path": "/a"}], "Unexpected kind: unknown"),
    ("no path", {}, [{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
    ("bool is not 1", {"a": True}, [{"op": "test", "path": "/a", "value": 1}],
     "testing value /a failed: test failed"),
]


@pytest.mark.parametrize(("name", "doc", "ops", "message"), RFC6902_ERRORS,
                         ids=[c[0] for c in RFC6902_ERRORS])
def test_rfc6902_errors_carry_the_library_text(name, doc, ops, message):
    with pytest.raises(PatchError) as e:
        json_patch(doc, ops)
    assert e.value.message == message


def test_a_failed_patch_leaves_the_target_untouched():
    doc = {"a": [1, 2]}
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a/0", "value": 9}])
    assert doc == {"a": [1, 2]}


def test_kubernetes_replace_of_a_missing_member_adds_it():
    # evanphx/json-patch v4, which the apiserver uses, does not check the member exists.
    assert json_patch({"metadata": {}}, [
        {"op": "replace", "path": "/metadata/labels", "value": {"a": "b"}}]) == {
        "metadata": {"labels": {"a": "b"}}}


def test_negative_indices_count_from_the_end():
    assert json_patch({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}]) == {"a": [1, 2]}
    assert json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-1", "value": 9}]) == {"a": [1, 2, 9]}


def test_test_of_a_missing_member_against_null_passes():
    assert json_patch({}, [{"op": "test", "path": "/x", "value": None}]) == {}


def test_status_is_the_generic_422_the_apiserver_sends():
    with pytest.raises(PatchError) as e:
        json_patch({"spec": {"replicas": 1}}, [{"op": "test", "path": "/spec/replicas", "value": 2}])
    status = e.value.status()
    assert status.code == 422 and status.reason == "Invalid"
    assert status.message == "the server rejected our request due to an error in our request"


def test_a_patch_that_is_not_a_list_is_a_bad_request():
    with pytest.raises(PatchError) as e:
        json_patch({}, {"op": "add"})  # type: ignore[arg-type]
    assert e.value.status().code == 400


def test_json_equal_is_type_strict_for_bools_but_not_numbers():
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
