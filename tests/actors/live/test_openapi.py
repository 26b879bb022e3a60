"""OpenAPI v3 and v2 documents from our types, in the shapes kubectl reads."""

from __future__ import annotations

import hashlib
import json

from actors.api import all_resources
from actors.live import openapi_v2, openapi_v3_document, openapi_v3_root


def _refs(doc, out: set[str]) -> set[str]:
    if isinstance(doc, dict):
        if isinstance(doc.get("$ref"), str):
            out.add(doc["$ref"])
        for v in doc.values():
            _refs(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _refs(v, out)
    return out


def test_v3_root_lists_each_group_version_with_its_hash() -> None:
    root = json.loads(openapi_v3_root())
    assert "api/v1" in root["paths"] and "apis/apps/v1" in root["paths"]
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    body = openapi_v3_document("apis/apps/v1")
    assert url == f"/openapi/v3/apis/apps/v1?hash={hashlib.sha512(body).hexdigest().upper()}"
    assert openapi_v3_document("apis/extensions/v1beta1") is None


def test_v3_documents_resolve_and_name_kinds() -> None:
    for path in json.loads(openapi_v3_root())["paths"]:
        doc = json.loads(openapi_v3_document(path))
        assert doc["openapi"] == "3.0.0"
        schemas = doc["components"]["schemas"]
        for ref in _refs(doc, set()):
            assert ref.startswith("#/components/schemas/") and ref.rpartition("/")[2] in schemas
    doc = json.loads(openapi_v3_document("apis/apps/v1"))
    dep = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert dep["properties"]["metadata"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    port = doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert port["x-kubernetes-patch-merge-key"] == "containerPort"


def test_every_patchable_kind_has_a_patch_with_field_validation() -> None:
    """cli-runtime's queryParamVerifierV3: a PATCH of the GVK with ``fieldValidation``."""
    found = set()
    for path in json.loads(openapi_v3_root())["paths"]:
        for item in json.loads(openapi_v3_document(path))["paths"].values():
            op = item.get("patch")
            if op and any(p["name"] == "fieldValidation" for p in op["parameters"]):
                gvk = op["x-kubernetes-group-version-kind"]
                found.add((gvk["group"], gvk["kind"]))
    assert found == {(ri.group, ri.kind) for ri in all_resources() if "patch" in ri.verbs}


def test_v2_definitions_use_kubernetes_names() -> None:
    doc = json.loads(openapi_v2())
    assert doc["swagger"] == "2.0"
    defs = doc["definitions"]
    for name in ("io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList",
                 "io.k8s.api.apps.v1.Deployment", "io.k8s.api.batch.v1.Job",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                 "io.k8s.api.core.v1.ObjectReference", "io.k8s.api.discovery.v1.Endpoint",
                 "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                 "io.k8s.apimachinery.pkg.api.resource.Quantity"):
        assert name in defs, name
    assert defs["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]
    assert defs["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    limits = defs["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}
    for ref in _refs(doc, set()):
        assert ref.rpartition("/")[2] in defs
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert "application/strategic-merge-patch+json" in patch["consumes"]
