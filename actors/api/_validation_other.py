"""Validation of the non-workload kinds: Service, Endpoints, EndpointSlice, Namespace,
Node, ConfigMap, Secret, ServiceAccount, PersistentVolume(Claim), Event, Lease, Binding,
ComponentStatus, RBAC and StorageClass.

What it is: the checks of ``pkg/apis/core/validation`` (ValidateService,
ValidateConfigMap, ValidateSecret, ValidatePersistentVolumeClaim, ...) and of the
rbac, storage, coordination and discovery validation packages, create and update.

Concurrency model: none; pure functions.

Invariants: see ``_validation``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import msgspec
from msgspec.structs import replace

from . import _core_other as core
from . import _discovery as disc
from ._validation import (
    Cause,
    check,
    child,
    dns1035_label,
    dns_label,
    dns_subdomain,
    duplicate,
    forbidden,
    immutable,
    invalid_value,
    not_supported,
    port_num,
    port_num_or_name,
    register,
    required,
    too_long,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)

__all__: list[str] = []

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE_SET = "field is immutable when `immutable` is set"


def _meta(obj: Any, old: Any, namespaced: bool = True, name_fn: Any = dns_subdomain) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.metadata, namespaced, name_fn)
    return validate_object_meta_update(obj.metadata, old.metadata)


def _meta_both(obj: Any, old: Any, namespaced: bool = True,
               name_fn: Any = dns_subdomain) -> list[Cause]:
    """Kinds whose update re-runs the create checks on the new object too."""
    errs = _meta(obj, old, namespaced, name_fn)
    if old is not None:
        errs += _meta(obj, None, namespaced, name_fn)
    return errs


def _ip(value: str | None, path: str) -> list[Cause]:
    try:
        ipaddress.ip_address(value or "")
    except ValueError:
        return [invalid_value(path, value or "", _IP_MSG)]
    return []


def _cidr(value: str, path: str) -> list[Cause]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [invalid_value(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
                              "2001:db8::/64)")]
    return []


# -- Service, Endpoints, EndpointSlice ------------------------------------------------------


def _service_port(p: core.ServicePort, require_name: bool, names: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    if require_name and not p.name:
        errs.append(required(child(path, "name")))
    elif p.name:
        errs += check(p.name, child(path, "name"), dns_label)
        if p.name in names:
            errs.append(duplicate(child(path, "name"), p.name))
        names.add(p.name)
    errs += [invalid_value(child(path, "port"), p.port or 0, m) for m in port_num(p.port or 0)]
    if p.protocol is not None and p.protocol not in _PROTOCOLS:
        errs.append(not_supported(child(path, "protocol"), p.protocol, _PROTOCOLS))
    if p.target_port is not None:
        errs += port_num_or_name(p.target_port, child(path, "targetPort"))
    return errs


def _service_spec(spec: core.ServiceSpec) -> list[Cause]:
    errs: list[Cause] = []
    headless = spec.cluster_ip == "None"
    if not spec.ports and not headless and spec.type != "ExternalName":
        errs.append(required("spec.ports"))
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid_value("spec.clusterIPs[0]", "None",
                                  f"may not be set to 'None' for {spec.type} services"))
    if spec.type == "ExternalName":
        cname = (spec.external_name or "").removesuffix(".")
        errs += check(cname, "spec.externalName", dns_subdomain) if cname else [
            required("spec.externalName")]
    names: set[str] = set()
    many = len(spec.ports or []) > 1
    for i, p in enumerate(spec.ports or []):
        errs += _service_port(p, many, names, f"spec.ports[{i}]")
    errs += validate_labels(spec.selector, "spec.selector")
    sa = spec.session_affinity
    if sa not in (None, "", "ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", sa, ("ClientIP", "None")))
    if sa == "None" and spec.session_affinity_config is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    for i, ip in enumerate(spec.external_ips or []):
        errs += _ip(ip, f"spec.externalIPs[{i}]")
    if spec.type not in (None, "") and spec.type not in _SERVICE_TYPES:
        errs.append(not_supported("spec.type", spec.type, _SERVICE_TYPES))
    return errs + _service_ports_and_policies(spec)


def _service_ports_and_policies(spec: core.ServiceSpec) -> list[Cause]:
    errs: list[Cause] = []
    seen_nodeports: set[tuple[str | None, int]] = set()
    seen_ports: set[tuple[str | None, int | None]] = set()
    for i, p in enumerate(spec.ports or []):
        if spec.type == "ClusterIP" and p.node_port:
            errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
        if p.node_port:
            if (p.protocol, p.node_port) in seen_nodeports:
                errs.append(duplicate(f"spec.ports[{i}].nodePort", p.node_port))
            seen_nodeports.add((p.protocol, p.node_port))
        if (p.protocol, p.port) in seen_ports:
            errs.append(duplicate(f"spec.ports[{i}]", core.ServicePort(protocol=p.protocol, port=p.port)))
        seen_ports.add((p.protocol, p.port))
    external = spec.type in ("NodePort", "LoadBalancer") or bool(spec.external_ips)
    etp = spec.external_traffic_policy
    if not external and etp:
        errs.append(invalid_value("spec.externalTrafficPolicy", etp,
                                  "may only be set for externally-accessible services"))
    elif etp and etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.internal_traffic_policy
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    if spec.allocate_load_balancer_node_ports is not None and spec.type != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts",
                              "may only be used when `type` is 'LoadBalancer'"))
    return errs


@register(core.Service)
def _service(svc: core.Service, old: core.Service | None) -> list[Cause]:
    spec = svc.spec or core.ServiceSpec()
    errs = _meta_both(svc, old, True, dns1035_label)
    if old is not None:
        o = old.spec or core.ServiceSpec()
        moving = "ExternalName" in (spec.type, o.type)
        if o.cluster_ip and not moving and spec.cluster_ip != o.cluster_ip:
            errs.append(invalid_value("spec.clusterIPs[0]", spec.cluster_ips or [spec.cluster_ip],
                                      "may not change once set"))
    return errs + _service_spec(spec)


@register(core.Endpoints)
def _endpoints(ep: core.Endpoints, old: core.Endpoints | None) -> list[Cause]:
    errs = _meta_both(ep, old)
    for i, ss in enumerate(ep.subsets or []):
        ip = f"subsets[{i}]"
        if not ss.addresses and not ss.not_ready_addresses:
            errs.append(required(ip, "must specify `addresses` or `notReadyAddresses`"))
        for key, addrs in (("addresses", ss.addresses), ("notReadyAddresses", ss.not_ready_addresses)):
            for j, a in enumerate(addrs or []):
                ap = f"{ip}.{key}[{j}]"
                errs += _ip(a.ip, child(ap, "ip"))
                if a.hostname:
                    errs += check(a.hostname, child(ap, "hostname"), dns_label)
                if a.node_name is not None:
                    errs += check(a.node_name, child(ap, "nodeName"), dns_subdomain)
        for j, p in enumerate(ss.ports or []):
            pp = f"{ip}.ports[{j}]"
            if len(ss.ports or []) > 1 and not p.name:
                errs.append(required(child(pp, "name")))
            elif p.name:
                errs += check(p.name, child(pp, "name"), dns_label)
            errs += [invalid_value(child(pp, "port"), p.port or 0, m) for m in port_num(p.port or 0)]
            if p.protocol is not None and p.protocol not in _PROTOCOLS:
                errs.append(not_supported(child(pp, "protocol"), p.protocol, _PROTOCOLS))
    return errs


@register(disc.EndpointSlice)
def _endpoint_slice(es: disc.EndpointSlice, old: disc.EndpointSlice | None) -> list[Cause]:
    errs = _meta_both(es, old)
    at = es.address_type
    if old is None and at not in ("IPv4", "IPv6", "FQDN"):
        errs.append(not_supported("addressType", at or "", ("FQDN", "IPv4", "IPv6")))
    if old is not None:
        errs += immutable(at, old.address_type, "addressType")
    for i, e in enumerate(es.endpoints or []):
        if not e.addresses:
            errs.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
        elif at in ("IPv4", "IPv6"):
            for j, a in enumerate(e.addresses):
                errs += _ip(a, f"endpoints[{i}].addresses[{j}]")
    for i, p in enumerate(es.ports or []):
        if p.port is not None:
            errs += [invalid_value(f"ports[{i}].port", p.port, m) for m in port_num(p.port)]
        if p.protocol is not None and p.protocol not in _PROTOCOLS:
            errs.append(not_supported(f"ports[{i}].protocol", p.protocol, _PROTOCOLS))
    return errs


# -- Namespace, Node ----------------------------------------------------------------------


@register(core.Namespace)
def _namespace(ns: core.Namespace, old: core.Namespace | None) -> list[Cause]:
    if old is not None:
        return validate_object_meta_update(ns.metadata, old.metadata)
    errs = validate_object_meta(ns.metadata, False, dns_label)
    from ._names import is_qualified_name

    for f in (ns.spec.finalizers or []) if ns.spec else []:
        errs += check(f, "spec.finalizers", is_qualified_name)
        if "/" not in f and f not in ("kubernetes", "orphan", "foregroundDeletion"):
            errs.append(invalid_value("spec.finalizers", f, "name is neither a standard "
                                      "finalizer name nor is it fully qualified"))
    return errs


def _taints(taints: list[core.Taint] | None, path: str) -> list[Cause]:
    from ._names import is_qualified_name, is_valid_label_value

    errs: list[Cause] = []
    seen: set[tuple[str | None, str | None]] = set()
    effects = ("NoSchedule", "PreferNoSchedule", "NoExecute")
    for i, t in enumerate(taints or []):
        ip = f"{path}[{i}]"
        errs += check(t.key or "", child(ip, "key"), is_qualified_name)
        msgs = is_valid_label_value(t.value or "")
        if msgs:
            errs.append(invalid_value(child(ip, "value"), t.value or "", ";".join(msgs)))
        if not t.effect:
            errs.append(required(child(ip, "effect")))
        elif t.effect not in effects:
            errs.append(not_supported(child(ip, "effect"), t.effect, effects))
        if (t.key, t.effect) in seen:
            d = duplicate(ip, t)
            errs.append(replace(d, message=d.message + ": taints must be unique by key and effect pair"))
            continue
        seen.add((t.key, t.effect))
    return errs


def _node_resources(node: core.Node) -> list[Cause]:
    from ._quantity import QuantityError, parse_quantity

    errs: list[Cause] = []
    st = node.status or core.NodeStatus()
    for name, rl in (("capacity", st.capacity), ("allocatable", st.allocatable)):
        for k, v in (rl or {}).items():
            try:
                q = parse_quantity(v)
            except (QuantityError, TypeError) as e:
                errs.append(invalid_value(f"status.{name}.{k}", v, str(e)))
                continue
            if q.sign() < 0:
                errs.append(invalid_value(f"status.{name}.{k}", str(q), "must be greater than or equal to 0"))
    return errs


@register(core.Node)
def _node(node: core.Node, old: core.Node | None) -> list[Cause]:
    spec = node.spec or core.NodeSpec()
    errs = _meta(node, old, False)
    errs += _taints(spec.taints, "metadata.taints")
    errs += _node_resources(node)
    for i, c in enumerate(spec.pod_cidrs or []):
        errs += _cidr(c, f"spec.podCIDRs[{i}]")
    if old is not None:
        o = old.spec or core.NodeSpec()
        if o.pod_cidrs and o.pod_cidrs != spec.pod_cidrs:
            errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
        if o.provider_id and o.provider_id != spec.provider_id:
            errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return errs


# -- ConfigMap, Secret, ServiceAccount -----------------------------------------------------


def _config_key(key: str) -> list[str]:
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                    "is '[-._a-zA-Z0-9]+')")
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _immutable_data(obj: Any, old: Any, fields: tuple[tuple[str, str], ...]) -> list[Cause]:
    if old is None or not old.immutable:
        return []
    errs = [] if obj.immutable else [forbidden("immutable", IMMUTABLE_SET)]
    return errs + [forbidden(name, IMMUTABLE_SET) for attr, name in fields
                   if getattr(obj, attr) != getattr(old, attr)]


@register(core.ConfigMap)
def _config_map(cm: core.ConfigMap, old: core.ConfigMap | None) -> list[Cause]:
    errs = validate_object_meta_update(cm.metadata, old.metadata) if old is not None else []
    errs += _immutable_data(cm, old, (("data", "data"), ("binary_data", "binaryData")))
    errs += validate_object_meta(cm.metadata, True, dns_subdomain)
    size = 0
    for k, v in (cm.data or {}).items():
        errs += check(k, f"data[{k}]", _config_key)
        if k in (cm.binary_data or {}):
            errs.append(invalid_value(f"data[{k}]", k, "duplicate of key present in binaryData"))
        size += len(v)
    for k, v in (cm.binary_data or {}).items():
        errs += check(k, f"binaryData[{k}]", _config_key)
        size += len(v) * 3 // 4  # base64 on the wire, bytes in the store
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("", MAX_SECRET_SIZE))
    return errs


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


@register(core.Secret)
def _secret(s: core.Secret, old: core.Secret | None) -> list[Cause]:
    errs: list[Cause] = []
    if old is not None:
        errs += validate_object_meta_update(s.metadata, old.metadata)
        errs += immutable(s.type, old.type, "type")
        errs += _immutable_data(s, old, (("data", "data"),))
    errs += validate_object_meta(s.metadata, True, dns_subdomain)
    data = {**(s.data or {}), **(s.string_data or {})}  # stringData merges into data
    size = 0
    for k, v in data.items():
        errs += check(k, f"data[{k}]", _config_key)
        size += len(v)
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    if s.type == "kubernetes.io/service-account-token":
        annotations = (s.metadata.annotations if s.metadata else None) or {}
        key = "kubernetes.io/service-account.name"
        if not annotations.get(key):
            errs.append(required(f"metadata.annotations[{key}]"))
    for key in _SECRET_REQUIRED_KEYS.get(s.type or "", ()):
        if key not in data:
            errs.append(required(f"data[{key}]"))
    return errs


@register(core.ServiceAccount)
def _service_account(sa: core.ServiceAccount, old: core.ServiceAccount | None) -> list[Cause]:
    return _meta_both(sa, old)


# -- PersistentVolume, PersistentVolumeClaim -------------------------------------------------


def _access_modes(modes: list[str] | None, path: str) -> list[Cause]:
    errs = [not_supported(path, m, _ACCESS_MODES) for m in modes or [] if m not in _ACCESS_MODES]
    if "ReadWriteOncePod" in (modes or []) and len(set(modes or [])) > 1:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _pvc_spec(spec: core.PersistentVolumeClaimSpec, path: str) -> list[Cause]:
    from ._quantity import QuantityError, parse_quantity

    errs: list[Cause] = []
    if not spec.access_modes:
        errs.append(required(child(path, "accessModes"), "at least 1 access mode is required"))
    errs += validate_label_selector(spec.selector, child(path, "selector"))
    errs += _access_modes(spec.access_modes, child(path, "accessModes"))
    requests = spec.resources.requests if spec.resources else None
    sp = child(path, "resources") + "[storage]"
    if not requests or "storage" not in requests:
        errs.append(required(sp))
    else:
        try:
            q = parse_quantity(requests["storage"])
            if q.sign() <= 0:
                errs.append(invalid_value(sp, str(q), "must be greater than zero"))
        except (QuantityError, TypeError) as e:
            errs.append(invalid_value(sp, requests["storage"], str(e)))
    if spec.storage_class_name:
        errs += check(spec.storage_class_name, child(path, "storageClassName"), dns_subdomain)
    if spec.volume_mode is not None and spec.volume_mode not in ("Block", "Filesystem"):
        errs.append(not_supported(child(path, "volumeMode"), spec.volume_mode, ("Block", "Filesystem")))
    return errs


_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


@register(core.PersistentVolumeClaim)
def _pvc(pvc: core.PersistentVolumeClaim, old: core.PersistentVolumeClaim | None) -> list[Cause]:
    spec = pvc.spec or core.PersistentVolumeClaimSpec()
    errs = _meta_both(pvc, old)
    errs += _pvc_spec(spec, "spec")
    if old is None:
        return errs
    o = old.spec or core.PersistentVolumeClaimSpec()
    munged = spec if o.volume_name else replace(spec, volume_name=o.volume_name)
    old_annotations = (old.metadata.annotations if old.metadata else None) or {}
    if o.storage_class_name is None and spec.storage_class_name and _BETA_CLASS not in old_annotations:
        # validateStorageClassUpgradeFromNil: RetroactiveDefaultStorageClass (GA in 1.28) lets
        # the PV controller give a class-less claim the default class once.
        munged = replace(munged, storage_class_name=None)
    bound = pvc.status is not None and pvc.status.phase == "Bound"
    if bound and spec.resources is not None and o.resources is not None:
        reqs = {**(spec.resources.requests or {}),
                "storage": (o.resources.requests or {}).get("storage")}
        munged = replace(munged, resources=replace(spec.resources, requests=reqs))
    if munged != o:
        errs.append(forbidden("spec", "spec is immutable after creation except resources.requests "
                              "and volumeAttributesClassName for bound claims\n"
                              + _spec_diff(o, munged)))
    return errs + _pvc_shrink(spec, o)


def _pvc_shrink(spec: core.PersistentVolumeClaimSpec,
                old: core.PersistentVolumeClaimSpec) -> list[Cause]:
    from ._quantity import QuantityError, parse_quantity

    try:
        new_q = parse_quantity(((spec.resources and spec.resources.requests) or {}).get("storage", 0))
        old_q = parse_quantity(((old.resources and old.resources.requests) or {}).get("storage", 0))
    except (QuantityError, TypeError):
        return []
    if new_q < old_q:
        return [forbidden("spec.resources.requests.storage", "field can not be less than previous value")]
    return []


def _spec_diff(old: Any, new: Any) -> str:
    a, b = msgspec.to_builtins(old), msgspec.to_builtins(new)
    keys = list(a) + [k for k in b if k not in a]
    lines = [f"- {k}: {msgspec.json.encode(a.get(k)).decode()}\n+ {k}: "
             f"{msgspec.json.encode(b.get(k)).decode()}" for k in keys if a.get(k) != b.get(k)]
    return "\n".join(lines)


_PV_SOURCES = ("gce_persistent_disk", "aws_elastic_block_store", "host_path", "glusterfs", "nfs",
               "rbd", "iscsi", "cinder", "cephfs", "fc", "flocker", "flex_volume", "azure_file",
               "vsphere_volume", "quobyte", "azure_disk", "photon_persistent_disk",
               "portworx_volume", "scale_io", "local", "storageos", "csi")


@register(core.PersistentVolume)
def _pv(pv: core.PersistentVolume, old: core.PersistentVolume | None) -> list[Cause]:
    spec = pv.spec or core.PersistentVolumeSpec()
    errs = _meta_both(pv, old, False)
    if not spec.access_modes:
        errs.append(required("spec.accessModes"))
    errs += _access_modes(spec.access_modes, "spec.accessModes")
    if not spec.capacity:
        errs.append(required("spec.capacity"))
    elif "storage" not in spec.capacity or len(spec.capacity) > 1:
        errs.append(not_supported("spec.capacity", spec.capacity, ("storage",)))
    errs += _basic_quantities(spec.capacity, "spec.capacity")
    rp = spec.persistent_volume_reclaim_policy
    if rp not in (None, "", "Delete", "Recycle", "Retain"):
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", rp, ("Delete", "Recycle", "Retain")))
    if not any(getattr(spec, s) is not None for s in _PV_SOURCES):
        errs.append(required("spec", "must specify a volume type"))
    return errs


def _basic_quantities(rl: dict[str, Any] | None, path: str) -> list[Cause]:
    """validateBasicResource for each entry: a quantity that is not negative."""
    from ._quantity import QuantityError, parse_quantity

    errs: list[Cause] = []
    for k, v in (rl or {}).items():
        try:
            q = parse_quantity(v)
        except (QuantityError, TypeError) as e:
            errs.append(invalid_value(f"{path}[{k}]", v, str(e)))
            continue
        if q.sign() < 0:
            errs.append(invalid_value(f"{path}[{k}]", q.value_int(), "must be a valid resource quantity"))
    return errs
