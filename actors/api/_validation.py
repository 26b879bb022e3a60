"""Validation: the field errors the apiserver returns with 422 Invalid.

What it is: ``validate(obj, *, old=None)`` returns the ``Cause`` list Kubernetes'
``pkg/apis/*/validation`` would produce for a create (``old`` None) or an update, with
Kubernetes' field paths (``spec.template.spec.containers[0].image``) and messages
(``Required value``, ``Invalid value: "Foo": a lowercase RFC 1123 ...``,
``Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"``).
``status_invalid`` wraps them in the 422 Status. This module holds the field-error
constructors, metadata/label/selector validation and the per-kind dispatch; the kinds
themselves are in ``_validation_pod``, ``_validation_workloads`` and ``_validation_other``.

Concurrency model: none; pure functions.

Invariants:
- Validation runs on *defaulted* objects, as in the apiserver (decode, default,
  validate). A field the defaulter always fills (restartPolicy, dnsPolicy,
  imagePullPolicy, protocol...) is only checked when present, never reported missing.
- A bad value is rendered as Kubernetes' ErrorBody does: numbers and booleans plain,
  strings quoted, anything else as JSON (maps with sorted keys).
- Errors come in Kubernetes' order for one object; map entries in their insertion order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from ._meta import ObjectMeta, Status, StatusCause
from ._status import invalid

__all__ = ["Cause", "status_invalid", "validate"]

# A validation error is a StatusCause: type (FieldValueInvalid...), message, field.
Cause = StatusCause

IS_NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"
TOTAL_ANNOTATION_SIZE = 256 * 1024
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


# -- field errors (k8s.io/apimachinery/pkg/util/validation/field) ------------------------


def render(value: Any) -> str:
    """ErrorBody's rendering of a bad value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    return msgspec.json.encode(value, order="deterministic").decode()


def _cause(type_: str, field: str, body: str, detail: str = "") -> Cause:
    return Cause(type=type_, message=f"{body}: {detail}" if detail else body, field=field)


def required(field: str, detail: str = "") -> Cause:
    return _cause("FieldValueRequired", field, "Required value", detail)


def forbidden(field: str, detail: str) -> Cause:
    return _cause("FieldValueForbidden", field, "Forbidden", detail)


def invalid_value(field: str, value: Any, detail: str) -> Cause:
    return _cause("FieldValueInvalid", field, f"Invalid value: {render(value)}", detail)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> Cause:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in supported)
    return _cause("FieldValueNotSupported", field, f"Unsupported value: {render(value)}", detail)


def duplicate(field: str, value: Any) -> Cause:
    return _cause("FieldValueDuplicate", field, f"Duplicate value: {render(value)}")


def not_found(field: str, value: Any, detail: str = "") -> Cause:
    return _cause("FieldValueNotFound", field, f"Not found: {render(value)}", detail)


def too_long(field: str, max_bytes: int) -> Cause:
    unit = "byte" if max_bytes == 1 else "bytes"
    return _cause("FieldValueTooLong", field, "Too long", f"may not be more than {max_bytes} {unit}")


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def nonnegative(value: int | None, field: str) -> list[Cause]:
    return [invalid_value(field, value, IS_NEGATIVE)] if value is not None and value < 0 else []


def immutable(new: Any, old: Any, field: str) -> list[Cause]:
    return [] if new == old else [invalid_value(field, new, IMMUTABLE)]


def inclusive_range(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range(1, 65535)]


