"""kube-apiserver through the Python API: the basic verbs, their errors, generation, and the
etcd layout. One single-member etcd and one apiserver per test (a second of virtual time to
boot)."""

import json

import pytest

from actors import ApiError, ClusterSpec, simulate


@pytest.fixture
def cluster():
    with simulate(ClusterSpec(nodes=[]), seed=11) as c:
        yield c


def pod(name, **labels):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def cm(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment(name, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_create_sets_system_fields_and_defaults(cluster):
    p = cluster.create(pod("web"))
    meta = p["metadata"]
    assert meta["namespace"] == "default"
    assert len(meta["uid"]) == 36 and meta["uid"][14] == "4"  # UUID v4 shaped
    assert meta["creationTimestamp"].startswith("2026-01-01T00:00:")
    assert int(meta["resourceVersion"]) > 0
    assert meta["generation"] == 1
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30
    assert spec["serviceAccountName"] == "default"  # ServiceAccount admission
    assert {t["key"] for t in spec["tolerations"]} == {  # DefaultTolerationSeconds
        "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}


def test_get_returns_what_create_stored(cluster):
    created = cluster.create(pod("web"))
    assert cluster.get("pods", "web") == created
    assert cluster.get("po", "web") == created  # short names and kinds resolve too
    assert cluster.get("Pod", "web") == created


def test_resource_version_is_the_etcd_mod_revision(cluster):
    p = cluster.create(pod("web"))
    [(key, value)] = cluster.etcd_get("/registry/pods/default/web")
    assert key == "/registry/pods/default/web"
    stored = json.loads(value)
    assert "resourceVersion" not in stored["metadata"]  # stripped before storage
    assert stored["metadata"]["uid"] == p["metadata"]["uid"]
    keys = cluster.etcd_get("/registry/pods/", prefix=True, keys_only=True)
    assert keys == ["/registry/pods/default/web"]
    # Kubernetes' historical prefixes: services/specs, minions, controllers.
    assert cluster.etcd_get("/registry/services/specs/default/kubernetes", keys_only=True)


def test_list_has_kind_resource_version_and_items(cluster):
    for i in range(3):
        cluster.create(cm(f"c{i}", {"i": str(i)}))
    lst = cluster.list("configmaps", "default")
    assert lst["kind"] == "ConfigMapList" and lst["apiVersion"] == "v1"
    assert [o["metadata"]["name"] for o in lst["items"]] == ["c0", "c1", "c2"]
    assert int(lst["metadata"]["resourceVersion"]) >= max(
        int(o["metadata"]["resourceVersion"]) for o in lst["items"])


def test_already_exists(cluster):
    cluster.create(cm("a", {}))
    with pytest.raises(ApiError) as e:
        cluster.create(cm("a", {"x": "y"}))
    assert (e.value.code, e.value.reason) == (409, "AlreadyExists")
    assert e.value.message == 'configmaps "a" already exists'
    assert e.value.details.name == "a" and e.value.details.kind == "configmaps"
    assert cluster.get("configmaps", "a")["data"] == {}  # the first one stays


def test_update_with_stale_resource_version_conflicts(cluster):
    first = cluster.create(cm("a", {"v": "1"}))
    second = cluster.update({**first, "data": {"v": "2"}})
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    with pytest.raises(ApiError) as e:
        cluster.update({**first, "data": {"v": "3"}})  # first's resourceVersion is stale
    assert (e.value.code, e.value.reason) == (409, "Conflict")
    assert e.value.message == ('Operation cannot be fulfilled on configmaps "a": the object has '
                               "been modified; please apply your changes to the latest version "
                               "and try again")
    assert cluster.get("configmaps", "a")["data"] == {"v": "2"}


def test_update_without_resource_version_is_unconditional(cluster):
    first = cluster.create(cm("a", {"v": "1"}))
    meta = {k: v for k, v in first["metadata"].items() if k != "resourceVersion"}
    out = cluster.update({**first, "metadata": meta, "data": {"v": "9"}})
    assert out["data"] == {"v": "9"}


def test_noop_update_keeps_the_resource_version(cluster):
    first = cluster.create(cm("a", {"v": "1"}))
    assert cluster.update(first)["metadata"]["resourceVersion"] == \
        first["metadata"]["resourceVersion"]


def test_invalid_has_causes_and_stores_nothing(cluster):
    bad = pod("web")
    bad["spec"]["containers"][0]["image"] = ""
    bad["metadata"]["name"] = "Web_1"
    with pytest.raises(ApiError) as e:
        cluster.create(bad)
    err = e.value
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message.startswith('Pod "Web_1" is invalid: [')
    fields = {c.field for c in err.details.causes}
    assert {"metadata.name", "spec.containers[0].image"} <= fields
    assert err.details.kind == "Pod"
    assert cluster.etcd_get("/registry/pods/default/", prefix=True) == []
    with pytest.raises(ApiError):
        cluster.get("pods", "Web_1")


def test_not_found(cluster):
    for call in (lambda: cluster.get("pods", "nope"),
                 lambda: cluster.delete("pods", "nope"),
                 lambda: cluster.patch("pods", "nope", {"metadata": {"labels": {"a": "b"}}})):
        with pytest.raises(ApiError) as e:
            call()
        assert (e.value.code, e.value.reason) == (404, "NotFound")
        assert e.value.message == 'pods "nope" not found'
    with pytest.raises(ApiError) as e:
        cluster.get("deployments", "nope")
    assert e.value.message == 'deployments.apps "nope" not found'


def test_patch_merge_json_and_strategic(cluster):
    cluster.create(pod("web"))
    out = cluster.patch("pods", "web", {"metadata": {"labels": {"tier": "front"}}}, type="merge")
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front"}
    out = cluster.patch("pods", "web", [{"op": "remove", "path": "/metadata/labels/tier"}],
                        type="json")
    assert out["metadata"]["labels"] == {"app": "web"}
    # Strategic: containers merge by name (a merge patch would replace the list).
    out = cluster.patch("pods", "web", {"spec": {"containers": [
        {"name": "c", "image": "nginx:1.28"}]}}, type="strategic")
    [c] = out["spec"]["containers"]
    assert c["image"] == "nginx:1.28" and c["terminationMessagePath"] == "/dev/termination-log"


def test_patch_errors(cluster):
    cluster.create(cm("a", {"k": "v"}))
    with pytest.raises(ApiError) as e:
        cluster.patch("configmaps", "a", [{"op": "test", "path": "/data/k", "value": "x"}],
                      type="json")
    assert e.value.code == 422
    with pytest.raises(ApiError) as e:
        cluster.patch("configmaps", "a", {"metadata": {"resourceVersion": "1"}}, type="merge")
    assert e.value.reason == "Conflict"  # a resourceVersion in a patch is a precondition


def test_apply_patch_creates_then_merges(cluster):
    out = cluster.patch("configmaps", "a", cm("a", {"k": "1"}), type="apply")
    assert out["data"] == {"k": "1"}
    out = cluster.patch("configmaps", "a", cm("a", {"j": "2"}), type="apply")
    assert out["data"] == {"k": "1", "j": "2"}


def test_delete_configmap_returns_status(cluster):
    c = cluster.create(cm("a", {}))
    out = cluster.delete("configmaps", "a")
    assert out["kind"] == "Status" and out["status"] == "Success"
    assert out["details"] == {"name": "a", "kind": "configmaps", "uid": c["metadata"]["uid"]}
    with pytest.raises(ApiError):
        cluster.get("configmaps", "a")


def test_generation_bumps_on_spec_changes_only(cluster):
    d = cluster.create(deployment("web"))
    assert d["metadata"]["generation"] == 1
    d = cluster.patch("deployments", "web", {"spec": {"replicas": 3}})
    assert d["metadata"]["generation"] == 2
    d = cluster.patch("deployments", "web", {"metadata": {"labels": {"a": "b"}}})
    assert d["metadata"]["generation"] == 2  # labels are metadata
    d = cluster.patch("deployments", "web", {"status": {"replicas": 5}}, subresource="status")
    assert d["metadata"]["generation"] == 2 and d["status"]["replicas"] == 5
    d = cluster.patch("deployments", "web", {"status": {"replicas": 7}})
    assert d["status"]["replicas"] == 5  # the main resource ignores status
    d = cluster.update({**d, "spec": {**d["spec"], "replicas": 4}})
    assert d["metadata"]["generation"] == 3
    d = cluster.patch("deployments", "web", {"metadata": {"generation": 99}})
    assert d["metadata"]["generation"] == 3  # clients cannot set it


def test_generate_name(cluster):
    a = cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"generateName": "web-"}})
    b = cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"generateName": "web-"}})
    for o in (a, b):
        name = o["metadata"]["name"]
        assert name.startswith("web-") and len(name) == 9
    assert a["metadata"]["name"] != b["metadata"]["name"]


