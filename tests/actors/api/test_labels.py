"""Label selectors against Kubernetes' own cases (apimachinery pkg/labels/selector_test.go,
metav1 LabelSelectorAsSelector), plus Hypothesis round trips."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.api._labels import (
    Operator,
    Requirement,
    Selector,
    SelectorError,
    _lex,
    _Tok,
    everything,
    new_requirement,
    nothing,
    parse_selector,
    selector_from_api,
    selector_from_node_selector_requirements,
    selector_from_set,
    set_matches,
)

QNAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


# -- TestSelectorParse / TestDeterministicParse -------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"],
)
def test_good_strings_restring(text: str) -> None:
    assert str(parse_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize("text", ["x=a||y=b", "x==a==b", "!x=a", "x<a"])
def test_bad_strings(text: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(text)


def test_deterministic_parse() -> None:
    assert str(parse_selector("x=a,a=x")) == str(parse_selector("a=x,x=a")) == "a=x,x=a"


# -- TestSelectorMatches / TestSetMatches / TestEverything ----------------------------------

MATCHES = [
    ("", {"x": "y"}), ("x=y", {"x": "y"}), ("x=y,z=w", {"x": "y", "z": "w"}),
    ("x!=y,z!=w", {"x": "z", "z": "a"}), ("notin=in", {"notin": "in"}), ("x", {"x": "z"}),
    ("!x", {"y": "z"}), ("x>1", {"x": "2"}), ("x<1", {"x": "0"}),
    ("foo=bar", {"foo": "bar", "baz": "blah"}), ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}),
    ("x!=y", {}), ("x notin (a)", {}), ("x in (,a)", {"x": ""}), ("x<10", {"x": "-5"}),
]  # fmt: skip
NO_MATCHES = [
    ("x=z", {}), ("x=y", {"x": "z"}), ("x=y,z=w", {"x": "w", "z": "w"}),
    ("x!=y,z!=w", {"x": "z", "z": "w"}), ("x", {"y": "z"}), ("!x", {"x": "z"}),
    ("x>1", {"x": "0"}), ("x<1", {"x": "2"}), ("foo=blah", {"foo": "bar", "baz": "blah"}),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}),
    ("x>1", {"x": "v2"}), ("x>1", {}), ("x<1", {"x": "99999999999999999999"}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "labels"), MATCHES)
def test_matches(text: str, labels: dict[str, str]) -> None:
    assert parse_selector(text).matches(labels)


@pytest.mark.parametrize(("text", "labels"), NO_MATCHES)
def test_no_matches(text: str, labels: dict[str, str]) -> None:
    assert not parse_selector(text).matches(labels)


def test_everything_nothing_and_sets() -> None:
    assert everything().matches({"x": "y"}) and everything().empty
    assert not nothing().matches({}) and not nothing().empty
    assert str(nothing()) == "" and nothing().add(Requirement("a", Operator.EXISTS)) == nothing()
    labels = {"foo": "bar", "baz": "blah"}
    for s in ({}, {"foo": "bar"}, {"baz": "blah"}, {"foo": "bar", "baz": "blah"}):
        assert selector_from_set(s).matches(labels)
    assert selector_from_set(None).empty and selector_from_set({}).empty
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"


# -- TestLexer / TestLexerSequence ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tok"),
    [("", _Tok.EOS), (",", _Tok.COMMA), ("notin", _Tok.NOT_IN), ("in", _Tok.IN), ("=", _Tok.EQ),
     ("==", _Tok.DOUBLE_EQ), (">", _Tok.GT), ("<", _Tok.LT), ("!", _Tok.NOT), ("!=", _Tok.NOT_EQ),
     ("(", _Tok.OPEN_PAR), (")", _Tok.CLOSE_PAR), ("~", _Tok.ID), ("||", _Tok.ID)],
)  # fmt: skip
def test_lexer(text: str, tok: _Tok) -> None:
    got = _lex(text)[0]
    assert got == (tok, text)


ID, IN, NIN, OP, CP, CM = _Tok.ID, _Tok.IN, _Tok.NOT_IN, _Tok.OPEN_PAR, _Tok.CLOSE_PAR, _Tok.COMMA


@pytest.mark.parametrize(
    ("text", "toks"),
    [
        ("key in ( value )", [ID, IN, OP, ID, CP]),
        ("key notin ( value )", [ID, NIN, OP, ID, CP]),
        ("key in ( value1, value2 )", [ID, IN, OP, ID, CM, ID, CP]),
        ("key", [ID]),
        ("!key", [_Tok.NOT, ID]),
        ("()", [OP, CP]),
        ("x in (),y", [ID, IN, OP, CP, CM, ID]),
        ("== != (), = notin", [_Tok.DOUBLE_EQ, _Tok.NOT_EQ, OP, CP, CM, _Tok.EQ, NIN]),
        ("key>2", [ID, _Tok.GT, ID]),
        ("key<1", [ID, _Tok.LT, ID]),
    ],
)
def test_lexer_sequence(text: str, toks: list[_Tok]) -> None:
    assert [t for t, _ in _lex(text)] == [*toks, _Tok.EOS]


# -- TestRequirementConstructor / TestToString / TestRequirementSelectorMatching -----------


@pytest.mark.parametrize(
    ("key", "op", "values", "ok"),
    [
        ("x", Operator.IN, None, False), ("x", Operator.NOT_IN, [], False),
        ("x", Operator.IN, ["foo"], True), ("x", Operator.NOT_IN, ["foo"], True),
        ("x", Operator.EXISTS, None, True), ("x", Operator.DOES_NOT_EXIST, None, True),
        ("1foo", Operator.IN, ["bar"], True), ("1234", Operator.IN, ["bar"], True),
        ("y", Operator.GREATER_THAN, ["1"], True), ("z", Operator.LESS_THAN, ["6"], True),
        ("foo", Operator.GREATER_THAN, ["bar"], False), ("barz", Operator.LESS_THAN, ["blah"], False),
        ("a" * 254, Operator.EXISTS, None, False), ("x", Operator.EQUALS, ["a", "b"], False),
        ("x", Operator.EXISTS, ["a"], False), ("x", "bogus", ["a"], False),
    ],
)  # fmt: skip
def test_requirement_constructor(key, op, values, ok) -> None:
    if ok:
        assert new_requirement(key, op, values).key == key
    else:
        with pytest.raises(SelectorError):
            new_requirement(key, op, values)


def req(key: str, op: Operator, *values: str) -> Requirement:
    return new_requirement(key, op, list(values))


@pytest.mark.parametrize(
    ("reqs", "out"),
    [
        ([req("x", Operator.IN, "abc", "def"), req("y", Operator.NOT_IN, "jkl"),
          req("z", Operator.EXISTS)], "x in (abc,def),y notin (jkl),z"),
        ([req("x", Operator.NOT_IN, "abc", "def"), req("y", Operator.NOT_EQUALS, "jkl"),
          req("z", Operator.DOES_NOT_EXIST)], "x notin (abc,def),y!=jkl,!z"),
        ([req("x", Operator.NOT_IN, "abc"), req("y", Operator.IN, "jkl", "mno"),
          req("z", Operator.NOT_IN, "")], "x notin (abc),y in (jkl,mno),z notin ()"),
        ([req("x", Operator.EQUALS, "abc"), req("y", Operator.DOUBLE_EQUALS, "jkl"),
          req("z", Operator.NOT_EQUALS, "a"), req("z", Operator.EXISTS)], "x=abc,y==jkl,z!=a,z"),
        ([req("x", Operator.GREATER_THAN, "2"), req("y", Operator.LESS_THAN, "8"),
          req("z", Operator.EXISTS)], "x>2,y<8,z"),
        ([req("x", Operator.IN, "foo", "bar", "bar")], "x in (bar,bar,foo)"),  # safeSort keeps dups
    ],
)  # fmt: skip
def test_to_string(reqs: list[Requirement], out: str) -> None:
    assert str(Selector(tuple(reqs))) == out
    assert str(Selector(tuple(reversed(reqs)))) == out or len({r.key for r in reqs}) < len(reqs)


@pytest.mark.parametrize(
    ("labels", "reqs", "match"),
    [
        ({"x": "foo", "y": "baz"}, [req("x", Operator.IN, "foo"), req("y", Operator.NOT_IN, "alpha")], True),
        ({"x": "foo", "y": "baz"}, [req("x", Operator.IN, "foo"), req("y", Operator.IN, "alpha")], False),
        ({"y": ""}, [req("x", Operator.NOT_IN, ""), req("y", Operator.EXISTS)], True),
        ({"y": ""}, [req("x", Operator.DOES_NOT_EXIST), req("y", Operator.EXISTS)], True),
        ({"y": ""}, [req("x", Operator.NOT_IN, ""), req("y", Operator.DOES_NOT_EXIST)], False),
        ({"y": "baz"}, [req("x", Operator.IN, "")], False),
        ({"z": "2"}, [req("z", Operator.GREATER_THAN, "1")], True),
        ({"z": "v2"}, [req("z", Operator.GREATER_THAN, "1")], False),
    ],
)  # fmt: skip
def test_requirement_selector_matching(labels, reqs, match) -> None:
    assert Selector(tuple(reqs)).matches(labels) is match


def test_zero_requirement_matches_nothing() -> None:
    # Kubernetes' zero Requirement (empty operator) never matches; ours cannot be
    # built with a bad operator at all.
    with pytest.raises(ValueError):
        Requirement("x", "bogus")  # type: ignore[arg-type]


# -- TestSetSelectorParser ------------------------------------------------------------------

PARSED = [
    ("", []),
    ("\rx", [req("x", Operator.EXISTS)]),
    ("this-is-a-dns.domain.com/key-with-dash", [req("this-is-a-dns.domain.com/key-with-dash", Operator.EXISTS)]),
    ("this-is-another-dns.domain.com/key-with-dash in (so,what)",
     [req("this-is-another-dns.domain.com/key-with-dash", Operator.IN, "so", "what")]),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
     [req("0.1.2.domain/99", Operator.NOT_IN, "10.10.100.1", "tick.tack.clock")]),
    ("foo  in\t (abc)", [req("foo", Operator.IN, "abc")]),
    ("x notin\n (abc)", [req("x", Operator.NOT_IN, "abc")]),
    ("x  notin\t\t\t(abc,def)", [req("x", Operator.NOT_IN, "abc", "def")]),
    ("x in (abc,def)", [req("x", Operator.IN, "abc", "def")]),
    ("x in (abc,)", [req("x", Operator.IN, "abc", "")]),
    ("x in ()", [req("x", Operator.IN, "")]),
    ("x notin (abc,,def),bar,z in (),w",
     [req("bar", Operator.EXISTS), req("w", Operator.EXISTS),
      req("x", Operator.NOT_IN, "abc", "", "def"), req("z", Operator.IN, "")]),
    ("x,y in (a)", [req("x", Operator.EXISTS), req("y", Operator.IN, "a")]),
    ("x=a", [req("x", Operator.EQUALS, "a")]),
    ("x>1", [req("x", Operator.GREATER_THAN, "1")]),
    ("x<7", [req("x", Operator.LESS_THAN, "7")]),
    ("x=a,y!=b", [req("x", Operator.EQUALS, "a"), req("y", Operator.NOT_EQUALS, "b")]),
    ("x=a,y!=b,z in (h,i,j)",
     [req("x", Operator.EQUALS, "a"), req("y", Operator.NOT_EQUALS, "b"), req("z", Operator.IN, "h", "i", "j")]),
    ("x notin ( )", [req("x", Operator.NOT_IN, "")]),
    ("x notin (, a)", [req("x", Operator.NOT_IN, "", "a")]),
    ("a ", [req("a", Operator.EXISTS)]),
    ("a in (x,y,notin, z,in)", [req("a", Operator.IN, "in", "notin", "x", "y", "z")]),
    ("in in (in),notin notin (notin)", [req("in", Operator.IN, "in"), req("notin", Operator.NOT_IN, "notin")]),
    ("x in (b,a,a)", [req("x", Operator.IN, "a", "b")]),  # a set: deduplicated
]  # fmt: skip


@pytest.mark.parametrize(("text", "reqs"), PARSED, ids=[t for t, _ in PARSED])
def test_set_selector_parser(text: str, reqs: list[Requirement]) -> None:
    assert parse_selector(text) == Selector(tuple(reqs))


INVALID = {
    # NewRequirement validates the value "a||y" before the parser sees the second "=".
    "x=a||y=b": 'unable to parse requirement: values[0][x]: Invalid value: "a||y": a valid label '
    "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    "x=a,b==c==d": "found '==', expected: ',' or 'end of string'",
    "x,,y": "found ',', expected: identifier after ','",
    ",x,y": "found ',', expected: !, identifier, or 'end of string'",
    "x nott in (y)": "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
    "a in (xyz),": "found '', expected: identifier after ','",
    "a in (xyz)b notin ()": "found 'b', expected: ',' or 'end of string'",
    "a in (xyz abc)": "unable to parse requirement: found 'abc', expected: ',' or ')'",
    "a notin(": "unable to parse requirement: found '', expected: ',', ')' or identifier",
    "a (": "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
    "(": "found '(', expected: !, identifier, or 'end of string'",
    "x in": "unable to parse requirement: found '' expected: '('",
    "x in (a,=)": "unable to parse requirement: found '=', expected: ',', or identifier",
    "x=(": "unable to parse requirement: found '(', expected: identifier",
    "!": "unable to parse requirement: found '', expected: identifier",
    "x>a": 'unable to parse requirement: values[0]: Invalid value: "a": '
    "for 'Gt', 'Lt' operators, the value must be an integer",
    "x>99999999999999999999": "unable to parse requirement: values[0]: Invalid value: "
    "\"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer",
    "a/b/c ?=? def": 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name '
    + QNAME_RULE
    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    "app: nginx": 'unable to parse requirement: <nil>: Invalid value: "app:": name part '
    + QNAME_RULE,
    "*bar": 'unable to parse requirement: <nil>: Invalid value: "*bar": name part ' + QNAME_RULE,
    "x=" + "z" * 64: 'unable to parse requirement: values[0][x]: Invalid value: "'
    + "z" * 64
    + '": must be no more than 63 characters',
    "app.kubernetes_io/name": 'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": '
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
}


@pytest.mark.parametrize(("text", "message"), INVALID.items(), ids=list(INVALID))
def test_invalid_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    assert str(info.value) == message


def test_multiple_value_errors_are_aggregated() -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector("x in (-a,-b)")
    msg = str(info.value)
    assert msg.startswith(
        'unable to parse requirement: [values[0][x]: Invalid value: "-a": a valid label'
    )
    assert ', values[1][x]: Invalid value: "-b": ' in msg and msg.endswith("]")


def test_requires_exact_match() -> None:
    sel = parse_selector("a=1,b in (2),c in (3,4),d!=5")
    assert [sel.requires_exact_match(k) for k in "abcde"] == ["1", "2", None, None, None]


# -- LabelSelectorAsSelector ----------------------------------------------------------------


def test_from_api_nil_and_empty() -> None:
    assert selector_from_api(None) == nothing()
    assert selector_from_api({}) == everything()
    assert selector_from_api({"matchLabels": {}, "matchExpressions": []}).empty


def test_from_api() -> None:
    sel = selector_from_api(
        {
            "matchLabels": {"app": "web", "a": "1"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
                {"key": "zone", "operator": "Exists"},
            ],
        }
    )
    assert str(sel) == "a=1,app=web,!canary,env notin (dev),tier in (be,fe),zone"
    assert sel.matches({"a": "1", "app": "web", "tier": "fe", "zone": "z"})
    assert not sel.matches({"a": "1", "app": "web", "tier": "fe", "zone": "z", "canary": "y"})
    assert parse_selector(str(sel)) == sel


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"key": "x", "operator": "In"},
         "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
        ({"key": "x", "operator": "NotIn", "values": []},
         "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
        ({"key": "x", "operator": "Exists", "values": ["a"]},
         'values: Invalid value: ["a"]: values set must be empty for exists and does not exist'),
        ({"key": "x", "operator": "Gt", "values": ["1"]}, '"Gt" is not a valid label selector operator'),
        ({"key": "x", "operator": "in", "values": ["1"]}, '"in" is not a valid label selector operator'),
        ({"key": "-x", "operator": "Exists"}, 'key: Invalid value: "-x": name part ' + QNAME_RULE),
        ({"key": "", "operator": "Exists"},
         'key: Invalid value: "": name part must be non-empty; name part ' + QNAME_RULE),
    ],
)  # fmt: skip
def test_from_api_errors(expr: dict[str, object], message: str) -> None:
    with pytest.raises(SelectorError) as info:
        selector_from_api({"matchExpressions": [expr]})
    assert str(info.value) == message


def test_from_api_accepts_structs() -> None:
    class Req(msgspec.Struct, rename="camel", omit_defaults=True):
        key: str
        operator: str
        values: list[str] | None = None

    class LabelSelector(msgspec.Struct, rename="camel", omit_defaults=True):
        match_labels: dict[str, str] | None = None
        match_expressions: list[Req] | None = None

    sel = selector_from_api(
        LabelSelector(match_labels={"a": "b"}, match_expressions=[Req("c", "Exists")])
    )
    assert str(sel) == "a=b,c"
    assert selector_from_api(LabelSelector()) == everything()


def test_node_selector_requirements() -> None:
    sel = selector_from_node_selector_requirements(
        [
            {"key": "cpus", "operator": "Gt", "values": ["4"]},
            {"key": "zone", "operator": "In", "values": ["a"]},
        ]
    )
    assert str(sel) == "cpus>4,zone in (a)"
    assert sel.matches({"cpus": "8", "zone": "a"}) and not sel.matches({"cpus": "4", "zone": "a"})
    assert selector_from_node_selector_requirements([]) == nothing()
    with pytest.raises(SelectorError, match='"Foo" is not a valid node selector operator'):
        selector_from_node_selector_requirements([{"key": "a", "operator": "Foo"}])
    with pytest.raises(SelectorError, match=r"values: Invalid value: \[\]: for 'Gt', 'Lt'"):
        selector_from_node_selector_requirements([{"key": "a", "operator": "Lt", "values": []}])


# -- properties -----------------------------------------------------------------------------

_name = st.sampled_from(["a", "x", "app", "tier", "a.b", "a_b", "a-b", "A1", "9", "my.Name"])
_prefix = st.sampled_from(["example.com", "k8s.io", "a", "0.1.2.domain"])
keys = st.one_of(
    _name, st.builds(lambda p, n: f"{p}/{n}", _prefix, _name), st.sampled_from(["in", "notin"])
)
values = st.one_of(st.just(""), _name, st.sampled_from(["in", "notin"]))
ints = st.integers(0, 10**6).map(str)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    key, op = draw(keys), draw(st.sampled_from(list(Operator)))
    if op in (Operator.IN, Operator.NOT_IN):
        vals = sorted(draw(st.sets(values, min_size=1, max_size=4)))
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        vals = []
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        vals = [draw(ints)]
    else:
        vals = [draw(values)]
    return new_requirement(key, op, vals)


selectors = st.lists(requirements(), max_size=5).map(lambda rs: Selector(tuple(rs)))
label_maps = st.dictionaries(keys, st.one_of(values, ints), max_size=5)


@given(selectors)
def test_parse_of_str_round_trips(sel: Selector) -> None:
    again = parse_selector(str(sel))
    assert again == sel
    assert str(again) == str(sel)


@given(selectors, label_maps)
def test_round_trip_preserves_matching(sel: Selector, labels: dict[str, str]) -> None:
    assert parse_selector(str(sel)).matches(labels) == sel.matches(labels)
    assert sel.matches(labels) == all(r.matches(labels) for r in sel.requirements)


@given(st.text(alphabet=" \t,=!()<>abinotz0-/.", max_size=20))
def test_parser_never_crashes(text: str) -> None:
    try:
        sel = parse_selector(text)
    except SelectorError:
        return
    assert parse_selector(str(sel)) == sel


_small = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["x", "y", ""]),
                         max_size=3)


@given(_small, st.one_of(st.none(), _small))
def test_set_matches_is_selector_from_set_matches(selector: dict[str, str],
                                                  labels: dict[str, str] | None) -> None:
    assert set_matches(selector, labels) == selector_from_set(selector).matches(labels or {})
