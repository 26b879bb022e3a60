"""Kubernetes protobuf request bodies, decoded into the objects' JSON form.

What it is: kubectl 1.32+ POSTs the objects of its ``kubectl create`` generators
(deployment, job, cronjob, namespace, configmap, secret, service, serviceaccount, quota,
role, clusterrole, rolebinding, clusterrolebinding, priorityclass, poddisruptionbudget,
token) as ``application/vnd.kubernetes.protobuf``: the magic
``k8s\\x00`` then a ``runtime.Unknown`` {1: TypeMeta{1 apiVersion, 2 kind}, 2: raw,
3: contentEncoding, 4: contentType}, where ``raw`` is the typed object encoded with the
field numbers of k8s.io/api's ``generated.proto``. This module reads the protobuf wire
format (varints and length-delimited fields are all these messages use) and maps field
numbers to JSON names with a small schema per message type (``_protobuf_schemas``),
covering what those generators set plus the common pod-spec fields.

Go's gogo-protobuf writes every non-pointer field, zero or not, so a zero scalar is
dropped unless JSON keeps it (``?`` in the schema: a Go pointer such as ``replicas: 0``,
or a field without ``omitempty``); a zero ``Time`` is dropped (JSON null). Nested
messages are kept even when empty, as Go's JSON encoder keeps non-pointer structs
(``"status": {}``), and an absent repeated field without ``omitempty`` is JSON null
(``"rules": null``), as Go prints a nil slice. A repeated integer may come packed (one
length-delimited run of varints, proto3's default) or one varint per element (proto2's,
which gogo writes).

Concurrency model: none; pure functions.

Invariants: an unknown field that carries data raises ``ProtobufError`` naming its path,
never silently drops it (an empty unknown message or a zero varint is skipped: that is
gogo writing a default). Output is exactly what the same object looks like as JSON.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from ._protobuf_schemas import KINDS, SCHEMAS

__all__ = ["MAGIC", "ProtobufError", "decode_object", "supported_kinds"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf object we can read."""


def supported_kinds() -> frozenset[tuple[str, str]]:
    """The (apiVersion, kind) pairs whose protobuf bodies we decode."""
    return KINDS


# -- the wire format -----------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field, in order."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        elif wire in (1, 5):  # fixed64/fixed32: unused by these messages, skipped whole
            size = 8 if wire == 1 else 4
            out.append((number, wire, data[pos:pos + size]))
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _signed(v: int) -> int:
    """int32/int64 fields are two's complement varints: negative numbers use 64 bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(raw: int | bytes, path: str) -> str:
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a length-delimited field")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ProtobufError(f"{path}: invalid UTF-8") from None


def _scalar(kind: str, raw: int | bytes, path: str) -> Any:
    if kind == "s":
        return _text(raw, path)
    if kind == "b":
        if not isinstance(raw, bytes):
            raise ProtobufError(f"{path}: expected bytes")
        return base64.b64encode(raw).decode()
    if kind in ("i", "u"):
        if not isinstance(raw, int):
            raise ProtobufError(f"{path}: expected a varint")
        return bool(raw) if kind == "u" else _signed(raw)
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a message")
    sub = {n: v for n, _, v in _fields(raw)}
    if kind == "q":  # resource.Quantity{1: string}
        return _text(sub.get(1, b""), path)
    if kind == "x":  # intstr.IntOrString{1: type, 2: intVal, 3: strVal}
        if sub.get(1, 0) == 1:
            return _text(sub.get(3, b""), path)
        return _signed(int(sub.get(2, 0)))  # type: ignore[call-overload]
    if kind == "t":  # metav1.Time{1: seconds, 2: nanos}; zero is JSON null
        seconds = _signed(int(sub.get(1, 0)))  # type: ignore[call-overload]
        if seconds == 0:
            return None
        when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise AssertionError(f"unknown scalar kind {kind!r}")


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False


def _map_entry(spec: str, raw: int | bytes, path: str) -> tuple[str, Any]:
    _, key_kind, value_kind = spec.split(":")
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a map entry")
    entry = {n: v for n, _, v in _fields(raw)}
    key = _scalar(key_kind, entry.get(1, b""), path)
    value = _scalar(value_kind, entry.get(2, b""), f"{path}[{key}]")
    return key, value


def _packed(kind: str, data: bytes, path: str) -> list[Any]:
    values, pos = [], 0
    while pos < len(data):
        v, pos = _varint(data, pos)
        values.append(_scalar(kind, v, path))
    return values


def _message(name: str, data: bytes, path: str) -> dict[str, Any]:
    schema = SCHEMAS[name]
    out: dict[str, Any] = {}
    for number, _wire, raw in _fields(data):
        field = schema.get(number)
        if field is None:
            if raw in (0, b""):  # gogo writing a Go zero value of a field we do not model
                continue
            raise ProtobufError(f"unsupported field {number} at {path or name} in a "
                                f"protobuf {name}; send the object as JSON instead")
        key, spec = field
        sub_path = f"{path}.{key}" if path else key
        repeated = spec.startswith("[]")
        spec = spec.removeprefix("[]")
        pointer = spec.endswith("?")
        spec = spec.removesuffix("?")
        if spec.startswith("M:"):
            k, v = _map_entry(spec, raw, sub_path)
            out.setdefault(key, {})[k] = v
            continue
        if repeated and spec in ("i", "u") and isinstance(raw, bytes):  # packed
            out.setdefault(key, []).extend(_packed(spec, raw, sub_path))
            continue
        if spec.startswith("m:"):
            if not isinstance(raw, bytes):
                raise ProtobufError(f"{sub_path}: expected a message")
            value: Any = _message(spec[2:], raw, sub_path)
        else:
            value = _scalar(spec, raw, sub_path)
        if repeated:
            out.setdefault(key, []).append(value)
        elif value is None or (_is_zero(value) and not pointer):
            continue
        else:
            out[key] = value
    for key, spec in schema.values():  # a nil slice without omitempty is JSON null
        if spec.startswith("[]") and spec.endswith("?"):
            out.setdefault(key, None)
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00`` protobuf body as the JSON dict of the same object, ``kind`` and
    ``apiVersion`` first. Raises ``ProtobufError`` on a malformed body, an unsupported
    kind or an unsupported field carrying data."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = {n: v for n, _, v in _fields(body[len(MAGIC):])}
    type_meta = unknown.get(1, b"")
    if not isinstance(type_meta, bytes):
        raise ProtobufError("malformed runtime.Unknown")
    tm = {n: v for n, _, v in _fields(type_meta)}
    api_version, kind = _text(tm.get(1, b""), "apiVersion"), _text(tm.get(2, b""), "kind")
    encoding = unknown.get(3, b"")
    if encoding not in (b"", 0):
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    if (api_version, kind) not in KINDS:
        raise ProtobufError(f"protobuf bodies of {api_version} {kind} are not supported; "
                            "send the object as JSON instead")
    raw = unknown.get(2, b"")
    if not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown raw field")
    return {"kind": kind, "apiVersion": api_version, **_message(kind, raw, "")}