def test_cluster_scoped_resources(cluster):
    ns = cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ns["status"] == {"phase": "Active"}
    assert "namespace" not in ns["metadata"]
    assert cluster.get("namespaces", "team", namespace=None)["metadata"]["name"] == "team"
    assert cluster.etcd_get("/registry/namespaces/team", keys_only=True) == [
        "/registry/namespaces/team"]


def test_namespace_mismatch_and_unknown_namespace(cluster):
    with pytest.raises(ApiError) as e:
        cluster.create({**cm("a", {}), "metadata": {"name": "a", "namespace": "nope"}})
    assert (e.value.code, e.value.message) == (404, 'namespaces "nope" not found')
    with pytest.raises(ApiError) as e:
        cluster.request("create", "configmaps", namespace="default",
                        body={**cm("a", {}), "metadata": {"name": "a", "namespace": "other"}})
    assert e.value.code == 400


def test_unknown_fields_warn_or_fail(cluster):
    body = {**cm("a", {}), "bogus": 1}
    cluster.create(body)
    assert cluster.warnings == ['unknown field "bogus"']
    with pytest.raises(ApiError) as e:
        cluster.create({**body, "metadata": {"name": "b"}}, params={"fieldValidation": "Strict"})
    assert e.value.code == 400 and 'unknown field "bogus"' in e.value.message


def test_unknown_resource(cluster):
    with pytest.raises(ApiError) as e:
        cluster.get("widgets", "x")
    assert e.value.code == 404


def test_dry_run_writes_nothing(cluster):
    out = cluster.create(cm("a", {"k": "v"}), params={"dryRun": "All"})
    assert out["metadata"]["uid"] and "resourceVersion" not in out["metadata"]
    with pytest.raises(ApiError):
        cluster.get("configmaps", "a")
    real = cluster.create(cm("a", {"k": "v"}))
    out = cluster.request("patch", "configmaps", name="a", namespace="default",
                          body={"data": {"k": "w"}}, patch_type="merge",
                          params={"dryRun": "All"})
    assert out["data"] == {"k": "w"}
    assert cluster.get("configmaps", "a") == real
    cluster.request("delete", "configmaps", name="a", namespace="default",
                    params={"dryRun": "All"})
    assert cluster.get("configmaps", "a") == real
