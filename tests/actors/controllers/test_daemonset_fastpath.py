"""DaemonSet memo (``DaemonSetMemo``): a sync with the controller's memo plans exactly what a
sync without it plans — the same actions in the same order, the same bodies, events and
requeue — over random nodes, DaemonSets and pods, and across sequences of syncs where the
objects change between syncs (replaced, as the informer replaces them), so a stale memo
entry would show as a difference."""

from __future__ import annotations

import copy
import random
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.controllers._logic_daemonset import (
    DaemonSetMemo,
    node_should_run_daemon_pod,
    reconcile_daemonset,
)
from actors.controllers._plan import Create, Delete, Patch, Update, format_time

NOW = 1_700_000_000.0
NS = "ns"

TAINTS = [
    {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
    {"key": "dedicated", "value": "db", "effect": "NoExecute"},
    {"key": "gpu", "effect": "PreferNoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
    {"key": "spot", "value": "true", "effect": "NoExecute"},
]
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"},
    {"key": "dedicated", "operator": "Exists"},
    {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute"},
    {"operator": "Exists"},
    {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
]


# ---- random objects ---------------------------------------------------------------------------
def rand_node(rng: random.Random, name: str, rv: int) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": rng.choice(["linux", "linux", "windows"])}
    if rng.random() < 0.8:
        labels["zone"] = rng.choice("abc")
    if rng.random() < 0.5:
        labels["disk"] = rng.choice(["ssd", "hdd"])
    if rng.random() < 0.5:
        labels["cores"] = rng.choice(["2", "4", "16"])
    taints = [dict(t) for t in rng.sample(TAINTS, rng.choice([0, 0, 0, 1, 1, 2]))]
    node: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"uid-{name}-{rv}", "resourceVersion": str(rv), "labels": labels},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": rng.choice(["True", "True", "False", "Unknown"])}]}}
    if rng.random() < 0.15:
        node["spec"]["unschedulable"] = True
    return node


def rand_template_spec(rng: random.Random, image: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": image}]}
    r = rng.random()
    if r < 0.25:
        spec["nodeSelector"] = {"zone": rng.choice("ab")}
    elif r < 0.35:
        spec["nodeSelector"] = {"kubernetes.io/os": "linux", "disk": "ssd"}
    if rng.random() < 0.3:
        terms = []
        for _ in range(rng.randint(0, 2)):
            term: dict[str, Any] = {}
            kind = rng.random()
            if kind < 0.4:
                term["matchExpressions"] = [{"key": "zone", "operator": rng.choice(["In", "NotIn"]),
                                             "values": rng.sample(["a", "b", "c"], 2)}]
            elif kind < 0.6:
                term["matchExpressions"] = [{"key": "disk", "operator": rng.choice(["Exists", "DoesNotExist"])}]
            elif kind < 0.75:
                term["matchExpressions"] = [{"key": "cores", "operator": rng.choice(["Gt", "Lt"]), "values": ["3"]}]
            elif kind < 0.9:
                term["matchFields"] = [{"key": "metadata.name", "operator": rng.choice(["In", "NotIn"]),
                                        "values": [f"n{rng.randint(0, 8)}"]}]
            terms.append(term)  # kind >= 0.9: an empty term (selects nothing)
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": terms}}}
    if rng.random() < 0.5:
        spec["tolerations"] = [dict(t) for t in rng.sample(TOLERATIONS, rng.randint(1, 2))]
    if rng.random() < 0.3:
        spec["hostNetwork"] = True
    if rng.random() < 0.04:
        spec["nodeName"] = f"n{rng.randint(0, 5)}"
    return spec


def rand_strategy(rng: random.Random) -> dict[str, Any] | None:
    r = rng.random()
    if r < 0.15:
        return None
    if r < 0.3:
        return {"type": "OnDelete"}
    ru: dict[str, Any] = {}
    if rng.random() < 0.7:
        ru["maxUnavailable"] = rng.choice([0, 1, 2, 3, "25%", "50%", "0%", "100%"])
    if rng.random() < 0.5:
        ru["maxSurge"] = rng.choice([0, 1, 2, "30%", "0%", "100%"])
    if rng.random() < 0.02:
        ru[rng.choice(["maxSurge", "maxUnavailable"])] = rng.choice(["abc", True, "1"])  # rejected values
    out: dict[str, Any] = {"type": "RollingUpdate"} if rng.random() < 0.8 else {}
    if ru or rng.random() < 0.5:
        out["rollingUpdate"] = ru
    return out


def rand_ds(rng: random.Random, uid: str = "ds-uid", image: str = "img:1") -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "d"}},
                            "template": {"metadata": {"labels": {"app": "d"}},
                                         "spec": rand_template_spec(rng, image)}}
    if rng.random() < 0.2:
        spec["selector"] = {"matchLabels": {"app": "d"},
                            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}
    strategy = rand_strategy(rng)
    if strategy is not None:
        spec["updateStrategy"] = strategy
    if rng.random() < 0.4:
        spec["minReadySeconds"] = rng.choice([1, 5, 30])
    if rng.random() < 0.3:
        spec["revisionHistoryLimit"] = rng.choice([0, 1, 2])
    meta: dict[str, Any] = {"name": "ds", "namespace": NS, "uid": uid, "generation": 1,
                            "resourceVersion": "1"}
    if rng.random() < 0.5:
        meta["annotations"] = {"deprecated.daemonset.template.generation": "1"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta, "spec": spec}


