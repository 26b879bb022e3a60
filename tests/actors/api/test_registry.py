"""The resource registry: kubectl's names, discovery facts and the etcd layout."""

from __future__ import annotations

import pytest

from actors.api import (
    ClusterRoleBinding,
    Deployment,
    Node,
    Pod,
    Service,
    UnknownResource,
    all_resources,
    by_kind,
    by_type,
    list_type,
    lookup,
)


@pytest.mark.parametrize("name", ["pods", "pod", "po", "Pod", "PODS", "pods.v1."[:-1]])
def test_lookup_by_plural_singular_short_name_and_kind(name: str) -> None:
    assert lookup(name).resource == "pods"


@pytest.mark.parametrize(("short", "resource"), [
    ("po", "pods"), ("no", "nodes"), ("svc", "services"), ("ep", "endpoints"),
    ("ns", "namespaces"), ("ev", "events"), ("cm", "configmaps"), ("sa", "serviceaccounts"),
    ("pv", "persistentvolumes"), ("pvc", "persistentvolumeclaims"),
    ("rc", "replicationcontrollers"), ("cs", "componentstatuses"), ("deploy", "deployments"),
    ("rs", "replicasets"), ("ds", "daemonsets"), ("sts", "statefulsets"), ("cj", "cronjobs"),
    ("sc", "storageclasses"),
])
def test_kubernetes_short_names(short: str, resource: str) -> None:
    assert lookup(short).resource == resource
    assert short in lookup(resource).short_names


def test_group_qualified_names() -> None:
    assert lookup("deployments.apps").kind == "Deployment"
    assert lookup("deploy.v1.apps").kind == "Deployment"
    assert lookup("leases.coordination.k8s.io").kind == "Lease"
    with pytest.raises(UnknownResource):
        lookup("deployments.batch")


def test_unknown_resource_uses_kubectls_wording() -> None:
    with pytest.raises(UnknownResource) as exc:
        lookup("foo")
    assert str(exc.value) == 'the server doesn\'t have a resource type "foo"'
    with pytest.raises(UnknownResource):
        by_kind("apps", "Pod")


def test_by_kind_and_by_type() -> None:
    ri = by_kind("apps", "Deployment")
    assert (ri.resource, ri.group, ri.version, ri.api_version) == ("deployments", "apps", "v1",
                                                                   "apps/v1")
    assert ri.type is Deployment and ri.list_kind == "DeploymentList"
    assert by_kind("", "Pod") is by_type(Pod) is lookup("pods")
    assert by_kind("rbac.authorization.k8s.io", "ClusterRoleBinding").type is ClusterRoleBinding


@pytest.mark.parametrize(("resource", "prefix"), [
    ("pods", "/registry/pods"),
    ("nodes", "/registry/minions"),
    ("services", "/registry/services/specs"),
    ("endpoints", "/registry/services/endpoints"),
    ("replicationcontrollers", "/registry/controllers"),
    ("deployments", "/registry/deployments"),
    ("leases", "/registry/leases"),
    ("events", "/registry/events"),
    ("clusterrolebindings", "/registry/clusterrolebindings"),
    ("endpointslices", "/registry/endpointslices"),
    ("namespaces", "/registry/namespaces"),
    ("storageclasses", "/registry/storageclasses"),
    ("componentstatuses", None),
    ("bindings", None),
])
def test_etcd_prefixes_follow_kubernetes_layout(resource: str, prefix: str | None) -> None:
    assert lookup(resource).etcd_prefix == prefix


def test_etcd_keys() -> None:
    assert lookup("pods").key("default", "web-1") == "/registry/pods/default/web-1"
    assert lookup("nodes").key(None, "node-1") == "/registry/minions/node-1"
    assert lookup("svc").key("kube-system", "kube-dns") == "/registry/services/specs/kube-system/kube-dns"
    with pytest.raises(UnknownResource):
        lookup("cs").key(None, "etcd-0")


def test_scope_verbs_subresources_and_categories() -> None:
    pods, nodes, ns = lookup("pods"), lookup("nodes"), lookup("namespaces")
    assert pods.namespaced and not nodes.namespaced and not ns.namespaced
    assert {"status", "binding", "log", "exec", "eviction"} <= set(pods.subresources)
    assert "deletecollection" in pods.verbs and "deletecollection" not in ns.verbs
    assert lookup("cs").verbs == ("get", "list")
    assert lookup("bindings").verbs == ("create",)
    assert set(lookup("deploy").subresources) == {"scale", "status"}
    in_all = {ri.resource for ri in all_resources() if "all" in ri.categories}
    assert in_all == {"pods", "services", "replicationcontrollers", "deployments", "replicasets",
                      "statefulsets", "daemonsets", "jobs", "cronjobs"}


def test_names_are_unique_and_list_types_exist() -> None:
    seen: dict[str, str] = {}
    for ri in all_resources():
        for name in (ri.resource, ri.singular, *ri.short_names):
            assert seen.setdefault(name, ri.resource) == ri.resource
        assert ri.list_type is list_type(ri.type)
        assert ri.list_type.__name__ == ri.list_kind
    assert list_type(Node) is list_type(Node)
    assert lookup("svc").type is Service
