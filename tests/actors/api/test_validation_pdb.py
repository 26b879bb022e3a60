"""policy/v1 PodDisruptionBudget: the type's JSON form, validation with Kubernetes' field paths
and messages (create: the spec first, metadata only once it passes; updates: metadata, spec and
status), and the DisruptionAllowed condition helpers."""

from __future__ import annotations

import copy

from actors.api import from_dict, lookup, to_dict, validate
from actors.api._pdb import (
    conditions_are_up_to_date,
    set_status_condition,
    update_disruption_allowed_condition,
)

PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
       "metadata": {"name": "web", "namespace": "default"},
       "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}},
                "unhealthyPodEvictionPolicy": "AlwaysAllow"}}
T = "2026-01-01T00:00:00Z"


def errors(manifest: dict, old: dict | None = None) -> list[str]:
    o = from_dict(manifest, "pdb")
    return [c.error() for c in validate(o, old=None if old is None else from_dict(old, "pdb"))]


def changed(**spec) -> dict:
    m = copy.deepcopy(PDB)
    m["spec"] = {"selector": m["spec"]["selector"], **spec}
    return m


def test_registry_and_round_trip():
    ri = lookup("pdb")
    assert (ri.resource, ri.kind, ri.group, ri.version, ri.namespaced) == (
        "poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", True)
    assert ri.subresources == ("status",) and ri.categories == ()
    assert lookup("poddisruptionbudgets.policy") is ri and lookup("PodDisruptionBudget") is ri
    full = {**PDB, "status": {"observedGeneration": 2, "disruptedPods": {"web-1": T},
                              "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1,
                              "expectedPods": 2,
                              "conditions": [{"type": "DisruptionAllowed", "status": "False",
                                              "observedGeneration": 2, "lastTransitionTime": T,
                                              "reason": "InsufficientPods", "message": ""}]}}
    assert to_dict(from_dict(full, "pdb")) == {  # an unset creationTimestamp is written null
        **full, "metadata": {**full["metadata"], "creationTimestamp": None}}
    assert errors(full) == []


def test_bounds():
    assert errors(changed(minAvailable=0)) == []
    assert errors(changed(maxUnavailable="100%")) == []
    assert errors(changed(minAvailable=-1)) == [
        "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
    assert errors(changed(maxUnavailable="150%")) == [
        'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%']
    assert errors(changed(maxUnavailable="half")) == [
        'spec.maxUnavailable: Invalid value: "half": a valid percent string must be a numeric '
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is "
        "'[0-9]+%')"]


def test_min_and_max_cannot_both_be_set():
    m = changed(minAvailable=1, maxUnavailable=1)
    m["spec"].pop("selector")
    assert errors(m) == [
        "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)"
        "(0xc000a1e0a0), Selector:(*v1.LabelSelector)(nil), MaxUnavailable:(*intstr.IntOrString)"
        "(0xc000a1e080), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)"
        "(nil)}: minAvailable and maxUnavailable cannot be both set"]


def test_selector_and_policy():
    m = changed(minAvailable=1, unhealthyPodEvictionPolicy="Never")
    m["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    assert errors(m) == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'",
        'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: '
        '"AlwaysAllow", "IfHealthyBudget"']


def test_create_checks_metadata_only_after_the_spec():
    bad_name = copy.deepcopy(PDB)
    bad_name["metadata"]["name"] = "a/b"
    assert errors(bad_name) == ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
    both = copy.deepcopy(bad_name)
    both["spec"]["maxUnavailable"] = -3
    both["spec"].pop("minAvailable")
    assert errors(both) == ["spec.maxUnavailable: Invalid value: -3: must be greater than or equal to 0"]
    # Names follow ValidatePathSegmentName, not the DNS rules.
    upper = copy.deepcopy(PDB)
    upper["metadata"]["name"] = "Web_Budget"
    assert errors(upper) == []


def test_status_updates():
    old = {**PDB, "metadata": {**PDB["metadata"], "resourceVersion": "3"}}
    new = copy.deepcopy(old)
    new["status"] = {"disruptionsAllowed": -1, "currentHealthy": 0, "desiredHealthy": 0,
                     "expectedPods": -2,
                     "conditions": [{"type": "DisruptionAllowed", "status": "Maybe", "reason": "bad reason"},
                                    {"type": "DisruptionAllowed", "status": "True",
                                     "lastTransitionTime": T, "reason": "Ok"}]}
    assert errors(new, old) == [
        'status.conditions[0].status: Unsupported value: "Maybe": supported values: "False", '
        '"True", "Unknown"',
        "status.conditions[0].lastTransitionTime: Required value: must be set",
        'status.conditions[0].reason: Invalid value: "bad reason": a condition reason must start '
        "with alphabetic character, optionally followed by a string of alphanumeric characters "
        "or '_,:', and must end with an alphanumeric character or '_' (e.g. 'my_name',  or "
        "'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for "
        "validation is '[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?')",
        'status.conditions[1].type: Duplicate value: "DisruptionAllowed"',
        "status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0",
        "status.expectedPods: Invalid value: -2: must be greater than or equal to 0"]


def test_condition_helpers():
    status = {"observedGeneration": 3, "disruptionsAllowed": 1}
    first = update_disruption_allowed_condition(status, T)
    assert first["conditions"] == [{"type": "DisruptionAllowed", "status": "True",
                                    "observedGeneration": 3, "lastTransitionTime": T,
                                    "reason": "SufficientPods", "message": ""}]
    assert "conditions" not in status  # inputs are not mutated
    same = update_disruption_allowed_condition(first, "2026-01-01T00:05:00Z")
    assert same["conditions"][0]["lastTransitionTime"] == T  # status unchanged: time kept
    flipped = update_disruption_allowed_condition({**first, "disruptionsAllowed": 0}, "2026-01-01T00:05:00Z")
    assert (flipped["conditions"][0]["status"], flipped["conditions"][0]["reason"],
            flipped["conditions"][0]["lastTransitionTime"]) == ("False", "InsufficientPods",
                                                                "2026-01-01T00:05:00Z")
    pdb = {"metadata": {"generation": 3}, "status": flipped}
    assert conditions_are_up_to_date(pdb)
    assert not conditions_are_up_to_date({"metadata": {"generation": 4}, "status": flipped})
    assert not conditions_are_up_to_date({"metadata": {"generation": 3},
                                          "status": {**flipped, "disruptionsAllowed": 2}})
    failed = set_status_condition(flipped["conditions"], {"type": "DisruptionAllowed",
                                                          "status": "False", "reason": "SyncFailed",
                                                          "message": "boom"}, "later")
    assert failed == [{"type": "DisruptionAllowed", "status": "False",
                       "lastTransitionTime": "2026-01-01T00:05:00Z", "reason": "SyncFailed",
                       "message": "boom"}]
