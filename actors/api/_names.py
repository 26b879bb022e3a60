"""Object names: generated names, the pod-template hash, and name/label validators.

What it is: Kubernetes' ``names.SimpleNameGenerator``, ``util/rand`` (``String``,
``SafeEncodeString``), the controllers' ``ComputeHash`` (the ``pod-template-hash``
label and ReplicaSet name suffix), and the predicates of
``apimachinery/pkg/util/validation`` (DNS-1123 label/subdomain, DNS-1035 label,
qualified name, label value). The predicates return lists of error strings with
Kubernetes' exact wording (as of v1.30-v1.34; newer masters say "bytes" where
these say "characters"); an empty list means valid.

Concurrency model: none. Pure functions; randomness only from the ``random.Random``
the caller passes in, so a seeded simulation stays reproducible.

Invariants: lengths are measured in UTF-8 bytes, as Go's ``len`` does; patterns
must match the whole string (Go's ``^...$`` without multiline).
"""

from __future__ import annotations

import json
import random
import re

import msgspec

__all__ = [
    "ALPHANUMS",
    "aggregate_errors",
    "field_invalid",
    "go_json",
    "go_quote",
    "DNS1035_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "MAX_GENERATED_NAME_LENGTH",
    "QUALIFIED_NAME_MAX_LENGTH",
    "empty_error",
    "fnv32a",
    "generate_name",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "max_len_error",
    "pod_template_hash",
    "rand_string",
    "regex_error",
    "safe_encode_string",
]

# -- random names (util/rand, storage/names) ------------------------------------------

# Vowels are omitted "to reduce the chances of bad words being formed" (util/rand).
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_IDX_BITS = 5
_IDX_MASK = (1 << _IDX_BITS) - 1
_PER_INT63 = 63 // _IDX_BITS

_MAX_NAME_LENGTH = 63
_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = _MAX_NAME_LENGTH - _RANDOM_LENGTH


def rand_string(n: int, rng: random.Random) -> str:
    """``rand.String(n)``: n characters of ``ALPHANUMS``, uniformly.

    Same algorithm as Kubernetes (5-bit slices of a 63-bit draw, rejecting indexes
    past the alphabet), with the draws taken from ``rng``.
    """
    if n < 0:
        raise ValueError("rand_string needs n >= 0")
    out: list[str] = []
    bits, remaining = rng.getrandbits(63), _PER_INT63
    while len(out) < n:
        if remaining == 0:
            bits, remaining = rng.getrandbits(63), _PER_INT63
        idx = bits & _IDX_MASK
        if idx < len(ALPHANUMS):
            out.append(ALPHANUMS[idx])
        bits >>= _IDX_BITS
        remaining -= 1
    return "".join(out)


def generate_name(base: str, rng: random.Random) -> str:
    """``SimpleNameGenerator.GenerateName``: ``metadata.generateName`` + 5 random chars.

    The base is cut to 58 characters so the result fits a 63-character name. The
    API server retries on a name clash; that is the caller's job here.
    """
    if len(base) > MAX_GENERATED_NAME_LENGTH:
        base = base[:MAX_GENERATED_NAME_LENGTH]
    return base + rand_string(_RANDOM_LENGTH, rng)


def safe_encode_string(s: str) -> str:
    """``rand.SafeEncodeString``: each character to ``ALPHANUMS[ord(c) % 27]``.

    Used on the decimal form of a hash, so digits map to consonants and digits that
    cannot spell words. (For non-ASCII input Go pads the result with NUL bytes to
    the input's byte length; so do we, for fidelity.)
    """
    mapped = "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in s)
    return mapped + "\0" * (len(s.encode("utf-8")) - len(s))


# -- pod-template hash (controller.ComputeHash) ---------------------------------------

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    """32-bit FNV-1a, as Go's ``hash/fnv.New32a``."""
    h = _FNV32_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def pod_template_hash(template: object, collision_count: int | None = None) -> str:
    """``controller.ComputeHash``: the ``pod-template-hash`` of a pod template.

    Kubernetes hashes spew's deep print of the Go struct; we cannot reproduce that
    format, so we hash canonical JSON (sorted keys, no spaces) of ``template`` (a
    dict or a msgspec Struct). The value therefore differs from a real cluster's,
    but the properties the controllers rely on hold: deterministic, equal for equal
    templates, changed by any field, and changed by ``collision_count``, which is
    appended as Kubernetes does (uint32 little-endian in 8 bytes). The decimal of
    the 32-bit hash is then safe-encoded, giving names like ``nginx-879cf7b8c``.
    """
    data = msgspec.json.encode(template, order="sorted")
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode_string(str(fnv32a(data)))


# -- validators (apimachinery/pkg/util/validation) ------------------------------------


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """``validation.RegexError``; note Kubernetes' double space before each "or"."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _blen(s: str) -> int:
    return len(s.encode("utf-8"))


DNS1123_LABEL_MAX_LENGTH = 63
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
    "or '-', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)

DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)

DNS1035_LABEL_MAX_LENGTH = 63
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)

QUALIFIED_NAME_MAX_LENGTH = 63
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QNAME_RE = re.compile(_QNAME_FMT)

LABEL_VALUE_MAX_LENGTH = 63
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label: namespaces and other names used as a single DNS label."""
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain but not a label: length was checked, so it's dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain: the default object-name rule (pods, deployments, ...)."""
    errs: list[str] = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label: Service names (they become DNS names starting with a letter)."""
    errs: list[str] = []
    if _blen(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key / annotation key: ``[prefix/]name``, prefix a DNS-1123 subdomain."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    if not name:
        errs.append("name part " + empty_error())
    elif _blen(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _QNAME_RE.fullmatch(name):
        errs.append(
            "name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """A label value: at most 63 characters, possibly empty."""
    errs: list[str] = []
    if _blen(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# -- field-error rendering (apimachinery/pkg/util/validation/field, util/errors) ------


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}  # fmt: skip


def go_quote(s: str) -> str:
    """Go's ``%q`` (``strconv.Quote``) for the strings that reach an error message."""
    out = []
    for c in s:
        if c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def go_json(values: list[str] | None) -> str:
    """``json.Marshal`` of a ``[]string`` (HTML-safe escapes, as Go's encoder)."""
    if values is None:
        return "null"
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, esc)
    return text


def field_invalid(field: str, rendered: str, detail: str) -> str:
    return f"{field}: Invalid value: {rendered}: {detail}"


def aggregate_errors(errs: list[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message, or a deduped list."""
    unique = list(dict.fromkeys(errs))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
