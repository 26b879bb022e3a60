"""The wire protocol between kube-apiserver actors and their clients (the typed client, the
Python API, the live HTTP front end). It mirrors a Kubernetes REST request: a verb on a
resource, optionally namespaced and named, with the query parameters under their Kubernetes
names. Objects travel as plain dicts in Kubernetes JSON form; errors as a Status dict.

A watch is an ``ApiRequest(verb="watch")`` answered by an ``ApiResponse`` carrying a
``watch_id``; the events then arrive as ``WatchEvent`` tells to the asker's address, in
resourceVersion order, until the asker sends ``StopWatch`` or the stream ends with an ERROR
event (for example 410 Gone) — or the apiserver goes down (monitor it: ``runtime.Down``).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ApiRequest", "ApiResponse", "ContainerLogRequest", "StopWatch", "WatchEvent", "VERBS"]

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


class ApiRequest(msgspec.Struct, frozen=True, tag="api.request", omit_defaults=True):
    verb: str
    resource: str  # plural, as in URLs: "pods", "deployments", "leases"
    group: str | None = None  # None: resolved from the registry by the resource name
    version: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None  # status | binding | scale | log | eviction
    body: Any = None  # the object (dict), or the patch document
    patch_type: str | None = None  # merge | json | strategic | apply
    # Query parameters under their Kubernetes names: labelSelector, fieldSelector,
    # resourceVersion, resourceVersionMatch, limit, continue, allowWatchBookmarks,
    # timeoutSeconds, gracePeriodSeconds, propagationPolicy, dryRun, fieldValidation,
    # fieldManager, force, orphanDependents.
    params: dict[str, str] = {}
    token: str = ""  # the bearer token
    user_agent: str = ""


class ApiResponse(msgspec.Struct, frozen=True, tag="api.response", omit_defaults=True):
    code: int
    body: Any = None  # an object, a list, or a Status dict
    warnings: tuple[str, ...] = ()
    watch_id: int = 0


class WatchEvent(msgspec.Struct, frozen=True, tag="api.watch", tag_field="tag"):
    watch_id: int
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: Any
    # 1, 2, … per watch: the bus may drop or duplicate a message where a real watch's TCP
    # stream would not, so receivers drop duplicates and treat a gap as a broken
    # connection (re-watch from the last resourceVersion). 0: unsequenced.
    seq: int = 0


class StopWatch(msgspec.Struct, frozen=True, tag="api.unwatch"):
    watch_id: int


class ContainerLogRequest(msgspec.Struct, frozen=True, tag="api.logs"):
    """The apiserver's pods/log subresource asking the pod's kubelet (as kube-apiserver
    proxies ``/containerLogs/<ns>/<pod>/<container>`` to the node). The answer is the text,
    or a Status dict for a refusal."""

    pod: Any
    container: str | None = None
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
