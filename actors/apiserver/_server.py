"""``KubeApiServer``: one kube-apiserver instance as an actor.

What it is: the shell around the apiserver's parts. Each ``ApiRequest`` goes:
authentication (bearer token; none or an unknown one is 401) → resource resolution (404
for an unknown resource, 405 for a verb it does not serve) → authorization (the
``system:masters`` group, then RBAC over the Roles, ClusterRoles and bindings in this
apiserver's watch caches; 403) → the verb's handler (decode, default, admission,
validation, storage in etcd). Lists and watches are served from a watch cache per
resource, each fed by one etcd watch (``_caches``); watch events go to the asker as
``WatchEvent`` tells until it sends ``StopWatch`` or goes away.

Start-up: the etcd client, then every watch cache (list + watch), then requests are
served; then the bootstrap objects are written (create-if-absent, so several apiservers
on one etcd agree) and the instance reports ready (``Readyz``). Timers: bookmarks to the
watchers that asked for them, the cluster-wide compactor (every 5 min by default) and the
lease reconciler of the ``kubernetes`` endpoints (every 10 s).

Concurrency model: one actor. Every request runs in its own task (``spawn``) and is
answered through ``defer_reply``, so a slow etcd call holds up only its own request.
Handlers share the actor's services; each write is guarded by an etcd revision, never by
the actor. Watch caches are fed by their pump tasks; state changes happen between awaits
on the loop thread only.

Invariants: every request gets exactly one reply (an ``ApiResponse``; failures carry a
Status); a broken invariant in a handler is answered with a 500 and then crashes the
actor loudly (its watchers see it go down and re-watch elsewhere).
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec

from actors.api import (
    ApiError,
    ResourceInfo,
    UnknownResource,
    internal_error,
    lookup,
    method_not_supported,
    timeout,
    to_dict,
)
from actors.etcd import EtcdClient, EtcdError, UnknownOutcome, WatchResponse
from runtime import Actor, Down, ReplyHandle, handler

from ._admit import ChainAdmission
from ._authn import SYSTEM_MASTERS, TokenAuthenticator, UserInfo
from ._bootstrap import EndpointReconciler, bootstrap
from ._caches import CacheSet
from ._context import Req, Services
from ._objects import failure
from ._protocol import VERBS, ApiRequest, ApiResponse, StopWatch
from ._rbac import Attributes, RBACAuthorizer, forbidden_error
from ._routes import route
from ._storage import Compactor, LeaseManager, Storage

__all__ = ["ApiServerConfig", "KubeApiServer", "Readyz", "ReadyzResponse"]

_RBAC_RESOURCES = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
APISERVER_USER = UserInfo("system:apiserver", groups=(SYSTEM_MASTERS,))


class ApiServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    etcd_endpoints: tuple[str, ...]
    tokens: dict[str, UserInfo] = {}  # --token-auth-file: bearer token -> user
    advertise_address: str = "192.168.49.2"
    secure_port: int = 6443
    service_cluster_ip: str = "10.96.0.1"
    bootstrap: bool = True
    anonymous: bool = False
    admission: bool = True
    compaction_interval: float = 300.0  # --etcd-compaction-interval (0: never)
    bookmark_interval: float = 60.0  # the watch cache's bookmark frequency
    endpoint_reconcile_interval: float = 10.0
    master_lease_ttl: int = 15
    watch_cache_capacity: int = 1000
    request_timeout: float = 60.0  # --request-timeout


class Readyz(msgspec.Struct, frozen=True, tag="apiserver.readyz"):
    """``/readyz``: answered with ``ReadyzResponse``."""


class ReadyzResponse(msgspec.Struct, frozen=True, tag="apiserver.readyz_resp"):
    ready: bool
    checks: dict[str, bool] = {}


class _Bookmarks(msgspec.Struct, frozen=True, tag="apiserver.bookmarks"):
    pass


class _Compact(msgspec.Struct, frozen=True, tag="apiserver.compact"):
    pass


class _Reconcile(msgspec.Struct, frozen=True, tag="apiserver.reconcile"):
    pass


class KubeApiServer(Actor):
    def __init__(self, config: ApiServerConfig) -> None:
        self.config = config

    # ---- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        cfg = self.config
        self.client = EtcdClient(self, list(cfg.etcd_endpoints))
        storage = Storage(self.client)
        self.caches = CacheSet(self, self.client, capacity=cfg.watch_cache_capacity,
                               on_change=self._on_cache_change)
        self.services = Services(
            storage=storage, leases=LeaseManager(self.client), caches=self.caches,
            admission=ChainAdmission(self.caches, storage, self.rng, enabled=cfg.admission),
            rng=self.rng, wall_time=self.wall_time,
            extra={"members": list(cfg.etcd_endpoints), "client": self.client})
        self.authn = TokenAuthenticator(cfg.tokens, anonymous=cfg.anonymous)
        self._rbac: RBACAuthorizer | None = None
        self.compactor = Compactor(self.client)
        self.reconciler = EndpointReconciler(self.client, self.call, cfg.advertise_address,
                                             cfg.secure_port, lease_ttl=cfg.master_lease_ttl)
        self.serving = anyio.Event()
        self.bootstrapped = False
        self.requests = 0
        # Opt-in (benchmarks/reconcile.py): a list to append (verb, resource, subresource,
        # code, received, answered) to per request, in this actor's virtual seconds. None: off.
        self.request_log: list[tuple[str, str, str | None, int, float, float]] | None = None
        self.spawn(self._start(), name=f"{self.name}:start")

    async def _start(self) -> None:
        cfg = self.config
        # The master lease first: a write, so it also waits out an etcd still electing.
        await self._retrying(self.reconciler.renew)
        await self.caches.start_all()
        self.serving.set()
        if cfg.bootstrap:
            await self._retrying(lambda: bootstrap(self.call, cfg.service_cluster_ip,
                                                   cfg.secure_port))
        await self._retrying(self.reconciler.reconcile)
        self.bootstrapped = True
        if cfg.bookmark_interval > 0:
            self.every(cfg.bookmark_interval, _Bookmarks())
        if cfg.compaction_interval > 0:
            self.every(cfg.compaction_interval, _Compact())
        if cfg.endpoint_reconcile_interval > 0:
            self.every(cfg.endpoint_reconcile_interval, _Reconcile())

    async def _retrying(self, step: Any) -> None:
        """Start-up steps wait out an etcd without a leader (as the post-start hooks do)."""
        while True:
            try:
                await step()
                return
            except (EtcdError, UnknownOutcome) as e:
                self.log.info("start-up step failed, retrying", error=str(e))
                await anyio.sleep(1.0)

    def on_stop(self) -> None:
        self.caches.close()

    # ---- requests ---------------------------------------------------------------------------
    @handler
    def _on_request(self, m: ApiRequest) -> None:
        reply = self.defer_reply()
        self.requests += 1
        self.spawn(self._serve(m, reply, self.sender), name=f"{self.name}:{m.verb}")

    async def _serve(self, m: ApiRequest, reply: ReplyHandle, asker: str) -> None:
        log = self.request_log
        received = self.now() if log is not None else 0.0
        try:
            with anyio.fail_after(self.config.request_timeout):
                await self.serving.wait()
                resp = await self._handle(m, asker)
        except ApiError as e:
            resp = ApiResponse(e.code, to_dict(e.status))
        except TimeoutError:
            resp = ApiResponse(504, to_dict(timeout("request did not complete within the "
                                                    "allotted timeout")))
        except UnknownOutcome:
            resp = ApiResponse(504, to_dict(timeout("request did not complete within requested "
                                                    "timeout - context deadline exceeded")))
        except EtcdError as e:
            resp = ApiResponse(500, to_dict(internal_error(str(e))))
        except Exception as e:
            reply.send(ApiResponse(500, to_dict(internal_error(f"{type(e).__name__}: {e}"))))
            raise  # a bug: crash loudly after answering
        reply.send(resp)
        if log is not None:
            log.append((m.verb, m.resource, m.subresource, resp.code, received, self.now()))
        if resp.watch_id:
            self.caches.release(resp.watch_id)

    def _authenticate(self, token: str) -> UserInfo:
        return self.authn.authenticate(f"Bearer {token}" if token else None,
                                       now=self.wall_time())

    def _resolve(self, m: ApiRequest) -> ResourceInfo:
        try:
            ri = lookup(m.resource)
        except UnknownResource:
            raise ApiError(failure(404, "NotFound", "the server could not find the requested "
                                                    "resource")) from None
        if m.group is not None and m.group != ri.group:
            raise ApiError(failure(404, "NotFound", "the server could not find the requested "
                                                    "resource"))
        if m.verb not in VERBS or (not m.subresource and m.verb not in ri.verbs):
            raise ApiError(method_not_supported(ri.resource, m.verb, ri.group))
        if m.subresource and m.subresource not in ri.subresources:
            raise ApiError(failure(404, "NotFound", "the server could not find the requested "
                                                    "resource"))
        return ri

    def _authorize(self, user: UserInfo, req: Req) -> None:
        if SYSTEM_MASTERS in user.groups:
            return
        attrs = Attributes(verb=req.verb, api_group=req.ri.group, api_version=req.ri.version,
                           resource=req.ri.resource, subresource=req.subresource or "",
                           namespace=req.namespace or "", name=req.name or "")
        if self._rbac is None:
            objs = [o for r in _RBAC_RESOURCES for o in self.caches.items(lookup(r), None)]
            self._rbac = RBACAuthorizer(objs)
        decision = self._rbac.authorize(user, attrs)
        if not decision.allowed:
            raise forbidden_error(user, attrs, decision.reason)

    def _self_review(self, user: UserInfo, body: Any) -> dict[str, Any]:
        """``kubectl auth can-i``: the authorizer's decision for the asking user."""
        review = dict(body) if isinstance(body, dict) else {}
        spec = review.get("spec") or {}
        ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        if ra:
            attrs = Attributes(verb=ra.get("verb") or "", api_group=ra.get("group") or "",
                               api_version=ra.get("version") or "", resource=ra.get("resource") or "",
                               subresource=ra.get("subresource") or "",
                               namespace=ra.get("namespace") or "", name=ra.get("name") or "")
        elif nra:
            attrs = Attributes(verb=nra.get("verb") or "", non_resource_url=True, path=nra.get("path") or "")
        else:
            raise ApiError(failure(400, "BadRequest", "exactly one of nonResourceAttributes or "
                                                      "resourceAttributes must be specified"))
        if SYSTEM_MASTERS in user.groups:
            allowed, reason = True, ""
        else:
            if self._rbac is None:
                objs = [o for r in _RBAC_RESOURCES for o in self.caches.items(lookup(r), None)]
                self._rbac = RBACAuthorizer(objs)
            decision = self._rbac.authorize(user, attrs)
            allowed, reason = decision.allowed, decision.reason
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}

    def _on_cache_change(self, ri: ResourceInfo) -> None:
        if ri.resource in _RBAC_RESOURCES:
            self._rbac = None  # rebuilt at the next authorization that needs it

    @staticmethod
    def _check_scope(m: ApiRequest, ri: ResourceInfo) -> None:
        """A request for one object needs its name (and namespace, when namespaced): there
        is no such URL otherwise."""
        one = m.verb in ("get", "update", "patch", "delete") or bool(m.subresource)
        if one and (not m.name or (ri.namespaced and not m.namespace)) \
                and ri.resource != "componentstatuses":
            raise ApiError(failure(404, "NotFound", "the server could not find the requested "
                                                    "resource"))

    async def _handle(self, m: ApiRequest, asker: str) -> ApiResponse:
        user = self._authenticate(m.token)
        ri = self._resolve(m)
        self._check_scope(m, ri)
        namespace = m.namespace if ri.namespaced else None
        req = Req(verb=m.verb, ri=ri, user=user, namespace=namespace or None, name=m.name,
                  subresource=m.subresource, params=dict(m.params), body=m.body,
                  patch_type=m.patch_type)
        self._authorize(user, req)
        if ri.resource == "componentstatuses":  # the installer's deprecation warning
            req.warnings.append("v1 ComponentStatus is deprecated in v1.19+")
        if req.verb == "watch":
            return await self._watch(req, asker)
        if ri.resource == "selfsubjectaccessreviews":
            return ApiResponse(201, self._self_review(user, m.body))
        code, body = await route(req, self.services)
        return ApiResponse(code, body, tuple(req.warnings))

    async def call(self, verb: str, resource: str, *, namespace: str | None = None,
                   name: str | None = None, body: Any = None, subresource: str | None = None,
                   params: dict[str, str] | None = None) -> tuple[int, Any]:
        """A request from the apiserver itself (its loopback client): no authentication,
        the ``system:apiserver`` user, the whole pipeline otherwise."""
        await self.serving.wait()
        ri = lookup(resource)
        req = Req(verb=verb, ri=ri, user=APISERVER_USER,
                  namespace=namespace if ri.namespaced else None, name=name,
                  subresource=subresource, params=params or {}, body=body)
        return await route(req, self.services)

    # ---- watches ----------------------------------------------------------------------------
    async def _watch(self, req: Req, asker: str) -> ApiResponse:
        watch_id = await self.caches.watch(req, asker)
        self.monitor(asker)
        return ApiResponse(200, None, tuple(req.warnings), watch_id=watch_id)

    @handler
    def _on_stop_watch(self, m: StopWatch) -> None:
        self.caches.stop_watch(self.sender, m.watch_id)

    @handler
    def _on_etcd(self, m: WatchResponse | Down) -> None:
        if self.client.dispatch(m):
            return
        if isinstance(m, Down):
            self.caches.drop_asker(m.address)  # a watcher went away

    # ---- timers and readiness -----------------------------------------------------------------
    @handler
    def _on_bookmarks(self, m: _Bookmarks) -> None:
        self.caches.send_bookmarks()

    @handler
    def _on_compact(self, m: _Compact) -> None:
        self.spawn(self._compact(), name=f"{self.name}:compact")

    async def _compact(self) -> None:
        try:
            await self.compactor.cycle()
        except (EtcdError, UnknownOutcome) as e:
            self.log.info("compaction failed", error=str(e))

    @handler
    def _on_reconcile(self, m: _Reconcile) -> None:
        self.spawn(self._reconcile(), name=f"{self.name}:reconcile")

    async def _reconcile(self) -> None:
        try:
            await self.reconciler.reconcile()
        except (EtcdError, UnknownOutcome, ApiError) as e:
            self.log.info("endpoint reconcile failed", error=str(e))

    @handler
    def _on_readyz(self, m: Readyz) -> ReadyzResponse:
        checks = {"etcd-watch-caches": self.serving.is_set(), "bootstrap": self.bootstrapped}
        return ReadyzResponse(all(checks.values()), checks)
