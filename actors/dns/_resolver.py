"""The stub resolver inside a pod: glibc's, configured by the kubelet's resolv.conf.

What it is: a ``ClusterFirst`` pod's ``/etc/resolv.conf`` is ``nameserver 10.96.0.10``,
``search <ns>.svc.cluster.local svc.cluster.local cluster.local`` and ``options ndots:5``.
``resolve(name, namespace, exchange)`` tries the candidate names in glibc's order — a name
with fewer than ``ndots`` dots goes through the search list first, then as is; a name with
as many or more (or ending in ``.``) goes as is first — sending one A query per candidate
through ``exchange`` (the caller's UDP round trip to the nameserver, through the simulated
network) until one answers with addresses. Every attempt is kept (``Lookup``) so a caller can
show which packets went where.

Concurrency model: none; ``exchange`` is synchronous (netsim's ``Fabric.request``).

Invariants: query ids are a pure function of the name (deterministic runs); a name is
answered only by a NOERROR response with at least one A record for the id asked.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import msgspec

from ._wire import NOERROR, A, DnsFormatError, DnsQuery, decode_response, encode_query
from ._zone import CLUSTER_DOMAIN

__all__ = ["KUBE_DNS_IP", "NDOTS", "Lookup", "ResolveError", "candidates", "resolve",
           "search_list"]

KUBE_DNS_IP = "10.96.0.10"  # kubeadm's clusterDNS: the tenth address of 10.96.0.0/12
NDOTS = 5
# (query bytes) -> (reply bytes or None, forward Delivery, return Delivery or None)
Exchange = Callable[[bytes], tuple[bytes | None, Any, Any]]


class Lookup(msgspec.Struct, frozen=True):
    """One query and what came of it (``addresses`` empty: no answer for that name)."""

    name: str
    rcode: int | None  # None: no response came back
    addresses: tuple[str, ...]
    delivery: Any = None  # netsim.Delivery of the query
    reply: Any = None  # netsim.Delivery of the response
    error: str = ""


class ResolveError(Exception):
    """No candidate name resolved (curl: ``Could not resolve host``)."""

    def __init__(self, name: str, lookups: list[Lookup]) -> None:
        why = next((lk.error for lk in lookups if lk.error), "")
        super().__init__(f"Could not resolve host: {name}" + (f" ({why})" if why else ""))
        self.name = name
        self.lookups = lookups


def search_list(namespace: str, domain: str = CLUSTER_DOMAIN) -> list[str]:
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


def candidates(name: str, namespace: str, *, ndots: int = NDOTS,
               domain: str = CLUSTER_DOMAIN) -> list[str]:
    """The names glibc asks for, in order (``res_search``)."""
    if name.endswith("."):
        return [name.rstrip(".")]
    searched = [f"{name}.{d}" for d in search_list(namespace, domain)]
    return [name, *searched] if name.count(".") >= ndots else [*searched, name]


def _ask(name: str, exchange: Exchange) -> Lookup:
    qid = zlib.crc32(name.encode()) & 0xFFFF
    reply, forward, back = exchange(encode_query(DnsQuery(qid, name, A)))
    if reply is None:
        reason = getattr(forward, "reason", "") or "no response"
        return Lookup(name, None, (), forward, back, f"connection timed out; {reason}")
    try:
        resp = decode_response(reply)
    except DnsFormatError as e:
        return Lookup(name, None, (), forward, back, f"bad response: {e}")
    if resp.id != qid:
        return Lookup(name, None, (), forward, back, "response id mismatch")
    addrs = tuple(rr.data for rr in resp.answers if rr.rtype == A)
    return Lookup(name, resp.rcode, addrs if resp.rcode == NOERROR else (), forward, back)


def resolve(name: str, namespace: str, exchange: Exchange, *, ndots: int = NDOTS,
            domain: str = CLUSTER_DOMAIN) -> tuple[str, list[Lookup]]:
    """The first address of the first candidate that resolves, and every lookup made."""
    lookups: list[Lookup] = []
    for candidate in candidates(name, namespace, ndots=ndots, domain=domain):
        lk = _ask(candidate, exchange)
        lookups.append(lk)
        if lk.addresses:
            return lk.addresses[0], lookups
        if lk.rcode is None:
            break  # the nameserver is unreachable: glibc gives up rather than search on
    raise ResolveError(name, lookups)
