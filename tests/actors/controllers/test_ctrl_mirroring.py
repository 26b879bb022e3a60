"""The EndpointSliceMirroring controller through ``simulate()``: a Service without a selector
and an Endpoints object written by hand get a mirrored EndpointSlice that follows the
Endpoints, goes away with the skip-mirror label, a selector or a deletion, is put back when
edited, and carries traffic to the Service's ClusterIP through kube-proxy."""

from __future__ import annotations

from typing import Any

from actors import ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster
from actors.controllers._base import CONTROLLERS
from actors.controllers._manager import enabled_controllers

MIRRORED = "endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io"


def service(name: str = "ext", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}], **spec}}


def endpoints(ready: list[str], not_ready: list[str] = (), name: str = "ext",
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    subset: dict[str, Any] = {"ports": [{"port": 8080, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [{"ip": ip} for ip in ready]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": "default", "labels": labels or {"owner": "me"}},
            "subsets": [subset]}


def mirrored(c: Cluster, name: str = "ext") -> list[dict[str, Any]]:
    return c.list("endpointslices", "default",
                  label_selector=f"{MIRRORED},kubernetes.io/service-name={name}")["items"]


def conditions(c: Cluster, name: str = "ext") -> dict[str, bool]:
    return {e["addresses"][0]: e["conditions"]["ready"] for s in mirrored(c, name) for e in s["endpoints"]}


def test_the_controller_is_registered_as_kubernetes_names_it() -> None:
    ctrl = CONTROLLERS["endpointslicemirroring"]
    assert (ctrl.component, ctrl.service_account, ctrl.workers) == (
        "endpoint-slice-mirroring-controller", "endpointslicemirroring-controller", 5)
    assert "endpointslicemirroring" in enabled_controllers(["*"])


def test_a_custom_endpoints_object_is_mirrored_and_followed() -> None:
    with simulate(ClusterSpec(), seed=4) as c:
        c.create(service())
        ep = c.create(endpoints(["10.1.0.1"]))
        c.run_until(lambda c: conditions(c) == {"10.1.0.1": True}, timeout=10)
        (s,) = mirrored(c)
        assert s["metadata"]["generateName"] == "ext-" and s["addressType"] == "IPv4"
        assert s["metadata"]["labels"] == {"owner": "me", "kubernetes.io/service-name": "ext",
                                           "endpointslice.kubernetes.io/managed-by":
                                               "endpointslicemirroring-controller.k8s.io"}
        assert s["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Endpoints", "name": "ext", "uid": ep["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}]
        assert s["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
        # An update rewrites the same slice.
        c.update({**c.get("endpoints", "ext"), "subsets": endpoints(["10.1.0.2"], ["10.1.0.1"])["subsets"]})
        c.run_until(lambda c: conditions(c) == {"10.1.0.2": True, "10.1.0.1": False}, timeout=10)
        assert [x["metadata"]["uid"] for x in mirrored(c)] == [s["metadata"]["uid"]]
        # Someone else's edit of the mirrored slice is put back.
        edited = mirrored(c)[0]
        c.update({**edited, "endpoints": [{"addresses": ["10.9.9.9"], "conditions": {"ready": True}}]})
        c.run_until(lambda c: conditions(c) == {"10.1.0.2": True, "10.1.0.1": False}, timeout=10)
        # skip-mirror: the slices go; without it they come back.
        c.patch("endpoints", "ext", {"metadata": {"labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}})
        c.run_until(lambda c: not mirrored(c), timeout=10)
        c.patch("endpoints", "ext", {"metadata": {"labels": {"endpointslice.kubernetes.io/skip-mirror": None}}})
        c.run_until(lambda c: conditions(c) == {"10.1.0.2": True, "10.1.0.1": False}, timeout=10)
        # Deleting the Endpoints deletes its slices.
        c.delete("endpoints", "ext")
        c.run_until(lambda c: not mirrored(c), timeout=30)


def test_a_selector_or_a_deleted_service_ends_the_mirroring() -> None:
    with simulate(ClusterSpec(), seed=5) as c:
        c.create(endpoints(["10.1.0.1"], name="late"))
        c.advance(2)
        assert not mirrored(c, "late")  # no Service yet: nothing is mirrored
        c.create(service("late"))
        c.run_until(lambda c: conditions(c, "late") == {"10.1.0.1": True}, timeout=10)
        c.patch("services", "late", {"spec": {"selector": {"app": "late"}}})
        c.run_until(lambda c: not mirrored(c, "late"), timeout=10)
        c.create(service("gone"))
        c.create(endpoints(["10.1.0.3"], name="gone"))
        c.run_until(lambda c: conditions(c, "gone") == {"10.1.0.3": True}, timeout=10)
        c.delete("services", "gone")
        c.run_until(lambda c: not mirrored(c, "gone"), timeout=10)
        # The Endpoints controller's own Endpoints are never mirrored (their Service selects).
        assert not c.list("endpointslices", "kube-system", label_selector=MIRRORED)["items"]
        assert not c.list("endpointslices", "default", label_selector=f"{MIRRORED},kubernetes.io/service-name=kubernetes")["items"]


def test_traffic_to_a_selectorless_service_reaches_the_hand_made_endpoint() -> None:
    spec = ClusterSpec(nodes=[NodeSpec("node-1"), NodeSpec("node-2")])
    with simulate(spec, seed=8) as c:
        for name, node in (("client", "node-1"), ("backend", "node-2")):
            c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                      "spec": {"nodeName": node, "containers": [{"name": "app", "image": "kubia"}]}})
        c.run_until(lambda c: all(c.get("pods", n)["status"].get("phase") == "Running"
                                  for n in ("client", "backend")), timeout=60)
        backend = c.get("pods", "backend")["status"]["podIP"]
        c.create(service(clusterIP="10.96.0.77"))
        c.create(endpoints([backend]))
        c.run_until(lambda c: conditions(c) == {backend: True}, timeout=10)
        c.advance(2)  # kube-proxy's minSyncPeriod
        r = c.request(from_pod=("default", "client"), to="10.96.0.77:80")
        assert b"You've hit backend\n" in r.reply
        assert f"[DNAT 10.96.0.77:80 → {backend}:8080]" in r.path_str
