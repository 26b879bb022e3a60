"""Service ClusterIP and NodePort allocation, as the service registry does it.

What it is: on create, a Service without ``spec.clusterIP`` (type ClusterIP, NodePort or
LoadBalancer) gets a free address of the service CIDR (10.96.0.0/12, minikube's default); a
NodePort/LoadBalancer port without ``nodePort`` gets a free port of 30000-32767. A requested
address or port must be free and in range. Allocations are one etcd key each —
``/registry/ipaddresses/<ip>`` as the IPAddress objects of current Kubernetes, and
``/registry/ranges/servicenodeports/<port>`` — claimed by a create-if-absent transaction, so
several apiservers never hand out the same one. Deleting the Service releases them.

Dynamic addresses come from the upper band of the range, as Kubernetes keeps the lower band for
static (user-chosen) addresses; draws use the apiserver's seeded generator.

Concurrency model: coroutines of the apiserver actor; etcd arbitrates between apiservers.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from actors.api import ApiError, status_invalid
from actors.api._validation import invalid_value
from actors.apiserver._storage import KeyExists, Storage

__all__ = ["allocate_service", "release_service", "SERVICE_CIDR", "NODE_PORT_RANGE"]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORT_RANGE = (30000, 32767)
_IP_PREFIX = "/registry/ipaddresses/"
_PORT_PREFIX = "/registry/ranges/servicenodeports/"
_TRIES = 64


def _static_band(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> int:
    # KEP-3070: min(max(16, size/16), 256) addresses at the bottom are reserved for static use.
    return min(max(16, net.num_addresses // 16), 256)


def _invalid(name: str, field: str, value: Any, message: str) -> ApiError:
    return ApiError(status_invalid("Service", name, [invalid_value(field, value, message)]))


def _ip_record(ip: str, ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress", "metadata": {"name": ip},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": ns, "name": name}}}


async def _claim(storage: Storage, key: str, record: dict[str, Any]) -> bool:
    try:
        await storage.create(key, record)
    except KeyExists:
        return False
    return True


async def _allocate_ip(storage: Storage, rng: random.Random, ns: str, name: str, requested: str | None) -> str:
    net = SERVICE_CIDR
    if requested:
        try:
            addr = ipaddress.ip_address(requested)
        except ValueError:
            raise _invalid(name, "spec.clusterIPs[0]", requested, "must be a valid IP address") from None
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise _invalid(name, "spec.clusterIPs[0]", requested,
                           f"failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. "
                           f"The range of valid IPs is {net}")
        if not await _claim(storage, _IP_PREFIX + requested, _ip_record(requested, ns, name)):
            raise _invalid(name, "spec.clusterIPs", [requested],
                           f"failed to allocate IP {requested}: provided IP is already allocated")
        return requested
    low = _static_band(net)
    for _ in range(_TRIES):
        offset = rng.randrange(low, net.num_addresses - 1)
        ip = str(net.network_address + offset)
        if await _claim(storage, _IP_PREFIX + ip, _ip_record(ip, ns, name)):
            return ip
    raise _invalid(name, "spec.clusterIPs", None, "failed to allocate a serviceIP: range is full")


async def _allocate_port(storage: Storage, rng: random.Random, ns: str, name: str, requested: int | None,
                         field: str) -> int:
    lo, hi = NODE_PORT_RANGE
    record = {"service": f"{ns}/{name}"}
    if requested:
        if not lo <= requested <= hi:
            raise _invalid(name, field, requested, f"provided port is not in the valid range. The range of valid ports is {lo}-{hi}")
        if not await _claim(storage, f"{_PORT_PREFIX}{requested}", record):
            raise _invalid(name, field, requested, "provided port is already allocated")
        return requested
    for _ in range(_TRIES):
        port = rng.randrange(lo, hi + 1)
        if await _claim(storage, f"{_PORT_PREFIX}{port}", record):
            return port
    raise _invalid(name, field, None, "failed to allocate a nodePort: range is full")


async def allocate_service(storage: Storage, rng: random.Random, obj: dict[str, Any]) -> dict[str, Any]:
    """The Service with its clusterIP(s) and nodePorts allocated (a new dict)."""
    spec = dict(obj.get("spec") or {})
    stype = spec.get("type") or "ClusterIP"
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace") or "default", meta.get("name") or ""
    if stype == "ExternalName":
        return obj
    requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
    if requested != "None":  # "None": a headless service has no address
        ip = await _allocate_ip(storage, rng, ns, name, requested)
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    if stype in ("NodePort", "LoadBalancer"):
        ports = []
        for i, p in enumerate(spec.get("ports") or []):
            p = dict(p)
            p["nodePort"] = await _allocate_port(storage, rng, ns, name, p.get("nodePort"), f"spec.ports[{i}].nodePort")
            ports.append(p)
        spec["ports"] = ports
    return {**obj, "spec": spec}


async def release_service(storage: Storage, obj: dict[str, Any]) -> None:
    """Free what a deleted Service held (missing keys are fine: already released)."""
    spec = obj.get("spec") or {}
    for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
        if ip and ip != "None":
            await _delete_key(storage, _IP_PREFIX + ip)
    for p in spec.get("ports") or []:
        if p.get("nodePort"):
            await _delete_key(storage, f"{_PORT_PREFIX}{p['nodePort']}")


async def _delete_key(storage: Storage, key: str) -> None:
    cur = await storage.get(key)
    if cur is not None:
        try:
            await storage.delete(key, cur.rv)
        except Exception:
            return
