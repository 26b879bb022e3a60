"""Kubernetes resource quantities (``k8s.io/apimachinery/pkg/api/resource``).

What it is: ``Quantity``, an exact fixed-point number with the suffix format it was
written in (DecimalSI ``100m``/``2G``, BinarySI ``1Gi``, DecimalExponent ``2e3``),
parsed and printed the way the API server does.

Concurrency model: none. Pure functions and immutable values; safe to share.

Invariants:
- The value is ``_m * 10**_e`` with ``_m`` not divisible by 10 (or ``_m == _e == 0``),
  so every value has one representation; equality, ordering and hashing use it and
  ignore the format (Kubernetes' ``Cmp``/``Equal`` compare values only).
- Parsing keeps a value down to nano only, rounding a finer non-zero value away
  from zero ("0.9n" -> "1n"), and silently caps a BinarySI value at 2**63-1
  ("8Ei" -> 9223372036854775807), both as ``ParseQuantity`` does.
- Arithmetic is exact and never rounds; only parsing does.

Printing: ``canonical()`` is always Kubernetes' canonical form. ``str(q)`` is what
Kubernetes' ``String()``/JSON give, which is the same except that ParseQuantity keeps
an input it judges canonical verbatim: "+1", "01", "1.", "1E3" print as typed until
arithmetic produces a new value.

Deliberate differences from Kubernetes (all at the edges):
- ``value_int``/``milli_value``/``scaled_value`` raise ``OverflowError`` where
  Kubernetes silently returns an undefined int64.
- A negative non-integer rounds away from zero (Kubernetes' documented ``Value``
  behaviour and its int64 path); Kubernetes' big-decimal path is inconsistent there.
- A BinarySI value of 1024Ei or more prints with the ``Ei`` suffix ("1024Ei");
  Kubernetes has no larger binary suffix and drops the magnitude.
"""

from __future__ import annotations

import enum
import functools
from fractions import Fraction

__all__ = [
    "Format",
    "Quantity",
    "QuantityError",
    "cpu_millis",
    "memory_bytes",
    "parse_quantity",
]

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_NANO = -9
# ParseQuantity's int64 fast path takes at most this many digits (maxInt64Factors).
_MAX_INT64_FACTORS = 18
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")


class QuantityError(ValueError):
    """A string is not a quantity; the message is Kubernetes' own."""


class Format(enum.StrEnum):
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi (12 * 2**20)
    DECIMAL_SI = "DecimalSI"  # 12M (12 * 10**6)


