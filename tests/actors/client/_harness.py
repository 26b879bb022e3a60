"""Shared test scaffolding: a host actor owning a Client, and a cluster of fake apiservers."""

from __future__ import annotations

from typing import Any

from actors.client import Client, ClientActorMixin
from runtime import NEVER_RESTART, Actor, Simulation
from tests.actors.client._double import Backend, FakeApiServer


class Host(ClientActorMixin, Actor):
    """An actor with one Client; tests drive the client with ``sim.run(host.client.…)``."""

    def __init__(self, apiservers: list[str], **client_kw: Any) -> None:
        self.apiservers = apiservers
        self.client_kw = client_kw
        self.client: Client

    def on_start(self) -> None:
        self.client = Client(self, apiservers=self.apiservers, token="secret", **self.client_kw)


def cluster(sim: Simulation, n_servers: int = 1) -> tuple[Backend, list[str]]:
    backend = Backend()
    names = [f"kube-apiserver-{i}" for i in range(n_servers)]
    for name in names:
        sim.spawn(name, FakeApiServer, backend, policy=NEVER_RESTART)
    return backend, names


def host(sim: Simulation, apiservers: list[str], name: str = "host", **client_kw: Any) -> Host:
    sim.spawn(name, Host, apiservers, policy=NEVER_RESTART, **client_kw)
    return sim.actor(name)  # type: ignore[no-any-return]


def pod(name: str, namespace: str = "default", *, labels: dict[str, str] | None = None,
        node: str | None = None, owner_uid: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                    "uid": owner_uid, "controller": True}]
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def no_crashes(sim: Simulation) -> None:
    """No actor crashed on its own (injected crashes are the test's doing)."""
    real = [c for c in sim.system.crashes if c[2] != "crashed (injected)"]
    assert not real, real
