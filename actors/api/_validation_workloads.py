"""Workload validation: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision
(``pkg/apis/apps/validation``), Job and CronJob (``pkg/apis/batch/validation``) and
ReplicationController.

What it is: the selector rules (required, non-empty, matching the template's labels,
immutable in apps/v1), the template restart-policy rules, rollout strategy checks and
the update restrictions of each kind.

Concurrency model: none; pure functions.

Invariants: see ``_validation``. A Job's selector is required, as in Kubernetes, where
the Job strategy generates it on create: ``generate_job_selector`` does that step.
"""

from __future__ import annotations

import re
from typing import Any

from msgspec.structs import replace

from . import _apps as apps
from . import _batch as batch
from . import _core_other as core
from . import _core_pod as pod
from ._meta import LabelSelector, ObjectMeta
from ._validation import (
    Cause,
    child,
    dns_subdomain,
    forbidden,
    immutable,
    invalid_value,
    nonnegative,
    not_supported,
    register,
    required,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from ._validation_pod import validate_pod_template

__all__ = ["generate_job_selector"]

_PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' "
                "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
_MATCH_MSG = "`selector` does not match template `labels`"


# -- shared pieces -------------------------------------------------------------------------


def _int_or_percent(v: int | str | None, path: str) -> list[Cause]:
    if isinstance(v, str):
        return [] if re.fullmatch(r"[0-9]+%", v) else [invalid_value(path, v, _PERCENT_MSG)]
    return nonnegative(v, path)


def _ip_value(v: int | str | None) -> int:
    if isinstance(v, str):
        return int(v[:-1]) if re.fullmatch(r"[0-9]+%", v) else 0
    return v or 0


def _not_over_100(v: int | str | None, path: str) -> list[Cause]:
    if isinstance(v, str) and _ip_value(v) > 100:
        return [invalid_value(path, v, "must not be greater than 100%")]
    return []


def _labels_of(t: pod.PodTemplateSpec | None) -> dict[str, str] | None:
    return t.metadata.labels if t is not None and t.metadata is not None else None


def _selector(sel: LabelSelector | None, path: str, empty_msg: str) -> list[Cause]:
    if sel is None:
        return [required(path)]
    errs = validate_label_selector(sel, path)
    if not sel.match_labels and not sel.match_expressions:
        errs.append(invalid_value(path, sel, empty_msg))
    return errs


def _template_matches(sel: LabelSelector | None, t: pod.PodTemplateSpec | None,
                      path: str) -> list[Cause]:
    """The template's labels must be selected (a missing selector selects nothing)."""
    from ._labels import SelectorError, selector_from_api

    try:
        s = selector_from_api(sel)
    except SelectorError:
        return [invalid_value(path.rsplit(".", 1)[0] + ".selector", sel, "invalid label selector")]
    labels = _labels_of(t)
    if not s.empty and not s.matches(labels or {}):
        return [invalid_value(child(path, "metadata.labels"), labels, _MATCH_MSG)]
    return []


def _template_for_controller(sel: LabelSelector | None, t: pod.PodTemplateSpec | None,
                             path: str, kind: str) -> list[Cause]:
    """ValidatePodTemplateSpecForReplicaSet and its DaemonSet/StatefulSet siblings."""
    if t is None:
        return [required(path)]
    errs = _template_matches(sel, t, path)
    errs += validate_pod_template(t, path)
    spec = t.spec or pod.PodSpec()
    if spec.restart_policy not in (None, "Always"):
        errs.append(not_supported(child(path, "spec.restartPolicy"), spec.restart_policy, ("Always",)))
    if spec.active_deadline_seconds is not None:
        msg = ("must not be specified" if kind == "StatefulSet"
               else f"activeDeadlineSeconds in {kind} is not Supported")
        errs.append(invalid_value(child(path, "spec.activeDeadlineSeconds"),
                                  spec.active_deadline_seconds, msg))
    return errs


def _meta(obj: Any, old: Any, name_fn: Any = dns_subdomain) -> list[Cause]:
    if old is None:
        return validate_object_meta(obj.metadata, True, name_fn)
    return validate_object_meta_update(obj.metadata, old.metadata)


def _selector_immutable(obj: Any, old: Any) -> list[Cause]:
    if old is None:
        return []
    new_sel = obj.spec.selector if obj.spec else None
    old_sel = old.spec.selector if old.spec else None
    return immutable(new_sel, old_sel, "spec.selector")


# -- apps/v1 -------------------------------------------------------------------------------


def _deployment_strategy(s: apps.DeploymentStrategy | None, path: str) -> list[Cause]:
    if s is None or s.type in (None, ""):
        return []
    if s.type == "Recreate":
        if s.rolling_update is not None:
            return [forbidden(child(path, "rollingUpdate"),
                              "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if s.type != "RollingUpdate":
        return [not_supported(path, s, ("Recreate", "RollingUpdate"))]
    ru = s.rolling_update
    if ru is None:
        return [required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")]
    rp = child(path, "rollingUpdate")
    errs = _int_or_percent(ru.max_unavailable, child(rp, "maxUnavailable"))
    errs += _int_or_percent(ru.max_surge, child(rp, "maxSurge"))
    if _ip_value(ru.max_unavailable) == 0 and _ip_value(ru.max_surge) == 0:
        errs.append(invalid_value(child(rp, "maxUnavailable"), ru.max_unavailable or 0,
                                  "may not be 0 when `maxSurge` is 0"))
    return errs + _not_over_100(ru.max_unavailable, child(rp, "maxUnavailable"))


@register(apps.Deployment)
def _deployment(d: apps.Deployment, old: apps.Deployment | None) -> list[Cause]:
    spec = d.spec or apps.DeploymentSpec()
    errs = _meta(d, old)
    errs += nonnegative(spec.replicas, "spec.replicas")
    errs += _selector(spec.selector, "spec.selector", "empty selector is invalid for deployment")
    errs += _template_for_controller(spec.selector, spec.template, "spec.template", "ReplicaSet")
    errs += _deployment_strategy(spec.strategy, "spec.strategy")
    errs += nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    pds = spec.progress_deadline_seconds
    if pds is not None:
        errs += nonnegative(pds, "spec.progressDeadlineSeconds")
        if pds <= (spec.min_ready_seconds or 0):
            errs.append(invalid_value("spec.progressDeadlineSeconds", pds,
                                      "must be greater than minReadySeconds"))
    return errs + _selector_immutable(d, old)


@register(apps.ReplicaSet)
def _replica_set(rs: apps.ReplicaSet, old: apps.ReplicaSet | None) -> list[Cause]:
    spec = rs.spec or apps.ReplicaSetSpec()
    errs = _meta(rs, old)
    errs += nonnegative(spec.replicas, "spec.replicas")
    errs += nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += _selector(spec.selector, "spec.selector", "empty selector is invalid for deployment")
    errs += _template_for_controller(spec.selector, spec.template, "spec.template", "ReplicaSet")
    return errs + _selector_immutable(rs, old)


def _daemon_strategy(s: apps.DaemonSetUpdateStrategy | None, path: str) -> list[Cause]:
    if s is None or s.type in (None, "", "OnDelete"):
        return []
    if s.type != "RollingUpdate":
        return [not_supported(path, s, ("RollingUpdate", "OnDelete"))]
    ru = s.rolling_update
    rp = child(path, "rollingUpdate")
    if ru is None:
        return [required(rp)]
    errs = _int_or_percent(ru.max_unavailable, child(rp, "maxUnavailable"))
    errs += _int_or_percent(ru.max_surge, child(rp, "maxSurge"))
    errs += _not_over_100(ru.max_unavailable, child(rp, "maxUnavailable"))
    errs += _not_over_100(ru.max_surge, child(rp, "maxSurge"))
    unavailable, surge = _ip_value(ru.max_unavailable) != 0, _ip_value(ru.max_surge) != 0
    if unavailable and surge:
        errs.append(invalid_value(child(rp, "maxSurge"), ru.max_surge,
                                  "may not be set when maxUnavailable is non-zero"))
    elif not unavailable and not surge:
        errs.append(required(child(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


@register(apps.DaemonSet)
def _daemon_set(ds: apps.DaemonSet, old: apps.DaemonSet | None) -> list[Cause]:
    spec = ds.spec or apps.DaemonSetSpec()
    errs = _meta(ds, old)
    errs += _selector(spec.selector, "spec.selector", "empty selector is invalid for daemonset")
    errs += _template_for_controller(spec.selector, spec.template, "spec.template", "DaemonSet")
    errs += nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += _daemon_strategy(spec.update_strategy, "spec.updateStrategy")
    errs += nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    return errs + _selector_immutable(ds, old)


def _stateful_strategy(s: apps.StatefulSetUpdateStrategy | None, path: str) -> list[Cause]:
    if s is None or s.type in (None, ""):
        return []
    if s.type == "OnDelete":
        if s.rolling_update is not None:
            return [invalid_value(child(path, "rollingUpdate"), s.rolling_update,
                                  "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if s.type != "RollingUpdate":
        return [invalid_value(path, s, "must be 'RollingUpdate' or 'OnDelete'")]
    ru = s.rolling_update
    return nonnegative(ru.partition, child(path, "rollingUpdate.partition")) if ru else []


_STS_MUTABLE = ("replicas", "ordinals", "template", "update_strategy", "revision_history_limit",
                "persistent_volume_claim_retention_policy", "min_ready_seconds")


@register(apps.StatefulSet)
def _stateful_set(ss: apps.StatefulSet, old: apps.StatefulSet | None) -> list[Cause]:
    spec = ss.spec or apps.StatefulSetSpec()
    errs = _meta(ss, old)
    pmp = spec.pod_management_policy
    if pmp not in (None, "", "OrderedReady", "Parallel"):
        errs.append(invalid_value("spec.podManagementPolicy", pmp,
                                  "must be 'OrderedReady' or 'Parallel'"))
    errs += _stateful_strategy(spec.update_strategy, "spec.updateStrategy")
    errs += nonnegative(spec.replicas, "spec.replicas")
    errs += _selector(spec.selector, "spec.selector", "empty selector is invalid for statefulset")
    errs += _template_for_controller(spec.selector, spec.template, "spec.template", "StatefulSet")
    errs += nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    errs += nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    policy = spec.persistent_volume_claim_retention_policy
    for attr, name in (("when_deleted", "whenDeleted"), ("when_scaled", "whenScaled")):
        v = getattr(policy, attr) if policy else None
        if v not in (None, "Retain", "Delete"):
            errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{name}", v,
                                      ("Retain", "Delete")))
    if old is not None:
        old_spec = old.spec or apps.StatefulSetSpec()
        keep = {f: getattr(old_spec, f) for f in _STS_MUTABLE}
        if replace(spec, **keep) != old_spec:
            errs.append(forbidden("spec", "updates to statefulset spec for fields other than "
                                  "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                  "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
                                  "and 'minReadySeconds' are forbidden"))
    return errs


@register(apps.ControllerRevision)
def _controller_revision(cr: apps.ControllerRevision,
                         old: apps.ControllerRevision | None) -> list[Cause]:
    errs = _meta(cr, old)
    if cr.data is None:
        errs.append(required("data", "data is mandatory"))
    errs += nonnegative(cr.revision, "revision")
    return errs + (immutable(cr.data, old.data, "data") if old is not None else [])


# -- core/v1 ReplicationController -----------------------------------------------------------


@register(core.ReplicationController)
def _replication_controller(rc: core.ReplicationController,
                            old: core.ReplicationController | None) -> list[Cause]:
    spec = rc.spec or core.ReplicationControllerSpec()
    errs = _meta(rc, old)
    errs += nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    if not spec.selector:
        errs.append(required("spec.selector"))
    errs += nonnegative(spec.replicas, "spec.replicas")
    sel = LabelSelector(match_labels=spec.selector) if spec.selector else LabelSelector()
    return errs + _template_for_controller(sel, spec.template, "spec.template",
                                           "ReplicationController")


# -- batch/v1 -----------------------------------------------------------------------------


def _job_spec(spec: batch.JobSpec, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for attr, name in (("parallelism", "parallelism"), ("completions", "completions"),
                       ("active_deadline_seconds", "activeDeadlineSeconds"),
                       ("backoff_limit", "backoffLimit"),
                       ("ttl_seconds_after_finished", "ttlSecondsAfterFinished")):
        errs += nonnegative(getattr(spec, attr), child(path, name))
    mode = spec.completion_mode
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported(child(path, "completionMode"), mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.completions is None:
        errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
    errs += validate_pod_template(spec.template, child(path, "template"))
    rp = spec.template.spec.restart_policy if spec.template and spec.template.spec else None
    rp_path = child(path, "template.spec.restartPolicy")
    if rp in (None, "", "Always"):
        errs.append(required(rp_path, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(not_supported(rp_path, rp, ("OnFailure", "Never")))
    elif spec.pod_failure_policy is not None and rp != "Never":
        errs.append(invalid_value(rp_path, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


@register(batch.Job)
def _job(job: batch.Job, old: batch.Job | None) -> list[Cause]:
    spec = job.spec or batch.JobSpec()
    errs = _meta(job, old)
    errs += _job_spec(spec, "spec")
    if spec.selector is None:
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(spec.selector, "spec.selector")
        errs += _template_matches(spec.selector, spec.template, "spec.template")
    if old is not None:
        o = old.spec or batch.JobSpec()
        errs += immutable(spec.completions, o.completions, "spec.completions")
        errs += immutable(spec.selector, o.selector, "spec.selector")
        errs += immutable(spec.completion_mode, o.completion_mode, "spec.completionMode")
        if not o.suspend:
            errs += immutable(spec.template, o.template, "spec.template")
    return errs


def generate_job_selector(job: batch.Job) -> batch.Job:
    """The Job strategy's create step: unless ``manualSelector``, select the job's pods by
    its uid and label the template with the uid and job name (needs ``metadata.uid``)."""
    spec = job.spec or batch.JobSpec()
    meta = job.metadata or ObjectMeta()
    if spec.manual_selector or not meta.uid:
        return job
    uid, name = meta.uid, meta.name or ""
    t = spec.template or pod.PodTemplateSpec()
    tmeta = t.metadata or ObjectMeta()
    labels = {**(tmeta.labels or {}), "batch.kubernetes.io/controller-uid": uid,
              "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name}
    sel = LabelSelector(match_labels={"batch.kubernetes.io/controller-uid": uid})
    t = replace(t, metadata=replace(tmeta, labels=labels))
    return replace(job, spec=replace(spec, selector=sel, template=t))


_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@register(batch.CronJob)
def _cron_job(cj: batch.CronJob, old: batch.CronJob | None) -> list[Cause]:
    spec = cj.spec or batch.CronJobSpec()
    errs = _meta(cj, old)
    name = cj.metadata.name if cj.metadata else None
    if old is None and name and len(name) > 52:
        errs.append(invalid_value("metadata.name", name, "must be no more than 52 characters"))
    if not spec.schedule:
        errs.append(required("spec.schedule"))
    else:
        fields = spec.schedule.split()
        if not (spec.schedule.startswith("@every ") or spec.schedule in _CRON_MACROS
                or len(fields) == 5):
            errs.append(invalid_value("spec.schedule", spec.schedule,
                                      f"expected exactly 5 fields, found {len(fields)}: "
                                      f"{spec.schedule}"))
    cp = spec.concurrency_policy
    if cp not in (None, "", "Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", cp, ("Allow", "Forbid", "Replace")))
    for attr, fname in (("starting_deadline_seconds", "startingDeadlineSeconds"),
                        ("successful_jobs_history_limit", "successfulJobsHistoryLimit"),
                        ("failed_jobs_history_limit", "failedJobsHistoryLimit")):
        errs += nonnegative(getattr(spec, attr), f"spec.{fname}")
    jt = spec.job_template or batch.JobTemplateSpec()
    return errs + _job_spec(jt.spec or batch.JobSpec(), "spec.jobTemplate.spec")
