"""Endpoints and EndpointSlice reconcile (``pkg/controller/endpoint``,
``pkg/controller/endpointslice`` and ``endpointslice/util``).

What it is: ``reconcile_endpoints(service, pods, endpoints, *, now)`` builds the Service's
``Endpoints``: one address per selected pod that has an IP and is not terminal (nor being
deleted, unless ``publishNotReadyAddresses``), in ``addresses`` when Ready (or when not-ready
addresses are published) else in ``notReadyAddresses``, with ``hostname`` when the pod's
subdomain is the Service; each service port resolves its ``targetPort`` per pod (a name
looks up the container port of that name and protocol, a number is used as is), and
addresses are repacked into subsets sharing a port set. At most 1000 addresses are kept,
annotated ``endpoints.kubernetes.io/over-capacity: truncated``.
``reconcile_endpoint_slices(service, pods, slices, nodes, *, now)`` keeps the Service's
``discovery.k8s.io/v1`` EndpointSlices (at most 100 endpoints each, one group per resolved
port set, with ready/serving/terminating conditions, nodeName and zone), filling existing
slices before creating new ones, with a placeholder slice when nothing is selected. As the
reconciler's ``finalize``: a slice that would be deleted while another is created is updated
into it instead (so the placeholder becomes the first real slice, keeping its name), and the
writes go creates, then updates, then deletes.

Concurrency model: none; pure functions.

Invariants: Services without a selector and ExternalName Services are left alone (their
endpoints are someone else's); nothing is written when the computed object equals the
current one. Orders are deterministic (addresses by IP then pod uid, ports by name, port,
protocol); Kubernetes orders subsets and ports by a hash, which we do not reproduce.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.api import set_matches

from ._logic_replicaset import is_pod_ready
from ._plan import (
    WARNING,
    Event,
    ObjectRef,
    Plan,
    PlanBuilder,
    deep_copy,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    new_controller_ref,
    uid_of,
)

__all__ = ["find_port", "reconcile_endpoint_slices", "reconcile_endpoints"]

MAX_ENDPOINTS_CAPACITY = 1000
MAX_ENDPOINTS_PER_SLICE = 100
HEADLESS_LABEL = "service.kubernetes.io/headless"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """``podutil.FindPort``: a named targetPort is the container port of that name and the
    service port's protocol (sidecar init containers included); a number is itself."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in [*(spec.get("containers") or ()), *sidecars]:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _selects(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") != "ExternalName" and bool(spec.get("selector"))


