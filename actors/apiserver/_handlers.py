"""The generic registry store's write and read verbs: get, create, update, patch
(``k8s.io/apiserver/pkg/registry/generic/registry/store.go`` and
``endpoints/handlers``), over etcd through ``_storage``.

What it is:
- ``dryRun=All`` runs every step but the writes and answers what would have been stored;
- ``get``: a quorum read from etcd (resourceVersion unset or "not older than"); from the
  watch cache for ``resourceVersion=0`` ("any");
- ``create``: decode, default, system fields, strategy, admission, validation, then
  ``Txn(create_revision == 0)``; ``generateName`` draws a 5-character suffix and retries a
  clash up to 8 times (RetryGenerateName); an existing key is 409 AlreadyExists;
- ``update`` (PUT): the guaranteed-update loop — read, check the precondition, build the
  new object, write with ``Txn(mod_revision == read revision)``; a stale
  ``metadata.resourceVersion`` is 409 Conflict, an absent one makes the update
  unconditional (retried on races); a missing object is 404 unless the kind allows
  create-on-update; a no-op update writes nothing (the resourceVersion stays); removing the
  last finalizer of an object being deleted (grace period 0) deletes it;
- ``patch``: merge (RFC 7386), json (RFC 6902), strategic, and ``apply``. The patch is
  applied to the current object and the result goes through the update path; without a
  resourceVersion in the patch, a lost race is retried against the new state.
  Server-side apply is kept simple here, on purpose: ``apply`` creates the object from
  the body when it is absent, else applies the body as a strategic merge patch; there is
  no field ownership (managedFields), so no apply conflicts and ``force`` is ignored.

Concurrency model: coroutines in request tasks; each request reads what it needs from
etcd and writes with a revision guard, so concurrent requests on one object serialize in
etcd, never in the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from actors.api import (
    ApiError,
    Status,
    already_exists,
    bad_request,
    conflict,
    generate_job_selector,
    generate_name,
    internal_error,
    invalid,
    not_found,
    to_dict,
)
from actors.api._validation import invalid_value

from ._context import Req, Services
from ._ipalloc import allocate_service, release_service
from ._objects import failure, get_meta, new_uid, rfc3339, with_meta
from ._patch import PatchError, json_merge_patch, json_patch
from ._pipeline import decode_body, same_object, typed, validate_object
from ._quota_init import initial_quota_status
from ._storage import KeyExists, RevisionMismatch, Stored
from ._strategic import StrategicMergePatchError, strategic_merge_patch
from ._strategy import (
    ALLOW_CREATE_ON_UPDATE,
    TTL_SECONDS,
    prepare_for_create,
    prepare_for_status_update,
    prepare_for_update,
)

__all__ = ["create", "get", "get_stored", "guaranteed_update", "patch", "update",
           "write_lease"]

_MAX_GENERATE_ATTEMPTS = 8


def _not_found(req: Req, name: str | None = None) -> ApiError:
    return ApiError(not_found(req.ri.resource, name or req.name or "", req.ri.group))


def _conflict(req: Req, name: str | None = None) -> ApiError:
    return ApiError(conflict(req.ri.resource, name or req.name or "", req.ri.group))


def parse_rv(req: Req, obj: dict[str, Any]) -> int:
    raw = get_meta(obj).get("resourceVersion")
    if not raw:
        return 0
    try:
        rv = int(raw)
    except ValueError:
        raise ApiError(bad_request(f'invalid resource version "{raw}"')) from None
    if rv <= 0:
        raise ApiError(bad_request(f'invalid resource version "{raw}"'))
    return rv


# --- get ---------------------------------------------------------------------------------


async def get_stored(req: Req, svc: Services) -> Stored:
    stored = await svc.storage.get(req.key())
    if stored is None:
        raise _not_found(req)
    return stored


async def get(req: Req, svc: Services) -> dict[str, Any]:
    if req.params.get("resourceVersion") == "0" and svc.caches.ready(req.ri):
        obj = svc.caches.get(req.ri, req.namespace, req.name or "")
        if obj is None:
            raise _not_found(req)
        return obj
    return (await get_stored(req, svc)).obj


# --- create ------------------------------------------------------------------------------


def settle_scope(req: Req, obj: dict[str, Any]) -> dict[str, Any]:
    """The namespace of the body against the request's (``EnsureObjectNamespaceMatchesRequestNamespace``)."""
    meta = get_meta(obj)
    body_ns = meta.get("namespace") or ""
    if not req.ri.namespaced:
        return with_meta(obj, namespace=None) if body_ns else obj
    req_ns = req.namespace or ""
    if body_ns and req_ns and body_ns != req_ns:
        raise ApiError(bad_request("the namespace of the provided object does not match the "
                                   "namespace sent on the request"))
    ns = body_ns or req_ns
    if not ns:
        raise ApiError(bad_request("the namespace of the provided object is empty"))
    req.namespace = ns
    return with_meta(obj, namespace=ns) if ns != body_ns else obj


