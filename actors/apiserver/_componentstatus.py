"""``componentstatuses``: a virtual, read-only list computed on every request, as
kube-apiserver's componentstatus registry does (``pkg/registry/core/componentstatus``).

What it is: one ComponentStatus per component, in the order the seed's
``kubectl get componentstatus`` shows them (controller-manager, scheduler, etcd-0…):

- ``etcd-<i>``: the health of etcd member i (``/health``): Healthy with the message
  ``{"health":"true"}`` when it answers healthy, else Unhealthy with the error;
- ``scheduler`` and ``controller-manager``: Kubernetes probes their ``/healthz`` on
  127.0.0.1, which a simulated control plane has no loopback for. kubetwin looks at their
  leader-election Leases in ``kube-system`` (``kube-scheduler``,
  ``kube-controller-manager``) instead: Healthy ("ok") while the lease is held and was
  renewed within its ``leaseDurationSeconds``; otherwise Unhealthy with the error a probe
  of a component that is not running gets (connection refused).

Concurrency model: a coroutine in a request task; the health checks run one after another,
each bounded by the etcd client's attempt timeout.
"""

from __future__ import annotations

from typing import Any

from actors.api import ApiError, lookup, not_found
from actors.etcd import EtcdClient
from runtime import ActorDead, AskTimeout, ExpectedError, UnknownActor

from ._objects import parse_rfc3339
from ._storage import Storage

__all__ = ["component_status", "component_statuses"]

_PROBES = {  # name -> (leader Lease in kube-system, the probe Kubernetes would make)
    "controller-manager": ("kube-controller-manager", "https://127.0.0.1:10257/healthz"),
    "scheduler": ("kube-scheduler", "https://127.0.0.1:10259/healthz"),
}


def _status(name: str, healthy: bool, message: str = "", error: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {"type": "Healthy", "status": "True" if healthy else "False"}
    if message:
        cond["message"] = message
    if error:
        cond["error"] = error
    return {"kind": "ComponentStatus", "apiVersion": "v1", "metadata": {"name": name},
            "conditions": [cond]}


async def _lease_component(name: str, storage: Storage, now: float) -> dict[str, Any]:
    lease_name, url = _PROBES[name]
    stored = await storage.get(lookup("leases").key("kube-system", lease_name))
    spec = (stored.obj.get("spec") or {}) if stored else {}
    renew = spec.get("renewTime")
    duration = spec.get("leaseDurationSeconds") or 0
    if spec.get("holderIdentity") and renew and parse_rfc3339(renew) + duration >= now:
        return _status(name, True, "ok")
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    return _status(name, False, error=f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: '
                                      "connection refused")


async def _etcd_member(index: int, member: str, client: EtcdClient) -> dict[str, Any]:
    name = f"etcd-{index}"
    try:
        health = await client.health(member)
    except (ActorDead, UnknownActor, AskTimeout, ExpectedError) as e:
        return _status(name, False, error=f"{type(e).__name__}: {e}")
    if getattr(health, "health", "") == "true":
        return _status(name, True, '{"health":"true"}')
    return _status(name, False, error=f'{{"health":"false","reason":"{health.reason}"}}')


async def component_statuses(storage: Storage, client: EtcdClient, members: list[str],
                             now: float) -> list[dict[str, Any]]:
    out = [await _lease_component(name, storage, now) for name in _PROBES]
    for i, member in enumerate(members):
        out.append(await _etcd_member(i, member, client))
    return out


async def component_status(name: str, storage: Storage, client: EtcdClient,
                           members: list[str], now: float) -> dict[str, Any]:
    if name in _PROBES:
        return await _lease_component(name, storage, now)
    if name.startswith("etcd-") and name[5:].isdigit() and int(name[5:]) < len(members):
        return await _etcd_member(int(name[5:]), members[int(name[5:])], client)
    raise ApiError(not_found("componentstatuses", name))