def rand_pod(rng: random.Random, i: int, node_names: list[str], hashes: list[str], now: float,
             ds_uid: str) -> dict[str, Any]:
    name = f"p{i}"
    target = rng.choice(node_names + ["ghost", ""]) if rng.random() < 0.15 else rng.choice(node_names or [""])
    labels: dict[str, str] = {"app": "d"} if rng.random() < 0.93 else {"app": "other"}
    if rng.random() < 0.1:
        labels["tier"] = "x"
    h = rng.choice(hashes + [""])
    if h:
        labels["controller-revision-hash"] = h
    if rng.random() < 0.3:
        labels["pod-template-generation"] = rng.choice(["1", "2"])
    owner = rng.random()
    refs: list[dict[str, Any]] = []
    if owner < 0.82:
        refs = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": ds_uid, "controller": True}]
    elif owner < 0.9:
        refs = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": True}]
    elif owner < 0.94:
        refs = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": ds_uid}]  # not controller
    meta: dict[str, Any] = {"name": name, "namespace": NS if rng.random() < 0.95 else "other",
                            "uid": f"uid-{name}", "labels": labels, "resourceVersion": str(i)}
    if refs:
        meta["ownerReferences"] = refs
    if rng.random() < 0.95:
        meta["creationTimestamp"] = format_time(now - rng.choice([5, 50, 50, 500]))
    if rng.random() < 0.08:
        meta["deletionTimestamp"] = format_time(now)
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "img"}]}
    if target and rng.random() < 0.75:
        spec["nodeName"] = target
    elif target:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": [target]}]}]}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": rand_pod_status(rng, now)}


def rand_pod_status(rng: random.Random, now: float) -> dict[str, Any]:
    phase = rng.choice(["Running"] * 6 + ["Pending", "Failed", "Succeeded", None])
    status: dict[str, Any] = {} if phase is None else {"phase": phase}
    if rng.random() < 0.75:
        status["conditions"] = [{"type": "Ready", "status": rng.choice(["True", "True", "True", "False"]),
                                 "lastTransitionTime": format_time(now - rng.choice([0, 2, 10, 100]))}]
    return status


def replaced(obj: dict[str, Any]) -> dict[str, Any]:
    """A new object with the same content (what an informer hands over for a no-op update)."""
    return copy.deepcopy(obj)


