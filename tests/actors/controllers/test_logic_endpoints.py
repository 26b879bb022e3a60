"""Endpoints and EndpointSlice logic: named target ports, ready and not-ready addresses,
publishNotReadyAddresses, hostnames, repacking, slices."""

from __future__ import annotations

from typing import Any

from actors.controllers import (
    Create,
    Delete,
    Update,
    find_port,
    reconcile_endpoint_slices,
    reconcile_endpoints,
)

NOW = 1_700_000_000.0


def service(ports: list | None = None, **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"app": "web"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.10",
                     "ports": ports if ports is not None else [
                         {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}], **spec}}


def pod(name: str, ip: str | None, *, ready: bool = True, port_name: str = "http", port: int = 8080,
        deleting: bool = False, phase: str = "Running", **spec: Any) -> dict:
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": [
            {"name": port_name, "containerPort": port, "protocol": "TCP"}]}], **spec},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }
    if ip:
        p["status"]["podIP"] = ip
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return p


def test_find_port_by_name_number_and_protocol():
    p = pod("a", "10.244.0.5")
    assert find_port(p, {"port": 80, "targetPort": "http", "protocol": "TCP"}) == 8080
    assert find_port(p, {"port": 80, "targetPort": "http", "protocol": "UDP"}) is None
    assert find_port(p, {"port": 80, "targetPort": 9090}) == 9090
    assert find_port(p, {"port": 80}) == 80
    assert find_port(p, {"port": 80, "targetPort": "metrics"}) is None


