"""``/openapi/v2`` as gnostic's protobuf Document: the committed stubs, the field numbers
kubectl's reader relies on, a lossless round trip of the whole JSON document, and the
front end's content negotiation."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import pytest
import yaml
from google.protobuf import descriptor_pb2
from starlette.requests import Request

from actors.live import create_app, openapi_v2
from actors.live._openapi_v2_pb import MEDIA_TYPE, encode_document, openapi_v2_protobuf
from actors.live._openapi_v2_proto import openapiv2_pb2 as pb

PROTO = os.path.join("actors", "live", "_openapi_v2_proto", "openapiv2.proto")


def test_committed_stub_matches_the_proto_file(tmp_path) -> None:
    protoc = pytest.importorskip("grpc_tools.protoc", reason="grpcio-tools is not installed")
    out = tmp_path / "set.pb"
    assert protoc.main(["protoc", "-I.", f"--descriptor_set_out={out}", PROTO]) == 0
    (fresh,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    for message in fresh.message_type:  # protoc fills in json names; the stubs leave them out
        for fld in message.field:
            fld.ClearField("json_name")
    assert fresh == descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)


def test_field_numbers_are_gnostics() -> None:
    """The wire facts of gnostic's openapiv2/OpenAPIv2.proto that kubectl decodes with."""
    def number(message: str, field: str) -> int:
        return pb.DESCRIPTOR.message_types_by_name[message].fields_by_name[field].number
    assert pb.DESCRIPTOR.package == "openapi.v2"
    assert [number("Document", f) for f in ("swagger", "info", "paths", "definitions",
                                            "security", "security_definitions")] == \
        [1, 2, 8, 9, 12, 13]
    assert [number("Schema", f) for f in ("_ref", "format", "required", "additional_properties",
                                          "type", "items", "properties",
                                          "vendor_extension")] == [1, 2, 19, 21, 22, 23, 25, 31]
    assert number("Any", "yaml") == 2 and number("NamedAny", "value") == 2
    assert [number("PathItem", m) for m in ("get", "put", "post", "delete", "patch")] == \
        [2, 3, 4, 5, 8]
    assert [number("Operation", f) for f in ("operation_id", "produces", "consumes",
                                             "parameters", "responses",
                                             "vendor_extension")] == [5, 6, 7, 8, 9, 13]
    assert number("NonBodyParameter", "query_parameter_sub_schema") == 3
    assert number("QueryParameterSubSchema", "unique_items") == 20


# -- the protobuf read back into the JSON form ----------------------------------------------

def _ext(named: Any) -> dict[str, Any]:
    return {n.name: yaml.safe_load(n.value.yaml) for n in named}


def _schema(s: pb.Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, key in (("_ref", "$ref"), ("format", "format"), ("title", "title"),
                       ("description", "description")):
        if getattr(s, field):
            out[key] = getattr(s, field)
    if s.type.value:
        out["type"] = s.type.value[0] if len(s.type.value) == 1 else list(s.type.value)
    if s.items.schema:
        out["items"] = _schema(s.items.schema[0])
    if s.HasField("properties"):
        out["properties"] = {p.name: _schema(p.value)
                             for p in s.properties.additional_properties}
    if s.additional_properties.HasField("schema"):
        out["additionalProperties"] = _schema(s.additional_properties.schema)
    return {**out, **_ext(s.vendor_extension)}


def _parameter(item: pb.ParametersItem) -> dict[str, Any]:
    p = item.parameter
    if p.HasField("body_parameter"):
        b = p.body_parameter
        return {"name": b.name, "in": getattr(b, "in"), "required": b.required,
                "schema": _schema(b.schema)}
    q = p.non_body_parameter.query_parameter_sub_schema
    return {"name": q.name, "in": getattr(q, "in"), "uniqueItems": q.unique_items,
            "type": q.type}


def _operation(op: pb.Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, **_ext(op.vendor_extension)}
    out["parameters"] = [_parameter(p) for p in op.parameters]
    if op.consumes:
        out["consumes"] = list(op.consumes)
    out["produces"] = list(op.produces)
    out["responses"] = {r.name: {"description": r.value.response.description,
                                 "schema": _schema(r.value.response.schema.schema)}
                        for r in op.responses.response_code}
    return out


def _document(d: pb.Document) -> dict[str, Any]:
    methods = ("get", "put", "post", "delete", "patch")
    return {
        "swagger": d.swagger, "info": {"title": d.info.title, "version": d.info.version},
        "paths": {p.name: {m: _operation(getattr(p.value, m)) for m in methods
                           if p.value.HasField(m)} for p in d.paths.path},
        "definitions": {n.name: _schema(n.value) for n in d.definitions.additional_properties},
        "securityDefinitions": {
            n.name: {"type": n.value.api_key_security.type,
                     "name": n.value.api_key_security.name,
                     "in": getattr(n.value.api_key_security, "in")}
            for n in d.security_definitions.additional_properties},
        "security": [{n.name: list(n.value.value) for n in r.additional_properties}
                     for r in d.security],
    }


def test_the_protobuf_document_reads_back_as_the_json_one() -> None:
    doc = pb.Document.FromString(openapi_v2_protobuf())
    assert _document(doc) == json.loads(openapi_v2())
    deployment = next(n.value for n in doc.definitions.additional_properties
                      if n.name == "io.k8s.api.apps.v1.Deployment")
    assert _ext(deployment.vendor_extension)["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}]


def test_a_field_without_an_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="patternProperties"):
        encode_document({"swagger": "2.0", "definitions": {"X": {"patternProperties": {}}}})
    with pytest.raises(ValueError, match="formData"):
        encode_document({"swagger": "2.0", "paths": {"/x": {"get": {
            "parameters": [{"name": "f", "in": "formData"}]}}}})
    empty = pb.Schema.FromString(encode_document({"definitions": {"E": {"properties": {}}}})
                                 .definitions.additional_properties[0].value
                                 .SerializeToString())
    assert empty.HasField("properties")  # an empty struct stays a struct on the wire


# -- the front end ---------------------------------------------------------------------------

def _get_openapi_v2(accept: str) -> tuple[int, str, bytes]:
    app = create_app(None, ["kube-apiserver-0"], authenticate=lambda t: t == "tok")  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "path": "/openapi/v2", "query_string": b"",
             "headers": [(b"accept", accept.encode()), (b"authorization", b"Bearer tok")]}
    resp = anyio.run(app.state.frontend.openapi_v2, Request(scope))
    return resp.status_code, resp.headers["content-type"], bytes(resp.body)


def test_the_front_end_serves_the_form_asked_for_first() -> None:
    code, ctype, body = _get_openapi_v2(MEDIA_TYPE)  # kubectl 1.20 asks for this only
    assert (code, ctype) == (200, "application/octet-stream")  # Go's mime parser refuses '@'
    assert body == openapi_v2_protobuf()
    code, ctype, body = _get_openapi_v2(f"application/json, {MEDIA_TYPE}")
    assert (code, ctype, body) == (200, "application/json", openapi_v2())
    code, _, body = _get_openapi_v2("application/xml")
    assert code == 406 and json.loads(body)["reason"] == "NotAcceptable"
