"""Validation of policy/v1 PodDisruptionBudget, with Kubernetes' field paths and messages
(``pkg/apis/policy/validation``, ``apimachinery/pkg/apis/meta/v1/validation``).

What it is, in the registry's order:
- create: the strategy's ``ValidatePodDisruptionBudget`` (the spec: minAvailable and
  maxUnavailable mutually exclusive, each a non-negative int or a percentage of at most 100%,
  the selector, unhealthyPodEvictionPolicy IfHealthyBudget | AlwaysAllow); only when that
  passes, the generic store's metadata check (``rest.BeforeCreate`` runs it *after* the
  strategy, with ``ValidatePathSegmentName`` for the name);
- update (main resource and ``/status``): metadata update rules, then the spec, then
  ``ValidatePodDisruptionBudgetStatusUpdate`` (conditions well formed, the four counters
  non-negative).

The "cannot be both set" error prints the internal Go spec struct with ``%#v``, pointers and
all; a heap address differs on every real request, so fixed stand-ins keep answers
reproducible.

Concurrency model: none; pure functions.
"""

from __future__ import annotations

import re

from . import _pdb
from ._meta import Condition
from ._names import is_qualified_name, regex_error
from ._validation import (
    Cause,
    check,
    duplicate,
    invalid_value,
    nonnegative,
    not_supported,
    path_segment_name,
    register,
    required,
    too_long,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from ._validation_workloads import _int_or_percent, _not_over_100

__all__: list[str] = []

_POLICIES = (_pdb.ALWAYS_ALLOW, _pdb.IF_HEALTHY_BUDGET)  # sets.NewString(...).List(): sorted
_CONDITION_STATUSES = ("False", "True", "Unknown")
_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_REASON_RE = re.compile(_REASON_FMT)
_REASON_MSG = regex_error(
    "a condition reason must start with alphabetic character, optionally followed by a string "
    "of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'",
    _REASON_FMT, "my_name", "MY_NAME", "MyName", "ReasonA,ReasonB", "ReasonA:ReasonB")
_MAX_REASON_LEN = 1024
_MAX_MESSAGE_LEN = 32 * 1024

# Stand-ins for the Go heap addresses %#v prints (see the module docstring).
_ADDRESSES = {"MinAvailable": "0xc000a1e0a0", "Selector": "0xc000a1e0c0",
              "MaxUnavailable": "0xc000a1e080", "UnhealthyPodEvictionPolicy": "0xc000a1e0e0"}


def _go_spec(spec: _pdb.PodDisruptionBudgetSpec) -> str:
    """``fmt.Sprintf("%#v", spec)`` of the internal ``policy.PodDisruptionBudgetSpec``."""
    fields = (("MinAvailable", "intstr.IntOrString", spec.min_available),
              ("Selector", "v1.LabelSelector", spec.selector),
              ("MaxUnavailable", "intstr.IntOrString", spec.max_unavailable),
              ("UnhealthyPodEvictionPolicy", "policy.UnhealthyPodEvictionPolicyType",
               spec.unhealthy_pod_eviction_policy))
    shown = ", ".join(f"{name}:(*{t})({'nil' if v is None else _ADDRESSES[name]})"
                      for name, t, v in fields)
    return f"policy.PodDisruptionBudgetSpec{{{shown}}}"


def _spec(spec: _pdb.PodDisruptionBudgetSpec) -> list[Cause]:
    """``ValidatePodDisruptionBudgetSpec``."""
    errs: list[Cause] = []
    if spec.min_available is not None and spec.max_unavailable is not None:
        errs.append(Cause(type="FieldValueInvalid", field="spec",
                          message=f"Invalid value: {_go_spec(spec)}: minAvailable and "
                                  "maxUnavailable cannot be both set"))
    for value, path in ((spec.min_available, "spec.minAvailable"),
                        (spec.max_unavailable, "spec.maxUnavailable")):
        if value is not None:
            errs += _int_or_percent(value, path) + _not_over_100(value, path)
    errs += validate_label_selector(spec.selector, "spec.selector")
    policy = spec.unhealthy_pod_eviction_policy
    if policy is not None and policy not in _POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, _POLICIES))
    return errs


def _condition(c: Condition, path: str) -> list[Cause]:
    """``metav1validation.ValidateCondition``."""
    errs = check(c.type or "", f"{path}.type", is_qualified_name)
    if c.status not in _CONDITION_STATUSES:
        errs.append(not_supported(f"{path}.status", c.status or "", _CONDITION_STATUSES))
    if c.observed_generation is not None and c.observed_generation < 0:
        errs.append(invalid_value(f"{path}.observedGeneration", c.observed_generation,
                                  "must be greater than or equal to zero"))
    if not c.last_transition_time:
        errs.append(required(f"{path}.lastTransitionTime", "must be set"))
    if not c.reason:
        errs.append(required(f"{path}.reason", "must be set"))
    else:
        if not _REASON_RE.fullmatch(c.reason):
            errs.append(invalid_value(f"{path}.reason", c.reason, _REASON_MSG))
        if len(c.reason) > _MAX_REASON_LEN:
            errs.append(too_long(f"{path}.reason", _MAX_REASON_LEN))
    if len(c.message or "") > _MAX_MESSAGE_LEN:
        errs.append(too_long(f"{path}.message", _MAX_MESSAGE_LEN))
    return errs


def _status(status: _pdb.PodDisruptionBudgetStatus | None) -> list[Cause]:
    """``ValidatePodDisruptionBudgetStatusUpdate`` for policy/v1."""
    status = status or _pdb.PodDisruptionBudgetStatus()
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(status.conditions or ()):
        path = f"status.conditions[{i}]"
        if c.type in seen:
            errs.append(duplicate(f"{path}.type", c.type or ""))
        seen.add(c.type or "")
        errs += _condition(c, path)
    for value, name in ((status.disruptions_allowed, "disruptionsAllowed"),
                        (status.current_healthy, "currentHealthy"),
                        (status.desired_healthy, "desiredHealthy"),
                        (status.expected_pods, "expectedPods")):
        errs += nonnegative(value or 0, f"status.{name}")
    return errs


@register(_pdb.PodDisruptionBudget)
def _pod_disruption_budget(pdb: _pdb.PodDisruptionBudget,
                           old: _pdb.PodDisruptionBudget | None) -> list[Cause]:
    spec = pdb.spec or _pdb.PodDisruptionBudgetSpec()
    if old is None:
        errs = _spec(spec)
        return errs or validate_object_meta(pdb.metadata, True, path_segment_name)
    errs = validate_object_meta_update(pdb.metadata, old.metadata)
    return errs + _spec(spec) + _status(pdb.status)
