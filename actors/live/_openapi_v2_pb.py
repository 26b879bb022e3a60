"""``/openapi/v2`` as protobuf: the swagger document in gnostic's ``openapi.v2.Document``.

What it is: kubectl before 1.27 (Debian's is 1.20) reads the OpenAPI v2 document to
validate ``create -f``/``apply -f`` input and to find the strategic-merge-patch keys of a
client-side ``apply``, and asks for it as ``GET /openapi/v2`` with ``Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` only; a 404 or 406 there (and
on the pre-1.10 ``/swagger-2.0.0.pb-v1``) fails those commands with ``Error from server
(NotFound)`` unless ``--validate=false`` is given (kubectl 1.27+ reads ``/openapi/v3``).
This module encodes the document ``_openapi.openapi_v2`` serves as JSON with the messages
of ``_openapi_v2_proto`` (gnostic's field numbers): maps become repeated ``Named*`` pairs
in document order, a schema's ``type`` a ``TypeItem``, ``items`` an ``ItemsItem``, a
parameter a ``BodyParameter`` or a query/path ``NonBodyParameter``, and every ``x-…``
vendor extension a ``NamedAny`` whose value is YAML text (we write JSON, which is YAML;
kubectl reads it with ``yaml.Unmarshal``, kube-openapi's ``VendorExtensionToMap``).

Nothing is reshaped: kubectl 1.20.2's kube-openapi parser reads our ``type: object``
structs and free-form objects as they are (checked with that binary: ``explain``,
``create -f`` and ``apply -f`` validation, the ``unknown field`` error).

Concurrency model: none; built once per process (``functools.cache``), callers get bytes.

Invariants: every key of the JSON document is either encoded or refused loudly
(``ValueError``), so the two forms cannot drift apart silently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import msgspec

from ._openapi import openapi_v2
from ._openapi_v2_proto import openapiv2_pb2 as pb

__all__ = ["MEDIA_TYPE", "encode_document", "openapi_v2_protobuf"]

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

Doc = dict[str, Any]
_SCHEMA_SCALARS = {"$ref": "_ref", "format": "format", "title": "title",
                   "description": "description", "readOnly": "read_only"}
_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch")
_OPERATION_SCALARS = {"summary": "summary", "description": "description",
                      "operationId": "operation_id", "deprecated": "deprecated"}
_OPERATION_LISTS = {"tags": "tags", "produces": "produces", "consumes": "consumes",
                    "schemes": "schemes"}
_QUERY = {"required": "required", "in": "in", "description": "description", "name": "name",
          "allowEmptyValue": "allow_empty_value", "type": "type", "format": "format",
          "uniqueItems": "unique_items"}
_PATH = {k: v for k, v in _QUERY.items() if k != "allowEmptyValue"}


def _refuse(where: str, keys: Iterable[str]) -> None:
    extra = sorted(k for k in keys if not k.startswith("x-"))
    if extra:
        raise ValueError(f"OpenAPI v2 {where}: no protobuf encoding for {extra}")


def _any(value: Any) -> pb.Any:
    return pb.Any(yaml=msgspec.json.encode(value).decode())


def _extensions(doc: Doc) -> list[pb.NamedAny]:
    return [pb.NamedAny(name=k, value=_any(v)) for k, v in doc.items() if k.startswith("x-")]


def _schema(s: Doc) -> pb.Schema:
    out = pb.Schema(vendor_extension=_extensions(s))
    _refuse("schema", set(s) - set(_SCHEMA_SCALARS) - {
        "type", "items", "properties", "additionalProperties", "required", "enum",
        "default", "allOf"})
    for key, field in _SCHEMA_SCALARS.items():
        if key in s:
            setattr(out, field, s[key])
    types = s.get("type")
    if types:
        out.type.value.extend([types] if isinstance(types, str) else types)
    if "items" in s:
        out.items.schema.append(_schema(s["items"]))
    if "properties" in s:
        out.properties.SetInParent()  # present even when empty: a struct with no fields
        out.properties.additional_properties.extend(
            pb.NamedSchema(name=k, value=_schema(v)) for k, v in s["properties"].items())
    extra = s.get("additionalProperties")
    if isinstance(extra, bool):
        out.additional_properties.boolean = extra
    elif extra is not None:
        out.additional_properties.schema.CopyFrom(_schema(extra))
    out.required.extend(s.get("required", ()))
    out.enum.extend(_any(v) for v in s.get("enum", ()))
    if "default" in s:
        out.default.CopyFrom(_any(s["default"]))
    out.all_of.extend(_schema(x) for x in s.get("allOf", ()))
    return out


def _parameter(p: Doc) -> pb.ParametersItem:
    if "$ref" in p:
        return pb.ParametersItem(json_reference=pb.JsonReference(_ref=p["$ref"]))
    where = p.get("in")
    if where == "body":
        _refuse("body parameter", set(p) - {"name", "in", "required", "description",
                                            "schema"})
        body = pb.BodyParameter(name=p["name"], required=bool(p.get("required")),
                                description=p.get("description", ""),
                                schema=_schema(p.get("schema", {})),
                                vendor_extension=_extensions(p))
        setattr(body, "in", where)  # `in` is a Python keyword
        return pb.ParametersItem(parameter=pb.Parameter(body_parameter=body))
    names = {"query": _QUERY, "path": _PATH}.get(where or "")
    if names is None:
        raise ValueError(f"OpenAPI v2 parameter: no protobuf encoding for in={where!r}")
    _refuse(f"{where} parameter", set(p) - set(names))
    sub = pb.QueryParameterSubSchema() if where == "query" else pb.PathParameterSubSchema()
    for key, field in names.items():
        if key in p:
            setattr(sub, field, p[key])
    sub.vendor_extension.extend(_extensions(p))
    non_body = (pb.NonBodyParameter(query_parameter_sub_schema=sub) if where == "query"
                else pb.NonBodyParameter(path_parameter_sub_schema=sub))
    return pb.ParametersItem(parameter=pb.Parameter(non_body_parameter=non_body))


def _responses(responses: Doc) -> pb.Responses:
    out = pb.Responses(vendor_extension=_extensions(responses))
    for code, r in responses.items():
        if code.startswith("x-"):
            continue
        _refuse("response", set(r) - {"description", "schema"})
        resp = pb.Response(description=r.get("description", ""), vendor_extension=_extensions(r))
        if "schema" in r:
            resp.schema.schema.CopyFrom(_schema(r["schema"]))
        out.response_code.append(pb.NamedResponseValue(
            name=code, value=pb.ResponseValue(response=resp)))
    return out


def _operation(op: Doc) -> pb.Operation:
    _refuse("operation", set(op) - set(_OPERATION_SCALARS) - set(_OPERATION_LISTS)
            - {"parameters", "responses"})
    out = pb.Operation(vendor_extension=_extensions(op))
    for key, field in _OPERATION_SCALARS.items():
        if key in op:
            setattr(out, field, op[key])
    for key, field in _OPERATION_LISTS.items():
        getattr(out, field).extend(op.get(key, ()))
    out.parameters.extend(_parameter(p) for p in op.get("parameters", ()))
    if "responses" in op:
        out.responses.CopyFrom(_responses(op["responses"]))
    return out


def _path_item(item: Doc) -> pb.PathItem:
    _refuse("path item", set(item) - set(_OPERATIONS) - {"parameters", "$ref"})
    out = pb.PathItem(_ref=item.get("$ref", ""), vendor_extension=_extensions(item))
    for method in _OPERATIONS:
        if method in item:
            getattr(out, method).CopyFrom(_operation(item[method]))
    out.parameters.extend(_parameter(p) for p in item.get("parameters", ()))
    return out


def _security_definition(d: Doc) -> pb.SecurityDefinitionsItem:
    if d.get("type") != "apiKey":
        raise ValueError(f"OpenAPI v2 security definition: no protobuf encoding for {d}")
    _refuse("security definition", set(d) - {"type", "name", "in", "description"})
    key = pb.ApiKeySecurity(type=d["type"], name=d.get("name", ""),
                            description=d.get("description", ""),
                            vendor_extension=_extensions(d))
    setattr(key, "in", d.get("in", ""))  # `in` is a Python keyword
    return pb.SecurityDefinitionsItem(api_key_security=key)


def encode_document(doc: Doc) -> pb.Document:
    """A swagger 2.0 document (JSON form) as gnostic's ``openapi.v2.Document``."""
    _refuse("document", set(doc) - {"swagger", "info", "host", "basePath", "schemes",
                                    "consumes", "produces", "paths", "definitions",
                                    "security", "securityDefinitions"})
    info = doc.get("info", {})
    _refuse("info", set(info) - {"title", "version", "description"})
    out = pb.Document(swagger=doc.get("swagger", ""), host=doc.get("host", ""),
                      base_path=doc.get("basePath", ""), schemes=doc.get("schemes", ()),
                      consumes=doc.get("consumes", ()), produces=doc.get("produces", ()),
                      info=pb.Info(title=info.get("title", ""), version=info.get("version", ""),
                                   description=info.get("description", ""),
                                   vendor_extension=_extensions(info)),
                      vendor_extension=_extensions(doc))
    paths = doc.get("paths", {})
    out.paths.vendor_extension.extend(_extensions(paths))
    out.paths.path.extend(pb.NamedPathItem(name=k, value=_path_item(v))
                          for k, v in paths.items() if not k.startswith("x-"))
    out.definitions.additional_properties.extend(
        pb.NamedSchema(name=k, value=_schema(v)) for k, v in doc.get("definitions", {}).items())
    for requirement in doc.get("security", ()):
        out.security.append(pb.SecurityRequirement(additional_properties=[
            pb.NamedStringArray(name=k, value=pb.StringArray(value=v))
            for k, v in requirement.items()]))
    out.security_definitions.additional_properties.extend(
        pb.NamedSecurityDefinitionsItem(name=k, value=_security_definition(v))
        for k, v in doc.get("securityDefinitions", {}).items())
    return out


@functools.cache
def openapi_v2_protobuf() -> bytes:
    """``GET /openapi/v2`` for ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``."""
    return encode_document(msgspec.json.decode(openapi_v2())).SerializeToString()
