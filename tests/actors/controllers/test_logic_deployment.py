"""Deployment and rollout logic: Kubernetes' arithmetic and wording, from fixed states and
through a small simulation of the Deployment and ReplicaSet controllers executing plans."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.controllers import (
    Create,
    Delete,
    Patch,
    Plan,
    Update,
    max_surge,
    max_unavailable,
    reconcile_deployment,
    reconcile_replicaset,
    resolve_fenceposts,
    rollback_deployment,
)
from actors.controllers._logic_rollout import CleanupError
from actors.controllers._plan import format_time

T0 = 1_700_000_000.0


def deployment(replicas: int = 10, image: str = "nginx:1", *, surge: Any = "25%",
               unavailable: Any = "25%", strategy: str = "RollingUpdate", **spec: Any) -> dict:
    s: dict[str, Any] = {
        "replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
        "template": {"metadata": {"labels": {"app": "nginx"}},
                     "spec": {"containers": [{"name": "nginx", "image": image}]}},
        "strategy": {"type": strategy}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
    }
    if strategy == "RollingUpdate":
        s["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    s.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "nginx", "namespace": "default", "uid": "dep-uid", "generation": 1,
                         "resourceVersion": "1", "creationTimestamp": format_time(T0)},
            "spec": s}


class Cluster:
    """Just enough of an API server to run the plans: generateName, uids, generations,
    immediate pod deletion, pods becoming Ready ``ready_delay`` seconds after creation."""

    def __init__(self, d: dict, *, ready_delay: float = 1.0, rng: random.Random | None = None,
                 max_delay: float = 0.0) -> None:
        self.now = T0
        self.deploy = copy.deepcopy(d)
        self.rss: dict[str, dict] = {}
        self.pods: dict[str, dict] = {}
        self.events: list[tuple[str, str]] = []
        self.seq = 0
        self.ready_delay, self.rng, self.max_delay = ready_delay, rng, max_delay

    def _uid(self) -> str:
        self.seq += 1
        return f"uid-{self.seq}"

    def _create(self, a: Create) -> str:
        obj = copy.deepcopy(a.body)
        meta = obj.setdefault("metadata", {})
        name = a.ref.name or f"{meta['generateName']}{self.seq + 1:05d}"
        meta.update(name=name, uid=self._uid(), generation=1, creationTimestamp=format_time(self.now))
        if a.ref.kind == "Pod":
            delay = self.ready_delay
            if self.rng is not None:
                delay = self.rng.uniform(1.0, self.max_delay)
            obj["spec"]["nodeName"] = "node-a"
            obj["status"] = {"phase": "Running", "readyAt": self.now + delay}
            self.pods[name] = obj
        else:
            obj["status"] = {}
            self.rss[name] = obj
        return name

    def _update(self, a: Update) -> None:
        store = self.rss if a.ref.kind == "ReplicaSet" else None
        cur = store[a.ref.name] if store is not None else self.deploy
        if a.subresource == "status":
            cur["status"] = copy.deepcopy(a.body.get("status") or {})
            if a.ref.kind == "Deployment":  # Kubernetes' status strategy keeps annotations
                cur["metadata"]["annotations"] = copy.deepcopy(a.body["metadata"].get("annotations"))
            return
        new = copy.deepcopy(a.body)
        new["status"] = cur.get("status", {})
        if new.get("spec") != cur.get("spec") or (a.ref.kind == "Deployment" and
                new["metadata"].get("annotations") != cur["metadata"].get("annotations")):
            new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        if store is not None:
            store[a.ref.name] = new
        else:
            self.deploy = new

    def apply(self, plan: Plan) -> None:
        for e in plan.events:
            self.events.append((e.reason, e.message))
        for a in plan.actions:
            name = a.ref.name
            if isinstance(a, Create):
                name = self._create(a)
            elif isinstance(a, Update):
                self._update(a)
            elif isinstance(a, Delete):
                (self.pods if a.ref.kind == "Pod" else self.rss).pop(a.ref.name, None)
            else:
                assert isinstance(a, Patch)
            for e in a.on_success:
                self.events.append((e.reason, e.render(name=name).message))

    def tick(self, dt: float = 1.0) -> None:
        self.now += dt
        for p in self.pods.values():
            if "readyAt" in p["status"] and p["status"]["readyAt"] <= self.now:
                at = p["status"].pop("readyAt")
                p["status"]["conditions"] = [{"type": "Ready", "status": "True",
                                              "lastTransitionTime": format_time(at)}]

    def sync_deployment(self) -> Plan:
        plan = reconcile_deployment(self.deploy, list(self.rss.values()), list(self.pods.values()),
                                    now=self.now)
        self.apply(plan)
        return plan

    def sync_replicasets(self) -> None:
        for _ in range(10):
            changed = False
            for name in sorted(self.rss):
                if name not in self.rss:
                    continue
                rs = self.rss[name]
                plan = reconcile_replicaset(rs, list(self.pods.values()), now=self.now)
                changed |= bool(plan.actions)
                self.apply(plan)
            if not changed:
                return
        raise AssertionError("ReplicaSets did not settle")

    def step(self) -> None:
        self.tick()
        self.sync_deployment()
        self.sync_replicasets()

    def settle(self, steps: int = 60) -> None:
        for _ in range(steps):
            self.step()

    def sizes(self) -> dict[str, int]:
        return {n: rs["spec"]["replicas"] for n, rs in sorted(self.rss.items())}

    def available(self) -> int:
        return sum(1 for p in self.pods.values() if p["status"].get("conditions"))

    def set_image(self, image: str) -> None:
        self.deploy["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.deploy["metadata"]["generation"] += 1

    def scale(self, replicas: int) -> None:
        self.deploy["spec"]["replicas"] = replicas
        self.deploy["metadata"]["generation"] += 1

    def scaling_events(self) -> list[str]:
        return [m for r, m in self.events if r == "ScalingReplicaSet"]


def rs_named(c: Cluster, image: str) -> str:
    return next(n for n, rs in c.rss.items()
                if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)


# -- fenceposts --------------------------------------------------------------------------


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert resolve_fenceposts("25%", "25%", 10) == (3, 2)
    assert resolve_fenceposts("25%", "25%", 1) == (1, 0)
    assert resolve_fenceposts(2, "50%", 5) == (2, 2)
    assert resolve_fenceposts("0%", "10%", 5) == (0, 1)  # both zero: unavailable becomes 1
    assert resolve_fenceposts(0, 0, 3) == (0, 1)
    d = deployment(4, surge=0, unavailable=10)
    assert max_unavailable(d) == 4 and max_surge(d) == 0  # capped at replicas
    assert max_unavailable(deployment(3, strategy="Recreate")) == 0


# -- first sync: the seed's event --------------------------------------------------------


def test_first_sync_creates_new_replica_set_with_seed_wording():
    c = Cluster(deployment(1))
    plan = c.sync_deployment()
    create = plan.actions[0]
    assert isinstance(create, Create) and create.ref.kind == "ReplicaSet"
    name = create.ref.name
    assert name.startswith("nginx-") and len(name) > 6
    meta = create.body["metadata"]
    assert meta["labels"]["pod-template-hash"] == name.removeprefix("nginx-")
    assert meta["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                   "deployment.kubernetes.io/desired-replicas": "1",
                                   "deployment.kubernetes.io/max-replicas": "2"}
    assert meta["ownerReferences"][0]["controller"] is True
    assert create.on_success[0].message == f"Scaled up replica set {name} to 1"
    status_write = plan.actions[-1]
    assert isinstance(status_write, Update) and status_write.subresource == "status"
    conds = {x["type"]: x for x in status_write.body["status"]["conditions"]}
    assert conds["Progressing"]["reason"] == "NewReplicaSetCreated"
    assert conds["Progressing"]["message"] == f'Created new replica set "{name}"'
    assert status_write.body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    c.sync_replicasets()
    assert ("SuccessfulCreate", f"Created pod: {name}-00002") in c.events


def test_deployment_becomes_complete_and_available():
    c = Cluster(deployment(3))
    c.settle(5)
    st_ = c.deploy["status"]
    assert (st_["replicas"], st_["updatedReplicas"], st_["availableReplicas"]) == (3, 3, 3)
    conds = {x["type"]: x for x in st_["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"].endswith("has successfully progressed.")


# -- rolling update -----------------------------------------------------------------------


def test_rolling_update_25_25_on_10_replicas_steps():
    c = Cluster(deployment(10))
    c.settle(6)
    old = rs_named(c, "nginx:1")
    c.events.clear()
    c.set_image("nginx:2")
    c.tick()
    c.sync_deployment()
    new = rs_named(c, "nginx:2")
    # One sync: new set created at maxSurge (3), old set scaled down by maxUnavailable (2).
    assert c.sizes() == {old: 8, new: 3} or c.sizes() == {new: 3, old: 8}
    assert c.scaling_events() == [f"Scaled up replica set {new} to 3",
                                  f"Scaled down replica set {old} to 8"]
    for _ in range(30):
        c.sync_replicasets()
        c.step()
    assert c.sizes()[new] == 10 and c.sizes()[old] == 0
    assert c.scaling_events() == [
        f"Scaled up replica set {new} to 3", f"Scaled down replica set {old} to 8",
        f"Scaled up replica set {new} to 5", f"Scaled down replica set {old} to 5",
        f"Scaled up replica set {new} to 8", f"Scaled down replica set {old} to 3",
        f"Scaled up replica set {new} to 10", f"Scaled down replica set {old} to 0",
    ]
    assert c.rss[new]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert c.deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_stale_old_status_fails_the_sync_with_kubernetes_error():
    """An old set reporting more available replicas than its spec (its status not yet caught
    up with a scale-down) makes ``cleanupUnhealthyReplicas`` return an error: the sync fails
    (and is retried), nothing is written."""
    c = Cluster(deployment(10))
    c.settle(6)
    old = rs_named(c, "nginx:1")
    c.set_image("nginx:2")
    c.tick()
    c.sync_deployment()
    new = rs_named(c, "nginx:2")
    assert c.sizes()[old] == 8
    c.rss[old]["status"]["availableReplicas"] = 10  # stale: from before the scale-down
    c.rss[new]["spec"]["replicas"] = 5  # at maxSurge: no scale-up comes first
    c.rss[new]["status"]["availableReplicas"] = 5
    before = copy.deepcopy(c.rss)
    with pytest.raises(CleanupError, match=rf"when cleaning up unhealthy replicas, got invalid "
                                           rf"request to scale down {old} 8 -> 10"):
        reconcile_deployment(c.deploy, list(c.rss.values()), list(c.pods.values()), now=c.now)
    assert c.rss == before


def test_rolling_update_absolute_values():
    c = Cluster(deployment(4, surge=1, unavailable=0))
    c.settle(5)
    old = rs_named(c, "nginx:1")
    c.events.clear()
    c.set_image("nginx:2")
    c.settle(20)
    new = rs_named(c, "nginx:2")
    # maxUnavailable 0: never drop below 4 available; surge 1: one new pod at a time.
    assert c.scaling_events() == [
        f"Scaled up replica set {new} to 1", f"Scaled down replica set {old} to 3",
        f"Scaled up replica set {new} to 2", f"Scaled down replica set {old} to 2",
        f"Scaled up replica set {new} to 3", f"Scaled down replica set {old} to 1",
        f"Scaled up replica set {new} to 4", f"Scaled down replica set {old} to 0",
    ]


# -- Recreate -------------------------------------------------------------------------------


def test_recreate_scales_old_to_zero_then_creates_new():
    c = Cluster(deployment(3, strategy="Recreate"))
    c.settle(5)
    old = rs_named(c, "nginx:1")
    c.events.clear()
    c.set_image("nginx:2")
    c.tick()
    plan = c.sync_deployment()
    assert not any(isinstance(a, Create) for a in plan.actions)
    assert c.scaling_events() == [f"Scaled down replica set {old} to 0"]
    # Old pods still exist: no new ReplicaSet yet.
    plan = reconcile_deployment(c.deploy, list(c.rss.values()), list(c.pods.values()), now=c.now)
    assert not any(isinstance(a, Create) for a in plan.actions)
    c.sync_replicasets()
    c.settle(5)
    new = rs_named(c, "nginx:2")
    assert c.scaling_events() == [f"Scaled down replica set {old} to 0",
                                  f"Scaled up replica set {new} to 3"]


# -- proportional scaling -------------------------------------------------------------------


def test_proportional_scaling_mid_rollout_matches_kubernetes_docs_example():
    # The documentation's example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout
    # stuck (new image never becomes ready), then a scale to 15: 3 go to the old set, 2 to
    # the new one.
    c = Cluster(deployment(10, surge=3, unavailable=2))
    c.settle(5)
    old = rs_named(c, "nginx:1")
    c.ready_delay = 10_000
    c.set_image("nginx:bad")
    c.settle(5)
    new = rs_named(c, "nginx:bad")
    assert c.sizes() == {old: 8, new: 5} or c.sizes() == {new: 5, old: 8}
    c.events.clear()
    c.scale(15)
    c.step()
    assert c.sizes()[old] == 11 and c.sizes()[new] == 7
    assert sorted(c.scaling_events()) == sorted([f"Scaled up replica set {old} to 11",
                                                 f"Scaled up replica set {new} to 7"])
    for name in (old, new):
        ann = c.rss[name]["metadata"]["annotations"]
        assert ann["deployment.kubernetes.io/desired-replicas"] == "15"
        assert ann["deployment.kubernetes.io/max-replicas"] == "18"


def test_pause_blocks_rollout_but_not_scaling():
    c = Cluster(deployment(4))
    c.settle(5)
    old = rs_named(c, "nginx:1")
    c.deploy["spec"]["paused"] = True
    c.set_image("nginx:2")
    c.step()
    assert list(c.rss) == [old]
    cond = next(x for x in c.deploy["status"]["conditions"] if x["type"] == "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused",
                                                                 "Deployment is paused")
    c.scale(6)
    c.step()
    assert c.sizes() == {old: 6}
    c.deploy["spec"]["paused"] = False
    c.step()
    cond = next(x for x in c.deploy["status"]["conditions"] if x["type"] == "Progressing")
    assert cond["reason"] in ("DeploymentResumed", "NewReplicaSetCreated", "ReplicaSetUpdated")
    assert len(c.rss) == 2


# -- progress deadline ----------------------------------------------------------------------


def test_progress_deadline_exceeded_and_requeue_at_deadline():
    c = Cluster(deployment(2, progressDeadlineSeconds=60))
    c.settle(5)
    c.ready_delay = 10_000
    c.set_image("nginx:bad")
    c.settle(3)
    plan = reconcile_deployment(c.deploy, list(c.rss.values()), list(c.pods.values()), now=c.now)
    assert not plan.actions and plan.requeue_after is not None and 50 < plan.requeue_after <= 61
    c.tick(70)
    c.sync_deployment()
    new = rs_named(c, "nginx:bad")
    cond = next(x for x in c.deploy["status"]["conditions"] if x["type"] == "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"] == f'ReplicaSet "{new}" has timed out progressing.'


# -- rollback and history -------------------------------------------------------------------


def test_rollback_annotation_restores_old_template_and_revision_moves():
    c = Cluster(deployment(2))
    c.settle(5)
    first = rs_named(c, "nginx:1")
    c.set_image("nginx:2")
    c.settle(10)
    c.deploy["metadata"].setdefault("annotations", {})["deprecated.deployment.rollback.to"] = "1"
    c.events.clear()
    c.step()
    assert ("DeploymentRollback", 'Rolled back deployment "nginx" to revision 1') in c.events
    assert c.deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert "deprecated.deployment.rollback.to" not in c.deploy["metadata"]["annotations"]
    c.settle(10)
    ann = c.rss[first]["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/revision"] == "3"
    assert ann["deployment.kubernetes.io/revision-history"] == "1"
    assert c.sizes()[first] == 2


def test_rollback_helper_mirrors_kubectl_rollout_undo():
    c = Cluster(deployment(1))
    c.settle(3)
    c.set_image("nginx:2")
    c.settle(6)
    d = rollback_deployment(c.deploy, list(c.rss.values()))
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]
    try:
        rollback_deployment(c.deploy, list(c.rss.values()), 7)
    except ValueError as e:
        assert str(e) == "unable to find specified revision 7 in history"
    else:
        raise AssertionError("expected RollbackError")


def test_revision_history_limit_deletes_oldest_empty_sets():
    c = Cluster(deployment(1, revisionHistoryLimit=1))
    for image in ("nginx:1", "nginx:2", "nginx:3", "nginx:4"):
        if image != "nginx:1":
            c.set_image(image)
        c.settle(6)
    # Completed rollouts keep one old revision (the newest old one) beside the new set.
    images = sorted(rs["spec"]["template"]["spec"]["containers"][0]["image"] for rs in c.rss.values())
    assert images == ["nginx:3", "nginx:4"]


def test_hash_collision_bumps_collision_count():
    d = deployment(1)
    plan = reconcile_deployment(d, [], [], now=T0)
    name = plan.actions[0].ref.name
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": "default", "uid": "other",
                             "labels": {"team": "x"}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"team": "x"}},
                         "template": {"metadata": {"labels": {"team": "x"}}, "spec": {}}}}
    plan = reconcile_deployment(d, [squatter], [], now=T0)
    assert [type(a).__name__ for a in plan.actions] == ["Update"]
    assert plan.actions[0].body["status"]["collisionCount"] == 1
    d["status"] = {"collisionCount": 1}
    plan = reconcile_deployment(d, [squatter], [], now=T0)
    assert isinstance(plan.actions[0], Create) and plan.actions[0].ref.name != name


def test_selecting_all_warns():
    d = deployment(1)
    d["spec"]["selector"] = {}
    plan = reconcile_deployment(d, [], [], now=T0)
    assert [(e.type, e.reason, e.message) for e in plan.events] == [
        ("Warning", "SelectingAll",
         "This deployment is selecting all pods. A non-empty selector is required.")]


# -- the property: availability floor and surge ceiling ---------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicas=st.integers(0, 12),
       surge=st.one_of(st.integers(0, 4), st.sampled_from(["0%", "25%", "50%", "100%"])),
       unavailable=st.one_of(st.integers(0, 4), st.sampled_from(["0%", "25%", "50%", "100%"])),
       events=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["image", "scale"]),
                                 st.integers(0, 12)), min_size=1, max_size=5),
       seed=st.integers(0, 2**16))
def test_rollout_never_breaks_surge_or_availability(replicas, surge, unavailable, events, seed):
    """Simulating plans step by step with pods becoming ready after a random delay, a
    controller step never pushes the pod count above ``replicas + maxSurge`` (or above where
    it already was) nor availability below ``replicas - maxUnavailable`` (or below where it
    already was: a scale-up or a fresh rollout starts below the floor). The one exception is
    the sync that handles a scale-down in the middle of a rollout: proportional scaling
    trims every ReplicaSet, available pods included, and Kubernetes promises no floor there
    (found by this test: 2 -> 3 replicas with maxUnavailable 50% loses a ready pod)."""
    c = Cluster(deployment(replicas, surge=surge, unavailable=unavailable),
                rng=random.Random(seed), max_delay=4.0)
    c.settle(8)
    version = 1
    schedule = {}
    t = 0
    for gap, kind, n in events:
        t += gap
        schedule[t] = (kind, n)
    for i in range(1, t + 40):
        scaled_down = False
        if i in schedule:
            kind, n = schedule[i]
            if kind == "image":
                version += 1
                c.set_image(f"nginx:{version}")
            else:
                scaled_down = n < c.deploy["spec"]["replicas"]
                c.scale(n)
        c.tick()
        # Readiness changes are not the controllers' doing, and the ReplicaSet controller
        # publishes them before the Deployment controller decides (in a real cluster a
        # stale status can let cleanupUnhealthyReplicas remove a pod that just became
        # ready: that race is the informers', not the arithmetic's).
        c.sync_replicasets()
        pods_before, avail_before = len(c.pods), c.available()
        c.sync_deployment()
        c.sync_replicasets()
        d = c.deploy
        r = d["spec"]["replicas"]
        ceiling = r + max_surge(d)
        floor = r - max_unavailable(d)
        assert len(c.pods) <= max(ceiling, pods_before), (i, c.sizes())
        if not scaled_down:
            assert c.available() >= min(floor, avail_before), (i, c.sizes())
    c.settle(40)
    assert c.available() == c.deploy["spec"]["replicas"]
    assert all(p["spec"]["containers"][0]["image"] == f"nginx:{version}" for p in c.pods.values())
