"""Cluster DNS: CoreDNS's ``kubernetes`` plugin, its addon, and the stub resolver in pods.

What it is: ``ClusterZone`` (the records CoreDNS serves for Services, headless endpoints,
StatefulSet pod names and pod IPs), the DNS wire format it speaks (RFC 1035, one question),
the ``CoreDNS`` actor (the addon's bootstrap and the informers feeding the zone), the
``coredns`` component factory, and ``resolve`` — what glibc does in a ``ClusterFirst`` pod
(search list, ndots:5) — so a name is looked up with real UDP packets: pod → kube-dns
ClusterIP 10.96.0.10 (DNAT by kube-proxy) → a coredns pod → back.

Concurrency model: the zone, the wire format and the resolver are synchronous and pure;
the actor runs its bootstrap and informers as spawned tasks.
"""

from ._actor import ZONE_KINDS, CoreDNS, CoreDNSConfig
from ._addon import (
    COREDNS_IMAGE,
    COREDNS_LABELS,
    COREFILE,
    addon_objects,
    bare_pod,
    coredns_deployment,
    kube_dns_service,
    random_suffix,
    template_hash,
)
from ._resolver import KUBE_DNS_IP, NDOTS, Lookup, ResolveError, candidates, resolve, search_list
from ._wire import (
    AAAA,
    CNAME,
    FORMERR,
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    SRV,
    A,
    DnsFormatError,
    DnsQuery,
    DnsRecord,
    DnsResponse,
    decode_query,
    decode_response,
    encode_query,
    encode_response,
    tcp_frame,
    tcp_unframe,
)
from ._zone import CLUSTER_DOMAIN, TTL, ClusterZone, ready_addresses

# isort: split
# Last: it imports actors.cluster, which may import this package back.
from ._component import COREDNS_REPOSITORY, ZONE_KEY, cluster_zone, coredns_sockets

__all__ = [
    "AAAA",
    "CLUSTER_DOMAIN",
    "CNAME",
    "COREDNS_IMAGE",
    "COREDNS_LABELS",
    "COREDNS_REPOSITORY",
    "COREFILE",
    "FORMERR",
    "KUBE_DNS_IP",
    "NDOTS",
    "NOERROR",
    "NXDOMAIN",
    "SERVFAIL",
    "SRV",
    "TTL",
    "ZONE_KEY",
    "ZONE_KINDS",
    "A",
    "ClusterZone",
    "CoreDNS",
    "CoreDNSConfig",
    "DnsFormatError",
    "DnsQuery",
    "DnsRecord",
    "DnsResponse",
    "Lookup",
    "ResolveError",
    "addon_objects",
    "bare_pod",
    "candidates",
    "cluster_zone",
    "coredns_deployment",
    "coredns_sockets",
    "decode_query",
    "decode_response",
    "encode_query",
    "encode_response",
    "kube_dns_service",
    "random_suffix",
    "ready_addresses",
    "resolve",
    "search_list",
    "tcp_frame",
    "tcp_unframe",
    "template_hash",
]
