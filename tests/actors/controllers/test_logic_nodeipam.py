"""Node IPAM: /24 pod CIDRs from 10.244.0.0/16."""

from __future__ import annotations

import pytest

from actors.controllers import Patch, allocate_pod_cidrs

NOW = 1_700_000_000.0


def node(name: str, cidr: str | None = None) -> dict:
    n = {"metadata": {"name": name, "uid": f"u-{name}"}, "spec": {}}
    if cidr:
        n["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return n


def test_allocates_lowest_free_slash_24_skipping_occupied():
    plan = allocate_pod_cidrs([node("minikube")], now=NOW)
    assert plan.actions[0].patch == {"spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]}}
    plan = allocate_pod_cidrs([node("a", "10.244.0.0/24"), node("b"), node("c", "10.244.1.0/24"), node("d")], now=NOW)
    assert [(a.ref.name, a.patch["spec"]["podCIDR"]) for a in plan.actions if isinstance(a, Patch)] == [
        ("b", "10.244.2.0/24"), ("d", "10.244.3.0/24")]
    # A range outside the cluster CIDR is left alone and does not block anything.
    plan = allocate_pod_cidrs([node("x", "192.168.0.0/24"), node("y")], now=NOW)
    assert plan.actions[0].patch["spec"]["podCIDR"] == "10.244.0.0/24"


def test_exhaustion_records_cidr_not_available():
    nodes = [node(f"n{i}") for i in range(5)]
    plan = allocate_pod_cidrs(nodes, now=NOW, cluster_cidr="10.0.0.0/22", node_mask_size=24)
    assert len(plan.actions) == 4
    assert [(e.reason, e.message) for e in plan.events] == [("CIDRNotAvailable", "Node n4 status is now: CIDRNotAvailable")]
    with pytest.raises(ValueError):
        allocate_pod_cidrs(nodes, now=NOW, cluster_cidr="10.0.0.0/24", node_mask_size=16)
