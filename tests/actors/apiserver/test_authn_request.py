"""Bearer-token authentication and RequestInfo parsing."""

from __future__ import annotations

import pytest

from actors.apiserver._authn import (
    ServiceAccountToken,
    TokenAuthenticator,
    Unauthorized,
    UserInfo,
    node_user,
    parse_token_file,
    split_service_account_username,
)
from actors.apiserver._request import RequestInfoError, parse_request

# --- authentication ---------------------------------------------------------------------


@pytest.fixture
def authn():
    return TokenAuthenticator(
        {"admin-token": UserInfo("kubernetes-admin", "u1", ("system:masters",))},
        {"sa-token": ServiceAccountToken(namespace="default", name="builder", uid="sa-uid"),
         "bound": ServiceAccountToken(namespace="ci", name="runner", uid="u2", pod_name="p",
                                      pod_uid="pu", node_name="n1", expires_at=100.0)})


def test_a_static_token_gets_system_authenticated(authn):
    u = authn.authenticate("Bearer admin-token")
    assert u == UserInfo("kubernetes-admin", "u1", ("system:masters", "system:authenticated"))


def test_a_service_account_token(authn):
    u = authn.authenticate("Bearer sa-token")
    assert u.name == "system:serviceaccount:default:builder"
    assert u.uid == "sa-uid"
    assert u.groups == ("system:serviceaccounts", "system:serviceaccounts:default",
                        "system:authenticated")
    assert split_service_account_username(u.name) == ("default", "builder")


def test_a_bound_token_carries_its_pod_and_expires(authn):
    u = authn.authenticate("bearer bound", now=50.0)
    assert u.extra == {"authentication.kubernetes.io/pod-name": ("p",),
                       "authentication.kubernetes.io/pod-uid": ("pu",),
                       "authentication.kubernetes.io/node-name": ("n1",)}
    with pytest.raises(Unauthorized):
        authn.authenticate("Bearer bound", now=100.0)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer  spaced"])
def test_no_credentials_is_401_unless_anonymous(authn, header):
    with pytest.raises(Unauthorized) as e:
        authn.authenticate(header)
    assert e.value.code == 401 and e.value.message == "Unauthorized"
    assert e.value.status.reason == "Unauthorized"
    authn.anonymous = True
    assert authn.authenticate(header) == UserInfo("system:anonymous",
                                                  groups=("system:unauthenticated",))


def test_a_bad_token_is_401_even_with_anonymous(authn):
    authn.anonymous = True
    with pytest.raises(Unauthorized):
        authn.authenticate("Bearer nope")


def test_a_deleted_service_account_invalidates_its_token():
    accounts = {("default", "builder"): {"metadata": {"name": "builder", "uid": "sa-uid"}}}
    authn = TokenAuthenticator(
        service_account_tokens={"t": ServiceAccountToken(namespace="default", name="builder",
                                                         uid="sa-uid")},
        service_account_lookup=lambda ns, n: accounts.get((ns, n)))
    assert authn.authenticate("Bearer t").name == "system:serviceaccount:default:builder"
    accounts[("default", "builder")] = {"metadata": {"name": "builder", "uid": "recreated"}}
    with pytest.raises(Unauthorized):
        authn.authenticate("Bearer t")
    del accounts[("default", "builder")]
    with pytest.raises(Unauthorized):
        authn.authenticate("Bearer t")


def test_tokens_can_be_added_and_revoked():
    authn = TokenAuthenticator()
    authn.add_token("k", node_user("n1"))
    assert authn.authenticate("Bearer k").groups == ("system:nodes", "system:authenticated")
    authn.revoke("k")
    with pytest.raises(Unauthorized):
        authn.authenticate("Bearer k")


def test_token_file():
    users = parse_token_file('t1,alice,1\nt2,bob,2,"dev,ops"\n')
    assert users["t1"] == UserInfo("alice", "1")
    assert users["t2"] == UserInfo("bob", "2", ("dev", "ops"))
    with pytest.raises(ValueError):
        parse_token_file("t1,alice\n")


