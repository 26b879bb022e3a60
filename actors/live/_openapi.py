"""OpenAPI v2 and v3 documents generated from our msgspec types.

What it is: msgspec's JSON Schema of every served kind, converted into the shapes the
Kubernetes apiserver publishes and kubectl reads:
- component names are Kubernetes' (``io.k8s.api.core.v1.Pod``,
  ``io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta``), mapped from the module that
  defines each Struct;
- top-level kinds carry ``x-kubernetes-group-version-kind``;
- ``X | None`` becomes ``X``; ``int | str`` is IntOrString, resource lists hold Quantity;
- list fields carry the strategic-merge-patch extensions kubectl reads
  (``x-kubernetes-patch-merge-key``/``-strategy``: containers merge by name...);
- every resource gets paths whose operations name their GVK and, for PATCH, a
  ``fieldValidation`` parameter: this is what makes kubectl 1.27+ skip client-side
  validation and send ``fieldValidation=Strict`` (cli-runtime queryParamVerifierV3).

``/openapi/v3`` lists one document per group-version with a content hash
(``serverRelativeURL: /openapi/v3/apis/apps/v1?hash=…``); ``/openapi/v2`` is the whole
swagger 2.0 document (as JSON here; ``_openapi_v2_pb`` encodes it as the protobuf that
kubectl asks for).

Concurrency model: none; built once per process (``functools.cache``) and never mutated:
callers get the encoded bytes.

Invariants: every ``$ref`` resolves inside its document; each served kind appears once.
"""

from __future__ import annotations

import functools
import hashlib
import types
import typing
from typing import Any

import msgspec

from actors.api import ResourceInfo, all_resources

from ._discovery import KUBERNETES_VERSION, group_versions

__all__ = ["openapi_v2", "openapi_v3_document", "openapi_v3_root", "schema_names"]

Doc = dict[str, Any]
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_PATCH = _META + "Patch"
_PACKAGES = {
    "_core_pod": "io.k8s.api.core.v1.", "_core_other": "io.k8s.api.core.v1.",
    "_apps": "io.k8s.api.apps.v1.", "_batch": "io.k8s.api.batch.v1.",
    "_coordination": "io.k8s.api.coordination.v1.", "_discovery": "io.k8s.api.discovery.v1.",
    "_rbac": "io.k8s.api.rbac.v1.", "_storage": "io.k8s.api.storage.v1.",
    "_pdb": "io.k8s.api.policy.v1.",
}
# Types defined beside meta/v1 in actors.api._meta but living in core/v1 in Kubernetes,
# and our names that differ from Kubernetes'.
_CORE_IN_META = {"ObjectReference", "LocalObjectReference", "TypedLocalObjectReference"}
_RENAMED = {"EndpointSliceEndpoint": "Endpoint", "EndpointSlicePort": "EndpointPort",
            "_EnvRef": "ConfigMapEnvSource"}
_INT64 = frozenset({"generation", "observedGeneration", "activeDeadlineSeconds",
                    "terminationGracePeriodSeconds", "deletionGracePeriodSeconds", "runAsUser",
                    "runAsGroup", "fsGroup", "startingDeadlineSeconds", "revision",
                    "remainingItemCount", "seconds", "sizeBytes"})
# Strategic merge patch metadata (the patchStrategy/patchMergeKey struct tags of k8s.io/api),
# by JSON field name; kubectl's three-way merge reads these from the schema.
_MERGE = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
          "volumes": "name", "env": "name", "imagePullSecrets": "name", "volumeMounts":
          "mountPath", "volumeDevices": "devicePath", "conditions": "type",
          "ownerReferences": "uid", "hostAliases": "ip", "addresses": "type",
          "topologySpreadConstraints": "topologyKey", "resourceClaims": "name",
          "schedulingGates": "name", "readinessGates": None, "finalizers": None,
          "podCIDRs": None}
_PORT_KEYS = {"Container": "containerPort", "ServiceSpec": "port"}


def schema_names() -> dict[str, str]:
    """Our Struct names to Kubernetes' definition names (``Pod`` -> ``io.k8s.api.core.v1.Pod``)."""
    return dict(_components()[1])


