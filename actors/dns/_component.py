"""The ``coredns`` component: how a ``ClusterSpec`` with the coredns addon gets cluster DNS.

What it is: the factory registered as ``coredns`` (``actors.cluster.register_component``).
It mints the ``coredns`` service account's token, shares one ``ClusterZone`` per simulation
in ``BuildContext.extra`` (the kubelets bind it to the coredns pods' port 53: see
``coredns_sockets``), and builds the ``CoreDNS`` actor. Whether it must create the pods
itself depends on what else the spec runs: no controller manager (none in the spec, or no
factory registered for one) means no Deployment controller, so the addon makes the pods;
no scheduler as well means they are bound to the control-plane node — the spec's first.
A spec without nodes gets no CoreDNS at all (nothing could run it).

Concurrency model: none; runs while the simulation is built.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.cluster._components import (
    ADMIN_USER,
    BuildContext,
    Component,
    register_component,
    registered,
)

from ._actor import CoreDNS, CoreDNSConfig
from ._zone import ClusterZone

__all__ = ["COREDNS_REPOSITORY", "ZONE_KEY", "cluster_zone", "coredns_sockets"]

ZONE_KEY = "dns.zone"
COREDNS_REPOSITORY = "registry.k8s.io/coredns/coredns"
SA_USER = "system:serviceaccount:kube-system:coredns"
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")
Socket = Callable[[bytes], bytes | None]


def cluster_zone(ctx: BuildContext) -> ClusterZone:
    """The simulation's one DNS zone (created on first use)."""
    zone = ctx.extra.get(ZONE_KEY)
    if zone is None:
        zone = ctx.extra[ZONE_KEY] = ClusterZone()
    return zone  # type: ignore[no-any-return]


def coredns_sockets(zone: ClusterZone) -> dict[tuple[int, str], Socket]:
    """What the coredns binary serves on the sockets it opens: DNS on 53/UDP and 53/TCP."""
    return {(53, "UDP"): zone.answer, (53, "TCP"): lambda p: zone.answer(p, tcp=True)}


def _runs(ctx: BuildContext, kind: str, count: int) -> bool:
    return count > 0 and kind in registered()


def _build(ctx: BuildContext) -> list[Component]:
    if not ctx.spec.nodes:
        return []  # nowhere to run CoreDNS: a node-less control plane stays lean
    zone = cluster_zone(ctx)
    token = ctx.add_user(SA_USER, SA_GROUPS)
    spec = ctx.spec
    with_cm = _runs(ctx, "kube-controller-manager", spec.controller_managers)
    with_scheduler = _runs(ctx, "kube-scheduler", spec.schedulers)
    bind = None if with_scheduler or not spec.nodes else spec.nodes[0].name
    cfg = CoreDNSConfig(apiservers=ctx.apiservers, admin_token=ctx.token(ADMIN_USER),
                        token=token, zone=zone, create_pods=not with_cm, bind_to=bind)
    return [Component("coredns", lambda: CoreDNS(cfg))]


register_component("coredns", _build)