async def write_lease(req: Req, svc: Services) -> int:
    ttl = TTL_SECONDS.get(req.ri.resource)
    if not ttl:
        return 0
    return await svc.leases.lease_for(ttl, svc.wall_time())


async def create(req: Req, svc: Services, body: Any = None) -> dict[str, Any]:
    obj = settle_scope(req, decode_body(req, req.body if body is None else body))
    meta = get_meta(obj)
    if meta.get("resourceVersion"):
        raise ApiError(internal_error("resourceVersion should not be set on objects to be "
                                      "created"))
    base = meta.get("generateName")
    generate = bool(base) and not meta.get("name")
    for attempt in range(_MAX_GENERATE_ATTEMPTS if generate else 1):
        cand = with_meta(obj, name=generate_name(base, svc.rng)) if generate else obj
        try:
            return await _create_once(req, svc, cand)
        except ApiError as e:
            if not (generate and e.reason == "AlreadyExists"
                    and attempt < _MAX_GENERATE_ATTEMPTS - 1):
                raise
    raise AssertionError("unreachable")


async def _create_once(req: Req, svc: Services, obj: dict[str, Any]) -> dict[str, Any]:
    ri = req.ri
    now = svc.wall_time()
    # Admission first, then the strategy, as the create handler then the store do: a Pod's
    # QoS class is computed after LimitRanger has defaulted its resources.
    admitted, quotas = await svc.admission.run(req, "CREATE", obj, None)
    obj = prepare_for_create(ri, admitted or obj, uid=new_uid(svc.rng), created=rfc3339(now))
    if ri.resource == "jobs":
        obj = to_dict(generate_job_selector(typed(ri, obj)))
    validate_object(ri, obj)
    if ri.resource == "resourcequotas":
        ns = get_meta(obj).get("namespace")
        counted = [k[len("count/"):].split(".", 1)[0] for k in (obj.get("spec") or {}).get("hard") or {}
                   if k.startswith("count/")]  # uncached ones (count/events) are read from etcd
        obj = initial_quota_status(obj, await svc.caches.lister(ns, counted))
    if req.dry_run:
        return obj
    await svc.admission.charge(quotas)
    name = get_meta(obj)["name"]
    key = req.key(name)
    lease = await write_lease(req, svc)
    allocated = False
    if ri.resource == "services" and await svc.storage.get(key) is None:
        obj = await allocate_service(svc.storage, svc.rng, obj)
        allocated = True
    try:
        stored = await svc.storage.create(key, obj, lease=lease)
    except KeyExists:
        if allocated:
            await release_service(svc.storage, obj)
        err = already_exists(ri.resource, name, ri.group)
        existing = await svc.storage.get(key)
        if existing is not None and get_meta(existing.obj).get("deletionTimestamp"):
            err = replace(err, message=f"object is being deleted: {err.message}")
        raise ApiError(err) from None
    return stored.obj


# --- update ------------------------------------------------------------------------------


