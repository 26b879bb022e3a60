"""authorization.k8s.io/v1 SelfSubjectAccessReview: "may I?" asked of the authorizer, as
``kubectl auth can-i`` does. Never stored: the apiserver answers it on create."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ._meta import ObjectMeta, TopLevel

__all__ = ["NonResourceAttributes", "ResourceAttributes", "SelfSubjectAccessReview",
           "SelfSubjectAccessReviewSpec", "SubjectAccessReviewStatus"]


class _Part(msgspec.Struct, omit_defaults=True, rename="camel", frozen=True, kw_only=True):
    pass


class ResourceAttributes(_Part):
    namespace: str | None = None
    verb: str | None = None
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None


class NonResourceAttributes(_Part):
    path: str | None = None
    verb: str | None = None


class SelfSubjectAccessReviewSpec(_Part):
    resource_attributes: ResourceAttributes | None = None
    non_resource_attributes: NonResourceAttributes | None = None


class SubjectAccessReviewStatus(_Part):
    allowed: bool = False
    denied: bool | None = None
    reason: str | None = None
    evaluation_error: str | None = None


class SelfSubjectAccessReview(TopLevel, tag="SelfSubjectAccessReview", kw_only=True):
    API_VERSION: ClassVar[str] = "authorization.k8s.io/v1"

    metadata: ObjectMeta | None = None
    spec: SelfSubjectAccessReviewSpec | None = None
    status: SubjectAccessReviewStatus | None = None
