"""Validation of cluster-scoped and control-plane kinds: Event, Lease, Binding,
ComponentStatus, RBAC roles and bindings, StorageClass (split out of
``_validation_other`` to keep modules small).

Concurrency model: none; pure functions.

Invariants: see ``_validation``.
"""

from __future__ import annotations

from typing import Any

from . import _coordination as coord
from . import _core_other as core
from . import _rbac as rbac
from . import _storage as storage
from ._validation import (
    Cause,
    child,
    forbidden,
    immutable,
    invalid_value,
    nonnegative,
    not_supported,
    path_segment_name,
    register,
    required,
)
from ._validation_other import _meta, _meta_both

__all__: list[str] = []


# -- Event, Lease, Binding, ComponentStatus --------------------------------------------------


@register(core.Event)
def _event(ev: core.Event, old: core.Event | None) -> list[Cause]:
    errs = _meta(ev, old)
    ns = ev.metadata.namespace if ev.metadata else None
    io = ev.involved_object
    if io is not None and io.namespace and ns and io.namespace != ns:
        errs.append(invalid_value("involvedObject.namespace", io.namespace, "does not match event.namespace"))
    return errs + nonnegative(ev.count, "count")


@register(coord.Lease)
def _lease(lease: coord.Lease, old: coord.Lease | None) -> list[Cause]:
    errs = _meta(lease, old)
    spec = lease.spec or coord.LeaseSpec()
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        errs.append(invalid_value("spec.leaseDurationSeconds", spec.lease_duration_seconds,
                                  "must be greater than 0"))
    return errs + nonnegative(spec.lease_transitions, "spec.leaseTransitions")


@register(core.Binding)
def _binding(b: core.Binding, old: core.Binding | None) -> list[Cause]:
    target = b.target
    errs: list[Cause] = []
    if target is not None and target.kind and target.kind != "Node":
        errs.append(not_supported("target.kind", target.kind, ("Node", "<empty>")))
    if target is None or not target.name:
        errs.append(required("target.name"))
    return errs


@register(core.ComponentStatus)
def _component_status(cs: core.ComponentStatus, old: core.ComponentStatus | None) -> list[Cause]:
    return []


# -- RBAC, StorageClass -------------------------------------------------------------------


def _rules(rules: list[rbac.PolicyRule] | None, namespaced: bool, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, r in enumerate(rules or []):
        ip = f"{path}[{i}]"
        if not r.verbs:
            errs.append(required(child(ip, "verbs"), "verbs must contain at least one value"))
        if r.non_resource_urls:
            if namespaced:
                errs.append(invalid_value(child(ip, "nonResourceURLs"), r.non_resource_urls,
                                          "namespaced rules cannot apply to non-resource URLs"))
            elif r.api_groups or r.resources or r.resource_names:
                errs.append(invalid_value(child(ip, "nonResourceURLs"), r.non_resource_urls,
                                          "rules cannot apply to both regular resources and "
                                          "non-resource URLs"))
            continue
        if not r.api_groups:
            errs.append(required(child(ip, "apiGroups"), "resource rules must supply at least one api group"))
        if not r.resources:
            errs.append(required(child(ip, "resources"), "resource rules must supply at least one resource"))
    return errs


@register(rbac.Role, rbac.ClusterRole)
def _role(role: Any, old: Any) -> list[Cause]:
    namespaced = isinstance(role, rbac.Role)
    return _meta_both(role, old, namespaced, path_segment_name) + _rules(role.rules, namespaced, "rules")


@register(rbac.RoleBinding, rbac.ClusterRoleBinding)
def _role_binding(rb: Any, old: Any) -> list[Cause]:
    namespaced = isinstance(rb, rbac.RoleBinding)
    errs = _meta_both(rb, old, namespaced, path_segment_name)
    ref = rb.role_ref or rbac.RoleRef()
    if ref.api_group != "rbac.authorization.k8s.io":
        errs.append(not_supported("roleRef.apiGroup", ref.api_group or "", ("rbac.authorization.k8s.io",)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.kind not in kinds:
        errs.append(not_supported("roleRef.kind", ref.kind or "", kinds))
    if not ref.name:
        errs.append(required("roleRef.name"))
    for i, s in enumerate(rb.subjects or []):
        sp = f"subjects[{i}]"
        if not s.name:
            errs.append(required(child(sp, "name")))
        if s.kind == "ServiceAccount":
            if not namespaced and not s.namespace:
                errs.append(required(child(sp, "namespace")))
        elif s.kind not in ("User", "Group"):
            errs.append(not_supported(child(sp, "kind"), s.kind or "", ("ServiceAccount", "User", "Group")))
    if old is not None and old.role_ref != rb.role_ref:
        errs.append(invalid_value("roleRef", rb.role_ref, "cannot change roleRef"))
    return errs


@register(storage.StorageClass)
def _storage_class(sc: storage.StorageClass, old: storage.StorageClass | None) -> list[Cause]:
    errs = _meta_both(sc, old, False)
    if not sc.provisioner:
        errs.append(required("provisioner"))
    if sc.reclaim_policy not in (None, "Delete", "Retain"):
        errs.append(not_supported("reclaimPolicy", sc.reclaim_policy, ("Delete", "Retain")))
    vbm = sc.volume_binding_mode
    if vbm not in (None, "Immediate", "WaitForFirstConsumer"):
        errs.append(not_supported("volumeBindingMode", vbm, ("Immediate", "WaitForFirstConsumer")))
    if old is not None:
        for attr in ("parameters", "provisioner"):
            if getattr(sc, attr) != getattr(old, attr):
                errs.append(forbidden(attr, f"updates to {attr} are forbidden."))
        if sc.reclaim_policy != old.reclaim_policy:
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        errs += immutable(vbm, old.volume_binding_mode, "volumeBindingMode")
    return errs

