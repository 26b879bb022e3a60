"""Validation of LimitRange, ResourceQuota and PriorityClass, with Kubernetes' field paths."""

from __future__ import annotations

from typing import Any

from . import _policy as pol
from ._quantity import QuantityError, parse_quantity
from ._validation import (
    Cause,
    child,
    dns_subdomain,
    forbidden,
    invalid_value,
    not_supported,
    register,
    validate_object_meta,
    validate_object_meta_update,
)

__all__: list[str] = []

_LIMIT_TYPES = ("Container", "PersistentVolumeClaim", "Pod")
_SCOPES = ("BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating",
           "PriorityClass", "Terminating")
_HIGHEST_USER_PRIORITY = 1_000_000_000


def _meta(obj: Any, old: Any, namespaced: bool) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.metadata, namespaced, dns_subdomain)
    return validate_object_meta_update(obj.metadata, old.metadata)


def _quantities(values: dict[str, str] | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for name, value in sorted((values or {}).items()):
        try:
            q = parse_quantity(value)
        except QuantityError as e:
            errs.append(invalid_value(child(path, name), value, str(e)))
            continue
        if q.sign() < 0:
            errs.append(invalid_value(child(path, name), value, "must be greater than or equal to 0"))
    return errs


@register(pol.LimitRange)
def _limit_range(lr: pol.LimitRange, old: pol.LimitRange | None) -> list[Cause]:
    errs = _meta(lr, old, True)
    for i, item in enumerate(lr.spec.limits if lr.spec else []):
        path = f"spec.limits[{i}]"
        if item.type not in _LIMIT_TYPES:
            errs.append(not_supported(child(path, "type"), item.type, list(_LIMIT_TYPES)))
        for field in ("max", "min", "default", "default_request", "max_limit_request_ratio"):
            json_name = {"default_request": "defaultRequest",
                         "max_limit_request_ratio": "maxLimitRequestRatio"}.get(field, field)
            errs += _quantities(getattr(item, field), child(path, json_name))
        for name, mn in (item.min or {}).items():
            mx = (item.max or {}).get(name)
            if mx is not None and _lt(mx, mn):
                errs.append(invalid_value(child(child(path, "min"), name), mn,
                                          f"min value {mn} is greater than max value {mx}"))
    return errs


def _lt(a: str, b: str) -> bool:
    try:
        return parse_quantity(a) < parse_quantity(b)
    except QuantityError:
        return False


@register(pol.ResourceQuota)
def _resource_quota(rq: pol.ResourceQuota, old: pol.ResourceQuota | None) -> list[Cause]:
    errs = _meta(rq, old, True)
    spec = rq.spec or pol.ResourceQuotaSpec()
    errs += _quantities(spec.hard, "spec.hard")
    for i, scope in enumerate(spec.scopes or []):
        if scope not in _SCOPES:
            errs.append(not_supported(f"spec.scopes[{i}]", scope, list(_SCOPES)))
    if rq.status is not None:
        errs += _quantities(rq.status.hard, "status.hard") + _quantities(rq.status.used, "status.used")
    return errs


@register(pol.PriorityClass)
def _priority_class(pc: pol.PriorityClass, old: pol.PriorityClass | None) -> list[Cause]:
    errs = _meta(pc, old, False)
    name = pc.metadata.name if pc.metadata else ""
    if old is None and name and name.startswith("system-") and pc.value <= _HIGHEST_USER_PRIORITY:
        errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix are reserved"))
    if old is None and pc.value > _HIGHEST_USER_PRIORITY and not (name or "").startswith("system-"):
        errs.append(forbidden("value", f"maximum allowed value of a user defined priority is {_HIGHEST_USER_PRIORITY}"))
    if old is not None and pc.value != old.value:
        errs.append(forbidden("value", "may not be changed in an update."))
    if pc.preemption_policy not in (None, "PreemptLowerPriority", "Never"):
        errs.append(not_supported("preemptionPolicy", pc.preemption_policy, ["Never", "PreemptLowerPriority"]))
    return errs
