"""kube-proxy's pure core: from Services and their EndpointSlices to one node's NAT rules.

What it is: ``service_rules(svc, slices, node=...)`` is what the iptables proxier's
``syncProxyRules`` writes for one Service, and ``node_rules(services, slices, node=...)`` the
whole table (every Service's rules, in Service order), as netsim rules
(``netsim.ServiceRule`` for each ClusterIP and external IP port — KUBE-SERVICES — and
``netsim.NodePortRule`` for NodePort and LoadBalancer ports — KUBE-NODEPORTS):

- endpoints come from the Service's EndpointSlices only (label ``kubernetes.io/service-name``),
  taken in slice-name order so the result does not depend on cache order. kube-proxy has
  read EndpointSlices, never Endpoints, since 1.22 (``EndpointSliceProxying`` GA,
  kubernetes#103451): a Service whose endpoints exist only as an Endpoints object gets no
  backends;
- a slice port is matched to a Service port by name (and protocol); the backend is each
  endpoint's first address at the slice port's number (the resolved targetPort);
- only ready endpoints receive traffic; when a port has none, endpoints that are serving
  and terminating are used instead (``ProxyTerminatingEndpoints``, GA in 1.28); with none
  of either the rule has no backends and the node REJECTs the traffic;
- ``internalTrafficPolicy: Local`` keeps only this node's endpoints for the ClusterIP rule,
  ``externalTrafficPolicy: Local`` for the NodePort rule;
- ``sessionAffinity: ClientIP`` makes the choice sticky per client address;
- headless Services (clusterIP None) and ExternalName Services get no rules (DNS only);
  SCTP ports are skipped (netsim speaks TCP and UDP), and so is any rule netsim would refuse.

Concurrency model: none; pure functions of their arguments.

Invariants: the output is deterministic (Services in the order given, ports in spec order,
backends in slice-name then endpoint order without duplicates); a backend is never a
not-ready endpoint while a ready one exists for that port; ``node_rules`` is exactly the
concatenation of ``service_rules`` over the Services, so one Service's rules can be
recomputed alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netsim import CLIENT_IP, TCP, UDP, NodePortRule, ServiceRule, canonical_ipv4

__all__ = [
    "SERVICE_NAME_LABEL",
    "Backends",
    "Key",
    "group_slices",
    "node_rules",
    "object_key",
    "port_backends",
    "service_rules",
    "slice_service",
]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Obj = Mapping[str, Any]
Key = tuple[str, str]
Backend = tuple[str, int]
Backends = tuple[tuple[Backend, str], ...]  # (backend, node name) for traffic policies


def object_key(obj: Obj) -> Key:
    """A Service's (namespace, name): the key its rules and its changes are tracked by."""
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def slice_service(obj: Obj) -> Key | None:
    """The (namespace, Service name) an EndpointSlice belongs to, by its service-name label."""
    meta = obj.get("metadata") or {}
    svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    return (meta.get("namespace") or "default", svc) if svc else None


def _by_name(slices: Iterable[Obj]) -> list[Obj]:
    return sorted(slices, key=lambda s: (s.get("metadata") or {}).get("name") or "")


def group_slices(slices: Iterable[Obj]) -> dict[Key, list[Obj]]:
    """EndpointSlices by the (namespace, Service name) they belong to."""
    out: dict[Key, list[Obj]] = {}
    for s in slices:
        key = slice_service(s)
        if key is not None:
            out.setdefault(key, []).append(s)
    return out


def _slice_backends(slices: list[Obj], name: str, proto: str) -> tuple[Backends, Backends]:
    ready: list[tuple[Backend, str]] = []
    fallback: list[tuple[Backend, str]] = []
    for s in slices:
        port = next((p for p in s.get("ports") or []
                     if (p.get("name") or "") == name and (p.get("protocol") or TCP) == proto
                     and p.get("port")), None)
        if port is None:
            continue
        for ep in s.get("endpoints") or []:
            addrs = ep.get("addresses") or []
            if not addrs:
                continue
            cond = ep.get("conditions") or {}
            is_ready = cond.get("ready") is not False  # nil means ready (the API's rule)
            serving = cond.get("serving", cond.get("ready")) is not False
            entry = ((addrs[0], int(port["port"])), ep.get("nodeName") or "")
            if is_ready:
                ready.append(entry)
            elif serving and cond.get("terminating"):
                fallback.append(entry)
    return tuple(dict.fromkeys(ready)), tuple(dict.fromkeys(fallback))


def port_backends(port: Obj, slices: list[Obj] | None) -> Backends:
    """The endpoints one Service port sends to (ready ones, else serving-terminating)."""
    if not slices:
        return ()
    ready, fallback = _slice_backends(slices, port.get("name") or "", port.get("protocol") or TCP)
    return ready or fallback


def _valid(rule: ServiceRule | NodePortRule) -> bool:
    """What netsim would refuse (and the apiserver should not let through) is left out."""
    port = rule.port if isinstance(rule, ServiceRule) else rule.node_port
    if isinstance(rule, ServiceRule) and canonical_ipv4(rule.vip) is None:
        return False
    if any(canonical_ipv4(ip) is None for ip, _ in rule.backends):
        return False
    return 0 < port <= 65535 and all(0 < p <= 65535 for _, p in rule.backends)


def _local(backends: Backends, node: str, policy: str | None) -> tuple[Backend, ...]:
    if policy == "Local":
        return tuple(b for b, n in backends if n == node)
    return tuple(b for b, _ in backends)


def service_rules(svc: Obj, slices: Iterable[Obj] | None, *,
                  node: str) -> list[ServiceRule | NodePortRule]:
    """The rules of one Service on node ``node``, from its EndpointSlices (any order)."""
    spec = svc.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    if spec.get("type") == "ExternalName" or not cluster_ip or cluster_ip == "None":
        return []
    ordered = _by_name(slices or ())
    affinity = CLIENT_IP if spec.get("sessionAffinity") == "ClientIP" else None
    vips = [cluster_ip, *(spec.get("externalIPs") or [])]
    rules: list[ServiceRule | NodePortRule] = []
    for port in spec.get("ports") or []:
        proto = port.get("protocol") or TCP
        if proto not in (TCP, UDP) or not port.get("port"):
            continue
        backends = port_backends(port, ordered)
        internal = _local(backends, node, spec.get("internalTrafficPolicy"))
        for vip in vips:
            rules.append(ServiceRule(vip, int(port["port"]), proto, internal, affinity))
        if spec.get("type") in ("NodePort", "LoadBalancer") and port.get("nodePort"):
            external = _local(backends, node, spec.get("externalTrafficPolicy"))
            rules.append(NodePortRule(int(port["nodePort"]), proto, external, affinity))
    return [r for r in rules if _valid(r)]


def node_rules(services: Iterable[Obj], slices: Iterable[Obj], *,
               node: str) -> list[ServiceRule | NodePortRule]:
    """Every rule node ``node`` should have (see the module docstring)."""
    by_svc = group_slices(slices)
    rules: list[ServiceRule | NodePortRule] = []
    for svc in services:
        rules += service_rules(svc, by_svc.get(object_key(svc)), node=node)
    return rules
