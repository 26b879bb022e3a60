"""The cluster's DNS zone as CoreDNS's ``kubernetes`` plugin serves it (``cluster.local``).

What it is: ``ClusterZone`` holds the Services, EndpointSlices and Endpoints a CoreDNS
instance has seen (its informers feed ``upsert``/``remove``) and answers questions from them,
following the Kubernetes DNS specification for Services:

- ``<svc>.<ns>.svc.cluster.local`` A: the ClusterIP; for a headless Service (clusterIP None)
  the addresses of its *ready* endpoints (EndpointSlices labelled
  ``kubernetes.io/service-name``; the Service's Endpoints object when it has no slices, as
  when no EndpointSlice controller runs); NXDOMAIN for an unknown Service;
- ``<hostname>.<svc>.<ns>.svc.cluster.local`` A: the endpoint carrying that ``hostname``
  (set from ``pod.spec.hostname`` when ``pod.spec.subdomain`` names the Service: the stable
  names of StatefulSet pods, ``web-0.nginx.default.svc.cluster.local``);
- ``_<port>._<proto>.<svc>.<ns>.svc.cluster.local`` SRV: the named port, targeting the
  Service name (ClusterIP) or each ready endpoint's name (headless);
- ExternalName Services answer a CNAME;
- ``a-b-c-d.<ns>.pod.cluster.local`` A: ``a.b.c.d`` (``pods insecure``);
- AAAA for a known name: NOERROR with no answer (the cluster is IPv4 only); names outside
  ``cluster.local`` would be forwarded upstream: the twin has no upstream, so NXDOMAIN, not
  authoritative.

Answers carry TTL 30 (the Corefile's ``ttl 30``); addresses come in endpoint order, deduplicated.

Concurrency model: none; one owner feeds it, any number of readers ask it, all on the loop
thread. ``answer`` is what the coredns pod's UDP/TCP socket on port 53 runs.

Invariants: the zone holds only what was fed to it (a cache, never mutated in place: objects
are replaced whole); an endpoint is published only when its ``ready`` condition is not false.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address
from typing import Any

from ._wire import (
    AAAA,
    CNAME,
    NOERROR,
    NXDOMAIN,
    SRV,
    A,
    DnsFormatError,
    DnsRecord,
    DnsResponse,
    decode_query,
    encode_response,
    tcp_frame,
    tcp_unframe,
)

__all__ = ["CLUSTER_DOMAIN", "TTL", "ClusterZone", "ready_addresses"]

CLUSTER_DOMAIN = "cluster.local"
TTL = 30
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Obj = Mapping[str, Any]
Key = tuple[str, str]


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name") or "")


def ready_addresses(slices: Iterable[Obj], endpoints: Obj | None) -> list[tuple[str, str]]:
    """(address, hostname) of the ready endpoints: from the slices if any, else the Endpoints.

    A slice endpoint is ready unless ``conditions.ready`` is false (nil means ready, as the
    EndpointSlice API defines it)."""
    out: list[tuple[str, str]] = []
    slices = list(slices)
    if slices:
        for s in slices:
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for addr in ep.get("addresses") or []:
                    out.append((addr, ep.get("hostname") or ""))
    elif endpoints is not None:
        for subset in endpoints.get("subsets") or []:
            for a in subset.get("addresses") or []:
                out.append((a.get("ip") or "", a.get("hostname") or ""))
    return list(dict.fromkeys(o for o in out if o[0]))


class ClusterZone:
    """The zone one CoreDNS instance serves (see the module docstring)."""

    def __init__(self, domain: str = CLUSTER_DOMAIN) -> None:
        self.domain = domain
        self.synced = False
        self.queries = 0
        self._services: dict[Key, Obj] = {}
        self._slices: dict[Key, Obj] = {}
        self._slices_by_svc: dict[Key, dict[str, None]] = {}
        self._endpoints: dict[Key, Obj] = {}

    # -- feeding ------------------------------------------------------------------------------
    def upsert(self, kind: str, obj: Obj) -> None:
        """A Service, EndpointSlice or Endpoints object as the informer now has it."""
        key = _key(obj)
        if kind == "services":
            self._services[key] = obj
        elif kind == "endpointslices":
            self._forget_slice(key)
            self._slices[key] = obj
            svc = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if svc:
                self._slices_by_svc.setdefault((key[0], svc), {})[key[1]] = None
        elif kind == "endpoints":
            self._endpoints[key] = obj
        else:
            raise ValueError(f"the zone does not hold {kind!r}")

    def remove(self, kind: str, key: Key) -> None:
        if kind == "services":
            self._services.pop(key, None)
        elif kind == "endpointslices":
            self._forget_slice(key)
        elif kind == "endpoints":
            self._endpoints.pop(key, None)

    def reset(self, objects: Mapping[str, Iterable[Obj]]) -> None:
        """Replace everything (after an informer relist): kind -> objects."""
        self._services.clear()
        self._slices.clear()
        self._slices_by_svc.clear()
        self._endpoints.clear()
        for kind, objs in objects.items():
            for obj in objs:
                self.upsert(kind, obj)
        self.synced = True

    def _forget_slice(self, key: Key) -> None:
        old = self._slices.pop(key, None)
        if old is None:
            return
        svc = ((old.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
        names = self._slices_by_svc.get((key[0], svc or ""))
        if names is not None:
            names.pop(key[1], None)

    # -- reading ------------------------------------------------------------------------------
    def service(self, namespace: str, name: str) -> Obj | None:
        return self._services.get((namespace, name))

    def endpoints_of(self, namespace: str, name: str) -> list[tuple[str, str]]:
        slices = [self._slices[(namespace, s)]
                  for s in self._slices_by_svc.get((namespace, name), {})
                  if (namespace, s) in self._slices]
        return ready_addresses(slices, self._endpoints.get((namespace, name)))

    def resolve(self, name: str, qtype: int = A) -> tuple[int, tuple[DnsRecord, ...], bool]:
        """(rcode, answers, authoritative) for a question."""
        name = name.lower().rstrip(".")
        suffix = "." + self.domain
        if not name.endswith(suffix):
            return NXDOMAIN, (), False
        labels = name[: -len(suffix)].split(".")
        if len(labels) >= 2 and labels[-1] == "pod":
            return self._pod(name, labels[:-1], qtype)
        if len(labels) < 3 or labels[-1] != "svc":
            return NXDOMAIN, (), True
        labels = labels[:-1]
        ns, svc_name, rest = labels[-1], labels[-2], labels[:-2]
        svc = self._services.get((ns, svc_name))
        if svc is None:
            return NXDOMAIN, (), True
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(name, svc, rest[0][1:], rest[1][1:], qtype)
        if len(rest) > 1:
            return NXDOMAIN, (), True
        return self._service(name, svc, rest[0] if rest else None, qtype)

    def _service(self, name: str, svc: Obj, host: str | None, qtype: int
                 ) -> tuple[int, tuple[DnsRecord, ...], bool]:
        spec = svc.get("spec") or {}
        ns, svc_name = _key(svc)
        if spec.get("type") == "ExternalName" and host is None:
            target = (spec.get("externalName") or "").rstrip(".")
            return NOERROR, (DnsRecord(name, CNAME, TTL, target),), True
        cluster_ip = spec.get("clusterIP") or ""
        if host is None and cluster_ip and cluster_ip != "None":
            ips = [cluster_ip]
        else:
            eps = self.endpoints_of(ns, svc_name)
            if host is not None:
                eps = [e for e in eps if e[1] == host]
            ips = [ip for ip, _ in eps]
            if not ips:
                return NXDOMAIN, (), True
        if qtype != A:
            return NOERROR, (), True
        return NOERROR, tuple(DnsRecord(name, A, TTL, ip) for ip in ips), True

    def _srv(self, name: str, svc: Obj, port_name: str, proto: str, qtype: int
             ) -> tuple[int, tuple[DnsRecord, ...], bool]:
        spec = svc.get("spec") or {}
        ns, svc_name = _key(svc)
        port = next((p for p in spec.get("ports") or []
                     if p.get("name") == port_name
                     and (p.get("protocol") or "TCP").lower() == proto.lower()), None)
        if port is None:
            return NXDOMAIN, (), True
        if qtype != SRV:
            return NOERROR, (), True
        base = f"{svc_name}.{ns}.svc.{self.domain}"
        cluster_ip = spec.get("clusterIP") or ""
        if cluster_ip and cluster_ip != "None":
            return NOERROR, (DnsRecord(name, SRV, TTL, base, int(port["port"]), 0, 100),), True
        recs = [DnsRecord(name, SRV, TTL, f"{host or ip.replace('.', '-')}.{base}",
                          int(port.get("targetPort") or port["port"])
                          if isinstance(port.get("targetPort"), int) else int(port["port"]),
                          0, 100)
                for ip, host in self.endpoints_of(ns, svc_name)]
        return (NOERROR, tuple(recs), True) if recs else (NXDOMAIN, (), True)

    def _pod(self, name: str, labels: list[str], qtype: int
             ) -> tuple[int, tuple[DnsRecord, ...], bool]:
        if len(labels) != 2:
            return NXDOMAIN, (), True
        try:
            ip = str(IPv4Address(labels[0].replace("-", ".")))
        except ValueError:
            return NXDOMAIN, (), True
        if qtype == AAAA or qtype != A:
            return NOERROR, (), True
        return NOERROR, (DnsRecord(name, A, TTL, ip),), True

    # -- the server ----------------------------------------------------------------------------
    def answer(self, payload: bytes, *, tcp: bool = False) -> bytes | None:
        """Answer one DNS message as the coredns process would (None: unreadable, dropped)."""
        try:
            query = decode_query(tcp_unframe(payload) if tcp else payload)
        except DnsFormatError:
            return None
        self.queries += 1
        rcode, answers, auth = self.resolve(query.name, query.qtype)
        msg = encode_response(DnsResponse(query.id, query.name, query.qtype, rcode, answers, auth))
        return tcp_frame(msg) if tcp else msg