def _k8s_name(cls: type) -> str:
    name = cls.__name__
    module = cls.__module__.rpartition(".")[2]
    if module == "_meta" and name not in _CORE_IN_META:
        return _META + name
    if module == "_registry" and name.endswith("List"):  # the generic <Kind>List types
        ri = next(r for r in all_resources() if r.list_kind == name)
        module = ri.type.__module__.rpartition(".")[2] if ri.type else "_core_other"
    package = _PACKAGES.get(module, "io.k8s.api.core.v1.")
    return package + _RENAMED.get(name, name)


def _walk(tp: Any, found: dict[str, type]) -> None:
    """Collect every Struct class reachable from ``tp`` by its (unique) class name."""
    origin = typing.get_origin(tp)
    if origin is not None or isinstance(tp, types.UnionType):
        for arg in typing.get_args(tp):
            _walk(arg, found)
        return
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct) and tp.__name__ not in found:
        found[tp.__name__] = tp
        hints = typing.get_type_hints(tp)
        for f in msgspec.structs.fields(tp):
            _walk(hints.get(f.name, Any), found)


def _top_level() -> list[tuple[ResourceInfo, type, type]]:
    return [(ri, ri.type, ri.list_type) for ri in all_resources() if ri.type is not None]


@functools.cache
def _components() -> tuple[dict[str, Doc], dict[str, str]]:
    """msgspec's schema components, and our names -> Kubernetes' names."""
    roots: list[Any] = [t for _, kind, lst in _top_level() for t in (kind, lst)]
    _, comps = msgspec.json.schema_components(roots, ref_template="{name}")
    classes: dict[str, type] = {}
    for t in roots:
        _walk(t, classes)
    missing = set(comps) - set(classes)
    if missing:
        raise AssertionError(f"schema components without a class: {sorted(missing)}")
    return comps, {n: _k8s_name(classes[n]) for n in comps}


def _gvks() -> dict[str, list[Doc]]:
    out: dict[str, list[Doc]] = {}
    for ri, kind, lst in _top_level():
        for t, k in ((kind, ri.kind), (lst, ri.list_kind)):
            out[t.__name__] = [{"group": ri.group, "kind": k, "version": ri.version}]
    return out


class _Converter:
    """msgspec JSON Schema -> OpenAPI schema, with refs under ``prefix``."""

    def __init__(self, prefix: str, names: dict[str, str]) -> None:
        self.prefix = prefix
        self.names = names

    def ref(self, k8s_name: str) -> Doc:
        return {"$ref": self.prefix + k8s_name}

    def convert(self, s: Doc, field: str = "") -> Doc:
        if "$ref" in s:
            return self.ref(self.names[s["$ref"]])
        if "anyOf" in s:
            opts = [o for o in s["anyOf"] if o.get("type") != "null"]
            kinds = {o.get("type") for o in opts}
            if kinds == {"integer", "string"}:
                return self.ref(_INT_OR_STRING)
            if kinds == {"integer", "string", "number"}:
                return self.ref(_QUANTITY)
            return self.convert(opts[0], field) if len(opts) == 1 else {}
        if "enum" in s:  # only the kind tag is an enum in our types
            return {"type": "string"}
        t = s.get("type")
        if t == "object" and "properties" in s:
            return self.struct(s)
        if t == "object":
            extra = s.get("additionalProperties")
            if extra is None:
                return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            return {"type": "object", "additionalProperties": self.convert(extra)}
        if t == "array":
            return {"type": "array", "items": self.convert(s.get("items", {}))}
        if t == "integer":
            return {"type": "integer", "format": "int64" if field in _INT64 else "int32"}
        if t == "number":
            return {"type": "number", "format": "double"}
        return {"type": t} if t else {}

    def struct(self, s: Doc) -> Doc:
        title = s.get("title", "")
        props: Doc = {}
        for name, sub in s["properties"].items():
            prop = self.convert(sub, name)
            if prop.get("type") == "array" and (name in _MERGE or name == "ports"):
                key = _PORT_KEYS.get(title) if name == "ports" else _MERGE[name]
                if name != "ports" or key:
                    prop["x-kubernetes-patch-strategy"] = "merge"
                    if key:
                        prop["x-kubernetes-patch-merge-key"] = key
            props[name] = prop
        return {"type": "object", "properties": props}


