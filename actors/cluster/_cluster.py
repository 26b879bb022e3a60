"""``simulate(spec, seed)``: a whole cluster in virtual time, driven from synchronous code.

What it is: ``simulate`` builds a ``runtime.Simulation`` from the seed, turns the
``ClusterSpec`` into actors through the component registry (``_components``), spawns
them, and waits (in virtual time) until every apiserver is ready — its watch caches
synced and the bootstrap objects written. It yields a ``Cluster``: the verbs of
``Client`` as the cluster admin (``kubernetes-admin``, in ``system:masters``), plus
time (``now``, ``advance``, ``run_until``), faults (``crash``, ``restart``,
``partition``, ``heal``) and ``etcd_get``, which reads the store as ``etcdctl get``
would. ``client(token)`` and ``as_user(name)`` give the same verbs as someone else.

Concurrency model: synchronous. Every call steps the simulation's loop until it has its
answer; actors run only while a call is stepping. Nothing here is thread-safe.

Invariants: the same spec and seed give the same run (every random draw, including the
bearer tokens and object uids, comes from the seed); a ``run_until`` that times out says
which seed to replay.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from actors.api import ApiError
from actors.apiserver._objects import failure
from actors.apiserver._server import Readyz
from actors.etcd import NotLeaderError, RangeRequest, prefix_end
from runtime import ActorDead, AskTimeout, Simulation, SimulationTimeout, UnknownActor

from ._client import Client
from ._components import ADMIN_USER, BuildContext, Component, components_for
from ._nodes import add_node
from ._spec import ClusterSpec, NodeSpec

__all__ = ["Cluster", "simulate"]


class Cluster(Client):
    def __init__(self, sim: Simulation, spec: ClusterSpec, ctx: BuildContext,
                 components: list[Component]) -> None:
        self.sim = sim
        self.spec = spec
        self.seed = sim.seed
        self._ctx = ctx
        self._components = components
        super().__init__(sim, list(ctx.apiservers), ctx.token(ADMIN_USER))

    # ---- who ------------------------------------------------------------------------------
    @property
    def actors(self) -> list[str]:
        """The component actors' addresses (``etcd-0``, ``kube-apiserver-0``, …)."""
        return [c.name for c in self._components]

    @property
    def apiservers(self) -> list[str]:
        return list(self._ctx.apiservers)

    @property
    def etcd_members(self) -> list[str]:
        return list(self._ctx.etcd_endpoints)

    def token_for(self, user: str) -> str:
        """The bearer token of a user of the spec (``users``) or of a component."""
        return self._ctx.token(user)

    def client(self, token: str) -> Client:
        """The verbs with another bearer token ("" sends none: 401)."""
        return Client(self.sim, self.apiservers, token, timeout=self.timeout)

    def as_user(self, user: str) -> Client:
        return self.client(self.token_for(user))

    # ---- time -----------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Virtual seconds since the cluster was built."""
        return self.sim.now

    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)

    def run_until(self, predicate: Callable[[Cluster], bool], timeout: float, *,
                  poll: float = 0.1) -> float:
        """Step until ``predicate(cluster)`` holds (a NotFound counts as not yet); returns
        the virtual time it took. Raises ``SimulationTimeout`` naming the seed."""

        def check() -> bool:
            try:
                return bool(predicate(self))
            except ApiError as e:
                if e.code == 404:
                    return False
                raise

        return self.sim.run_until(check, timeout=timeout, poll=poll)

    def add_node(self, node: NodeSpec) -> list[str]:
        """``minikube node add``: start the node's kubelet and kube-proxy (see ``_nodes``)."""
        return add_node(self, node)

    # ---- faults ---------------------------------------------------------------------------
    def crash(self, name: str) -> None:
        self.sim.crash(name)

    def restart(self, name: str) -> None:
        self.sim.restart(name)

    def partition(self, names_a: list[str], names_b: list[str]) -> None:
        self.sim.partition(list(names_a), list(names_b))

    def heal(self) -> None:
        self.sim.heal()

    # ---- etcd -----------------------------------------------------------------------------
    def etcd_get(self, key: str, *, prefix: bool = False, keys_only: bool = False
                 ) -> list[tuple[str, str]] | list[str]:
        """``etcdctl get KEY [--prefix] [--keys-only]``: a linearizable read from the
        leader. Values are the stored JSON as text."""
        k = key.encode()
        req = RangeRequest(key=k, range_end=prefix_end(k) if prefix else b"", keys_only=keys_only)
        resp = self._etcd_read(req)
        if keys_only:
            return [kv.key.decode() for kv in resp.kvs]
        return [(kv.key.decode(), kv.value.decode(errors="replace")) for kv in resp.kvs]

    def _etcd_read(self, req: RangeRequest) -> Any:
        members = self.etcd_members
        target = members[0]
        for _ in range(4 * len(members)):
            try:
                return self.sim.ask(target, req, timeout=5.0)
            except NotLeaderError as e:
                target = e.leader or members[(members.index(target) + 1) % len(members)]
                if e.leader is None:
                    self.sim.advance(0.5)  # an election is under way
            except (ActorDead, UnknownActor, AskTimeout):
                target = members[(members.index(target) + 1) % len(members)]
        raise ApiError(failure(503, "ServiceUnavailable", "etcd has no reachable leader"))

    # ---- the pod network and containers (issue 7) --------------------------------------
    def request(self, *args: Any, from_pod: tuple[str, str] | None = None, to: str = "",
                payload: bytes | None = None, protocol: str = "TCP", **kw: Any) -> Any:
        """Two requests share this name. Without ``from_pod`` it is ``Client.request``, one
        raw API request. With it, it sends ``payload`` from inside pod ``(namespace, name)`` to
        ``"ADDRESS:PORT"`` or ``"NAME.NAMESPACE.svc.cluster.local:PORT"`` (names resolve as in
        the pod: UDP to kube-dns, search list, ndots:5) through the simulated network, and
        returns the reply: ``.reply`` (bytes), ``.path`` (the hops: device, node, namespace,
        source and destination address, note), ``.path_str`` (the seed's ``pod A eth0 →
        vethXXXX (node-1) → cni0 gateway (node-1) → node-1 eth0 → …`` with DNAT notes), and
        ``.return_path``/``.dns`` for the way back and the lookups. The default payload is
        ``curl``'s GET. Raises ``actors.kubelet.RequestFailed`` with the reason the request
        was dropped (or could not be resolved). Virtual time does not move."""
        if from_pod is None:
            return super().request(*args, **kw)
        if args or kw or not to:
            raise TypeError("request(from_pod=(namespace, name), to=..., payload=...) takes "
                            "keyword arguments only")
        return self._pod_request(from_pod, to, payload, protocol)

    def _pod_request(self, from_pod: tuple[str, str], to: str, payload: bytes | None,
                     protocol: str) -> Any:
        from actors.kubelet._component import FABRIC_KEY, HOSTS_KEY
        from actors.kubelet._shell_net import RequestFailed, pod_request

        namespace, name = from_pod
        pod = self.get("pods", name, namespace)
        fabric = self._ctx.extra.get(FABRIC_KEY)
        if fabric is None:
            raise RequestFailed("this cluster has no pod network (no kubelet component)")
        status, spec = pod.get("status") or {}, pod.get("spec") or {}
        ip = status.get("podIP")
        if not ip:
            raise RequestFailed(f"pod {namespace}/{name} has no IP "
                                f"(phase {status.get('phase', 'Pending')})")
        netns = (fabric.node(spec["nodeName"]).host if spec.get("hostNetwork")
                 else fabric.owner_of(ip))
        if netns is None:
            raise RequestFailed(f"pod {namespace}/{name} has no network namespace any more")
        if payload is None:
            payload = (f"GET / HTTP/1.1\r\nHost: {to}\r\nUser-Agent: curl/8.5.0\r\n"
                       "Accept: */*\r\n\r\n").encode()
        names = {sb.netns: sb.name
                 for host in (self._ctx.extra.get(HOSTS_KEY) or {}).values()
                 for sb in host.runtime.list_sandboxes()}
        return pod_request(fabric, netns, namespace, to, payload, protocol=protocol,
                           names=names)

    def logs(self, pod: str, namespace: str = "default", container: str | None = None, *,
             previous: bool = False, timestamps: bool = False) -> str:
        """``kubectl logs``: the container's output as text, one line per line. A pod with
        several containers needs ``container``; ``previous`` reads the last dead instance."""
        from actors.kubelet._component import HOSTS_KEY
        from actors.kubelet._logs import container_logs

        obj = self.get("pods", pod, namespace)
        host = (self._ctx.extra.get(HOSTS_KEY) or {}).get((obj.get("spec") or {}).get("nodeName") or "")
        return container_logs(host.runtime if host is not None else None, obj, container,
                              previous=previous, timestamps=timestamps)

    def close(self) -> None:
        self.sim.close()


