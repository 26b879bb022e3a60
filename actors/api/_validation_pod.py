"""Pod and pod-template validation (``pkg/apis/core/validation``: ValidatePodSpec,
validateContainers, ValidatePodUpdate, ...).

What it is: the checks of a PodSpec (containers, ports, env, resources, probes, volumes,
tolerations, affinity, spread constraints) shared by Pods and every template, and the
pod-update rule (only images, activeDeadlineSeconds, added tolerations and a
terminationGracePeriodSeconds fix may change).

Concurrency model: none; pure functions.

Invariants: see ``_validation``. The Forbidden message of an illegal pod update carries
Kubernetes' list of updatable fields followed by a diff; the diff lists the changed JSON
paths (old ``-``, new ``+``) rather than Go's cmp.Diff of the internal struct.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from msgspec.structs import replace

from . import _core_pod as core
from ._validation import (
    Cause,
    check,
    child,
    dns_label,
    dns_subdomain,
    duplicate,
    forbidden,
    inclusive_range,
    invalid_value,
    nonnegative,
    not_found,
    not_supported,
    port_name,
    port_num,
    port_num_or_name,
    register,
    required,
    validate_annotations,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)
from ._validation_scheduling import _affinity, _spread, _tolerations

__all__ = ["validate_pod_spec", "validate_pod_template"]

MAX_INT32 = 2**31 - 1
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TERMINATION_MESSAGE = ("File", "FallbackToLogsOnError")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
UPDATABLE_POD_FIELDS = ",".join((
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
))


# -- containers --------------------------------------------------------------------------


def _ports(ports: list[core.ContainerPort] | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, p in enumerate(ports or []):
        ip = f"{path}[{i}]"
        if p.name:
            msgs = port_name(p.name)
            if msgs:
                errs += [invalid_value(child(ip, "name"), p.name, m) for m in msgs]
            elif p.name in names:
                errs.append(duplicate(child(ip, "name"), p.name))
            names.add(p.name)
        if not p.container_port:
            errs.append(required(child(ip, "containerPort")))
        else:
            errs += [invalid_value(child(ip, "containerPort"), p.container_port, m)
                     for m in port_num(p.container_port)]
        if p.host_port:
            errs += [invalid_value(child(ip, "hostPort"), p.host_port, m)
                     for m in port_num(p.host_port)]
        if p.protocol is not None and p.protocol not in _PROTOCOLS:
            errs.append(not_supported(child(ip, "protocol"), p.protocol, _PROTOCOLS))
    return errs


def _env_name(name: str) -> list[str]:
    import re

    errs = []
    if not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", name):
        errs.append("a valid environment variable name must consist of alphabetic characters, "
                    "digits, '_', '-', or '.', and must not start with a digit (e.g. "
                    "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
                    "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")
    if name in (".", ".."):
        errs.append(f"must not be '{name}'")
    elif name.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _env(env: list[core.EnvVar] | None, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, e in enumerate(env or []):
        ip = f"{path}[{i}]"
        if not e.name:
            errs.append(required(child(ip, "name")))
        else:
            errs += check(e.name, child(ip, "name"), _env_name)
        vf = e.value_from
        if vf is None:
            continue
        n = sum(x is not None for x in (vf.field_ref, vf.resource_field_ref,
                                        vf.config_map_key_ref, vf.secret_key_ref))
        vp = child(ip, "valueFrom")
        if n == 0 and vf.file_key_ref is None:
            errs.append(invalid_value(vp, "", "must specify one of: `fieldRef`, "
                                      "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif e.value:
            errs.append(invalid_value(vp, "", "may not be specified when `value` is not empty"))
        elif n > 1:
            errs.append(invalid_value(vp, "", "may not have more than one field specified at a time"))
    return errs


def _mounts(mounts: list[core.VolumeMount] | None, volumes: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, m in enumerate(mounts or []):
        ip = f"{path}[{i}]"
        if not m.name:
            errs.append(required(child(ip, "name")))
        if (m.name or "") not in volumes:
            errs.append(not_found(child(ip, "name"), m.name or ""))
        if not m.mount_path:
            errs.append(required(child(ip, "mountPath")))
        elif m.mount_path in seen:
            errs.append(invalid_value(child(ip, "mountPath"), m.mount_path, "must be unique"))
        seen.add(m.mount_path or "")
    return errs


def _resource_name(name: str, path: str) -> list[Cause]:
    from ._names import is_qualified_name

    errs = check(name, path, is_qualified_name)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid_value(path, name, "must be a standard resource for containers"))
    return errs


def _overcommit(name: str) -> bool:
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _quantities(rl: dict[str, Any] | None, path: str) -> tuple[dict[str, Any], list[Cause]]:
    """Parse a ResourceList; the quantities that parse, and the errors of the rest."""
    from ._quantity import QuantityError, parse_quantity

    good: dict[str, Any] = {}
    errs: list[Cause] = []
    for k, v in (rl or {}).items():
        p = f"{path}[{k}]"
        errs += _resource_name(k, p)
        try:
            q = parse_quantity(v)
        except (QuantityError, TypeError) as e:
            errs.append(invalid_value(p, v, str(e)))
            continue
        if q.sign() < 0:
            errs.append(invalid_value(p, str(q), "must be greater than or equal to 0"))
        elif not _overcommit(k) and "/" in k and q.milli_value() % 1000:
            errs.append(invalid_value(p, q, "must be an integer"))
        good[k] = q
    return good, errs


def validate_resources(r: core.ResourceRequirements | None, path: str) -> list[Cause]:
    """validateResourceRequirements: names, quantities, and requests <= limits."""
    if r is None:
        return []
    limits, errs = _quantities(r.limits, child(path, "limits"))
    requests, req_errs = _quantities(r.requests, child(path, "requests"))
    errs += req_errs
    for name, q in requests.items():
        limit = limits.get(name)
        if limit is not None:
            if q != limit and not _overcommit(name):
                errs.append(invalid_value(child(path, "requests"), str(q),
                                          f"must be equal to {name} limit of {limit}"))
            elif q > limit:
                errs.append(invalid_value(child(path, "requests"), str(q),
                                          f"must be less than or equal to {name} limit of {limit}"))
        elif not _overcommit(name) and name not in (r.limits or {}):
            errs.append(required(child(path, "limits"),
                                 "Limit must be set for non overcommitable resources"))
    return errs


def _handler(h: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    kinds = [(k, getattr(h, a, None)) for k, a in (("exec", "exec"), ("httpGet", "http_get"),
                                                    ("tcpSocket", "tcp_socket"),
                                                    ("grpc", "grpc"), ("sleep", "sleep"))]
    present = [(k, v) for k, v in kinds if v is not None]
    if not present:
        return [required(path, "must specify a handler type")]
    for k, _ in present[1:]:
        errs.append(forbidden(child(path, k), "may not specify more than 1 handler type"))
    k, v = present[0]
    hp = child(path, k)
    if k == "exec" and not v.command:
        errs.append(required(child(hp, "command")))
    elif k == "httpGet":
        if v.path == "":
            errs.append(required(child(hp, "path")))
        errs += port_num_or_name(v.port, child(hp, "port"))
        if v.scheme is not None and v.scheme not in ("HTTP", "HTTPS"):
            errs.append(not_supported(child(hp, "scheme"), v.scheme, ("HTTP", "HTTPS")))
    elif k in ("tcpSocket", "grpc"):
        errs += port_num_or_name(v.port, child(hp, "port"))
    return errs


def _probe(p: core.Probe | None, path: str, success_must_be_one: bool) -> list[Cause]:
    if p is None:
        return []
    errs = _handler(p, path)
    for attr, name in (("initial_delay_seconds", "initialDelaySeconds"),
                       ("timeout_seconds", "timeoutSeconds"), ("period_seconds", "periodSeconds"),
                       ("success_threshold", "successThreshold"),
                       ("failure_threshold", "failureThreshold")):
        errs += nonnegative(getattr(p, attr), child(path, name))
    tg = p.termination_grace_period_seconds
    if tg is not None and tg <= 0:
        errs.append(invalid_value(child(path, "terminationGracePeriodSeconds"), tg,
                                  "must be greater than 0"))
    if success_must_be_one and p.success_threshold not in (None, 1):
        errs.append(invalid_value(child(path, "successThreshold"), p.success_threshold, "must be 1"))
    return errs


def _container_common(c: core.Container, volumes: set[str], path: str) -> list[Cause]:
    errs: list[Cause] = []
    if not c.name:
        errs.append(required(child(path, "name")))
    else:
        errs += check(c.name, child(path, "name"), dns_label)
    if not c.image:
        errs.append(required(child(path, "image")))
    tmp = c.termination_message_policy
    if tmp not in (None, "") and tmp not in _TERMINATION_MESSAGE:
        errs.append(not_supported(child(path, "terminationMessagePolicy"), tmp, _TERMINATION_MESSAGE))
    errs += _ports(c.ports, child(path, "ports"))
    errs += _env(c.env, child(path, "env"))
    errs += _mounts(c.volume_mounts, volumes, child(path, "volumeMounts"))
    ipp = c.image_pull_policy
    if ipp not in (None, "") and ipp not in _PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), ipp, _PULL_POLICIES))
    return errs + validate_resources(c.resources, child(path, "resources"))


def _probes_and_lifecycle(c: core.Container, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if c.lifecycle is not None:
        for attr, name in (("post_start", "postStart"), ("pre_stop", "preStop")):
            h = getattr(c.lifecycle, attr)
            if h is not None:
                errs += _handler(h, child(child(path, "lifecycle"), name))
    errs += _probe(c.liveness_probe, child(path, "livenessProbe"), True)
    errs += _probe(c.readiness_probe, child(path, "readinessProbe"), False)
    return errs + _probe(c.startup_probe, child(path, "startupProbe"), True)


def _host_port_conflicts(containers: list[core.Container], path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, p in enumerate(c.ports or []):
            if not p.host_port:
                continue
            key = f"{p.protocol or ''}/{p.host_ip or ''}/{p.host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def _containers(spec: core.PodSpec, volumes: set[str], path: str) -> list[Cause]:
    containers = spec.containers or []
    cpath = child(path, "containers")
    if not containers:
        return [required(cpath)]
    errs: list[Cause] = []
    names: set[str] = set()
    for i, c in enumerate(containers):
        ip = f"{cpath}[{i}]"
        errs += _container_common(c, volumes, ip)
        if c.name in names:
            errs.append(duplicate(child(ip, "name"), c.name))
        names.add(c.name or "")
        errs += _probes_and_lifecycle(c, ip)
        if c.restart_policy is not None:
            errs.append(forbidden(child(ip, "restartPolicy"), "may not be set for non-init containers"))
    errs += _host_port_conflicts(containers, cpath)
    ipath = child(path, "initContainers")
    for i, c in enumerate(spec.init_containers or []):
        ip = f"{ipath}[{i}]"
        errs += _container_common(c, volumes, ip)
        if c.name in names:
            errs.append(duplicate(child(ip, "name"), c.name))
        elif c.name:
            names.add(c.name)
        errs += _host_port_conflicts([c], ipath)
        if c.restart_policy is not None and c.restart_policy != "Always":
            errs.append(not_supported(child(ip, "restartPolicy"), c.restart_policy, ("Always",)))
        if c.restart_policy == "Always":
            errs += _probes_and_lifecycle(c, ip)
            continue
        for attr, name in (("lifecycle", "lifecycle"), ("liveness_probe", "livenessProbe"),
                           ("readiness_probe", "readinessProbe"),
                           ("startup_probe", "startupProbe")):
            if getattr(c, attr) is not None:
                errs.append(forbidden(child(ip, name), "may not be set for init containers "
                                      "without restartPolicy=Always"))
    return errs


# -- volumes and scheduling ----------------------------------------------------------------


@functools.cache
def _encode_names(t: type[msgspec.Struct]) -> dict[str, str]:
    """Field name -> JSON name (``msgspec.structs.fields`` evaluates the annotations on every
    call: cached, it no longer dominates pod validation)."""
    return {f.name: f.encode_name for f in msgspec.structs.fields(t)}


def _volumes(volumes: list[core.Volume] | None, path: str) -> tuple[set[str], list[Cause]]:
    errs: list[Cause] = []
    names: set[str] = set()
    for i, v in enumerate(volumes or []):
        ip = f"{path}[{i}]"
        verrs: list[Cause] = []
        sources = [f for f in v.__struct_fields__ if f != "name" and getattr(v, f) is not None]
        encode_names = _encode_names(type(v))
        for extra in sources[1:]:
            verrs.append(forbidden(child(ip, encode_names[extra]),
                                   "may not specify more than 1 volume type"))
        if not sources:
            verrs.append(required(ip, "must specify a volume type"))
        elif v.host_path is not None and not v.host_path.path:
            verrs.append(required(child(ip, "hostPath.path")))
        elif v.secret is not None and not v.secret.secret_name:
            verrs.append(required(child(ip, "secret.secretName")))
        elif v.persistent_volume_claim is not None and not v.persistent_volume_claim.claim_name:
            verrs.append(required(child(ip, "persistentVolumeClaim.claimName")))
        if not v.name:
            verrs.append(required(child(ip, "name")))
        else:
            verrs += check(v.name, child(ip, "name"), dns_label)
        if v.name in names:
            verrs.append(duplicate(child(ip, "name"), v.name))
        if not verrs:
            names.add(v.name or "")
        errs += verrs
    return names, errs


# -- pod spec, pod, template ---------------------------------------------------------------


def _enum(value: str | None, path: str, allowed: tuple[str, ...]) -> list[Cause]:
    if value in (None, "") or value in allowed:
        return []
    return [not_supported(path, value, allowed)]


def _named(value: str | None, path: str, fn: Any) -> list[Cause]:
    return check(value, path, fn) if value else []


def validate_pod_spec(spec: core.PodSpec | None, path: str) -> list[Cause]:
    """ValidatePodSpec on a defaulted spec."""
    spec = spec or core.PodSpec()
    volumes, errs = _volumes(spec.volumes, child(path, "volumes"))
    errs += _containers(spec, volumes, path)
    errs += _enum(spec.restart_policy, child(path, "restartPolicy"), _RESTART_POLICIES)
    errs += _enum(spec.dns_policy, child(path, "dnsPolicy"), _DNS_POLICIES)
    errs += validate_labels(spec.node_selector, child(path, "nodeSelector"))
    errs += _affinity(spec.affinity, child(path, "affinity"))
    errs += _spread(spec.topology_spread_constraints, child(path, "topologySpreadConstraints"))
    errs += _named(spec.service_account_name, child(path, "serviceAccountName"), dns_subdomain)
    errs += _named(spec.node_name, child(path, "nodeName"), dns_subdomain)
    ads = spec.active_deadline_seconds
    if ads is not None and not 1 <= ads <= MAX_INT32:
        errs.append(invalid_value(child(path, "activeDeadlineSeconds"), ads,
                                  inclusive_range(1, MAX_INT32)))
    errs += _named(spec.hostname, child(path, "hostname"), dns_label)
    errs += _named(spec.subdomain, child(path, "subdomain"), dns_label)
    errs += _tolerations(spec.tolerations, child(path, "tolerations"))
    errs += _named(spec.priority_class_name, child(path, "priorityClassName"), dns_subdomain)
    errs += _enum(spec.preemption_policy, child(path, "preemptionPolicy"),
                  ("PreemptLowerPriority", "Never"))
    if spec.overhead:
        errs += validate_resources(core.ResourceRequirements(limits=spec.overhead),
                                   child(path, "overhead"))
    return errs


def validate_pod_template(t: core.PodTemplateSpec | None, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: template labels/annotations and the spec."""
    t = t or core.PodTemplateSpec()
    meta = t.metadata
    errs = validate_labels(meta.labels if meta else None, child(path, "labels"))
    errs += validate_annotations(meta.annotations if meta else None, child(path, "annotations"))
    errs += validate_pod_spec(t.spec, child(path, "spec"))
    if t.spec is not None and t.spec.ephemeral_containers:
        errs.append(forbidden(child(path, "spec.ephemeralContainers"),
                              "ephemeral containers not allowed in pod template"))
    return errs


