"""Quantity parsing, printing and arithmetic against Kubernetes' own test tables
(apimachinery pkg/api/resource/quantity_test.go), plus Hypothesis properties."""

from __future__ import annotations

import pickle
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.api._quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Format,
    Quantity,
    QuantityError,
    _scan,
    cpu_millis,
    memory_bytes,
    parse_quantity,
)

DSI, BSI, DEX = Format.DECIMAL_SI, Format.BINARY_SI, Format.DECIMAL_EXPONENT
MAX_I64 = (1 << 63) - 1


def dec(m: int, exp: int, fmt: Format = DSI) -> Quantity:
    """Kubernetes' decQuantity(m, exp, format): m * 10**exp."""
    return Quantity(Fraction(m) * Fraction(10) ** exp, fmt)


# TestQuantityParse: input -> (value, format)
PARSE_TABLE = [
    ("0", dec(0, 0)),
    ("0n", dec(0, 0)),
    ("0u", dec(0, 0)),
    ("0m", dec(0, 0)),
    ("0Ki", dec(0, 0, BSI)),
    ("0k", dec(0, 0)),
    ("0Mi", dec(0, 0, BSI)),
    ("0M", dec(0, 0)),
    ("0Gi", dec(0, 0, BSI)),
    ("0G", dec(0, 0)),
    ("0Ti", dec(0, 0, BSI)),
    ("0T", dec(0, 0)),
    ("1", dec(1, 0)),
    ("1Ki", dec(1024, 0, BSI)),
    ("8Ki", dec(8 * 1024, 0, BSI)),
    ("7Mi", dec(7 * 1024**2, 0, BSI)),
    ("6Gi", dec(6 * 1024**3, 0, BSI)),
    ("5Ti", dec(5 * 1024**4, 0, BSI)),
    ("4Pi", dec(4 * 1024**5, 0, BSI)),
    ("3Ei", dec(3 * 1024**6, 0, BSI)),
    ("10Ti", dec(10 * 1024**4, 0, BSI)),
    ("100Ti", dec(100 * 1024**4, 0, BSI)),
    ("5n", dec(5, -9)),
    ("4u", dec(4, -6)),
    ("3m", dec(3, -3)),
    ("9", dec(9, 0)),
    ("8k", dec(8, 3)),
    ("50k", dec(5, 4)),
    ("7M", dec(7, 6)),
    ("6G", dec(6, 9)),
    ("5T", dec(5, 12)),
    ("40T", dec(4, 13)),
    ("300T", dec(3, 14)),
    ("2P", dec(2, 15)),
    ("1E", dec(1, 18)),
    ("1E-3", dec(1, -3, DEX)),
    ("1e3", dec(1, 3, DEX)),
    ("1E6", dec(1, 6, DEX)),
    ("1e9", dec(1, 9, DEX)),
    ("1E12", dec(1, 12, DEX)),
    ("1e15", dec(1, 15, DEX)),
    ("1E18", dec(1, 18, DEX)),
    ("1e14", dec(1, 14, DEX)),
    ("1e13", dec(1, 13, DEX)),
    ("100.035k", dec(100035, 0)),
    ("0.001", dec(1, -3)),
    ("0.0005k", dec(5, -1)),
    ("0.005", dec(5, -3)),
    ("0.05", dec(5, -2)),
    ("0.5", dec(5, -1)),
    ("0.00050k", dec(5, -1)),
    ("0.00500", dec(5, -3)),
    ("0.05000", dec(5, -2)),
    ("0.50000", dec(5, -1)),
    ("0.5e0", dec(5, -1, DEX)),
    ("0.5e-1", dec(5, -2, DEX)),
    ("0.5e-2", dec(5, -3, DEX)),
    ("10.035M", dec(10035, 3)),
    ("1.2e3", dec(12, 2, DEX)),
    ("1.3E+6", dec(13, 5, DEX)),
    ("1.40e9", dec(14, 8, DEX)),
    ("1.53E12", dec(153, 10, DEX)),
    ("1.6e15", dec(16, 14, DEX)),
    ("1.7E18", dec(17, 17, DEX)),
    ("9.01", dec(901, -2)),
    ("8.1k", dec(81, 2)),
    ("7.123456M", dec(7123456, 0)),
    ("6.987654321G", dec(6987654321, 0)),
    ("5.444T", dec(5444, 9)),
    ("40.1T", dec(401, 11)),
    ("300.2T", dec(3002, 11)),
    ("2.5P", dec(25, 14)),
    ("1.01E", dec(101, 16)),
    # Things that saturate/round
    ("3.001n", dec(4, -9)),
    ("1.1E-9", dec(2, -9, DEX)),
    ("0.0000000001", dec(1, -9)),
    ("0.0000000005", dec(1, -9)),
    ("0.00000000050", dec(1, -9)),
    ("0.5e-9", dec(1, -9, DEX)),
    ("0.9n", dec(1, -9)),
    ("0.00000012345", dec(124, -9)),
    ("0.00000012354", dec(124, -9)),
    ("9Ei", dec(MAX_I64, 0, BSI)),
    ("9223372036854775807Ki", dec(MAX_I64, 0, BSI)),
    ("12E", dec(12, 18)),
    # fractional binary
    ("100.035Ki", dec(10243584, -2, BSI)),
    ("0.5Mi", dec(512 * 1024, 0, BSI)),
    ("0.05Gi", dec(536870912, -1, BSI)),
    ("0.025Ti", dec(274877906944, -1, BSI)),
    # Things written by trolls
    ("0.000000000001Ki", dec(2, -9)),
    (".001", dec(1, -3)),
    (".0001k", dec(100, -3)),
    ("1.", dec(1, 0)),
    ("1.G", dec(1, 9)),
]


