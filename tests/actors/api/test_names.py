"""Name generation, the pod-template hash and the name validators, against Kubernetes'
own cases (apimachinery util/validation/validation_test.go, util/rand, storage/names)."""

from __future__ import annotations

import random
from collections import Counter

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.api._names import (
    ALPHANUMS,
    fnv32a,
    generate_name,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    pod_template_hash,
    rand_string,
    safe_encode_string,
)

LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QNAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
    "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

# -- TestIsDNS1123Label / Subdomain / DNS1035Label / QualifiedName / ValidLabelValue -------

LABEL_GOOD = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a",
              "1--a--b--2", "a" * 63]  # fmt: skip
LABEL_BAD = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_",
             "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ",
             " a", "a b", "1 ", " 1", "1 2", "a" * 64, "a\n"]  # fmt: skip
SUBDOMAIN_GOOD = [*LABEL_GOOD[:-1], "a.a", "ab.a", "abc.a", "a1.a", "a-1.a", "a--1--2--b.a",
                  "a.1", "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1", "0.a", "01.a",
                  "012.a", "1a.a", "1-a.a", "1--a--b--2", "0.1", "01.1", "012.1", "1a.1",
                  "1-a.1", "1--a--b--2.1", "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5",
                  "11.22.33.44.55", "a" * 253]  # fmt: skip
SUBDOMAIN_BAD = ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_",
                 "a_", "_a", "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1",
                 "1..2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A", "A1.a",
                 "a1.A", "A.1", "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A",
                 "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee", "a@b", "a,b",
                 "a_b", "a;b", "a:b", "a%b", "a?b", "a$b", "a" * 254]  # fmt: skip
DNS1035_GOOD = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63]
DNS1035_BAD = ["0", "01", "012", "1a", "1-a", "1--a--b--2", "", "A", "ABC", "aBc", "A1", "A-1",
               "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1", "1_2", ".",
               "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2",
               "a" * 64]  # fmt: skip
QNAME_GOOD = ["simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple",
              "now-with-dashes/simple", "now-with-dashes/now-with-dashes", "now.with.dots/simple",
              "now-with.dashes-and.dots/simple", "1-num.2-num/3-num", "1234/5678",
              "1.2.3.4/5678", "Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123",
              "requests.storage-foo", "a" * 63, "a" * 253 + "/" + "b" * 63]  # fmt: skip
QNAME_BAD = ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-", "only/one/slash",
             "Example.com/abc", "example_com/abc", "example.com/", "/simple", "a" * 64,
             "a" * 254 + "/abc"]  # fmt: skip
VALUE_GOOD = ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234",
              "a" * 63, ""]  # fmt: skip
VALUE_BAD = ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad",
             "-starts-with-dash", "ends-with-dash-", ".starts.with.dot", "ends.with.dot.",
             "a" * 64]  # fmt: skip

CASES = [
    (is_dns1123_label, LABEL_GOOD, LABEL_BAD),
    (is_dns1123_subdomain, SUBDOMAIN_GOOD, SUBDOMAIN_BAD),
    (is_dns1035_label, DNS1035_GOOD, DNS1035_BAD),
    (is_qualified_name, QNAME_GOOD, QNAME_BAD),
    (is_valid_label_value, VALUE_GOOD, VALUE_BAD),
]


@pytest.mark.parametrize(("check", "good", "bad"), CASES, ids=[c[0].__name__ for c in CASES])
def test_validators_accept_and_reject(check, good, bad) -> None:
    for value in good:
        assert check(value) == [], value
    for value in bad:
        errs = check(value)
        assert errs and all(isinstance(e, str) for e in errs), value


