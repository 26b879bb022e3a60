"""Admission: the plugins a write passes after authorization and before storage.

What it is: kube-apiserver's default admission plugins as pure functions over
(operation, object dict, old object dict, user), with cluster state read through
callables the caller passes in: NamespaceLifecycle, ServiceAccount,
DefaultTolerationSeconds, LimitRanger, ResourceQuota and Priority, and
``AdmissionChain``, which runs every plugin's mutating step in order, then every
plugin's validating step, as the apiserver does. Rejections raise ``ApiError`` carrying
Kubernetes' Status (``actors.api``), with Kubernetes' messages.

Concurrency model: none. Plugins hold only their configuration and accessors; a chain
run never mutates the request's objects (each mutation returns a new dict).

Invariants:
- Mutating steps see the previous steps' output; validating steps see the final object.
- ResourceQuota does not write: it returns the quotas with ``status.used`` charged,
  which the caller must persist (with resourceVersion preconditions) before storing
  the object, as the quota evaluator does. A quota whose status the quota controller
  has not filled in yet (``status.hard``) does not constrain anything.
- The names kubetwin cannot draw itself (the ``kube-api-access-xxxxx`` volume suffix)
  come from a ``random.Random`` the caller passes in.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from actors.api import ApiError, Quantity, StatusCause, forbidden, not_found
from actors.api._names import generate_name
from actors.api._status import aggregate

from ._authn import UserInfo
from ._patch import json_copy

__all__ = [
    "AdmissionAttributes",
    "AdmissionChain",
    "AdmissionPlugin",
    "Admitted",
    "DefaultTolerationSeconds",
    "LimitRanger",
    "NamespaceLifecycle",
    "Priority",
    "ResourceQuota",
    "ServiceAccount",
    "default_plugins",
    "pod_requests",
    "token_volume_source",
]

CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"
Obj = dict[str, Any]


class AdmissionAttributes(msgspec.Struct, frozen=True, kw_only=True):
    """``admission.Attributes``: the request as admission sees it."""

    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    resource: str  # plural: "pods"
    group: str = ""
    version: str = "v1"
    kind: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    object: Obj | None = None
    old_object: Obj | None = None
    user: UserInfo | None = None
    dry_run: bool = False


class Admitted(msgspec.Struct, frozen=True):
    object: Obj | None
    quota_updates: tuple[Obj, ...] = ()  # ResourceQuotas with status.used charged


class AdmissionPlugin:
    """Base: ``mutate`` returns a new object (or None: unchanged); ``validate`` raises
    or returns objects the caller must write (only ResourceQuota returns any)."""

    name = ""

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        return None

    def validate(self, a: AdmissionAttributes) -> Sequence[Obj]:
        return ()


class AdmissionChain:
    def __init__(self, plugins: Iterable[AdmissionPlugin]) -> None:
        self.plugins = tuple(plugins)

    def run(self, a: AdmissionAttributes) -> Admitted:
        for p in self.plugins:
            new = p.mutate(a)
            if new is not None:
                a = msgspec.structs.replace(a, object=new)
        updates: list[Obj] = []
        for p in self.plugins:
            updates.extend(p.validate(a))
        return Admitted(a.object, tuple(updates))

    def admit(self, a: AdmissionAttributes) -> Obj | None:
        """The object to store; raises ``ApiError`` when a plugin rejects the request."""
        return self.run(a).object


# --- helpers --------------------------------------------------------------------------


def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def _forbidden(a: AdmissionAttributes, message: str,
               causes: list[StatusCause] | None = None) -> ApiError:
    """``admission.NewForbidden``: named after the request, else the object."""
    meta = _meta(a.object)
    name = a.name or meta.get("name") or meta.get("generateName") or "Unknown"
    status = forbidden(a.resource, name, message, a.group)
    if causes and status.details is not None:
        details = msgspec.structs.replace(status.details, causes=causes)
        status = msgspec.structs.replace(status, details=details)
    return ApiError(status)


def _is_pod(a: AdmissionAttributes) -> bool:
    return a.resource == "pods" and not a.group and not a.subresource and a.object is not None


def _quantities(rl: Obj | None) -> dict[str, Quantity]:
    return {k: Quantity.parse(v) for k, v in (rl or {}).items()}


def _containers(pod: Obj, *fields: str) -> list[Obj]:
    spec = pod.get("spec") or {}
    return [c for f in fields for c in spec.get(f) or ()]


# --- NamespaceLifecycle ---------------------------------------------------------------


class NamespaceLifecycle(AdmissionPlugin):
    """No content in a missing or terminating namespace; some namespaces are immortal."""

    name = "NamespaceLifecycle"

    def __init__(self, get_namespace: Callable[[str], Obj | None],
                 immortal: Iterable[str] = ("default", "kube-system", "kube-public")) -> None:
        self.get_namespace = get_namespace
        self.immortal = frozenset(immortal)

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        if a.operation not in (CREATE, UPDATE, DELETE):
            return None
        is_ns = a.resource == "namespaces" and not a.group
        if a.operation == DELETE and is_ns and a.name in self.immortal:
            raise ApiError(forbidden("namespaces", a.name, "this namespace may not be deleted"))
        if is_ns or not a.namespace or a.operation == DELETE:
            return None
        if (a.group, a.resource) == ("authorization.k8s.io", "localsubjectaccessreviews"):
            return None  # answering would leak whether the namespace exists
        ns = self.get_namespace(a.namespace)
        if ns is None:
            raise ApiError(not_found("namespaces", a.namespace))
        if a.operation == CREATE and (ns.get("status") or {}).get("phase") == "Terminating":
            raise _forbidden(
                a, f"unable to create new content in namespace {a.namespace} because it is "
                   "being terminated",
                [StatusCause(type="NamespaceTerminating", field="metadata.namespace",
                             message=f"namespace {a.namespace} is being terminated")])
        return None


# --- ServiceAccount -------------------------------------------------------------------

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def token_volume_source() -> Obj:
    """``TokenVolumeSource``: the projected volume behind kube-api-access-*."""
    return {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}],
                       "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}


def _references_secrets(spec: Obj) -> bool:
    """``VisitPodSecretNames`` found anything (the common secret references)."""
    if spec.get("imagePullSecrets"):
        return True
    for v in spec.get("volumes") or ():
        if "secret" in v or any("secret" in s for s in (v.get("projected") or {}).get(
                "sources") or ()):
            return True
    for c in _containers({"spec": spec}, "initContainers", "containers", "ephemeralContainers"):
        if any("secretRef" in e for e in c.get("envFrom") or ()):
            return True
        if any("secretKeyRef" in (e.get("valueFrom") or {}) for e in c.get("env") or ()):
            return True
    return False


class ServiceAccount(AdmissionPlugin):
    """Default ``serviceAccountName``, mount the API token, copy imagePullSecrets."""

    name = "ServiceAccount"

    def __init__(self, get_service_account: Callable[[str, str], Obj | None],
                 rng: random.Random, *, mount_token: bool = True) -> None:
        self.get_service_account = get_service_account
        self.rng = rng
        self.mount_token = mount_token

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        if not _is_pod(a) or a.operation != CREATE:
            return None
        pod = json_copy(a.object)
        if MIRROR_ANNOTATION in (_meta(pod).get("annotations") or {}):
            return None  # the kubelet's mirror pods are left as they are (validated below)
        spec = pod.setdefault("spec", {})
        spec.setdefault("serviceAccountName", "default")
        sa_name = spec["serviceAccountName"] or "default"
        spec["serviceAccountName"] = sa_name
        sa = self.get_service_account(a.namespace, sa_name)
        if sa is None:
            raise _forbidden(a, f"error looking up service account {a.namespace}/{sa_name}: "
                                f'serviceaccount "{sa_name}" not found')
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken")
        if self.mount_token and automount is not False:
            self._mount(spec)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")}
                                        for s in sa["imagePullSecrets"]]
        return pod

    def _mount(self, spec: Obj) -> None:
        volumes = spec.get("volumes") or []
        existing = next((v["name"] for v in volumes
                         if str(v.get("name", "")).startswith("kube-api-access-")), None)
        name = existing or generate_name("kube-api-access-", self.rng)
        mount = {"mountPath": TOKEN_MOUNT_PATH, "name": name, "readOnly": True}
        needed = False
        for c in _containers({"spec": spec}, "initContainers", "containers"):
            mounts = c.get("volumeMounts") or []
            if not any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
                c["volumeMounts"] = [*mounts, dict(mount)]
                needed = True
        if needed and existing is None:
            spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]

    def validate(self, a: AdmissionAttributes) -> Sequence[Obj]:
        if not _is_pod(a) or a.operation != CREATE:
            return ()
        spec = (a.object or {}).get("spec") or {}
        if MIRROR_ANNOTATION in (_meta(a.object).get("annotations") or {}):
            if spec.get("serviceAccountName"):
                raise _forbidden(a, "a mirror pod may not reference service accounts")
            if _references_secrets(spec):
                raise _forbidden(a, "a mirror pod may not reference secrets")
            for v in spec.get("volumes") or ():
                if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get(
                        "sources") or ()):
                    raise _forbidden(
                        a, "a mirror pod may not use ServiceAccountToken volume projections")
            return ()
        if not spec.get("serviceAccountName"):
            raise _forbidden(a, f"no service account specified for pod {a.namespace}/"
                                f"{_meta(a.object).get('name', '')}")
        return ()


# --- DefaultTolerationSeconds ---------------------------------------------------------

NOT_READY, UNREACHABLE = "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"


class DefaultTolerationSeconds(AdmissionPlugin):
    """Let pods ride out a not-ready or unreachable node for 300 s before eviction."""

    name = "DefaultTolerationSeconds"

    def __init__(self, not_ready_seconds: int = 300, unreachable_seconds: int = 300) -> None:
        self.seconds = {NOT_READY: not_ready_seconds, UNREACHABLE: unreachable_seconds}

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        if not _is_pod(a) or a.operation not in (CREATE, UPDATE):
            return None
        tolerations = ((a.object or {}).get("spec") or {}).get("tolerations") or []
        missing = [key for key in (NOT_READY, UNREACHABLE) if not any(
            t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "")
            for t in tolerations)]
        if not missing:
            return None
        pod = json_copy(a.object)
        spec = pod.setdefault("spec", {})
        spec["tolerations"] = [*(spec.get("tolerations") or []), *(
            {"key": k, "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": self.seconds[k]} for k in missing)]
        return pod


# --- LimitRanger ------------------------------------------------------------------------


def _defaulted_item(item: Obj) -> Obj:
    """``SetDefaults_LimitRangeItem``: default <- max, defaultRequest <- default <- min."""
    if item.get("type") != "Container":
        return item
    default = {**(item.get("max") or {}), **(item.get("default") or {})}
    request = {**(item.get("min") or {}), **default, **(item.get("defaultRequest") or {})}
    return {**item, "default": default, "defaultRequest": request}


def _limit_items(ranges: Iterable[Obj]) -> list[list[Obj]]:
    return [[_defaulted_item(i) for i in (r.get("spec") or {}).get("limits") or ()]
            for r in ranges]


def _min_error(kind: str, res: str, enforced: str, req: Obj, lim: Obj) -> str | None:
    floor = Quantity.parse(enforced)
    if res not in req:
        return f"minimum {res} usage per {kind} is {floor}.  No request is specified"
    if Quantity.parse(req[res]) < floor:
        return f"minimum {res} usage per {kind} is {floor}, but request is {Quantity.parse(req[res])}"
    if res in lim and Quantity.parse(lim[res]) < floor:
        return f"minimum {res} usage per {kind} is {floor}, but limit is {Quantity.parse(lim[res])}"
    return None


def _max_error(kind: str, res: str, enforced: str, req: Obj, lim: Obj | None) -> str | None:
    cap = Quantity.parse(enforced)
    if lim is None:  # maxRequestConstraint (PVCs): only the request is user input
        if res not in req:
            return f"maximum {res} usage per {kind} is {cap}.  No request is specified"
        if Quantity.parse(req[res]) > cap:
            return f"maximum {res} usage per {kind} is {cap}, but request is {Quantity.parse(req[res])}"
        return None
    if res not in lim:
        return f"maximum {res} usage per {kind} is {cap}.  No limit is specified"
    if Quantity.parse(lim[res]) > cap:
        return f"maximum {res} usage per {kind} is {cap}, but limit is {Quantity.parse(lim[res])}"
    if res in req and Quantity.parse(req[res]) > cap:
        return f"maximum {res} usage per {kind} is {cap}, but request is {Quantity.parse(req[res])}"
    return None


def _ratio_error(kind: str, res: str, enforced: str, req: Obj, lim: Obj) -> str | None:
    ratio = Quantity.parse(enforced)
    r = Quantity.parse(req[res]).value if res in req else 0
    m = Quantity.parse(lim[res]).value if res in lim else 0
    if not r:
        return (f"{res} max limit to request ratio per {kind} is {ratio}, but no request is "
                "specified or request is 0")
    if not m:
        return (f"{res} max limit to request ratio per {kind} is {ratio}, but no limit is "
                "specified or limit is 0")
    if m / r > ratio.value:
        return (f"{res} max limit to request ratio per {kind} is {ratio}, but provided ratio "
                f"is {float(m / r):f}")
    return None


def _check_item(item: Obj, kind: str, req: Obj, lim: Obj | None) -> list[str]:
    errs = [_min_error(kind, k, v, req, lim or {}) for k, v in sorted((item.get("min") or {}).items())]
    errs += [_max_error(kind, k, v, req, lim) for k, v in sorted((item.get("max") or {}).items())]
    if lim is not None:
        errs += [_ratio_error(kind, k, v, req, lim)
                 for k, v in sorted((item.get("maxLimitRequestRatio") or {}).items())]
    return [e for e in errs if e]


class LimitRanger(AdmissionPlugin):
    """Apply LimitRange defaults to containers on create; enforce min/max/ratio."""

    name = "LimitRanger"

    def __init__(self, list_limit_ranges: Callable[[str], Iterable[Obj]]) -> None:
        self.list_limit_ranges = list_limit_ranges

    def _applies(self, a: AdmissionAttributes) -> bool:
        if a.subresource or not a.namespace or a.object is None or a.group:
            return False
        if (_meta(a.old_object).get("deletionTimestamp")) is not None:
            return False
        if a.resource == "pods":
            return a.operation == CREATE  # containers are immutable after create
        return a.resource == "persistentvolumeclaims" and a.operation in (CREATE, UPDATE)

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        if not self._applies(a) or a.resource != "pods":
            return None
        pod, changed = json_copy(a.object), False
        for items in _limit_items(self.list_limit_ranges(a.namespace)):
            notes: list[str] = []
            for label, field in (("container", "containers"), ("init container", "initContainers")):
                for c in _containers(pod, field):
                    notes += _default_container(c, items, label)
            if notes:
                annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
                annotations["kubernetes.io/limit-ranger"] = ("LimitRanger plugin set: "
                                                             + "; ".join(notes))
                changed = True
        return pod if changed else None

    def validate(self, a: AdmissionAttributes) -> Sequence[Obj]:
        if not self._applies(a):
            return ()
        for items in _limit_items(self.list_limit_ranges(a.namespace)):
            errs: list[str] = []
            for item in items:
                errs += self._check(item, a.resource, a.object or {})
            if errs:
                raise _forbidden(a, aggregate(errs))
        return ()

    @staticmethod
    def _check(item: Obj, resource: str, obj: Obj) -> list[str]:
        kind = item.get("type")
        if resource == "persistentvolumeclaims":
            if kind != "PersistentVolumeClaim":
                return []
            spec = obj.get("spec") or {}
            return _check_item(item, kind, (spec.get("resources") or {}).get("requests") or {},
                               None)
        if kind == "Container":
            errs: list[str] = []
            for c in _containers(obj, "containers", "initContainers"):
                res = c.get("resources") or {}
                errs += _check_item(item, kind, res.get("requests") or {}, res.get("limits") or {})
            return errs
        if kind == "Pod":
            req, lim = pod_requests(obj, "requests"), pod_requests(obj, "limits")
            return _check_item(item, kind, {k: str(v) for k, v in req.items()},
                               {k: str(v) for k, v in lim.items()})
        return []


def _default_container(c: Obj, items: list[Obj], label: str) -> list[str]:
    defaults: dict[str, Obj] = {"limits": {}, "requests": {}}
    for item in items:
        if item.get("type") == "Container":
            defaults["requests"].update(item.get("defaultRequest") or {})
            defaults["limits"].update(item.get("default") or {})
    notes = []
    for field, word in (("requests", "request"), ("limits", "limit")):
        current = (c.get("resources") or {}).get(field) or {}
        added = sorted(k for k in defaults[field] if k not in current)
        if added:
            res = c.setdefault("resources", {})
            res[field] = {**current, **{k: defaults[field][k] for k in added}}
            notes.append(f"{', '.join(added)} {word} for {label} {c.get('name', '')}")
    return notes


def pod_requests(pod: Obj, field: str = "requests") -> dict[str, Quantity]:
    """``resourcehelper.PodRequests``/``PodLimits``: containers summed, then the largest
    init container step (sidecars, restartPolicy Always, run alongside), plus overhead."""
    def add(acc: dict[str, Quantity], rl: dict[str, Quantity]) -> dict[str, Quantity]:
        out = dict(acc)
        for k, v in rl.items():
            out[k] = out[k] + v if k in out else v
        return out

    def maxed(acc: dict[str, Quantity], rl: dict[str, Quantity]) -> dict[str, Quantity]:
        out = dict(acc)
        for k, v in rl.items():
            if k not in out or v > out[k]:
                out[k] = v
        return out

    total: dict[str, Quantity] = {}
    for c in _containers(pod, "containers"):
        total = add(total, _quantities((c.get("resources") or {}).get(field)))
    sidecars: dict[str, Quantity] = {}
    init_peak: dict[str, Quantity] = {}
    for c in _containers(pod, "initContainers"):
        rl = _quantities((c.get("resources") or {}).get(field))
        if c.get("restartPolicy") == "Always":
            total, sidecars = add(total, rl), add(sidecars, rl)
            step = sidecars
        else:
            step = add(rl, sidecars)
        init_peak = maxed(init_peak, step)
    total = maxed(total, init_peak)
    return add(total, _quantities((pod.get("spec") or {}).get("overhead")))


# --- ResourceQuota ----------------------------------------------------------------------

_POD_VALIDATED = ("cpu", "limits.cpu", "limits.memory", "memory", "requests.cpu",
                  "requests.memory")
_LEGACY_COUNTED = ("configmaps", "persistentvolumeclaims", "pods", "replicationcontrollers",
                   "resourcequotas", "secrets", "services")
_SC = ".storageclass.storage.k8s.io/"
_POD_RESOURCES = frozenset(("pods", "count/pods", "cpu", "memory", "ephemeral-storage",
                            "requests.cpu", "requests.memory", "requests.ephemeral-storage",
                            "limits.cpu", "limits.memory", "limits.ephemeral-storage"))


def _extended(name: str) -> bool:
    """``IsExtendedResourceName``: domain-qualified, and not in kubernetes.io."""
    return "/" in name and not name.startswith(("kubernetes.io/", "requests."))
_ONE = Quantity(1)


def _compute_usage(requests: dict[str, Quantity], limits: dict[str, Quantity]
                   ) -> dict[str, Quantity]:
    """``podComputeUsageHelper``."""
    out = {"pods": _ONE}
    for r in ("cpu", "memory", "ephemeral-storage"):
        if r in requests:
            out[r] = out[f"requests.{r}"] = requests[r]
        if r in limits:
            out[f"limits.{r}"] = limits[r]
    for r, q in requests.items():
        if r.startswith("hugepages-"):
            out[r] = out[f"requests.{r}"] = q
        elif _extended(r):
            out[f"requests.{r}"] = q
    return out


def _pod_usage(pod: Obj) -> dict[str, Quantity]:
    """``PodUsageFunc``: count/pods always; compute resources unless the pod is done."""
    usage = {"count/pods": _ONE}
    if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
        return usage
    return {**usage, **_compute_usage(pod_requests(pod, "requests"), pod_requests(pod, "limits"))}


def _pod_constraints(required: Iterable[str], pod: Obj) -> str:
    """``podEvaluator.Constraints``: quota on cpu/memory needs every container to say."""
    need = set(required) & set(_POD_VALIDATED)
    missing: dict[str, set[str]] = {}
    for c in _containers(pod, "containers", "initContainers"):
        res = c.get("resources") or {}
        have = _compute_usage(_quantities(res.get("requests")), _quantities(res.get("limits")))
        for r in need - set(have):
            missing.setdefault(r, set()).add(c.get("name", ""))
    if not missing:
        return ""
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}"
                                       for r in sorted(missing))


def _best_effort(pod: Obj) -> bool:
    for c in _containers(pod, "containers", "initContainers"):
        res = c.get("resources") or {}
        if any(k in ("cpu", "memory") for f in ("requests", "limits") for k in res.get(f) or {}):
            return False
    return True


def _cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = affinity.get(kind) or {}
        terms = [*(a.get("requiredDuringSchedulingIgnoredDuringExecution") or ()),
                 *((t.get("podAffinityTerm") or {}) for t in
                   a.get("preferredDuringSchedulingIgnoredDuringExecution") or ())]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def _pod_scope(sel: Obj, pod: Obj) -> bool:
    """``podMatchesScopeFunc``."""
    spec = pod.get("spec") or {}
    name, op = sel.get("scopeName"), sel.get("operator")
    deadline = spec.get("activeDeadlineSeconds")
    terminating = deadline is not None and deadline >= 0
    if name in ("Terminating", "NotTerminating"):
        return terminating == (name == "Terminating")
    if name in ("BestEffort", "NotBestEffort"):
        return _best_effort(pod) == (name == "BestEffort")
    if name == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    if name == "PriorityClass":
        pc, values = spec.get("priorityClassName") or "", sel.get("values") or ()
        return {"Exists": bool(pc), "DoesNotExist": not pc, "In": bool(pc) and pc in values,
                "NotIn": not pc or pc not in values}.get(op or "", False)
    return False


class _Evaluator:
    """One ``quota.Evaluator``: which operations count, what is counted, how."""

    def __init__(self, resource: str, group: str) -> None:
        self.resource, self.group = resource, group
        self.count = f"count/{resource}" + (f".{group}" if group else "")

    def handles(self, op: str) -> bool:
        if (self.group, self.resource) in (("", "services"), ("", "persistentvolumeclaims")):
            return op in (CREATE, UPDATE)
        return op == CREATE

    def matching(self, name: str) -> bool:
        if self.group:
            return name == self.count
        if self.resource == "pods":
            return name in _POD_RESOURCES or name.startswith(("hugepages-",
                                                              "requests.hugepages-")) or (
                name.startswith("requests.") and _extended(name[len("requests."):]))
        if self.resource == "services":
            return name in ("services", "count/services", "services.nodeports",
                            "services.loadbalancers")
        if self.resource == "persistentvolumeclaims":
            return name in ("persistentvolumeclaims", "count/persistentvolumeclaims",
                            "requests.storage") or (_SC in name)
        return name == self.count or (name == self.resource and name in _LEGACY_COUNTED)

    def matches(self, quota: Obj, obj: Obj) -> bool:
        """``quota.Matches``: a tracked resource, and every scope of the quota."""
        hard = (quota.get("status") or {}).get("hard") or {}
        if not any(self.matching(r) for r in hard):
            return False
        spec = quota.get("spec") or {}
        scopes = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
        scopes += (spec.get("scopeSelector") or {}).get("matchExpressions") or []
        if (self.group, self.resource) != ("", "pods"):
            return not scopes
        return all(_pod_scope(s, obj) for s in scopes)

    def usage(self, obj: Obj) -> dict[str, Quantity]:
        if (self.group, self.resource) == ("", "pods"):
            return _pod_usage(obj)
        out = {self.count: _ONE}
        if not self.group and self.resource in _LEGACY_COUNTED:
            out[self.resource] = _ONE
        spec = obj.get("spec") or {}
        if (self.group, self.resource) == ("", "services"):
            ports = Quantity(len(spec.get("ports") or ()))
            if spec.get("type") == "NodePort":
                out["services.nodeports"] = ports
            elif spec.get("type") == "LoadBalancer":
                if spec.get("allocateLoadBalancerNodePorts", True) is not False:
                    out["services.nodeports"] = ports
                out["services.loadbalancers"] = _ONE
        elif (self.group, self.resource) == ("", "persistentvolumeclaims"):
            storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
            sc = spec.get("storageClassName") or ""
            if storage is not None:
                out["requests.storage"] = Quantity.parse(storage)
                if sc:
                    out[f"{sc}{_SC}requests.storage"] = Quantity.parse(storage)
            if sc:
                out[f"{sc}{_SC}persistentvolumeclaims"] = _ONE
        return out


def _pretty(rl: dict[str, Quantity], keys: Iterable[str]) -> str:
    return ",".join(f"{k}={rl[k]}" for k in sorted(keys) if k in rl)


class ResourceQuota(AdmissionPlugin):
    """Charge the request to every matching quota; refuse what would exceed one."""

    name = "ResourceQuota"

    def __init__(self, list_resource_quotas: Callable[[str], Iterable[Obj]]) -> None:
        self.list_resource_quotas = list_resource_quotas

    def validate(self, a: AdmissionAttributes) -> Sequence[Obj]:
        if a.subresource or not a.namespace or a.object is None:
            return ()
        ev = _Evaluator(a.resource, a.group)
        if not ev.handles(a.operation):
            return ()
        quotas = [json_copy(q) for q in self.list_resource_quotas(a.namespace)]
        interesting = [i for i, q in enumerate(quotas) if ev.matches(q, a.object)]
        for i in interesting:
            self._precheck(a, ev, quotas[i])
        if not interesting:
            return ()
        usage = ev.usage(a.object)
        negative = sorted(k for k, v in usage.items() if v.sign() < 0)
        if negative:
            raise _forbidden(a, f"quota usage is negative for resource(s): {','.join(negative)}")
        deltas = {i: usage for i in interesting}
        if a.operation == UPDATE:
            if a.old_object is None:
                raise _forbidden(a, "unable to get previous usage since prior version of "
                                    "object was not found")
            if _meta(a.old_object).get("resourceVersion"):
                prev = ev.usage(a.old_object)
                delta = {k: max(v - prev[k], Quantity(0)) if k in prev else v
                         for k, v in usage.items()}
                for i in interesting:
                    if ev.matches(quotas[i], a.old_object):
                        deltas[i] = delta
        return tuple(q for q in (self._charge(a, quotas[i], deltas[i]) for i in interesting) if q)

    @staticmethod
    def _precheck(a: AdmissionAttributes, ev: _Evaluator, quota: Obj) -> None:
        status, name = quota.get("status") or {}, _meta(quota).get("name", "")
        restricted = sorted(r for r in status.get("hard") or {} if ev.matching(r))
        if (ev.group, ev.resource) == ("", "pods"):
            err = _pod_constraints(restricted, a.object or {})
            if err:
                raise _forbidden(a, f"failed quota: {name}: {err}")
        used = status.get("used") or {}
        if any(r not in used for r in restricted):
            raise _forbidden(a, f"status unknown for quota: {name}, resources: "
                                f"{','.join(restricted)}")

    @staticmethod
    def _charge(a: AdmissionAttributes, quota: Obj, delta: dict[str, Quantity]) -> Obj | None:
        status = quota.setdefault("status", {})
        hard, used = _quantities(status.get("hard")), _quantities(status.get("used"))
        requested = {k: v for k, v in delta.items() if k in hard and not v.is_zero()}
        if not requested:
            return None
        new_used = dict(used)
        for k, v in requested.items():
            new_used[k] = new_used[k] + v if k in new_used else v
        exceeded = sorted(k for k in requested if new_used[k] > hard[k])
        if exceeded:
            raise _forbidden(a, f"exceeded quota: {_meta(quota).get('name', '')}, requested: "
                                f"{_pretty(requested, exceeded)}, used: "
                                f"{_pretty(used, exceeded)}, limited: {_pretty(hard, exceeded)}")
        status["used"] = {**(status.get("used") or {}),
                          **{k: str(new_used[k]) for k in requested}}
        return quota


# --- Priority ---------------------------------------------------------------------------

_PREEMPT = "PreemptLowerPriority"
_SYSTEM_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


class Priority(AdmissionPlugin):
    """Resolve ``priorityClassName`` to ``priority`` (and ``preemptionPolicy``)."""

    name = "Priority"

    def __init__(self, get_priority_class: Callable[[str], Obj | None],
                 list_priority_classes: Callable[[], Iterable[Obj]]) -> None:
        self.get_priority_class = get_priority_class
        self.list_priority_classes = list_priority_classes

    def _default_class(self) -> Obj | None:
        """The global default; several (a race) resolve to the lowest value."""
        best: Obj | None = None
        for pc in self.list_priority_classes():
            if pc.get("globalDefault") and (best is None or pc.get("value", 0) < best.get(
                    "value", 0)):
                best = pc
        return best

    def _lookup(self, name: str) -> Obj | None:
        pc = self.get_priority_class(name)
        if pc is None and name in _SYSTEM_CLASSES:
            # The apiserver creates these at start-up; stand in if the store lacks them.
            pc = {"metadata": {"name": name}, "value": _SYSTEM_CLASSES[name],
                  "preemptionPolicy": _PREEMPT}
        return pc

    def mutate(self, a: AdmissionAttributes) -> Obj | None:
        if not _is_pod(a):
            return None
        if a.operation == UPDATE:
            old = (a.old_object or {}).get("spec") or {}
            spec = (a.object or {}).get("spec") or {}
            keep = {k: old[k] for k in ("priority", "preemptionPolicy") if k in old and k not in spec}
            if not keep:
                return None
            pod = json_copy(a.object)
            pod.setdefault("spec", {}).update(keep)
            return pod
        if a.operation != CREATE:
            return None
        pod = json_copy(a.object)
        spec = pod.setdefault("spec", {})
        name = spec.get("priorityClassName") or ""
        if name:
            pc = self._lookup(name)
            if pc is None:
                raise _forbidden(a, f"no PriorityClass with name {name} was found")
        else:
            pc = self._default_class()
            if pc is not None:
                spec["priorityClassName"] = _meta(pc).get("name", "")
        value = pc.get("value", 0) if pc is not None else 0
        policy = (pc or {}).get("preemptionPolicy") or _PREEMPT
        if "priority" in spec and spec["priority"] != value:
            raise _forbidden(a, f"the integer value of priority ({spec['priority']}) must not be "
                                f"provided in pod spec; priority admission controller computed "
                                f"{value} from the given PriorityClass name")
        if "preemptionPolicy" in spec and spec["preemptionPolicy"] != policy:
            raise _forbidden(a, f"the string value of PreemptionPolicy "
                                f"({spec['preemptionPolicy']}) must not be provided in pod spec; "
                                f"priority admission controller computed {policy} from the "
                                "given PriorityClass name")
        spec["priority"], spec["preemptionPolicy"] = value, policy
        return pod

    def validate(self, a: AdmissionAttributes) -> Sequence[Obj]:
        if (a.group, a.resource) != ("scheduling.k8s.io", "priorityclasses") or (
                a.operation not in (CREATE, UPDATE) or not (a.object or {}).get("globalDefault")):
            return ()
        current = self._default_class()
        if current is not None and (a.operation == CREATE or _meta(current).get("name") != (
                a.name or _meta(a.object).get("name"))):
            raise _forbidden(a, f"PriorityClass {_meta(current).get('name', '')} is already "
                                "marked as default. Only one default can exist")
        return ()


def default_plugins(*, get_namespace: Callable[[str], Obj | None],
                    get_service_account: Callable[[str, str], Obj | None],
                    list_limit_ranges: Callable[[str], Iterable[Obj]],
                    list_resource_quotas: Callable[[str], Iterable[Obj]],
                    get_priority_class: Callable[[str], Obj | None],
                    list_priority_classes: Callable[[], Iterable[Obj]],
                    rng: random.Random) -> list[AdmissionPlugin]:
    """The plugins in kube-apiserver's order (RecommendedPluginOrder)."""
    return [NamespaceLifecycle(get_namespace), LimitRanger(list_limit_ranges),
            ServiceAccount(get_service_account, rng),
            Priority(get_priority_class, list_priority_classes), DefaultTolerationSeconds(),
            ResourceQuota(list_resource_quotas)]
