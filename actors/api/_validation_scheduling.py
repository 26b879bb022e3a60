"""Scheduling-field validation of a PodSpec: tolerations, node and pod (anti-)affinity,
topology spread constraints (``pkg/apis/core/validation``).

What it is: the checks ValidatePodSpec runs on the fields the scheduler reads, split out
of ``_validation_pod`` to keep modules small.

Concurrency model: none; pure functions.

Invariants: see ``_validation``.
"""

from __future__ import annotations

from . import _core_pod as core
from ._validation import (
    Cause,
    check,
    child,
    forbidden,
    invalid_value,
    not_supported,
    required,
    validate_label_selector,
)

__all__: list[str] = []

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _tolerations(tols: list[core.Toleration] | None, path: str) -> list[Cause]:
    from ._names import is_qualified_name, is_valid_label_value

    errs: list[Cause] = []
    for i, t in enumerate(tols or []):
        ip = f"{path}[{i}]"
        if t.key:
            errs += check(t.key, child(ip, "key"), is_qualified_name)
        if not t.key and t.operator != "Exists":
            errs.append(invalid_value(child(ip, "operator"), t.operator or "",
                                      "operator must be Exists when `key` is empty, which "
                                      'means "match all values and all keys"'))
        if t.toleration_seconds is not None and t.effect != "NoExecute":
            errs.append(invalid_value(child(ip, "effect"), t.effect or "",
                                      "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if t.operator in (None, "", "Equal"):
            msgs = is_valid_label_value(t.value or "")
            if msgs:
                errs.append(invalid_value(child(ip, "operator"), t.value or "", ";".join(msgs)))
        elif t.operator == "Exists":
            if t.value:
                errs.append(invalid_value(child(ip, "operator"), t.value,
                                          "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(child(ip, "operator"), t.operator, ("Equal", "Exists")))
        if t.effect and t.effect not in _TAINT_EFFECTS:
            errs.append(not_supported(child(ip, "effect"), t.effect, _TAINT_EFFECTS))
    return errs


def _node_selector_requirement(r: core.NodeSelectorRequirement, path: str) -> list[Cause]:
    from ._names import is_qualified_name

    values = r.values or []
    op = r.operator
    errs: list[Cause] = []
    if op in ("In", "NotIn") and not values:
        errs.append(required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist") and values:
        errs.append(forbidden(child(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif op in ("Gt", "Lt") and (len(values) != 1 or not values[0].lstrip("-").isdigit()):
        errs.append(required(child(path, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    elif op not in ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"):
        errs.append(invalid_value(child(path, "operator"), op or "", "not a valid selector operator"))
    return errs + check(r.key or "", child(path, "key"), is_qualified_name)


def _term(t: core.NodeSelectorTerm, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, r in enumerate(t.match_expressions or []):
        errs += _node_selector_requirement(r, f"{path}.matchExpressions[{i}]")
    return errs


def _pod_affinity_terms(terms: list[core.PodAffinityTerm] | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, t in enumerate(terms or []):
        ip = f"{path}[{i}]"
        errs += validate_label_selector(t.label_selector, child(ip, "labelSelector"))
        errs += validate_label_selector(t.namespace_selector, child(ip, "namespaceSelector"))
        if not t.topology_key:
            errs.append(required(child(ip, "topologyKey"), "can not be empty"))
    return errs


def _weight(w: int | None, path: str) -> list[Cause]:
    return [] if w is not None and 1 <= w <= 100 else [
        invalid_value(child(path, "weight"), w or 0, "must be in the range 1-100")]


def _affinity(a: core.Affinity | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if a is None:
        return errs
    req_key, pref_key = ("requiredDuringSchedulingIgnoredDuringExecution",
                         "preferredDuringSchedulingIgnoredDuringExecution")
    na = a.node_affinity
    if na is not None:
        np = child(path, "nodeAffinity")
        req = na.required_during_scheduling_ignored_during_execution
        if req is not None:
            tp = f"{np}.{req_key}.nodeSelectorTerms"
            if not req.node_selector_terms:
                errs.append(required(tp, "must have at least one node selector term"))
            for i, t in enumerate(req.node_selector_terms or []):
                errs += _term(t, f"{tp}[{i}]")
        for i, pt in enumerate(na.preferred_during_scheduling_ignored_during_execution or []):
            ip = f"{np}.{pref_key}[{i}]"
            errs += _weight(pt.weight, ip)
            errs += _term(pt.preference or core.NodeSelectorTerm(), child(ip, "preference"))
    for attr, name in (("pod_affinity", "podAffinity"), ("pod_anti_affinity", "podAntiAffinity")):
        pa = getattr(a, attr)
        if pa is None:
            continue
        pp = child(path, name)
        errs += _pod_affinity_terms(pa.required_during_scheduling_ignored_during_execution,
                                    f"{pp}.{req_key}")
        for i, w in enumerate(pa.preferred_during_scheduling_ignored_during_execution or []):
            ip = f"{pp}.{pref_key}[{i}]"
            errs += _weight(w.weight, ip)
            errs += _pod_affinity_terms([w.pod_affinity_term or core.PodAffinityTerm()],
                                        child(ip, "podAffinityTerm"))
    return errs


def _spread(cs: list[core.TopologySpreadConstraint] | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, c in enumerate(cs or []):
        ip = f"{path}[{i}]"
        if (c.max_skew or 0) <= 0:
            errs.append(invalid_value(child(ip, "maxSkew"), c.max_skew or 0, "must be greater than zero"))
        if not c.topology_key:
            errs.append(required(child(ip, "topologyKey"), "can not be empty"))
        if c.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(child(ip, "whenUnsatisfiable"), c.when_unsatisfiable or "",
                                      ("DoNotSchedule", "ScheduleAnyway")))
        errs += validate_label_selector(c.label_selector, child(ip, "labelSelector"))
    return errs
