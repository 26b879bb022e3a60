"""The EndpointSliceMirroring reconcile, case by case: when an Endpoints object is mirrored,
what a mirrored slice holds, how existing slices are kept, rewritten, recycled or deleted."""

from __future__ import annotations

import copy
from typing import Any

from actors.controllers import Create, Delete, Update, reconcile_mirrored_slices
from actors.controllers._logic_mirroring import parse_ip

MANAGED = {"endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
           "kubernetes.io/service-name": "ext"}
PORTS = [{"name": "http", "port": 8080, "protocol": "TCP"}]


def service(selector: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"}, "spec": spec}


def endpoints(*subsets: dict[str, Any], labels: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "ext", "namespace": "default", "uid": "ep-uid", "resourceVersion": "7"}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta, "subsets": list(subsets)}


def subset(ready: list[str] = (), not_ready: list[str] = (), ports: list[dict[str, Any]] | None = None,
           **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ports": PORTS if ports is None else ports}
    if ready:
        out["addresses"] = [{"ip": ip, **extra} for ip in ready]
    if not_ready:
        out["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return out


def plan(ep: dict[str, Any] | None, svc: dict[str, Any] | None = None, slices: list[dict[str, Any]] = (), **kw: Any):
    return reconcile_mirrored_slices(ep, service() if svc is None else svc, slices,
                                     namespace="default", name="ext", **kw)


def applied(p) -> list[dict[str, Any]]:
    """The slices the plan writes, with a name for the created ones."""
    out = []
    for i, a in enumerate(p.actions):
        if isinstance(a, (Create, Update)):
            body = copy.deepcopy(a.body)
            body["metadata"].setdefault("name", f"ext-{i}")
            out.append(body)
    return out


def ips(s: dict[str, Any]) -> dict[str, bool]:
    return {e["addresses"][0]: e["conditions"]["ready"] for e in s["endpoints"]}


def test_a_custom_endpoints_object_becomes_one_slice() -> None:
    addr = {"hostname": "db-0", "nodeName": "node-1",
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "db-0", "uid": "p1"}}
    ep = endpoints(subset(["10.0.0.1"], ["10.0.0.2"], **addr),
                   labels={"team": "a"},
                   annotations={"note": "x", "endpoints.kubernetes.io/last-change-trigger-time": "t",
                                "kubectl.kubernetes.io/last-applied-configuration": "{}"})
    p = plan(ep)
    (create,) = p.actions
    assert isinstance(create, Create) and create.ref.kind == "EndpointSlice" and not p.events
    s = create.body
    assert s["metadata"] == {
        "generateName": "ext-", "namespace": "default",
        "labels": {"team": "a", **MANAGED}, "annotations": {"note": "x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": "ext", "uid": "ep-uid",
                             "controller": True, "blockOwnerDeletion": True}]}
    assert s["addressType"] == "IPv4" and s["ports"] == PORTS
    assert s["endpoints"] == [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, **addr},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}}]


def test_ports_keep_name_protocol_and_app_protocol_and_an_unnamed_port_is_named_empty() -> None:
    ports = [{"port": 53, "protocol": "UDP"}, {"name": "h2", "port": 81, "protocol": "TCP", "appProtocol": "h2c"}]
    (create,) = plan(endpoints(subset(["10.0.0.1"], ports=ports))).actions
    assert create.body["ports"] == [{"name": "", "port": 53, "protocol": "UDP"},
                                    {"name": "h2", "port": 81, "protocol": "TCP", "appProtocol": "h2c"}]


def test_the_endpoints_own_service_name_and_managed_by_labels_are_overwritten() -> None:
    ep = endpoints(subset(["10.0.0.1"]), labels={"kubernetes.io/service-name": "other",
                                                 "endpointslice.kubernetes.io/managed-by": "me"})
    (create,) = plan(ep).actions
    assert create.body["metadata"]["labels"] == MANAGED