@pytest.mark.parametrize(("text", "expect"), PARSE_TABLE, ids=[t for t, _ in PARSE_TABLE])
def test_parse_table(text: str, expect: Quantity) -> None:
    got = Quantity.parse(text)
    assert got == expect
    assert got.format == expect.format
    # The negative and explicitly positive versions parse alike.
    neg = Quantity.parse("-" + text)
    assert neg == -expect
    assert neg.format == expect.format
    plus = Quantity.parse("+" + text)
    assert plus == expect
    assert plus.format == expect.format


INVALID = [
    ("1.1.M", ERR_FORMAT_WRONG),
    ("1+1.0M", ERR_FORMAT_WRONG),
    ("0.1mi", ERR_SUFFIX),
    ("0.1am", ERR_FORMAT_WRONG),
    ("aoeu", ERR_FORMAT_WRONG),
    (".5i", ERR_SUFFIX),
    ("1i", ERR_SUFFIX),
    ("-3.01i", ERR_SUFFIX),
    ("-3.01e-", ERR_SUFFIX),
    (" 1", ERR_FORMAT_WRONG),
    ("1 ", ERR_FORMAT_WRONG),
    ("", ERR_FORMAT_WRONG),
    ("Non-Numeric", ERR_FORMAT_WRONG),
    ("e", ERR_SUFFIX),
    ("1e99999999999999999999", ERR_SUFFIX),
    # The slow path needs a digit: "Ei" overflows the fast path's precision.
    ("Ei", ERR_NUMERIC),
    ("-.Pi", ERR_NUMERIC),
    (".e-10", ERR_NUMERIC),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        Quantity.parse(text)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_error_message_is_kubernetes() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("text", "positive", "value", "num", "denom", "suffix"),
    [
        ("0.025Ti", True, "0.025", "0", "025", "Ti"),
        ("1.025Ti", True, "1.025", "1", "025", "Ti"),
        ("-1.025Ti", False, "-1.025", "1", "025", "Ti"),
        (".", True, ".", "0", "", ""),
        ("-.", False, "-.", "0", "", ""),
        ("1E-3", True, "1", "1", "", "E-3"),
    ],
)
def test_scanner(text, positive, value, num, denom, suffix) -> None:  # TestParseQuantityString
    sc = _scan(text)
    assert (sc.positive, sc.value, sc.num, sc.denom, sc.suffix) == (
        positive,
        value,
        num,
        denom,
        suffix,
    )


