"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/rbac/v1``.
Concurrency model: none; values only (see ``_meta``).
Invariants: every optional field defaults to ``None`` (see ``_meta``).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ._meta import LabelSelector, Obj, ObjectMeta, TopLevel

__all__ = [
    "AggregationRule",
    "ClusterRole",
    "ClusterRoleBinding",
    "PolicyRule",
    "Role",
    "RoleBinding",
    "RoleRef",
    "Subject",
]


class _Rbac(TopLevel):
    API_VERSION: ClassVar[str] = "rbac.authorization.k8s.io/v1"


class PolicyRule(Obj, kw_only=True):
    verbs: list[str] | None = None
    api_groups: list[str] | None = None
    resources: list[str] | None = None
    resource_names: list[str] | None = None
    non_resource_urls: list[str] | None = msgspec.field(default=None, name="nonResourceURLs")


class AggregationRule(Obj, kw_only=True):
    cluster_role_selectors: list[LabelSelector] | None = None


class Subject(Obj, kw_only=True):
    kind: str | None = None
    api_group: str | None = None
    name: str | None = None
    namespace: str | None = None


class RoleRef(Obj, kw_only=True):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class Role(_Rbac, tag="Role", kw_only=True):
    metadata: ObjectMeta | None = None
    rules: list[PolicyRule] | None = None


class ClusterRole(_Rbac, tag="ClusterRole", kw_only=True):
    metadata: ObjectMeta | None = None
    rules: list[PolicyRule] | None = None
    aggregation_rule: AggregationRule | None = None


class RoleBinding(_Rbac, tag="RoleBinding", kw_only=True):
    metadata: ObjectMeta | None = None
    subjects: list[Subject] | None = None
    role_ref: RoleRef | None = None


class ClusterRoleBinding(_Rbac, tag="ClusterRoleBinding", kw_only=True):
    metadata: ObjectMeta | None = None
    subjects: list[Subject] | None = None
    role_ref: RoleRef | None = None
