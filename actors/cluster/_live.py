"""``run_live(spec, …)``: a ``ClusterSpec`` as a live cluster on the wall clock.

What it is: the live twin of ``simulate``. The same component registry (``_components``)
turns the spec into the same actors — built from one ``BuildContext``, so components that
share state (the netsim ``Fabric``, the node hosts) get it exactly as in simulation — but
they run on a ``live_system`` whose durable stores are journal files under
``<data_dir>/state``: the etcd members' Raft logs and snapshots (``RaftDisk``) survive the
process, so a second start on the same directory replays them and finds every object. In
front of the actors: the Kubernetes REST API over HTTPS (``actors.live.serve``) and the etcd
v3 gRPC API (``actors.live.serve_etcd``), both on loopback only.

Identities: the front end's credentials (CA, serving certificate, ``pki/tokens.csv``) are
made on the first start and reused after (``ensure_credentials``). The token file is the
apiservers' ``--token-auth-file``: every row is put into the ``BuildContext`` token table
before any factory runs, so ``kubernetes-admin`` (``system:masters``) holds the token the
kubeconfig carries, and extra users of the spec get a row of their own (kept across
restarts). The components' own tokens (scheduler, kubelets, …) never leave the process:
they are minted per start from a fresh seed, as is every other random draw (uids, name
suffixes), so a restart never repeats an id handed out before it.

Concurrency model: one asyncio loop (under ``anyio.run``) carries the actors, the HTTPS
server and the gRPC servers. ``run_live`` runs until cancelled (the CLI cancels it on
SIGINT/SIGTERM); on the way out it stops the servers, then the actors in reverse start
order, then syncs and closes every journal.

The data directory: ``state/`` (one journal per actor), ``pki/`` (CA, serving
certificate, ``tokens.csv``), ``cluster.yaml`` (the spec of the last start, reused by
``kubetwin up`` when given no other; its etcd membership can never change),
``etcdctl.env``, ``kubeconfig`` (unless placed elsewhere), ``kubetwin.lock`` and
``kubetwin.pid``.

Invariants: one process per data directory (an exclusive ``flock`` on
``<data_dir>/kubetwin.lock``, held while it runs; its pid is in ``kubetwin.pid``); the
kubeconfig is written only after every apiserver is ready and the HTTPS endpoint answers,
with the address actually bound, and a kubeconfig holding only our entries is removed at
start and at stop, so "the file exists" means "the API answers" to a script (unless a
killed process left it behind); ``etcdctl.env`` names the endpoints actually bound.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import io
import os
import secrets  # noqa: TID251  (live mode: a fresh seed per start, never a repeated uid)
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import msgspec
import yaml

from actors.apiserver._authn import UserInfo
from actors.apiserver._server import Readyz
from actors.live import ensure_credentials, read_tokens, serve
from actors.live._etcd_grpc import EtcdEndpoint, serve_etcd, write_etcdctl_env
from runtime import DRIVER, ActorDead, ActorSystem, AskTimeout, UnknownActor, live_system

from ._components import ADMIN_USER, BuildContext, Component, components_for
from ._spec import ClusterSpec

__all__ = ["AlreadyRunning", "LiveCluster", "NotReady", "SpecMismatch", "live_node_names",
           "load_spec", "read_pid", "run_live", "saved_spec"]

KUBECONFIG_NAME = "kubetwin"  # the cluster/user/context ``serve`` writes
SPEC_FILE = "cluster.yaml"  # the spec of the last start, reused when no other is given
READY_TIMEOUT = 60.0  # seconds for every apiserver to be ready (etcd elects, caches sync)


class AlreadyRunning(RuntimeError):
    """Another process holds the data directory."""


class NotReady(RuntimeError):
    """The apiservers did not become ready in time."""


class SpecMismatch(ValueError):
    """The spec contradicts what the data directory holds (its etcd membership)."""


@dataclass(frozen=True)
class LiveCluster:
    """What a started cluster serves: handed to ``run_live``'s ``ready`` callback."""

    data_dir: Path
    server: str  # https://127.0.0.1:PORT
    kubeconfig: Path
    etcd_endpoints: tuple[str, ...]  # host:port, one per member
    etcdctl_env: Path
    components: tuple[str, ...]  # actor addresses


# -- the spec -------------------------------------------------------------------------------

def live_node_names(n: int, prefix: str = "minikube") -> list[str]:
    """minikube's node names: ``minikube``, ``minikube-m02``, ``minikube-m03``…"""
    return [prefix if i == 0 else f"{prefix}-m{i + 1:02d}" for i in range(n)]


