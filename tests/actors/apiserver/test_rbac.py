"""RBAC decisions on the bootstrap policy and on hand-made roles, rule matching, role
aggregation and the exact Forbidden wording."""

from __future__ import annotations

import pytest

from actors.apiserver._authn import UserInfo, service_account_user
from actors.apiserver._bootstrap_policy import (
    bootstrap_policy,
    cluster_roles,
    controller_roles,
    system_priority_classes,
)
from actors.apiserver._rbac import (
    Attributes,
    RBACAuthorizer,
    aggregate_cluster_roles,
    forbidden_error,
    rule_allows,
)
from actors.apiserver._request import parse_request

AUTH = "system:authenticated"


@pytest.fixture(scope="module")
def policy():
    return bootstrap_policy()


@pytest.fixture(scope="module")
def authz(policy):
    return RBACAuthorizer(policy)


def user(name, *groups):
    return UserInfo(name, groups=(*groups, AUTH))


def attrs(verb, resource="", ns="", name="", group="", sub=""):
    return Attributes(verb=verb, resource=resource, namespace=ns, name=name, api_group=group,
                      subresource=sub)


def allowed(authz, u, a):
    return authz.authorize(u, a).allowed


SCHED = user("system:kube-scheduler")
KCM = user("system:kube-controller-manager")
NODE = user("system:node:n1", "system:nodes")


@pytest.mark.parametrize(("a", "ok"), [
    (attrs("create", "pods", "default", "p", sub="binding"), True),
    (attrs("create", "bindings", "default"), True),
    (attrs("create", "events", "default"), True),
    (attrs("patch", "events", "default", group="events.k8s.io"), True),
    (attrs("list", "nodes"), True),
    (attrs("delete", "nodes", name="n1"), False),
    (attrs("update", "pods", "default", "p", sub="status"), True),
    (attrs("update", "leases", "kube-system", "kube-scheduler", group="coordination.k8s.io"), True),
    (attrs("update", "leases", "kube-system", "other", group="coordination.k8s.io"), True),
    (attrs("update", "leases", "default", "other", group="coordination.k8s.io"), False),
    (attrs("list", "secrets", "default"), False),
])
def test_the_scheduler(authz, a, ok):
    assert allowed(authz, SCHED, a) is ok


def test_the_scheduler_may_lock_its_lease_through_the_kube_system_role(authz):
    d = authz.authorize(SCHED, attrs("update", "leases", "kube-system", "other",
                                     group="coordination.k8s.io"))
    assert d.reason == ('RBAC: allowed by RoleBinding "system::leader-locking-kube-scheduler/'
                        'kube-system" of Role "system::leader-locking-kube-scheduler" to User '
                        '"system:kube-scheduler"')


@pytest.mark.parametrize(("a", "ok"), [
    (attrs("update", "nodes", name="n1", sub="status"), True),
    (attrs("patch", "nodes", name="n1", sub="status"), True),
    (attrs("create", "nodes", name="n1"), True),
    (attrs("delete", "nodes", name="n1"), False),
    (attrs("update", "pods", "default", "p", sub="status"), True),
    (attrs("get", "secrets", "default", "s"), True),
    (attrs("create", "leases", "kube-node-lease", "n1", group="coordination.k8s.io"), True),
    (attrs("create", "deployments", "default", group="apps"), False),
])
def test_a_kubelet_in_system_nodes(authz, a, ok):
    assert allowed(authz, NODE, a) is ok


def test_system_node_binding_follows_the_node_authorizer_switch():
    modern = RBACAuthorizer(bootstrap_policy(node_authorizer=True))
    assert not allowed(modern, NODE, attrs("update", "nodes", name="n1", sub="status"))
    crb = next(o for o in bootstrap_policy(node_authorizer=True)
               if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == "system:node")
    assert "subjects" not in crb


