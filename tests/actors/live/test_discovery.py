"""Discovery documents, in the shapes kubectl reads (legacy and aggregated v2)."""

from __future__ import annotations

from actors.api import all_resources
from actors.live import (
    AGGREGATED_V2BETA1,
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    api_versions,
    version_info,
)


def test_version_names_a_dispatchable_minor() -> None:
    v = version_info()
    assert (v["major"], v["minor"], v["gitVersion"]) == ("1", "32", "v1.32.0")


def test_api_and_apis() -> None:
    assert api_versions("127.0.0.1:6443") == {
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                        "serverAddress": "127.0.0.1:6443"}]}
    groups = api_group_list()["groups"]
    assert [g["name"] for g in groups][:2] == ["apps", "batch"]
    assert groups[0] == {"name": "apps", "versions": [{"groupVersion": "apps/v1",
                                                       "version": "v1"}],
                         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}
    assert api_group("apps")["kind"] == "APIGroup"
    assert api_group("extensions") is None


def test_resource_list_entries_and_subresources() -> None:
    doc = api_resource_list("", "v1")
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"] == {
        "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                  "watch"], "shortNames": ["po"], "categories": ["all"]}
    assert by_name["componentstatuses"]["shortNames"] == ["cs"]
    assert by_name["componentstatuses"]["namespaced"] is False
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/binding"]["kind"] == "Binding"
    assert by_name["pods/eviction"]["group"] == "policy"
    assert by_name["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    scale = {r["name"]: r for r in api_resource_list("apps", "v1")["resources"]}[
        "deployments/scale"]
    assert scale == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                     "kind": "Scale", "verbs": ["get", "patch", "update"],
                     "group": "autoscaling", "version": "v1"}
    assert api_resource_list("apps", "v2") is None


def test_every_resource_is_discoverable_once() -> None:
    listed = []
    for gv in api_group_list()["groups"]:
        group, _, version = gv["preferredVersion"]["groupVersion"].partition("/")
        listed += [(group, r["name"]) for r in api_resource_list(group, version)["resources"]
                   if "/" not in r["name"]]
    listed += [("", r["name"]) for r in api_resource_list("", "v1")["resources"]
               if "/" not in r["name"]]
    assert sorted(listed) == sorted((ri.group, ri.resource) for ri in all_resources())


def test_aggregated_discovery() -> None:
    core = aggregated_discovery(core=True)
    assert core["kind"] == "APIGroupDiscoveryList"
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    (item,) = core["items"]
    assert item["metadata"]["name"] == ""
    (version,) = item["versions"]
    assert version["version"] == "v1" and version["freshness"] == "Current"
    pods = next(r for r in version["resources"] if r["resource"] == "pods")
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    assert {"subresource": "status", "responseKind": {"group": "", "version": "v1",
                                                      "kind": "Pod"},
            "verbs": ["get", "patch", "update"]} in pods["subresources"]
    named = aggregated_discovery(core=False)
    assert "" not in [i["metadata"]["name"] for i in named["items"]]
    assert aggregated_discovery(core=False, content_type=AGGREGATED_V2BETA1)["apiVersion"] \
        == "apidiscovery.k8s.io/v2beta1"
