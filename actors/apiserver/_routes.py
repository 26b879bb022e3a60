"""Which handler serves a (verb, resource, subresource): the apiserver's REST mapping.

What it is: the table ``endpoints/installer.go`` builds from each resource's storage —
the main resource's verbs, ``status`` (get, update, patch), ``scale`` (get, update,
patch), ``pods/binding`` (create; also the legacy ``bindings`` resource),
``namespaces/finalize`` (update), and the virtual ``componentstatuses`` (get, list).
Watches are not here: they need the asker's address (``_server``).

Concurrency model: none beyond the handlers'; ``route`` awaits one handler.
"""

from __future__ import annotations

from typing import Any

from actors.api import ApiError, lookup, method_not_supported

from . import _deletion, _handlers, _subresources
from ._componentstatus import component_status, component_statuses
from ._context import Req, Services

__all__ = ["route"]


async def _componentstatuses(req: Req, svc: Services) -> tuple[int, Any]:
    client, members = svc.extra["client"], svc.extra["members"]
    now = svc.wall_time()
    if req.verb == "get":
        return 200, await component_status(req.name or "", svc.storage, client, members, now)
    items = await component_statuses(svc.storage, client, members, now)
    return 200, {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {},
                 "items": items}


async def _main(req: Req, svc: Services) -> tuple[int, Any]:
    verb = req.verb
    if verb == "get":
        return 200, await _handlers.get(req, svc)
    if verb == "list":
        return 200, await svc.caches.list(req, svc)
    if verb == "create":
        if req.ri.resource == "bindings":  # the legacy POST /namespaces/<ns>/bindings
            name = ((req.body or {}).get("metadata") or {}).get("name")
            pod = Req(verb="create", ri=lookup("pods"), user=req.user, namespace=req.namespace,
                      name=name, subresource="binding", params=req.params, body=req.body,
                      warnings=req.warnings)
            return await _subresources.binding(pod, svc)
        return 201, await _handlers.create(req, svc)
    if verb == "update":
        return await _handlers.update(req, svc)
    if verb == "patch":
        return await _handlers.patch(req, svc)
    if verb == "delete":
        return await _deletion.delete(req, svc)
    if verb == "deletecollection":
        return 200, await svc.caches.delete_collection(req, svc)
    raise ApiError(method_not_supported(req.ri.resource, verb, req.ri.group))


async def _subresource(req: Req, svc: Services) -> tuple[int, Any]:
    sub, verb = req.subresource, req.verb
    if sub == "status" and verb in ("get", "update", "patch"):
        if verb == "get":
            return 200, await _handlers.get(req, svc)
        return await (_handlers.update if verb == "update" else _handlers.patch)(req, svc)
    if sub == "scale" and verb in ("get", "update", "patch"):
        if verb == "get":
            return 200, await _subresources.scale_get(req, svc)
        return await _subresources.scale_write(req, svc)
    if sub == "binding" and verb == "create":
        return await _subresources.binding(req, svc)
    if sub == "finalize" and verb == "update":
        return await _subresources.finalize(req, svc)
    if sub == "log" and verb == "get" and req.ri.resource == "pods":
        return await _subresources.pod_log(req, svc)
    if sub == "eviction" and verb == "create" and req.ri.resource == "pods":
        return await _subresources.evict(req, svc)
    raise ApiError(method_not_supported(f"{req.ri.resource}/{sub}", verb, req.ri.group))


async def route(req: Req, svc: Services) -> tuple[int, Any]:
    if req.ri.resource == "componentstatuses":
        if req.verb not in ("get", "list") or req.subresource:
            raise ApiError(method_not_supported("componentstatuses", req.verb))
        return await _componentstatuses(req, svc)
    if req.subresource:
        return await _subresource(req, svc)
    return await _main(req, svc)
