"""Field selectors against Kubernetes' own cases (apimachinery pkg/fields/selector_test.go),
plus Hypothesis round trips of escaping and parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.api._fields import (
    FieldRequirement,
    FieldSelector,
    FieldSelectorError,
    _split_term,
    _split_terms,
    check_supported,
    escape_value,
    everything_fields,
    field_selector_from_set,
    parse_field_selector,
    unescape_value,
)
from actors.api._labels import Operator

EQ, NE = Operator.EQUALS, Operator.NOT_EQUALS


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("a", ["a"]), ("a=avalue", ["a=avalue"]), ("a=avalue,b=bvalue", ["a=avalue", "b=bvalue"]),
        ("a=avalue,b==bvalue,c!=cvalue", ["a=avalue", "b==bvalue", "c!=cvalue"]),
        ("", []), ("a=a,", ["a=a", ""]), (",a=a", ["", "a=a"]),
        (r"k=\,,k2=v2", [r"k=\,", "k2=v2"]), (r"k=\\,k2=v2", [r"k=\\", "k2=v2"]),
        (r"k=\\\,,k2=v2", [r"k=\\\,", "k2=v2"]), (r"k=\a\b\\", [r"k=\a\b\\"]), ("k=\\", ["k=\\"]),
        ("함=수,목=록", ["함=수", "목=록"]),
    ],
)  # fmt: skip
def test_split_terms(text: str, terms: list[str]) -> None:
    assert _split_terms(text) == terms


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("a=value", ("a", EQ, "value")), ("b==value", ("b", EQ, "value")),
        ("c!=value", ("c", NE, "value")), ("", None), ("a", None),
        (r"k=\,", ("k", EQ, r"\,")), (r"k=\=", ("k", EQ, r"\=")),
        ("k=\\\\\\a\\b\\=\\,\\", ("k", EQ, "\\\\\\a\\b\\=\\,\\")), ("함=수", ("함", EQ, "수")),
    ],
)  # fmt: skip
def test_split_term(term: str, expected: tuple[str, Operator, str] | None) -> None:
    assert _split_term(term) == expected


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("", ""),
        ("a", "a"),
        ("=", r"\="),
        (",", r"\,"),
        ("\\", "\\\\"),
        (r"\=\,\\", r"\\\=\\\,\\\\"),
    ],
)
def test_escape_value(raw: str, escaped: str) -> None:
    assert escape_value(raw) == escaped
    assert unescape_value(escaped) == raw


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\\", "invalid field selector: invalid escape sequence: \\"),
        ("\\\\\\", "invalid field selector: invalid escape sequence: \\"),
        ("\\a", "invalid field selector: invalid escape sequence: \\a"),
        ("a=b", "invalid field selector: unescaped character in value: 61"),
    ],
)
def test_unescape_errors(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as info:
        unescape_value(text)
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"])
def test_good_strings_restring(text: str) -> None:
    assert str(parse_field_selector(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
        ("x==a==b", "invalid field selector: unescaped character in value: 61"),
        ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
        ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
        ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),
        ("x", "invalid selector: 'x'; can't understand 'x'"),
        (r"x=\q", "invalid field selector: invalid escape sequence: \\q"),
    ],
)
def test_bad_strings(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


def test_deterministic_parse_and_normalisation() -> None:
    assert str(parse_field_selector("x=a,a=x")) == str(parse_field_selector("a=x,x=a")) == "a=x,x=a"
    assert str(parse_field_selector("a==b")) == "a=b"
    assert parse_field_selector("=").empty  # dropped, as Transform drops it
    assert str(parse_field_selector("a=b,=,")) == "a=b"
    assert str(parse_field_selector("=x")) == "=x"  # an empty field alone is kept


@pytest.mark.parametrize(
    ("text", "fields", "match"),
    [
        ("", {"x": "y"}, True), ("x=y", {"x": "y"}, True), ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True), ("notin=in", {"notin": "in"}, True),
        ("x=y", {"x": "z"}, False), ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x=", {}, True), ("x!=", {}, False), ("x!=a", {}, True),
    ],
)  # fmt: skip
def test_matches(text: str, fields: dict[str, str], match: bool) -> None:
    assert parse_field_selector(text).matches(fields) is match


def test_matches_escaped_values() -> None:
    fields = {"foo": "bar", "baz": "blah", "complex": "=value\\,\\"}
    for text in [
        "foo=bar",
        "baz=blah",
        "foo=bar,baz=blah",
        r"foo=bar,baz=blah,complex=\=value\\\,\\",
    ]:
        assert parse_field_selector(text).matches(fields)
    for text in ["foo=blah", "baz=bar", "foo=bar,foobar=bar,baz=blah"]:
        assert not parse_field_selector(text).matches(fields)


def test_sets_everything_nothing() -> None:
    labels = {"foo": "bar", "baz": "blah"}
    for s in ({}, {"foo": "bar"}, {"baz": "blah"}, {"foo": "bar", "baz": "blah"}):
        assert field_selector_from_set(s).matches(labels)
    for s in ({"foo": "=blah"}, {"baz": "=bar"}, {"foo": "=bar", "foobar": "bar", "baz": "blah"}):
        assert not field_selector_from_set(s).matches(labels)
    assert field_selector_from_set(None).empty and everything_fields().matches({"x": "y"})
    assert not FieldSelector(matches_nothing=True).matches({})
    assert str(field_selector_from_set({"b": "x,y", "a": "1"})) == r"a=1,b=x\,y"


def test_requires_exact_match() -> None:
    sel = parse_field_selector("spec.nodeName=n1,status.phase!=Failed,metadata.name=")
    assert sel.requires_exact_match("spec.nodeName") == "n1"
    assert sel.requires_exact_match("status.phase") is None
    assert sel.requires_exact_match("metadata.name") == ""
    assert sel.requires_exact_match("other") is None


def test_check_supported() -> None:
    pod_fields = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}
    check_supported(parse_field_selector("spec.nodeName=n1,status.phase!=Failed"), pod_fields)
    with pytest.raises(FieldSelectorError, match=r"^field label not supported: spec\.foo$"):
        check_supported(parse_field_selector("spec.nodeName=n1,spec.foo=bar"), pod_fields)


def test_requirement_operators() -> None:
    with pytest.raises(ValueError):
        FieldRequirement("a", Operator.IN, "b")
    assert {parse_field_selector("a=1,b=2"), parse_field_selector("b=2,a==1")} == {
        parse_field_selector("a=1,b=2")
    }


# -- properties -----------------------------------------------------------------------------

fields_ = st.text(alphabet="abz.-_", min_size=1, max_size=6)
values = st.text(alphabet="ab=,\\ !é", max_size=6)
requirements = st.builds(FieldRequirement, fields_, st.sampled_from([EQ, NE]), values)


@given(values)
def test_escape_round_trip(value: str) -> None:
    assert unescape_value(escape_value(value)) == value


@given(st.lists(requirements, max_size=5))
def test_parse_of_str_round_trips(reqs: list[FieldRequirement]) -> None:
    sel = FieldSelector(tuple(reqs))
    again = parse_field_selector(str(sel))
    assert again == sel
    assert parse_field_selector(str(again)) == again


@given(st.lists(requirements, max_size=4), st.dictionaries(fields_, values, max_size=4))
def test_round_trip_preserves_matching(
    reqs: list[FieldRequirement], fields: dict[str, str]
) -> None:
    sel = FieldSelector(tuple(reqs))
    assert parse_field_selector(str(sel)).matches(fields) == sel.matches(fields)


def test_requirement_normalises_operator() -> None:
    assert FieldRequirement("a", "==", "b") == FieldRequirement("a", EQ, "b")  # type: ignore[arg-type]
    assert FieldRequirement("a", "!=", "b").matches({"a": "c"})  # type: ignore[arg-type]