@pytest.mark.parametrize("text", ["k", "Mi", ".", "-.", "-", "+", "000", "-0", ".Ki"])
def test_scanner_quirks_parse_as_zero(text: str) -> None:
    assert Quantity.parse(text).is_zero()
    assert str(Quantity.parse(text).canonical()) == "0"


# TestQuantityString: (value, expected canonical, alternate spelling)
STRING_TABLE = [
    (dec(1024**3, 0, BSI), "1Gi", "1024Mi"),
    (dec(300 * 1024**2, 0, BSI), "300Mi", "307200Ki"),
    (dec(6 * 1024, 0, BSI), "6Ki", ""),
    (dec(1001 * 1024**3, 0, BSI), "1001Gi", "1025024Mi"),
    (dec(1024**4, 0, BSI), "1Ti", "1024Gi"),
    (dec(5, 0, BSI), "5", "5000m"),
    (dec(500, -3, BSI), "500m", "0.5"),
    (dec(1, 9), "1G", "1000M"),
    (dec(1000, 6), "1G", "0.001T"),
    (dec(1000000, 3), "1G", ""),
    (dec(1000000000, 0), "1G", ""),
    (dec(1, -3), "1m", "1000u"),
    (dec(80, -3), "80m", ""),
    (dec(1080, -3), "1080m", "1.08"),
    (dec(108, -2), "1080m", "1080000000n"),
    (dec(10800, -4), "1080m", ""),
    (dec(300, 6), "300M", ""),
    (dec(1, 12), "1T", ""),
    (dec(1, 18), "1E", ""),
    (dec(1, 21), "1e21", "1000E"),
    (dec(5, 21), "5e21", "5000E"),
    (dec(1, 24), "1e24", "1000000E"),
    (dec(1234567, 6), "1234567M", ""),
    (dec(1234567, -3, BSI), "1234567m", ""),
    (dec(3, 3), "3k", ""),
    (dec(1025, 0, BSI), "1025", ""),
    (dec(0, 0), "0", ""),
    (dec(0, 0, BSI), "0", ""),
    (dec(1, 9, DEX), "1e9", ".001e12"),
    (dec(1, -3, DEX), "1e-3", "0.001e0"),
    (dec(1, -9, DEX), "1e-9", "1000e-12"),
    (dec(80, -3, DEX), "80e-3", ""),
    (dec(300, 6, DEX), "300e6", ""),
    (dec(1, 12, DEX), "1e12", ""),
    (dec(1, 3, DEX), "1e3", ""),
    (dec(3, 3, DEX), "3e3", ""),
    (dec(3, 3), "3k", ""),
    (dec(0, 0, DEX), "0", "00"),
    (dec(1, -9), "1n", ""),
    (dec(80, -9), "80n", ""),
    (dec(1080, -9), "1080n", ""),
    (dec(108, -8), "1080n", ""),
    (dec(10800, -10), "1080n", ""),
    (dec(1, -6), "1u", ""),
    (dec(80, -6), "80u", ""),
    (dec(1080, -6), "1080u", ""),
]