def _schemas(prefix: str) -> dict[str, Doc]:
    comps, names = _components()
    conv = _Converter(prefix, names)
    gvks = _gvks()
    out: dict[str, Doc] = {}
    for name, schema in comps.items():
        doc = conv.convert(schema)
        if name in gvks:
            doc["x-kubernetes-group-version-kind"] = gvks[name]
        out[names[name]] = doc
    out[_INT_OR_STRING] = {"type": "string", "format": "int-or-string"}
    out[_QUANTITY] = {"type": "string"}
    out[_PATCH] = {"type": "object"}
    return out


# -- paths ---------------------------------------------------------------------------------

_Q = {"dryRun": "string", "fieldManager": "string", "fieldValidation": "string",
      "force": "boolean", "pretty": "string", "labelSelector": "string",
      "fieldSelector": "string", "limit": "integer", "continue": "string",
      "resourceVersion": "string", "watch": "boolean", "gracePeriodSeconds": "integer",
      "propagationPolicy": "string"}
_WRITE = ("dryRun", "fieldManager", "fieldValidation", "pretty")
_LIST = ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def _op_id(action: str, ri: ResourceInfo, namespaced: bool, sub: str = "") -> str:
    group = "".join(p.capitalize() for p in (ri.group.split(".")[0], ri.version) if p)
    scope = "Namespaced" if namespaced else ""
    kind = ri.kind + (sub.capitalize() if sub else "")
    return f"{action}{group or 'Core'}{scope}{kind}"


def _operation(v3: bool, action: str, verb: str, ri: ResourceInfo, kind_ref: str,
               params: tuple[str, ...], namespaced: bool, sub: str = "") -> Doc:
    schema = {"$ref": kind_ref}
    op: Doc = {"operationId": _op_id(verb, ri, namespaced, sub),
               "x-kubernetes-action": action,
               "x-kubernetes-group-version-kind": {"group": ri.group, "version": ri.version,
                                                   "kind": ri.kind}}
    plist = []
    for p in params:
        entry: Doc = {"name": p, "in": "query", "uniqueItems": True}
        if v3:
            entry["schema"] = {"type": _Q[p]}
        else:
            entry["type"] = _Q[p]
        plist.append(entry)
    op["parameters"] = plist
    body_types = (_PATCH_TYPES if action == "patch" else ("application/json",)
                  if action in ("post", "put") else ())
    body_schema = {"$ref": kind_ref.rpartition("/")[0] + "/" + _PATCH} if action == "patch" \
        else schema
    if v3:
        if body_types:
            op["requestBody"] = {"required": True, "content": {
                t: {"schema": body_schema} for t in body_types}}
        op["responses"] = {"200": {"description": "OK", "content": {
            "application/json": {"schema": schema}}}}
    else:
        if body_types:
            op["consumes"] = list(body_types)
            plist.append({"name": "body", "in": "body", "required": True,
                          "schema": body_schema})
        op["produces"] = ["application/json"]
        op["responses"] = {"200": {"description": "OK", "schema": schema}}
    return op


