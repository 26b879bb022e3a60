"""TEST-ONLY kube-apiserver double: an in-memory actor answering ApiRequest asks.

It is not the apiserver (that is actors/apiserver/): no validation, no admission, no
defaulting beyond what kubectl's output needs (metadata.uid/resourceVersion/
creationTimestamp), merge patches only. It exists so the HTTP front end can be driven
by the real kubectl before the real apiserver actor exists.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from actors.api import already_exists, lookup, not_found, unauthorized
from actors.apiserver._protocol import ApiRequest, ApiResponse, StopWatch, WatchEvent
from runtime import Actor, handler


def _merge(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return patch
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(base.get(k), v)
    return out


class ApiserverDouble(Actor):
    """Objects by (resource, namespace, name); watches by id."""

    def __init__(self, token: str, seed: list[dict[str, Any]] | None = None) -> None:
        self.token = token
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.rv = 100
        self.watches: dict[int, tuple[str, str, str | None]] = {}
        self.next_watch = 1
        self.requests: list[ApiRequest] = []
        self._seed = copy.deepcopy(seed or [])

    def on_start(self) -> None:
        for obj in self._seed:
            self._store(lookup(obj["kind"]).resource, obj)

    def _now(self) -> str:
        return datetime.datetime.fromtimestamp(self.wall_time(), datetime.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    def _store(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        meta = obj.setdefault("metadata", {})
        meta["uid"] = meta.get("uid") or f"uid-{self.rv}"
        meta["creationTimestamp"] = meta.get("creationTimestamp") or self._now()
        meta["resourceVersion"] = str(self.rv)
        key = (resource, meta.get("namespace", ""), meta["name"])
        event = "MODIFIED" if key in self.objects else "ADDED"
        self.objects[key] = obj
        self._notify(resource, meta.get("namespace", ""), event, obj)
        return obj

    def _notify(self, resource: str, namespace: str, type_: str, obj: dict[str, Any]) -> None:
        for wid, (watcher, res, ns) in list(self.watches.items()):
            if res == resource and ns in (None, namespace):
                self.tell(watcher, WatchEvent(wid, type_, copy.deepcopy(obj)))

    @handler
    def on_stop_watch(self, msg: StopWatch) -> None:
        self.watches.pop(msg.watch_id, None)

    @handler
    def on_request(self, req: ApiRequest) -> ApiResponse:
        self.requests.append(req)
        if req.token != self.token:
            return ApiResponse(401, unauthorized())
        ri = lookup(req.resource)
        ns = req.namespace or ""
        if req.subresource == "token" and req.verb == "create":
            body = copy.deepcopy(req.body or {})
            body["status"] = {"token": "issued-token", "expirationTimestamp": self._now()}
            return ApiResponse(201, body)
        key = (req.resource, ns, req.name or "")
        if req.verb == "get":
            obj = self.objects.get(key)
            if obj is None:
                return ApiResponse(404, not_found(req.resource, req.name or "", ri.group))
            return ApiResponse(200, obj)
        if req.verb == "list":
            items = [o for (r, n, _), o in sorted(self.objects.items())
                     if r == req.resource and (req.namespace is None or n == ns)]
            return ApiResponse(200, {"kind": ri.list_kind, "apiVersion": ri.api_version,
                                     "metadata": {"resourceVersion": str(self.rv)},
                                     "items": items})
        if req.verb == "watch":
            wid = self.next_watch
            self.next_watch += 1
            self.watches[wid] = (self.sender, req.resource, req.namespace)
            return ApiResponse(200, watch_id=wid)
        if req.verb == "create":
            body = dict(req.body)
            body.setdefault("metadata", {})
            if ri.namespaced:
                body["metadata"]["namespace"] = ns
            name = body["metadata"].get("name", "")
            if (req.resource, ns, name) in self.objects:
                return ApiResponse(409, already_exists(req.resource, name, ri.group))
            if req.params.get("dryRun") == "All":
                return ApiResponse(201, body)
            return ApiResponse(201, self._store(req.resource, body))
        if req.verb == "delete":
            obj = self.objects.pop(key, None)
            if obj is None:
                return ApiResponse(404, not_found(req.resource, req.name or "", ri.group))
            self._notify(req.resource, ns, "DELETED", obj)
            return ApiResponse(200, obj)
        if req.verb in ("patch", "update"):
            obj = self.objects.get(key)
            if obj is None:
                return ApiResponse(404, not_found(req.resource, req.name or "", ri.group))
            if req.subresource == "scale":
                replicas = (req.body or {}).get("spec", {}).get("replicas")
                new = _merge(obj, {"spec": {"replicas": replicas}})
                stored = self._store(req.resource, new)
                return ApiResponse(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                         "metadata": stored["metadata"],
                                         "spec": {"replicas": replicas},
                                         "status": {"replicas": 0}})
            new = _merge(obj, req.body) if req.verb == "patch" else dict(req.body)
            return ApiResponse(200, self._store(req.resource, new))
        return ApiResponse(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "code": 405, "reason": "MethodNotAllowed"})
