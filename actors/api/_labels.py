"""Label selectors (``k8s.io/apimachinery/pkg/labels``, ``metav1.LabelSelectorAsSelector``).

What it is: ``Selector``, an AND of ``Requirement`` s, built from the string syntax
(``parse_selector("app=web,tier in (a,b),!canary,replicas>2")``), from the API form
(``selector_from_api({"matchLabels": ..., "matchExpressions": [...]})``), from a
plain map (``selector_from_set``) or from node-affinity terms
(``selector_from_node_selector_requirements``). It matches label maps and prints
the canonical string Kubernetes prints (requirements sorted by key, set values
sorted).

Concurrency model: none. Immutable values and pure functions.

Invariants: requirements are kept sorted by key (stably, as Kubernetes' ``Add``
and parser sort them); a requirement's values are kept sorted, which changes
neither matching nor printing. Errors are ``SelectorError`` with Kubernetes'
messages ("unable to parse requirement: <nil>: Invalid value: ...", "found ',',
expected: ...").

Nil versus empty, which callers must get right:
- ``selector_from_api(None)`` (a nil ``*LabelSelector``) matches nothing, and
  ``selector_from_api({})`` matches everything, as LabelSelectorAsSelector does.
  Pod (anti-)affinity terms and topology spread constraints therefore select no
  pod with a nil selector; NetworkPolicy ``podSelector: {}`` selects every pod in
  the namespace; a PodDisruptionBudget (policy/v1) with an empty selector covers
  every pod in its namespace.
- Deployments, ReplicaSets, StatefulSets and DaemonSets must have a non-empty
  selector: API validation rejects an empty one before this code runs.
- A Service's ``spec.selector`` is a plain map: nil means "no selector" (endpoints
  are managed by hand), which the endpoints controllers check before building a
  selector (an empty map comes back nil from storage, so it means the same);
  ``selector_from_set({})`` itself matches everything.
- The string form cannot express "nothing": ``str(nothing())`` is "", which parses
  to everything (as in Kubernetes).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping

import msgspec

from actors.api._names import (
    aggregate_errors,
    field_invalid,
    go_json,
    go_quote,
    is_qualified_name,
    is_valid_label_value,
)

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "everything",
    "new_requirement",
    "nothing",
    "parse_selector",
    "selector_from_api",
    "selector_from_node_selector_requirements",
    "selector_from_set",
    "set_matches",
]


class SelectorError(ValueError):
    """A selector string or API selector is invalid; Kubernetes' message."""


class Operator(enum.StrEnum):
    """``selection.Operator`` (the string values are Kubernetes')."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_BINARY = (
    Operator.IN, Operator.NOT_IN, Operator.EQUALS, Operator.DOUBLE_EQUALS,
    Operator.NOT_EQUALS, Operator.GREATER_THAN, Operator.LESS_THAN,
)  # fmt: skip
_VALID = (*_BINARY, Operator.EXISTS, Operator.DOES_NOT_EXIST)
_INT64_RE = re.compile(r"[+-]?[0-9]+")


def _parse_int64(s: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``, or None where it fails."""
    if not _INT64_RE.fullmatch(s):
        return None
    n = int(s)
    return n if -(1 << 63) <= n < (1 << 63) else None


# -- requirements -------------------------------------------------------------------


_SET_IN = frozenset((Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS))
_SET_NOT_IN = frozenset((Operator.NOT_IN, Operator.NOT_EQUALS))


