"""DaemonSet controller benchmark: wall time of one sync (``reconcile_daemonset``) at 1,000
and 5,000 nodes when little changed since the previous sync.

The DaemonSet controller syncs once per event of any of its pods, and each sync looks at
every node, as in Kubernetes; in virtual time a sync costs nothing, so events do not
coalesce and a kube-proxy DaemonSet on N nodes costs O(N) per pod event. This script
builds N nodes (a tenth tainted NoSchedule, a few unschedulable, labels as kubeadm sets
them), the kube-proxy DaemonSet (tolerating every taint, ``kubernetes.io/os: linux``) and
its N running, ready pods, then times K syncs as the controller's ``plan`` makes them:
between two syncs one pod object is replaced (a status update, as the informer delivers
it), and in a second series one node object too (a heartbeat), so the memo must notice the
change but can reuse everything else.

Figures (median of ``--repeat`` runs of K syncs, milliseconds per sync), per size and series:
- ``memo``: the controller's path (``reconcile_daemonset(..., memo=DaemonSetMemo())``);
- ``no memo``: the same call without a memo (what every sync cost before the memo);
- ``ratio``: no memo / memo.

    python benchmarks/daemonset_sync.py [--quick] [--json PATH] [--repeat R]
"""

from __future__ import annotations

import inspect
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import random

from actors.controllers import _logic_daemonset as logic
from actors.controllers._plan import Create, Update, format_time
from actors.kube_proxy._manifests import daemonset_objects, node_pod
from benchmarks._common import parser, table, write_json

NOW = 1_700_000_000.0


def make_nodes(n: int) -> list[dict[str, Any]]:
    nodes = []
    for i in range(n):
        name = f"node-{i:05d}"
        taints = []
        if i % 10 == 0:
            taints.append({"key": "dedicated", "value": "infra", "effect": "NoSchedule"})
        if i % 97 == 0:
            taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
        nodes.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"node-uid-{i}", "resourceVersion": str(10 + i),
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64",
                                    "topology.kubernetes.io/zone": f"zone-{i % 10}"}},
            "spec": {"podCIDR": f"10.{i // 256}.{i % 256}.0/24", "taints": taints,
                     **({"unschedulable": True} if i % 97 == 0 else {})},
            "status": {"capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True",
                                       "lastHeartbeatTime": format_time(NOW - 10)}]}})
    return nodes


def make_daemonset() -> dict[str, Any]:
    ds = next(obj for res, obj in daemonset_objects() if res == "daemonsets")
    ds["metadata"].update(uid="ds-kube-proxy", generation=1, resourceVersion="5",
                          creationTimestamp=format_time(NOW - 3600),
                          annotations={logic.TEMPLATE_GENERATION_ANNOTATION: "1"})
    return ds


def make_pod(node: dict[str, Any], rng: random.Random, hash_: str, i: int) -> dict[str, Any]:
    pod = node_pod(node["metadata"]["name"], rng)
    pod["metadata"].update(uid=f"pod-uid-{i}", resourceVersion=str(100_000 + i),
                           creationTimestamp=format_time(NOW - 3000 + i * 0.01),
                           ownerReferences=[{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                             "name": "kube-proxy", "uid": "ds-kube-proxy",
                                             "controller": True, "blockOwnerDeletion": True}])
    pod["metadata"]["labels"]["controller-revision-hash"] = hash_
    pod["status"] = {"phase": "Running", "podIP": "10.0.0.1", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": format_time(NOW - 2000)}]}
    return pod


def build(n: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The DaemonSet (with the status its pods give it), its revision, nodes and pods."""
    ds, nodes = make_daemonset(), make_nodes(n)
    plan = logic.reconcile_daemonset(ds, [], [], now=NOW)
    rev = next(a.body for a in plan.actions if isinstance(a, Create) and a.ref.kind == "ControllerRevision")
    rev = {**rev, "metadata": {**rev["metadata"], "uid": "rev-uid", "creationTimestamp": format_time(NOW - 3600)}}
    hash_ = rev["metadata"]["labels"]["controller-revision-hash"]
    rng = random.Random(1)
    pods = [make_pod(node, rng, hash_, i) for i, node in enumerate(nodes)]
    plan = logic.reconcile_daemonset(ds, nodes, pods, [rev], now=NOW)
    update = next((a for a in plan.actions if isinstance(a, Update)), None)
    if update is not None:
        ds = {**ds, "status": update.body["status"]}
    return ds, [rev], nodes, pods


def _supports_memo() -> bool:
    return "memo" in inspect.signature(logic.reconcile_daemonset).parameters


def run(n: int, k: int, memo: bool, node_churn: bool = False) -> float:
    """Seconds per sync over ``k`` syncs; one pod object replaced between syncs (and one node
    object, a heartbeat, with ``node_churn``)."""
    ds, revisions, nodes, pods = build(n)
    kwargs: dict[str, Any] = {}
    if memo:
        kwargs["memo"] = logic.DaemonSetMemo()
    logic.reconcile_daemonset(ds, nodes, pods, revisions, now=NOW, **kwargs)  # warm the memo
    t0 = time.perf_counter()
    for i in range(k):
        j = (i * 7919) % len(pods)
        old = pods[j]
        pods[j] = {**old, "metadata": {**old["metadata"], "resourceVersion": str(200_000 + i)},
                   "status": {**old["status"], "podIP": f"10.1.{i % 256}.{j % 256}"}}
        if node_churn:
            old = nodes[j]
            nodes[j] = {**old, "metadata": {**old["metadata"], "resourceVersion": str(300_000 + i)},
                        "status": {**old["status"], "conditions": [
                            {"type": "Ready", "status": "True", "lastHeartbeatTime": format_time(NOW + i)}]}}
        plan = logic.reconcile_daemonset(ds, nodes, pods, revisions, now=NOW + i, **kwargs)
        assert not plan.actions, len(plan.actions)  # nothing to do: the steady state
    return (time.perf_counter() - t0) / k


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    q = args.quick
    repeat = args.repeat or (1 if q else 3)
    sizes = ((200, 20),) if q else ((1000, 100), (5000, 20))
    rows, res = [], {"ms_per_sync": {}}
    for n, k in sizes:
        for churn, label in ((False, "pod"), (True, "pod+node")):
            ref = statistics.median(run(n, k, False, churn) for _ in range(repeat))
            fig = {"nodes": n, "syncs": k, "replaced": label, "no_memo": ref * 1e3}
            rows.append((f"{n} nodes, {label} replaced: no memo", f"{ref * 1e3:.2f}",
                         f"ms/sync (median of {repeat} x {k} syncs)"))
            if _supports_memo():
                fast = statistics.median(run(n, k, True, churn) for _ in range(repeat))
                fig.update(memo=fast * 1e3, ratio=ref / fast)
                rows.append((f"{n} nodes, {label} replaced: memo", f"{fast * 1e3:.2f}", "ms/sync"))
                rows.append((f"{n} nodes, {label} replaced: ratio", f"{ref / fast:.1f}", "no memo / memo"))
            res["ms_per_sync"][f"{n}/{label}"] = fig
    print(table(rows, f"DaemonSet sync benchmark ({'quick' if q else 'full'}; steady state, "
                      "one object replaced per sync)"))
    write_json(args.json, res)


if __name__ == "__main__":
    main()