def should_delete_during_update(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """``ShouldDeleteDuringUpdate``: no finalizers left on an object whose deletion was
    requested and whose grace period is over (0 or unset). A namespace also needs its
    ``spec.finalizers`` empty (``ShouldDeleteNamespaceDuringUpdate``): the finalize call
    that removes the last one deletes it."""
    if get_meta(new).get("finalizers"):
        return False
    if new.get("kind") == "Namespace" and (new.get("spec") or {}).get("finalizers"):
        return False
    old_meta = get_meta(old)
    if not old_meta.get("deletionTimestamp"):
        return False
    return not old_meta.get("deletionGracePeriodSeconds")


async def _write(req: Req, svc: Services, obj: dict[str, Any], cur: Stored,
                 mode: str) -> dict[str, Any]:
    """``mode``: ``main`` (the update strategy), ``status`` (only status changes),
    ``finalize`` (namespaces: only spec.finalizers) or ``raw`` (a registry-internal
    write such as a binding: no strategy, admission or validation)."""
    ri = req.ri
    if mode != "raw":
        admitted, quotas = await svc.admission.run(req, "UPDATE", obj, cur.obj)
        obj = admitted or obj
        if mode == "status":
            obj = prepare_for_status_update(obj, cur.obj, ri.resource)
        else:
            obj = prepare_for_update(ri, obj, cur.obj, finalize=mode == "finalize")
        validate_object(ri, obj, cur.obj)
        if req.dry_run:
            return obj
        await svc.admission.charge(quotas)
    key = req.key(get_meta(cur.obj).get("name"))
    if should_delete_during_update(obj, cur.obj):
        await svc.storage.delete(key, cur.rv)
        if ri.resource == "services":
            await release_service(svc.storage, cur.obj)
        return obj  # clients expect the object a PUT succeeded with
    if same_object(obj, cur.obj):
        return cur.obj
    lease = await write_lease(req, svc)
    return (await svc.storage.update(key, obj, cur.rv, lease=lease)).obj


Produce = Callable[[Stored], dict[str, Any]]


async def guaranteed_update(req: Req, svc: Services, produce: Produce, *, precondition: int = 0,
                            mode: str = "main", create_body: Callable[[], Any] | None = None,
                            ) -> tuple[int, dict[str, Any]]:
    """Read, build with ``produce(current)``, write guarded by the read revision; retry a
    lost race unless a ``precondition`` revision was given (then 409 Conflict). Returns
    (201, created) when ``create_body`` is given and the object is absent."""
    key = req.key()
    cur = await svc.storage.get(key)
    while True:
        if cur is None:
            if create_body is not None:
                return 201, await create(req, svc, create_body())
            raise _not_found(req)
        if precondition and precondition != cur.rv:
            raise _conflict(req)
        new = produce(cur)
        try:
            return 200, await _write(req, svc, new, cur, mode)
        except RevisionMismatch as e:
            if precondition:
                raise _conflict(req) from None
            cur = e.current


def _check_name(req: Req, obj: dict[str, Any]) -> dict[str, Any]:
    name = get_meta(obj).get("name")
    if not name:
        return with_meta(obj, name=req.name)
    if name != req.name:
        raise ApiError(bad_request(f"the name of the object ({name}) does not match the name "
                                   f"on the URL ({req.name})"))
    return obj


def _require_rv(req: Req) -> None:
    cause = invalid_value("metadata.resourceVersion", 0, "must be specified for an update")
    raise ApiError(invalid(req.ri.resource, req.name or "", [cause], req.ri.group))


async def update(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    """PUT of the main resource or of its ``status``."""
    new = _check_name(req, settle_scope(req, decode_body(req, req.body)))
    rv = parse_rv(req, new)
    status = req.subresource == "status"
    allow_create = req.ri.resource in ALLOW_CREATE_ON_UPDATE and not status
    return await guaranteed_update(
        req, svc, lambda cur: with_meta(new, resourceVersion=str(cur.rv)), precondition=rv,
        mode="status" if status else "main", create_body=(lambda: with_meta(new, resourceVersion=None))
        if allow_create else None)


# --- patch -------------------------------------------------------------------------------


def apply_patch_document(req: Req, patch_type: str, current: dict[str, Any], doc: Any,
                         kind: str) -> dict[str, Any]:
    try:
        if patch_type == "merge":
            out = json_merge_patch(current, doc)
        elif patch_type == "json":
            if not isinstance(doc, list):
                raise PatchError("json: cannot unmarshal object into Go value of type "
                                 "jsonpatch.Patch", 400)
            out = json_patch(current, doc)
        elif patch_type in ("strategic", "apply"):
            out = strategic_merge_patch(current, doc, kind)
        else:
            raise ApiError(_unsupported_patch(patch_type))
    except PatchError as e:
        raise ApiError(e.status()) from None
    except StrategicMergePatchError as e:
        raise ApiError(e.status()) from None
    if not isinstance(out, dict):
        raise ApiError(bad_request("the patched document is not an object"))
    return out


def _unsupported_patch(patch_type: str) -> Status:
    return failure(415, "UnsupportedMediaType",
                   f'the body of the request was in an unknown format - accepted media '
                   f'types include: application/json-patch+json, application/merge-patch+json,'
                   f' application/apply-patch+yaml (got "{patch_type}")')



async def patch(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    """PATCH of the main resource or of its ``status``."""
    ptype = req.patch_type or "strategic"
    doc = req.body
    status = req.subresource == "status"
    explicit = _patch_rv(ptype, doc)

    def produce(cur: Stored) -> dict[str, Any]:
        patched = apply_patch_document(req, ptype, cur.obj, doc, req.ri.kind)
        new = _check_name(req, settle_scope(req, decode_body(req, patched)))
        return with_meta(new, resourceVersion=str(cur.rv))

    create_body = None
    if ptype == "apply" and not status:
        if not isinstance(doc, dict):
            raise ApiError(bad_request("apply patches must be objects"))
        create_body = lambda: _check_name(req, doc)  # noqa: E731
    return await guaranteed_update(req, svc, produce, precondition=explicit,
                                   mode="status" if status else "main",
                                   create_body=create_body)


def _patch_rv(patch_type: str, doc: Any) -> int:
    """A resourceVersion the patch itself sets: then it is a precondition (no retry)."""
    raw: Any = None
    if isinstance(doc, dict):
        raw = (doc.get("metadata") or {}).get("resourceVersion")
    elif isinstance(doc, list):
        for op in doc:
            if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" and \
                    op.get("op") in ("add", "replace"):
                raw = op.get("value")
    if patch_type == "apply":
        return 0
    try:
        return int(raw) if raw else 0
    except (TypeError, ValueError):
        raise ApiError(bad_request(f'invalid resource version "{raw}"')) from None
