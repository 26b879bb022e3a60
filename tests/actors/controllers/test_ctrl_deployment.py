"""The Deployment and ReplicaSet controllers through ``simulate()``: the seed's ``kubectl run``
chain (Deployment → ReplicaSet ``nginx-<hash>`` → pods → scheduled → running), the events in
the seed's order and wording, scaling, adoption and release of pods by a ReplicaSet, and a
ReplicationController."""

from __future__ import annotations

import re
from typing import Any

from actors import ClusterSpec, NodeSpec, simulate

from ._ctrl_helpers import (
    deployment,
    owned_pods,
    ready_pods,
    replica_sets_of,
    wait_available,
)

SEED_NAME = re.compile(r"^nginx-[0-9a-f]{8,10}$")


def test_kubectl_run_chain_and_events_in_the_seeds_order() -> None:
    with simulate(ClusterSpec(), seed=3) as c:
        watch = c.watch("events", "default")
        c.create(deployment("nginx", replicas=1, image="nginx"))
        took = wait_available(c, "nginx", 1, timeout=60)
        assert took < 30  # image pull included
        (rs,) = replica_sets_of(c, "nginx")
        rs_name = rs["metadata"]["name"]
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs_name == f"nginx-{pod_hash}" and SEED_NAME.match(rs_name)
        (pod,) = owned_pods(c, rs)
        pod_name = pod["metadata"]["name"]
        assert re.fullmatch(rf"{rs_name}-[a-z0-9]{{5}}", pod_name)
        assert pod["spec"]["nodeName"] == "minikube" and pod["status"]["phase"] == "Running"
        seen = [(e["object"]["reason"], e["object"]["involvedObject"]["kind"].lower() + "/"
                 + e["object"]["involvedObject"]["name"], e["object"]["message"],
                 e["object"]["source"]["component"])
                for e in watch.drain() if e["type"] == "ADDED"]
        chain = [s for s in seen if s[0] in ("ScalingReplicaSet", "SuccessfulCreate", "Scheduled")]
        assert chain == [
            ("ScalingReplicaSet", "deployment/nginx", f"Scaled up replica set {rs_name} to 1",
             "deployment-controller"),
            ("SuccessfulCreate", f"replicaset/{rs_name}", f"Created pod: {pod_name}",
             "replicaset-controller"),
            ("Scheduled", f"pod/{pod_name}",
             f"Successfully assigned default/{pod_name} to minikube", "default-scheduler"),
        ]
        d = c.get("deployments", "nginx")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        assert d["status"]["availableReplicas"] == 1 and d["status"]["updatedReplicas"] == 1
        conds = {x["type"]: x["reason"] for x in d["status"]["conditions"]}
        assert conds == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


def test_the_seeds_typo_ningx_creates_the_chain_and_the_pod_fails_to_pull() -> None:
    with simulate(ClusterSpec(), seed=1) as c:
        c.create(deployment("nginx", replicas=1, image="ningx"))
        c.run_until(lambda c: any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
            for p in c.list("pods", "default")["items"]
            for cs in (p.get("status") or {}).get("containerStatuses") or ()), timeout=60)
        d = c.get("deployments", "nginx")
        assert d["status"].get("availableReplicas", 0) == 0
        assert d["status"]["unavailableReplicas"] == 1


def test_scale_up_and_down_keeps_replicas_and_reports_events() -> None:
    spec = ClusterSpec(nodes=[NodeSpec(f"node-{i}") for i in range(3)])
    with simulate(spec, seed=5) as c:
        c.create(deployment("web", replicas=2))
        wait_available(c, "web", 2)
        c.patch("deployments", "web", {"spec": {"replicas": 7}})
        wait_available(c, "web", 7)
        (rs,) = replica_sets_of(c, "web")
        assert len(ready_pods(c, "web")) == 7
        c.patch("deployments", "web", {"spec": {"replicas": 3}})
        c.run_until(lambda c: len([p for p in owned_pods(c, rs)
                                   if not p["metadata"].get("deletionTimestamp")]) == 3, timeout=60)
        reasons = [(e["reason"], e["message"]) for e in c.list("events", "default")["items"]]
        name = rs["metadata"]["name"]
        assert ("ScalingReplicaSet", f"Scaled up replica set {name} to 7") in reasons
        assert ("ScalingReplicaSet", f"Scaled down replica set {name} to 3") in reasons
        assert sum(1 for r, _ in reasons if r == "SuccessfulDelete") == 4
        # Spread by the scheduler over the three nodes.
        c.run_until(lambda c: len(owned_pods(c, rs)) == 3, timeout=60)
        assert c.get("replicasets", name)["status"]["replicas"] == 3


def _rs(name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _bare_pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                           "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_replicaset_adopts_matching_orphans_and_releases_pods_that_stop_matching() -> None:
    with simulate(ClusterSpec(), seed=2) as c:
        for i in range(2):
            c.create(_bare_pod(f"orphan-{i}", {"app": "cache"}))
        c.create(_bare_pod("other", {"app": "other"}))
        c.advance(1)
        c.create(_rs("cache", 3, {"app": "cache"}))
        c.run_until(lambda c: len(owned_pods(c, c.get("replicasets", "cache"))) == 3, timeout=30)
        rs = c.get("replicasets", "cache")
        owned = {p["metadata"]["name"] for p in owned_pods(c, rs)}
        assert {"orphan-0", "orphan-1"} <= owned  # adopted: only one new pod was created
        creates = [e for e in c.list("events", "default")["items"] if e["reason"] == "SuccessfulCreate"]
        assert len(creates) == 1
        assert not c.get("pods", "other")["metadata"].get("ownerReferences")
        # A pod relabelled out of the selector is released, and replaced.
        c.patch("pods", "orphan-0", {"metadata": {"labels": {"app": "gone"}}})
        c.run_until(lambda c: not c.get("pods", "orphan-0")["metadata"].get("ownerReferences")
                    and len(owned_pods(c, c.get("replicasets", "cache"))) == 3, timeout=30)
        c.run_until(lambda c: c.get("replicasets", "cache")["status"].get("readyReplicas") == 3, timeout=60)


def test_replication_controller_keeps_its_pods() -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController",
          "metadata": {"name": "legacy", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"app": "legacy"},
                   "template": {"metadata": {"labels": {"app": "legacy"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    with simulate(ClusterSpec(), seed=4) as c:
        c.create(rc)
        c.run_until(lambda c: c.get("replicationcontrollers", "legacy")["status"].get("readyReplicas") == 2,
                    timeout=60)
        pods = owned_pods(c, c.get("replicationcontrollers", "legacy"))
        assert len(pods) == 2
        ref = pods[0]["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["apiVersion"], ref["controller"]) == ("ReplicationController", "v1", True)
        c.delete("pods", pods[0]["metadata"]["name"], grace_period_seconds=0)
        c.run_until(lambda c: len([p for p in owned_pods(c, c.get("replicationcontrollers", "legacy"))
                                   if p["metadata"]["name"] != pods[0]["metadata"]["name"]]) == 2, timeout=60)