def _selected_pods(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    selector = (service.get("spec") or {}).get("selector") or {}
    ns = namespace_of(service)
    return [p for p in pods if namespace_of(p) == ns
            and set_matches(selector, (p.get("metadata") or {}).get("labels"))]


def _in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``: an IP, not terminal, terminating only if asked."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not meta_of(pod).get("deletionTimestamp")


def _ipv6_service(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None":
        return ":" in cluster_ip
    return (spec.get("ipFamilies") or ["IPv4"])[0] == "IPv6"


def _pod_ip(pod: Mapping[str, Any], ipv6: bool) -> str | None:
    status = pod.get("status") or {}
    ips = [x.get("ip") for x in status.get("podIPs") or () if x.get("ip")] or [status.get("podIP")]
    return next((ip for ip in ips if ip and (":" in ip) == ipv6), None)


def _hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> str | None:
    """``ShouldSetHostname``: the pod names the Service as its subdomain."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == name_of(service) \
            and namespace_of(pod) == namespace_of(service):
        return spec["hostname"]
    return None


def _target_ref(pod: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "Pod", "namespace": namespace_of(pod), "name": name_of(pod), "uid": uid_of(pod)}


def _endpoint_port(service_port: Mapping[str, Any], number: int) -> dict[str, Any]:
    port = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str]:
    return (port.get("name", ""), int(port.get("port", 0)), port.get("protocol", ""))


# -- Endpoints ------------------------------------------------------------------------------


def repack_subsets(entries: Sequence[tuple[dict[str, Any], bool, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """``RepackSubsets``: per port, the addresses offering it (ready wins), then one subset
    per distinct address set with all its ports."""
    by_port: dict[tuple[Any, ...], dict[tuple[str, str], tuple[dict[str, Any], bool]]] = {}
    ports: dict[tuple[Any, ...], dict[str, Any] | None] = {}
    for addr, ready, port in entries:
        pkey = _port_key(port) if port is not None else ("", -1, "")
        ports[pkey] = port
        akey = (addr["ip"], (addr.get("targetRef") or {}).get("uid", ""))
        prev = by_port.setdefault(pkey, {}).get(akey)
        if prev is None or (ready and not prev[1]):
            by_port[pkey][akey] = (addr, ready)
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for pkey, addrs in by_port.items():
        groups.setdefault(tuple(sorted((k, r) for k, (_, r) in addrs.items())), []).append(pkey)
    subsets = []
    for members, pkeys in groups.items():
        addrs = by_port[pkeys[0]]
        subset: dict[str, Any] = {}
        ready = [addrs[k][0] for k, r in members if r]
        not_ready = [addrs[k][0] for k, r in members if not r]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real = sorted((ports[p] for p in pkeys if ports[p] is not None), key=_port_key)
        if real:
            subset["ports"] = real
        subsets.append(subset)
    subsets.sort(key=lambda s: ([a["ip"] for a in s.get("addresses", []) + s.get("notReadyAddresses", [])],
                                [_port_key(p) for p in s.get("ports", [])]))
    return subsets


def _truncate(subsets: list[dict[str, Any]]) -> bool:
    """``truncateEndpoints``: keep at most 1000 addresses, ready ones first."""
    total = sum(len(s.get("addresses", [])) + len(s.get("notReadyAddresses", [])) for s in subsets)
    if total <= MAX_ENDPOINTS_CAPACITY:
        return False
    room = MAX_ENDPOINTS_CAPACITY
    for field in ("addresses", "notReadyAddresses"):
        for s in subsets:
            keep = s.get(field, [])[:room]
            room -= len(keep)
            if field in s:
                s[field] = keep
                if not keep:
                    del s[field]
    return True


def _desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    ipv6 = _ipv6_service(service)
    entries: list[tuple[dict[str, Any], bool, dict[str, Any] | None]] = []
    for pod in _selected_pods(service, pods):
        ip = _pod_ip(pod, ipv6)
        if not _in_endpoints(pod, publish) or ip is None:
            continue
        addr: dict[str, Any] = {"ip": ip}
        if (host := _hostname(pod, service)) is not None:
            addr["hostname"] = host
        if (pod.get("spec") or {}).get("nodeName"):
            addr["nodeName"] = pod["spec"]["nodeName"]
        addr["targetRef"] = _target_ref(pod)
        ready = publish or is_pod_ready(pod)
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":  # headless without ports still lists addresses
                entries.append((addr, ready, None))
            continue
        for sp in spec["ports"]:
            number = find_port(pod, sp)
            if number is not None:
                entries.append((addr, ready, _endpoint_port(sp, number)))
    return repack_subsets(entries)


def reconcile_endpoints(service: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]],
                        endpoints: Mapping[str, Any] | None, *, now: float) -> Plan:
    """The endpoints controller's ``syncService``. A None ``service`` (deleted) deletes the
    Endpoints of the same name."""
    b = PlanBuilder()
    if service is None:
        if endpoints is not None:
            b.delete(ObjectRef.of(endpoints, api_version="v1", kind="Endpoints"))
        return b.build()
    if not _selects(service):
        return b.build()
    subsets = _desired_subsets(service, pods)
    current = deep_copy(dict(endpoints)) if endpoints is not None else {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name_of(service), "namespace": namespace_of(service)}}
    meta = current.setdefault("metadata", {})
    labels = dict(labels_of(service))
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    annotations = dict(meta.get("annotations") or {})
    annotations.pop("endpoints.kubernetes.io/last-change-trigger-time", None)
    if _truncate(subsets):
        annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY_ANNOTATION, None)
    desired = {**current, "metadata": {**meta, "labels": labels}}
    if annotations:
        desired["metadata"]["annotations"] = annotations
    else:
        desired["metadata"].pop("annotations", None)
    if subsets:
        desired["subsets"] = subsets
    else:
        desired.pop("subsets", None)
    if endpoints is not None and desired == current:
        return b.build()
    ref = ObjectRef.of(desired, api_version="v1", kind="Endpoints")
    svc = f"{namespace_of(service)}/{name_of(service)}"
    if endpoints is None:
        b.create(ref, desired, on_failure=[Event(type=WARNING, reason="FailedToCreateEndpoint", involved=ref,
                                                 message=f"Failed to create endpoint for service {svc}: {{error}}")])
    else:
        b.update(ref, desired, on_failure=[Event(type=WARNING, reason="FailedToUpdateEndpoint", involved=ref,
                                                 message=f"Failed to update endpoint {svc}: {{error}}")])
    return b.build()


# -- EndpointSlices --------------------------------------------------------------------------------


def _slice_endpoint(pod: Mapping[str, Any], service: Mapping[str, Any], ip: str,
                    zones: Mapping[str, str]) -> dict[str, Any]:
    """``podToEndpoint``: ready is never true while terminating (unless not-ready addresses
    are published); serving follows the Ready condition."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    terminating = bool(meta_of(pod).get("deletionTimestamp"))
    serving = publish or is_pod_ready(pod)
    ep: dict[str, Any] = {"addresses": [ip], "conditions": {
        "ready": serving and (publish or not terminating), "serving": serving, "terminating": terminating}}
    if (host := _hostname(pod, service)) is not None:
        ep["hostname"] = host
    ep["targetRef"] = _target_ref(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
        if zones.get(node):
            ep["zone"] = zones[node]
    return ep


def _desired_endpoints(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                       zones: Mapping[str, str]) -> dict[tuple[Any, ...], tuple[list[Any], list[Any]]]:
    """Endpoints grouped by their resolved port list (pods may resolve named ports apart)."""
    spec = service.get("spec") or {}
    ipv6 = _ipv6_service(service)
    groups: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}
    for pod in _selected_pods(service, pods):
        ip = _pod_ip(pod, ipv6)
        if ip is None or not _in_endpoints(pod, True):
            continue
        ports = []
        for sp in spec.get("ports") or ():
            number = find_port(pod, sp)
            if number is not None:
                ports.append(_endpoint_port(sp, number))
        ports.sort(key=_port_key)
        key = tuple(_port_key(p) for p in ports)
        groups.setdefault(key, (ports, []))[1].append(_slice_endpoint(pod, service, ip, zones))
    return groups


def _slice_labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in labels_of(service).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)}
    labels[SERVICE_NAME_LABEL] = name_of(service)
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def _new_slice(service: Mapping[str, Any], address_type: str, ports: list[Any],
               endpoints: list[Any]) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{name_of(service)}-", "namespace": namespace_of(service),
                         "labels": _slice_labels(service),
                         "ownerReferences": [new_controller_ref(service, api_version="v1", kind="Service")]},
            "addressType": address_type, "endpoints": endpoints, "ports": ports}