# ---- one world, evolving --------------------------------------------------------------------
class World:
    def __init__(self, rng: random.Random, n_nodes: int) -> None:
        self.rng, self.now, self.rv, self.seq = rng, NOW, 100, 0
        self.nodes = [rand_node(rng, f"n{i}", self._rv()) for i in range(n_nodes)]
        if rng.random() < 0.05 and self.nodes:
            self.nodes.append(rand_node(rng, self.nodes[0]["metadata"]["name"], self._rv()))  # a duplicate name
        self.ds = rand_ds(rng)
        self.revisions: list[dict[str, Any]] = []
        self.hashes = ["oldhash"]
        self.pods: list[dict[str, Any]] = []
        # A first sync with no pods names the current revision; then pods of any revision.
        try:
            self.apply(reconcile_daemonset(self.ds, self.nodes, [], self.revisions, now=self.now), pods=False)
        except ValueError:
            pass  # a rejected maxSurge/maxUnavailable: the syncs below must fail alike
        names = [n["metadata"]["name"] for n in self.nodes]
        for _ in range(rng.randint(0, 2 * n_nodes + 2)):
            self.pods.append(rand_pod(rng, self._seq(), names, self.hashes, self.now, self.ds["metadata"]["uid"]))

    def _rv(self) -> int:
        self.rv += 1
        return self.rv

    def _seq(self) -> int:
        self.seq += 1
        return self.seq

    def inputs(self) -> dict[str, Any]:
        rng = self.rng
        backoff = {n["metadata"]["name"]: self.now + rng.choice([-5, 3, 60])
                   for n in self.nodes if rng.random() < 0.2}
        kw: dict[str, Any] = {"now": self.now, "expectations_satisfied": rng.random() < 0.85,
                              "failed_pod_backoff_until": backoff or None}
        if rng.random() < 0.2:
            kw["burst_replicas"] = rng.choice([1, 2, 3])
        return kw

    def apply(self, plan: Any, *, pods: bool = True) -> None:
        """What the API server and the kubelets would make of the plan, roughly."""
        rng = self.rng
        for a in plan.actions:
            if isinstance(a, Create) and a.ref.kind == "ControllerRevision":
                body = copy.deepcopy(a.body)
                body["metadata"].update(uid=f"rev-{self._seq()}", creationTimestamp=format_time(self.now))
                self.revisions = [r for r in self.revisions if r["metadata"]["name"] != body["metadata"]["name"]]
                self.revisions.append(body)
                self.hashes.append(body["metadata"]["labels"]["controller-revision-hash"])
            elif isinstance(a, Update) and a.ref.kind == "ControllerRevision":
                self.revisions = [copy.deepcopy(a.body) if r["metadata"]["name"] == a.ref.name else r
                                  for r in self.revisions]
            elif isinstance(a, Delete) and a.ref.kind == "ControllerRevision":
                self.revisions = [r for r in self.revisions if r["metadata"]["name"] != a.ref.name]
            elif isinstance(a, Update) and a.ref.kind == "DaemonSet":
                self.ds = {**self.ds, "status": copy.deepcopy(a.body["status"])}
            elif not pods:
                continue
            elif isinstance(a, Create) and a.ref.kind == "Pod":
                if rng.random() < 0.1:
                    continue  # a failed create
                body = copy.deepcopy(a.body)
                i = self._seq()
                body["metadata"].update(name=f"p{i}", uid=f"uid-p{i}", creationTimestamp=format_time(self.now))
                if rng.random() < 0.6:  # scheduled, maybe running already
                    terms = body["spec"]["affinity"]["nodeAffinity"][
                        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                    body["spec"]["nodeName"] = terms[0]["matchFields"][0]["values"][0]
                    body["status"] = rand_pod_status(rng, self.now)
                self.pods.append(body)
            elif isinstance(a, Delete) and a.ref.kind == "Pod":
                if rng.random() < 0.3:  # terminating for a while
                    self.pods = [self._with(p, deletionTimestamp=format_time(self.now))
                                 if p["metadata"]["name"] == a.ref.name else p for p in self.pods]
                else:
                    self.pods = [p for p in self.pods if p["metadata"]["name"] != a.ref.name]
            elif isinstance(a, Patch) and a.ref.kind == "Pod":
                refs = a.patch["metadata"]["ownerReferences"]
                released = any(r.get("$patch") == "delete" for r in refs)
                self.pods = [self._with(p, ownerReferences=[] if released else copy.deepcopy(refs))
                             if p["metadata"]["name"] == a.ref.name else p for p in self.pods]

    @staticmethod
    def _with(obj: dict[str, Any], **meta: Any) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        out["metadata"].update(meta)
        return out

    def perturb(self) -> None:
        """Change a few objects between two syncs; every change replaces the object."""
        rng = self.rng
        self.now += rng.choice([0, 1, 3, 10, 40])
        for _ in range(rng.randint(0, 4)):
            r = rng.random()
            names = [n["metadata"]["name"] for n in self.nodes]
            if r < 0.12 and self.nodes:  # a node's labels/taints change
                i = rng.randrange(len(self.nodes))
                self.nodes[i] = rand_node(rng, names[i], self._rv())
            elif r < 0.22 and self.nodes:  # a heartbeat: same content, new object
                i = rng.randrange(len(self.nodes))
                node = replaced(self.nodes[i])
                node["metadata"]["resourceVersion"] = str(self._rv())
                self.nodes[i] = node
            elif r < 0.27 and self.nodes:
                self.nodes.pop(rng.randrange(len(self.nodes)))
            elif r < 0.33:
                self.nodes.append(rand_node(rng, f"n{len(self.nodes) + rng.randint(0, 3)}", self._rv()))
            elif r < 0.5 and self.pods:  # a pod's status changes
                i = rng.randrange(len(self.pods))
                pod = replaced(self.pods[i])
                pod["status"] = rand_pod_status(rng, self.now)
                self.pods[i] = pod
            elif r < 0.55 and self.pods:  # a pod is scheduled
                i = rng.randrange(len(self.pods))
                if names:
                    pod = replaced(self.pods[i])
                    pod["spec"]["nodeName"] = rng.choice(names)
                    self.pods[i] = pod
            elif r < 0.6 and self.pods:
                self.pods.pop(rng.randrange(len(self.pods)))
            elif r < 0.65:
                self.pods.append(rand_pod(rng, self._seq(), names, self.hashes, self.now,
                                          self.ds["metadata"]["uid"]))
            elif r < 0.7 and self.pods:  # a pod's labels change (claim, hash)
                i = rng.randrange(len(self.pods))
                pod = replaced(self.pods[i])
                pod["metadata"]["labels"] = rng.choice([{"app": "d"}, {"app": "other"},
                                                        {"app": "d", "controller-revision-hash": rng.choice(self.hashes)}])
                self.pods[i] = pod
            elif r < 0.75:  # a new template: a rollout
                self.ds = self._ds_with(template_spec=rand_template_spec(rng, f"img:{self._seq()}"))
            elif r < 0.8:  # the same template, new placement (selector, tolerations, affinity)
                spec = rand_template_spec(rng, self.ds["spec"]["template"]["spec"]["containers"][0]["image"])
                self.ds = self._ds_with(template_spec=spec)
            elif r < 0.85:
                self.ds = self._ds_with(strategy=rand_strategy(rng))
            elif r < 0.88:
                self.ds = self._ds_with(min_ready=rng.choice([0, 2, 30]))
            elif r < 0.9:
                self.ds = self._ds_with(selector=rng.choice([{"matchLabels": {"app": "d"}},
                                                             {"matchLabels": {"app": "other"}}, {}]))
            elif r < 0.92:  # deleted and created again: a new uid
                self.ds = rand_ds(rng, uid=f"ds-uid-{self._seq()}")
            elif r < 0.93:
                self.ds = self._with(self.ds, deletionTimestamp=format_time(self.now))
            elif r < 0.96:
                self.ds = replaced(self.ds)  # a no-op update
            elif r < 0.98:
                rng.shuffle(self.nodes)
            else:
                rng.shuffle(self.pods)

    def _ds_with(self, *, template_spec: Any = None, strategy: Any = "", min_ready: Any = None,
                 selector: Any = None) -> dict[str, Any]:
        ds = replaced(self.ds)
        ds["metadata"]["generation"] = ds["metadata"].get("generation", 1) + 1
        if template_spec is not None:
            ds["spec"]["template"]["spec"] = template_spec
            if "annotations" in ds["metadata"]:
                ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation":
                                                 str(ds["metadata"]["generation"])}
        if strategy != "":
            ds["spec"].pop("updateStrategy", None)
            if strategy is not None:
                ds["spec"]["updateStrategy"] = strategy
        if min_ready is not None:
            ds["spec"]["minReadySeconds"] = min_ready
        if selector is not None:
            ds["spec"]["selector"] = selector
        return ds


