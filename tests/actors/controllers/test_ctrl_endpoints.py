"""The Endpoints and EndpointSlice controllers through ``simulate()``: a Service's Endpoints are
exactly its ready pods (not-ready ones in ``notReadyAddresses``), they follow scaling, label
changes and deletions, and the EndpointSlices agree."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster

from ._ctrl_helpers import deployment, ready_pods, wait_available


def service(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}


def endpoint_ips(c: Cluster, name: str) -> tuple[set[str], set[str]]:
    ep = c.get("endpoints", name)
    ready, not_ready = set(), set()
    for s in ep.get("subsets") or ():
        ready |= {a["ip"] for a in s.get("addresses") or ()}
        not_ready |= {a["ip"] for a in s.get("notReadyAddresses") or ()}
    return ready, not_ready


def slice_ips(c: Cluster, name: str) -> set[str]:
    out = set()
    for s in c.list("endpointslices", "default", label_selector=f"kubernetes.io/service-name={name}")["items"]:
        for e in s.get("endpoints") or ():
            if (e.get("conditions") or {}).get("ready"):
                out |= set(e["addresses"])
    return out


def ready_ips(c: Cluster, app: str) -> set[str]:
    return {p["status"]["podIP"] for p in ready_pods(c, app)}


def test_endpoints_are_the_ready_pods_of_the_service() -> None:
    spec = ClusterSpec(nodes=[NodeSpec("node-0"), NodeSpec("node-1")])
    with simulate(spec, seed=6) as c:
        c.create(service("web", "web"))
        c.run_until(lambda c: c.get("endpoints", "web") is not None, timeout=10)
        assert endpoint_ips(c, "web") == (set(), set())
        c.create(deployment("web", replicas=3))
        wait_available(c, "web", 3)
        c.run_until(lambda c: endpoint_ips(c, "web")[0] == ready_ips(c, "web") and len(ready_ips(c, "web")) == 3,
                    timeout=10)
        ep = c.get("endpoints", "web")
        (subset,) = ep["subsets"]
        assert subset["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
        assert {a["targetRef"]["kind"] for a in subset["addresses"]} == {"Pod"}
        c.run_until(lambda c: slice_ips(c, "web") == ready_ips(c, "web"), timeout=10)
        # A pod relabelled out of the selector leaves the Endpoints; its replacement joins.
        victim = ready_pods(c, "web")[0]
        c.patch("pods", victim["metadata"]["name"], {"metadata": {"labels": {"app": "other"}}})
        c.run_until(lambda c: victim["status"]["podIP"] not in endpoint_ips(c, "web")[0]
                    and len(endpoint_ips(c, "web")[0]) == 3, timeout=60)
        assert endpoint_ips(c, "web")[0] == ready_ips(c, "web")
        # Scaled to zero: no addresses left.
        c.patch("deployments", "web", {"spec": {"replicas": 0}})
        c.run_until(lambda c: endpoint_ips(c, "web") == (set(), set()) and not slice_ips(c, "web"), timeout=60)


def test_not_ready_pods_are_listed_apart_and_a_deleted_service_takes_its_endpoints() -> None:
    with simulate(ClusterSpec(), seed=9) as c:
        c.create(service("db", "db"))
        # An image that cannot be pulled: the pod gets an IP but never becomes ready.
        c.create(deployment("db", replicas=1, image="ningx"))
        c.run_until(lambda c: bool(endpoint_ips(c, "db")[1]), timeout=60)
        ready, not_ready = endpoint_ips(c, "db")
        (pod,) = c.list("pods", "default", label_selector="app=db")["items"]
        assert ready == set() and not_ready == {pod["status"]["podIP"]}
        c.delete("services", "db")
        c.run_until(lambda c: not any(e["metadata"]["name"] == "db" for e in c.list("endpoints", "default")["items"]),
                    timeout=10)
        # Its EndpointSlices carried the Service as controller: the garbage collector removes them.
        c.run_until(lambda c: not c.list("endpointslices", "default",
                                         label_selector="kubernetes.io/service-name=db")["items"], timeout=30)
