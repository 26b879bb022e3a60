"""EndpointSlice mirroring reconcile (``pkg/controller/endpointslicemirroring``): custom
``Endpoints`` of a Service without a selector, copied into ``discovery.k8s.io/v1``
EndpointSlices so that EndpointSlice consumers (kube-proxy ≥ 1.22) see them.

What it is: ``reconcile_mirrored_slices(endpoints, service, slices, *, max_per_subset)``
plans the slices mirrored for one ``namespace/name``. An Endpoints object is mirrored only
while it exists, is not labelled ``endpointslice.kubernetes.io/skip-mirror: "true"``, is not
a leader-election lock (``control-plane.alpha.kubernetes.io/leader`` annotation), and a
Service of the same name exists with a nil (or empty: the API stores them alike) selector;
otherwise every slice mirrored for the name is deleted (the skip label, a Service gaining a
selector or going away leave the owner alive, so the garbage collector would not do it).

The mapping, as the Kubernetes controller does it:
- the subsets are repacked first (``RepackSubsets``); each subset's port set, per address
  family, is one group with one slice: ports copied as they are (name, port, protocol,
  appProtocol); ``addresses`` become endpoints with ``conditions.ready: true``,
  ``notReadyAddresses`` with ``ready: false`` (the 1.21 fix of kubernetes#102683), each with
  hostname, nodeName and targetRef when set; IPv6 addresses go to an IPv6 slice;
- at most ``max_per_subset`` addresses of a subset are mirrored (ready ones first,
  ``--mirroring-max-endpoints-per-subset``, default 1000); the rest are dropped with a
  ``TooManyAddressesToMirror`` warning on the Endpoints, and addresses that are not IPs with
  an ``InvalidIPAddress`` warning (no annotation is written anywhere);
- a slice carries the Endpoints' labels, then ``kubernetes.io/service-name: <name>`` and
  ``endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io``; the
  Endpoints' annotations but ``endpoints.kubernetes.io/last-change-trigger-time`` and
  ``kubectl.kubernetes.io/last-applied-configuration``; ``generateName: <name>-``; one owner
  reference, the Endpoints as controller with blockOwnerDeletion;
- per group the first existing slice (by name) is kept and rewritten whole if its
  endpoints, labels or annotations differ, the others are deleted; slices of groups no
  longer wanted are deleted, but a slice about to be deleted is reused for a slice about to
  be created of the same address type (``recycleSlices``); nothing is created while the
  Endpoints is being deleted.

Concurrency model: none; pure functions.

Invariants: only slices labelled managed-by this controller for this name are touched; inputs
are never mutated (updates start from deep copies); nothing is written when every kept slice
already matches. Orders are deterministic (existing slices by name, groups by first
appearance, endpoints in subset order); Kubernetes iterates maps and sets, which we do not
reproduce.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.client import LEADER_ANNOTATION

from ._logic_endpoints import MANAGED_BY_LABEL, SERVICE_NAME_LABEL, repack_subsets
from ._plan import (
    WARNING,
    ObjectRef,
    Plan,
    PlanBuilder,
    annotations_of,
    deep_copy,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    new_controller_ref,
)

__all__ = ["reconcile_mirrored_slices"]

MIRRORING_MANAGED_BY = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
MAX_ENDPOINTS_PER_SUBSET = 1000
# Annotations of the Endpoints that are not copied to its slices.
_NOT_MIRRORED = ("endpoints.kubernetes.io/last-change-trigger-time",
                 "kubectl.kubernetes.io/last-applied-configuration")
_SLICE_API = "discovery.k8s.io/v1"

GroupKey = tuple[str, tuple[tuple[str, int, str, str], ...]]


def should_mirror(endpoints: Mapping[str, Any] | None) -> bool:
    """``shouldMirror``: neither skip-mirror nor a leader-election lock (the Service is
    checked apart)."""
    if endpoints is None:
        return False
    return labels_of(endpoints).get(SKIP_MIRROR_LABEL) != "true" \
        and LEADER_ANNOTATION not in annotations_of(endpoints)


def _has_selector(service: Mapping[str, Any]) -> bool:
    return bool((service.get("spec") or {}).get("selector"))


def parse_ip(text: str) -> tuple[str, str] | None:
    """``(address type, canonical text)`` of an address, as ``ParseIPSloppy`` then
    ``String()``: IPv4 octets may carry leading zeros (read as decimal), an IPv4-mapped
    IPv6 address is IPv4; None if it is not an IP."""
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        octets = [int(p) for p in parts]
        return ("IPv4", ".".join(map(str, octets))) if max(octets) <= 255 else None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return "IPv4", str(ip.ipv4_mapped)
        return "IPv6", str(ip)
    return "IPv4", str(ip)


def _slice_port(port: Mapping[str, Any]) -> dict[str, Any]:
    out = {"name": port.get("name") or "", "port": port.get("port"), "protocol": port.get("protocol") or "TCP"}
    if port.get("appProtocol"):
        out["appProtocol"] = port["appProtocol"]
    return out


def _ports_key(ports: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int, str, str], ...]:
    """Order-blind, as ``NewPortMapKey`` sorts the ports before hashing them."""
    return tuple(sorted((p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "",
                         p.get("appProtocol") or "") for p in ports))


def _endpoint(address: Mapping[str, Any], ip: str, ready: bool) -> dict[str, Any]:
    """``addressToEndpoint``."""
    ep: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    if address.get("targetRef"):
        ep["targetRef"] = deep_copy(dict(address["targetRef"]))
    return ep


class _Desired:
    """The wanted groups: key -> (ports, endpoints), plus the skip counts for the events."""

    def __init__(self, max_per_subset: int) -> None:
        self.max = max_per_subset
        self.groups: dict[GroupKey, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        self.invalid = 0
        self.skipped = 0

    def add_subset(self, subset: Mapping[str, Any]) -> None:
        ports = [_slice_port(p) for p in subset.get("ports") or ()]
        pkey = _ports_key(ports)
        for family in ("IPv4", "IPv6"):  # initPorts: both families' groups exist, maybe empty
            self.groups.setdefault((family, pkey), (ports, []))
        total = len(subset.get("addresses") or ()) + len(subset.get("notReadyAddresses") or ())
        added = 0
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or ():
                if added >= self.max:
                    break
                parsed = parse_ip(str(address.get("ip") or ""))
                if parsed is None:
                    self.invalid += 1
                    continue
                family, ip = parsed
                self.groups[(family, pkey)][1].append(_endpoint(address, ip, ready))
                added += 1
        self.skipped += total - added


def _repacked(endpoints: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``RepackSubsets`` over the Endpoints' own subsets."""
    entries: list[tuple[dict[str, Any], bool, dict[str, Any] | None]] = []
    for subset in endpoints.get("subsets") or ():
        ports: Sequence[Any] = subset.get("ports") or [None]
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or ():
                entries += [(dict(address), ready, dict(p) if p is not None else None) for p in ports]
    return repack_subsets(entries)