def test_endpoints_ready_and_not_ready_addresses_with_resolved_ports():
    pods = [pod("a", "10.244.0.5"), pod("b", "10.244.0.6", ready=False), pod("c", None),
            pod("d", "10.244.0.7", phase="Succeeded"), pod("e", "10.244.0.8", deleting=True)]
    plan = reconcile_endpoints(service(), pods, None, now=NOW)
    create = plan.actions[0]
    assert isinstance(create, Create) and create.ref.kind == "Endpoints" and create.ref.name == "web"
    assert create.body["metadata"]["labels"] == {"app": "web"}
    assert create.body["subsets"] == [{
        "addresses": [{"ip": "10.244.0.5", "nodeName": "node-1",
                       "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "u-a"}}],
        "notReadyAddresses": [{"ip": "10.244.0.6", "nodeName": "node-1",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "u-b"}}],
        "ports": [{"port": 8080, "protocol": "TCP", "name": "http"}]}]
    # Unchanged: no write.
    current = dict(create.body, metadata=dict(create.body["metadata"], resourceVersion="5"))
    assert not reconcile_endpoints(service(), pods, current, now=NOW).actions


def test_pods_resolving_named_port_differently_get_separate_subsets():
    pods = [pod("a", "10.244.0.5", port=8080), pod("b", "10.244.0.6", port=9090)]
    subsets = reconcile_endpoints(service(), pods, None, now=NOW).actions[0].body["subsets"]
    assert [(s["addresses"][0]["ip"], s["ports"][0]["port"]) for s in subsets] == [
        ("10.244.0.5", 8080), ("10.244.0.6", 9090)]


def test_multiple_ports_share_a_subset():
    svc = service([{"name": "http", "port": 80, "targetPort": 8080},
                   {"name": "metrics", "port": 9100, "targetPort": 9100}])
    subsets = reconcile_endpoints(svc, [pod("a", "10.244.0.5"), pod("b", "10.244.0.6")], None,
                                  now=NOW).actions[0].body["subsets"]
    assert len(subsets) == 1 and [a["ip"] for a in subsets[0]["addresses"]] == ["10.244.0.5", "10.244.0.6"]
    assert [p["name"] for p in subsets[0]["ports"]] == ["http", "metrics"]


def test_publish_not_ready_addresses_and_headless_hostnames():
    svc = service(publishNotReadyAddresses=True, clusterIP="None")
    p = pod("web-0", "10.244.0.9", ready=False, deleting=True, hostname="web-0", subdomain="web")
    body = reconcile_endpoints(svc, [p], None, now=NOW).actions[0].body
    addr = body["subsets"][0]["addresses"][0]
    assert addr["hostname"] == "web-0" and addr["ip"] == "10.244.0.9"
    assert body["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_services_without_selector_are_left_alone_and_deleted_service_deletes_endpoints():
    svc = service()
    del svc["spec"]["selector"]
    assert not reconcile_endpoints(svc, [pod("a", "10.244.0.5")], None, now=NOW).actions
    ep = {"metadata": {"name": "web", "namespace": "default"}}
    plan = reconcile_endpoints(None, [], ep, now=NOW)
    assert isinstance(plan.actions[0], Delete) and plan.actions[0].ref.kind == "Endpoints"


def test_over_capacity_truncates_to_1000():
    pods = [pod(f"p{i}", f"10.244.{i // 250}.{i % 250 + 1}") for i in range(1100)]
    body = reconcile_endpoints(service(), pods, None, now=NOW).actions[0].body
    assert sum(len(s.get("addresses", [])) for s in body["subsets"]) == 1000
    assert body["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}


def test_endpoint_slices_conditions_zone_and_chunking():
    pods = [pod(f"p{i}", f"10.244.0.{i + 1}") for i in range(150)]
    pods.append(pod("t", "10.244.1.1", deleting=True))
    nodes = [{"metadata": {"name": "node-1", "labels": {"topology.kubernetes.io/zone": "z1"}}}]
    plan = reconcile_endpoint_slices(service(), pods, [], nodes, now=NOW)
    creates = plan.of_type(Create)
    assert [len(c.body["endpoints"]) for c in creates] == [100, 51]
    s = creates[0].body
    assert s["addressType"] == "IPv4" and s["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    assert s["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert s["metadata"]["ownerReferences"][0]["kind"] == "Service"
    ep = s["endpoints"][0]
    assert ep["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert ep["zone"] == "z1" and ep["nodeName"] == "node-1"
    term = next(e for c in creates for e in c.body["endpoints"] if e["targetRef"]["name"] == "t")
    assert term["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_endpoint_slices_update_in_place_and_placeholder():
    first = reconcile_endpoint_slices(service(), [pod("a", "10.244.0.5")], [], now=NOW).of_type(Create)[0].body
    existing = dict(first, metadata=dict(first["metadata"], name="web-abcde"))
    plan = reconcile_endpoint_slices(service(), [pod("a", "10.244.0.5", ready=False)], [existing], now=NOW)
    update = plan.actions[0]
    assert isinstance(update, Update) and update.body["endpoints"][0]["conditions"]["ready"] is False
    plan = reconcile_endpoint_slices(service(), [], [existing], now=NOW)
    assert isinstance(plan.actions[0], Update) and plan.actions[0].body["endpoints"] == []
    plan = reconcile_endpoint_slices(service(), [], [], now=NOW)
    assert plan.of_type(Create)[0].body["endpoints"] == []


def test_endpoint_slices_placeholder_becomes_the_first_slice_and_creates_come_first():
    """The reconciler's finalize: a delete paired with a create is an update of the slice
    that would have gone (the placeholder keeps its name and uid); writes go creates,
    updates, deletes."""
    body = reconcile_endpoint_slices(service(), [], [], now=NOW).of_type(Create)[0].body
    placeholder = dict(body, metadata=dict(body["metadata"], name="web-abcde", uid="u1",
                                           resourceVersion="7"))
    plan = reconcile_endpoint_slices(service(), [pod("a", "10.244.0.5")], [placeholder], now=NOW)
    assert [type(a) for a in plan.actions] == [Update]
    up = plan.actions[0]
    assert up.ref.name == "web-abcde" and up.body["metadata"]["uid"] == "u1"
    assert up.body["metadata"]["resourceVersion"] == "7"
    assert [e["addresses"] for e in up.body["endpoints"]] == [["10.244.0.5"]]
    assert up.body["ports"] == [{"port": 8080, "protocol": "TCP", "name": "http"}]
    # 150 endpoints where a placeholder and nothing else stood: one update, one create,
    # the create first.
    pods = [pod(f"p{i}", f"10.244.0.{i + 1}") for i in range(150)]
    plan = reconcile_endpoint_slices(service(), pods, [placeholder], now=NOW)
    assert [type(a) for a in plan.actions] == [Create, Update]
    assert sorted([len(plan.actions[0].body["endpoints"]), len(plan.actions[1].body["endpoints"])]) == [50, 100]
