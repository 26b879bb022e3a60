"""The resource quota controller's pure logic: ``quota_usage`` per evaluator and scope, and
``reconcile_resource_quota`` writing ``status`` only when hard or used changed."""

from __future__ import annotations

from typing import Any

from actors.controllers import (
    Update,
    format_time,
    quota_usage,
    quota_v1_pod,
    reconcile_resource_quota,
)

NOW = 1_767_225_600.0


def pod(name: str, *, cpu: str = "100m", mem: str = "64Mi", phase: str = "Running",
        **spec: Any) -> dict[str, Any]:
    res = {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu, "memory": mem}}
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": res}], **spec},
            "status": {"phase": phase}}


def quota(hard: dict[str, str], status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "ns", "resourceVersion": "7"},
            "spec": {"hard": hard, **spec}, "status": status or {}}


def store(**by_resource: list[dict[str, Any]]) -> Any:
    def objects(group: str, resource: str) -> list[dict[str, Any]]:
        return by_resource.get(f"{group}_{resource}" if group else resource, [])
    return objects


def test_pods_and_compute_resources_skip_terminal_pods() -> None:
    pods = [pod("a"), pod("b", cpu="250m", mem="1Gi"), pod("done", phase="Succeeded")]
    hard = {"pods": "10", "count/pods": "10", "requests.cpu": "2", "limits.memory": "4Gi", "cpu": "2"}
    used = {k: str(v) for k, v in quota_usage(quota(hard), store(pods=pods), now=NOW).items()}
    assert used == {"pods": "2", "count/pods": "3", "requests.cpu": "350m", "cpu": "350m",
                    "limits.memory": "1088Mi"}


def test_a_pod_stuck_terminating_past_its_grace_is_released() -> None:
    p = pod("a")
    p["metadata"] |= {"deletionTimestamp": format_time(NOW - 60), "deletionGracePeriodSeconds": 30}
    assert not quota_v1_pod(p, NOW)
    assert quota_v1_pod(p, NOW - 45)


def test_services_claims_and_object_counts() -> None:
    svcs = [{"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}},
            {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}},
            {"metadata": {"name": "ip"}, "spec": {"ports": [{"port": 1}]}}]
    pvcs = [{"metadata": {"name": "c"}, "spec": {"storageClassName": "fast",
                                                 "resources": {"requests": {"storage": "5Gi"}}}}]
    hard = {"services": "9", "services.nodeports": "9", "services.loadbalancers": "9",
            "persistentvolumeclaims": "9", "requests.storage": "50Gi",
            "fast.storageclass.storage.k8s.io/requests.storage": "10Gi", "configmaps": "9",
            "count/deployments.apps": "9", "example.com/widgets": "3"}
    objects = store(services=svcs, persistentvolumeclaims=pvcs, configmaps=[{}, {}],
                    apps_deployments=[{}])
    used = {k: str(v) for k, v in quota_usage(quota(hard), objects, now=NOW).items()}
    assert used == {"services": "3", "services.nodeports": "3", "services.loadbalancers": "1",
                    "persistentvolumeclaims": "1", "requests.storage": "5Gi",
                    "fast.storageclass.storage.k8s.io/requests.storage": "5Gi", "configmaps": "2",
                    "count/deployments.apps": "1"}


def test_scopes_select_pods_and_count_no_other_resource() -> None:
    pods = [pod("long"), pod("batch", activeDeadlineSeconds=60)]
    q = quota({"pods": "5", "configmaps": "5"}, scopes=["Terminating"])
    used = {k: str(v) for k, v in quota_usage(q, store(pods=pods, configmaps=[{}]), now=NOW).items()}
    assert used == {"pods": "1", "configmaps": "0"}


def test_status_written_only_when_it_changed() -> None:
    objects = store(pods=[pod("a")])
    plan = reconcile_resource_quota(quota({"pods": "3"}), objects, now=NOW)
    (update,) = plan.actions
    assert isinstance(update, Update) and update.subresource == "status"
    assert update.body["status"] == {"hard": {"pods": "3"}, "used": {"pods": "1"}}
    assert update.body["metadata"]["resourceVersion"] == "7"
    same = quota({"pods": "3"}, {"hard": {"pods": "3"}, "used": {"pods": "1"}})
    assert not reconcile_resource_quota(same, objects, now=NOW).actions
    # Charged upward by admission, then a pod went: released.
    stale = quota({"pods": "3"}, {"hard": {"pods": "3"}, "used": {"pods": "2"}})
    (update,) = reconcile_resource_quota(stale, objects, now=NOW).actions
    assert update.body["status"]["used"] == {"pods": "1"}
    # Hard follows spec; used keeps only the resources of spec.hard; untracked keep their usage.
    moved = quota({"pods": "4", "example.com/x": "1"},
                  {"hard": {"pods": "3", "secrets": "1"}, "used": {"pods": "1", "secrets": "0",
                                                                 "example.com/x": "1"}})
    (update,) = reconcile_resource_quota(moved, objects, now=NOW).actions
    assert update.body["status"] == {"hard": {"pods": "4", "example.com/x": "1"},
                                     "used": {"pods": "1", "example.com/x": "1"}}
    # Semantically equal quantities are not a change.
    equal = quota({"cpu": "1"}, {"hard": {"cpu": "1000m"}, "used": {"cpu": "0.1"}})
    assert not reconcile_resource_quota(equal, objects, now=NOW).actions