def _resource_paths(ri: ResourceInfo, ref_prefix: str, v3: bool) -> dict[str, Doc]:
    _, names = _components()
    kind_ref = ref_prefix + names[ri.type.__name__]  # type: ignore[union-attr]
    list_ref = ref_prefix + names[ri.list_type.__name__]
    base = f"/apis/{ri.group}/{ri.version}" if ri.group else f"/api/{ri.version}"
    coll = (f"{base}/namespaces/{{namespace}}/{ri.resource}" if ri.namespaced
            else f"{base}/{ri.resource}")
    ns = ri.namespaced
    verbs = set(ri.verbs)
    paths: dict[str, Doc] = {}
    collection: Doc = {}
    if "list" in verbs:
        collection["get"] = _operation(v3, "list", "list", ri, list_ref, _LIST, ns)
    if "create" in verbs:
        collection["post"] = _operation(v3, "post", "create", ri, kind_ref, _WRITE, ns)
    if "deletecollection" in verbs:
        collection["delete"] = _operation(v3, "deletecollection", "deleteCollection", ri,
                                          kind_ref, _LIST, ns)
    if collection:
        paths[coll] = collection
    item: Doc = {}
    if "get" in verbs:
        item["get"] = _operation(v3, "get", "read", ri, kind_ref, ("pretty",), ns)
    if "update" in verbs:
        item["put"] = _operation(v3, "put", "replace", ri, kind_ref, _WRITE, ns)
    if "patch" in verbs:
        item["patch"] = _operation(v3, "patch", "patch", ri, kind_ref, (*_WRITE, "force"), ns)
    if "delete" in verbs:
        item["delete"] = _operation(v3, "delete", "delete", ri, kind_ref,
                                    ("dryRun", "gracePeriodSeconds", "propagationPolicy"), ns)
    if item:
        paths[f"{coll}/{{name}}"] = item
    if "status" in ri.subresources:
        paths[f"{coll}/{{name}}/status"] = {
            "get": _operation(v3, "get", "read", ri, kind_ref, ("pretty",), ns, "status"),
            "put": _operation(v3, "put", "replace", ri, kind_ref, _WRITE, ns, "status"),
            "patch": _operation(v3, "patch", "patch", ri, kind_ref, (*_WRITE, "force"), ns,
                                "status")}
    if ns and "list" in verbs:
        paths[f"{base}/{ri.resource}"] = {
            "get": _operation(v3, "list", "list", ri, list_ref, _LIST, False, "ForAllNamespaces")}
    return paths


def _info() -> Doc:
    return {"title": "Kubernetes", "version": KUBERNETES_VERSION[2]}


# -- documents -----------------------------------------------------------------------------

def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _refs_in(doc: Any, out: set[str]) -> None:
    if isinstance(doc, dict):
        ref = doc.get("$ref")
        if isinstance(ref, str):
            out.add(ref.rpartition("/")[2])
        for v in doc.values():
            _refs_in(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _refs_in(v, out)


def _closure(schemas: dict[str, Doc], roots: set[str]) -> dict[str, Doc]:
    """The schemas reachable from ``roots`` (a group-version document carries only those)."""
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep or name not in schemas:
            continue
        keep.add(name)
        found: set[str] = set()
        _refs_in(schemas[name], found)
        todo.extend(found)
    return {n: schemas[n] for n in schemas if n in keep}


@functools.cache
def _v3_documents() -> dict[str, bytes]:
    prefix = "#/components/schemas/"
    schemas = _schemas(prefix)
    out: dict[str, bytes] = {}
    for group, version in group_versions():
        paths: dict[str, Doc] = {}
        for ri in all_resources():
            if (ri.group, ri.version) == (group, version) and ri.type is not None:
                paths.update(_resource_paths(ri, prefix, v3=True))
        roots: set[str] = set()
        _refs_in(paths, roots)
        doc = {"openapi": "3.0.0", "info": _info(), "paths": paths,
               "components": {"schemas": _closure(schemas, roots),
                              "securitySchemes": {"BearerToken": {
                                  "type": "apiKey", "in": "header", "name": "authorization"}}}}
        out[_gv_path(group, version)] = msgspec.json.encode(doc)
    return out


def openapi_v3_document(path: str) -> bytes | None:
    """``GET /openapi/v3/<path>`` (``api/v1``, ``apis/apps/v1``); None if not served."""
    return _v3_documents().get(path.strip("/"))


@functools.cache
def openapi_v3_root() -> bytes:
    """``GET /openapi/v3``: each group-version's document with its content hash."""
    paths = {}
    for path, body in _v3_documents().items():
        digest = hashlib.sha512(body).hexdigest().upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return msgspec.json.encode({"paths": paths})


@functools.cache
def openapi_v2() -> bytes:
    """``GET /openapi/v2`` as JSON: every definition and every resource's paths."""
    prefix = "#/definitions/"
    paths: dict[str, Doc] = {}
    for ri in all_resources():
        if ri.type is not None:
            paths.update(_resource_paths(ri, prefix, v3=False))
    doc = {"swagger": "2.0", "info": _info(), "paths": paths, "definitions": _schemas(prefix),
           "securityDefinitions": {"BearerToken": {"type": "apiKey", "name": "authorization",
                                                   "in": "header"}},
           "security": [{"BearerToken": []}]}
    return msgspec.json.encode(doc)
