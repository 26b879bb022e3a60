"""Strategic merge patch and kubectl's three-way merge, on cases modelled on
apimachinery's strategicpatch tests (merging lists by key, $patch, $retainKeys,
$setElementOrder, $deleteFromPrimitiveList) and on what ``kubectl apply`` does."""

from __future__ import annotations

import copy
import json

import pytest

from actors.apiserver._strategic import (
    LAST_APPLIED_ANNOTATION,
    StrategicMergePatchError,
    apply_patch,
    patch_meta,
    strategic_merge_patch,
    three_way_merge,
    with_last_applied,
)


def pod(*containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": list(containers), **spec}}


def c(name, image="nginx", **kw):
    return {"name": name, "image": image, **kw}


def names(obj, field="containers"):
    return [x["name"] for x in obj["spec"][field]]


def test_containers_merge_by_name_and_keep_unpatched_fields():
    original = pod(c("web", ports=[{"containerPort": 80}]), c("log", "busybox"))
    out = strategic_merge_patch(original, {"spec": {"containers": [{"name": "web", "image": "v2"}]}},
                                "Pod")
    assert out["spec"]["containers"] == [c("web", "v2", ports=[{"containerPort": 80}]),
                                         c("log", "busybox")]
    assert original["spec"]["containers"][0]["image"] == "nginx"  # not mutated


def test_a_new_item_is_placed_by_normalize_element_order():
    # Patch items keep the patch's order; server-only items are woven in by live order.
    out = strategic_merge_patch(pod(c("a"), c("b")), {"spec": {"containers": [
        {"name": "a", "image": "z"}, {"name": "c", "image": "w"}]}}, "Pod")
    assert names(out) == ["a", "c", "b"]


def test_patch_delete_removes_an_item_by_merge_key():
    out = strategic_merge_patch(pod(c("a"), c("b")), {"spec": {"containers": [
        {"name": "b", "$patch": "delete"}]}}, "Pod")
    assert names(out) == ["a"]


def test_patch_replace_in_a_list_replaces_the_whole_list():
    out = strategic_merge_patch(pod(c("a"), c("b")), {"spec": {"containers": [
        {"name": "x", "image": "y"}, {"$patch": "replace"}]}}, "Pod")
    assert out["spec"]["containers"] == [c("x", "y")]


def test_patch_replace_and_delete_on_maps():
    original = {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}}
    out = strategic_merge_patch(original, {"metadata": {"labels": {"c": "3", "$patch": "replace"}}},
                                "Pod")
    assert out["metadata"]["labels"] == {"c": "3"}
    out = strategic_merge_patch(original, {"metadata": {"labels": {"$patch": "delete"}}}, "Pod")
    assert out["metadata"]["labels"] == {}


def test_null_deletes_a_field_and_unmatched_nulls_are_dropped():
    out = strategic_merge_patch(pod(c("a"), restartPolicy="Always"), {"spec": {
        "restartPolicy": None, "containers": [{"name": "b", "image": "x", "command": None}]}},
        "Pod")
    assert "restartPolicy" not in out["spec"]
    assert out["spec"]["containers"] == [c("b", "x"), c("a")]  # new patch items lead


def test_retain_keys_clears_fields_not_listed():
    d = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = strategic_merge_patch(d, {"spec": {"strategy": {"$retainKeys": ["type"],
                                                          "type": "Recreate"}}}, "Deployment")
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_on_a_volume_switches_its_source():
    original = pod(c("a"), volumes=[{"name": "data", "emptyDir": {}}])
    out = strategic_merge_patch(original, {"spec": {"volumes": [
        {"name": "data", "hostPath": {"path": "/d"}, "$retainKeys": ["hostPath", "name"]}]}}, "Pod")
    assert out["spec"]["volumes"] == [{"name": "data", "hostPath": {"path": "/d"}}]


def test_retain_keys_must_list_every_patched_field():
    d = {"spec": {"strategy": {"type": "RollingUpdate"}}}
    with pytest.raises(StrategicMergePatchError) as e:
        strategic_merge_patch(d, {"spec": {"strategy": {"$retainKeys": ["rollingUpdate"],
                                                        "type": "Recreate"}}}, "Deployment")
    assert e.value.message == "invalid patch format of retainKeys" and e.value.code == 400


