"""Builders and waits shared by the ``test_ctrl_*`` modules (controllers through simulate())."""

from __future__ import annotations

from typing import Any

from actors.cluster import Cluster


def deployment(name: str, *, replicas: int = 1, image: str = "nginx", labels: dict[str, str] | None = None,
               strategy: dict[str, Any] | None = None, namespace: str = "default",
               tolerations: list[dict[str, Any]] | None = None,
               min_ready_seconds: int | None = None) -> dict[str, Any]:
    """What ``kubectl create deployment NAME --image=IMAGE`` sends (label ``app=NAME``)."""
    labels = labels or {"app": name}
    pod_spec: dict[str, Any] = {"containers": [{"name": name, "image": image}]}
    if tolerations is not None:
        pod_spec["tolerations"] = tolerations
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if strategy is not None:
        spec["strategy"] = strategy
    if min_ready_seconds is not None:
        spec["minReadySeconds"] = min_ready_seconds
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec}


def replica_sets_of(c: Cluster, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    d = c.get("deployments", name, namespace)
    uid = d["metadata"]["uid"]
    return [rs for rs in c.list("replicasets", namespace)["items"]
            if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or ())]


def owned_pods(c: Cluster, owner: dict[str, Any], namespace: str = "default") -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [p for p in c.list("pods", namespace)["items"]
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or ())]


def is_ready(pod: dict[str, Any]) -> bool:
    return any(x.get("type") == "Ready" and x.get("status") == "True"
               for x in (pod.get("status") or {}).get("conditions") or ())


def ready_pods(c: Cluster, app: str, namespace: str = "default") -> list[dict[str, Any]]:
    return [p for p in c.list("pods", namespace, label_selector=f"app={app}")["items"]
            if is_ready(p) and not p["metadata"].get("deletionTimestamp")]


def wait_available(c: Cluster, name: str, replicas: int, *, timeout: float = 120,
                   namespace: str = "default") -> float:
    def done(c: Cluster) -> bool:
        d = c.get("deployments", name, namespace)
        s = d.get("status") or {}
        return (s.get("availableReplicas") == replicas and s.get("updatedReplicas") == replicas
                and s.get("replicas") == replicas
                and s.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))

    return c.run_until(done, timeout=timeout)
