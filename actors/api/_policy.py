"""Policy kinds the admission plugins read: core/v1 LimitRange and ResourceQuota, and
scheduling.k8s.io/v1 PriorityClass — with Kubernetes' field names and JSON form.

Resource amounts stay quantity strings (``"500m"``, ``"1Gi"``), as in ``ResourceList``."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ._meta import ObjectMeta, TopLevel

__all__ = [
    "LimitRange",
    "LimitRangeItem",
    "LimitRangeSpec",
    "PriorityClass",
    "ResourceQuota",
    "ResourceQuotaSpec",
    "ResourceQuotaStatus",
    "ScopeSelector",
    "ScopedResourceSelectorRequirement",
]


class _Part(msgspec.Struct, omit_defaults=True, rename="camel", frozen=True, kw_only=True):
    pass


class LimitRangeItem(_Part):
    type: str  # Container | Pod | PersistentVolumeClaim
    max: dict[str, str] | None = None
    min: dict[str, str] | None = None
    default: dict[str, str] | None = None
    default_request: dict[str, str] | None = None
    max_limit_request_ratio: dict[str, str] | None = None


class LimitRangeSpec(_Part):
    limits: list[LimitRangeItem]


class LimitRange(TopLevel, tag="LimitRange", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: LimitRangeSpec | None = None


class ScopedResourceSelectorRequirement(_Part):
    scope_name: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: list[str] | None = None


class ScopeSelector(_Part):
    match_expressions: list[ScopedResourceSelectorRequirement] | None = None


class ResourceQuotaSpec(_Part):
    hard: dict[str, str] | None = None
    scopes: list[str] | None = None
    scope_selector: ScopeSelector | None = None


class ResourceQuotaStatus(_Part):
    hard: dict[str, str] | None = None
    used: dict[str, str] | None = None


class ResourceQuota(TopLevel, tag="ResourceQuota", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: ResourceQuotaSpec | None = None
    status: ResourceQuotaStatus | None = None


class PriorityClass(TopLevel, tag="PriorityClass", kw_only=True):
    API_VERSION: ClassVar[str] = "scheduling.k8s.io/v1"

    metadata: ObjectMeta | None = None
    # int32 ``json:"value"`` (no omitempty): written even when 0. msgspec's omit_defaults
    # never omits a default_factory other than an empty collection.
    value: int = msgspec.field(default_factory=int)
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None  # PreemptLowerPriority | Never