@pytest.mark.parametrize(
    ("q", "expect", "alternate"), STRING_TABLE, ids=[e for _, e, _ in STRING_TABLE]
)
def test_string_table(q: Quantity, expect: str, alternate: str) -> None:
    assert str(q) == q.canonical() == expect
    parsed = Quantity.parse(expect)
    assert parsed == q
    assert str(parsed) == expect  # "did not copy canonical string on parse"
    if alternate:
        alt = Quantity.parse(alternate)
        assert alt._echo is None  # Kubernetes: "unexpected nested string"
        assert str(alt) == expect
    if not q.is_zero():
        assert str(-q) == "-" + expect  # never "-0"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        ("1Gi", "1Gi"),
        ("1024Mi", "1Gi"),
        ("1000M", "1G"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        # The brief's examples.
        ("1.5Gi", "1536Mi"),
        ("0.1", "100m"),
        ("2e3", "2e3"),
        ("1000m", "1"),
    ],
)
def test_parse_emit(text: str, expect: str) -> None:  # TestQuantityParseEmit
    assert str(Quantity.parse(text)) == expect
    assert str(Quantity.parse("-" + text)) == "-" + expect


@pytest.mark.parametrize(
    ("text", "shown", "canonical"),
    [
        # ParseQuantity's fast path keeps inputs that "look canonical" verbatim.
        ("+1", "+1", "1"),
        ("01", "01", "1"),
        ("1.", "1.", "1"),
        ("1.G", "1.G", "1G"),
        ("1E3", "1E3", "1e3"),
        ("1e+3", "1e+3", "1e3"),
        ("1e0", "1e0", "1"),
        ("01Ki", "01Ki", "1Ki"),
        ("0", "0", "0"),
        # Not cached: trailing zeros, a fraction, a multiple of 8 Ki, the slow path.
        ("1000", "1k", "1k"),
        ("0.5", "500m", "500m"),
        ("8Ki", "8Ki", "8Ki"),
        ("1.5Gi", "1536Mi", "1536Mi"),
        ("1e-10", "1e-9", "1e-9"),
    ],
)
def test_kubernetes_echoes_canonical_looking_input(text: str, shown: str, canonical: str):
    q = Quantity.parse(text)
    assert str(q) == shown
    assert q.canonical() == canonical
    # Arithmetic drops the echo, as Add/Sub/Neg clear Kubernetes' cached string.
    assert str(q + Quantity.zero()) == canonical
    negated = -q
    assert str(-negated) == canonical


def test_binary_si_caps_and_prints() -> None:
    assert str(Quantity.parse("8Ei")) == "9223372036854775807"
    assert str(Quantity.parse("-9Ei")) == "-9223372036854775807"
    two63 = Quantity(1 << 63, BSI)  # reachable by arithmetic only
    assert str(two63) == "8Ei"
    assert str(two63 * 1024) == "8192Ei"  # Kubernetes has no suffix past Ei
    assert str(Quantity(1536, BSI)) == "1536"
    assert str(Quantity(Fraction(2049, 2), BSI)) == "1024500m"  # fractional: DecimalSI


def test_cmp() -> None:  # TestQuantityCmp
    p = Quantity.parse
    assert p("0") == p("0")
    assert p("100m") > p("50m")
    assert p("50m") < p("100m")
    assert p("10000T") > p("100Gi")
    assert p("1Gi") == p("1073741824")
    assert hash(p("1Gi")) == hash(p("1073741824"))
    assert p("1e2000000000") > p("9e1999999999")
    assert p("-1e2000000000") < p("1")
    assert sorted([p("1"), p("-1"), p("1m"), p("1Ki")]) == [p("-1"), p("1m"), p("1"), p("1Ki")]
    assert (p("1") == 1) is False


@pytest.mark.parametrize("value", ["100m", "1Gi"])
def test_add_sub_zero_preserves_suffix(value: str) -> None:
    q, zero = Quantity.parse(value), Quantity.parse("0")
    assert str(q + zero) == value
    assert str(zero + q) == value
    assert str(q - zero) == value
    assert str(zero - q) == str(-q) == "-" + value