@dataclasses.dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` clause. Build validated ones with ``new_requirement``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "operator", Operator(self.operator))
        object.__setattr__(self, "values", tuple(sorted(self.values)))

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        # Set membership, one lookup of the label: this runs for every pod of every node in
        # the scheduler's spreading plugins.
        if op in _SET_IN:
            value = labels.get(self.key)
            return value is not None and value in self.values
        if op in _SET_NOT_IN:
            value = labels.get(self.key)
            return value is None or value not in self.values
        has = self.key in labels
        if op is Operator.EXISTS:
            return has
        if op is Operator.DOES_NOT_EXIST:
            return not has
        # Gt/Lt: the label must exist and both sides parse as int64; else no match.
        if not has or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op is Operator.EXISTS:
            return self.key
        joined = ",".join(self.values)
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({joined})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{joined}"


def _requirement_errors(key: str, op: str, values: list[str] | None) -> list[str]:
    """``labels.NewRequirement``'s checks, as field errors (no path: "key", "values")."""
    errs = []
    if key_errs := is_qualified_name(key):
        errs.append(field_invalid("key", go_quote(key), "; ".join(key_errs)))
    vals = values or []
    if op in (Operator.IN, Operator.NOT_IN):
        if not vals:
            errs.append(field_invalid("values", go_json(values),
                                 "for 'in', 'notin' operators, values set can't be empty"))  # fmt: skip
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errs.append(field_invalid("values", go_json(values),
                                 "exact-match compatibility requires one single value"))  # fmt: skip
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            errs.append(field_invalid("values", go_json(values),
                                 "values set must be empty for exists and does not exist"))  # fmt: skip
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            errs.append(field_invalid("values", go_json(values),
                                 "for 'Gt', 'Lt' operators, exactly one value is required"))  # fmt: skip
        errs.extend(
            field_invalid(
                f"values[{i}]",
                go_quote(v),
                "for 'Gt', 'Lt' operators, the value must be an integer",
            )  # fmt: skip
            for i, v in enumerate(vals)
            if _parse_int64(v) is None
        )
    else:
        supported = ", ".join(f'"{o.value}"' for o in _VALID)
        errs.append(f"operator: Unsupported value: {go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals):
        if msgs := is_valid_label_value(v):
            errs.append(field_invalid(f"values[{i}][{key}]", go_quote(v), "; ".join(msgs)))
    return errs


def new_requirement(
    key: str, operator: Operator | str, values: Iterable[str] | None = ()
) -> Requirement:
    """``labels.NewRequirement``: a validated requirement, or ``SelectorError``.

    In/NotIn need values, =/==/!= exactly one, Exists/DoesNotExist none, Gt/Lt one
    integer; the key must be a qualified name and every value a label value.
    """
    vals = None if values is None else list(values)
    if errs := _requirement_errors(key, operator, vals):
        raise SelectorError(aggregate_errors(errs))
    return Requirement(key, Operator(operator), tuple(vals or ()))


# -- selectors ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Selector:
    """An AND of requirements; ``nothing()`` is the selector that matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    def __post_init__(self) -> None:
        # Stable sort by key: Kubernetes sorts on Add and after parsing.
        ordered = tuple(sorted(self.requirements, key=lambda r: r.key))
        object.__setattr__(self, "requirements", ordered)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (matches everything)."""
        return not self.matches_nothing and not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        for r in self.requirements:
            if not r.matches(labels):
                return False
        return True

    def add(self, *requirements: Requirement) -> Selector:
        if self.matches_nothing:
            return self
        return Selector((*self.requirements, *requirements))

    def requires_exact_match(self, label: str) -> str | None:
        """The single value this selector requires ``label`` to have, if any."""
        for r in self.requirements:
            if r.key == label:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                if r.operator in exact and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything() -> Selector:
    return Selector()


def nothing() -> Selector:
    return Selector(matches_nothing=True)


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """``labels.SelectorFromSet``: key=value for each entry; unvalidated, as there."""
    if not labels:
        return everything()
    return Selector(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items()))


def set_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """``selector_from_set(selector).matches(labels)`` without building the selector: every
    key present with an equal value (an empty selector matches everything). For the hot
    loops that test one Service's selector against many pods."""
    if not selector:
        return True
    if not labels:
        return False
    for k, v in selector.items():
        if labels.get(k) != v:
            return False
    return True


_API_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}
_NODE_OPERATORS = _API_OPERATORS | {"Gt": Operator.GREATER_THAN, "Lt": Operator.LESS_THAN}


def _as_mapping(obj: object) -> Mapping[str, object]:
    if isinstance(obj, Mapping):
        return obj
    built = msgspec.to_builtins(obj)  # a msgspec Struct with camelCase field names
    if not isinstance(built, Mapping):
        raise TypeError(f"expected a label selector object, got {type(obj).__name__}")
    return built


def selector_from_api(selector: object | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``: None matches nothing, {} everything."""
    if selector is None:
        return nothing()
    obj = _as_mapping(selector)
    match_labels: Mapping[str, str] = obj.get("matchLabels") or {}  # type: ignore[assignment]
    expressions: list[Mapping[str, object]] = obj.get("matchExpressions") or []  # type: ignore[assignment]
    if not match_labels and not expressions:
        return everything()
    reqs = [new_requirement(k, Operator.EQUALS, [v]) for k, v in sorted(match_labels.items())]
    for expr in expressions:
        expr = _as_mapping(expr)
        op = _API_OPERATORS.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(
                f"{go_quote(str(expr.get('operator') or ''))} is not a valid label selector operator"
            )
        # Go copies Values with append([]string(nil), ...): an empty list is nil.
        values = list(expr.get("values") or []) or None  # type: ignore[call-overload]
        reqs.append(new_requirement(str(expr.get("key", "")), op, values))
    return Selector(tuple(reqs))


def selector_from_node_selector_requirements(terms: Iterable[object]) -> Selector:
    """``NodeSelectorRequirementsAsSelector``: node affinity's matchExpressions.

    Adds Gt/Lt to the API operators; an empty list matches nothing.
    """
    reqs = []
    for term in terms:
        expr = _as_mapping(term)
        op = _NODE_OPERATORS.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(
                f"{go_quote(str(expr.get('operator') or ''))} is not a valid node selector operator"
            )
        raw = expr.get("values")
        reqs.append(
            new_requirement(str(expr.get("key", "")), op, None if raw is None else list(raw))
        )  # type: ignore[call-overload]
    return Selector(tuple(reqs)) if reqs else nothing()


# -- the string syntax (labels.Parse: its lexer and recursive-descent parser) ----------


# Kubernetes' token kinds; NOT is "!" (DoesNotExist).
_Tok = enum.IntEnum(
    "_Tok", "ERROR EOS CLOSE_PAR COMMA NOT DOUBLE_EQ EQ GT ID IN LT NOT_EQ NOT_IN OPEN_PAR", start=0
)

_LITERALS = {
    ")": _Tok.CLOSE_PAR, ",": _Tok.COMMA, "!": _Tok.NOT, "==": _Tok.DOUBLE_EQ,
    "=": _Tok.EQ, ">": _Tok.GT, "in": _Tok.IN, "<": _Tok.LT, "!=": _Tok.NOT_EQ,
    "notin": _Tok.NOT_IN, "(": _Tok.OPEN_PAR,
}  # fmt: skip
_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_END = "\0"  # Kubernetes' lexer reads 0 at the end, and also for a NUL in the input


def _lex(s: str) -> list[tuple[_Tok, str]]:
    """All tokens of ``s``, ending with EOS, as Kubernetes' ``Lexer.Lex`` yields them."""
    pos = 0

    def read() -> str:
        nonlocal pos
        if pos < len(s):
            pos += 1
            return s[pos - 1]
        return _END

    def scan_word() -> tuple[_Tok, str]:
        nonlocal pos
        buf = []
        while (ch := read()) != _END:
            if ch in _SPECIAL or ch in _WHITESPACE:
                pos -= 1
                break
            buf.append(ch)
        word = "".join(buf)
        return _LITERALS.get(word, _Tok.ID), word

    def scan_symbol() -> tuple[_Tok, str]:
        # Longest run of special characters that still spells an operator.
        nonlocal pos
        buf, last = "", None
        while (ch := read()) != _END:
            if ch not in _SPECIAL:
                pos -= 1
                break
            buf += ch
            if buf in _LITERALS:
                last = (_LITERALS[buf], buf)
            elif last is not None:
                pos -= 1
                break
        return last or (_Tok.ERROR, f"error expected: keyword found '{buf}'")

    tokens = []
    while True:
        ch = read()
        while ch in _WHITESPACE:
            ch = read()
        if ch == _END:
            tokens.append((_Tok.EOS, ""))
            return tokens
        pos -= 1
        tokens.append(scan_symbol() if ch in _SPECIAL else scan_word())


class _RequirementError(Exception):
    """An error inside one requirement: reported as "unable to parse requirement"."""


_BINARY_LIST = ", ".join(o.value for o in _BINARY)
_TOKEN_OPERATORS = {
    _Tok.IN: Operator.IN, _Tok.EQ: Operator.EQUALS, _Tok.DOUBLE_EQ: Operator.DOUBLE_EQUALS,
    _Tok.GT: Operator.GREATER_THAN, _Tok.LT: Operator.LESS_THAN, _Tok.NOT_IN: Operator.NOT_IN,
    _Tok.NOT_EQ: Operator.NOT_EQUALS,
}  # fmt: skip


class _Parser:
    """Kubernetes' label-selector parser. "in"/"notin" are plain identifiers
    wherever a key or value may stand (its "Values" context)."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[_Tok, str]:
        tok, lit = self.items[self.pos]
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.ID
        return tok, lit

    def take(self, values: bool = True) -> tuple[_Tok, str]:
        item = self.peek(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.peek()
            if tok == _Tok.EOS:
                return reqs
            if tok not in (_Tok.ID, _Tok.NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except _RequirementError as err:
                raise SelectorError(f"unable to parse requirement: {err}") from None
            tok, lit = self.take()
            if tok == _Tok.EOS:
                return reqs
            if tok != _Tok.COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.peek()
            if tok not in (_Tok.ID, _Tok.NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        key, op = self.key_and_inferred_operator()
        if op is None:
            op = self.operator()
            if op in (Operator.IN, Operator.NOT_IN):
                values = self.value_set()
            else:
                values = self.exact_value()
            values = sorted(set(values))  # Kubernetes collects them in a sets.String
        else:
            values = []
        if errs := _requirement_errors(key, op, values):
            raise _RequirementError(aggregate_errors(errs))
        return Requirement(key, op, tuple(values))

    def key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        op = None
        tok, lit = self.take()
        if tok == _Tok.NOT:
            op = Operator.DOES_NOT_EXIST
            tok, lit = self.take()
        if tok != _Tok.ID:
            raise _RequirementError(f"found '{lit}', expected: identifier")
        if errs := is_qualified_name(lit):
            raise _RequirementError(field_invalid("<nil>", go_quote(lit), "; ".join(errs)))
        if op is None and self.peek()[0] in (_Tok.EOS, _Tok.COMMA):
            op = Operator.EXISTS
        # "!key" stays DoesNotExist whatever follows; the caller then rejects extras.
        return lit, op

    def operator(self) -> Operator:
        tok, lit = self.take(values=False)
        if tok not in _TOKEN_OPERATORS:
            raise _RequirementError(f"found '{lit}', expected: {_BINARY_LIST}")
        return _TOKEN_OPERATORS[tok]

    def value_set(self) -> list[str]:
        tok, lit = self.take()
        if tok != _Tok.OPEN_PAR:
            raise _RequirementError(f"found '{lit}' expected: '('")
        tok, lit = self.peek()
        if tok == _Tok.CLOSE_PAR:  # "()" is the set holding the empty string
            self.take()
            return [""]
        if tok not in (_Tok.ID, _Tok.COMMA):
            raise _RequirementError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifier_list()
        if self.take()[0] != _Tok.CLOSE_PAR:
            raise _RequirementError(f"found '{lit}', expected: ')'")
        return values

    def identifier_list(self) -> list[str]:
        """Comma-separated, possibly empty identifiers: "(a,,b)", "(,a)", "(a,)"."""
        values: list[str] = []
        while True:
            tok, lit = self.take()
            if tok == _Tok.ID:
                values.append(lit)
                nxt, nlit = self.peek()
                if nxt == _Tok.CLOSE_PAR:
                    return values
                if nxt != _Tok.COMMA:
                    raise _RequirementError(f"found '{nlit}', expected: ',' or ')'")
            elif tok == _Tok.COMMA:
                if not values:
                    values.append("")  # "(,"
                nxt = self.peek()[0]
                if nxt == _Tok.CLOSE_PAR:
                    values.append("")  # ",)"
                    return values
                if nxt == _Tok.COMMA:
                    self.take()
                    values.append("")  # ",,"
            else:
                raise _RequirementError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        if self.peek()[0] in (_Tok.EOS, _Tok.COMMA):
            return [""]  # "key=" means the empty value
        tok, lit = self.take()
        if tok != _Tok.ID:
            raise _RequirementError(f"found '{lit}', expected: identifier")
        return [lit]


def parse_selector(text: str) -> Selector:
    """``labels.Parse``: the syntax of ``kubectl -l`` and ``?labelSelector=``.

    ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
    ``a>1``, ``a<1``; commas AND them; spaces, tabs and newlines separate tokens.
    An empty string selects everything.
    """
    return Selector(tuple(_Parser(text).parse()))
