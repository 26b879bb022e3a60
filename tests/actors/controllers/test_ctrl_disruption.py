"""The disruption controller and the eviction subresource together, through ``simulate()``: a
Deployment of 3 guarded by ``minAvailable: 2`` gives up one pod, refuses the next with 429 until
the replacement is Ready, and a ``kubectl drain``-like loop (cordon, evict, back off 5 s on 429,
wait for the pods to go) empties a node without ever dropping below two Ready pods."""

from __future__ import annotations

from typing import Any

import pytest

from actors import ApiError, ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster

from ._ctrl_helpers import deployment, is_ready, wait_available

SPEC = ClusterSpec(nodes=[NodeSpec("node-1"), NodeSpec("node-2")], addons=())
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def slow_ready(d: dict[str, Any]) -> dict[str, Any]:
    """Replacements take ~10 s to become Ready (a readiness probe with an initial delay)."""
    (container,) = d["spec"]["template"]["spec"]["containers"]
    container["readinessProbe"] = {"tcpSocket": {"port": 80}, "initialDelaySeconds": 10,
                                   "periodSeconds": 2}
    return d


def budget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def evict(c: Cluster, pod: dict[str, Any]) -> Any:
    meta = pod["metadata"]
    return c.request("create", "pods", name=meta["name"], namespace=meta["namespace"],
                     subresource="eviction",
                     body={"apiVersion": "policy/v1", "kind": "Eviction",
                           "metadata": {"name": meta["name"], "namespace": meta["namespace"]}})


def healthy(c: Cluster) -> list[dict[str, Any]]:
    return [p for p in c.list("pods", "default", label_selector="app=web")["items"]
            if is_ready(p) and not p["metadata"].get("deletionTimestamp")]


def pdb_status(c: Cluster) -> dict[str, Any]:
    return c.get("poddisruptionbudgets", "web").get("status") or {}


def settled(c: Cluster, allowed: int) -> None:
    c.run_until(lambda c: pdb_status(c).get("observedGeneration") == 1
                and pdb_status(c).get("disruptionsAllowed") == allowed, timeout=60)


def test_second_eviction_waits_for_a_ready_replacement() -> None:
    with simulate(SPEC, seed=4) as c:
        c.create(slow_ready(deployment("web", replicas=3)))
        wait_available(c, "web", 3)
        c.create(budget(minAvailable=2))
        settled(c, 1)
        status = pdb_status(c)
        assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (3, 2, 3)
        assert status["conditions"][0]["reason"] == "SufficientPods"

        first, second, _ = sorted(healthy(c), key=lambda p: p["metadata"]["name"])
        assert evict(c, first)["status"] == "Success"
        with pytest.raises(ApiError) as e:
            evict(c, second)
        assert (e.value.code, e.value.message) == (429, VIOLATION)
        assert e.value.details.causes[0].type == "DisruptionBudget"
        assert pdb_status(c)["conditions"][0]["reason"] == "InsufficientPods"

        # The replacement is created at once but is not Ready for ~10 s: still refused.
        c.advance(5)
        assert len(healthy(c)) == 2
        with pytest.raises(ApiError) as e:
            evict(c, second)
        assert e.value.code == 429
        assert e.value.details.causes[0].message == ("The disruption budget web needs 2 healthy "
                                                     "pods and has 2 currently")

        c.run_until(lambda c: len(healthy(c)) == 3, timeout=60)
        settled(c, 1)
        assert evict(c, second)["status"] == "Success"
        assert c.get("pods", second["metadata"]["name"])["metadata"].get("deletionTimestamp")


def _cordon(c: Cluster, node: str, on: bool) -> None:
    c.patch("nodes", node, {"spec": {"unschedulable": on}}, namespace=None)


def _on_node(c: Cluster, node: str) -> list[dict[str, Any]]:
    return [p for p in c.list("pods", "default")["items"] if p["spec"].get("nodeName") == node]


def test_a_drain_converges_without_dropping_below_the_budget() -> None:
    with simulate(SPEC, seed=5) as c:
        _cordon(c, "node-2", True)  # every pod starts on node-1
        c.create(slow_ready(deployment("web", replicas=3)))
        wait_available(c, "web", 3)
        assert len(_on_node(c, "node-1")) == 3
        _cordon(c, "node-2", False)
        c.create(budget(minAvailable=2))
        settled(c, 1)

        lowest = 3
        # kubectl drain node-1: cordon, evict every pod, retry a refused one 5 s later.
        _cordon(c, "node-1", True)
        refused = admitted = 0
        start = c.now
        while _on_node(c, "node-1"):
            assert c.now - start < 300, "the drain did not converge"
            for pod in _on_node(c, "node-1"):
                if pod["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    evict(c, pod)
                    admitted += 1
                except ApiError as e:
                    assert e.code == 429
                    refused += 1
            for _ in range(10):  # the 5 s back-off, watching the Ready count meanwhile
                c.advance(0.5)
                lowest = min(lowest, len(healthy(c)))
        assert admitted == 3 and refused >= 2
        assert lowest >= 2
        wait_available(c, "web", 3)
        assert all(p["spec"]["nodeName"] == "node-2" for p in healthy(c))
        settled(c, 1)


def test_percentages_follow_the_deployment_and_two_budgets_are_refused() -> None:
    with simulate(SPEC, seed=6) as c:
        c.create(deployment("web", replicas=4))
        wait_available(c, "web", 4)
        c.create(budget(maxUnavailable="30%"))  # ceil(30% of 4) = 2 may be unavailable
        settled(c, 2)
        assert (pdb_status(c)["expectedPods"], pdb_status(c)["desiredHealthy"]) == (4, 2)
        c.patch("deployments", "web", {"spec": {"replicas": 6}})
        wait_available(c, "web", 6)
        c.run_until(lambda c: pdb_status(c).get("expectedPods") == 6, timeout=60)
        assert (pdb_status(c)["desiredHealthy"], pdb_status(c)["disruptionsAllowed"]) == (4, 2)

        c.create({**budget(minAvailable=1), "metadata": {"name": "web-too"}})
        pod = healthy(c)[0]
        with pytest.raises(ApiError) as e:
            evict(c, pod)
        assert e.value.code == 500
        assert e.value.message == ("This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support.")
        c.patch("pods", pod["metadata"]["name"], {"metadata": {"labels": {"touched": "yes"}}})

        def warned(c: Cluster) -> bool:
            return any(e["reason"] == "MultiplePodDisruptionBudgets"
                       and e["involvedObject"]["name"] == pod["metadata"]["name"]
                       for e in c.list("events", "default")["items"])

        c.run_until(warned, timeout=30)
        (event,) = [e for e in c.list("events", "default")["items"]
                    if e["reason"] == "MultiplePodDisruptionBudgets"
                    and e["involvedObject"]["name"] == pod["metadata"]["name"]]
        assert event["type"] == "Warning" and event["source"]["component"] == "controllermanager"
        assert event["message"] == (f'Pod "default"/"{pod["metadata"]["name"]}" matches multiple '
                                    'PodDisruptionBudgets.  Chose "web" arbitrarily.')