_DEC_SUFFIXES = dict(n=-9, u=-6, m=-3, k=3, M=6, G=9, T=12, P=15, E=18) | {"": 0}
_DEC_BY_EXP = {e: s for s, e in _DEC_SUFFIXES.items()}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_BY_EXP = {e // 10: s for s, e in _BIN_SUFFIXES.items()} | {0: ""}


def _normalize(m: int, e: int) -> tuple[int, int]:
    if m == 0:
        return 0, 0
    while m % 10 == 0:
        m //= 10
        e += 1
    return m, e


def _wrap_int32(x: int) -> int:
    # Kubernetes converts the parsed exponent with int32(...), which wraps.
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def _div_away(n: int, d: int) -> int:
    """n / d rounded away from zero (d > 0)."""
    q, r = divmod(abs(n), d)
    q += 1 if r else 0
    return q if n >= 0 else -q


class _Scan:
    """The pieces ``parseQuantityString`` splits a quantity string into."""

    __slots__ = ("denom", "num", "positive", "suffix", "value")

    def __init__(self, positive: bool, value: str, num: str, denom: str, suffix: str):
        self.positive, self.value, self.num = positive, value, num
        self.denom, self.suffix = denom, suffix


def _run(s: str, pos: int, chars: frozenset[str]) -> int:
    while pos < len(s) and s[pos] in chars:
        pos += 1
    return pos


def _scan(s: str) -> _Scan:
    """Split ``[sign]digits[.digits][suffix]`` exactly as Kubernetes' scanner does.

    Its quirks are kept: an all-zero (or empty) number after the sign is "0" with no
    suffix, "." and "k" scan as zero, and a trailing non-digit is a format error.
    """
    positive, pos = True, 0
    if s[:1] in ("+", "-"):
        positive, pos = s[0] == "+", 1
    pos = _run(s, pos, frozenset("0"))
    if pos >= len(s):
        return _Scan(positive, "0", "0", "", "")
    end = _run(s, pos, _DIGITS)
    num = s[pos:end] or "0"
    if end >= len(s):
        return _Scan(positive, s, num, "", "")
    pos, denom = end, ""
    if s[pos] == ".":
        end = _run(s, pos + 1, _DIGITS)
        denom = s[pos + 1 : end]
        if end >= len(s):
            return _Scan(positive, s, num, denom, "")
        pos = end
    value = s[:pos]
    end = _run(s, pos, _SUFFIX_CHARS)
    if end < len(s) and s[end] in "+-":
        end += 1
    end = _run(s, end, _DIGITS)
    if end < len(s):
        raise QuantityError(ERR_FORMAT_WRONG)
    return _Scan(positive, value, num, denom, s[pos:])


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """(base, exponent, format) of a suffix, as Kubernetes' suffixer interprets it."""
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        digits = rest[1:] if rest[:1] in "+-" else rest
        if digits and set(digits) <= _DIGITS:
            parsed = int(rest)
            if _INT64_MIN <= parsed <= _INT64_MAX:  # strconv.ParseInt(..., 64)
                return 10, _wrap_int32(parsed), Format.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _takes_fast_path(sc: _Scan, exponent: int, fmt: Format) -> bool:
    """Whether ParseQuantity takes its int64 fast path (exact, no rounding needed)."""
    if fmt is Format.BINARY_SI:
        if sc.denom:
            return False
        # "1Mi (2^20) has ~6 digits of decimal precision"
        precision = 15 - len(sc.num) - (exponent * 3 // 10) - 1
        return precision >= 0 and int(sc.num) << exponent <= _INT64_MAX
    precision = _MAX_INT64_FACTORS - (len(sc.num) + len(sc.denom))
    return precision >= 0 and exponent - len(sc.denom) >= _NANO


def _echo_of(text: str, sc: _Scan, exponent: int, fmt: Format) -> str | None:
    """The input Kubernetes keeps verbatim as the quantity's String(), or None.

    On its fast path ParseQuantity caches the input when it "looks canonical"; its
    String() and JSON then echo it, even for "+1", "1." or "1E3".
    """
    shifted = sc.num + sc.denom
    if fmt is Format.BINARY_SI:
        return text if int(shifted) & 0x07 else None
    scale = exponent - len(sc.denom)
    if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
        return text
    return None


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Quantity:
    """Parse ``text`` (memoized: a Quantity is immutable and manifests repeat a few values)."""
    if text == "":
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity._make(0, 0, Format.DECIMAL_SI, "0")
    sc = _scan(text)
    base, exponent, fmt = _interpret(sc.suffix)
    fast = _takes_fast_path(sc, exponent, fmt)
    if not fast and not any(c in _DIGITS for c in sc.value):
        # The slow path hands the bare number to inf.Dec, which needs a digit;
        # the fast path reads num+denom, where an empty num is "0" ("k" is 0).
        raise QuantityError(ERR_NUMERIC)
    m = int(sc.num + sc.denom)
    e = -len(sc.denom)
    if base == 10:
        e += exponent
    else:
        m <<= exponent
    if not sc.positive:
        m = -m
    m, e = _normalize(m, e)
    if e < _NANO:
        # Round non-zero values up to the minimum representable value: "if you want
        # some resources, you should get some resources" (ParseQuantity).
        m, e = _round_to_nano(m, e)
    if fmt is Format.BINARY_SI and m != 0:
        scale = 10 ** -min(e, 0)
        magnitude = abs(m) * 10 ** max(e, 0)
        if magnitude > _INT64_MAX * scale:
            m, e = _normalize(_INT64_MAX if m > 0 else -_INT64_MAX, 0)  # the cap
        elif magnitude < scale:
            fmt = Format.DECIMAL_SI  # 0 < |v| < 1: "avoids rounding and confusion"
    return Quantity._make(m, e, fmt, _echo_of(text, sc, exponent, fmt) if fast else None)


def _round_to_nano(m: int, e: int) -> tuple[int, int]:
    shift = _NANO - e
    if shift > len(str(abs(m))):
        # Avoid building 10**shift for absurd exponents: the result is +-1n.
        return (1 if m > 0 else -1), _NANO
    return _normalize(_div_away(m, 10**shift), _NANO)


class Quantity:
    """An exact, immutable quantity that remembers its suffix format.

    Build one with ``Quantity.parse`` (Kubernetes' ``ParseQuantity``), or from an
    exact number: ``Quantity(Fraction(3, 2))``, ``Quantity(1024, Format.BINARY_SI)``,
    ``Quantity.from_milli(250)``.
    """

    __slots__ = ("_e", "_echo", "_format", "_m")

    _m: int
    _e: int
    _format: Format
    _echo: str | None

    def __init__(self, value: int | Fraction = 0, format: Format = Format.DECIMAL_SI):
        if isinstance(value, bool) or not isinstance(value, int | Fraction):
            raise TypeError(f"Quantity needs an int or a Fraction, not {type(value).__name__}")
        value = Fraction(value)
        den, k2, k5 = value.denominator, 0, 0
        while den % 2 == 0:
            den, k2 = den // 2, k2 + 1
        while den % 5 == 0:
            den, k5 = den // 5, k5 + 1
        if den != 1:
            raise ValueError(f"{value} has no finite decimal representation")
        k = max(k2, k5)
        m, e = _normalize(value.numerator * 10**k // value.denominator, -k)
        self._init(m, e, Format(format), None)

    def _init(self, m: int, e: int, fmt: Format, echo: str | None) -> None:
        object.__setattr__(self, "_m", m)
        object.__setattr__(self, "_e", e)
        object.__setattr__(self, "_format", fmt)
        object.__setattr__(self, "_echo", echo)

    @classmethod
    def _make(cls, m: int, e: int, fmt: Format, echo: str | None = None) -> Quantity:
        q = cls.__new__(cls)
        m, e = _normalize(m, e)
        q._init(m, e, fmt, echo)
        return q

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Quantity is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Quantity is immutable")

    def __reduce__(self) -> tuple[object, ...]:
        return (Quantity._make, (self._m, self._e, self._format, self._echo))

    # -- construction ------------------------------------------------------------

    @classmethod
    def parse(cls, s: str | int | float) -> Quantity:
        """Kubernetes' ``ParseQuantity``; raises ``QuantityError`` with its messages.

        An int or float is read as the JSON number it would be in a manifest
        (``1.5`` -> "1.5"). Surrounding whitespace is an error, as in ParseQuantity
        (only JSON decoding trims it).
        """
        if isinstance(s, bool):
            s = "true" if s else "false"
        elif isinstance(s, int):
            s = str(s)
        elif isinstance(s, float):
            s = repr(s)
        elif not isinstance(s, str):
            raise TypeError(f"cannot parse a quantity from {type(s).__name__}")
        return _parse(s)

    @classmethod
    def zero(cls) -> Quantity:
        return cls._make(0, 0, Format.DECIMAL_SI)

    @classmethod
    def from_milli(cls, milli: int, format: Format = Format.DECIMAL_SI) -> Quantity:
        """``NewMilliQuantity``: ``milli / 1000`` in the given format."""
        return cls._make(milli, -3, Format(format))

    # -- accessors ---------------------------------------------------------------

    @property
    def value(self) -> Fraction:
        if self._e >= 0:
            return Fraction(self._m * 10**self._e)
        return Fraction(self._m, 10**-self._e)

    @property
    def format(self) -> Format:
        return self._format

    def is_zero(self) -> bool:
        return self._m == 0

    def sign(self) -> int:
        return (self._m > 0) - (self._m < 0)

    def scaled_value(self, scale: int) -> int:
        """``ScaledValue``: the value in units of ``10**scale``, rounded up.

        Positive values round up (ceil); negative ones away from zero. Raises
        ``OverflowError`` where Kubernetes' int64 would silently overflow.
        """
        m, e = self._m, self._e - scale
        if m == 0:
            return 0
        if e >= 0:
            if len(str(abs(m))) + e > 20:
                raise OverflowError(f"{self} does not fit an int64 at scale {scale}")
            out = m * 10**e
        elif -e > len(str(abs(m))):
            out = 1 if m > 0 else -1
        else:
            out = _div_away(m, 10**-e)
        if not _INT64_MIN <= out <= _INT64_MAX:
            raise OverflowError(f"{self} does not fit an int64 at scale {scale}")
        return out

    def value_int(self) -> int:
        """``Value()``: the integer value, rounded up (away from zero)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """``MilliValue()``: ``ceil(q * 1000)`` (away from zero when negative)."""
        return self.scaled_value(-3)

    # -- printing ----------------------------------------------------------------

    def canonical(self) -> str:
        """Kubernetes' canonical form (``CanonicalizeBytes``), ignoring any echo."""
        if self._m == 0:
            return "0"
        fmt = self._format
        if fmt is Format.BINARY_SI:
            if -1024 < self.value < 1024 or self._e < 0:
                fmt = Format.DECIMAL_SI  # small or fractional: show as DecimalSI
            else:
                return self._canonical_binary()
        m, e = self._m, self._e
        while e % 3:
            m, e = m * 10, e - 1
        if fmt is Format.DECIMAL_SI and e in _DEC_BY_EXP:
            return f"{m}{_DEC_BY_EXP[e]}"
        # DecimalExponent, or DecimalSI past "E": Kubernetes falls back to "e<n>".
        return f"{m}e{e}" if e else str(m)

    def _canonical_binary(self) -> str:
        n, k = self._m * 10**self._e, 0
        while n % 1024 == 0 and k < 6:
            n, k = n // 1024, k + 1
        return f"{n}{_BIN_BY_EXP[k]}"

    def __str__(self) -> str:
        """What Kubernetes' ``String()`` and JSON give: the canonical form, except
        that a parsed input ParseQuantity judged canonical is echoed verbatim."""
        return self._echo if self._echo is not None else self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    # -- arithmetic (exact; Kubernetes' Add/Sub/Neg/Mul) --------------------------

    def _aligned(self, other: Quantity) -> tuple[int, int, int]:
        e = min(self._e, other._e)
        return self._m * 10 ** (self._e - e), other._m * 10 ** (other._e - e), e

    def _result_format(self, other: Quantity) -> Format:
        # Add/Sub keep the receiver's format unless it is zero, then take y's.
        return other._format if self._m == 0 else self._format

    def __add__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        a, b, e = self._aligned(other)
        return Quantity._make(a + b, e, self._result_format(other))

    def __sub__(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        a, b, e = self._aligned(other)
        return Quantity._make(a - b, e, self._result_format(other))

    def __neg__(self) -> Quantity:
        return Quantity._make(-self._m, self._e, self._format)

    def __pos__(self) -> Quantity:
        return self

    def __abs__(self) -> Quantity:
        return self if self._m >= 0 else -self

    def __mul__(self, k: object) -> Quantity:
        if isinstance(k, bool) or not isinstance(k, int):
            return NotImplemented
        return Quantity._make(self._m * k, self._e, self._format)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self._m != 0

    # -- comparison (by value, as Cmp) --------------------------------------------

    def _cmp(self, other: Quantity) -> int:
        s1, s2 = self.sign(), other.sign()
        if s1 != s2 or s1 == 0:
            return (s1 > s2) - (s1 < s2)
        # Same non-zero sign: compare magnitudes by order first, so that values with
        # wildly different exponents never build huge integers.
        adj1 = len(str(abs(self._m))) + self._e
        adj2 = len(str(abs(other._m))) + other._e
        if adj1 != adj2:
            return s1 if adj1 > adj2 else -s1
        a, b, _ = self._aligned(other)
        return (a > b) - (a < b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._m == other._m and self._e == other._e

    def __hash__(self) -> int:
        return hash((Quantity, self._m, self._e))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._cmp(other) < 0

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._cmp(other) <= 0

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._cmp(other) > 0

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self._cmp(other) >= 0


def parse_quantity(s: str | int | float) -> Quantity:
    """``resource.ParseQuantity``; raises ``QuantityError``."""
    return Quantity.parse(s)


def _as_quantity(q: Quantity | str | int | float) -> Quantity:
    return q if isinstance(q, Quantity) else Quantity.parse(q)


def cpu_millis(q: Quantity | str | int | float) -> int:
    """CPU in millicores, as the scheduler reads requests: ``MilliValue()``."""
    return _as_quantity(q).milli_value()


def memory_bytes(q: Quantity | str | int | float) -> int:
    """Memory (or any byte count) in bytes, rounded up: ``Value()``."""
    return _as_quantity(q).value_int()