@pytest.mark.parametrize(
    ("check", "value", "errors"),
    [
        (is_dns1123_label, "My_Name", [LABEL_RULE]),
        (is_dns1123_label, "a.b", ["must not contain dots"]),
        (is_dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
        (is_dns1123_label, "A" * 64, ["must be no more than 63 characters", LABEL_RULE]),
        (is_dns1123_subdomain, "a..b", [SUBDOMAIN_RULE]),
        (is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
        (is_dns1035_label, "1abc", [DNS1035_RULE]),
        (is_qualified_name, "-x", ["name part " + QNAME_RULE]),
        (is_qualified_name, "", ["name part must be non-empty", "name part " + QNAME_RULE]),
        (is_qualified_name, "/simple", ["prefix part must be non-empty"]),
        (is_qualified_name, "example.com/", ["name part must be non-empty", "name part " + QNAME_RULE]),
        (is_qualified_name, "Example.com/abc", ["prefix part " + SUBDOMAIN_RULE]),
        (is_qualified_name, "a" * 64, ["name part must be no more than 63 characters"]),
        (is_qualified_name, "only/one/slash", ["a qualified name " + QNAME_RULE
         + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
        (is_valid_label_value, "-a", [VALUE_RULE]),
        (is_valid_label_value, "a" * 64, ["must be no more than 63 characters"]),
        # Go measures bytes: 32 two-byte characters are 64 bytes.
        (is_valid_label_value, "é" * 32, ["must be no more than 63 characters", VALUE_RULE]),
    ],
)  # fmt: skip
def test_exact_messages(check, value: str, errors: list[str]) -> None:
    assert check(value) == errors


# -- util/rand, storage/names ----------------------------------------------------------------


def test_rand_string_is_seeded_and_in_alphabet() -> None:
    a = rand_string(40, random.Random(7))
    assert a == rand_string(40, random.Random(7))
    assert a != rand_string(40, random.Random(8))
    assert len(a) == 40 and set(a) <= set(ALPHANUMS)
    assert rand_string(0, random.Random(1)) == ""
    with pytest.raises(ValueError):
        rand_string(-1, random.Random(1))


def test_rand_string_is_uniform() -> None:
    counts = Counter(rand_string(27 * 400, random.Random(3)))
    assert set(counts) == set(ALPHANUMS)
    assert all(300 < c < 500 for c in counts.values())  # expected 400 each


def test_generate_name() -> None:
    rng = random.Random(1)
    name = generate_name("nginx-", rng)
    assert name.startswith("nginx-") and len(name) == 11 and set(name[6:]) <= set(ALPHANUMS)
    long = generate_name("x" * 100, rng)
    assert len(long) == 63 and long.startswith("x" * 58) and long[58] != "x"
    assert generate_name("y" * 58, rng)[:58] == "y" * 58


def test_safe_encode_string() -> None:
    assert safe_encode_string("0123456789") == "456789bcdf"
    assert safe_encode_string("") == ""
    assert safe_encode_string("é") == ALPHANUMS[ord("é") % 27] + "\0"  # Go pads to byte length


# -- ComputeHash --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "digest"),
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968), (b"Hello world", 1498229191)],
)
def test_fnv32a_vectors(data: bytes, digest: int) -> None:
    assert fnv32a(data) == digest


TEMPLATE = {
    "metadata": {"labels": {"app": "nginx"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
}


def test_pod_template_hash_properties() -> None:
    h = pod_template_hash(TEMPLATE)
    assert h == pod_template_hash({"spec": TEMPLATE["spec"], "metadata": TEMPLATE["metadata"]})
    assert set(h) <= set("456789bcdf") and 1 <= len(h) <= 10
    changed = {**TEMPLATE, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}}
    assert pod_template_hash(changed) != h
    assert pod_template_hash(TEMPLATE, 0) != h  # a present count, even 0, is hashed
    assert pod_template_hash(TEMPLATE, 1) != pod_template_hash(TEMPLATE, 0)
    assert pod_template_hash(TEMPLATE, -1) == pod_template_hash(TEMPLATE, 0xFFFFFFFF)  # uint32
    # Golden value: pins our serialisation so a refactor cannot silently rename ReplicaSets.
    assert h == safe_encode_string(str(fnv32a(msgspec.json.encode(TEMPLATE, order="sorted"))))


def test_pod_template_hash_accepts_structs() -> None:
    class Container(msgspec.Struct):
        name: str
        image: str

    class Spec(msgspec.Struct):
        containers: list[Container]

    struct_hash = pod_template_hash({"metadata": TEMPLATE["metadata"],
                                     "spec": Spec([Container("nginx", "nginx:1.25")])})  # fmt: skip
    assert struct_hash == pod_template_hash(TEMPLATE)


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=5),
       st.none() | st.integers(0, 2**31 - 1))  # fmt: skip
def test_hash_is_deterministic_and_safe(template: dict[str, object], count: int | None) -> None:
    h = pod_template_hash(template, count)
    assert h == pod_template_hash(dict(reversed(list(template.items()))), count)
    assert set(h) <= set("456789bcdf")


@given(st.text(alphabet="abc-", max_size=80), st.integers(0, 2**32))
def test_generated_names_fit(base: str, seed: int) -> None:
    name = generate_name(base, random.Random(seed))
    assert len(name) == min(len(base), 58) + 5
