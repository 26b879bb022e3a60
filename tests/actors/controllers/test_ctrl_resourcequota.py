"""The resource quota controller through ``simulate()``: a quota at its pod limit refuses the
next pod (403 "exceeded quota"), a pod is deleted, and the controller's replenishment releases
the usage so the same create then succeeds; ``status.used`` follows deletes of counted objects
and pods that finish, and ``status.hard`` follows ``spec.hard``."""

from __future__ import annotations

from typing import Any

import pytest

from actors import ApiError, ClusterSpec, NodeSpec, simulate
from actors.cluster import Cluster

SPEC = ClusterSpec(nodes=[NodeSpec("node-1")], addons=())


def pod(name: str, script: str = "sleep 3600") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "main", "image": "busybox", "command": ["sh", "-c", script],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "200m", "memory": "64Mi"}}}]}}


def quota(**hard: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
            "spec": {"hard": hard}}


def used(c: Cluster) -> dict[str, str]:
    return (c.get("resourcequotas", "q").get("status") or {}).get("used") or {}


def test_a_deleted_pod_frees_its_quota_for_the_next_create() -> None:
    with simulate(SPEC, seed=2) as c:
        c.create(quota(pods="2", **{"requests.cpu": "1", "limits.memory": "1Gi"}))
        c.run_until(lambda c: used(c).get("pods") == "0", timeout=30)
        c.create(pod("a"))
        c.create(pod("b"))
        with pytest.raises(ApiError) as e:
            c.create(pod("c"))
        assert e.value.code == 403
        assert e.value.message.startswith('pods "c" is forbidden: exceeded quota: q, requested: pods=1, '
                                          "used: pods=2, limited: pods=2")
        c.delete("pods", "a")

        def created(c: Cluster) -> bool:
            try:
                c.create(pod("c"))
            except ApiError as err:
                assert err.code == 403
                return False
            return True

        c.run_until(created, timeout=60)
        c.run_until(lambda c: used(c) == {"pods": "2", "requests.cpu": "200m", "limits.memory": "128Mi"},
                    timeout=30)


def test_usage_follows_finished_pods_deleted_objects_and_new_limits() -> None:
    with simulate(SPEC, seed=4) as c:
        c.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {}})
        c.create(quota(pods="5", configmaps="3", **{"count/pods": "5"}))
        c.run_until(lambda c: used(c).get("configmaps") == "1", timeout=30)
        c.create(pod("done", "exit 0"))
        c.run_until(lambda c: used(c).get("pods") == "1", timeout=30)
        # Finished: no longer charged as "pods", still an object for "count/pods".
        c.run_until(lambda c: used(c).get("pods") == "0", timeout=60)
        assert used(c)["count/pods"] == "1"
        c.delete("configmaps", "cm")
        c.run_until(lambda c: used(c).get("configmaps") == "0", timeout=30)
        q = c.get("resourcequotas", "q")
        q["spec"]["hard"] = {"pods": "7", "secrets": "4"}
        c.update(q)
        c.run_until(lambda c: c.get("resourcequotas", "q")["status"]["hard"] == {"pods": "7", "secrets": "4"},
                    timeout=30)
        assert set(used(c)) == {"pods", "secrets"}
