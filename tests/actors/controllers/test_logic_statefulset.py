"""StatefulSet logic: ordinal identity, OrderedReady vs Parallel, claims, scale down from the
highest ordinal, reverse-ordinal rolling updates with a partition."""

from __future__ import annotations

import copy
from typing import Any

from actors.controllers import (
    Create,
    Delete,
    Update,
    claim_name,
    pod_ordinal,
    reconcile_statefulset,
)
from actors.controllers._plan import format_time

T0 = 1_700_000_000.0


def sts(replicas: int = 3, image: str = "nginx:1", **spec: Any) -> dict:
    s = {"replicas": replicas, "serviceName": "nginx", "selector": {"matchLabels": {"app": "web"}},
         "template": {"metadata": {"labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "c", "image": image}]}},
         "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                   "spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}}]}
    s.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "default", "uid": "sts-uid", "generation": 1},
            "spec": s}


class StsSim:
    def __init__(self, s: dict) -> None:
        self.sts = copy.deepcopy(s)
        self.pods: dict[str, dict] = {}
        self.revisions: dict[str, dict] = {}
        self.claims: dict[str, dict] = {}
        self.events: list[str] = []
        self.now = T0
        self.seq = 0

    def sync(self):
        plan = reconcile_statefulset(self.sts, list(self.pods.values()), list(self.revisions.values()),
                                     list(self.claims.values()), now=self.now)
        self.events += [e.message for e in plan.events]
        for a in plan.actions:
            if isinstance(a, Create):
                self.seq += 1
                body = copy.deepcopy(a.body)
                body["metadata"].update(uid=f"u{self.seq}", creationTimestamp=format_time(self.now))
                body["metadata"].setdefault("ownerReferences", [{"uid": "sts-uid", "controller": True}])
                store = {"Pod": self.pods, "ControllerRevision": self.revisions,
                         "PersistentVolumeClaim": self.claims}[a.ref.kind]
                if a.ref.kind == "Pod":
                    body["status"] = {"phase": "Pending"}
                store[a.ref.name] = body
            elif isinstance(a, Delete):
                self.pods.pop(a.ref.name, None) if a.ref.kind == "Pod" else self.revisions.pop(a.ref.name, None)
            elif isinstance(a, Update) and a.subresource == "status":
                self.sts["status"] = copy.deepcopy(a.body["status"])
            elif isinstance(a, Update):
                store = self.pods if a.ref.kind == "Pod" else self.revisions
                store[a.ref.name] = copy.deepcopy(a.body)
            self.events += [e.render(name=a.ref.name).message for e in a.on_success]
        return plan

    def ready(self, *names: str) -> None:
        for n in names or list(self.pods):
            self.pods[n]["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": format_time(self.now - 10)}]}

    def run(self, n: int = 20) -> None:
        for _ in range(n):
            self.sync()
            self.ready()

    def revision_of(self, name: str) -> str:
        return self.pods[name]["metadata"]["labels"]["controller-revision-hash"]


def test_ordinal_helpers():
    assert pod_ordinal({"metadata": {"name": "web-12"}}) == ("web", 12)
    assert pod_ordinal({"metadata": {"name": "web"}}) == ("", -1)
    assert claim_name({"metadata": {"name": "www"}}, "web", 0) == "www-web-0"


def test_ordered_ready_creates_one_pod_at_a_time_with_claims_first():
    sim = StsSim(sts(3))
    sim.sync()
    assert sorted(sim.pods) == ["web-0"] and sorted(sim.claims) == ["www-web-0"]
    assert sim.events == ["create Claim www-web-0 Pod web-0 in StatefulSet web success",
                          "create Pod web-0 in StatefulSet web successful"]
    pod = sim.pods["web-0"]
    assert pod["spec"]["hostname"] == "web-0" and pod["spec"]["subdomain"] == "nginx"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-0"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "0"
    assert pod["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    rev = sim.revision_of("web-0")
    assert rev in sim.revisions and rev.startswith("web-")
    sim.sync()
    assert sorted(sim.pods) == ["web-0"]  # waits for web-0 to be Running and Ready
    sim.ready("web-0")
    sim.sync()
    assert sorted(sim.pods) == ["web-0", "web-1"]
    sim.run(5)
    assert sorted(sim.pods) == ["web-0", "web-1", "web-2"]
    status = sim.sts["status"]
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"]) == (3, 3, 3)
    assert status["currentRevision"] == status["updateRevision"] == rev


def test_parallel_creates_all_at_once():
    sim = StsSim(sts(3, podManagementPolicy="Parallel"))
    sim.sync()
    assert sorted(sim.pods) == ["web-0", "web-1", "web-2"]


def test_scale_down_removes_highest_ordinal_first_one_at_a_time():
    sim = StsSim(sts(3))
    sim.run(8)
    sim.sts["spec"]["replicas"] = 1
    sim.events.clear()
    sim.sync()
    assert sorted(sim.pods) == ["web-0", "web-1"]
    assert sim.events == ["delete Pod web-2 in StatefulSet web successful"]
    sim.sync()
    assert sorted(sim.pods) == ["web-0"]
    assert sorted(sim.claims) == ["www-web-0", "www-web-1", "www-web-2"]  # claims are kept


def test_rolling_update_in_reverse_ordinal_order_with_partition():
    sim = StsSim(sts(3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    sim.run(8)
    old = sim.revision_of("web-0")
    sim.sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    sim.sts["metadata"]["generation"] = 2
    sim.events.clear()
    sim.sync()
    new = sim.sts["status"]["updateRevision"]
    assert new != old and new in sim.revisions
    assert sim.events == ["delete Pod web-2 in StatefulSet web successful"]
    sim.sync()  # recreated at the update revision
    assert sim.revision_of("web-2") == new
    assert sim.pods["web-2"]["spec"]["containers"][0]["image"] == "nginx:2"
    sim.sync()
    assert "web-1" in sim.pods  # web-2 not ready yet: wait
    sim.run(8)
    assert [sim.revision_of(n) for n in ("web-0", "web-1", "web-2")] == [old, new, new]
    status = sim.sts["status"]
    assert status["currentRevision"] == old and status["updateRevision"] == new
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 2)
    # Lowering the partition finishes the rollout and promotes the revision.
    sim.sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 0
    sim.run(8)
    assert sim.revision_of("web-0") == new
    assert sim.sts["status"]["currentRevision"] == new


def test_pod_below_partition_is_recreated_at_current_revision():
    sim = StsSim(sts(2, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    sim.run(6)
    old = sim.revision_of("web-0")
    sim.sts["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    sim.run(3)
    del sim.pods["web-0"]
    sim.sync()
    assert sim.revision_of("web-0") == old
    assert sim.pods["web-0"]["spec"]["containers"][0]["image"] == "nginx:1"


def test_failed_pod_is_deleted_for_recreation():
    sim = StsSim(sts(1))
    sim.run(3)
    sim.pods["web-0"]["status"] = {"phase": "Failed"}
    sim.events.clear()
    sim.sync()
    assert sim.events == ["StatefulSet default/web is recreating failed Pod web-0",
                          "delete Pod web-0 in StatefulSet web successful"]
    sim.sync()
    assert sim.pods["web-0"]["status"]["phase"] == "Pending"
