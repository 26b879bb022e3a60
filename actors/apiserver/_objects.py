"""Small helpers over API objects in their JSON form (plain dicts), for the server side.

What it is: timestamps as Kubernetes prints them (``metav1.Time``: RFC 3339, second
precision, UTC), UUID-shaped uids drawn from a seeded generator, metadata accessors that
never mutate their input, and the ``Options`` the verbs read from an ``ApiRequest``'s
query parameters.

Concurrency model: none; pure functions.

Invariants: no function here mutates an argument; ``with_meta`` returns a shallow copy of
the object and of its metadata only (deeper values are shared and must not be mutated by
callers either).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Mapping
from typing import Any

from actors.api import ListMeta, Status, StatusDetails

__all__ = [
    "failure",
    "success",
    "get_meta",
    "name_of",
    "namespace_of",
    "new_uid",
    "parse_rfc3339",
    "param_bool",
    "param_int",
    "rfc3339",
    "rv_of",
    "with_meta",
]

_UTC = datetime.UTC


def rfc3339(seconds: float) -> str:
    """``metav1.Time`` as JSON: ``2026-01-01T00:00:00Z`` (whole seconds, as Kubernetes)."""
    return datetime.datetime.fromtimestamp(int(seconds), tz=_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (``Z`` or an offset)."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def new_uid(rng: random.Random) -> str:
    """A version-4-shaped UUID from the seeded generator (never ``uuid4``)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def get_meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(get_meta(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(get_meta(obj).get("namespace") or "")


def rv_of(obj: Mapping[str, Any]) -> str:
    return str(get_meta(obj).get("resourceVersion") or "")


def with_meta(obj: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``obj`` whose metadata has ``changes`` applied (None removes a field).
    Keyword names are the JSON names (``resourceVersion``)."""
    meta = dict(get_meta(obj))
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    out = dict(obj)
    out["metadata"] = meta
    return out


def param_bool(params: Mapping[str, str], key: str) -> bool:
    return str(params.get(key, "")).lower() in ("true", "1")


def param_int(params: Mapping[str, str], key: str) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    return int(raw)


def failure(code: int, reason: str, message: str,
            details: StatusDetails | None = None) -> Status:
    """A failure Status for the few answers ``actors.api`` has no constructor for."""
    return Status(metadata=ListMeta(), status="Failure", message=message, reason=reason,
                  details=details, code=code)


def success(code: int = 200, details: StatusDetails | None = None) -> Status:
    return Status(metadata=ListMeta(), status="Success", details=details, code=code)
