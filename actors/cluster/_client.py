"""The Python API's client: every verb as a synchronous method over ``ApiRequest`` asks.

What it is: ``Client`` speaks to the apiservers only through the wire protocol, with one
bearer token, round-robin over the apiservers with failover: an apiserver that is down
(connection refused) or does not answer in time is skipped for the next one; a write
whose apiserver crashed while holding it is not retried (its outcome is unknown) and
raises a 503. Any failure Status raises ``actors.api.ApiError`` carrying it (``code``,
``reason``, ``message``, ``details``). Resources are named as in URLs (``pods``,
``deployments``) or by kind or short name (``Pod``, ``deploy``); cluster-scoped resources
ignore the namespace.

Concurrency model: synchronous; each call steps the simulation until its reply arrives
(virtual time passes meanwhile), so it must not be called from inside an actor.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from actors.api import ApiError, ResourceInfo, Status, by_kind, from_dict, lookup
from actors.apiserver._objects import failure
from actors.apiserver._protocol import ApiRequest, ApiResponse
from runtime import NEVER_RESTART, ActorDead, AskTimeout, SimulationTimeout, UnknownActor

from ._apply import apply_manifests
from ._watch import WatchCollector, WatchHandle

if TYPE_CHECKING:
    from runtime import Simulation

__all__ = ["Client"]

_READS = ("get", "list", "watch")


def _resolve(resource: str) -> ResourceInfo:
    try:
        return lookup(resource)
    except LookupError as e:
        raise ApiError(failure(404, "NotFound", str(e))) from None


def _kind_of(obj: dict[str, Any]) -> ResourceInfo:
    api_version = str(obj.get("apiVersion") or "v1")
    group = api_version.rpartition("/")[0]
    try:
        return by_kind(group, str(obj.get("kind") or ""))
    except LookupError as e:
        raise ApiError(failure(400, "BadRequest", str(e))) from None


class Client:
    """The verbs, as one user (its bearer token)."""

    def __init__(self, sim: Simulation, apiservers: list[str], token: str, *,
                 timeout: float = 30.0) -> None:
        self._sim = sim
        self._apiservers = list(apiservers)
        self._token = token
        self._rr = itertools.count()
        self.timeout = timeout
        self.warnings: list[str] = []  # warnings of the last request

    # ---- the wire ---------------------------------------------------------------------------
    def _ask(self, req: ApiRequest) -> ApiResponse:
        n = len(self._apiservers)
        last: BaseException | None = None
        for _ in range(2 * n):
            target = self._apiservers[next(self._rr) % n]
            try:
                return self._sim.ask(target, req, timeout=self.timeout)  # type: ignore[no-any-return]
            except UnknownActor as e:
                last = e
            except ActorDead as e:
                if e.why == "crashed" and req.verb not in _READS:
                    raise ApiError(failure(503, "ServiceUnavailable", (
                        f"{target} went down while handling the request; it may or may not "
                        "have been applied"))) from None
                last = e
            except AskTimeout as e:
                if req.verb not in _READS:
                    raise ApiError(failure(504, "Timeout", (
                        f"Timeout: no answer from {target} within {self.timeout:g} s; the "
                        "request may or may not have been applied"))) from None
                last = e
        raise ApiError(failure(503, "ServiceUnavailable",
                               f"no kube-apiserver is available ({last})"))

    def request(self, verb: str, resource: str, *, name: str | None = None,
                namespace: str | None = None, subresource: str | None = None, body: Any = None,
                params: dict[str, Any] | None = None, patch_type: str | None = None) -> Any:
        """One raw request; returns the response body, raises ``ApiError`` on a failure."""
        ri = _resolve(resource)
        req = ApiRequest(verb=verb, resource=ri.resource, group=ri.group, version=ri.version,
                         namespace=namespace if ri.namespaced else None, name=name,
                         subresource=subresource, body=body, patch_type=patch_type,
                         params={k: str(v) for k, v in (params or {}).items() if v is not None},
                         token=self._token, user_agent="kubetwin-python")
        resp = self._ask(req)
        self.warnings = list(resp.warnings)
        if resp.code >= 400:
            raise ApiError(from_dict(resp.body, Status) if isinstance(resp.body, dict)
                           else failure(resp.code, "Unknown", str(resp.body)))
        return resp.body

    # ---- the verbs --------------------------------------------------------------------------
    def get(self, resource: str, name: str, namespace: str | None = "default", *,
            subresource: str | None = None) -> dict[str, Any]:
        return self.request("get", resource, name=name, namespace=namespace,  # type: ignore[no-any-return]
                            subresource=subresource)

    def list(self, resource: str, namespace: str | None = None,
             label_selector: str | None = None, field_selector: str | None = None, *,
             limit: int | None = None, continue_: str | None = None,
             resource_version: str | None = None) -> dict[str, Any]:
        """The List object (``items``, ``metadata.resourceVersion``, ``metadata.continue``)."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector,
                  "limit": limit, "continue": continue_, "resourceVersion": resource_version}
        return self.request("list", resource, namespace=namespace, params=params)  # type: ignore[no-any-return]

    def create(self, obj: dict[str, Any], *, namespace: str | None = None,
               params: dict[str, Any] | None = None) -> dict[str, Any]:
        ri = _kind_of(obj)
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or "default"
        return self.request("create", ri.resource, namespace=ns, body=obj, params=params)  # type: ignore[no-any-return]

    def update(self, obj: dict[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        """PUT: a stale ``metadata.resourceVersion`` raises a 409 Conflict."""
        ri = _kind_of(obj)
        meta = obj.get("metadata") or {}
        return self.request("update", ri.resource, name=meta.get("name"),  # type: ignore[no-any-return]
                            namespace=meta.get("namespace") or "default", body=obj,
                            subresource=subresource)

    def patch(self, resource: str, name: str, patch: Any, namespace: str | None = "default",
              type: str = "merge", *, subresource: str | None = None) -> dict[str, Any]:
        """``type``: ``merge`` (RFC 7386), ``json`` (RFC 6902), ``strategic`` or ``apply``."""
        return self.request("patch", resource, name=name, namespace=namespace, body=patch,  # type: ignore[no-any-return]
                            patch_type=type, subresource=subresource)

    def delete(self, resource: str, name: str, namespace: str | None = "default", *,
               grace_period_seconds: int | None = None,
               propagation_policy: str | None = None) -> dict[str, Any]:
        """The deleted object (or a Success Status), or the object still being deleted."""
        params = {"gracePeriodSeconds": grace_period_seconds,
                  "propagationPolicy": propagation_policy}
        return self.request("delete", resource, name=name, namespace=namespace, params=params)  # type: ignore[no-any-return]

    def apply(self, manifests: str | dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``kubectl apply``: create or update each object of a YAML/JSON multi-document
        manifest (client-side apply: the last-applied-configuration annotation and a
        three-way strategic merge). Returns the objects as stored."""
        return apply_manifests(self, manifests)

    def watch(self, resource: str, namespace: str | None = None,
              resource_version: str | None = None, label_selector: str | None = None, *,
              field_selector: str | None = None, bookmarks: bool = True,
              resume: bool = True) -> WatchHandle:
        """Start a watch; ``drain()`` on the handle gives the events seen so far. With
        ``resume`` the watch re-opens from its last resourceVersion on another apiserver when
        its own goes down (no gap)."""
        ri = _resolve(resource)
        params = {k: v for k, v in (("resourceVersion", resource_version),
                                    ("labelSelector", label_selector),
                                    ("fieldSelector", field_selector),
                                    ("allowWatchBookmarks", "true" if bookmarks else None))
                  if v is not None}
        req = ApiRequest(verb="watch", resource=ri.resource, group=ri.group, version=ri.version,
                         namespace=namespace if ri.namespaced else None, params=params,
                         token=self._token, user_agent="kubetwin-python")
        # Named from the simulation's own count, so the same run gives the same addresses.
        address = f"$watch-{sum(1 for a in self._sim.system.cells if a.startswith('$watch-'))}"
        self._sim.spawn(address, WatchCollector, self._apiservers, req, resume=resume,
                        first=next(self._rr) % len(self._apiservers), policy=NEVER_RESTART)
        handle = WatchHandle(self._sim, address)
        try:
            self._sim.run_until(lambda: handle._collector().opened or handle.ended,
                                timeout=self.timeout)
        except SimulationTimeout:
            handle.stop()  # not open within the client's timeout: leave no collector behind
            raise
        if handle.error is not None and not handle.events:
            raise ApiError(from_dict(handle.error, Status))
        return handle