def port_name(name: str) -> list[str]:
    """validation.IsValidPortName (an IANA_SVC_NAME)."""
    import re

    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    elif not re.search(r"[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_num_or_name(port: int | str | None, field: str) -> list[Cause]:
    if isinstance(port, str):
        return [invalid_value(field, port, m) for m in port_name(port)]
    value = port or 0
    return [invalid_value(field, value, m) for m in port_num(value)]


def check(value: str, field: str, fn: Callable[[str], list[str]]) -> list[Cause]:
    return [invalid_value(field, value, m) for m in fn(value)]


# -- names ------------------------------------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    # NameIsDNSSubdomain(name, prefix=true): a generateName may end in "-".
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    from ._names import is_dns1123_subdomain

    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def dns_label(name: str, prefix: bool = False) -> list[str]:
    from ._names import is_dns1123_label

    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def dns1035_label(name: str, prefix: bool = False) -> list[str]:
    from ._names import is_dns1035_label

    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def path_segment_name(name: str, prefix: bool = False) -> list[str]:
    """path.ValidatePathSegmentName: the name rule of RBAC objects."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


NameFn = Callable[..., list[str]]


# -- metadata, labels, annotations, selectors --------------------------------------------


def validate_labels(labels: Mapping[str, str] | None, field: str) -> list[Cause]:
    from ._names import is_qualified_name, is_valid_label_value

    errs: list[Cause] = []
    for k, v in (labels or {}).items():
        errs += check(k, field, is_qualified_name)
        errs += check(v, field, is_valid_label_value)
    return errs


def validate_annotations(annotations: Mapping[str, str] | None, field: str) -> list[Cause]:
    from ._names import is_qualified_name

    errs: list[Cause] = []
    size = 0
    for k, v in (annotations or {}).items():
        errs += [invalid_value(field, k, m) for m in is_qualified_name(k.lower())]
        size += len(k.encode()) + len(v.encode())
    if size > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(field, TOTAL_ANNOTATION_SIZE))
    return errs


def validate_label_selector(sel: Any, field: str) -> list[Cause]:
    """ValidateLabelSelector for a meta/v1 LabelSelector."""
    from ._names import is_qualified_name, is_valid_label_value

    if sel is None:
        return []
    errs: list[Cause] = []
    for i, req in enumerate(sel.match_expressions or []):
        p = f"{field}.matchExpressions[{i}]"
        values = req.values or []
        if req.operator in ("In", "NotIn"):
            if not values:
                errs.append(required(child(p, "values"),
                                     "must be specified when `operator` is 'In' or 'NotIn'"))
        elif req.operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(child(p, "values"), "may not be specified when "
                                      "`operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid_value(child(p, "operator"), req.operator,
                                      "not a valid selector operator"))
        errs += check(req.key or "", child(p, "key"), is_qualified_name)
        for j, v in enumerate(values):
            errs += check(v, f"{p}.values[{j}]", is_valid_label_value)
    return errs + validate_labels(sel.match_labels, child(field, "matchLabels"))


def _finalizers(finalizers: list[str] | None, field: str) -> list[Cause]:
    from ._names import is_qualified_name

    errs: list[Cause] = []
    for i, f in enumerate(finalizers or []):
        errs += check(f, field, is_qualified_name)
        if "/" not in f and f not in _STANDARD_FINALIZERS:
            errs.append(invalid_value(f"{field}[{i}]", f, "name is neither a standard "
                                      "finalizer name nor is it fully qualified"))
    if {"orphan", "foregroundDeletion"} <= set(finalizers or []):
        errs.append(invalid_value(field, finalizers, "finalizer orphan and foregroundDeletion "
                                  "cannot be both set"))
    return errs


def _owner_references(refs: list[Any] | None, field: str) -> list[Cause]:
    errs: list[Cause] = []
    controller = ""
    for ref in refs or []:
        version = (ref.api_version or "").rpartition("/")[2]
        for attr, value, msg in (("apiVersion", version, "version must not be empty"),
                                 ("kind", ref.kind, "must not be empty"),
                                 ("name", ref.name, "must not be empty"),
                                 ("uid", ref.uid, "must not be empty")):
            if not value:
                shown = ref.api_version if attr == "apiVersion" else value
                errs.append(invalid_value(child(field, attr), shown or "", msg))
        if ref.controller:
            this = f"{ref.kind}/{ref.name}"
            if controller:
                errs.append(invalid_value(field, refs, "Only one reference can have Controller "
                                          f'set to true. Found "true" in references for '
                                          f"{controller} and {this}"))
            else:
                controller = this
    return errs


def validate_object_meta(meta: ObjectMeta | None, namespaced: bool, name_fn: NameFn,
                         field: str = "metadata") -> list[Cause]:
    """ValidateObjectMeta (create)."""
    meta = meta or ObjectMeta()
    errs: list[Cause] = []
    if meta.generate_name:
        errs += [invalid_value(child(field, "generateName"), meta.generate_name, m)
                 for m in name_fn(meta.generate_name, True)]
    if not meta.name:
        errs.append(required(child(field, "name"), "name or generateName is required"))
    else:
        errs += [invalid_value(child(field, "name"), meta.name, m)
                 for m in name_fn(meta.name, False)]
    if namespaced:
        if not meta.namespace:
            errs.append(required(child(field, "namespace")))
        else:
            errs += check(meta.namespace, child(field, "namespace"), dns_label)
    elif meta.namespace:
        errs.append(forbidden(child(field, "namespace"), "not allowed on this type"))
    errs += nonnegative(meta.generation, child(field, "generation"))
    errs += validate_labels(meta.labels, child(field, "labels"))
    errs += validate_annotations(meta.annotations, child(field, "annotations"))
    errs += _owner_references(meta.owner_references, child(field, "ownerReferences"))
    return errs + _finalizers(meta.finalizers, child(field, "finalizers"))


def validate_object_meta_update(new: ObjectMeta | None, old: ObjectMeta | None,
                                field: str = "metadata") -> list[Cause]:
    """ValidateObjectMetaUpdate: identity fields are immutable, generation only grows."""
    new, old = new or ObjectMeta(), old or ObjectMeta()
    errs: list[Cause] = []
    if old.deletion_timestamp is not None:
        extra = sorted(set(new.finalizers or []) - set(old.finalizers or []))
        if extra:
            errs.append(forbidden(child(field, "finalizers"), "no new finalizers can be added "
                                  f"if the object is being deleted, found new finalizers "
                                  f"[]string{{{', '.join(json.dumps(f) for f in extra)}}}"))
    if not new.resource_version:
        errs.append(invalid_value(child(field, "resourceVersion"), "",
                                  "must be specified for an update"))
    if (new.generation or 0) < (old.generation or 0):
        errs.append(invalid_value(child(field, "generation"), new.generation or 0,
                                  "must not be decremented"))
    for attr, name in (("name", "name"), ("namespace", "namespace"), ("uid", "uid"),
                       ("creation_timestamp", "creationTimestamp"),
                       ("deletion_timestamp", "deletionTimestamp"),
                       ("deletion_grace_period_seconds", "deletionGracePeriodSeconds")):
        a, b = getattr(new, attr), getattr(old, attr)
        if (a or None) != (b or None):
            errs.append(invalid_value(child(field, name), a if a is not None else "", IMMUTABLE))
    errs += validate_labels(new.labels, child(field, "labels"))
    errs += validate_annotations(new.annotations, child(field, "annotations"))
    errs += _owner_references(new.owner_references, child(field, "ownerReferences"))
    return errs + _finalizers(new.finalizers, child(field, "finalizers"))


# -- dispatch ---------------------------------------------------------------------------

Validator = Callable[[Any, Any], list[Cause]]
_VALIDATORS: dict[type, Validator] = {}


def register(*types: type) -> Callable[[Validator], Validator]:
    """Register ``fn(obj, old)`` as the validator of the given kinds."""

    def deco(fn: Validator) -> Validator:
        for t in types:
            _VALIDATORS[t] = fn
        return fn

    return deco


def validate(obj: Any, *, old: Any = None) -> list[Cause]:
    """The field errors of a create (``old`` None) or an update of ``obj``."""
    from . import (  # noqa: F401  (importing registers the validators)
        _validation_cluster,
        _validation_other,
        _validation_pdb,
        _validation_pod,
        _validation_policy,
        _validation_workloads,
    )

    fn = _VALIDATORS.get(type(obj))
    if fn is None:
        raise TypeError(f"no validation for {type(obj).__name__}")
    return fn(obj, old)


def status_invalid(kind: str, name: str, causes: list[Cause], group: str | None = None) -> Status:
    """The 422 Status for ``causes`` (``Deployment.apps "x" is invalid: [...]``); the
    group is looked up from the kind when not given."""
    if group is None:
        from ._registry import all_resources

        group = next((ri.group for ri in all_resources() if ri.kind == kind), "")
    return invalid(kind, name, causes, group)