def test_add_sub_formats() -> None:  # TestAdd / TestSub
    assert (dec(10, 0) + dec(1, 1)) == dec(20, 0)
    r = dec(10, 0) + dec(1, 0, BSI)
    assert (r, r.format) == (dec(11, 0), DSI)
    r = dec(10, 0, BSI) + dec(1, 0)
    assert (r, r.format) == (dec(11, 0), BSI)
    r = dec(10, 0) - dec(1, 0, BSI)
    assert (r, r.format) == (dec(9, 0), DSI)
    r = dec(10, 0, BSI) - dec(1, 0)
    assert (r, r.format) == (dec(9, 0), BSI)
    assert Quantity.zero() - dec(50, 0) == dec(-50, 0)
    assert Quantity.zero() + Quantity.zero() == dec(0, 0)


def test_neg_and_mul() -> None:
    assert str(-dec(901, -2)) == "-9010m"  # TestQuantityNeg
    assert (-dec(10, 0, BSI)).format == BSI
    assert dec(10, 0) * -10 == dec(-100, 0)
    assert 3 * Quantity.parse("1Gi") == Quantity.parse("3Gi")
    assert str(Quantity.parse("500m") * 2) == "1"


@pytest.mark.parametrize(
    ("milli", "fmt", "expect", "exact"),
    [
        (1, DSI, "1m", True),
        (1000, DSI, "1", True),
        (1234000, DSI, "1234", True),
        (1024, BSI, "1024m", False),
        (1024 * 1024, BSI, "1048576m", False),
        (1000000, DEX, "1e3", True),
    ],
)
def test_milli_new(milli: int, fmt: Format, expect: str, exact: bool) -> None:
    q = Quantity.from_milli(milli, fmt)
    assert str(q) == expect
    if exact:
        assert Quantity.parse(str(q)).milli_value() == milli


@pytest.mark.parametrize(
    ("value", "fmt", "expect"),
    [
        (1, DSI, "1"),
        (1000, DSI, "1k"),
        (1234000, DSI, "1234k"),
        (1024, BSI, "1Ki"),
        (1000000, DEX, "1e6"),
        (1024 * 1024, BSI, "1Mi"),
    ],
)
def test_new(value: int, fmt: Format, expect: str) -> None:  # TestNewSet
    q = Quantity(value, fmt)
    assert str(q) == expect
    assert Quantity.parse(str(q)).value_int() == value


@pytest.mark.parametrize(
    ("from_scale", "to_scale", "expected"),
    [
        (-9, -9, 1),
        (-9, -6, 1),
        (-9, -3, 1),
        (-9, 0, 1),
        (-6, -9, 1000),
        (-6, -6, 1),
        (-6, -3, 1),
        (-6, 0, 1),
        (-3, -9, 10**6),
        (-3, -6, 1000),
        (-3, -3, 1),
        (-3, 0, 1),
        (0, -9, 10**9),
        (0, -6, 10**6),
        (0, -3, 1000),
        (0, 0, 1),
        (2, -2, 100 * 100),
    ],
)
def test_scaled_value(from_scale: int, to_scale: int, expected: int) -> None:
    assert dec(1, from_scale).scaled_value(to_scale) == expected


def test_value_rounding() -> None:
    p = Quantity.parse
    assert p("1.5").value_int() == 2
    assert p("-1.5").value_int() == -2  # away from zero, as Kubernetes' int64 path
    assert p("100m").milli_value() == 100
    assert p("0.1m").milli_value() == 1
    assert p("1n").milli_value() == 1
    assert p("-1n").milli_value() == -1
    assert p("1Gi").value_int() == 1 << 30
    assert p("9223372036854775807").value_int() == MAX_I64
    with pytest.raises(OverflowError):
        p("9223372036854775808").value_int()
    with pytest.raises(OverflowError):
        p("1e2000000000").milli_value()
    assert p("1e-2000000000").value_int() == 1  # parse rounded it up to 1n


