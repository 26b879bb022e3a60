"""kubetwin's Python API: compose a cluster in code and drive it in virtual time.

    from actors import ClusterSpec, NodeSpec, simulate

    with simulate(ClusterSpec(), seed=7) as cluster:
        cluster.apply(manifest_text)                 # as kubectl apply
        cluster.get("pods", "web")                   # plain dicts in Kubernetes JSON form
        cluster.advance(30)                          # 30 virtual seconds

Objects go in and come out as plain dicts; failures raise ``actors.api.ApiError`` with the
Kubernetes Status. The component registry (``register_component``) is where the
scheduler, controllers, kubelet, kube-proxy and addons plug in as they are built.
"""

from ._client import Client
from ._cluster import Cluster, simulate
from ._components import (
    ADMIN_USER,
    COMPONENT_KINDS,
    BuildContext,
    Component,
    register_component,
    registered,
)
from ._spec import KNOWN_ADDONS, ClusterSpec, NodeSpec
from ._watch import WatchHandle

__all__ = [
    "ADMIN_USER",
    "COMPONENT_KINDS",
    "KNOWN_ADDONS",
    "BuildContext",
    "Client",
    "Cluster",
    "ClusterSpec",
    "Component",
    "NodeSpec",
    "WatchHandle",
    "register_component",
    "registered",
    "simulate",
]
