"""kubetwin's Kubernetes components, and the Python API to compose and drive a cluster.

    from actors import ClusterSpec, NodeSpec, simulate, ApiError
"""

from actors.api import ApiError
from actors.cluster import ClusterSpec, NodeSpec, simulate

__all__ = ["ApiError", "ClusterSpec", "NodeSpec", "simulate"]
