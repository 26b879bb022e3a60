"""Subresources with their own shapes: ``pods/binding``, ``*/scale`` and
``namespaces/finalize`` (``status`` is the update path with the status strategy, in
``_handlers``).

What it is, as Kubernetes does it:
- binding (``pkg/registry/core/pod/storage`` BindingREST): POST a Binding named after
  the pod; sets ``spec.nodeName`` (with the binding's annotations and a PodScheduled=True
  condition) on a pod not yet bound; a bound pod is 409 (``pod x is already assigned to
  node "n"``), a pod being deleted too. Answers a Success Status, 201;
- scale (deployments, replicasets, statefulsets, replicationcontrollers): an
  ``autoscaling/v1`` Scale view — ``spec.replicas`` from the object's spec,
  ``status.replicas`` and the selector (as a string) from its status and spec; a PUT or
  PATCH of the Scale writes ``spec.replicas`` back (bumping generation), guarded by the
  Scale's resourceVersion when it carries one;
- finalize (namespaces): a PUT that changes only ``spec.finalizers``.

Concurrency model: coroutines in request tasks, over the guaranteed-update loop.
"""

from __future__ import annotations

import copy
from typing import Any

from actors.api import (
    ApiError,
    StatusCause,
    bad_request,
    conflict,
    internal_error,
    invalid,
    method_not_supported,
    selector_from_api,
    selector_from_set,
    to_dict,
)

from ._context import Req, Services
from ._handlers import apply_patch_document, get_stored, guaranteed_update, parse_rv
from ._objects import get_meta, param_bool, param_int, rfc3339, success
from ._patch import json_copy
from ._storage import Stored

__all__ = ["binding", "evict", "finalize", "pod_log", "scale_get", "scale_of", "scale_write"]

SCALABLE = frozenset({"deployments", "replicasets", "statefulsets", "replicationcontrollers"})


# --- binding -----------------------------------------------------------------------------


def _bind(req: Req, body: dict[str, Any], cur: Stored, now: float) -> dict[str, Any]:
    pod = json_copy(cur.obj)
    name = req.name or ""
    meta = pod["metadata"]
    if meta.get("deletionTimestamp"):
        raise ApiError(conflict("pods/binding", name, reason=(
            f"pod {name} is being deleted, cannot be assigned to a host")))
    spec = pod.setdefault("spec", {})
    if spec.get("nodeName"):
        raise ApiError(conflict("pods/binding", name, reason=(
            f'pod {name} is already assigned to node "{spec["nodeName"]}"')))
    spec["nodeName"] = (body.get("target") or {}).get("name")
    annotations = (body.get("metadata") or {}).get("annotations")
    if annotations:
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    status = pod.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": rfc3339(now)})
    status["conditions"] = conditions
    return pod


async def binding(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    body = req.body if isinstance(req.body, dict) else None
    if body is None:
        raise ApiError(bad_request("a Binding body is required"))
    bname = (body.get("metadata") or {}).get("name")
    if bname and bname != req.name:
        raise ApiError(bad_request("name in URL does not match name in Binding object"))
    target = body.get("target") or {}
    causes = []
    if target.get("kind") not in (None, "", "Node"):
        causes.append(StatusCause(type="FieldValueNotSupported", field="target.kind",
                                  message=f'Unsupported value: "{target.get("kind")}": '
                                          'supported values: "Node"'))
    if not target.get("name"):
        causes.append(StatusCause(type="FieldValueRequired", field="target.name",
                                  message="Required value"))
    if causes:
        raise ApiError(invalid("Binding", req.name or "", causes))
    pod_req = Req(verb="update", ri=req.ri, user=req.user, namespace=req.namespace,
                     name=req.name, params=req.params, subresource=None, warnings=req.warnings)
    now = svc.wall_time()
    await guaranteed_update(pod_req, svc, lambda cur: _bind(pod_req, body, cur, now),
                            mode="raw")
    return 201, to_dict(success(201))


# --- scale -------------------------------------------------------------------------------


def _selector_string(ri_resource: str, obj: dict[str, Any]) -> str:
    sel = (obj.get("spec") or {}).get("selector")
    if sel is None:
        return ""
    if ri_resource == "replicationcontrollers":
        return str(selector_from_set(sel))
    return str(selector_from_api(sel))


def scale_of(req: Req, obj: dict[str, Any]) -> dict[str, Any]:
    meta = get_meta(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    smeta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                  "creationTimestamp") if k in meta}
    scale_status: dict[str, Any] = {"replicas": int(status.get("replicas") or 0)}
    selector = _selector_string(req.ri.resource, obj)
    if selector:
        scale_status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": smeta,
            "spec": {"replicas": int(spec.get("replicas", 1))}, "status": scale_status}


