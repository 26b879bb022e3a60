"""core/v1 Pod: PodSpec as users write it, PodStatus as the kubelet reports it.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/core/v1`` types.go for the
pod and everything a pod template holds (containers, probes, volumes, affinity,
tolerations). Rarely used corners (security contexts, most volume plugins, DNS config,
resource claims) are kept verbatim as raw JSON objects: they round-trip exactly but
are not typed.

Concurrency model: none; values only (see ``_meta``).

Invariants: field order follows types.go so encodings match the apiserver's byte order;
every optional field defaults to ``None`` (see ``_meta``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._meta import (
    LabelSelector,
    LocalObjectReference,
    Obj,
    ObjectMeta,
    ResourceList,
    TopLevel,
    normalize_resources,
    time_field,
)

__all__ = [
    "Affinity",
    "ConfigMapKeySelector",
    "ConfigMapVolumeSource",
    "Container",
    "ContainerPort",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "EmptyDirVolumeSource",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "ExecAction",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "HostIP",
    "HostPathVolumeSource",
    "KeyToPath",
    "Lifecycle",
    "LifecycleHandler",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "ObjectFieldSelector",
    "PersistentVolumeClaimVolumeSource",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodAntiAffinity",
    "PodCondition",
    "PodIP",
    "PodReadinessGate",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "PreferredSchedulingTerm",
    "Probe",
    "ResourceFieldSelector",
    "ResourceRequirements",
    "SecretKeySelector",
    "SecretVolumeSource",
    "SleepAction",
    "TCPSocketAction",
    "Toleration",
    "TopologySpreadConstraint",
    "Volume",
    "VolumeMount",
    "WeightedPodAffinityTerm",
]

Raw = dict[str, Any]


# -- containers ------------------------------------------------------------------------


class ContainerPort(Obj, kw_only=True):
    name: str | None = None
    host_port: int | None = None
    container_port: int | None = None
    protocol: str | None = None
    host_ip: str | None = msgspec.field(default=None, name="hostIP")


class ObjectFieldSelector(Obj, kw_only=True):
    api_version: str | None = None
    field_path: str | None = None


class ResourceFieldSelector(Obj, kw_only=True):
    container_name: str | None = None
    resource: str | None = None
    divisor: str | int | float | None = None


class ConfigMapKeySelector(Obj, kw_only=True):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class SecretKeySelector(Obj, kw_only=True):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class EnvVarSource(Obj, kw_only=True):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: Raw | None = None


class EnvVar(Obj, kw_only=True):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class _EnvRef(Obj, kw_only=True):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(Obj, kw_only=True):
    prefix: str | None = None
    config_map_ref: _EnvRef | None = None
    secret_ref: _EnvRef | None = None


class ResourceRequirements(Obj, kw_only=True):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[Raw] | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "limits", "requests")


class VolumeMount(Obj, kw_only=True):
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    mount_propagation: str | None = None
    sub_path_expr: str | None = None


class ExecAction(Obj, kw_only=True):
    command: list[str] | None = None


class HTTPHeader(Obj, kw_only=True):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(Obj, kw_only=True):
    path: str | None = None
    port: int | str | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(Obj, kw_only=True):
    port: int | str | None = None
    host: str | None = None


class GRPCAction(Obj, kw_only=True):
    port: int | None = None
    service: str | None = None


class SleepAction(Obj, kw_only=True):
    seconds: int | None = None


class Probe(Obj, kw_only=True):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None


class LifecycleHandler(Obj, kw_only=True):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(Obj, kw_only=True):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class Container(Obj, kw_only=True):
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resize_policy: list[Raw] | None = None
    restart_policy: str | None = None
    restart_policy_rules: list[Raw] | None = None
    volume_mounts: list[VolumeMount] | None = None
    volume_devices: list[Raw] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: Raw | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


# -- volumes ---------------------------------------------------------------------------


class HostPathVolumeSource(Obj, kw_only=True):
    path: str | None = None
    type: str | None = None


class EmptyDirVolumeSource(Obj, kw_only=True):
    medium: str | None = None
    size_limit: str | int | float | None = None


class KeyToPath(Obj, kw_only=True):
    key: str | None = None
    path: str | None = None
    mode: int | None = None


class SecretVolumeSource(Obj, kw_only=True):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


class ConfigMapVolumeSource(Obj, kw_only=True):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


class PersistentVolumeClaimVolumeSource(Obj, kw_only=True):
    claim_name: str | None = None
    read_only: bool | None = None


class Volume(Obj, kw_only=True):
    name: str | None = None
    host_path: HostPathVolumeSource | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    gce_persistent_disk: Raw | None = None
    aws_elastic_block_store: Raw | None = None
    git_repo: Raw | None = None
    secret: SecretVolumeSource | None = None
    nfs: Raw | None = None
    iscsi: Raw | None = None
    glusterfs: Raw | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    rbd: Raw | None = None
    flex_volume: Raw | None = None
    cinder: Raw | None = None
    cephfs: Raw | None = None
    flocker: Raw | None = None
    downward_api: Raw | None = msgspec.field(default=None, name="downwardAPI")
    fc: Raw | None = None
    azure_file: Raw | None = None
    config_map: ConfigMapVolumeSource | None = None
    vsphere_volume: Raw | None = None
    quobyte: Raw | None = None
    azure_disk: Raw | None = None
    photon_persistent_disk: Raw | None = None
    projected: Raw | None = None
    portworx_volume: Raw | None = None
    scale_io: Raw | None = msgspec.field(default=None, name="scaleIO")
    storageos: Raw | None = None
    csi: Raw | None = None
    ephemeral: Raw | None = None
    image: Raw | None = None


# -- scheduling ------------------------------------------------------------------------


class NodeSelectorRequirement(Obj, kw_only=True):
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class NodeSelectorTerm(Obj, kw_only=True):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(Obj, kw_only=True):
    node_selector_terms: list[NodeSelectorTerm] | None = None


class PreferredSchedulingTerm(Obj, kw_only=True):
    weight: int | None = None
    preference: NodeSelectorTerm | None = None


class NodeAffinity(Obj, kw_only=True):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(Obj, kw_only=True):
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    topology_key: str | None = None
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    mismatch_label_keys: list[str] | None = None


class WeightedPodAffinityTerm(Obj, kw_only=True):
    weight: int | None = None
    pod_affinity_term: PodAffinityTerm | None = None


class PodAffinity(Obj, kw_only=True):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class PodAntiAffinity(Obj, kw_only=True):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class Affinity(Obj, kw_only=True):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class Toleration(Obj, kw_only=True):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class TopologySpreadConstraint(Obj, kw_only=True):
    max_skew: int | None = None
    topology_key: str | None = None
    when_unsatisfiable: str | None = None
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: list[str] | None = None


class PodReadinessGate(Obj, kw_only=True):
    condition_type: str | None = None


# -- pod -------------------------------------------------------------------------------


class PodSpec(Obj, kw_only=True):
    volumes: list[Volume] | None = None
    init_containers: list[Container] | None = None
    containers: list[Container] | None = None
    ephemeral_containers: list[Raw] | None = None
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str | None = None
    node_selector: dict[str, str] | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = msgspec.field(default=None, name="hostPID")
    host_ipc: bool | None = msgspec.field(default=None, name="hostIPC")
    share_process_namespace: bool | None = None
    security_context: Raw | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Affinity | None = None
    scheduler_name: str | None = None
    tolerations: list[Toleration] | None = None
    host_aliases: list[Raw] | None = None
    priority_class_name: str | None = None
    priority: int | None = None
    dns_config: Raw | None = None
    readiness_gates: list[PodReadinessGate] | None = None
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    set_hostname_as_fqdn: bool | None = msgspec.field(default=None, name="setHostnameAsFQDN")
    os: Raw | None = None
    host_users: bool | None = None
    scheduling_gates: list[Raw] | None = None
    resource_claims: list[Raw] | None = None
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "overhead")


class ContainerStateWaiting(Obj, kw_only=True):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(Obj, kw_only=True):
    started_at: str | None = time_field()


class ContainerStateTerminated(Obj, kw_only=True):
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: str | None = time_field()
    finished_at: str | None = time_field()
    container_id: str | None = msgspec.field(default=None, name="containerID")


class ContainerState(Obj, kw_only=True):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Obj, kw_only=True):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: int | None = None
    image: str | None = None
    image_id: str | None = msgspec.field(default=None, name="imageID")
    container_id: str | None = msgspec.field(default=None, name="containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[Raw] | None = None
    user: Raw | None = None
    allocated_resources_status: list[Raw] | None = None
    stop_signal: str | None = None


class PodCondition(Obj, kw_only=True):
    type: str | None = None
    observed_generation: int | None = None
    status: str | None = None
    last_probe_time: str | None = time_field()
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class PodIP(Obj, kw_only=True):
    ip: str | None = None


class HostIP(Obj, kw_only=True):
    ip: str | None = None


class PodStatus(Obj, kw_only=True):
    observed_generation: int | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = None
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = msgspec.field(default=None, name="hostIP")
    host_ips: list[HostIP] | None = msgspec.field(default=None, name="hostIPs")
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    pod_ips: list[PodIP] | None = msgspec.field(default=None, name="podIPs")
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = msgspec.field(default=None, name="qosClass")
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    resize: str | None = None
    resource_claim_statuses: list[Raw] | None = None
    extended_resource_claim_status: Raw | None = None


class Pod(TopLevel, tag="Pod", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


class PodTemplateSpec(Obj, kw_only=True):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None

