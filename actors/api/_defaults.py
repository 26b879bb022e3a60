"""Defaulting: what the apiserver fills in before validation and storage.

What it is: ``default(obj)`` mirrors ``pkg/apis/*/v1/defaults.go`` (SetDefaults_Pod,
SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_Probe, SetDefaults_Deployment,
SetDefaults_Job, SetDefaults_Service, ...), plus the bits the registry strategies add on
create that ``kubectl get -o yaml`` shows (Namespace finalizers, Service ipFamilyPolicy).
Quantities are canonicalized ("1000m" -> "1", 0.5 -> "500m") as the apiserver's Quantity
decoding does. What admission plugins add (the ``default`` service account, default
tolerations, priority) is not done here; ``default_service_account`` is the helper the
ServiceAccount admission step can call.

Concurrency model: none; pure functions.

Invariants: inputs are never mutated (a changed object is a ``msgspec.structs.replace``
copy, dicts are copied before being changed); defaulting is idempotent; an unchanged
sub-object is returned as the same instance. As in Go, an empty string counts as unset
for string fields and 0 counts as unset for the probe's non-pointer integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from msgspec.structs import replace

from . import _apps, _batch, _core_other, _core_pod, _discovery, _rbac, _storage
from ._meta import ObjectMeta

__all__ = ["default", "default_pod_spec", "default_service_account"]

T = TypeVar("T")
_DEFAULT_MODE = 0o644  # 420: configMap/secret/projected/downwardAPI volume file mode
RBAC_GROUP = "rbac.authorization.k8s.io"


def _fill(obj: T, **defaults: Any) -> T:
    """Set each field that is None or "" to its default; same object if nothing changes."""
    changes = {k: v for k, v in defaults.items() if getattr(obj, k) in (None, "")}
    return replace(obj, **changes) if changes else obj  # type: ignore[type-var]


def _fill_zero(obj: T, **defaults: Any) -> T:
    changes = {k: v for k, v in defaults.items() if not getattr(obj, k)}
    return replace(obj, **changes) if changes else obj  # type: ignore[type-var]


def _set(obj: T, **values: Any) -> T:
    """Replace only the fields whose value actually changed (keeps identity otherwise)."""
    changes = {k: v for k, v in values.items() if getattr(obj, k) is not v}
    return replace(obj, **changes) if changes else obj  # type: ignore[type-var]


def _map(items: list[T] | None, fn: Callable[[T], T]) -> list[T] | None:
    if items is None:
        return None
    out = [fn(x) for x in items]
    return items if all(a is b for a, b in zip(out, items)) else out


def _canonical(rl: dict[str, Any] | None) -> dict[str, Any] | None:
    """Quantities in their canonical form; unparseable ones are left for validation."""
    if not rl:
        return rl
    from ._quantity import QuantityError, parse_quantity

    out = {}
    for k, v in rl.items():
        try:
            out[k] = str(parse_quantity(v))
        except (QuantityError, TypeError):
            out[k] = v
    return rl if out == rl else out


# -- containers and pod spec ------------------------------------------------------------


def _image_pull_policy(image: str | None) -> str:
    """SetDefaults_Container: Always for ``:latest`` or an untagged image, else IfNotPresent."""
    ref = image or ""
    if "@" in ref:
        return "IfNotPresent"  # pinned by digest
    last = ref.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(h: _core_pod.HTTPGetAction | None) -> _core_pod.HTTPGetAction | None:
    return None if h is None else _fill(h, path="/", scheme="HTTP")


def _probe(p: _core_pod.Probe | None) -> _core_pod.Probe | None:
    if p is None:
        return None
    p = _fill_zero(p, timeout_seconds=1, period_seconds=10, success_threshold=1,
                   failure_threshold=3)
    return _set(p, http_get=_http_get(p.http_get))


def _handler(h: _core_pod.LifecycleHandler | None) -> _core_pod.LifecycleHandler | None:
    return None if h is None else _set(h, http_get=_http_get(h.http_get))


def _env(e: _core_pod.EnvVar) -> _core_pod.EnvVar:
    vf = e.value_from
    if vf is None or vf.field_ref is None:
        return e
    return _set(e, value_from=_set(vf, field_ref=_fill(vf.field_ref, api_version="v1")))


def _resources(r: _core_pod.ResourceRequirements | None) -> _core_pod.ResourceRequirements:
    if r is None:
        return _core_pod.ResourceRequirements()  # Go's non-pointer struct: always "{}"
    return _set(r, limits=_canonical(r.limits), requests=_canonical(r.requests))


def _container(c: _core_pod.Container, host_network: bool) -> _core_pod.Container:
    c = _fill(c, image_pull_policy=_image_pull_policy(c.image),
              termination_message_path="/dev/termination-log",
              termination_message_policy="File")

    def port(p: _core_pod.ContainerPort) -> _core_pod.ContainerPort:
        p = _fill(p, protocol="TCP")
        if host_network and not p.host_port:
            p = replace(p, host_port=p.container_port)  # hostNetwork: hostPort mirrors
        return p

    lc = c.lifecycle
    if lc is not None:
        lc = _set(lc, post_start=_handler(lc.post_start), pre_stop=_handler(lc.pre_stop))
    return _set(c, ports=_map(c.ports, port), env=_map(c.env, _env),
                resources=_resources(c.resources), lifecycle=lc,
                liveness_probe=_probe(c.liveness_probe),
                readiness_probe=_probe(c.readiness_probe),
                startup_probe=_probe(c.startup_probe))


def _volume(v: _core_pod.Volume) -> _core_pod.Volume:
    sources = [f for f in v.__struct_fields__ if f != "name" and getattr(v, f) is not None]
    if not sources:
        return replace(v, empty_dir=_core_pod.EmptyDirVolumeSource())
    changes: dict[str, Any] = {}
    if v.config_map is not None:
        changes["config_map"] = _fill(v.config_map, default_mode=_DEFAULT_MODE)
    if v.secret is not None:
        changes["secret"] = _fill(v.secret, default_mode=_DEFAULT_MODE)
    if v.host_path is not None and v.host_path.type is None:
        changes["host_path"] = replace(v.host_path, type="")
    for raw in ("projected", "downward_api"):
        src = getattr(v, raw)
        if src is not None and "defaultMode" not in src:
            changes[raw] = {**src, "defaultMode": _DEFAULT_MODE}
    return _set(v, **changes)


def default_pod_spec(spec: _core_pod.PodSpec | None) -> _core_pod.PodSpec:
    """SetDefaults_PodSpec and everything nested in it (templates get exactly this)."""
    spec = _fill(spec or _core_pod.PodSpec(), dns_policy="ClusterFirst",
                 restart_policy="Always", termination_grace_period_seconds=30,
                 scheduler_name="default-scheduler")
    if spec.security_context is None:
        spec = replace(spec, security_context={})
    hn = bool(spec.host_network)
    return _set(spec, containers=_map(spec.containers, lambda c: _container(c, hn)),
                init_containers=_map(spec.init_containers, lambda c: _container(c, hn)),
                volumes=_map(spec.volumes, _volume), overhead=_canonical(spec.overhead))


def _requests_from_limits(c: _core_pod.Container) -> _core_pod.Container:
    """SetDefaults_Pod: a resource with a limit and no request is requested at its limit."""
    r = c.resources
    if r is None or not r.limits:
        return c
    missing = {k: v for k, v in r.limits.items() if k not in (r.requests or {})}
    if not missing:
        return c
    return replace(c, resources=replace(r, requests={**(r.requests or {}), **missing}))


def _pod(pod: _core_pod.Pod) -> _core_pod.Pod:
    spec = default_pod_spec(pod.spec)
    spec = _fill(spec, enable_service_links=True)
    spec = _set(spec, containers=_map(spec.containers, _requests_from_limits),
                init_containers=_map(spec.init_containers, _requests_from_limits))
    return _set(pod, spec=spec)


def default_service_account(pod: _core_pod.Pod) -> _core_pod.Pod:
    """What the ServiceAccount admission plugin does first: use ``default``."""
    spec = pod.spec or _core_pod.PodSpec()
    name = spec.service_account_name or spec.service_account or "default"
    return replace(pod, spec=_set(spec, service_account_name=name, service_account=name))


def _template(t: _core_pod.PodTemplateSpec | None) -> _core_pod.PodTemplateSpec:
    t = t or _core_pod.PodTemplateSpec()
    return _set(t, spec=default_pod_spec(t.spec))


# -- workloads ----------------------------------------------------------------------------


def _deployment(d: _apps.Deployment) -> _apps.Deployment:
    spec = _fill(d.spec or _apps.DeploymentSpec(), replicas=1, revision_history_limit=10,
                 progress_deadline_seconds=600)
    strategy = _fill(spec.strategy or _apps.DeploymentStrategy(), type="RollingUpdate")
    if strategy.type == "RollingUpdate":
        ru = _fill(strategy.rolling_update or _apps.RollingUpdateDeployment(),
                   max_unavailable="25%", max_surge="25%")
        strategy = _set(strategy, rolling_update=ru)
    return _set(d, spec=_set(spec, strategy=strategy, template=_template(spec.template)))


def _replica_set(rs: _apps.ReplicaSet) -> _apps.ReplicaSet:
    spec = _fill(rs.spec or _apps.ReplicaSetSpec(), replicas=1)
    return _set(rs, spec=_set(spec, template=_template(spec.template)))


def _daemon_set(ds: _apps.DaemonSet) -> _apps.DaemonSet:
    spec = _fill(ds.spec or _apps.DaemonSetSpec(), revision_history_limit=10)
    us = _fill(spec.update_strategy or _apps.DaemonSetUpdateStrategy(), type="RollingUpdate")
    if us.type == "RollingUpdate":
        ru = _fill(us.rolling_update or _apps.RollingUpdateDaemonSet(), max_unavailable=1,
                   max_surge=0)
        us = _set(us, rolling_update=ru)
    return _set(ds, spec=_set(spec, update_strategy=us, template=_template(spec.template)))


def _stateful_set(ss: _apps.StatefulSet) -> _apps.StatefulSet:
    spec = _fill(ss.spec or _apps.StatefulSetSpec(), replicas=1, revision_history_limit=10,
                 pod_management_policy="OrderedReady")
    us = _fill(spec.update_strategy or _apps.StatefulSetUpdateStrategy(), type="RollingUpdate")
    if us.type == "RollingUpdate":
        us = _set(us, rolling_update=_fill(
            us.rolling_update or _apps.RollingUpdateStatefulSetStrategy(), partition=0))
    retention = _fill(spec.persistent_volume_claim_retention_policy
                      or _apps.StatefulSetPersistentVolumeClaimRetentionPolicy(),
                      when_deleted="Retain", when_scaled="Retain")
    return _set(ss, spec=_set(spec, update_strategy=us, template=_template(spec.template),
                              persistent_volume_claim_retention_policy=retention,
                              volume_claim_templates=_map(spec.volume_claim_templates, _pvc)))


def _replication_controller(rc: _core_other.ReplicationController) -> Any:
    spec = _fill(rc.spec or _core_other.ReplicationControllerSpec(), replicas=1)
    template = _template(spec.template)
    labels = (template.metadata.labels if template.metadata else None) or None
    if labels and not spec.selector:
        spec = replace(spec, selector=dict(labels))
    meta = rc.metadata or ObjectMeta()
    if labels and not meta.labels:
        rc = replace(rc, metadata=replace(meta, labels=dict(labels)))
    return _set(rc, spec=_set(spec, template=template))


def _job(job: _batch.Job) -> _batch.Job:
    spec = job.spec or _batch.JobSpec()
    if spec.completions is None and spec.parallelism is None:
        spec = replace(spec, completions=1, parallelism=1)
    policy = "Failed" if spec.pod_failure_policy is not None else "TerminatingOrFailed"
    spec = _fill(spec, parallelism=1, backoff_limit=6, completion_mode="NonIndexed",
                 suspend=False, pod_replacement_policy=policy)
    spec = _set(spec, template=_template(spec.template))
    labels = spec.template.metadata.labels if spec.template.metadata else None
    if labels and not (job.metadata and job.metadata.labels):
        job = replace(job, metadata=_set(job.metadata or ObjectMeta(), labels=dict(labels)))
    return _set(job, spec=spec)


def _cron_job(cj: _batch.CronJob) -> _batch.CronJob:
    spec = _fill(cj.spec or _batch.CronJobSpec(), concurrency_policy="Allow", suspend=False,
                 successful_jobs_history_limit=3, failed_jobs_history_limit=1)
    jt = spec.job_template or _batch.JobTemplateSpec()
    js = jt.spec or _batch.JobSpec()
    jt = _set(jt, spec=_set(js, template=_template(js.template)))
    return _set(cj, spec=_set(spec, job_template=jt))


# -- services, networking ---------------------------------------------------------------


def _service_port(p: _core_other.ServicePort) -> _core_other.ServicePort:
    p = _fill(p, protocol="TCP")
    if p.target_port in (None, 0, ""):
        p = replace(p, target_port=p.port)
    return p


def _service(svc: _core_other.Service) -> _core_other.Service:
    spec = _fill(svc.spec or _core_other.ServiceSpec(), session_affinity="None",
                 type="ClusterIP")
    spec = _set(spec, ports=_map(spec.ports, _service_port))
    if spec.type in ("NodePort", "LoadBalancer"):
        spec = _fill(spec, external_traffic_policy="Cluster")
    if spec.type == "LoadBalancer":
        spec = _fill(spec, allocate_load_balancer_node_ports=True)
    if spec.type != "ExternalName":
        # internalTrafficPolicy is SetDefaults_Service; the IP family fields are what the
        # service registry fills in on create for a single-stack cluster.
        spec = _fill(spec, internal_traffic_policy="Cluster", ip_family_policy="SingleStack",
                     ip_families=["IPv4"])
    if spec.session_affinity == "ClientIP":
        cfg = spec.session_affinity_config or _core_other.SessionAffinityConfig()
        cip = _fill(cfg.client_ip or _core_other.ClientIPConfig(), timeout_seconds=10800)
        spec = _set(spec, session_affinity_config=_set(cfg, client_ip=cip))
    return _set(svc, spec=spec)


def _endpoints(ep: _core_other.Endpoints) -> _core_other.Endpoints:
    def subset(s: _core_other.EndpointSubset) -> _core_other.EndpointSubset:
        return _set(s, ports=_map(s.ports, lambda p: _fill(p, protocol="TCP")))

    return _set(ep, subsets=_map(ep.subsets, subset))


def _endpoint_slice(es: _discovery.EndpointSlice) -> _discovery.EndpointSlice:
    def port(p: _discovery.EndpointSlicePort) -> _discovery.EndpointSlicePort:
        p = _fill(p, protocol="TCP")
        return p if p.name is not None else replace(p, name="")

    return _set(es, ports=_map(es.ports, port))


# -- cluster objects, config, storage, rbac ---------------------------------------------


def _namespace(ns: _core_other.Namespace) -> _core_other.Namespace:
    spec = _fill(ns.spec or _core_other.NamespaceSpec(), finalizers=["kubernetes"])
    status = _fill(ns.status or _core_other.NamespaceStatus(), phase="Active")
    return _set(ns, spec=spec, status=status)


def _node(node: _core_other.Node) -> _core_other.Node:
    st = node.status
    if st is None:
        return node
    st = _set(st, capacity=_canonical(st.capacity), allocatable=_canonical(st.allocatable))
    if st.allocatable is None and st.capacity is not None:
        st = replace(st, allocatable=dict(st.capacity))  # SetDefaults_NodeStatus
    return _set(node, status=st)


def _secret(s: _core_other.Secret) -> _core_other.Secret:
    return _fill(s, type="Opaque")


def _pvc(pvc: _core_other.PersistentVolumeClaim) -> _core_other.PersistentVolumeClaim:
    spec = _fill(pvc.spec or _core_other.PersistentVolumeClaimSpec(), volume_mode="Filesystem")
    if spec.resources is not None:
        r = spec.resources
        spec = _set(spec, resources=_set(r, requests=_canonical(r.requests),
                                         limits=_canonical(r.limits)))
    status = _fill(pvc.status or _core_other.PersistentVolumeClaimStatus(), phase="Pending")
    return _set(pvc, spec=spec, status=status)


def _pv(pv: _core_other.PersistentVolume) -> _core_other.PersistentVolume:
    spec = _fill(pv.spec or _core_other.PersistentVolumeSpec(),
                 persistent_volume_reclaim_policy="Retain", volume_mode="Filesystem")
    spec = _set(spec, capacity=_canonical(spec.capacity))
    status = _fill(pv.status or _core_other.PersistentVolumeStatus(), phase="Pending")
    return _set(pv, spec=spec, status=status)


def _storage_class(sc: _storage.StorageClass) -> _storage.StorageClass:
    return _fill(sc, reclaim_policy="Delete", volume_binding_mode="Immediate")


def _subject(s: _rbac.Subject) -> _rbac.Subject:
    if s.api_group is None and s.kind in ("User", "Group"):
        return replace(s, api_group=RBAC_GROUP)
    return s


def _binding(b: Any) -> Any:
    ref = b.role_ref
    if ref is not None and ref.api_group in (None, ""):
        b = replace(b, role_ref=replace(ref, api_group=RBAC_GROUP))
    return _set(b, subjects=_map(b.subjects, _subject))


_DEFAULTERS: dict[type, Callable[[Any], Any]] = {
    _core_pod.Pod: _pod,
    _apps.Deployment: _deployment,
    _apps.ReplicaSet: _replica_set,
    _apps.DaemonSet: _daemon_set,
    _apps.StatefulSet: _stateful_set,
    _core_other.ReplicationController: _replication_controller,
    _batch.Job: _job,
    _batch.CronJob: _cron_job,
    _core_other.Service: _service,
    _core_other.Endpoints: _endpoints,
    _discovery.EndpointSlice: _endpoint_slice,
    _core_other.Namespace: _namespace,
    _core_other.Node: _node,
    _core_other.Secret: _secret,
    _core_other.PersistentVolumeClaim: _pvc,
    _core_other.PersistentVolume: _pv,
    _storage.StorageClass: _storage_class,
    _rbac.RoleBinding: _binding,
    _rbac.ClusterRoleBinding: _binding,
}


def default(obj: T) -> T:
    """A copy of ``obj`` with Kubernetes' defaults filled in (kinds without defaults,
    such as ConfigMap, Lease or Event, come back unchanged)."""
    fn = _DEFAULTERS.get(type(obj))
    return fn(obj) if fn is not None else obj
