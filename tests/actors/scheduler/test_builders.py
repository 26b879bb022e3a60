"""Builders for Kubernetes objects (plain dicts) used by the scheduler tests, and the
tests of PodInfo/NodeInfo conversion itself."""

from __future__ import annotations

from typing import Any

from actors.scheduler import PodInfo, Snapshot
from actors.scheduler._types import NodeInfo

FOO_EXISTS = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR_EXISTS = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}


def make_node(name: str, *, cpu: str | None = "4", memory: str | None = "8Gi",
              pods: str | None = "110", labels: dict[str, str] | None = None,
              taints: list[dict[str, str]] | None = None, unschedulable: bool = False,
              images: list[tuple[list[str], int]] | None = None,
              extra: dict[str, str] | None = None, hostname: bool = True) -> dict[str, Any]:
    alloc = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("pods", pods)) if v}
    alloc.update(extra or {})
    lab = {"kubernetes.io/hostname": name} if hostname else {}
    lab.update(labels or {})
    node: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": lab},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": dict(alloc)},
    }
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    if images:
        node["status"]["images"] = [{"names": n, "sizeBytes": s} for n, s in images]
    return node


def make_pod(name: str, *, ns: str = "default", requests: list[dict[str, str]] | None = None,
             cpu: str | None = None, memory: str | None = None,
             init: list[dict[str, Any]] | None = None, node: str | None = None,
             priority: int = 0, labels: dict[str, str] | None = None,
             tolerations: list[dict[str, str]] | None = None,
             affinity: dict[str, Any] | None = None,
             spread: list[dict[str, Any]] | None = None,
             node_selector: dict[str, str] | None = None,
             host_ports: list[int] | None = None, images: list[str] | None = None,
             overhead: dict[str, str] | None = None, start_time: str | None = None,
             owner: tuple[str, str] | None = None, terminating: bool = False,
             preemption_policy: str | None = None, gates: list[str] | None = None,
             no_containers: bool = False) -> dict[str, Any]:
    """A pod; ``requests`` gives one container per entry, else ``cpu``/``memory``."""
    if requests is None:
        one = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
        requests = [] if no_containers else [one]
    containers = []
    for i, req in enumerate(requests):
        c: dict[str, Any] = {"name": f"c{i}", "image": (images or ["nginx"])[min(
            i, len(images or ["nginx"]) - 1)]}
        if req:
            c["resources"] = {"requests": req}
        containers.append(c)
    if host_ports and containers:
        containers[0]["ports"] = [{"containerPort": p, "hostPort": p} for p in host_ports]
    spec: dict[str, Any] = {"containers": containers, "priority": priority}
    for key, value in (("initContainers", init), ("nodeName", node),
                       ("tolerations", tolerations), ("affinity", affinity),
                       ("topologySpreadConstraints", spread), ("nodeSelector", node_selector),
                       ("overhead", overhead), ("preemptionPolicy", preemption_policy)):
        if value is not None:
            spec[key] = value
    if gates:
        spec["schedulingGates"] = [{"name": g} for g in gates]
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}",
                            "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0],
                                    "name": owner[1], "uid": "o", "controller": True}]
    if terminating:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {}}
    if start_time:
        pod["status"]["startTime"] = start_time
    return pod


def pi(pod: dict[str, Any]) -> PodInfo:
    return PodInfo.from_api(pod)


def snapshot(nodes: list[dict[str, Any]], pods: list[dict[str, Any]] = ()) -> Snapshot:
    return Snapshot.from_objects(nodes, pods)


# -- PodInfo: effective requests ----------------------------------------------------------


def test_requests_sum_containers_and_round_up_once():
    p = pi(make_pod("p", requests=[{"cpu": "100m", "memory": "1Mi"},
                                   {"cpu": "0.25", "memory": "1Ki"}]))
    assert p.requests.milli_cpu == 350
    assert p.requests.memory == 1024 * 1024 + 1024


def test_init_containers_take_the_max():
    # max(sum(app) = 300m, max(init) = 500m) = 500m; memory: max(2Gi... ) as Kubernetes.
    p = pi(make_pod("p", requests=[{"cpu": "100m"}, {"cpu": "200m", "memory": "1Gi"}],
                    init=[{"name": "i1", "resources": {"requests": {"cpu": "500m"}}},
                          {"name": "i2", "resources": {"requests": {"memory": "2Gi"}}}]))
    assert p.requests.milli_cpu == 500
    assert p.requests.memory == 2 * 1024**3


def test_sidecars_add_to_the_pod_and_to_later_init_containers():
    p = pi(make_pod("p", requests=[{"cpu": "100m"}],
                    init=[{"name": "side", "restartPolicy": "Always",
                           "resources": {"requests": {"cpu": "200m"}}},
                          {"name": "i", "resources": {"requests": {"cpu": "250m"}}}]))
    # app + sidecar = 300m; init i runs beside the sidecar: 450m.
    assert p.requests.milli_cpu == 450


def test_overhead_is_added():
    p = pi(make_pod("p", cpu="1", memory="1Gi", overhead={"cpu": "250m", "memory": "120Mi"}))
    assert p.requests.milli_cpu == 1250
    assert p.requests.memory == 1024**3 + 120 * 1024**2


def test_non_zero_defaults_apply_per_container_with_nothing_stated():
    p = pi(make_pod("p", requests=[{}, {"cpu": "300m"}, {"memory": "0"}]))
    assert p.requests.milli_cpu == 300 and p.requests.memory == 0
    assert p.non0_cpu == 100 + 300 + 100
    assert p.non0_mem == 200 * 1024**2 * 2  # explicit "0" memory stays 0


def test_scalar_resources_and_pods_allocatable():
    n = NodeInfo(make_node("n", extra={"nvidia.com/gpu": "2", "hugepages-2Mi": "1Gi"}))
    assert n.allocatable.scalar == {"nvidia.com/gpu": 2, "hugepages-2Mi": 1024**3}
    assert n.allocatable.allowed_pod_number == 110
    assert n.allocatable.milli_cpu == 4000


def test_node_info_accounts_and_unaccounts_pods():
    n = NodeInfo(make_node("n"))
    a = pi(make_pod("a", cpu="1", node="n", host_ports=[80]))
    n.add_pod(a)
    assert (n.req_cpu, n.non0_mem, n.used_ports) == (1000, 200 * 1024**2,
                                                      {"0.0.0.0": {("TCP", 80)}})
    assert n.remove_pod(a) and n.req_cpu == 0 and n.used_ports == {"0.0.0.0": set()}
    assert not n.remove_pod(a)


def test_assumed_copy_leaves_the_original_alone():
    raw = make_pod("a", cpu="1")
    p = pi(raw)
    q = p.with_node_name("n1")
    assert q.node_name == "n1" and q.pod["spec"]["nodeName"] == "n1"
    assert "nodeName" not in raw["spec"] and p.node_name == ""


def test_snapshot_image_states_count_nodes():
    snap = snapshot([make_node("a", images=[(["img:1"], 100)]),
                     make_node("b", images=[(["img:1", "other:2"], 100)])])
    assert snap.get("a").image_states["img:1"].num_nodes == 2
    assert snap.get("b").image_states["other:2"].num_nodes == 1