def _ep_key(ep: Mapping[str, Any]) -> tuple[str, str]:
    return ((ep.get("targetRef") or {}).get("uid", ""), (ep.get("addresses") or [""])[0])


def reconcile_endpoint_slices(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                              slices: Iterable[Mapping[str, Any]], nodes: Iterable[Mapping[str, Any]] = (),
                              *, now: float, max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """The EndpointSlice controller's ``syncService`` (its reconciler, simplified: slices
    are filled in place, never rebalanced)."""
    b = PlanBuilder()
    if not _selects(service):
        return b.build()
    address_type = "IPv6" if _ipv6_service(service) else "IPv4"
    zones = {name_of(n): labels_of(n).get(ZONE_LABEL, "") for n in nodes}
    desired = _desired_endpoints(service, pods, zones)
    mine = sorted((s for s in slices if namespace_of(s) == namespace_of(service)
                   and labels_of(s).get(SERVICE_NAME_LABEL) == name_of(service)
                   and labels_of(s).get(MANAGED_BY_LABEL) == MANAGED_BY), key=name_of)
    keep_placeholder = not desired
    updates: list[tuple[Mapping[str, Any], dict[str, Any]]] = []
    deletes: list[Mapping[str, Any]] = []
    for s in mine:
        key = tuple(_port_key(p) for p in sorted(s.get("ports") or [], key=_port_key))
        want = {_ep_key(e): e for e in desired[key][1]} if key in desired else {}
        kept = [want.pop(_ep_key(e)) for e in s.get("endpoints") or () if _ep_key(e) in want]
        if key in desired:
            desired[key] = (desired[key][0], list(want.values()))
        room = max_per_slice - len(kept)
        if key in desired and room > 0:
            kept += desired[key][1][:room]
            desired[key] = (desired[key][0], desired[key][1][room:])
        if not kept and not keep_placeholder:
            deletes.append(s)
            continue
        keep_placeholder = False
        updated = {**deep_copy(dict(s)), "endpoints": kept,
                   "metadata": {**deep_copy(dict(meta_of(s))), "labels": _slice_labels(service)}}
        if not kept and not desired:
            updated["ports"] = []
        if updated != s:
            updates.append((s, updated))
    creates = [_new_slice(service, address_type, ports, endpoints[i:i + max_per_slice])
               for ports, endpoints in desired.values()
               for i in range(0, len(endpoints), max_per_slice)]
    if keep_placeholder:
        creates.append(_new_slice(service, address_type, [], []))
    # finalize: a slice that would be deleted while another is created is updated into it
    # instead (same address type: every slice here has the Service's), the last create
    # taking the first such slice's name.
    while deletes and creates:
        old, body = deletes.pop(0), creates.pop()
        updates.append((old, {**body, "metadata": {
            **deep_copy(dict(meta_of(old))), "labels": body["metadata"]["labels"]}}))
    ref = ObjectRef(api_version="discovery.k8s.io/v1", kind="EndpointSlice", namespace=namespace_of(service))
    # Kubernetes' order: creates, then updates, then deletes — never a moment with fewer
    # endpoints published than before or after.
    for body in creates:
        b.create(ref, body)
    for old, updated in updates:
        b.update(ObjectRef.of(old, api_version="discovery.k8s.io/v1", kind="EndpointSlice"), updated)
    for old in deletes:
        b.delete(ObjectRef.of(old, api_version="discovery.k8s.io/v1", kind="EndpointSlice"))
    return b.build()
