"""kube-proxy: each node's Service NAT, programmed from Services and their endpoints.

What it is: ``node_rules`` (the pure core: Services + EndpointSlices/Endpoints → a node's
ClusterIP and NodePort rules, ready endpoints only, session affinity, traffic policies),
the ``KubeProxy`` actor (informers, a rate-limited full resync into ``netsim``'s NAT table,
iptables mode's minSyncPeriod 1 s / syncPeriod 30 s) and its DaemonSet manifests. The
``kube-proxy`` component factory (``_component``) registers itself with ``actors.cluster``
when imported (``actors.cluster._components`` imports it).

Concurrency model: the rules are pure; the actor runs its informers as spawned tasks.
"""

from ._actor import MIN_SYNC_PERIOD, SYNC_PERIOD, KubeProxy, KubeProxyConfig, ProxySync
from ._manifests import KUBE_PROXY_IMAGE, KUBE_PROXY_LABELS, daemonset_objects, node_pod
from ._rules import SERVICE_NAME_LABEL, group_slices, node_rules, port_backends

__all__ = [
    "KUBE_PROXY_IMAGE",
    "KUBE_PROXY_LABELS",
    "MIN_SYNC_PERIOD",
    "SERVICE_NAME_LABEL",
    "SYNC_PERIOD",
    "KubeProxy",
    "KubeProxyConfig",
    "ProxySync",
    "daemonset_objects",
    "group_slices",
    "node_pod",
    "node_rules",
    "port_backends",
]
