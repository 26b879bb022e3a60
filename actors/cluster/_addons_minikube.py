"""minikube's ``dashboard`` and ``addon-manager`` addons: the rest of the seed's ``kube-system``.

What it is: the factories registered as ``dashboard`` and ``addon-manager`` (both in the
default ``ClusterSpec.addons``: the seed's minikube lists ``kubernetes-dashboard-<hash>-<xxxxx>``
and ``kube-addon-manager-minikube`` among its kube-system pods).

- ``dashboard``: one actor at address ``dashboard`` that applies, create-if-absent and with
  the admin's credentials (as minikube's addon manager applies ``/etc/kubernetes/addons``),
  the dashboard of that era in ``kube-system``: ServiceAccount, Service
  ``kubernetes-dashboard`` (80 → 9090) and Deployment ``kubernetes-dashboard``; the
  Deployment controller makes its pod. When the spec runs no controller manager nothing would
  turn the Deployment into a pod, so the actor creates the pod the ReplicaSet would have made
  (``kubernetes-dashboard-<hash>-<xxxxx>``), bound to the first node when no scheduler runs
  either — as the CoreDNS addon does.
- ``addon-manager``: minikube ran ``kube-addon-manager`` as a static pod, so it is one more
  manifest of the control-plane node's static pod source (``_static_pods``), whose mirror pod
  ``kube-addon-manager-<node>`` the kubelet runs. Its factory therefore starts no actor of its
  own; registering it is what lets the static pod source include that manifest.

Concurrency model: an actor; the bootstrap runs as one task, creating objects one at a time.

Invariants: objects are only ever created, never overwritten (a user's edits survive a
restart of the actor); the bare pod is created only when no pod of the Deployment exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from actors.api import ApiError
from actors.client import Client, ClientActorMixin, TransportError
from runtime import Actor

from ._components import ADMIN_USER, BuildContext, Component, register_component, registered

__all__ = ["DASHBOARD_IMAGE", "DASHBOARD_LABELS", "Dashboard", "DashboardConfig",
           "dashboard_objects"]

Obj = dict[str, Any]
DASHBOARD_IMAGE = "kubernetesui/dashboard:v2.7.0"
DASHBOARD_LABELS = {"k8s-app": "kubernetes-dashboard"}
RETRY = 1.0


def dashboard_objects() -> list[tuple[str, Obj]]:
    """What the addon manager applies for the dashboard, in order."""
    meta = {"name": "kubernetes-dashboard", "namespace": "kube-system",
            "labels": {**DASHBOARD_LABELS, "addonmanager.kubernetes.io/mode": "Reconcile"}}
    template = {
        "metadata": {"labels": dict(DASHBOARD_LABELS)},
        "spec": {
            "serviceAccountName": "kubernetes-dashboard",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}],
            "containers": [{
                "name": "kubernetes-dashboard", "image": DASHBOARD_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "args": ["--namespace=kube-system", "--enable-skip-login",
                         "--disable-settings-authorizer", "--insecure-bind-address=0.0.0.0"],
                "ports": [{"containerPort": 9090, "protocol": "TCP"}],
            }],
        },
    }
    return [
        ("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}),
        ("services", {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                      "spec": {"selector": dict(DASHBOARD_LABELS),
                               "ports": [{"port": 80, "targetPort": 9090}]}}),
        ("deployments", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                         "spec": {"replicas": 1, "revisionHistoryLimit": 10,
                                  "selector": {"matchLabels": dict(DASHBOARD_LABELS)},
                                  "template": template}}),
    ]


@dataclass(frozen=True)
class DashboardConfig:
    apiservers: tuple[str, ...]
    admin_token: str  # the addon manager's credentials
    create_pod: bool = False  # no controller manager: make the Deployment's pod directly
    bind_to: str | None = None  # ...bound to this node when no scheduler runs either


class Dashboard(ClientActorMixin, Actor):
    """The dashboard addon's bootstrap (module docstring)."""

    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.bootstrapped = False

    def on_start(self) -> None:
        self.admin = Client(self, apiservers=list(self.config.apiservers),
                            token=self.config.admin_token, qps=-1,
                            user_agent="kube-addon-manager")
        self.spawn(self._run(), name=f"{self.name}:bootstrap")

    async def _run(self) -> None:
        objects = dashboard_objects()
        for resource, obj in objects:
            await self._ensure(resource, obj)
        if self.config.create_pod:
            await self._ensure_pod(dict(objects)["deployments"])
        self.bootstrapped = True

    async def _ensure(self, resource: str, obj: dict[str, Any]) -> None:
        await self.admin.ensure(resource, obj, retry=RETRY, what="dashboard object")

    async def _ensure_pod(self, deployment: Obj) -> None:
        from actors.dns._addon import bare_pod

        selector = ",".join(f"{k}={v}" for k, v in DASHBOARD_LABELS.items())
        while True:
            try:
                have = await self.admin.list("pods", "kube-system", label_selector=selector)
                break
            except (ApiError, TransportError):
                await anyio.sleep(RETRY)
        if not have.get("items"):
            await self._ensure("pods", bare_pod(deployment, self.rng, self.config.bind_to))


def _dashboard(ctx: BuildContext) -> list[Component]:
    spec = ctx.spec
    if not spec.nodes:
        return []  # nowhere to run it
    with_cm = spec.controller_managers > 0 and "kube-controller-manager" in registered()
    with_scheduler = spec.schedulers > 0 and "kube-scheduler" in registered()
    cfg = DashboardConfig(apiservers=ctx.apiservers, admin_token=ctx.token(ADMIN_USER),
                          create_pod=not with_cm,
                          bind_to=None if with_scheduler else spec.nodes[0].name)
    return [Component("dashboard", lambda: Dashboard(cfg))]


def _addon_manager(ctx: BuildContext) -> list[Component]:
    return []  # a static pod: see _static_pods (module docstring)


register_component("dashboard", _dashboard)
register_component("addon-manager", _addon_manager)
