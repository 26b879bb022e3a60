"""Server-side printing: ``meta.k8s.io/v1`` Tables for every served resource.

What it is: one printer per resource, computing a row's cells from the object in its
Kubernetes JSON form (a plain dict), with the column sets of Kubernetes'
``pkg/printers/internalversion/printers.go`` (names, types and priorities; priority 1
columns are the ``-o wide`` ones). The apiserver always prints wide rows and kubectl
hides priority-1 columns itself, so every printer returns every cell. A resource with
no printer there (roles, clusterroles, bindings) gets the default table convertor's
``Name`` and ``Created At`` columns, as the apiserver does.

Concurrency model: none; pure functions of the object and ``now`` (seconds since the
epoch, injected: ages are printed relative to it, never to a clock read here).

Invariants: cells are strings, integers or booleans, printed by kubectl verbatim; an
object missing a field prints what Kubernetes prints for the Go zero value (``0``,
``""``, ``<none>``, ``<unknown>``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from actors.api import SelectorError, selector_from_api
from actors.kubelet._status import pod_columns

__all__ = ["TABLE_RESOURCES", "column_definitions", "human_duration", "table_for",
           "table_row"]

Obj = dict[str, Any]


# -- formatting helpers (duration.HumanDuration, labels.FormatLabels, ...) --------------------

def human_duration(seconds: float) -> str:
    """``k8s.io/apimachinery/pkg/util/duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _epoch(ts: str | None) -> float | None:
    if not ts:
        return None
    try:
        return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _since(ts: str | None, now: float) -> str:
    """translateTimestampSince: ``<unknown>`` for a zero timestamp."""
    t = _epoch(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def _g(obj: Any, *path: str | int) -> Any:
    """Walk dicts and lists; None when any step is missing."""
    for p in path:
        if isinstance(p, int):
            obj = obj[p] if isinstance(obj, list) and len(obj) > p else None
        else:
            obj = obj.get(p) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _labels(m: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` pairs, ``<none>`` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((m or {}).items())) or "<none>"


def _selector(sel: Obj | None, *, none_text: str = "<none>") -> str:
    """metav1.FormatLabelSelector (``<none>`` for nil or empty, ``<error>`` if invalid)."""
    try:
        text = str(selector_from_api(sel))
    except SelectorError:
        return "<error>"
    return text or none_text


def _containers(spec: Obj | None) -> tuple[str, str]:
    cs = _g(spec, "containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _template_wide(template: Obj | None, selector: str) -> list[Any]:
    names, images = _containers(_g(template, "spec"))
    return [names, images, selector]


# -- printers ------------------------------------------------------------------------------

def _pod(o: Obj, now: float) -> list[Any]:
    """printPod: READY counts ready running containers (plus started restartable init
    containers); STATUS is the most telling reason; RESTARTS says when the last one was."""
    spec, status = o.get("spec") or {}, o.get("status") or {}
    conds = status.get("conditions") or []
    ready, reason, restarts = pod_columns(o, now)  # one printPod, shared with the kubelet core
    gates = spec.get("readinessGates") or []
    by_type: dict[Any, Any] = {}
    for c in conds:
        by_type.setdefault(c.get("type"), c.get("status"))
    ready_gates = sum(by_type.get(g.get("conditionType")) == "True" for g in gates)
    ips = status.get("podIPs") or []
    return [_name(o), ready, reason, restarts, _age(o, now),
            (ips[0].get("ip") if ips else None) or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            f"{ready_gates}/{len(gates)}" if gates else "<none>"]


def _rc(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [_name(o), spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(o, now), *_template_wide(spec.get("template"), _labels(spec.get("selector")))]


def _rs(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [_name(o), spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(o, now), *_template_wide(spec.get("template"), _selector(spec.get("selector")))]


def _deployment(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    sel = _selector(spec.get("selector"), none_text="")
    return [_name(o), f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o, now),
            *_template_wide(spec.get("template"), sel)]


def _statefulset(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(_g(spec, "template", "spec"))
    return [_name(o), f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", _age(o, now),
            names, images]


def _daemonset(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return [_name(o), st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0),
            st.get("numberAvailable", 0), _labels(_g(spec, "template", "spec", "nodeSelector")),
            _age(o, now), *_template_wide(spec.get("template"), _selector(spec.get("selector")))]


def _has_condition(conds: list[Obj] | None, type_: str) -> bool:
    for c in conds or []:
        if c.get("type") == type_:
            return c.get("status") == "True"
    return False


def _job(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    succeeded = st.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    start, end = _epoch(st.get("startTime")), _epoch(st.get("completionTime"))
    took = "" if start is None else human_duration((now if end is None else end) - start)
    conds = st.get("conditions")
    status = ("Complete" if _has_condition(conds, "Complete")
              else "Failed" if _has_condition(conds, "Failed")
              else "Terminating" if _g(o, "metadata", "deletionTimestamp")
              else "Suspended" if _has_condition(conds, "Suspended")
              else "FailureTarget" if _has_condition(conds, "FailureTarget") else "Running")
    return [_name(o), status, completions, took, _age(o, now),
            *_template_wide(spec.get("template"), _selector(spec.get("selector")))]


def _cronjob(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    last = st.get("lastScheduleTime")
    suspend = spec.get("suspend")
    job_spec = _g(spec, "jobTemplate", "spec") or {}
    return [_name(o), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(st.get("active") or []), "<none>" if last is None else _since(last, now),
            _age(o, now),
            *_template_wide(job_spec.get("template"), _selector(job_spec.get("selector")))]


def _service(o: Obj, now: float) -> list[Any]:
    spec = o.get("spec") or {}
    ips = spec.get("clusterIPs") or []
    ports = []
    for p in spec.get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        ports.append(f"{p.get('port', 0)}{node}/{p.get('protocol', '')}")
    return [_name(o), spec.get("type", ""), ips[0] if ips else "<none>", _external_ip(o),
            ",".join(ports) or "<none>", _age(o, now), _labels(spec.get("selector"))]


def _external_ip(o: Obj) -> str:
    spec = o.get("spec") or {}
    external = spec.get("externalIPs") or []
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        found = sorted({i.get("ip") or i.get("hostname") for i in
                        _g(o, "status", "loadBalancer", "ingress") or []
                        if i.get("ip") or i.get("hostname")})
        if external:
            return ",".join([*found, *external])
        return ",".join(found) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _endpoints(o: Obj, now: float) -> list[Any]:
    shown: list[str] = []
    count = 0
    for ss in o.get("subsets") or []:
        addrs = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        pairs = ([(a, None) for a in addrs] if not ports
                 else [(a, p.get("port", 0)) for p in ports for a in addrs])
        for ip, port in pairs:
            count += 1
            if len(shown) < 3:
                shown.append(ip if port is None else (f"[{ip}]:{port}" if ":" in ip
                                                      else f"{ip}:{port}"))
    if not o.get("subsets"):
        text = "<none>"
    else:
        text = ",".join(shown) + (f" + {count - 3} more..." if count > 3 else "")
    return [_name(o), text, _age(o, now)]


def _more(items: list[str]) -> str:
    head = ",".join(items[:3])
    if len(items) > 3:
        return f"{head} + {len(items) - 3} more..."
    return head or "<unset>"


def _endpointslice(o: Obj, now: float) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
             for p in o.get("ports") or []]
    addrs = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_name(o), o.get("addressType", ""), _more(ports), _more(addrs), _age(o, now)]


def _node(o: Obj, now: float) -> list[Any]:
    st, spec = o.get("status") or {}, o.get("spec") or {}
    status = ["Unknown"]
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready":
            status = ["Ready" if c.get("status") == "True" else "NotReady"]
    if spec.get("unschedulable"):
        status.append("SchedulingDisabled")
    roles = set()
    for k, v in (_g(o, "metadata", "labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/") and len(k) > len("node-role.kubernetes.io/"):
            roles.add(k.removeprefix("node-role.kubernetes.io/"))
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    info = st.get("nodeInfo") or {}
    addrs = st.get("addresses") or []

    def addr(kind: str) -> str:
        return next((a.get("address", "") for a in addrs if a.get("type") == kind), "<none>")

    return [_name(o), ",".join(status), ",".join(sorted(roles)) or "<none>", _age(o, now),
            info.get("kubeletVersion", ""), addr("InternalIP"), addr("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _event(o: Obj, now: float) -> list[Any]:
    first = (_since(o["firstTimestamp"], now) if _epoch(o.get("firstTimestamp")) is not None
             else _since(o.get("eventTime"), now))
    last = _since(o["lastTimestamp"], now) if _epoch(o.get("lastTimestamp")) else first
    count = o.get("count") or 0
    if o.get("series"):
        last = _since(_g(o, "series", "lastObservedTime"), now)
        count = _g(o, "series", "count") or 0
    elif count == 0:
        count = 1  # singleton events carry no count in the events.k8s.io API
    inv = o.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    component = _g(o, "source", "component") or o.get("reportingComponent") or ""
    host = _g(o, "source", "host") or o.get("reportingInstance") or ""
    source = f"{component}, {host}" if host else component
    message = (o.get("message") or "").strip()
    return [last, o.get("type", ""), o.get("reason", ""), target, inv.get("fieldPath", ""),
            source, message, first, count, _name(o)]


def _namespace(o: Obj, now: float) -> list[Any]:
    return [_name(o), _g(o, "status", "phase") or "", _age(o, now)]


def _secret(o: Obj, now: float) -> list[Any]:
    return [_name(o), o.get("type", ""), len(o.get("data") or {}), _age(o, now)]


def _configmap(o: Obj, now: float) -> list[Any]:
    return [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)]


def _serviceaccount(o: Obj, now: float) -> list[Any]:
    return [_name(o), len(o.get("secrets") or []), _age(o, now)]


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def _modes(modes: list[str] | None) -> str:
    return ",".join(short for long, short in _ACCESS_MODES if long in (modes or []))


def _storage_class(o: Obj) -> str:
    ann = _g(o, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    return ann if ann is not None else (_g(o, "spec", "storageClassName") or "")


def _pv(o: Obj, now: float) -> list[Any]:
    spec = o.get("spec") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    phase = "Terminating" if _g(o, "metadata", "deletionTimestamp") else _g(o, "status", "phase")
    return [_name(o), _quantity(_g(spec, "capacity", "storage")), _modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase or "", claim, _storage_class(o),
            spec.get("volumeAttributesClassName") or "<unset>", _g(o, "status", "reason") or "",
            _age(o, now), spec.get("volumeMode") or "<unset>"]


def _pvc(o: Obj, now: float) -> list[Any]:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    phase = "Terminating" if _g(o, "metadata", "deletionTimestamp") else st.get("phase", "")
    bound = bool(spec.get("volumeName"))
    return [_name(o), phase or "", spec.get("volumeName", ""),
            _quantity(_g(st, "capacity", "storage")) if bound else "",
            _modes(st.get("accessModes")) if bound else "", _storage_class(o),
            spec.get("volumeAttributesClassName") or "<unset>", _age(o, now),
            spec.get("volumeMode") or "<unset>"]


def _quantity(q: Any) -> str:
    return "0" if q is None else str(q)


def _componentstatus(o: Obj, now: float) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for c in o.get("conditions") or []:
        if c.get("type") == "Healthy":
            status = "Healthy" if c.get("status") == "True" else "Unhealthy"
            message, error = c.get("message", ""), c.get("error", "")
            break
    return [_name(o), status, message, error]


def _controllerrevision(o: Obj, now: float) -> list[Any]:
    owner = next((r for r in _g(o, "metadata", "ownerReferences") or [] if r.get("controller")),
                 None)
    controller = "<none>"
    if owner is not None:
        group = (owner.get("apiVersion") or "").rpartition("/")[0]
        kind = owner.get("kind", "")
        gk = f"{kind}.{group}" if group else kind
        controller = f"{gk.lower()}/{owner.get('name', '')}" if gk else owner.get("name", "")
    return [_name(o), controller, o.get("revision", 0), _age(o, now)]


def _lease(o: Obj, now: float) -> list[Any]:
    return [_name(o), _g(o, "spec", "holderIdentity") or "", _age(o, now)]


def _binding(o: Obj, now: float) -> list[Any]:
    ref = o.get("roleRef") or {}
    users, groups, sas = [], [], []
    for s in o.get("subjects") or []:
        kind = s.get("kind")
        if kind == "User":
            users.append(s.get("name", ""))
        elif kind == "Group":
            groups.append(s.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
    return [_name(o), f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(o, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _storageclass(o: Obj, now: float) -> list[Any]:
    ann = _g(o, "metadata", "annotations") or {}
    default = "true" in (ann.get("storageclass.kubernetes.io/is-default-class"),
                         ann.get("storageclass.beta.kubernetes.io/is-default-class"))
    return [_name(o) + (" (default)" if default else ""), o.get("provisioner", ""),
            o.get("reclaimPolicy") or "Delete", o.get("volumeBindingMode") or "Immediate",
            bool(o.get("allowVolumeExpansion")), _age(o, now)]


def _pdb(o: Obj, now: float) -> list[Any]:
    """printPodDisruptionBudget: IntOrString.String() of each bound, N/A when unset."""
    spec = o.get("spec") or {}
    bounds = [str(v) if v is not None else "N/A"
              for v in (spec.get("minAvailable"), spec.get("maxUnavailable"))]
    return [_name(o), *bounds, _g(o, "status", "disruptionsAllowed") or 0, _age(o, now)]


def _default(o: Obj, now: float) -> list[Any]:
    """The default table convertor: the name and the creation time in RFC 3339 UTC."""
    t = _epoch(_g(o, "metadata", "creationTimestamp"))
    created = "" if t is None else datetime.datetime.fromtimestamp(t, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return [_name(o), created]


def _name(o: Obj) -> str:
    return _g(o, "metadata", "name") or ""


def _age(o: Obj, now: float) -> str:
    return _since(_g(o, "metadata", "creationTimestamp"), now)


# Column sets as printers.go declares them: "Name:type" (string when no type); priority-1
# (-o wide) columns follow the ";" or, where they are interleaved, carry a "+".
_COLUMNS: dict[str, str] = {
    "pods": "Name,Ready,Status,Restarts,Age;IP,Node,Nominated Node,Readiness Gates",
    "replicationcontrollers": "Name,Desired:integer,Current:integer,Ready:integer,Age;"
                              "Containers,Images,Selector",
    "replicasets": "Name,Desired:integer,Current:integer,Ready:integer,Age;"
                   "Containers,Images,Selector",
    "deployments": "Name,Ready,Up-to-date,Available,Age;Containers,Images,Selector",
    "statefulsets": "Name,Ready,Age;Containers,Images",
    "daemonsets": "Name,Desired:integer,Current:integer,Ready:integer,Up-to-date:integer,"
                  "Available:integer,Node Selector,Age;Containers,Images,Selector",
    "jobs": "Name,Status,Completions,Duration,Age;Containers,Images,Selector",
    "cronjobs": "Name,Schedule,Timezone,Suspend:boolean,Active:integer,Last Schedule,Age;"
                "Containers,Images,Selector",
    "services": "Name,Type,Cluster-IP,External-IP,Port(s),Age;Selector",
    "endpoints": "Name,Endpoints,Age",
    "endpointslices": "Name,AddressType,Ports,Endpoints,Age",
    "nodes": "Name,Status,Roles,Age,Version;Internal-IP,External-IP,OS-Image,Kernel-Version,"
             "Container-Runtime",
    "events": "Last Seen,Type,Reason,Object,+Subobject,+Source,Message,+First Seen,+Count,+Name",
    "namespaces": "Name,Status,Age",
    "secrets": "Name,Type,Data,Age",
    "configmaps": "Name,Data,Age",
    "serviceaccounts": "Name,Secrets,Age",
    "persistentvolumes": "Name,Capacity,Access Modes,Reclaim Policy,Status,Claim,StorageClass,"
                         "VolumeAttributesClass,Reason,Age;VolumeMode",
    "persistentvolumeclaims": "Name,Status,Volume,Capacity,Access Modes,StorageClass,"
                              "VolumeAttributesClass,Age;VolumeMode",
    "componentstatuses": "Name,Status,Message,Error",
    "controllerrevisions": "Name,Controller,Revision,Age",
    "leases": "Name,Holder,Age",
    "rolebindings": "Name,Role,Age;Users,Groups,ServiceAccounts",
    "clusterrolebindings": "Name,Role,Age;Users,Groups,ServiceAccounts",
    "storageclasses": "Name,Provisioner,ReclaimPolicy,VolumeBindingMode,AllowVolumeExpansion,"
                      "Age",
    "poddisruptionbudgets": "Name,Min Available,Max Unavailable,Allowed Disruptions:integer,Age",
}
_PRINTERS: dict[str, Callable[[Obj, float], list[Any]]] = {
    "pods": _pod, "replicationcontrollers": _rc, "replicasets": _rs,
    "deployments": _deployment, "statefulsets": _statefulset, "daemonsets": _daemonset,
    "jobs": _job, "cronjobs": _cronjob, "services": _service, "endpoints": _endpoints,
    "endpointslices": _endpointslice, "nodes": _node, "events": _event,
    "namespaces": _namespace, "secrets": _secret, "configmaps": _configmap,
    "serviceaccounts": _serviceaccount, "persistentvolumes": _pv,
    "persistentvolumeclaims": _pvc, "componentstatuses": _componentstatus,
    "controllerrevisions": _controllerrevision, "leases": _lease, "rolebindings": _binding,
    "clusterrolebindings": _binding, "storageclasses": _storageclass,
    "poddisruptionbudgets": _pdb,
}
_DEFAULT_COLUMNS = "Name,Created At:date"
TABLE_RESOURCES = tuple(_PRINTERS)


def column_definitions(resource: str) -> list[Obj]:
    """The Table's ``columnDefinitions`` for a resource (plural name)."""
    head, _, wide = _COLUMNS.get(resource, _DEFAULT_COLUMNS).partition(";")
    specs = [(c, 0) for c in head.split(",")] + [(c, 1) for c in wide.split(",") if c]
    out = []
    for spec, priority in specs:
        if spec.startswith("+"):
            spec, priority = spec[1:], 1
        name, _, type_ = spec.partition(":")
        col: Obj = {"name": name, "type": type_ or "string", "format": "", "description": "",
                    "priority": priority}
        if name == "Name":
            col["format"] = "name"
            col["description"] = "Name must be unique within a namespace."
        elif name == "Age":
            col["description"] = "CreationTimestamp is the time this object was created."
        out.append(col)
    return out


def table_row(resource: str, obj: Obj, now: float, include_object: str = "Metadata") -> Obj:
    """One ``TableRow``: the cells and, unless ``include_object`` is None, the object
    (``Metadata``: a PartialObjectMetadata, as kubectl needs for -A, -o name, labels)."""
    printer = _PRINTERS.get(resource, _default)
    row: Obj = {"cells": printer(obj, now)}
    if resource == "pods":
        phase = _g(obj, "status", "phase")
        if phase in ("Succeeded", "Failed"):
            row["conditions"] = [{"type": "Completed", "status": "True", "reason": phase,
                                  "message": "The pod has completed successfully."
                                  if phase == "Succeeded" else "The pod failed."}]
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata") or {}}
    return row


def table_for(resource: str, body: Obj, now: float, *, include_object: str = "Metadata",
              headers: bool = True) -> Obj:
    """The Table for a list (``items``) or a single object; headers can be left out, as
    the apiserver does after the first event of a watch."""
    items = body.get("items") if isinstance(body.get("items"), list) else None
    objs = items if items is not None else [body]
    meta = body.get("metadata") or {}
    table_meta = {k: meta[k] for k in ("resourceVersion", "continue", "remainingItemCount")
                  if meta.get(k) is not None}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": table_meta,
            "columnDefinitions": column_definitions(resource) if headers else [],
            "rows": [table_row(resource, o, now, include_object) for o in objs]}
