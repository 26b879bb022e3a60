"""DNS messages on the wire (RFC 1035 §4), reduced to what cluster DNS needs.

What it is: ``encode_query``/``decode_query`` and ``encode_response``/``decode_response`` for
one-question messages, with A (1), CNAME (5), SRV (33) and AAAA (28) types known by number;
answers carry A records (and SRV for ``_port._proto`` names) as the CoreDNS ``kubernetes``
plugin writes them. Names are compressed in answers by a pointer to the question (0xC00C), as
every real server does. Over TCP a message is preceded by its two-byte length (RFC 1035
§4.2.2): ``tcp_frame``/``tcp_unframe``.

Concurrency model: none; pure functions on bytes and frozen values.

Invariants: ``decode_query(encode_query(q)) == q`` and likewise for responses; a malformed
message raises ``DnsFormatError`` (a server answers FORMERR, a client treats it as no
answer); names are lower-cased and without the trailing dot.
"""

from __future__ import annotations

import struct

import msgspec

__all__ = [
    "A",
    "AAAA",
    "CNAME",
    "FORMERR",
    "NOERROR",
    "NXDOMAIN",
    "SERVFAIL",
    "SRV",
    "DnsFormatError",
    "DnsQuery",
    "DnsRecord",
    "DnsResponse",
    "decode_query",
    "decode_response",
    "encode_query",
    "encode_response",
    "tcp_frame",
    "tcp_unframe",
]

A, CNAME, AAAA, SRV = 1, 5, 28, 33
IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN = 0, 1, 2, 3
_QR, _AA, _RD, _RA = 0x8000, 0x0400, 0x0100, 0x0080
_HEADER = struct.Struct("!HHHHHH")


class DnsFormatError(ValueError):
    """The bytes are not a DNS message this module can read."""


class DnsQuery(msgspec.Struct, frozen=True, tag="dns.query"):
    id: int
    name: str
    qtype: int = A


class DnsRecord(msgspec.Struct, frozen=True, tag="dns.rr"):
    """An answer: A/AAAA carry an address in ``data``; SRV carries ``target`` and ``port``."""

    name: str
    rtype: int
    ttl: int
    data: str = ""
    port: int = 0
    priority: int = 0
    weight: int = 0


class DnsResponse(msgspec.Struct, frozen=True, tag="dns.response"):
    id: int
    name: str
    qtype: int
    rcode: int
    answers: tuple[DnsRecord, ...] = ()
    authoritative: bool = True


def _name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsFormatError(f"bad label {label!r} in {name!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\x00")


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    for _ in range(128):  # bounds pointer loops
        if pos >= len(data):
            raise DnsFormatError("name runs past the message")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer")
            if end < 0:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        if n == 0:
            return ".".join(labels).lower(), (end if end >= 0 else pos + 1)
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", errors="replace"))
        pos += 1 + n
    raise DnsFormatError("compression pointer loop")


def encode_query(q: DnsQuery) -> bytes:
    """A standard query with recursion desired, as glibc's stub resolver sends it."""
    return _HEADER.pack(q.id, _RD, 1, 0, 0, 0) + _name(q.name) + struct.pack("!HH", q.qtype, IN)


def _question(data: bytes) -> tuple[int, int, str, int, int]:
    if len(data) < _HEADER.size:
        raise DnsFormatError("message shorter than a header")
    ident, flags, qd, an, _, _ = _HEADER.unpack_from(data)
    if qd != 1:
        raise DnsFormatError(f"{qd} questions (one expected)")
    name, pos = _read_name(data, _HEADER.size)
    if pos + 4 > len(data):
        raise DnsFormatError("truncated question")
    qtype, _qclass = struct.unpack_from("!HH", data, pos)
    return ident, flags, name, qtype, an


def decode_query(data: bytes) -> DnsQuery:
    ident, flags, name, qtype, _ = _question(data)
    if flags & _QR:
        raise DnsFormatError("a response, not a query")
    return DnsQuery(ident, name, qtype)


def _rdata(rr: DnsRecord) -> bytes:
    if rr.rtype == A:
        return bytes(int(p) for p in rr.data.split("."))
    if rr.rtype == SRV:
        return struct.pack("!HHH", rr.priority, rr.weight, rr.port) + _name(rr.data)
    return _name(rr.data)  # CNAME


def encode_response(r: DnsResponse) -> bytes:
    flags = _QR | _RD | _RA | (_AA if r.authoritative else 0) | (r.rcode & 0xF)
    out = bytearray(_HEADER.pack(r.id, flags, 1, len(r.answers), 0, 0))
    out += _name(r.name) + struct.pack("!HH", r.qtype, IN)
    for rr in r.answers:
        owner = b"\xc0\x0c" if rr.name == r.name else _name(rr.name)
        rdata = _rdata(rr)
        out += owner + struct.pack("!HHIH", rr.rtype, IN, rr.ttl, len(rdata)) + rdata
    return bytes(out)


def _read_record(data: bytes, pos: int) -> tuple[DnsRecord, int]:
    name, pos = _read_name(data, pos)
    if pos + 10 > len(data):
        raise DnsFormatError("truncated resource record")
    rtype, _cls, ttl, length = struct.unpack_from("!HHIH", data, pos)
    pos += 10
    raw = data[pos:pos + length]
    if len(raw) != length:
        raise DnsFormatError("truncated rdata")
    if rtype == A and length == 4:
        rr = DnsRecord(name, rtype, ttl, ".".join(str(b) for b in raw))
    elif rtype == SRV:
        prio, weight, port = struct.unpack_from("!HHH", data, pos)
        rr = DnsRecord(name, rtype, ttl, _read_name(data, pos + 6)[0], port, prio, weight)
    elif rtype == CNAME:
        rr = DnsRecord(name, rtype, ttl, _read_name(data, pos)[0])
    else:
        rr = DnsRecord(name, rtype, ttl, raw.hex())
    return rr, pos + length


def decode_response(data: bytes) -> DnsResponse:
    ident, flags, name, qtype, count = _question(data)
    if not flags & _QR:
        raise DnsFormatError("a query, not a response")
    pos = _read_name(data, _HEADER.size)[1] + 4
    answers = []
    for _ in range(count):
        rr, pos = _read_record(data, pos)
        answers.append(rr)
    return DnsResponse(ident, name, qtype, flags & 0xF, tuple(answers), bool(flags & _AA))


def tcp_frame(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def tcp_unframe(data: bytes) -> bytes:
    if len(data) < 2:
        raise DnsFormatError("TCP message without its length")
    (n,) = struct.unpack_from("!H", data)
    if len(data) - 2 < n:
        raise DnsFormatError("TCP message shorter than its length")
    return data[2:2 + n]
