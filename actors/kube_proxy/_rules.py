"""kube-proxy's pure core: from Services and their endpoints to one node's NAT rules.

What it is: ``node_rules(services, slices, endpoints, node=...)`` is what the iptables
proxier's ``syncProxyRules`` computes, as netsim rules (``netsim.ServiceRule`` for each
ClusterIP and external IP port — KUBE-SERVICES — and ``netsim.NodePortRule`` for NodePort and
LoadBalancer ports — KUBE-NODEPORTS):

- endpoints come from the Service's EndpointSlices (label ``kubernetes.io/service-name``),
  or, for a Service with no slice at all, from its Endpoints object (``addresses`` are the
  ready ones) — so the proxy works whether the EndpointSlice controller or only the
  Endpoints controller runs;
- a slice port is matched to a Service port by name (and protocol); the backend is each
  endpoint's first address at the slice port's number (the resolved targetPort);
- only ready endpoints receive traffic; when a port has none, endpoints that are serving
  and terminating are used instead (``ProxyTerminatingEndpoints``, GA in 1.28); with none
  of either the rule has no backends and the node REJECTs the traffic;
- ``internalTrafficPolicy: Local`` keeps only this node's endpoints for the ClusterIP rule,
  ``externalTrafficPolicy: Local`` for the NodePort rule;
- ``sessionAffinity: ClientIP`` makes the choice sticky per client address;
- headless Services (clusterIP None) and ExternalName Services get no rules (DNS only);
  SCTP ports are skipped (netsim speaks TCP and UDP).

Concurrency model: none; a pure function of its arguments.

Invariants: the output is deterministic (Services in the order given, ports in spec order,
backends in endpoint order without duplicates); a backend is never a not-ready endpoint
while a ready one exists for that port.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address
from typing import Any

from netsim import CLIENT_IP, TCP, UDP, NodePortRule, ServiceRule

__all__ = ["SERVICE_NAME_LABEL", "Backends", "group_slices", "node_rules", "port_backends"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Obj = Mapping[str, Any]
Key = tuple[str, str]
Backend = tuple[str, int]
Backends = tuple[tuple[Backend, str], ...]  # (backend, node name) for traffic policies


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def group_slices(slices: Iterable[Obj]) -> dict[Key, list[Obj]]:
    """EndpointSlices by the (namespace, Service name) they belong to."""
    out: dict[Key, list[Obj]] = {}
    for s in slices:
        meta = s.get("metadata") or {}
        svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            out.setdefault((meta.get("namespace") or "default", svc), []).append(s)
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


def _endpoints_backends(ep: Obj, name: str, proto: str) -> Backends:
    out: list[tuple[Backend, str]] = []
    for subset in ep.get("subsets") or []:
        port = next((p for p in subset.get("ports") or []
                     if (p.get("name") or "") == name and (p.get("protocol") or TCP) == proto
                     and p.get("port")), None)
        if port is None:
            continue
        for a in subset.get("addresses") or []:
            if a.get("ip"):
                out.append(((a["ip"], int(port["port"])), a.get("nodeName") or ""))
    return tuple(dict.fromkeys(out))


def port_backends(port: Obj, slices: list[Obj] | None, endpoints: Obj | None) -> Backends:
    """The endpoints one Service port sends to (ready ones, else serving-terminating)."""
    name, proto = port.get("name") or "", port.get("protocol") or TCP
    if slices:
        ready, fallback = _slice_backends(slices, name, proto)
        return ready or fallback
    if endpoints is not None:
        return _endpoints_backends(endpoints, name, proto)
    return ()


def _valid(rule: ServiceRule | NodePortRule) -> bool:
    """What netsim would refuse (and the apiserver should not let through) is left out."""
    port = rule.port if isinstance(rule, ServiceRule) else rule.node_port
    try:
        if isinstance(rule, ServiceRule):
            IPv4Address(rule.vip)
        for ip, _ in rule.backends:
            IPv4Address(ip)
    except ValueError:
        return False
    return 0 < port <= 65535 and all(0 < p <= 65535 for _, p in rule.backends)


def _local(backends: Backends, node: str, policy: str | None) -> tuple[Backend, ...]:
    if policy == "Local":
        return tuple(b for b, n in backends if n == node)
    return tuple(b for b, _ in backends)


def _service_rules(svc: Obj, slices: list[Obj] | None, endpoints: Obj | None,
                   node: str) -> list[ServiceRule | NodePortRule]:
    spec = svc.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    if spec.get("type") == "ExternalName" or not cluster_ip or cluster_ip == "None":
        return []
    affinity = CLIENT_IP if spec.get("sessionAffinity") == "ClientIP" else None
    vips = [cluster_ip, *(spec.get("externalIPs") or [])]
    rules: list[ServiceRule | NodePortRule] = []
    for port in spec.get("ports") or []:
        proto = port.get("protocol") or TCP
        if proto not in (TCP, UDP) or not port.get("port"):
            continue
        backends = port_backends(port, slices, endpoints)
        internal = _local(backends, node, spec.get("internalTrafficPolicy"))
        for vip in vips:
            rules.append(ServiceRule(vip, int(port["port"]), proto, internal, affinity))
        if spec.get("type") in ("NodePort", "LoadBalancer") and port.get("nodePort"):
            external = _local(backends, node, spec.get("externalTrafficPolicy"))
            rules.append(NodePortRule(int(port["nodePort"]), proto, external, affinity))
    return rules


def node_rules(services: Iterable[Obj], slices: Iterable[Obj], endpoints: Iterable[Obj], *,
               node: str) -> list[ServiceRule | NodePortRule]:
    """Every rule node ``node`` should have (see the module docstring)."""
    by_svc = group_slices(slices)
    eps = {_key(e): e for e in endpoints}
    rules: list[ServiceRule | NodePortRule] = []
    for svc in services:
        key = _key(svc)
        rules += _service_rules(svc, by_svc.get(key), eps.get(key), node)
    return [r for r in rules if _valid(r)]