def _record_skips(b: PlanBuilder, endpoints: Mapping[str, Any], desired: _Desired) -> None:
    """The warnings ``reconcile`` records on the Endpoints at every sync that skips addresses."""
    ref = ObjectRef.of(endpoints, api_version="v1", kind="Endpoints")
    if desired.invalid:
        b.event(WARNING, "InvalidIPAddress",
                f"Skipped {desired.invalid} invalid IP addresses when mirroring to EndpointSlices", ref)
    if desired.skipped > desired.invalid:
        b.event(WARNING, "TooManyAddressesToMirror",
                f"A max of {desired.max} addresses can be mirrored to EndpointSlices per Endpoints subset. "
                f"{desired.skipped} addresses were skipped", ref)


def _mirrored_meta(endpoints: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    labels = {**labels_of(endpoints), SERVICE_NAME_LABEL: name_of(endpoints),
              MANAGED_BY_LABEL: MIRRORING_MANAGED_BY}
    annotations = {k: v for k, v in annotations_of(endpoints).items() if k not in _NOT_MIRRORED}
    return labels, annotations


def _slice_body(endpoints: Mapping[str, Any], family: str, ports: list[dict[str, Any]],
                eps: list[dict[str, Any]], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """``newEndpointSlice``: a new slice (generateName), or ``current`` rewritten whole."""
    labels, annotations = _mirrored_meta(endpoints)
    if current is None:
        meta: dict[str, Any] = {"generateName": f"{name_of(endpoints)}-", "namespace": namespace_of(endpoints)}
    else:
        meta = deep_copy(dict(meta_of(current)))
    meta["labels"] = labels
    meta["ownerReferences"] = [new_controller_ref(endpoints, api_version="v1", kind="Endpoints")]
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return {"apiVersion": _SLICE_API, "kind": "EndpointSlice", "metadata": meta, "addressType": family,
            "endpoints": deep_copy(eps), "ports": deep_copy(ports)}


def _canon(eps: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted(repr(sorted(e.items(), key=lambda kv: kv[0])) for e in eps)


def _matches(current: Mapping[str, Any], endpoints: Mapping[str, Any], eps: list[dict[str, Any]]) -> bool:
    """``totalChanges`` finds nothing and the labels and annotations are the mirrored ones."""
    labels, annotations = _mirrored_meta(endpoints)
    return (_canon(current.get("endpoints") or ()) == _canon(eps)
            and dict(labels_of(current)) == labels and dict(annotations_of(current)) == annotations)


def _slice_ref(s: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.of(s, api_version=_SLICE_API, kind="EndpointSlice")


def _group_of(s: Mapping[str, Any]) -> GroupKey:
    return (str(s.get("addressType") or ""), _ports_key(s.get("ports") or ()))


def mirrored_for(slices: Iterable[Mapping[str, Any]], namespace: str, name: str) -> list[Mapping[str, Any]]:
    """The slices this controller mirrored for ``namespace/name``, by name."""
    return sorted((s for s in slices if namespace_of(s) == namespace
                   and labels_of(s).get(SERVICE_NAME_LABEL) == name
                   and labels_of(s).get(MANAGED_BY_LABEL) == MIRRORING_MANAGED_BY), key=name_of)


def reconcile_mirrored_slices(endpoints: Mapping[str, Any] | None, service: Mapping[str, Any] | None,
                              slices: Iterable[Mapping[str, Any]], *, namespace: str, name: str,
                              max_per_subset: int = MAX_ENDPOINTS_PER_SUBSET) -> Plan:
    """The mirroring controller's ``syncEndpoints`` for ``namespace/name``: ``endpoints``
    and ``service`` are the cached objects of that name (None when absent), ``slices`` the
    namespace's EndpointSlices (only the ones mirrored for the name are considered)."""
    b = PlanBuilder()
    mine = mirrored_for(slices, namespace, name)
    if endpoints is None or not should_mirror(endpoints) or service is None or _has_selector(service):
        for s in mine:
            b.delete(_slice_ref(s))
        return b.build()
    desired = _Desired(max_per_subset)
    for subset in _repacked(endpoints):
        desired.add_subset(subset)
    _record_skips(b, endpoints, desired)
    existing: dict[GroupKey, list[Mapping[str, Any]]] = {}
    for s in mine:
        existing.setdefault(_group_of(s), []).append(s)
    creates: list[dict[str, Any]] = []
    updates: list[tuple[Mapping[str, Any], dict[str, Any]]] = []
    deletes: list[Mapping[str, Any]] = []
    for key, (ports, eps) in desired.groups.items():
        have = existing.pop(key, [])
        if not eps:
            deletes += have
            continue
        eps = eps[:max_per_subset]
        if not have:
            creates.append(_slice_body(endpoints, key[0], ports, eps, None))
            continue
        deletes += have[1:]
        if not _matches(have[0], endpoints, eps):
            updates.append((have[0], _slice_body(endpoints, key[0], ports, eps, have[0])))
    for rest in existing.values():
        deletes += rest
    _recycle(endpoints, creates, updates, deletes)
    if not meta_of(endpoints).get("deletionTimestamp"):
        ref = ObjectRef(api_version=_SLICE_API, kind="EndpointSlice", namespace=namespace)
        for body in creates:
            b.create(ref, body)
    for current, body in updates:
        b.update(_slice_ref(current), body)
    for s in deletes:
        b.delete(_slice_ref(s))
    return b.build()


def _recycle(endpoints: Mapping[str, Any], creates: list[dict[str, Any]],
             updates: list[tuple[Mapping[str, Any], dict[str, Any]]], deletes: list[Mapping[str, Any]]) -> None:
    """``recycleSlices``: a create and a delete of the same address type become an update
    of the slice that would have been deleted (its addressType is immutable, its ports are
    not)."""
    for body in list(creates):
        old = next((s for s in deletes if s.get("addressType") == body["addressType"]), None)
        if old is None:
            continue
        creates.remove(body)
        deletes.remove(old)
        updates.append((old, _slice_body(endpoints, body["addressType"], body["ports"], body["endpoints"], old)))