def test_controller_manager_and_controller_service_accounts(authz):
    assert allowed(authz, KCM, attrs("list", "deployments", group="apps"))
    assert allowed(authz, KCM, attrs("update", "leases", "kube-system", "kube-controller-manager",
                                     group="coordination.k8s.io"))
    assert not allowed(authz, KCM, attrs("create", "pods", "default"))
    rs = service_account_user("kube-system", "replicaset-controller")
    rs = UserInfo(rs.name, groups=(*rs.groups, AUTH))
    assert allowed(authz, rs, attrs("create", "pods", "default"))
    assert allowed(authz, rs, attrs("update", "replicasets", "default", "r", "apps", "status"))
    assert not allowed(authz, rs, attrs("create", "deployments", "default", group="apps"))
    dc = UserInfo("system:serviceaccount:kube-system:deployment-controller",
                  groups=("system:serviceaccounts", "system:serviceaccounts:kube-system", AUTH))
    assert allowed(authz, dc, attrs("create", "replicasets", "default", group="apps"))
    assert not allowed(authz, dc, attrs("create", "pods", "default"))


def test_masters_may_do_anything(authz):
    root = user("kubernetes-admin", "system:masters")
    assert allowed(authz, root, attrs("delete", "nodes", name="n1"))
    assert allowed(authz, root, Attributes(verb="get", non_resource_url=True, path="/metrics"))
    assert allowed(RBACAuthorizer([]), root, attrs("delete", "secrets", "x", "y"))


def test_view_may_not_read_secrets_but_edit_may(policy):
    objs = [*policy,
            {"kind": "RoleBinding", "metadata": {"name": "v", "namespace": "dev"},
             "roleRef": {"kind": "ClusterRole", "name": "view"},
             "subjects": [{"kind": "User", "name": "viewer"}]},
            {"kind": "RoleBinding", "metadata": {"name": "e", "namespace": "dev"},
             "roleRef": {"kind": "ClusterRole", "name": "edit"},
             "subjects": [{"kind": "User", "name": "editor"}]}]
    a = RBACAuthorizer(objs)
    viewer, editor = user("viewer"), user("editor")
    assert allowed(a, viewer, attrs("list", "pods", "dev"))
    assert allowed(a, viewer, attrs("get", "deployments", "dev", "web", "apps"))
    assert not allowed(a, viewer, attrs("get", "secrets", "dev", "s"))
    assert not allowed(a, viewer, attrs("list", "pods", "prod"))
    assert not allowed(a, viewer, attrs("create", "pods", "dev"))
    assert allowed(a, editor, attrs("get", "secrets", "dev", "s"))
    assert allowed(a, editor, attrs("create", "deployments", "dev", group="apps"))
    assert not allowed(a, editor, attrs("create", "rolebindings", "dev",
                                        group="rbac.authorization.k8s.io"))


def test_aggregation_fills_admin_edit_view(policy):
    by = {o["metadata"]["name"]: o for o in policy if o["kind"] == "ClusterRole"}
    view, edit, admin = by["view"]["rules"], by["edit"]["rules"], by["admin"]["rules"]
    assert view == by["system:aggregate-to-view"]["rules"]
    assert edit[:13] == by["system:aggregate-to-edit"]["rules"]
    assert all(r in edit for r in view) and all(r in admin for r in edit)
    assert {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                      "watch"]} in admin


