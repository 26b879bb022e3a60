"""Envelopes: what crosses the bus. Encodable with msgspec so the bus can later carry them between
processes (the transport seam). Inside one process the hot path moves plain tuples and builds an
``Envelope`` only when one is needed (tracing, delayed delivery records, transport)."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["TELL", "ASK", "REPLY", "FAILURE", "Down", "Envelope", "type_name"]

TELL = 0
ASK = 1
REPLY = 2
FAILURE = 3


class Envelope(msgspec.Struct, frozen=True, tag="rt.env"):
    sender: str
    target: str
    kind: int
    corr: int
    msg: Any


class Down(msgspec.Struct, frozen=True, tag="rt.down"):
    """Sent to every monitor of an actor that crashed or stopped (as a broken TCP connection
    tells its peer). It crosses the network like any message: a partition can hide it."""

    address: str
    reason: str


_names: dict[type, str] = {}


def type_name(msg: object) -> str:
    """The message's wire name: its msgspec tag when it has one, else the class name."""
    cls = type(msg)
    name = _names.get(cls)
    if name is None:
        cfg = getattr(cls, "__struct_config__", None)
        tag = getattr(cfg, "tag", None) if cfg is not None else None
        name = tag if isinstance(tag, str) else cls.__qualname__
        _names[cls] = name
    return name