def _image_whitespace(containers: list[core.Container] | None, path: str) -> list[Cause]:
    return [invalid_value(f"{path}[{i}].image", c.image, "must not have leading or trailing whitespace")
            for i, c in enumerate(containers or []) if c.image and c.image != c.image.strip()]


def _validate_pod_create(pod: core.Pod) -> list[Cause]:
    errs = validate_object_meta(pod.metadata, True, dns_subdomain)
    errs += validate_pod_spec(pod.spec, "spec")
    spec = pod.spec or core.PodSpec()
    errs += _image_whitespace(spec.containers, "spec.containers")
    return errs + _image_whitespace(spec.init_containers, "spec.initContainers")


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            _diff(old.get(k), new.get(k), f"{path}.{k}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f"{path}[{i}]", out)
    else:
        if old is not None:
            out.append(f"- {path}: {msgspec.json.encode(old).decode()}")
        if new is not None:
            out.append(f"+ {path}: {msgspec.json.encode(new).decode()}")


def _container_updates(new: list[core.Container], old: list[core.Container],
                       path: str) -> tuple[list[Cause], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs = [required(f"{path}[{i}].image") for i, c in enumerate(new) if not c.image]
    return errs + _image_whitespace(new, path), False


def _validate_pod_update(pod: core.Pod, old: core.Pod) -> list[Cause]:
    errs = validate_object_meta_update(pod.metadata, old.metadata)
    errs += _validate_pod_create(pod)
    new_s, old_s = pod.spec or core.PodSpec(), old.spec or core.PodSpec()
    for attr, name in (("containers", "containers"), ("init_containers", "initContainers")):
        cerrs, stop = _container_updates(getattr(new_s, attr) or [], getattr(old_s, attr) or [],
                                         f"spec.{name}")
        errs += cerrs
        if stop:
            return errs
    new_ads, old_ads = new_s.active_deadline_seconds, old_s.active_deadline_seconds
    if new_ads is not None:
        if not 0 <= new_ads <= MAX_INT32:
            return errs + [invalid_value("spec.activeDeadlineSeconds", new_ads, inclusive_range(0, MAX_INT32))]
        if old_ads is not None and old_ads < new_ads:
            return errs + [invalid_value("spec.activeDeadlineSeconds", new_ads,
                                         "must be less than or equal to previous value")]
    elif old_ads is not None:
        errs.append(invalid_value("spec.activeDeadlineSeconds", None,
                                  "must not update from a positive integer to nil value"))
    errs += _only_added_tolerations(new_s.tolerations or [], old_s.tolerations or [])
    return errs + _munged_spec_diff(new_s, old_s)


def _only_added_tolerations(new: list[core.Toleration], old: list[core.Toleration]) -> list[Cause]:
    for o in old:
        if not any(replace(o, toleration_seconds=n.toleration_seconds) == n for n in new):
            return [forbidden("spec.tolerations", "existing toleration can not be modified "
                              "except its tolerationSeconds")]
    return _tolerations(new, "spec.tolerations")


def _munged_spec_diff(new: core.PodSpec, old: core.PodSpec) -> list[Cause]:
    def with_images(cs: list[core.Container] | None, src: list[core.Container] | None) -> Any:
        if cs is None:
            return None
        return [replace(c, image=(src or [])[i].image) for i, c in enumerate(cs)]

    munged = replace(new, containers=with_images(new.containers, old.containers),
                     init_containers=with_images(new.init_containers, old.init_containers),
                     active_deadline_seconds=old.active_deadline_seconds,
                     tolerations=old.tolerations, scheduling_gates=old.scheduling_gates)
    otg, mtg = old.termination_grace_period_seconds, munged.termination_grace_period_seconds
    if otg is not None and otg < 0 and mtg == 1:
        munged = replace(munged, termination_grace_period_seconds=otg)
    if munged == old:
        return []
    lines: list[str] = []
    _diff(msgspec.to_builtins(old), msgspec.to_builtins(munged), "spec", lines)
    return [forbidden("spec", f"pod updates may not change fields other than "
                      f"{UPDATABLE_POD_FIELDS}\n" + "\n".join(lines))]


@register(core.Pod)
def _pod(pod: core.Pod, old: core.Pod | None) -> list[Cause]:
    return _validate_pod_create(pod) if old is None else _validate_pod_update(pod, old)