def test_a_new_aggregated_role_extends_view():
    extra = {"kind": "ClusterRole", "metadata": {"name": "widgets-view", "labels": {
        "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]}
    roles = aggregate_cluster_roles([*cluster_roles(), extra])
    by = {r["metadata"]["name"]: r for r in roles}
    assert extra["rules"][0] in by["view"]["rules"]
    assert extra["rules"][0] in by["admin"]["rules"]  # view -> edit -> admin


def test_every_controller_has_a_role_and_a_binding(policy):
    names = {r["metadata"]["name"] for r in controller_roles()}
    assert {"system:controller:deployment-controller", "system:controller:replicaset-controller",
            "system:controller:node-controller", "system:controller:generic-garbage-collector",
            "system:controller:namespace-controller", "system:controller:job-controller",
            "system:controller:statefulset-controller", "system:controller:daemon-set-controller",
            "system:controller:endpointslice-controller"} <= names
    crbs = {o["metadata"]["name"]: o for o in policy if o["kind"] == "ClusterRoleBinding"}
    for name in names:
        sa = name.removeprefix("system:controller:")
        assert crbs[name]["subjects"] == [{"kind": "ServiceAccount", "name": sa,
                                           "namespace": "kube-system"}]
    for o in policy:
        assert o["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_rule_matching_details():
    r = {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]}
    assert rule_allows(attrs("get", "deployments", "d", "x", "apps", "scale"), r)
    assert not rule_allows(attrs("get", "deployments", "d", "x", "apps"), r)
    r = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["*"]}
    assert rule_allows(attrs("update", "configmaps", "d", "a"), r)
    assert not rule_allows(attrs("update", "configmaps", "d", "b"), r)
    assert not rule_allows(attrs("list", "configmaps", "d"), r)  # a list has no name
    r = {"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}
    assert rule_allows(Attributes(verb="get", non_resource_url=True, path="/healthz/etcd"), r)
    assert not rule_allows(Attributes(verb="get", non_resource_url=True, path="/livez"), r)
    assert not rule_allows(attrs("get", "healthz"), r)


def test_service_account_subjects_default_to_the_binding_namespace():
    objs = [{"kind": "Role", "metadata": {"name": "r", "namespace": "a"},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
            {"kind": "RoleBinding", "metadata": {"name": "b", "namespace": "a"},
             "roleRef": {"kind": "Role", "name": "r"},
             "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}]
    authz = RBACAuthorizer(objs)
    bot = service_account_user("a", "bot")
    other = service_account_user("b", "bot")
    d = authz.authorize(bot, attrs("get", "pods", "a", "p"))
    assert d.allowed and d.reason.endswith('to ServiceAccount "bot/a"')
    assert not authz.authorize(other, attrs("get", "pods", "a", "p")).allowed


def test_a_binding_to_a_missing_role_is_the_denial_reason():
    objs = [{"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
             "roleRef": {"kind": "ClusterRole", "name": "gone"},
             "subjects": [{"kind": "User", "name": "bob"}]}]
    d = RBACAuthorizer(objs).authorize(user("bob"), attrs("get", "pods", "x", "p"))
    assert d == d.__class__(False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')


def test_forbidden_wording():
    bob = user("bob")
    e = forbidden_error(bob, attrs("list", "pods", "default"))
    assert e.code == 403 and e.reason == "Forbidden"
    assert e.message == ('pods is forbidden: User "bob" cannot list resource "pods" in API group '
                         '"" in the namespace "default"')
    e = forbidden_error(bob, attrs("list", "nodes"))
    assert e.message == ('nodes is forbidden: User "bob" cannot list resource "nodes" in API '
                         'group "" at the cluster scope')
    e = forbidden_error(bob, attrs("get", "pods", "default", "web", sub="log"))
    assert e.message == ('pods "web" is forbidden: User "bob" cannot get resource "pods/log" in '
                         'API group "" in the namespace "default"')
    e = forbidden_error(bob, attrs("create", "deployments", "default", group="apps"))
    assert e.message.startswith("deployments.apps is forbidden: ")
    e = forbidden_error(bob, Attributes(verb="get", non_resource_url=True, path="/metrics"))
    assert e.message == 'forbidden: User "bob" cannot get path "/metrics"'


def test_attributes_from_a_parsed_request(authz):
    info = parse_request("GET", "/api/v1/namespaces/default/pods", {"watch": "1"})
    a = Attributes.from_request(info)
    assert (a.verb, a.resource, a.namespace) == ("watch", "pods", "default")
    assert allowed(authz, SCHED, a)
    info = parse_request("GET", "/healthz")
    assert allowed(authz, UserInfo("system:anonymous", groups=("system:unauthenticated",)),
                   Attributes.from_request(info))


def test_system_priority_classes():
    pcs = {p["metadata"]["name"]: p["value"] for p in system_priority_classes()}
    assert pcs == {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