# --- request info ---------------------------------------------------------------------------

CASES = [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/namespaces/default/pods/web", {},
     ("get", "", "v1", "default", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"},
     ("watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/pods", {"watch": ["0"]}, ("list", "", "v1", "", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods", {},
     ("watch", "", "v1", "default", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/default/pods/web", {},
     ("watch", "", "v1", "default", "pods", "", "web")),
    ("POST", "/api/v1/namespaces/default/pods", {}, ("create", "", "v1", "default", "pods", "", "")),
    ("PUT", "/api/v1/namespaces/default/pods/web/status", {},
     ("update", "", "v1", "default", "pods", "status", "web")),
    ("POST", "/api/v1/namespaces/default/pods/web/binding", {},
     ("create", "", "v1", "default", "pods", "binding", "web")),
    ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale", {},
     ("patch", "apps", "v1", "prod", "deployments", "scale", "web")),
    ("DELETE", "/apis/apps/v1/namespaces/prod/deployments", {},
     ("deletecollection", "apps", "v1", "prod", "deployments", "", "")),
    ("DELETE", "/api/v1/nodes/n1", {}, ("delete", "", "v1", "", "nodes", "", "n1")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/namespaces/kube-system", {},
     ("get", "", "v1", "kube-system", "namespaces", "", "kube-system")),
    ("PUT", "/api/v1/namespaces/x/finalize", {},
     ("update", "", "v1", "x", "namespaces", "finalize", "x")),
    ("GET", "/api/v1/namespaces/default/pods/web/log", {},
     ("get", "", "v1", "default", "pods", "log", "web")),
    ("GET", "/api/v1/proxy/namespaces/default/pods/web/a/b", {},
     ("proxy", "", "v1", "default", "pods", "", "web")),
    ("HEAD", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", {},
     ("get", "coordination.k8s.io", "v1", "kube-system", "leases", "", "x")),
    ("GET", "/api/v1/namespaces/default/pods", {"fieldSelector": "metadata.name=web"},
     ("list", "", "v1", "default", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/default/pods",
     {"fieldSelector": "metadata.name=web", "watch": "true"},
     ("watch", "", "v1", "default", "pods", "", "web")),
]


@pytest.mark.parametrize(("method", "path", "query", "want"), CASES,
                         ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_parse_request(method, path, query, want):
    info = parse_request(method, path, query)
    assert info.is_resource_request
    assert (info.verb, info.api_group, info.api_version, info.namespace, info.resource,
            info.subresource, info.name) == want


@pytest.mark.parametrize(("method", "path", "verb"), [
    ("GET", "/healthz", "get"), ("GET", "/api", "get"), ("GET", "/apis/apps", "get"),
    ("GET", "/api/v1", "get"), ("POST", "/version", "post"), ("GET", "/apis/apps/v1", "get"),
    ("GET", "/openapi/v2", "get"),
])
def test_non_resource_requests(method, path, verb):
    info = parse_request(method, path)
    assert not info.is_resource_request and info.verb == verb and info.path == path


def test_parts_and_selectors():
    info = parse_request("GET", "/api/v1/namespaces/default/pods",
                         {"labelSelector": "app=web", "fieldSelector": "spec.nodeName=n1"})
    assert info.parts == ("pods",)
    assert (info.label_selector, info.field_selector) == ("app=web", "spec.nodeName=n1")
    assert parse_request("GET", "/api/v1/namespaces/d/pods/p/log").parts == ("pods", "p", "log")
    # an invalid path segment or unparseable selector does not become the name
    assert parse_request("GET", "/api/v1/pods", {"fieldSelector": "metadata.name=a/b"}).name == ""


def test_a_special_verb_without_a_resource_is_an_error():
    with pytest.raises(RequestInfoError):
        parse_request("GET", "/api/v1/watch")