def _ready(sim: Simulation, apiservers: tuple[str, ...]) -> bool:
    for name in apiservers:
        try:
            if not sim.ask(name, Readyz(), timeout=1.0).ready:
                return False
        except (ActorDead, UnknownActor, AskTimeout):
            return False
    return True


@contextlib.contextmanager
def simulate(spec: ClusterSpec | None = None, seed: int = 0, *, trace: bool = False,
             ready_timeout: float = 120.0, log_level: str = "warning") -> Iterator[Cluster]:
    """``with simulate(spec, seed=7) as cluster:`` — a cluster in virtual time."""
    spec = spec or ClusterSpec()
    sim = Simulation(seed, trace=trace, log_level=log_level)
    try:
        ctx = BuildContext(spec=spec, seed=seed, rng=sim.system.rng_for("cluster:tokens"))
        ctx.add_user(ADMIN_USER, ("system:masters",))
        for user, groups in spec.users.items():
            ctx.add_user(user, tuple(groups))
        components = components_for(ctx)
        for c in components:
            sim.spawn(c.name, c.factory, policy=c.policy)
        try:
            sim.run_until(lambda: _ready(sim, ctx.apiservers), timeout=ready_timeout, poll=0.5)
        except SimulationTimeout as e:
            raise SimulationTimeout(f"the cluster did not become ready: {e}") from None
        yield Cluster(sim, spec, ctx, components)
    finally:
        sim.close()
