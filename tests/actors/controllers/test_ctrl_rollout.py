"""Rolling updates through the whole cluster, checked at every step: while a Deployment rolls
from one template to another (and is scaled in the middle), the pods never exceed
``replicas + maxSurge`` and the available ones never fall below ``replicas - maxUnavailable``.

"Pods" are those the controllers count: not terminal and not being deleted (a terminating pod
is no longer part of any ReplicaSet's count, in Kubernetes as here). "Available" pods are
Ready and not being deleted (minReadySeconds 0). The sum of the ReplicaSets' ``spec.replicas``
is checked against the same upper bound. Time advances 0.25 virtual seconds per step.

The property runs a few examples by default; the ``campaign``-marked variant runs more
(``KUBETWIN_CAMPAIGN_BUDGET`` examples)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster
from actors.controllers import scaled_value
from tests.budget import campaign_budget

from ._ctrl_helpers import deployment, is_ready, wait_available

STEP = 0.25


def _counts(c: Cluster) -> tuple[int, int, int]:
    """(live pods, available pods, sum of ReplicaSet spec.replicas) of app=web."""
    pods = [p for p in c.list("pods", "default", label_selector="app=web")["items"]
            if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    available = sum(1 for p in pods if is_ready(p))
    rs_total = sum(rs["spec"].get("replicas", 0)
                   for rs in c.list("replicasets", "default", label_selector="app=web")["items"])
    return len(pods), available, rs_total


def _bounds(replicas: int, surge: Any, unavailable: Any) -> tuple[int, int]:
    s = scaled_value(surge, replicas, round_up=True)
    u = scaled_value(unavailable, replicas, round_up=False)
    if s == 0 and u == 0:
        u = 1  # Kubernetes' fencepost: both zero means maxUnavailable 1
    return replicas + s, replicas - u


def run_rollout(replicas: int, surge: Any, unavailable: Any, scale_to: int | None,
                scale_at: int, seed: int) -> list[tuple[float, int, int, int]]:
    """Roll web from nginx to nginx:1.25 (scaling to ``scale_to`` after ``scale_at`` steps);
    returns the (time, pods, available, rs total) seen at every step, asserting the bounds."""
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}", cpu="8", memory="16Gi") for i in range(3)])
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    seen = []
    with simulate(spec, seed=seed) as c:
        c.create(deployment("web", replicas=replicas, strategy=strategy))
        wait_available(c, "web", replicas)
        c.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.25"}]}}}}, type="strategic")
        current = replicas
        upper, lower = _bounds(replicas, surge, unavailable)
        for step in range(2000):
            if scale_to is not None and step == scale_at:
                c.patch("deployments", "web", {"spec": {"replicas": scale_to}})
                upper = max(upper, _bounds(scale_to, surge, unavailable)[0])
                lower = min(lower, _bounds(scale_to, surge, unavailable)[1])
                current = scale_to
            c.advance(STEP)
            pods, available, rs_total = _counts(c)
            seen.append((c.now, pods, available, rs_total))
            assert pods <= upper, f"{pods} pods > {upper} at t={c.now:.2f}"
            assert rs_total <= upper, f"ReplicaSets ask for {rs_total} > {upper} at t={c.now:.2f}"
            assert available >= lower, f"{available} available < {lower} at t={c.now:.2f}"
            d = c.get("deployments", "web")
            s = d.get("status") or {}
            if (step > scale_at and s.get("updatedReplicas") == current == s.get("availableReplicas")
                    == s.get("replicas") and s.get("observedGeneration") == d["metadata"]["generation"]):
                if pods == current:
                    break
        else:
            raise AssertionError(f"the rollout did not finish: {seen[-1]}")
        images = {p["spec"]["containers"][0]["image"]
                  for p in c.list("pods", "default", label_selector="app=web")["items"]
                  if not p["metadata"].get("deletionTimestamp")}
        assert images == {"nginx:1.25"}
    return seen


def test_rolling_update_25_percent_defaults_stays_within_bounds() -> None:
    seen = run_rollout(4, "25%", "25%", None, 0, seed=11)
    assert max(p for _, p, _, _ in seen) == 5  # the surge was used
    assert min(a for _, _, a, _ in seen) >= 3


def test_recreate_deletes_old_pods_before_creating_new_ones() -> None:
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}") for i in range(2)])
    with simulate(spec, seed=8) as c:
        c.create(deployment("web", replicas=3, strategy={"type": "Recreate"}))
        wait_available(c, "web", 3)
        c.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.25"}]}}}}, type="strategic")
        mixed = False
        for _ in range(400):
            c.advance(STEP)
            images = {p["spec"]["containers"][0]["image"]
                      for p in c.list("pods", "default", label_selector="app=web")["items"]
                      if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")}
            mixed = mixed or len(images) > 1
            d = c.get("deployments", "web")["status"]
            if d.get("updatedReplicas") == 3 and d.get("availableReplicas") == 3 and d.get("replicas") == 3:
                break
        assert not mixed  # never an old and a new pod at once


_INT_OR_PCT = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "25%", "50%", "100%"]))


def _property(budget: int) -> Any:
    # No shrinking: each example is a whole cluster; a failure prints its parameters and seed.
    @settings(max_examples=budget, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow])
    @given(replicas=st.integers(1, 6), surge=_INT_OR_PCT, unavailable=_INT_OR_PCT,
           scale_to=st.one_of(st.none(), st.integers(1, 8)), scale_at=st.integers(0, 12),
           seed=st.integers(0, 1000))
    def prop(replicas: int, surge: Any, unavailable: Any, scale_to: int | None,
             scale_at: int, seed: int) -> None:
        # The API refuses both zero (validation: "may not be 0 when `maxSurge` is 0").
        assume(str(surge).rstrip("%") != "0" or str(unavailable).rstrip("%") != "0")
        run_rollout(replicas, surge, unavailable, scale_to, scale_at, seed)

    return prop


def test_rolling_update_property_small_budget() -> None:
    _property(4)()


@pytest.mark.campaign
def test_rolling_update_property_campaign(request: pytest.FixtureRequest) -> None:
    _property(campaign_budget(request, {"small": 10, "medium": 40, "large": 400}))()
