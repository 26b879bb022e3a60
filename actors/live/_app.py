"""The Kubernetes REST front end: an ASGI app over the actor bus, and ``serve``.

What it is: a Starlette app that turns each kube-apiserver REST request into an
``ApiRequest`` (the verb from the method and the URL, the resource, namespace, name and
subresource from the path, the query parameters under their Kubernetes names, the body
decoded from JSON, YAML or Kubernetes protobuf, the bearer token), asks one of the
kube-apiserver actors over the bus, and renders the ``ApiResponse``: JSON, a
``meta.k8s.io/v1`` Table when kubectl asks for one, or a watch stream. Discovery and
OpenAPI are answered here, from the registry and our types; they need a valid token, as
the apiserver requires authentication for them (``/version`` and the health endpoints
are open to anonymous clients, as through system:public-info-viewer).

Why Starlette on uvicorn: uvicorn is the most used ASGI server, speaks TLS itself and runs
on the asyncio loop the actor system already owns (live mode), so handlers ask actors
directly without threads; Starlette gives routing, requests and responses, and stays out
of the way of the one hand-written response (the watch stream, see ``_watch``).

Concurrency model: everything runs on the actor system's asyncio loop; each request is
an asyncio task awaiting an ask. The front end holds no cluster state.

Invariants: an error is always a ``Status`` with the HTTP code it carries, so kubectl
prints ``Error from server (NotFound): …``; resource requests are authenticated by the
apiserver (the token travels in the request), never here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import msgspec
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from actors.api import (
    ApiError,
    ListMeta,
    Status,
    UnknownResource,
    bad_request,
    lookup,
    method_not_supported,
    timeout,
    unauthorized,
)
from actors.apiserver._protocol import ApiRequest, ApiResponse, WatchEvent
from runtime import ActorDead, ActorSystem, AskTimeout, UnknownActor

from . import _discovery, _openapi, _openapi_v2_pb
from ._certs import ensure_credentials, read_tokens, write_kubeconfig
from ._protobuf import MAGIC, ProtobufError, decode_object
from ._tables import table_for
from ._watch import WatchRegistry, WatchResponse

__all__ = ["HTTP_SENDER", "create_app", "decode_body", "parse_request", "serve", "wanted_as"]

HTTP_SENDER = "$http"
JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_PATCH_TYPES = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
                "application/strategic-merge-patch+json": "strategic",
                "application/apply-patch+yaml": "apply"}
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_DROPPED_PARAMS = ("watch", "timeout", "includeObject")
_OPEN_PATHS = ("/version", "/version/", "/healthz", "/livez", "/readyz")


def _status(code: int, reason: str, message: str) -> Status:
    return Status(metadata=ListMeta(), status="Failure", message=message, reason=reason,
                  code=code)


def _not_found() -> ApiError:
    return ApiError(_status(404, "NotFound", "the server could not find the requested resource"))


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


# -- URL -> ApiRequest ---------------------------------------------------------------------

def _split(path: str) -> tuple[str, str, list[str]]:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        return "", parts[1], parts[2:]
    if len(parts) >= 3 and parts[0] == "apis":
        return parts[1], parts[2], parts[3:]
    raise _not_found()


def _scope(rest: list[str]) -> tuple[str | None, list[str]]:
    """Kubernetes' RequestInfoFactory: ``namespaces/<ns>/<resource>…`` is namespaced, but
    ``namespaces/<name>`` and ``namespaces/<name>/status|finalize`` are the namespace."""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        return rest[1], rest[2:]
    return None, rest


def parse_request(method: str, path: str, query: list[tuple[str, str]], *, token: str = "",
                  user_agent: str = "") -> ApiRequest:
    """A resource URL as an ApiRequest (body not included); raises ``ApiError`` for a
    path that names no served resource (404) or a verb it does not support (405)."""
    group, version, rest = _split(path)
    params: dict[str, str] = {}
    for k, v in query:  # the first value wins, as with Go's url.Values.Get
        params.setdefault(k, v)
    watch = _truthy(params.get("watch"))
    if rest and rest[0] == "watch":  # the deprecated /watch/ prefix
        watch, rest = True, rest[1:]
    namespace, rest = _scope(rest)
    if not rest:
        raise _not_found()
    resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
    subresource = rest[2] if len(rest) > 2 else None
    try:
        ri = lookup(resource)
    except UnknownResource:
        raise _not_found() from None
    if (ri.resource, ri.group, ri.version) != (resource, group, version):
        raise _not_found()
    if namespace is not None and not ri.namespaced:
        raise _not_found()
    if subresource is not None and subresource not in ri.subresources:
        raise _not_found()
    verb = _verb(method, name, watch)
    if name is not None and verb == "watch":  # GET …/pods/x?watch=1 watches one object
        params["fieldSelector"] = f"metadata.name={name}"
        name = None
    if subresource is None and verb not in ri.verbs:
        raise ApiError(method_not_supported(ri.resource, verb, ri.group))
    for k in _DROPPED_PARAMS:
        params.pop(k, None)
    return ApiRequest(verb=verb, resource=resource, group=group, version=version,
                      namespace=namespace, name=name, subresource=subresource, params=params,
                      token=token, user_agent=user_agent)


def _verb(method: str, name: str | None, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else ("get" if name else "list")
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    verb = _METHOD_VERBS.get(method)
    if verb is None or (verb != "create" and name is None):
        raise ApiError(_status(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested "
                               "resource"))
    return verb


# -- bodies and content negotiation --------------------------------------------------------

def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def decode_body(content_type: str, raw: bytes) -> tuple[Any, str | None]:
    """The request body as plain data, and the patch type it implies."""
    if not raw:
        return None, _PATCH_TYPES.get(_media_type(content_type))
    media = _media_type(content_type) or JSON
    try:
        if media == PROTOBUF or raw.startswith(MAGIC):
            return decode_object(raw), None
        if media in (JSON, "application/json-patch+json", "application/merge-patch+json",
                     "application/strategic-merge-patch+json"):
            return msgspec.json.decode(raw), _PATCH_TYPES.get(media)
        if media in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(raw), _PATCH_TYPES.get(media)
    except ProtobufError as e:
        raise ApiError(_status(415, "UnsupportedMediaType", str(e))) from None
    except (msgspec.DecodeError, yaml.YAMLError) as e:
        raise ApiError(bad_request(f"error decoding request body: {e}")) from None
    raise ApiError(_status(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted '
                           f'media types include: {JSON}, application/yaml, {PROTOBUF}'))


def _accepts(accept: str) -> list[dict[str, str]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        out.append({"type": fields[0].lower(), **params})
    return out


def wanted_as(accept: str) -> tuple[str, str] | None:
    """(as, apiVersion) when the client asked for a meta.k8s.io transformation (Table,
    PartialObjectMetadata[List]) it prefers to plain JSON; None for the object itself."""
    for media in _accepts(accept):
        as_ = media.get("as")
        if as_ is None:
            if media["type"] in (JSON, "*/*", "application/*"):
                return None
            continue
        if media.get("g") == "meta.k8s.io" and media.get("v") in ("v1", "v1beta1"):
            if as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                return as_, f"meta.k8s.io/{media['v']}"
    return None


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _json(body: Any, code: int = 200, *, content_type: str = JSON,
          headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status_code=code, media_type=content_type,
                    headers=headers)


def _warning(text: str) -> str:
    """A ``299 - "text"`` warning-value, the text a quoted-string (backslash before ``"``
    and ``\\``), as apimachinery's NewWarningHeader writes it: kubectl's parser rejects
    an unescaped quote (the ``unknown field "status"`` warning has two)."""
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{quoted}"'


FOLLOW_POLL_S = 1.0  # how often `logs -f` looks for new output


def _container_done(pod: Any, container: str | None) -> bool:
    """Whether the followed container has terminated (a stream ends with its container)."""
    if not isinstance(pod, dict):
        return True
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for st in statuses:
        if container in (None, st.get("name")):
            return "terminated" in (st.get("state") or {})
    return False


def _error(err: ApiError) -> Response:
    return _json(err.status, err.code or 500)


def _render_as(body: Any, as_: str, api_version: str, resource: str, now: float,
               include_object: str) -> Any:
    if as_ == "Table":
        table = table_for(resource, body, now, include_object=include_object or "Metadata")
        table["apiVersion"] = api_version
        return table
    def partial(o: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "PartialObjectMetadata", "apiVersion": api_version,
                "metadata": o.get("metadata") or {}}
    if isinstance(body.get("items"), list):
        return {"kind": "PartialObjectMetadataList", "apiVersion": api_version,
                "metadata": body.get("metadata") or {},
                "items": [partial(o) for o in body["items"]]}
    return partial(body)


class _Frontend:
    """The request handlers, sharing the system, the apiserver addresses and the tokens."""

    def __init__(self, system: ActorSystem, apiservers: list[str], *,
                 authenticate: Callable[[str], bool], ask_timeout: float,
                 server_address: str) -> None:
        if not apiservers:
            raise ValueError("at least one kube-apiserver address is needed")
        self.system = system
        self.apiservers = list(apiservers)
        self.authenticate = authenticate
        self.ask_timeout = ask_timeout
        self.server_address = server_address
        self.watches = WatchRegistry(system)
        self._next = itertools.cycle(range(len(self.apiservers)))

    # ---- authentication of what the front end serves itself ----
    def _check(self, request: Request) -> Response | None:
        token = _bearer(request)
        if token and self.authenticate(token):
            return None
        if not token and request.url.path in _OPEN_PATHS:
            return None
        return _error(ApiError(unauthorized()))

    async def version(self, request: Request) -> Response:
        return self._check(request) or _json(_discovery.version_info())

    async def health(self, request: Request) -> Response:
        return self._check(request) or Response(b"ok", media_type="text/plain")

    async def api(self, request: Request) -> Response:
        return self._check(request) or self._root(request, core=True)

    async def apis(self, request: Request) -> Response:
        return self._check(request) or self._root(request, core=False)

    def _root(self, request: Request, *, core: bool) -> Response:
        accept = request.headers.get("accept", "")
        for media in _accepts(accept):
            if media.get("as") == "APIGroupDiscoveryList" and media.get("g") == \
                    "apidiscovery.k8s.io" and media.get("v") in ("v2", "v2beta1"):
                ct = (_discovery.AGGREGATED_V2 if media["v"] == "v2"
                      else _discovery.AGGREGATED_V2BETA1)
                return _json(_discovery.aggregated_discovery(core=core, content_type=ct),
                             content_type=ct, headers={"Vary": "Accept"})
        doc = (_discovery.api_versions(self.server_address) if core
               else _discovery.api_group_list())
        return _json(doc, headers={"Vary": "Accept"})

    async def openapi_v2(self, request: Request) -> Response:
        denied = self._check(request)
        if denied:
            return denied
        # The first acceptable type wins: kubectl <= 1.26 asks for the protobuf form only.
        # Its reply is application/octet-stream, as kube-openapi's handler (ServeContent,
        # sniffed) sends it: Go's mime parser refuses the '@' of the type asked for.
        for media in _accepts(request.headers.get("accept", "*/*")):
            if media["type"] == _openapi_v2_pb.MEDIA_TYPE:
                return Response(_openapi_v2_pb.openapi_v2_protobuf(),
                                media_type="application/octet-stream")
            if media["type"] in (JSON, "*/*", "application/*"):
                return Response(_openapi.openapi_v2(), media_type=JSON)
        return _json(_status(406, "NotAcceptable", f"only {JSON} and "
                             f"{_openapi_v2_pb.MEDIA_TYPE} are served"), 406)

    async def openapi_v3(self, request: Request) -> Response:
        denied = self._check(request)
        if denied:
            return denied
        path = request.path_params.get("path", "")
        body = _openapi.openapi_v3_document(path) if path else _openapi.openapi_v3_root()
        if body is None:
            return _error(_not_found())
        headers = {"Cache-Control": "public, immutable"} if path else None
        return Response(body, media_type=JSON, headers=headers)

    # ---- resources ----
    async def resource(self, request: Request) -> Response:
        path = request.url.path
        discovery = self._discovery(path)
        if discovery is not None:
            return self._check(request) or discovery
        try:
            req = parse_request(request.method, path, list(request.query_params.multi_items()),
                                token=_bearer(request),
                                user_agent=request.headers.get("user-agent", ""))
            if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                body, patch_type = decode_body(request.headers.get("content-type", ""),
                                               await request.body())
                req = msgspec.structs.replace(req, body=body, patch_type=patch_type)
        except ApiError as e:
            return _error(e)
        accept = request.headers.get("accept", "")
        include = request.query_params.get("includeObject", "")
        if req.verb == "watch":
            return await self._watch(req, accept, include)
        try:
            resp = await self._ask(HTTP_SENDER, req)
        except ApiError as e:
            return _error(e)
        if (req.subresource == "log" and resp.code == 200
                and req.params.get("follow") in ("true", "1")):
            return self._follow_log(req, resp)
        return self._render(req, resp, accept, include)

    def _follow_log(self, req: ApiRequest, first: ApiResponse) -> Response:
        """``logs -f``: what the container has written, then what it writes next, until it
        stops (or its pod goes). The kubelet keeps a container's log append-only, so each
        poll sends what lies past the text already sent."""
        params = {k: v for k, v in req.params.items() if k not in ("follow", "tailLines")}
        again = msgspec.structs.replace(req, params=params)
        pod_req = ApiRequest(verb="get", resource="pods", namespace=req.namespace,
                             name=req.name, token=req.token, user_agent=req.user_agent)
        container = req.params.get("container")

        def text(resp: ApiResponse) -> str:
            body = resp.body
            return body.decode() if isinstance(body, bytes) else str(body or "")

        async def stream() -> Any:
            yield text(first).encode()
            sent = len(text(await self._ask(HTTP_SENDER, again)))
            while True:
                await anyio.sleep(FOLLOW_POLL_S)
                try:
                    pod = await self._ask(HTTP_SENDER, pod_req)
                    now = await self._ask(HTTP_SENDER, again)
                except ApiError:
                    return
                if now.code == 200:
                    body = text(now)
                    if len(body) > sent:
                        yield body[sent:].encode()
                    sent = max(sent, len(body))
                if pod.code != 200 or _container_done(pod.body, container):
                    return

        return StreamingResponse(stream(), media_type="text/plain")

    def _discovery(self, path: str) -> Response | None:
        parts = [p for p in path.split("/") if p]
        if parts == ["api", "v1"] or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            doc = _discovery.api_resource_list(group, version)
            return _error(_not_found()) if doc is None else _json(doc)
        if len(parts) == 2 and parts[0] == "apis":
            group_doc = _discovery.api_group(parts[1])
            return _error(_not_found()) if group_doc is None else _json(group_doc)
        return None

    async def _ask(self, sender: str, req: ApiRequest) -> ApiResponse:
        """Ask an apiserver, going round the others when one is down."""
        for _ in range(len(self.apiservers)):
            target = self.apiservers[next(self._next)]
            try:
                response: ApiResponse = await self.system.ask(sender, target, req,
                                                              timeout=self.ask_timeout)
                return response
            except (ActorDead, UnknownActor):
                continue
            except AskTimeout:
                raise ApiError(timeout(f"request did not complete within "
                                       f"{self.ask_timeout:g}s")) from None
        raise ApiError(_status(503, "ServiceUnavailable", "no kube-apiserver is available"))

    def _render(self, req: ApiRequest, resp: ApiResponse, accept: str,
                include: str) -> Response:
        headers = {"Warning": ", ".join(_warning(w) for w in resp.warnings)} \
            if resp.warnings else None
        body = resp.body
        if isinstance(body, str | bytes):  # logs
            return Response(body, status_code=resp.code, media_type="text/plain",
                            headers=headers)
        data = msgspec.to_builtins(body) if isinstance(body, msgspec.Struct) else body
        wanted = wanted_as(accept)
        if (wanted is not None and resp.code < 300 and isinstance(data, dict)
                and data.get("kind") != "Status" and req.subresource is None):
            as_, api_version = wanted
            data = _render_as(data, as_, api_version, req.resource, self.system.wall_time(),
                              include)
            return _json(data, resp.code, headers=headers,
                         content_type=f"{JSON};as={as_};v={api_version[12:]};g=meta.k8s.io")
        return _json(data, resp.code, headers=headers)

    async def _watch(self, req: ApiRequest, accept: str, include: str) -> Response:
        target = self.apiservers[next(self._next)]
        try:
            resp, name, events = await self.watches.start(target, req, timeout=self.ask_timeout)
        except (ActorDead, UnknownActor):
            return _error(ApiError(_status(503, "ServiceUnavailable",
                                           "no kube-apiserver is available")))
        except AskTimeout:
            return _error(ApiError(timeout("watch request was not answered")))
        if resp.code >= 300 or not resp.watch_id:
            self.watches.finish(name, target, resp.watch_id)
            events.close()
            return self._render(req, resp, accept, include)
        wanted = wanted_as(accept)
        now = self.system.wall_time

        def render(event: WatchEvent, first: bool) -> Any:
            obj = event.object
            obj = msgspec.to_builtins(obj) if isinstance(obj, msgspec.Struct) else obj
            if wanted is None or event.type == "ERROR" or not isinstance(obj, dict):
                return obj
            if event.type == "BOOKMARK":  # an empty Table carrying the resourceVersion
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                return {"kind": "Table", "apiVersion": wanted[1],
                        "metadata": {"resourceVersion": rv}, "columnDefinitions": [],
                        "rows": []}
            as_, api_version = wanted
            if as_ == "Table":
                table = table_for(req.resource, obj, now(), include_object=include or "Metadata",
                                  headers=first)
                table["apiVersion"] = api_version
                return table
            return _render_as(obj, as_, api_version, req.resource, now(), include)

        seconds = req.params.get("timeoutSeconds")
        content_type = (f"{JSON};as={wanted[0]};v={wanted[1][12:]};g=meta.k8s.io"
                        if wanted else JSON)
        return WatchResponse(self.watches, name, target, resp.watch_id, events,  # type: ignore[return-value]
                             render, content_type=content_type,
                             timeout_seconds=float(seconds) if seconds else None)

    async def not_found(self, request: Request) -> Response:
        return _error(_not_found())


def create_app(system: ActorSystem, apiservers: list[str], *,
               authenticate: Callable[[str], bool], ask_timeout: float = 60.0,
               server_address: str = "127.0.0.1:6443") -> Starlette:
    """The ASGI app; ``app.state.frontend.watches.close_all()`` ends open watches."""
    fe = _Frontend(system, apiservers, authenticate=authenticate, ask_timeout=ask_timeout,
                   server_address=server_address)
    all_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes = [
        # The trailing-slash spellings are the paths in kube-apiserver's OpenAPI (go-restful
        # routes "/" under /version, /api, /apis), the ones the generated clients call
        # (the Python client's VersionApi, CoreApi, ApisApi).
        Route("/version", fe.version), Route("/version/", fe.version),
        Route("/healthz", fe.health), Route("/livez", fe.health), Route("/readyz", fe.health),
        Route("/api", fe.api), Route("/api/", fe.api), Route("/apis", fe.apis),
        Route("/apis/", fe.apis),
        Route("/openapi/v2", fe.openapi_v2), Route("/openapi/v3", fe.openapi_v3),
        Route("/openapi/v3/{path:path}", fe.openapi_v3),
        Route("/api/{rest:path}", fe.resource, methods=all_methods),
        Route("/apis/{rest:path}", fe.resource, methods=all_methods),
        Route("/{rest:path}", fe.not_found, methods=all_methods),
    ]
    app = Starlette(routes=routes)
    app.state.frontend = fe
    return app


# -- serving -------------------------------------------------------------------------------

class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: Ctrl-C and SIGTERM belong to the
    process that runs ``serve`` (the CLI), which cancels it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _answers(host: str, port: int, ca_pem: bytes) -> bool:
    """True once an HTTPS GET /readyz, verified against our CA, gets a 200."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    try:
        with anyio.fail_after(5):
            stream = await anyio.connect_tcp(host, port, ssl_context=ctx,
                                             tls_hostname="localhost",
                                             tls_standard_compatible=False)
            async with stream:
                await stream.send(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n"
                                  b"Connection: close\r\n\r\n")
                head = await stream.receive()
    except (OSError, TimeoutError, anyio.EndOfStream, ssl.SSLError):
        return False
    return head.startswith(b"HTTP/1.1 200")