def load_spec(text: str | None = None, *, base: ClusterSpec | None = None,
              nodes: int | None = None, etcd_members: int | None = None,
              apiservers: int | None = None) -> ClusterSpec:
    """A ``ClusterSpec`` from YAML (its fields; ``nodes`` as a list of NodeSpec mappings
    or of names) or else from ``base`` (the defaults when None), then the counts given,
    which win over both."""
    fields: dict[str, Any] = msgspec.to_builtins(base) if base is not None else {}
    if text:
        loaded = yaml.safe_load(text)
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError("a spec file holds a mapping of ClusterSpec fields")
        fields = dict(loaded or {})
        if isinstance(fields.get("nodes"), list):
            fields["nodes"] = [{"name": n} if isinstance(n, str) else n for n in fields["nodes"]]
    if nodes is not None:
        if nodes < 0:
            raise ValueError(f"--nodes must be >= 0, not {nodes}")
        fields["nodes"] = [{"name": name} for name in live_node_names(nodes)]
    if etcd_members is not None:
        fields["etcd_members"] = etcd_members
    if apiservers is not None:
        fields["apiservers"] = apiservers
    try:
        return msgspec.convert(fields, ClusterSpec)
    except msgspec.ValidationError as e:
        raise ValueError(f"invalid cluster spec: {e}") from None


def saved_spec(data_dir: str | os.PathLike[str]) -> ClusterSpec | None:
    """The spec the data directory was last started with (``cluster.yaml``), if any."""
    path = Path(data_dir).expanduser() / SPEC_FILE
    if not path.exists():
        return None
    return load_spec(path.read_text())


def _save_spec(root: Path, spec: ClusterSpec) -> None:
    """Keep the spec beside the journals; refuse a different etcd membership, which the
    members' Raft logs would not agree with (``up`` does not change membership)."""
    before = saved_spec(root)
    if before is not None and before.etcd_members != spec.etcd_members:
        raise SpecMismatch(f"{root} holds a {before.etcd_members}-member etcd cluster; "
                           f"it cannot be started with {spec.etcd_members} (use another "
                           f"--data-dir)")
    text = yaml.safe_dump(msgspec.to_builtins(spec), sort_keys=False)
    tmp = root / (SPEC_FILE + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, root / SPEC_FILE)


# -- the data directory -----------------------------------------------------------------------

@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """Hold ``kubetwin.lock`` (two processes on one set of journals would corrupt them)
    and publish our pid in ``kubetwin.pid`` for ``kubetwin down``."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / "kubetwin.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = read_pid(data_dir)
            raise AlreadyRunning(f"{data_dir} is in use by another kubetwin"
                                 + (f" (pid {pid})" if pid else "")) from None
        pid_file = data_dir / "kubetwin.pid"
        pid_file.write_text(f"{os.getpid()}\n")
        try:
            yield
        finally:
            pid_file.unlink(missing_ok=True)
    finally:
        os.close(fd)  # releases the lock


def read_pid(data_dir: str | os.PathLike[str]) -> int | None:
    """The pid of the process running the cluster in ``data_dir``, or None when none is
    (no pid file, or nobody holds the lock: a stale file)."""
    path = Path(data_dir)
    try:
        pid = int((path / "kubetwin.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        fd = os.open(path / "kubetwin.lock", os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return pid  # held: the cluster is running
    finally:
        os.close(fd)
    return None


def _token_table(tokens_csv: Path, spec: ClusterSpec, ctx: BuildContext) -> None:
    """Load the token file into ``ctx`` and give each extra user of the spec a row."""
    for token, (user, uid, groups) in read_tokens(tokens_csv).items():
        ctx.tokens[token] = UserInfo(user, uid, groups=groups)
    known = {u.name for u in ctx.tokens.values()}
    missing = [u for u in spec.users if u not in known]
    if not missing:
        return
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for user in missing:
        token = ctx.add_user(user, tuple(spec.users[user]))
        writer.writerow([token, user, user, ",".join(spec.users[user])])
    text = tokens_csv.read_text()
    tmp = tokens_csv.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + ("" if text.endswith("\n") or not text else "\n") + buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, tokens_csv)


def _drop_own_kubeconfig(path: Path) -> None:
    """Remove a kubeconfig that holds nothing but our entries (at start and at stop), so
    that its appearance means "the API answers" to a script waiting for it; a shared one
    is left alone (its entries are replaced when the cluster is ready)."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return
    if not isinstance(config, dict):
        return
    names = {item.get("name") for key in ("clusters", "users", "contexts")
             for item in config.get(key) or [] if isinstance(item, dict)}
    if names == {KUBECONFIG_NAME}:
        path.unlink(missing_ok=True)


# -- running -----------------------------------------------------------------------------------

async def _wait_ready(system: ActorSystem, apiservers: tuple[str, ...], timeout: float) -> None:
    async def ready(name: str) -> bool:
        try:
            return bool((await system.ask(DRIVER, name, Readyz(), timeout=2.0)).ready)
        except (ActorDead, UnknownActor, AskTimeout):
            return False

    with anyio.move_on_after(timeout):
        while True:
            if all([await ready(name) for name in apiservers]):
                return
            system.raise_failures()
            await anyio.sleep(0.1)
    raise NotReady(f"the apiservers were not ready within {timeout:g} s")


