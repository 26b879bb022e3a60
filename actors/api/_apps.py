"""apps/v1 kinds: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/apps/v1`` types.go.
Concurrency model: none; values only (see ``_meta``).
Invariants: every optional field defaults to ``None``; ``maxSurge``/``maxUnavailable``
are Kubernetes' IntOrString, i.e. ``int | str`` ("25%").
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._core_other import PersistentVolumeClaim
from ._core_pod import PodTemplateSpec
from ._meta import LabelSelector, Obj, ObjectMeta, TopLevel, time_field

__all__ = [
    "ControllerRevision",
    "DaemonSet",
    "DaemonSetCondition",
    "DaemonSetSpec",
    "DaemonSetStatus",
    "DaemonSetUpdateStrategy",
    "Deployment",
    "DeploymentCondition",
    "DeploymentSpec",
    "DeploymentStatus",
    "DeploymentStrategy",
    "ReplicaSet",
    "ReplicaSetCondition",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "RollingUpdateDaemonSet",
    "RollingUpdateDeployment",
    "RollingUpdateStatefulSetStrategy",
    "StatefulSet",
    "StatefulSetCondition",
    "StatefulSetOrdinals",
    "StatefulSetPersistentVolumeClaimRetentionPolicy",
    "StatefulSetSpec",
    "StatefulSetStatus",
    "StatefulSetUpdateStrategy",
]


class _Apps(TopLevel):
    API_VERSION: ClassVar[str] = "apps/v1"


# -- Deployment ------------------------------------------------------------------------


class RollingUpdateDeployment(Obj, kw_only=True):
    max_unavailable: int | str | None = None
    max_surge: int | str | None = None


class DeploymentStrategy(Obj, kw_only=True):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(Obj, kw_only=True):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: int | None = None
    revision_history_limit: int | None = None
    paused: bool | None = None
    progress_deadline_seconds: int | None = None


class DeploymentCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_update_time: str | None = time_field()
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(Obj, kw_only=True):
    observed_generation: int | None = None
    replicas: int | None = None
    updated_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    unavailable_replicas: int | None = None
    terminating_replicas: int | None = None
    conditions: list[DeploymentCondition] | None = None
    collision_count: int | None = None


class Deployment(_Apps, tag="Deployment", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: DeploymentSpec | None = None
    status: DeploymentStatus | None = None


# -- ReplicaSet ------------------------------------------------------------------------


class ReplicaSetSpec(Obj, kw_only=True):
    replicas: int | None = None
    min_ready_seconds: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class ReplicaSetCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(Obj, kw_only=True):
    replicas: int | None = None
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    terminating_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicaSet(_Apps, tag="ReplicaSet", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: ReplicaSetSpec | None = None
    status: ReplicaSetStatus | None = None


# -- DaemonSet -------------------------------------------------------------------------


class RollingUpdateDaemonSet(Obj, kw_only=True):
    max_unavailable: int | str | None = None
    max_surge: int | str | None = None


class DaemonSetUpdateStrategy(Obj, kw_only=True):
    type: str | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(Obj, kw_only=True):
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: int | None = None
    revision_history_limit: int | None = None


class DaemonSetCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(Obj, kw_only=True):
    current_number_scheduled: int | None = None
    number_misscheduled: int | None = None
    desired_number_scheduled: int | None = None
    number_ready: int | None = None
    observed_generation: int | None = None
    updated_number_scheduled: int | None = None
    number_available: int | None = None
    number_unavailable: int | None = None
    collision_count: int | None = None
    conditions: list[DaemonSetCondition] | None = None


class DaemonSet(_Apps, tag="DaemonSet", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None


# -- StatefulSet -----------------------------------------------------------------------


class RollingUpdateStatefulSetStrategy(Obj, kw_only=True):
    partition: int | None = None
    max_unavailable: int | str | None = None


class StatefulSetUpdateStrategy(Obj, kw_only=True):
    type: str | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(Obj, kw_only=True):
    when_deleted: str | None = None
    when_scaled: str | None = None


class StatefulSetOrdinals(Obj, kw_only=True):
    start: int | None = None


class StatefulSetSpec(Obj, kw_only=True):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    service_name: str | None = None
    pod_management_policy: str | None = None
    update_strategy: StatefulSetUpdateStrategy | None = None
    revision_history_limit: int | None = None
    min_ready_seconds: int | None = None
    persistent_volume_claim_retention_policy: (
        StatefulSetPersistentVolumeClaimRetentionPolicy | None) = None
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class StatefulSetStatus(Obj, kw_only=True):
    observed_generation: int | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    current_replicas: int | None = None
    updated_replicas: int | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: int | None = None
    conditions: list[StatefulSetCondition] | None = None
    available_replicas: int | None = None


class StatefulSet(_Apps, tag="StatefulSet", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None


class ControllerRevision(_Apps, tag="ControllerRevision", kw_only=True):
    metadata: ObjectMeta | None = None
    # A RawExtension: the serialized template of the revision, kept verbatim.
    data: Any = None
    revision: int | None = None
