"""Field selectors (``k8s.io/apimachinery/pkg/fields``).

What it is: ``FieldSelector``, an AND of ``field=value`` / ``field==value`` /
``field!=value`` terms as in ``?fieldSelector=spec.nodeName=node-1,status.phase!=Failed``.
Values escape ``\\``, ``,`` and ``=`` with a backslash (``EscapeValue``); field names
are taken verbatim. ``check_supported`` rejects fields a resource does not index,
with Kubernetes' message ``field label not supported: <name>``.

Concurrency model: none. Immutable values and pure functions.

Invariants, as Kubernetes:
- Terms are parsed in sorted order of their raw text, and printed in that order
  (``str``), with values re-escaped and ``==`` printed as ``=``.
- A missing field reads as "": ``a=`` matches an object without ``a``, ``a!=x``
  matches it too.
- A term with both an empty field and an empty value (``=``) is dropped, as
  ``Transform`` drops it; "" selects everything.
- Equality ignores term order (Kubernetes' own order depends on the raw text).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from actors.api._labels import Operator

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "FieldSelectorError",
    "check_supported",
    "escape_value",
    "everything_fields",
    "field_selector_from_set",
    "parse_field_selector",
    "unescape_value",
]


class FieldSelectorError(ValueError):
    """A field selector is malformed, or names a field the resource cannot select on."""


_EQUALS, _NOT_EQUALS = Operator.EQUALS, Operator.NOT_EQUALS
# "!=" and "==" first, so "a==b" does not split as "a" "=" "=b".
_TERM_OPERATORS = (("!=", _NOT_EQUALS), ("==", _EQUALS), ("=", _EQUALS))


def escape_value(value: str) -> str:
    """``fields.EscapeValue``: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(text: str) -> str:
    """``fields.UnescapeValue``; raises ``FieldSelectorError`` with Kubernetes' text."""
    out: list[str] = []
    in_slash = False
    for c in text:
        if in_slash:
            if c not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go formats the rune with %v, which prints its code point.
            raise FieldSelectorError(
                f"invalid field selector: unescaped character in value: {ord(c)}"
            )
        else:
            out.append(c)
    if in_slash:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclasses.dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``fields.Requirement``: ``field`` (=|!=) ``value``."""

    field: str
    operator: Operator
    value: str

    def __post_init__(self) -> None:
        op = Operator(self.operator)
        if op is Operator.DOUBLE_EQUALS:
            op = _EQUALS  # "==" parses to the same term as "=" (hasTerm)
        if op not in (_EQUALS, _NOT_EQUALS):
            raise ValueError(f"field selectors support only = and !=, not {op}")
        object.__setattr__(self, "operator", op)

    def matches(self, fields: Mapping[str, str]) -> bool:
        equal = fields.get(self.field, "") == self.value
        return equal if self.operator is _EQUALS else not equal

    def __str__(self) -> str:
        op = "=" if self.operator is _EQUALS else "!="
        return f"{self.field}{op}{escape_value(self.value)}"


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class FieldSelector:
    """An AND of field requirements; ``matches_nothing`` is ``fields.Nothing()``."""

    requirements: tuple[FieldRequirement, ...] = ()
    matches_nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.matches_nothing and not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term requires of ``field``, if any (first such term)."""
        for r in self.requirements:
            if r.field == field and r.operator is _EQUALS:
                return r.value
        return None

    def _key(self) -> tuple[object, ...]:
        terms = sorted((r.field, r.operator.value, r.value) for r in self.requirements)
        return (self.matches_nothing, tuple(terms))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def everything_fields() -> FieldSelector:
    return FieldSelector()


def field_selector_from_set(fields: Mapping[str, str] | None) -> FieldSelector:
    """``fields.SelectorFromSet``: ``field=value`` for each entry (sorted by field)."""
    items = sorted((fields or {}).items())
    return FieldSelector(tuple(FieldRequirement(f, _EQUALS, v) for f, v in items))


def _split_terms(text: str) -> list[str]:
    """Split on commas not escaped by a backslash; the backslash stays in the term."""
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, Operator, str] | None:
    """The first operator splits: the field cannot contain one, the value escapes them."""
    for i in range(len(term)):
        for symbol, op in _TERM_OPERATORS:
            if term.startswith(symbol, i):
                return term[:i], op, term[i + len(symbol) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """``fields.ParseSelector``; raises ``FieldSelectorError`` with Kubernetes' messages."""
    reqs = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        value = unescape_value(raw)
        if field or value:  # Transform drops a term whose field and value are both ""
            reqs.append(FieldRequirement(field, op, value))
    return FieldSelector(tuple(reqs))


def check_supported(selector: FieldSelector, supported: Iterable[str]) -> None:
    """Reject fields the resource cannot select on, as the API server's field-label
    conversion does for a list or watch: ``field label not supported: <name>``.

    (Kinds without their own conversion use a different wording in Kubernetes,
    ``"x" is not a known field selector: only "metadata.name", "metadata.namespace"``;
    callers wanting that text can catch and rephrase.)
    """
    allowed = set(supported)
    for r in selector.requirements:
        if r.field not in allowed:
            raise FieldSelectorError(f"field label not supported: {r.field}")
