"""coordination.k8s.io/v1 Lease: the record leader election and node heartbeats use.

What it is: a frozen msgspec Struct mirroring ``k8s.io/api/coordination/v1``.
Concurrency model: none; values only (see ``_meta``).
Invariants: ``acquireTime``/``renewTime`` are MicroTime strings (RFC 3339 with
microseconds, "2024-01-01T00:00:00.000000Z"); no clock is read here.
"""

from __future__ import annotations

from typing import ClassVar

from ._meta import Obj, ObjectMeta, TopLevel

__all__ = ["Lease", "LeaseSpec"]


class LeaseSpec(Obj, kw_only=True):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(TopLevel, tag="Lease", kw_only=True):
    API_VERSION: ClassVar[str] = "coordination.k8s.io/v1"

    metadata: ObjectMeta | None = None
    spec: LeaseSpec | None = None
