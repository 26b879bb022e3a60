"""What kube-apiserver writes at start-up, and the ``kubernetes`` service's endpoints.

What it is:
- the bootstrap objects, written create-if-absent on every start (an AlreadyExists is
  success, so with several apiservers the first one to write an object wins and the
  others find it): the namespaces ``default``, ``kube-system``, ``kube-public`` and
  ``kube-node-lease`` (the system-namespaces controller and the kubernetes-service
  controller of kube-apiserver), the ``kubernetes`` Service in ``default`` (ClusterIP
  10.96.0.1, port 443 to targetPort 6443), the RBAC bootstrap policy (the
  ``rbac/bootstrap-roles`` post-start hook), and the ``default`` ServiceAccount of each of
  those namespaces (in Kubernetes the controller-manager's serviceaccounts controller
  writes these; the apiserver does it here so a control plane without a controller
  manager can run pods in them);
- the lease endpoint reconciler (``--endpoint-reconciler-type=lease``, Kubernetes'
  default): every apiserver keeps ``/registry/masterleases/<its IP>`` alive under a 15 s
  etcd lease, renewed every 10 s, and rewrites the ``kubernetes`` Endpoints and
  EndpointSlice whenever the set of live IPs differs from what they list. An apiserver
  that stops or crashes drops out once its lease expires.

Concurrency model: coroutines run in the apiserver's startup and timer tasks; every write
goes through the apiserver's own request pipeline as a privileged user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.api import ApiError
from actors.etcd import EtcdClient, prefix_end

from ._bootstrap_policy import bootstrap_policy

__all__ = ["BOOTSTRAP_NAMESPACES", "Call", "EndpointReconciler", "bootstrap", "bootstrap_objects",
           "kubernetes_endpoints", "kubernetes_endpoint_slice", "kubernetes_service"]

BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MASTER_LEASES = "/registry/masterleases/"
# (verb, resource, namespace, name, body, subresource) -> (code, body); raises ApiError
Call = Callable[..., Awaitable[tuple[int, Any]]]


def kubernetes_service(cluster_ip: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                 "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                 "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": port}]},
    }


def kubernetes_endpoints(ips: list[str], port: int) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}}
    if ips:
        obj["subsets"] = [{"addresses": [{"ip": ip} for ip in ips],
                           "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    return obj


def kubernetes_endpoint_slice(ips: list[str], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def bootstrap_objects(cluster_ip: str, port: int) -> list[tuple[str, dict[str, Any]]]:
    """(resource, object) in the order they are written: namespaces before what lives in
    them, so NamespaceLifecycle admits the rest."""
    out: list[tuple[str, dict[str, Any]]] = [("namespaces", _ns(n)) for n in BOOTSTRAP_NAMESPACES]
    out.append(("services", kubernetes_service(cluster_ip, port)))
    for obj in bootstrap_policy():
        out.append((obj["kind"].lower() + "s", obj))
    for ns in BOOTSTRAP_NAMESPACES:
        out.append(("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "default", "namespace": ns}}))
    return out


async def create_if_absent(call: Call, resource: str, obj: dict[str, Any]) -> bool:
    """True if this call created the object, False if it was there already."""
    try:
        await call("create", resource, namespace=(obj.get("metadata") or {}).get("namespace"),
                   body=obj)
    except ApiError as e:
        if e.reason == "AlreadyExists":
            return False
        raise
    return True


async def bootstrap(call: Call, cluster_ip: str, port: int) -> int:
    """Write the bootstrap objects; returns how many this apiserver created."""
    created = 0
    for resource, obj in bootstrap_objects(cluster_ip, port):
        created += await create_if_absent(call, resource, obj)
    return created


class EndpointReconciler:
    """The lease reconciler of the ``kubernetes`` service's endpoints."""

    def __init__(self, client: EtcdClient, call: Call, ip: str, port: int, *,
                 lease_ttl: int = 15) -> None:
        self.client = client
        self.call = call
        self.ip = ip
        self.port = port
        self.lease_ttl = lease_ttl

    async def renew(self) -> None:
        """Keep this apiserver's master lease key alive (a fresh lease each round)."""
        grant = await self.client.lease_grant(self.lease_ttl)
        await self.client.put((MASTER_LEASES + self.ip).encode(), self.ip.encode(),
                              lease=int(grant.id))

    async def remove(self) -> None:
        await self.client.delete((MASTER_LEASES + self.ip).encode())

    async def live_ips(self) -> list[str]:
        key = MASTER_LEASES.encode()
        resp = await self.client.range(key, prefix_end(key))
        return sorted(kv.key.decode()[len(MASTER_LEASES):] for kv in resp.kvs)

    async def reconcile(self) -> None:
        await self.renew()
        ips = await self.live_ips()
        await self._ensure("endpoints", kubernetes_endpoints(ips, self.port),
                           lambda o: o.get("subsets") or [])
        await self._ensure("endpointslices", kubernetes_endpoint_slice(ips, self.port),
                           lambda o: [e.get("addresses") for e in o.get("endpoints") or ()])

    async def _ensure(self, resource: str, want: dict[str, Any],
                      view: Callable[[dict[str, Any]], Any]) -> None:
        try:
            _, cur = await self.call("get", resource, namespace="default", name="kubernetes")
        except ApiError as e:
            if e.code != 404:
                raise
            await create_if_absent(self.call, resource, want)
            return
        if view(cur) == view(want):
            return
        body = {**want, "metadata": {**want["metadata"],
                                     "resourceVersion": cur["metadata"]["resourceVersion"]}}
        try:
            await self.call("update", resource, namespace="default", name="kubernetes",
                            body=body)
        except ApiError as e:
            if e.reason != "Conflict":  # another apiserver reconciled first: next round
                raise
