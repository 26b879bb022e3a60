"""The steps every write goes through between authorization and storage.

What it is, in Kubernetes' order (``endpoints/handlers/create.go``, ``update.go`` and the
generic store):

1. decode: the body must be an object of the resource's kind and group/version
   (400 otherwise); unknown fields are reported per ``fieldValidation`` (``Warn`` by
   default: one warning each; ``Strict``: 400; ``Ignore``); the typed decoder drops them;
2. default: ``actors.api.default``;
3. admission: the chain's mutating steps, then its validating steps
   (NamespaceLifecycle, ServiceAccount, DefaultTolerationSeconds, LimitRanger,
   ResourceQuota, ...), which may reject with their Status;
4. validation: ``actors.api.validate`` (422 Invalid with one cause per field error;
   nothing is stored);
5. the ResourceQuota charges admission computed are written, then the object.

(Kubernetes runs the strategy's validation between the mutating and the validating
plugins. The chain here runs both plugin phases in one call, so validation comes after
it, as the issue orders them; nothing is written for an invalid object either way, since
quota charges are written only after validation passes.)

Concurrency model: functions over one request's data; the admission chain may await
(quota and namespace lookups read the apiserver's caches).
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.api import (
    ApiError,
    ResourceInfo,
    bad_request,
    default,
    from_dict,
    status_invalid,
    strict_decoding_error,
    to_dict,
    unknown_fields,
    validate,
)

from ._context import Req
from ._storage import encode_value

__all__ = ["Admission", "NoAdmission", "decode_body", "same_object", "typed", "validate_object"]


class Admission(Protocol):
    """The admission chain as the handlers see it. ``operation`` is CREATE, UPDATE,
    DELETE or CONNECT; ``obj`` and ``old`` are dicts (None where they do not apply).
    ``run`` mutates then validates (raising ``ApiError`` on a rejection) and returns the
    object to store with the ResourceQuotas to charge; ``charge`` writes those."""

    async def run(self, req: Req, operation: str, obj: dict[str, Any] | None,
                  old: dict[str, Any] | None,
                  ) -> tuple[dict[str, Any] | None, tuple[dict[str, Any], ...]]: ...

    async def charge(self, quotas: tuple[dict[str, Any], ...]) -> None: ...


class NoAdmission:
    """An empty chain (``--disable-admission-plugins`` of everything)."""

    async def run(self, req: Req, operation: str, obj: dict[str, Any] | None,
                  old: dict[str, Any] | None,
                  ) -> tuple[dict[str, Any] | None, tuple[dict[str, Any], ...]]:
        return obj, ()

    async def charge(self, quotas: tuple[dict[str, Any], ...]) -> None:
        return None


def _check_type(ri: ResourceInfo, body: dict[str, Any]) -> None:
    api_version = body.get("apiVersion")
    if api_version and api_version != ri.api_version:
        raise ApiError(bad_request(f"the API version in the data ({api_version}) does not "
                                   f"match the expected API version ({ri.api_version})"))
    kind = body.get("kind")
    if kind and kind != ri.kind:
        raise ApiError(bad_request(f"the kind in the data ({kind}) does not match the "
                                   f"expected kind ({ri.kind})"))


def decode_body(req: Req, body: Any, *, kind_of: ResourceInfo | None = None) -> dict[str, Any]:
    """Steps 1 and 2: the request body as a defaulted object dict."""
    ri = kind_of or req.ri
    if ri.type is None:
        raise ApiError(bad_request(f"{ri.resource} cannot be written"))
    if not isinstance(body, dict):
        raise ApiError(bad_request(f'{ri.kind} in version "{ri.version}" cannot be handled '
                                   f"as a {ri.kind}: the body is not a JSON object"))
    _check_type(ri, body)
    body = {**body, "kind": ri.kind, "apiVersion": ri.api_version}
    mode = req.params.get("fieldValidation", "Warn")
    if mode not in ("Ignore", "Warn", "Strict"):
        raise ApiError(bad_request(f"fieldValidation parameter unsupported: {mode}"))
    if mode != "Ignore":
        paths = unknown_fields(body, ri.type)
        if paths and mode == "Strict":
            raise ApiError(strict_decoding_error(ri.type, paths))
        req.warnings.extend(f'unknown field "{p}"' for p in paths)
    return to_dict(default(from_dict(body, ri.type)))


def typed(ri: ResourceInfo, obj: dict[str, Any]) -> Any:
    assert ri.type is not None
    return from_dict(obj, ri.type)


def validate_object(ri: ResourceInfo, obj: dict[str, Any],
                    old: dict[str, Any] | None = None) -> Any:
    """Step 4: 422 Invalid (with causes) unless the object validates. Returns it typed."""
    t = typed(ri, obj)
    causes = validate(t, old=None if old is None else typed(ri, old))
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise ApiError(status_invalid(ri.kind, name, causes, ri.group))
    return t


def same_object(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two objects would store the same bytes (resourceVersion aside): an update
    that changes nothing is not written, as etcd3's GuaranteedUpdate skips it."""
    return encode_value(a) == encode_value(b)

