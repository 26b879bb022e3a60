"""discovery.k8s.io/v1 EndpointSlice.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/discovery/v1``. Kubernetes
names the nested types ``Endpoint``/``EndpointPort``; here they are ``EndpointSliceEndpoint``
and ``EndpointSlicePort`` so they do not clash with core/v1 Endpoints' types.
Concurrency model: none; values only (see ``_meta``).
Invariants: every optional field defaults to ``None`` (see ``_meta``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._meta import Obj, ObjectMeta, ObjectReference, TopLevel

__all__ = [
    "EndpointConditions",
    "EndpointSlice",
    "EndpointSliceEndpoint",
    "EndpointSlicePort",
]


class EndpointConditions(Obj, kw_only=True):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class EndpointSliceEndpoint(Obj, kw_only=True):
    addresses: list[str] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: dict[str, str] | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: dict[str, Any] | None = None


class EndpointSlicePort(Obj, kw_only=True):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(TopLevel, tag="EndpointSlice", kw_only=True):
    API_VERSION: ClassVar[str] = "discovery.k8s.io/v1"

    metadata: ObjectMeta | None = None
    address_type: str | None = None
    endpoints: list[EndpointSliceEndpoint] | None = None
    ports: list[EndpointSlicePort] | None = None
