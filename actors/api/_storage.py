"""storage.k8s.io/v1 StorageClass.

What it is: a frozen msgspec Struct mirroring ``k8s.io/api/storage/v1``.
Concurrency model: none; values only (see ``_meta``).
Invariants: every optional field defaults to ``None`` (see ``_meta``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._meta import ObjectMeta, TopLevel

__all__ = ["StorageClass"]


class StorageClass(TopLevel, tag="StorageClass", kw_only=True):
    API_VERSION: ClassVar[str] = "storage.k8s.io/v1"

    metadata: ObjectMeta | None = None
    provisioner: str | None = None
    parameters: dict[str, str] | None = None
    reclaim_policy: str | None = None
    mount_options: list[str] | None = None
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str | None = None
    allowed_topologies: list[dict[str, Any]] | None = None
