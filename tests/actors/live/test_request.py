"""URL -> ApiRequest (Kubernetes' RequestInfoFactory rules), request bodies by content
type, and Accept negotiation of Tables."""

from __future__ import annotations

import pytest

from actors.api import ApiError
from actors.live import decode_body, parse_request, wanted_as
from actors.live._protobuf import MAGIC


def _req(method: str, path: str, query: str = ""):
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    return parse_request(method, path, pairs, token="t", user_agent="kubectl/v1.32")


@pytest.mark.parametrize("method, path, query, expected", [
    ("GET", "/api/v1/namespaces/default/pods", "limit=500",
     dict(verb="list", resource="pods", group="", version="v1", namespace="default",
          params={"limit": "500"})),
    ("GET", "/api/v1/pods", "", dict(verb="list", namespace=None)),
    ("GET", "/api/v1/namespaces/default/pods/web", "", dict(verb="get", name="web")),
    ("GET", "/api/v1/namespaces/default/pods", "watch=true&resourceVersion=10",
     dict(verb="watch", params={"resourceVersion": "10"})),
    ("GET", "/api/v1/watch/namespaces/default/pods", "", dict(verb="watch")),
    ("GET", "/api/v1/namespaces/default/pods/web", "watch=1",
     dict(verb="watch", name=None, params={"fieldSelector": "metadata.name=web"})),
    ("POST", "/apis/apps/v1/namespaces/default/deployments", "fieldManager=kubectl-create",
     dict(verb="create", group="apps", params={"fieldManager": "kubectl-create"})),
    ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", "",
     dict(verb="update", name="web", subresource="scale")),
    ("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "",
     dict(verb="patch", name="web")),
    ("DELETE", "/api/v1/namespaces/default/pods/web", "", dict(verb="delete", name="web")),
    ("DELETE", "/api/v1/namespaces/default/pods", "", dict(verb="deletecollection")),
    ("GET", "/api/v1/namespaces/kube-system", "",
     dict(verb="get", resource="namespaces", name="kube-system", namespace=None)),
    ("PUT", "/api/v1/namespaces/gone/finalize", "",
     dict(verb="update", resource="namespaces", name="gone", subresource="finalize")),
    ("POST", "/api/v1/namespaces/default/pods/web/binding", "",
     dict(verb="create", subresource="binding", name="web")),
    ("GET", "/api/v1/componentstatuses", "timeout=32s", dict(verb="list", params={})),
    ("GET", "/api/v1/namespaces/default/pods", "labelSelector=a%3Db&labelSelector=c",
     dict(params={"labelSelector": "a%3Db"})),
])
def test_urls_become_requests(method: str, path: str, query: str, expected: dict) -> None:
    req = _req(method, path, query)
    for field, value in expected.items():
        assert getattr(req, field) == value, field
    assert req.token == "t" and req.user_agent == "kubectl/v1.32"


@pytest.mark.parametrize("method, path, code", [
    ("GET", "/api/v1/namespaces/default/foos", 404),
    ("GET", "/apis/extensions/v1beta1/namespaces/default/deployments", 404),
    ("GET", "/api/v1/namespaces/default/nodes/n1", 404),  # cluster-scoped under a namespace
    ("GET", "/api/v1/namespaces/default/pods/web/nope", 404),
    ("POST", "/api/v1/componentstatuses", 405),
    ("PUT", "/api/v1/namespaces/default/pods", 405),
    ("GET", "/api", 404),
])
def test_bad_urls_are_status_errors(method: str, path: str, code: int) -> None:
    with pytest.raises(ApiError) as e:
        _req(method, path)
    assert e.value.code == code and e.value.status.kind == "Status"


@pytest.mark.parametrize("content_type, raw, body, patch_type", [
    ("application/json", b'{"a":1}', {"a": 1}, None),
    ("application/json; charset=utf-8", b'{"a":1}', {"a": 1}, None),
    ("application/yaml", b"a: 1\n", {"a": 1}, None),
    ("application/merge-patch+json", b'{"a":1}', {"a": 1}, "merge"),
    ("application/strategic-merge-patch+json", b'{"a":1}', {"a": 1}, "strategic"),
    ("application/json-patch+json", b'[{"op":"remove","path":"/a"}]',
     [{"op": "remove", "path": "/a"}], "json"),
    ("application/apply-patch+yaml", b'{"kind":"Pod"}', {"kind": "Pod"}, "apply"),
    ("application/json", b"", None, None),
])
def test_bodies_by_content_type(content_type: str, raw: bytes, body, patch_type) -> None:
    assert decode_body(content_type, raw) == (body, patch_type)


def test_protobuf_body() -> None:
    raw = (MAGIC + b"\x0a\x0f\x0a\x02v1\x12\x09Namespace"
           + b"\x12\x08\x0a\x06\x0a\x04team")
    assert decode_body("application/vnd.kubernetes.protobuf", raw) == (
        {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "team"}}, None)


@pytest.mark.parametrize("content_type, raw, code", [
    ("application/json", b"{nope", 400),
    ("text/plain", b"hello", 415),
    ("application/vnd.kubernetes.protobuf", MAGIC + b"\x0a\x08\x0a\x02v1\x12\x02X1", 415),
])
def test_bad_bodies(content_type: str, raw: bytes, code: int) -> None:
    with pytest.raises(ApiError) as e:
        decode_body(content_type, raw)
    assert e.value.code == code


KUBECTL_GET = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
               "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")


@pytest.mark.parametrize("accept, wanted", [
    (KUBECTL_GET, ("Table", "meta.k8s.io/v1")),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", ("Table", "meta.k8s.io/v1beta1")),
    ("application/json", None),
    ("application/json, */*", None),
    ("application/vnd.kubernetes.protobuf,application/json", None),
    ("application/json,application/json;as=Table;v=v1;g=meta.k8s.io", None),
    ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
     ("PartialObjectMetadataList", "meta.k8s.io/v1")),
    ("", None),
])
def test_accept_negotiation(accept: str, wanted) -> None:
    assert wanted_as(accept) == wanted