def _check_scalable(req: Req) -> None:
    if req.ri.resource not in SCALABLE:
        raise ApiError(method_not_supported(req.ri.resource + "/scale", req.verb, req.ri.group))


async def scale_get(req: Req, svc: Services) -> dict[str, Any]:
    _check_scalable(req)
    return scale_of(req, (await get_stored(req, svc)).obj)


def _replicas(req: Req, scale: Any) -> int:
    if not isinstance(scale, dict):
        raise ApiError(bad_request("a Scale body is required"))
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        cause = StatusCause(type="FieldValueInvalid", field="spec.replicas",
                            message=f"Invalid value: {replicas}: must be greater than or "
                                    "equal to 0")
        raise ApiError(invalid("Scale", req.name or "", [cause], "autoscaling"))
    return replicas


async def scale_write(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    """PUT (a Scale body) or PATCH (a patch of the Scale) of ``<resource>/scale``."""
    _check_scalable(req)
    main = Req(verb="update", ri=req.ri, user=req.user, namespace=req.namespace,
               name=req.name, params=req.params, warnings=req.warnings)
    precondition = 0
    if req.verb == "update":
        precondition = parse_rv(req, req.body if isinstance(req.body, dict) else {})

    def produce(cur: Stored) -> dict[str, Any]:
        scale = req.body
        if req.verb == "patch":
            scale = apply_patch_document(req, req.patch_type or "strategic",
                                         scale_of(req, cur.obj), req.body, "Scale")
        obj = copy.deepcopy(cur.obj)
        obj.setdefault("spec", {})["replicas"] = _replicas(req, scale)
        return obj

    _, obj = await guaranteed_update(main, svc, produce, precondition=precondition)
    return 200, scale_of(req, obj)


# --- namespaces/finalize -----------------------------------------------------------------


async def finalize(req: Req, svc: Services) -> tuple[int, dict[str, Any]]:
    if req.ri.resource != "namespaces":
        raise ApiError(method_not_supported(req.ri.resource + "/finalize", req.verb))
    body = req.body if isinstance(req.body, dict) else {}
    finalizers = (body.get("spec") or {}).get("finalizers") or []

    def produce(cur: Stored) -> dict[str, Any]:
        obj = copy.deepcopy(cur.obj)
        obj.setdefault("spec", {})["finalizers"] = list(finalizers)
        if not finalizers:
            obj["spec"].pop("finalizers")
        return obj

    main = Req(verb="update", ri=req.ri, user=req.user, name=req.name, params=req.params,
               warnings=req.warnings, subresource="finalize")
    return await guaranteed_update(main, svc, produce, precondition=parse_rv(req, body),
                                   mode="finalize")


async def pod_log(req: Req, svc: Services) -> tuple[int, Any]:
    """``GET pods/<name>/log``: the pod's kubelet answers, as kube-apiserver proxies the
    request to ``/containerLogs`` on the node (query: container, previous, timestamps,
    tailLines)."""
    from runtime import ActorDead, AskTimeout, UnknownActor

    from ._protocol import ContainerLogRequest

    pod = (await get_stored(req, svc)).obj
    node = (pod.get("spec") or {}).get("nodeName")
    name = get_meta(pod).get("name")
    if not node:
        raise ApiError(bad_request(f"pod {name} does not have a host assigned"))
    p = req.params
    msg = ContainerLogRequest(pod=pod, container=p.get("container") or None,
                              previous=param_bool(p, "previous"),
                              timestamps=param_bool(p, "timestamps"),
                              tail_lines=param_int(p, "tailLines"))
    actor = svc.storage.client.actor
    try:
        out = await actor.ask(f"kubelet/{node}", msg, timeout=10.0)
    except (ActorDead, AskTimeout, UnknownActor) as e:
        raise ApiError(internal_error(f"Get \"https://{node}:10250/containerLogs/"
                                      f"{req.namespace}/{name}\": {e}")) from None
    if isinstance(out, dict):
        return int(out.get("code") or 400), out
    return 200, out


async def evict(req: Req, svc: Services) -> tuple[int, Any]:
    """``POST pods/<name>/eviction`` (policy/v1 Eviction): a delete that honours
    PodDisruptionBudgets — see ``_eviction``."""
    from . import _eviction

    return await _eviction.evict(req, svc)