def outcome(*args: Any, **kw: Any) -> Any:
    """The plan as exact bytes (types included), or the exception raised."""
    try:
        return msgspec.json.encode(reconcile_daemonset(*args, **kw))
    except Exception as e:  # both paths must fail alike
        return (type(e), str(e))


def run_sequence(seed: int, n_nodes: int, steps: int) -> int:
    """Syncs with one memo against syncs without; returns how many syncs planned anything."""
    rng = random.Random(seed)
    world = World(rng, n_nodes)
    memo = DaemonSetMemo()
    busy = 0
    for step in range(steps):
        kw = world.inputs()
        ds, nodes, pods, revs = world.ds, list(world.nodes), list(world.pods), list(world.revisions)
        ref = outcome(ds, nodes, pods, revs, **kw)
        fast = outcome(ds, nodes, pods, revs, memo=memo, **kw)
        assert fast == ref, f"seed {seed} step {step}"
        if isinstance(ref, bytes):
            plan = reconcile_daemonset(ds, nodes, pods, revs, **kw)
            busy += bool(plan.actions)
            world.apply(plan)
        world.perturb()
    return busy


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(0, 9))
def test_memo_plans_exactly_what_the_plain_sync_plans(seed: int, n_nodes: int) -> None:
    run_sequence(seed, n_nodes, steps=10)