def test_helpers() -> None:
    assert cpu_millis("250m") == 250
    assert cpu_millis("2") == 2000
    assert cpu_millis(0.5) == 500
    assert cpu_millis(Quantity.parse("1.5")) == 1500
    assert memory_bytes("1.5Gi") == 1536 * 1024**2
    assert memory_bytes("128974848") == 128974848
    assert memory_bytes("129e6") == 129_000_000
    assert memory_bytes(3) == 3
    assert parse_quantity("1k") == Quantity(1000)


def test_parse_numbers_as_json_does() -> None:
    assert Quantity.parse(2) == Quantity(2)
    assert Quantity.parse(1.5) == Quantity(Fraction(3, 2))
    assert str(Quantity.parse(0.25)) == "250m"
    with pytest.raises(QuantityError):
        Quantity.parse(True)
    with pytest.raises(QuantityError):
        Quantity.parse(float("nan"))
    with pytest.raises(TypeError):
        Quantity.parse(None)  # type: ignore[arg-type]


def test_immutable_hashable_picklable() -> None:
    q = Quantity.parse("1Gi")
    with pytest.raises(AttributeError):
        q._m = 3  # type: ignore[misc]
    assert {q, Quantity.parse("1024Mi")} == {q}
    assert pickle.loads(pickle.dumps(q)) == q
    assert str(pickle.loads(pickle.dumps(Quantity.parse("+1")))) == "+1"
    assert repr(q) == "Quantity('1Gi')"
    with pytest.raises(ValueError):
        Quantity(Fraction(1, 3))
    with pytest.raises(TypeError):
        Quantity(1.5)  # type: ignore[arg-type]
    assert bool(Quantity.zero()) is False
    assert Quantity.zero().format == DSI


# -- properties -------------------------------------------------------------------

_SUFFIXES = [
    "",
    "n",
    "u",
    "m",
    "k",
    "M",
    "G",
    "T",
    "P",
    "E",
    "Ki",
    "Mi",
    "Gi",
    "Ti",
    "Pi",
    "Ei",
    "e3",
    "E-3",
    "e-9",
    "e12",
    "e+6",
]


@st.composite
def quantity_strings(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "-", "+"]))
    num = draw(st.text("0123456789", min_size=1, max_size=12))
    frac = draw(st.one_of(st.just(None), st.text("0123456789", max_size=12)))
    suffix = draw(st.sampled_from(_SUFFIXES))
    return sign + num + ("" if frac is None else "." + frac) + suffix


quantities = quantity_strings().map(Quantity.parse)


@given(quantities)
def test_canonical_is_stable(q: Quantity) -> None:
    again = Quantity.parse(q.canonical())
    assert again == q
    assert again.canonical() == q.canonical()
    assert Quantity.parse(str(q)) == q
    assert Quantity.parse(str(q)).canonical() == q.canonical()


@given(quantity_strings())
def test_parse_is_exact_to_the_nano(text: str) -> None:
    q = Quantity.parse(text)
    assert q.value * 10**9 == int(q.value * 10**9)  # a whole number of nanos
    assert isinstance(q.value, Fraction)


@given(quantities, quantities, quantities)
def test_arithmetic_is_exact(a: Quantity, b: Quantity, c: Quantity) -> None:
    assert (a + b).value == a.value + b.value
    assert (a - b).value == a.value - b.value
    assert (a + b) + c == a + (b + c)
    assert a + b - b == a
    assert (-a).value == -a.value
    assert (a < b) == (a.value < b.value)
    assert (a == b) == (a.value == b.value)
    total = a + b
    if total.format is not BSI or abs(total.value) <= MAX_I64:  # parsing caps BinarySI
        assert Quantity.parse(total.canonical()) == total


@given(quantities)
def test_rounding_accessors(q: Quantity) -> None:
    v = q.value * 1000
    try:
        milli = q.milli_value()
    except OverflowError:
        assert abs(v) > MAX_I64 - 1
        return
    assert abs(milli) == -(-abs(v) // 1)  # magnitude rounded up
    assert milli * q.sign() >= 0