async def serve(system: ActorSystem, apiservers: list[str], *, host: str = "127.0.0.1",
                port: int = 6443, data_dir: str | os.PathLike[str],
                kubeconfig_path: str | os.PathLike[str], ready: anyio.Event | None = None,
                ask_timeout: float = 60.0, log_level: str = "warning") -> None:
    """Serve the Kubernetes API over HTTPS until cancelled.

    Makes (or reuses) the CA, serving certificate and admin token under ``data_dir``,
    listens on ``host:port`` (port 0 picks a free one), writes the kubeconfig once the API
    answers, with the real address, then sets ``ready``. Cancelling it stops accepting,
    ends open watches and waits briefly for requests in flight.
    """
    creds = await anyio.to_thread.run_sync(
        functools.partial(ensure_credentials, data_dir, hosts=(host,)))
    tokens = read_tokens(creds.tokens)
    config = uvicorn.Config(None, host=host, port=port, ssl_certfile=str(creds.cert),
                            ssl_keyfile=str(creds.key), lifespan="off", log_level=log_level,
                            access_log=False, timeout_graceful_shutdown=2)
    sock = config.bind_socket()
    bound = sock.getsockname()[1]
    netloc = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
    app = create_app(system, apiservers, authenticate=tokens.__contains__,
                     ask_timeout=ask_timeout, server_address=netloc)
    config.app = app
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not await _answers(host, bound, creds.ca_pem):
            if task.done():
                task.result()  # raises what stopped the server
                raise RuntimeError("the HTTP server stopped before it answered")
            await anyio.sleep(0.05)
        await anyio.to_thread.run_sync(functools.partial(
            write_kubeconfig, kubeconfig_path, server=f"https://{netloc}",
            ca_pem=creds.ca_pem, token=creds.token))
        if ready is not None:
            ready.set()
        await anyio.sleep_forever()
    finally:
        server.should_exit = True
        app.state.frontend.watches.close_all()
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            await asyncio.wait([task])
        if not task.done():
            server.force_exit = True
            task.cancel()
        sock.close()