def test_set_element_order_reorders_the_merged_list():
    out = strategic_merge_patch(pod(c("a"), c("b"), c("c")), {"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
        "containers": [{"name": "a", "image": "v2"}]}}, "Pod")
    assert names(out) == ["c", "a", "b"]
    assert out["spec"]["containers"][1]["image"] == "v2"


def test_set_element_order_must_agree_with_the_patch_list():
    with pytest.raises(StrategicMergePatchError):
        strategic_merge_patch(pod(c("a"), c("b")), {"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "b", "image": "v2"}]}}, "Pod")


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list():
    o = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    out = strategic_merge_patch(o, {"metadata": {"finalizers": ["b", "c"]}}, "ConfigMap")
    assert out["metadata"]["finalizers"] == ["a", "b", "c"]
    out = strategic_merge_patch(o, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
                                "ConfigMap")
    assert out["metadata"]["finalizers"] == ["b"]


def test_lists_without_a_strategy_are_replaced():
    tol = [{"key": "a", "operator": "Exists"}]
    out = strategic_merge_patch(pod(c("a"), tolerations=tol), {"spec": {"tolerations": [
        {"key": "b", "operator": "Exists"}]}}, "Pod")
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    node = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]}}
    out = strategic_merge_patch(node, {"spec": {"taints": [], "podCIDRs": ["fd00::/64"]}}, "Node")
    assert out["spec"] == {"taints": [], "podCIDRs": ["fd00::/64", "10.0.0.0/24"]}


def test_ports_merge_by_container_port_and_service_ports_by_port():
    original = pod(c("a", ports=[{"containerPort": 80, "name": "http"}]))
    out = strategic_merge_patch(original, {"spec": {"containers": [{"name": "a", "ports": [
        {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]}]}}, "Pod")
    assert out["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
                                "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090}]


def test_env_merges_by_name_inside_a_deployment_template():
    dep = {"spec": {"template": {"spec": {"containers": [
        c("a", env=[{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])]}}}}
    out = strategic_merge_patch(dep, {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "env": [{"name": "Y", "value": "3"}]}]}}}}, "Deployment")
    assert out["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "X", "value": "1"}, {"name": "Y", "value": "3"}]


def test_owner_references_merge_by_uid():
    o = {"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}
    out = strategic_merge_patch(o, {"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}},
                                "Pod")
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["2", "1"]


def test_missing_merge_key_is_an_error():
    with pytest.raises(StrategicMergePatchError) as e:
        strategic_merge_patch(pod(c("a")), {"spec": {"containers": [{"image": "x"}]}}, "Pod")
    assert e.value.message == "map: map[image:x] does not contain declared merge key: name"


def test_unknown_kinds_replace_lists_like_a_merge_patch():
    cr = {"spec": {"items": [{"name": "a"}], "x": {"y": 1}}}
    out = strategic_merge_patch(cr, {"spec": {"items": [{"name": "b"}], "x": {"z": 2}}}, "Widget")
    assert out == {"spec": {"items": [{"name": "b"}], "x": {"y": 1, "z": 2}}}


def test_patch_meta_reads_the_table_by_json_path():
    assert patch_meta("Deployment", ("spec", "template", "spec", "containers")) == (("merge",), "name")
    assert patch_meta("Pod", ("spec", "containers", "volumeMounts")) == (("merge",), "mountPath")
    assert patch_meta("Pod", ("spec", "volumes")) == (("merge", "retainKeys"), "name")
    assert patch_meta("Pod", ("spec", "tolerations")) == ((), "")
    assert patch_meta("Node", ("spec", "taints")) == ((), "")
    assert patch_meta("Pod", ("status", "conditions")) == (("merge",), "type")
    assert patch_meta("CronJob", ("spec", "jobTemplate", "spec", "template", "spec",
                                  "initContainers")) == (("merge",), "name")
    assert patch_meta("ConfigMap", ("metadata", "finalizers")) == (("merge",), "")
    assert patch_meta("Deployment", ("spec", "strategy")) == (("retainKeys",), "")


# --- three-way merge (kubectl apply) ---------------------------------------------------


def deployment(containers, **spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": containers}}, **spec}}


def test_removing_a_field_from_the_manifest_deletes_it():
    last = deployment([c("a")], replicas=3, minReadySeconds=5)
    manifest = deployment([c("a")], replicas=3)
    live = copy.deepcopy(last)
    patch = three_way_merge(last, manifest, live, "Deployment")
    assert patch == {"spec": {"minReadySeconds": None}}
    assert "minReadySeconds" not in strategic_merge_patch(live, patch, "Deployment")["spec"]


def test_fields_set_by_others_are_kept():
    last = deployment([c("a")])
    manifest = deployment([c("a", "v2")])
    live = copy.deepcopy(last)
    live["spec"]["replicas"] = 5  # an autoscaler's doing
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    live["status"] = {"replicas": 5}
    patch = three_way_merge(last, manifest, live, "Deployment")
    assert patch == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "a", "image": "v2"}]}}}}
    merged = strategic_merge_patch(live, patch, "Deployment")
    assert merged["spec"]["replicas"] == 5 and merged["status"] == {"replicas": 5}
    assert merged["spec"]["template"]["spec"]["containers"] == [
        c("a", "v2", imagePullPolicy="Always")]


