"""API discovery documents, built from the resource registry.

What it is: what kubectl reads before it does anything — ``/version``, the legacy
``/api`` (APIVersions) and ``/apis`` (APIGroupList), one APIResourceList per
group-version (``/api/v1``, ``/apis/apps/v1``), ``/apis/<group>`` (APIGroup), and the
aggregated discovery list (``apidiscovery.k8s.io/v2`` APIGroupDiscoveryList) that
kubectl 1.26+ asks for on ``/api`` and ``/apis``. Subresources are listed as
``pods/status`` entries (legacy) or under ``subresources`` (aggregated), with the
kind and group-version they answer with (``deployments/scale`` is autoscaling/v1 Scale).

Concurrency model: none; pure functions of the registry, computed once and cached.

Invariants: every served resource appears exactly once, under its own group-version;
verbs, short names and categories are the registry's; groups are listed in registry
order, the core group first (kubectl resolves ambiguous short names in that order).
"""

from __future__ import annotations

import functools
from typing import Any

from actors.api import ResourceInfo, all_resources

__all__ = [
    "AGGREGATED_V2",
    "AGGREGATED_V2BETA1",
    "KUBERNETES_VERSION",
    "aggregated_discovery",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "group_versions",
    "version_info",
]

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
# The gcloud kubectl dispatcher picks its kubectl binary from the minor version here;
# 1.32 is the version whose wire behaviour (protobuf bodies on create) we implement.
KUBERNETES_VERSION = ("1", "32", "v1.32.0")

Doc = dict[str, Any]

# (kind, group, version, verbs) of each subresource, as the real apiserver registers them.
_STATUS = ("", "", "", ("get", "patch", "update"))
_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "status": _STATUS,
    "scale": ("Scale", "autoscaling", "v1", ("get", "patch", "update")),
    "binding": ("Binding", "", "v1", ("create",)),
    "eviction": ("Eviction", "policy", "v1", ("create",)),
    "log": ("Pod", "", "v1", ("get",)),
    "exec": ("PodExecOptions", "", "v1", ("create", "get")),
    "attach": ("PodAttachOptions", "", "v1", ("create", "get")),
    "portforward": ("PodPortForwardOptions", "", "v1", ("create", "get")),
    "ephemeralcontainers": ("", "", "", ("get", "patch", "update")),
    "resize": ("", "", "", ("get", "patch", "update")),
    "finalize": ("", "", "", ("update",)),
    "token": ("TokenRequest", "authentication.k8s.io", "v1", ("create",)),
    "proxy": ("", "", "v1", ("create", "delete", "get", "patch", "update")),
}
_PROXY_KINDS = {"pods": "PodProxyOptions", "nodes": "NodeProxyOptions",
                "services": "ServiceProxyOptions"}


def version_info() -> Doc:
    """``GET /version``: what ``kubectl version`` prints as the server version."""
    major, minor, git = KUBERNETES_VERSION
    return {"major": major, "minor": minor, "gitVersion": git,
            "gitCommit": "kubetwin", "gitTreeState": "clean",
            "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
            "platform": "linux/amd64"}


def group_versions() -> list[tuple[str, str]]:
    """Every served (group, version), the core group ("") first, in registry order."""
    seen: dict[tuple[str, str], None] = {("", "v1"): None}
    for ri in all_resources():
        seen.setdefault((ri.group, ri.version), None)
    return list(seen)


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _resources(group: str, version: str) -> list[ResourceInfo]:
    return [ri for ri in all_resources() if ri.group == group and ri.version == version]


def api_versions(server_address: str) -> Doc:
    """``GET /api``: the legacy core group's versions."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def api_group(group: str) -> Doc | None:
    """``GET /apis/<group>``; None for a group we do not serve."""
    versions = [{"groupVersion": _gv(g, v), "version": v} for g, v in group_versions()
                if g == group and g]
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> Doc:
    """``GET /apis`` (legacy form): every named group."""
    groups = []
    for group in dict.fromkeys(g for g, _ in group_versions() if g):
        doc = api_group(group)
        assert doc is not None
        doc.pop("kind")
        doc.pop("apiVersion")
        groups.append(doc)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _sub_kind(ri: ResourceInfo, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    kind, group, version, verbs = _SUBRESOURCES.get(sub, _STATUS)
    if sub == "proxy":
        kind = _PROXY_KINDS.get(ri.resource, "")
    if not kind:  # the subresource answers with the resource's own kind
        kind, group, version = ri.kind, ri.group, ri.version
    return kind, group, version, verbs


def api_resource_list(group: str, version: str) -> Doc | None:
    """``GET /api/v1`` or ``/apis/<group>/<version>``: resources and subresources."""
    infos = _resources(group, version)
    if not infos:
        return None
    resources: list[Doc] = []
    for ri in infos:
        entry: Doc = {"name": ri.resource, "singularName": ri.singular,
                      "namespaced": ri.namespaced, "kind": ri.kind, "verbs": list(ri.verbs)}
        if ri.short_names:
            entry["shortNames"] = list(ri.short_names)
        if ri.categories:
            entry["categories"] = list(ri.categories)
        resources.append(entry)
        for sub in ri.subresources:
            kind, sgroup, sversion, verbs = _sub_kind(ri, sub)
            sentry: Doc = {"name": f"{ri.resource}/{sub}", "singularName": "",
                           "namespaced": ri.namespaced, "kind": kind, "verbs": list(verbs)}
            if (sgroup, sversion) != (group, version):
                sentry["group"], sentry["version"] = sgroup, sversion
            resources.append(sentry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": _gv(group, version),
            "resources": resources}


def _aggregated_resource(ri: ResourceInfo) -> Doc:
    doc: Doc = {"resource": ri.resource,
                "responseKind": {"group": ri.group, "version": ri.version, "kind": ri.kind},
                "scope": "Namespaced" if ri.namespaced else "Cluster",
                "singularResource": ri.singular, "verbs": list(ri.verbs)}
    if ri.short_names:
        doc["shortNames"] = list(ri.short_names)
    if ri.categories:
        doc["categories"] = list(ri.categories)
    subs = []
    for sub in ri.subresources:
        kind, group, version, verbs = _sub_kind(ri, sub)
        subs.append({"subresource": sub,
                     "responseKind": {"group": group, "version": version, "kind": kind},
                     "verbs": list(verbs)})
    if subs:
        doc["subresources"] = subs
    return doc


@functools.cache
def _aggregated(core: bool, api_version: str) -> Doc:
    items = []
    for group in dict.fromkeys(g for g, _ in group_versions()):
        if (group == "") != core:
            continue
        versions = [{"version": v, "freshness": "Current",
                     "resources": [_aggregated_resource(ri) for ri in _resources(group, v)]}
                    for g, v in group_versions() if g == group]
        items.append({"metadata": {"name": group, "creationTimestamp": None},
                      "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version,
            "metadata": {}, "items": items}


def aggregated_discovery(*, core: bool, content_type: str = AGGREGATED_V2) -> Doc:
    """The aggregated discovery list for ``/api`` (core) or ``/apis`` (the rest);
    ``content_type`` picks v2 or v2beta1, whichever the client accepted."""
    version = "v2beta1" if content_type == AGGREGATED_V2BETA1 else "v2"
    return _aggregated(core, f"apidiscovery.k8s.io/{version}")
