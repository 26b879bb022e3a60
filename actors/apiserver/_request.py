"""RequestInfo: what a request is about, read from its method, URL path and query, as
``k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory`` reads it.

What it is: the first step of every request, before authentication and authorization:
the Kubernetes verb (get/list/watch/create/update/patch/delete/deletecollection/proxy)
and the resource coordinates (API prefix, group, version, namespace, resource,
subresource, name). Paths outside ``/api`` and ``/apis`` are non-resource requests
whose verb is the lowercased HTTP method.

Concurrency model: none; a pure function and a frozen value.

Invariants, as Kubernetes:
- ``GET``/``HEAD`` without a name is ``list``, or ``watch`` when ``?watch`` is set to
  anything but ``0``/``false``; ``DELETE`` without a name is ``deletecollection``.
- The legacy ``/api/v1/watch/...`` and ``/proxy/...`` prefixes set the verb from the path.
- ``namespaces/<ns>/status|finalize`` are subresources of the namespace; any other word
  after ``namespaces/<ns>/`` is a namespaced resource.
- A list or watch with ``fieldSelector=metadata.name=<n>`` authorizes as a request for
  ``<n>`` (RequestInfo.Name is filled), unless <n> is not a valid path segment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from actors.api._fields import FieldSelectorError, parse_field_selector

__all__ = ["RequestInfo", "RequestInfoError", "parse_request"]

_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_SELECTOR_VERBS = ("list", "watch", "deletecollection")
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}


class RequestInfoError(ValueError):
    """A path under an API prefix that names no resource (``/api/v1/watch``)."""


class RequestInfo(msgspec.Struct, frozen=True, kw_only=True):
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    # AuthorizeWithSelectors: the raw selectors of a list/watch/deletecollection.
    label_selector: str = ""
    field_selector: str = ""


def _first(query: Mapping[str, str | Sequence[str]], key: str) -> str | None:
    value = query.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value[0] if value else None


def _valid_path_segment(name: str) -> bool:
    """``path.IsValidPathSegmentName``."""
    return name not in (".", "..") and "/" not in name and "%" not in name


def _name_from_field_selector(query: Mapping[str, str | Sequence[str]]) -> str:
    raw = _first(query, "fieldSelector")
    if not raw:
        return ""
    try:
        name = parse_field_selector(raw).requires_exact_match("metadata.name")
    except FieldSelectorError:
        return ""  # the list options fail to decode: no name, as Kubernetes
    return name if name and _valid_path_segment(name) else ""


def parse_request(method: str, path: str,
                  query: Mapping[str, str | Sequence[str]] | None = None, *,
                  api_prefixes: Sequence[str] = ("api", "apis"),
                  groupless_prefixes: Sequence[str] = ("api",)) -> RequestInfo:
    """``RequestInfoFactory.NewRequestInfo`` for one request."""
    query = query or {}
    method = method.upper()
    plain = RequestInfo(is_resource_request=False, path=path, verb=method.lower())
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in api_prefixes:
        return plain
    prefix, rest = parts[0], parts[1:]
    group = ""
    if prefix not in groupless_prefixes:
        if len(rest) < 3:
            return plain
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    via_path = rest[0] in _SPECIAL_VERBS
    if via_path:
        if len(rest) < 2:
            raise RequestInfoError(f"unable to determine kind and namespace from url, {path}")
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method, "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = _first(query, "watch")
        verb = "watch" if watch is not None and watch.lower() not in ("false", "0") else "list"
        name = _name_from_field_selector(query)
    if not name and verb == "delete":
        verb = "deletecollection"
    labels = fields = ""
    if not via_path and verb in _SELECTOR_VERBS:
        labels = _first(query, "labelSelector") or ""
        fields = _first(query, "fieldSelector") or ""
    return RequestInfo(is_resource_request=True, path=path, verb=verb, api_prefix=prefix,
                       api_group=group, api_version=version, namespace=namespace,
                       resource=resource, subresource=subresource, name=name,
                       parts=tuple(rest), label_selector=labels, field_selector=fields)
