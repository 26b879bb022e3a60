"""batch/v1 kinds: Job and CronJob.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/batch/v1`` types.go. The pod
failure and success policies are kept as raw JSON (they round-trip, untyped).
Concurrency model: none; values only (see ``_meta``).
Invariants: every optional field defaults to ``None`` (see ``_meta``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._core_pod import PodTemplateSpec
from ._meta import LabelSelector, Obj, ObjectMeta, ObjectReference, TopLevel, time_field

__all__ = [
    "CronJob",
    "CronJobSpec",
    "CronJobStatus",
    "Job",
    "JobCondition",
    "JobSpec",
    "JobStatus",
    "JobTemplateSpec",
    "UncountedTerminatedPods",
]

Raw = dict[str, Any]


class _Batch(TopLevel):
    API_VERSION: ClassVar[str] = "batch/v1"


class JobSpec(Obj, kw_only=True):
    parallelism: int | None = None
    completions: int | None = None
    active_deadline_seconds: int | None = None
    pod_failure_policy: Raw | None = None
    success_policy: Raw | None = None
    backoff_limit: int | None = None
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec | None = None
    ttl_seconds_after_finished: int | None = None
    completion_mode: str | None = None
    suspend: bool | None = None
    pod_replacement_policy: str | None = None
    managed_by: str | None = None


class JobCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_probe_time: str | None = time_field()
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(Obj, kw_only=True):
    succeeded: list[str] | None = None
    failed: list[str] | None = None


class JobStatus(Obj, kw_only=True):
    conditions: list[JobCondition] | None = None
    start_time: str | None = None
    completion_time: str | None = None
    active: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    terminating: int | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: int | None = None


class Job(_Batch, tag="Job", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None
    status: JobStatus | None = None


class JobTemplateSpec(Obj, kw_only=True):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(Obj, kw_only=True):
    schedule: str | None = None
    time_zone: str | None = None
    starting_deadline_seconds: int | None = None
    concurrency_policy: str | None = None
    suspend: bool | None = None
    job_template: JobTemplateSpec | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None


class CronJobStatus(Obj, kw_only=True):
    active: list[ObjectReference] | None = None
    last_schedule_time: str | None = None
    last_successful_time: str | None = None


class CronJob(_Batch, tag="CronJob", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None
