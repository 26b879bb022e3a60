"""client-go's cache mutation detector through a whole cluster: the suite runs with it on
(tests/conftest.py), so a component that changes a cached object stops the simulation."""

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from runtime import InvariantViolation
from tests.actors.controllers._ctrl_helpers import deployment, wait_available


def test_a_component_mutating_a_cached_object_stops_the_simulation() -> None:
    spec = ClusterSpec(nodes=[NodeSpec("node-0", cpu="8", memory="16Gi")])
    with simulate(spec, seed=3) as c:
        c.create(deployment("web", replicas=1))
        wait_available(c, "web", 1)
        kcm = c.sim.actor("kube-controller-manager-0")
        deployments = kcm.factory.informer_for("deployments")
        assert deployments.store.get_by_key("default/web") is not None
        # What a controller must never do: change the shared object instead of a copy.
        deployments.store.get_by_key("default/web")["metadata"].setdefault(
            "annotations", {})["evil"] = "yes"
        c.patch("deployments", "web", {"spec": {"replicas": 2}})
        with pytest.raises(InvariantViolation, match="default/web.* was mutated in place"):
            c.advance(5)
