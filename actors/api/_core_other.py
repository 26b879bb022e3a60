"""core/v1 kinds other than Pod: Node, Service, Endpoints, Namespace, Event, ConfigMap,
Secret, ServiceAccount, PersistentVolume(Claim), ReplicationController, ComponentStatus,
Binding.

What it is: frozen msgspec Structs mirroring ``k8s.io/api/core/v1`` types.go (field
order included). Volume plugin sources of PersistentVolumes are kept as raw JSON.

Concurrency model: none; values only (see ``_meta``).

Invariants: every optional field defaults to ``None`` (see ``_meta``). Secret ``data``
holds base64 strings exactly as on the wire; nothing here decodes them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._core_pod import NodeSelector, PodTemplateSpec
from ._meta import (
    Condition,
    LabelSelector,
    LocalObjectReference,
    Obj,
    ObjectMeta,
    ObjectReference,
    ResourceList,
    TopLevel,
    normalize_resources,
    time_field,
)

__all__ = [
    "Binding",
    "ClientIPConfig",
    "ComponentCondition",
    "ComponentStatus",
    "ConfigMap",
    "DaemonEndpoint",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Endpoints",
    "Event",
    "EventSeries",
    "EventSource",
    "LoadBalancerIngress",
    "LoadBalancerStatus",
    "Namespace",
    "NamespaceSpec",
    "NamespaceStatus",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeDaemonEndpoints",
    "NodeSpec",
    "NodeStatus",
    "NodeSystemInfo",
    "ContainerImage",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PersistentVolumeClaimSpec",
    "PersistentVolumeClaimStatus",
    "PersistentVolumeSpec",
    "PersistentVolumeStatus",
    "ReplicationController",
    "ReplicationControllerCondition",
    "ReplicationControllerSpec",
    "ReplicationControllerStatus",
    "Secret",
    "Service",
    "ServiceAccount",
    "ServicePort",
    "ServiceSpec",
    "ServiceStatus",
    "SessionAffinityConfig",
    "Taint",
    "VolumeNodeAffinity",
    "VolumeResourceRequirements",
]

Raw = dict[str, Any]


# -- Node ------------------------------------------------------------------------------


class Taint(Obj, kw_only=True):
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    time_added: str | None = None


class NodeSpec(Obj, kw_only=True):
    pod_cidr: str | None = msgspec.field(default=None, name="podCIDR")
    pod_cidrs: list[str] | None = msgspec.field(default=None, name="podCIDRs")
    provider_id: str | None = msgspec.field(default=None, name="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: Raw | None = None
    external_id: str | None = msgspec.field(default=None, name="externalID")


class NodeCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_heartbeat_time: str | None = time_field()
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class NodeAddress(Obj, kw_only=True):
    type: str | None = None
    address: str | None = None


class DaemonEndpoint(Obj, kw_only=True):
    # Kubernetes spells this one field with a capital P.
    port: int | None = msgspec.field(default=None, name="Port")


class NodeDaemonEndpoints(Obj, kw_only=True):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(Obj, kw_only=True):
    machine_id: str | None = msgspec.field(default=None, name="machineID")
    system_uuid: str | None = msgspec.field(default=None, name="systemUUID")
    boot_id: str | None = msgspec.field(default=None, name="bootID")
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None
    swap: Raw | None = None


class ContainerImage(Obj, kw_only=True):
    names: list[str] | None = None
    size_bytes: int | None = None


class NodeStatus(Obj, kw_only=True):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[Raw] | None = None
    config: Raw | None = None
    runtime_handlers: list[Raw] | None = None
    features: Raw | None = None
    declared_features: list[str] | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "capacity", "allocatable")


class Node(TopLevel, tag="Node", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: NodeSpec | None = None
    status: NodeStatus | None = None


# -- Service, Endpoints ----------------------------------------------------------------


class ServicePort(Obj, kw_only=True):
    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    port: int | None = None
    target_port: int | str | None = None
    node_port: int | None = None


class ClientIPConfig(Obj, kw_only=True):
    timeout_seconds: int | None = None


class SessionAffinityConfig(Obj, kw_only=True):
    client_ip: ClientIPConfig | None = msgspec.field(default=None, name="clientIP")


class ServiceSpec(Obj, kw_only=True):
    ports: list[ServicePort] | None = None
    selector: dict[str, str] | None = None
    cluster_ip: str | None = msgspec.field(default=None, name="clusterIP")
    cluster_ips: list[str] | None = msgspec.field(default=None, name="clusterIPs")
    type: str | None = None
    external_ips: list[str] | None = msgspec.field(default=None, name="externalIPs")
    session_affinity: str | None = None
    load_balancer_ip: str | None = msgspec.field(default=None, name="loadBalancerIP")
    load_balancer_source_ranges: list[str] | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class LoadBalancerIngress(Obj, kw_only=True):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: list[Raw] | None = None


class LoadBalancerStatus(Obj, kw_only=True):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(Obj, kw_only=True):
    load_balancer: LoadBalancerStatus | None = None
    conditions: list[Condition] | None = None


class Service(TopLevel, tag="Service", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: ServiceSpec | None = None
    status: ServiceStatus | None = None


class EndpointAddress(Obj, kw_only=True):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(Obj, kw_only=True):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(Obj, kw_only=True):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TopLevel, tag="Endpoints", kw_only=True):
    metadata: ObjectMeta | None = None
    subsets: list[EndpointSubset] | None = None


# -- Namespace, Event, ConfigMap, Secret, ServiceAccount -------------------------------


class NamespaceSpec(Obj, kw_only=True):
    finalizers: list[str] | None = None


class NamespaceStatus(Obj, kw_only=True):
    phase: str | None = None
    conditions: list[Raw] | None = None


class Namespace(TopLevel, tag="Namespace", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: NamespaceSpec | None = None
    status: NamespaceStatus | None = None


class EventSource(Obj, kw_only=True):
    component: str | None = None
    host: str | None = None


class EventSeries(Obj, kw_only=True):
    count: int | None = None
    last_observed_time: str | None = None


class Event(TopLevel, tag="Event", kw_only=True):
    metadata: ObjectMeta | None = None
    involved_object: ObjectReference | None = None
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: str | None = time_field()
    last_timestamp: str | None = time_field()
    count: int | None = None
    type: str | None = None
    event_time: str | None = time_field()
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


class ConfigMap(TopLevel, tag="ConfigMap", kw_only=True):
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None


class Secret(TopLevel, tag="Secret", kw_only=True):
    metadata: ObjectMeta | None = None
    immutable: bool | None = None
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    type: str | None = None


class ServiceAccount(TopLevel, tag="ServiceAccount", kw_only=True):
    metadata: ObjectMeta | None = None
    secrets: list[ObjectReference] | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    automount_service_account_token: bool | None = None


# -- PersistentVolume, PersistentVolumeClaim -------------------------------------------


class VolumeNodeAffinity(Obj, kw_only=True):
    required: NodeSelector | None = None


class PersistentVolumeSpec(Obj, kw_only=True):
    capacity: ResourceList | None = None
    # Volume plugin sources, inline as in types.go (PersistentVolumeSource).
    gce_persistent_disk: Raw | None = None
    aws_elastic_block_store: Raw | None = None
    host_path: Raw | None = None
    glusterfs: Raw | None = None
    nfs: Raw | None = None
    rbd: Raw | None = None
    iscsi: Raw | None = None
    cinder: Raw | None = None
    cephfs: Raw | None = None
    fc: Raw | None = None
    flocker: Raw | None = None
    flex_volume: Raw | None = None
    azure_file: Raw | None = None
    vsphere_volume: Raw | None = None
    quobyte: Raw | None = None
    azure_disk: Raw | None = None
    photon_persistent_disk: Raw | None = None
    portworx_volume: Raw | None = None
    scale_io: Raw | None = msgspec.field(default=None, name="scaleIO")
    local: Raw | None = None
    storageos: Raw | None = None
    csi: Raw | None = None
    access_modes: list[str] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: list[str] | None = None
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "capacity")


class PersistentVolumeStatus(Obj, kw_only=True):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: str | None = None


class PersistentVolume(TopLevel, tag="PersistentVolume", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None


class VolumeResourceRequirements(Obj, kw_only=True):
    limits: ResourceList | None = None
    requests: ResourceList | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "limits", "requests")


class PersistentVolumeClaimSpec(Obj, kw_only=True):
    access_modes: list[str] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: Raw | None = None
    data_source_ref: Raw | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimStatus(Obj, kw_only=True):
    phase: str | None = None
    access_modes: list[str] | None = None
    capacity: ResourceList | None = None
    conditions: list[Raw] | None = None
    allocated_resources: ResourceList | None = None
    allocated_resource_statuses: dict[str, str] | None = None
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: Raw | None = None

    def __post_init__(self) -> None:
        normalize_resources(self, "capacity", "allocated_resources")


class PersistentVolumeClaim(TopLevel, tag="PersistentVolumeClaim", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: PersistentVolumeClaimSpec | None = None
    status: PersistentVolumeClaimStatus | None = None


# -- ReplicationController, ComponentStatus, Binding -----------------------------------


class ReplicationControllerSpec(Obj, kw_only=True):
    replicas: int | None = None
    min_ready_seconds: int | None = None
    selector: dict[str, str] | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = time_field()
    reason: str | None = None
    message: str | None = None


class ReplicationControllerStatus(Obj, kw_only=True):
    replicas: int | None = None
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[ReplicationControllerCondition] | None = None


class ReplicationController(TopLevel, tag="ReplicationController", kw_only=True):
    metadata: ObjectMeta | None = None
    spec: ReplicationControllerSpec | None = None
    status: ReplicationControllerStatus | None = None


class ComponentCondition(Obj, kw_only=True):
    type: str | None = None
    status: str | None = None
    message: str | None = None
    error: str | None = None


class ComponentStatus(TopLevel, tag="ComponentStatus", kw_only=True):
    metadata: ObjectMeta | None = None
    conditions: list[ComponentCondition] | None = None


class Binding(TopLevel, tag="Binding", kw_only=True):
    metadata: ObjectMeta | None = None
    target: ObjectReference | None = None