def _spawn(system: ActorSystem, components: list[Component]) -> None:
    for c in components:
        system.spawn(c.name, c.factory, policy=c.policy)


def _stop(system: ActorSystem, components: list[Component]) -> None:
    """Stop clients before servers: the last spawned first, etcd last."""
    for c in reversed(components):
        if system.cells.get(c.name) is not None and system.status(c.name) == "running":
            system.stop(c.name)


async def _close_etcd(endpoints: list[EtcdEndpoint]) -> None:
    with anyio.CancelScope(shield=True):
        for endpoint in endpoints:
            await endpoint.stop(0.5)


def _check_free(host: str, ports: list[int]) -> None:
    """Fail before booting when a fixed port is taken (the servers bind only once the
    apiservers are ready, seconds later). Racy by nature; the servers still check."""
    for port in ports:
        if port == 0:
            continue
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            try:
                sock.bind((host, port))
            except OSError as e:
                raise OSError(e.errno, f"{host}:{port} is not free: {e.strerror}") from None


def _server_of(kubeconfig: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text()) or {}
    for item in config.get("clusters") or []:
        if item.get("name") == KUBECONFIG_NAME:
            return str(item["cluster"]["server"])
    raise RuntimeError(f"{kubeconfig} has no {KUBECONFIG_NAME} cluster")


async def run_live(spec: ClusterSpec | None = None, *, data_dir: str | os.PathLike[str],
                   port: int = 6443, kubeconfig: str | os.PathLike[str] | None = None,
                   etcd_ports: list[int] | None = None, host: str = "127.0.0.1",
                   ready: Callable[[LiveCluster], object] | None = None,
                   seed: int | None = None, ready_timeout: float = READY_TIMEOUT,
                   log_level: str = "warning") -> None:
    """Run ``spec`` live until cancelled (``anyio.run``; the caller owns the signals).

    ``port`` 0 and ``etcd_ports`` None pick free ports; ``kubeconfig`` defaults to
    ``<data_dir>/kubeconfig``; ``ready`` is called once kubectl and etcdctl can connect.
    Raises ``AlreadyRunning`` when another process runs this data directory and
    ``NotReady`` when the apiservers do not become ready within ``ready_timeout``.
    """
    spec = spec or ClusterSpec()
    root = Path(data_dir).expanduser().resolve()
    kube = Path(kubeconfig).expanduser().resolve() if kubeconfig else root / "kubeconfig"
    with _exclusive(root):
        _drop_own_kubeconfig(kube)  # first: a stale one must not say "ready" for long
        _check_free(host, [port, *(etcd_ports or [])])
        _save_spec(root, spec)
        creds = await anyio.to_thread.run_sync(
            functools.partial(ensure_credentials, root, hosts=(host,)))
        seed = secrets.randbits(63) if seed is None else seed
        durable: set[str] = set()  # the components: per-stream mailboxes leave no file
        async with live_system(seed=seed, data_dir=str(root / "state"), log_level=log_level,
                               persist=durable.__contains__) as system:
            ctx = BuildContext(spec=spec, seed=seed, rng=system.rng_for("cluster:tokens"))
            _token_table(creds.tokens, spec, ctx)
            ctx.add_user(ADMIN_USER, ("system:masters",))  # the file's row: no new token
            components = components_for(ctx)
            durable.update(c.name for c in components)
            _spawn(system, components)
            try:
                await _serve(system, ctx, components, root=root, kube=kube, host=host,
                             port=port, etcd_ports=etcd_ports, ready=ready,
                             ready_timeout=ready_timeout, log_level=log_level)
            finally:
                _stop(system, components)
                _drop_own_kubeconfig(kube)  # its address is dead now (a free port is gone)


async def _serve(system: ActorSystem, ctx: BuildContext, components: list[Component], *,
                 root: Path, kube: Path, host: str, port: int, etcd_ports: list[int] | None,
                 ready: Callable[[LiveCluster], object] | None, ready_timeout: float,
                 log_level: str) -> None:
    await _wait_ready(system, ctx.apiservers, ready_timeout)
    endpoints = await serve_etcd(system, list(ctx.etcd_endpoints), host=host, ports=etcd_ports)
    try:
        env = Path(write_etcdctl_env(str(root / "etcdctl.env"), endpoints))
        async with anyio.create_task_group() as tg:
            served = anyio.Event()
            tg.start_soon(functools.partial(
                serve, system, list(ctx.apiservers), host=host, port=port, data_dir=root,
                kubeconfig_path=kube, ready=served, log_level=log_level))
            await served.wait()
            if ready is not None:
                ready(LiveCluster(data_dir=root, server=_server_of(kube), kubeconfig=kube,
                                  etcd_endpoints=tuple(e.address for e in endpoints),
                                  etcdctl_env=env,
                                  components=tuple(c.name for c in components)))
    finally:
        await _close_etcd(endpoints)