def test_a_container_removed_from_the_manifest_gets_a_delete_directive():
    last = deployment([c("a"), c("b")])
    manifest = deployment([c("a")])
    live = copy.deepcopy(last)
    patch = three_way_merge(last, manifest, live, "Deployment")
    assert patch["spec"]["template"]["spec"] == {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"$patch": "delete", "name": "b"}]}
    assert names(strategic_merge_patch(live, patch, "Deployment")["spec"]["template"]) == ["a"]


def test_changing_the_strategy_type_sends_retain_keys():
    last = deployment([c("a")], strategy={"type": "RollingUpdate",
                                          "rollingUpdate": {"maxSurge": "25%"}})
    manifest = deployment([c("a")], strategy={"type": "Recreate"})
    patch = three_way_merge(last, manifest, copy.deepcopy(last), "Deployment")
    assert patch["spec"]["strategy"] == {"$retainKeys": ["type"], "rollingUpdate": None,
                                         "type": "Recreate"}
    merged = strategic_merge_patch(copy.deepcopy(last), patch, "Deployment")
    assert merged["spec"]["strategy"] == {"type": "Recreate"}


def test_primitive_merge_lists_use_parallel_delete_and_order_lists():
    last = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    manifest = {"metadata": {"name": "x", "finalizers": ["a", "c"]}}
    live = {"metadata": {"name": "x", "finalizers": ["a", "b", "z"]}}
    patch = three_way_merge(last, manifest, live, "ConfigMap")
    assert patch == {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"],
                                  "$setElementOrder/finalizers": ["a", "c"],
                                  "finalizers": ["c"]}}
    assert strategic_merge_patch(live, patch, "ConfigMap")["metadata"]["finalizers"] == [
        "a", "c", "z"]


def test_an_unchanged_manifest_gives_an_empty_patch():
    last = deployment([c("a")], replicas=2)
    assert three_way_merge(last, copy.deepcopy(last), copy.deepcopy(last), "Deployment") == {}


def test_with_last_applied_matches_kubectls_annotation():
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
                "data": {"k": "<v>"}}
    out = with_last_applied(manifest)
    text = out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert text == ('{"apiVersion":"v1","data":{"k":"\\u003cv\\u003e"},"kind":"ConfigMap",'
                    '"metadata":{"annotations":{},"name":"x"}}\n')
    assert json.loads(text)["data"] == {"k": "<v>"}
    assert "annotations" not in manifest["metadata"]


def test_apply_patch_round_trip_reaches_the_manifest():
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
             "data": {"a": "1", "b": "2"}}
    live = with_last_applied(first)
    live["metadata"]["labels"] = {"added-by": "someone-else"}
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
              "data": {"a": "3"}}
    merged = strategic_merge_patch(live, apply_patch(second, live, "ConfigMap"), "ConfigMap")
    assert merged["data"] == {"a": "3"}
    assert merged["metadata"]["labels"] == {"added-by": "someone-else"}
    assert json.loads(merged["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])["data"] == {
        "a": "3"}


def test_error_statuses_follow_interpret_strategic_merge_patch_error():
    with pytest.raises(StrategicMergePatchError) as e:
        strategic_merge_patch(pod(c("a")), {"spec": {"containers": [{"image": "x"}]}}, "Pod")
    assert (e.value.status().code, e.value.status().reason) == (400, "BadRequest")
    status = StrategicMergePatchError("lists of lists are not supported", 422).status()
    assert (status.code, status.reason) == (422, "Invalid")
