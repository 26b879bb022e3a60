"""The Python API's public surface, pinned."""

import actors
import actors.cluster


def test_actors_exports_exactly_the_python_api():
    assert sorted(actors.__all__) == ["ApiError", "ClusterSpec", "NodeSpec", "simulate"]
    from actors.api import ApiError

    assert actors.ApiError is ApiError


def test_cluster_package_exports():
    assert sorted(actors.cluster.__all__) == sorted([
        "ADMIN_USER", "COMPONENT_KINDS", "KNOWN_ADDONS", "BuildContext", "Client", "Cluster",
        "ClusterSpec", "Component", "NodeSpec", "WatchHandle", "register_component",
        "registered", "simulate"])
    for name in actors.cluster.__all__:
        assert getattr(actors.cluster, name) is not None
