"""kube-proxy: each node's Service NAT, programmed from Services and their EndpointSlices.

What it is: ``node_rules``/``service_rules`` (the pure core: Services + EndpointSlices → a
node's ClusterIP and NodePort rules, ready endpoints only, session affinity, traffic
policies), ``ChangeTracker`` (the pure core of partial syncs: which Services changed since
the last sync, and whether a sync must be full), the ``KubeProxy`` actor (informers on
Services and EndpointSlices, rate-limited partial and full syncs into ``netsim``'s NAT table
with iptables mode's minSyncPeriod 1 s / syncPeriod 30 s and the one-hour FullSyncPeriod)
and its DaemonSet manifests. The ``kube-proxy`` component factory (``_component``) registers
itself with ``actors.cluster`` when imported (``actors.cluster._components`` imports it).

Concurrency model: the rules and the tracker are pure; the actor runs its informers as
spawned tasks.
"""

from ._actor import (
    FULL_SYNC_PERIOD,
    MIN_SYNC_PERIOD,
    SYNC_PERIOD,
    KubeProxy,
    KubeProxyConfig,
    ProxyMonitor,
    ProxyStats,
    ProxySync,
)
from ._manifests import KUBE_PROXY_IMAGE, KUBE_PROXY_LABELS, daemonset_objects, node_pod
from ._rules import (
    SERVICE_NAME_LABEL,
    group_slices,
    node_rules,
    object_key,
    port_backends,
    service_rules,
    slice_service,
)
from ._tracker import Caches, ChangeTracker, SyncPlan

__all__ = [
    "FULL_SYNC_PERIOD",
    "KUBE_PROXY_IMAGE",
    "KUBE_PROXY_LABELS",
    "MIN_SYNC_PERIOD",
    "SERVICE_NAME_LABEL",
    "SYNC_PERIOD",
    "Caches",
    "ChangeTracker",
    "KubeProxy",
    "KubeProxyConfig",
    "ProxyMonitor",
    "ProxyStats",
    "ProxySync",
    "SyncPlan",
    "daemonset_objects",
    "group_slices",
    "node_pod",
    "node_rules",
    "object_key",
    "port_backends",
    "service_rules",
    "slice_service",
]
