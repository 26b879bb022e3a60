"""The component registry: how a ``ClusterSpec`` becomes actors.

What it is: an ordered table of component *kinds* (``etcd``, ``kube-apiserver``,
``kube-scheduler``, ``kube-controller-manager``, ``kubelet``, ``kube-proxy`` and the
addons), each with a factory ``build(ctx) -> list[Component]``. ``simulate`` calls every
registered factory in order, then spawns what they returned. Only etcd and the apiserver
are registered here; the issues that build the scheduler, the controller manager, the
kubelet, kube-proxy and the addons register theirs with ``register_component`` (a kind
without a factory is simply not started), so this module is the hook they fill.

``BuildContext`` is what factories see: the spec and seed, the etcd endpoints and
apiserver addresses (known up front from the spec, so components can be built in any
order), the bearer tokens of every identity (minted from the seed) and the apiserver IPs.
Apiserver configs read the token table when the actor starts, so a factory that runs
after the apiserver's may still ``add_user``.

Concurrency model: none; factories run synchronously while the simulation is built.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.apiserver._authn import UserInfo
from actors.apiserver._server import ApiServerConfig, KubeApiServer
from actors.etcd import EtcdConfig, EtcdMember
from runtime import DEFAULT_POLICY, Actor, RestartPolicy

from ._spec import ClusterSpec

__all__ = ["ADMIN_USER", "BuildContext", "Component", "COMPONENT_KINDS", "components_for",
           "register_component", "registered"]

ADMIN_USER = "kubernetes-admin"  # kubeadm's admin.conf user, in system:masters
# The order components are built and spawned in.
COMPONENT_KINDS = ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager",
                   "kubelet", "kube-proxy", "coredns", "storage-provisioner", "dashboard",
                   "addon-manager")


@dataclass(frozen=True)
class Component:
    """One actor to spawn: its address, a factory called (with no arguments) at every
    (re)start, and its restart policy."""

    name: str
    factory: Callable[[], Actor]
    policy: RestartPolicy = DEFAULT_POLICY


@dataclass
class BuildContext:
    spec: ClusterSpec
    seed: int
    rng: random.Random
    tokens: dict[str, UserInfo] = field(default_factory=dict)  # bearer token -> user
    extra: dict[str, Any] = field(default_factory=dict)  # for factories to share facts

    @property
    def etcd_endpoints(self) -> tuple[str, ...]:
        return tuple(f"etcd-{i}" for i in range(self.spec.etcd_members))

    @property
    def apiservers(self) -> tuple[str, ...]:
        return tuple(f"kube-apiserver-{i}" for i in range(self.spec.apiservers))

    def apiserver_ip(self, index: int) -> str:
        return f"192.168.49.{2 + index}"  # minikube's control-plane network

    def add_user(self, name: str, groups: tuple[str, ...] = ()) -> str:
        """Mint a bearer token for ``name`` (one per user; the same on every call)."""
        for token, user in self.tokens.items():
            if user.name == name:
                return token
        token = f"{self.rng.getrandbits(128):032x}"
        self.tokens[token] = UserInfo(name, groups=tuple(groups))
        return token

    def token(self, name: str) -> str:
        for token, user in self.tokens.items():
            if user.name == name:
                return token
        raise KeyError(f"no token for user {name!r}")


Factory = Callable[[BuildContext], list[Component]]
_REGISTRY: dict[str, Factory] = {}


def register_component(kind: str, build: Factory) -> None:
    """Register (or replace) the factory of a component kind from ``COMPONENT_KINDS``."""
    if kind not in COMPONENT_KINDS:
        raise ValueError(f"unknown component kind {kind!r}; known: {list(COMPONENT_KINDS)}")
    _REGISTRY[kind] = build


def registered() -> tuple[str, ...]:
    return tuple(k for k in COMPONENT_KINDS if k in _REGISTRY)


def _wanted(spec: ClusterSpec, kind: str) -> bool:
    if kind in ("etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager",
                "kubelet", "kube-proxy"):
        return True  # their counts (possibly 0) are in the spec
    return kind in spec.addons


def components_for(ctx: BuildContext) -> list[Component]:
    out: list[Component] = []
    for kind in COMPONENT_KINDS:
        build = _REGISTRY.get(kind)
        if build is not None and _wanted(ctx.spec, kind):
            out.extend(build(ctx))
    return out


# --- the components that exist today -------------------------------------------------------


def etcd_components(**config: Any) -> Factory:
    """The etcd members' factory, with ``EtcdConfig`` fields other than the member id and
    peers (e.g. ``snapshot_count``) set for every member."""
    def build(ctx: BuildContext) -> list[Component]:
        peers = {i + 1: name for i, name in enumerate(ctx.etcd_endpoints)}
        return [Component(name, (lambda i=i: EtcdMember(
                    EtcdConfig(member_id=i + 1, peers=peers, **config))))
                for i, name in enumerate(ctx.etcd_endpoints)]
    return build


_etcd = etcd_components()


def _apiserver(ctx: BuildContext) -> list[Component]:
    def make(i: int) -> Callable[[], Actor]:
        def factory() -> Actor:
            return KubeApiServer(ApiServerConfig(
                etcd_endpoints=ctx.etcd_endpoints, tokens=dict(ctx.tokens),
                advertise_address=ctx.apiserver_ip(i)))
        return factory

    return [Component(name, make(i)) for i, name in enumerate(ctx.apiservers)]


register_component("etcd", _etcd)
register_component("kube-apiserver", _apiserver)

# The components built elsewhere register themselves when imported (after the registry
# above exists: they import it back).
import actors.cluster._addons_minikube as _minikube_addons  # noqa: E402,F401  (registers "dashboard", "addon-manager")
import actors.controllers._component as _kube_controller_manager  # noqa: E402,F401  (registers "kube-controller-manager")
import actors.dns._component as _coredns  # noqa: E402,F401  (registers "coredns")
import actors.kube_proxy._component as _kube_proxy  # noqa: E402,F401  (registers "kube-proxy")
import actors.kubelet._component as _kubelet  # noqa: E402,F401  (registers "kubelet")
import actors.scheduler._component as _kube_scheduler  # noqa: E402,F401  (registers "kube-scheduler")