def test_memo_matches_on_larger_clusters_over_long_sequences() -> None:
    busy = sum(run_sequence(seed, 40, steps=25) for seed in range(6))
    assert busy > 20  # the sequences do roll, create and delete, not only idle


def test_memo_forgets_deleted_nodes_pods_and_sets() -> None:
    rng = random.Random(7)
    world = World(rng, 6)
    memo = DaemonSetMemo(max_sets=2)
    reconcile_daemonset(world.ds, world.nodes, world.pods, world.revisions, now=NOW, memo=memo)
    m = memo._sets[world.ds["metadata"]["uid"]]
    assert len(m.entries) == len(world.nodes)
    reconcile_daemonset(world.ds, world.nodes[:2], world.pods[:1], world.revisions, now=NOW, memo=memo)
    assert len(m.entries) == 2 and len(m.pods) == 1  # the rest is let go
    for uid in ("a", "b", "c"):
        reconcile_daemonset({**world.ds, "metadata": {**world.ds["metadata"], "uid": uid}},
                            world.nodes, [], [], now=NOW, memo=memo)
    assert len(memo) == 2 and set(memo._sets) == {"b", "c"}
    memo.forget("b")
    assert set(memo._sets) == {"c"}


def test_each_controller_has_its_own_memo() -> None:
    from actors.controllers.daemonset import DaemonSetController

    assert "memo" not in vars(DaemonSetController)  # made in setup(), per instance
    assert DaemonSetMemo() is not DaemonSetMemo()


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_should_run_reads_only_name_labels_and_taints(seed: int) -> None:
    """What lets the node-update handler skip status-only updates."""
    rng = random.Random(seed)
    ds = rand_ds(rng)
    a = rand_node(rng, "n1", 1)
    b = rand_node(rng, "n1", 2)
    b["metadata"]["labels"], b["spec"]["taints"] = copy.deepcopy(a["metadata"]["labels"]), copy.deepcopy(
        a["spec"]["taints"])
    assert node_should_run_daemon_pod(a, ds) == node_should_run_daemon_pod(b, ds)
