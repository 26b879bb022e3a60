"""Authentication and authorization: no token is 401, a user without rights is 403 with
Kubernetes' wording, RBAC objects written through the API take effect, bootstrap roles
apply to component identities."""

import pytest

from actors import ApiError, ClusterSpec, simulate


@pytest.fixture
def cluster():
    spec = ClusterSpec(nodes=[], users={"jane": ("devs",), "ops": ()})
    with simulate(spec, seed=5) as c:
        yield c


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


def test_no_token_is_401(cluster):
    anon = cluster.client("")
    with pytest.raises(ApiError) as e:
        anon.list("pods", "default")
    assert (e.value.code, e.value.reason, e.value.message) == (401, "Unauthorized",
                                                               "Unauthorized")


def test_unknown_token_is_401(cluster):
    with pytest.raises(ApiError) as e:
        cluster.client("not-a-token").get("namespaces", "default", None)
    assert e.value.code == 401


def test_user_without_rights_is_403(cluster):
    jane = cluster.as_user("jane")
    with pytest.raises(ApiError) as e:
        jane.list("pods", "default")
    err = e.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == ('pods is forbidden: User "jane" cannot list resource "pods" in API '
                           'group "" in the namespace "default"')
    with pytest.raises(ApiError) as e:
        jane.create(cm("x"))
    assert e.value.code == 403
    assert cluster.etcd_get("/registry/configmaps/default/x") == []


def test_rolebinding_grants_rights(cluster):
    cluster.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                    "metadata": {"name": "cm-editor"},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                               "verbs": ["get", "list", "create"]}]})
    cluster.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                    "metadata": {"name": "devs-edit"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                "name": "cm-editor"},
                    "subjects": [{"kind": "Group", "name": "devs",
                                  "apiGroup": "rbac.authorization.k8s.io"}]})
    jane = cluster.as_user("jane")
    cluster.run_until(lambda c: _allowed(jane), timeout=5)
    jane.create(cm("mine"))
    assert [o["metadata"]["name"] for o in jane.list("configmaps", "default")["items"]] == ["mine"]
    with pytest.raises(ApiError) as e:
        jane.delete("configmaps", "mine")  # not granted
    assert e.value.code == 403
    with pytest.raises(ApiError) as e:
        jane.list("configmaps", "kube-system")  # a RoleBinding grants one namespace
    assert e.value.code == 403
    with pytest.raises(ApiError):
        cluster.as_user("ops").list("configmaps", "default")  # not in the group


def _allowed(client):
    try:
        client.list("configmaps", "default")
    except ApiError as e:
        if e.code == 403:
            return False
        raise
    return True


def test_bootstrap_policy_view_role_via_clusterrolebinding(cluster):
    cluster.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": "ops-view"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": "view"},
                    "subjects": [{"kind": "User", "name": "ops",
                                  "apiGroup": "rbac.authorization.k8s.io"}]})
    ops = cluster.as_user("ops")
    cluster.run_until(lambda c: _allowed(ops), timeout=5)
    ops.list("pods")  # all namespaces
    with pytest.raises(ApiError) as e:
        ops.create(cm("nope"))
    assert e.value.code == 403


def test_discovery_style_forbidden_for_cluster_scope(cluster):
    with pytest.raises(ApiError) as e:
        cluster.as_user("jane").list("nodes")
    assert e.value.message == ('nodes is forbidden: User "jane" cannot list resource "nodes" in '
                               'API group "" at the cluster scope')
