"""Status errors: wording, reason, HTTP code and details as the apiserver sends them."""

from __future__ import annotations

import json

import pytest

from actors.api import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    encode,
    forbidden,
    forbidden_message,
    gone,
    internal_error,
    method_not_supported,
    not_found,
    server_timeout,
    timeout,
    too_many_requests,
    too_old_resource_version,
    unauthorized,
)


def test_not_found_puts_the_resource_in_details_kind() -> None:
    s = not_found("pods", "x")
    assert json.loads(encode(s)) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods "x" not found', "reason": "NotFound",
        "details": {"name": "x", "kind": "pods"}, "code": 404}
    assert not_found("deployments", "web", "apps").message == 'deployments.apps "web" not found'


@pytest.mark.parametrize(("status", "code", "reason", "message"), [
    (already_exists("pods", "x"), 409, "AlreadyExists", 'pods "x" already exists'),
    (conflict("pods", "x"), 409, "Conflict",
     'Operation cannot be fulfilled on pods "x": the object has been modified; please apply '
     "your changes to the latest version and try again"),
    (forbidden("pods", "", forbidden_message("u", "list", "pods", namespace="default")), 403,
     "Forbidden",
     'pods is forbidden: User "u" cannot list resource "pods" in API group "" in the '
     'namespace "default"'),
    (forbidden("nodes", "n1", forbidden_message("u", "get", "nodes")), 403, "Forbidden",
     'nodes "n1" is forbidden: User "u" cannot get resource "nodes" in API group "" at the '
     "cluster scope"),
    (unauthorized(), 401, "Unauthorized", "Unauthorized"),
    (gone("watch channel closed"), 410, "Gone", "watch channel closed"),
    (too_old_resource_version(5, 10), 410, "Expired", "too old resource version: 5 (10)"),
    (bad_request("bad"), 400, "BadRequest", "bad"),
    (method_not_supported("bindings", "list"), 405, "MethodNotAllowed",
     'list is not supported on resources of kind "bindings"'),
    (timeout("request did not complete within 60s", 2), 504, "Timeout",
     "Timeout: request did not complete within 60s"),
    (server_timeout("pods", "create", 2), 500, "ServerTimeout",
     "The create operation against pods could not be completed at this time, please try again."),
    (too_many_requests("please try again later", 1), 429, "TooManyRequests",
     "please try again later"),
    (internal_error("etcd unavailable"), 500, "InternalError",
     "Internal error occurred: etcd unavailable"),
])
def test_status_constructors(status, code: int, reason: str, message: str) -> None:
    assert (status.code, status.reason, status.message, status.status) == (
        code, reason, message, "Failure")


def test_details_carry_group_and_retry_after() -> None:
    s = forbidden("deployments", "web", "no", "apps")
    assert (s.details.name, s.details.group, s.details.kind) == ("web", "apps", "deployments")
    assert too_many_requests("slow down", 3).details.retry_after_seconds == 3
    assert internal_error("boom").details.causes[0].message == "boom"


def test_api_error_carries_the_status() -> None:
    err = ApiError(not_found("pods", "x"))
    assert (err.code, err.reason, err.message) == (404, "NotFound", 'pods "x" not found')
    assert err.details.name == "x" and str(err) == 'pods "x" not found'
    with pytest.raises(ApiError):
        raise err