def test_nothing_is_mirrored_without_a_selectorless_service_or_with_skip_mirror_or_a_leader_lock() -> None:
    ep = endpoints(subset(["10.0.0.1"]))
    mirrored = applied(plan(ep))
    for case in (
        plan(ep, svc=service({"app": "db"}), slices=mirrored),
        reconcile_mirrored_slices(ep, None, mirrored, namespace="default", name="ext"),
        plan(endpoints(subset(["10.0.0.1"]), labels={"endpointslice.kubernetes.io/skip-mirror": "true"}),
             slices=mirrored),
        plan(endpoints(subset(["10.0.0.1"]), annotations={"control-plane.alpha.kubernetes.io/leader": "{}"}),
             slices=mirrored),
        plan(None, slices=mirrored),
    ):
        assert [(type(a), a.ref.name) for a in case.actions] == [(Delete, "ext-0")]
    # An empty selector is no selector (the API stores it as nil); skip-mirror must be "true".
    assert plan(ep, svc=service({}), slices=mirrored).actions == ()
    assert plan(endpoints(subset(["10.0.0.1"]), labels={"endpointslice.kubernetes.io/skip-mirror": "false"}),
                slices=[]).actions[0].body["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "false"


def test_other_managers_slices_and_other_names_are_left_alone() -> None:
    ep = endpoints(subset(["10.0.0.1"]))
    mirrored = applied(plan(ep))[0]
    foreign = copy.deepcopy(mirrored)
    foreign["metadata"].update(name="ext-x", labels={**MANAGED, "endpointslice.kubernetes.io/managed-by": "me"})
    other_name = copy.deepcopy(mirrored)
    other_name["metadata"].update(name="ext-y", labels={**MANAGED, "kubernetes.io/service-name": "db"})
    assert plan(ep, slices=[mirrored, foreign, other_name]).actions == ()
    assert plan(None, slices=[foreign, other_name]).actions == ()


def test_subsets_are_repacked_and_each_port_set_and_family_gets_its_slice() -> None:
    dns = [{"name": "dns", "port": 53, "protocol": "UDP"}]
    ep = endpoints(subset(["10.0.0.1", "fd00::1"]), subset(["10.0.0.2"]),
                   subset(["10.0.0.3"], ports=dns))
    slices = applied(plan(ep))
    got = sorted((s["addressType"], s["ports"][0]["port"], tuple(sorted(ips(s)))) for s in slices)
    assert got == [("IPv4", 53, ("10.0.0.3",)), ("IPv4", 8080, ("10.0.0.1", "10.0.0.2")),
                   ("IPv6", 8080, ("fd00::1",))]


def test_a_subset_without_ports_is_mirrored_with_no_ports() -> None:
    (create,) = plan(endpoints(subset(["10.0.0.1"], ports=[]))).actions
    assert create.body["ports"] == [] and ips(create.body) == {"10.0.0.1": True}


def test_addresses_past_the_subset_limit_are_dropped_ready_first_with_a_warning() -> None:
    ep = endpoints(subset(["10.0.0.1", "10.0.0.2"], ["10.0.0.3"]), subset(["10.0.1.1"], ports=[]))
    p = plan(ep, max_per_subset=2)
    assert sorted((ips(s) for s in applied(p)), key=len) == [{"10.0.1.1": True},
                                                             {"10.0.0.1": True, "10.0.0.2": True}]
    (event,) = p.events
    assert (event.type, event.reason, event.involved.kind, event.involved.name) == \
        ("Warning", "TooManyAddressesToMirror", "Endpoints", "ext")
    assert event.message == ("A max of 2 addresses can be mirrored to EndpointSlices per Endpoints subset. "
                             "1 addresses were skipped")
    assert "annotations" not in ep["metadata"]


def test_invalid_addresses_are_skipped_with_their_own_warning_and_ips_are_canonical() -> None:
    p = plan(endpoints(subset(["10.0.0.1", "not-an-ip", "010.000.000.002", "::ffff:10.0.0.3", "FD00::0:1"])))
    got = {s["addressType"]: sorted(ips(s)) for s in applied(p)}
    assert got == {"IPv4": ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "IPv6": ["fd00::1"]}
    assert [(e.reason, e.message) for e in p.events] == [
        ("InvalidIPAddress", "Skipped 1 invalid IP addresses when mirroring to EndpointSlices")]
    assert parse_ip("256.0.0.1") is None and parse_ip("") is None


def test_an_unchanged_mirror_writes_nothing_and_a_change_updates_the_slice_in_place() -> None:
    ep = endpoints(subset(["10.0.0.1", "10.0.0.2"]), labels={"team": "a"})
    (current,) = applied(plan(ep))
    current["metadata"].update(uid="s-uid", resourceVersion="3")
    assert plan(ep, slices=[current]).actions == ()
    # Order does not matter; a changed condition, address, label or annotation does.
    current_reordered = {**current, "endpoints": current["endpoints"][::-1]}
    assert plan(ep, slices=[current_reordered]).actions == ()
    for changed in (endpoints(subset(["10.0.0.1"], ["10.0.0.2"]), labels={"team": "a"}),
                    endpoints(subset(["10.0.0.1", "10.0.0.9"]), labels={"team": "a"}),
                    endpoints(subset(["10.0.0.1", "10.0.0.2"]), labels={"team": "b"}),
                    endpoints(subset(["10.0.0.1", "10.0.0.2"]), labels={"team": "a"}, annotations={"n": "1"})):
        (update,) = plan(changed, slices=[current]).actions
        assert isinstance(update, Update) and update.ref.name == "ext-0"
        assert update.body["metadata"]["resourceVersion"] == "3" and update.body["metadata"]["uid"] == "s-uid"
        assert applied(plan(changed))[0]["endpoints"] == update.body["endpoints"]


def test_a_slice_edited_by_someone_else_is_put_back() -> None:
    ep = endpoints(subset(["10.0.0.1"]))
    (current,) = applied(plan(ep))
    edited = copy.deepcopy(current)
    edited["endpoints"][0]["conditions"]["ready"] = False
    edited["metadata"]["labels"]["extra"] = "1"
    (update,) = plan(ep, slices=[edited]).actions
    assert update.body["endpoints"] == current["endpoints"]
    assert update.body["metadata"]["labels"] == current["metadata"]["labels"]


def test_extra_slices_of_a_group_are_deleted_and_a_port_change_reuses_the_slice() -> None:
    ep = endpoints(subset(["10.0.0.1"]))
    (first,) = applied(plan(ep))
    second = copy.deepcopy(first)
    second["metadata"]["name"] = "ext-1"
    assert [(type(a), a.ref.name) for a in plan(ep, slices=[second, first]).actions] == [(Delete, "ext-1")]
    # New ports: the old group goes, the new one is written into the old slice (recycleSlices).
    moved = endpoints(subset(["10.0.0.1"], ports=[{"name": "http", "port": 9090, "protocol": "TCP"}]))
    (update,) = plan(moved, slices=[first]).actions
    assert isinstance(update, Update) and update.ref.name == "ext-0"
    assert update.body["ports"] == [{"name": "http", "port": 9090, "protocol": "TCP"}]


def test_addresses_all_gone_delete_the_slices_and_a_deleting_endpoints_creates_none() -> None:
    ep = endpoints(subset(["10.0.0.1"]))
    (current,) = applied(plan(ep))
    emptied = endpoints()
    assert [type(a) for a in plan(emptied, slices=[current]).actions] == [Delete]
    assert plan(emptied).actions == ()
    dying = endpoints(subset(["10.0.0.1"]))
    dying["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert plan(dying).actions == ()


def test_inputs_are_not_mutated() -> None:
    ep = endpoints(subset(["10.0.0.1"], ["10.0.0.2"]), labels={"team": "a"}, annotations={"n": "1"})
    (current,) = applied(plan(endpoints(subset(["10.0.0.3"]))))
    before = copy.deepcopy((ep, current))
    p = plan(ep, slices=[current])
    p.actions[0].body["endpoints"][0]["conditions"]["ready"] = "changed"
    p.actions[0].body["metadata"]["labels"]["x"] = "y"
    assert (ep, current) == before
