"""The kubelet shell's pure parts: admission, the node's objects, addressing; and its names."""

import pytest

import actors.kubelet as kubelet
from actors.kubelet import (
    KubeletConfig,
    admit,
    lease_object,
    node_addressing,
    node_object,
    node_status,
    pod_requests,
    status_changed,
)

T0 = 1_767_225_600.0
ALLOC = (4000, 8 * 2**30, 110)


def _pod(cpu=None, memory=None, init_cpu=None, **spec):
    c = {"name": "c", "resources": {"requests": {k: v for k, v in (("cpu", cpu),
                                                                   ("memory", memory)) if v}}}
    s = {"containers": [c], **spec}
    if init_cpu:
        s["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": init_cpu}}}]
    return {"metadata": {"name": "p", "uid": "u"}, "spec": s}


def _admit(pod, admitted=(), labels=None, taints=(), alloc=ALLOC):
    return admit(pod, node="n1", labels=labels or {"kubernetes.io/hostname": "n1"},
                 taints=list(taints), allocatable=alloc, admitted=list(admitted))


def test_requests_count_the_largest_init_container():
    assert pod_requests(_pod(cpu="500m", memory="1Gi")) == (500, 2**30)
    assert pod_requests(_pod(cpu="100m", init_cpu="2")) == (2000, 0)


def test_resources_are_checked_first_with_the_kubelet_s_message():
    r = _admit(_pod(cpu="3"), admitted=[_pod(cpu="1500m")])
    assert (r.reason, r.message) == ("OutOfcpu", "Node didn't have enough resource: cpu, "
                                                 "requested: 3000, used: 1500, capacity: 4000")
    r = _admit(_pod(memory="9Gi"))
    assert r.reason == "OutOfmemory" and "requested: 9663676416" in r.message
    r = _admit(_pod(), admitted=[_pod()] * 2, alloc=(4000, 2**30, 2))
    assert (r.reason, r.message) == ("OutOfpods", "Node didn't have enough resource: pods, "
                                                  "requested: 1, used: 2, capacity: 2")
    assert _admit(_pod(cpu="4")) is None


def test_selectors_affinity_host_ports_and_no_execute_taints():
    assert _admit(_pod(nodeSelector={"disk": "ssd"})).reason == "NodeAffinity"
    assert _admit(_pod(nodeSelector={"disk": "ssd"}), labels={"disk": "ssd"}) is None
    terms = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": ["n2"]}]},
                              {"matchExpressions": [{"key": "zone", "operator": "In",
                                                     "values": ["a"]}]}]}}}
    assert _admit(_pod(affinity=terms)).message == "Predicate NodeAffinity failed"
    assert _admit(_pod(affinity=terms), labels={"zone": "a"}) is None
    ported = {"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}
    with_port = {"metadata": {"name": "x"}, "spec": {"containers": [ported]}}
    assert _admit(with_port, admitted=[with_port]).reason == "NodePorts"
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert _admit(_pod(), taints=[taint]).reason == "TaintToleration"
    assert _admit(_pod(tolerations=[{"key": "k", "operator": "Exists"}]), taints=[taint]) is None
    assert _admit(_pod(), taints=[{**taint, "effect": "NoSchedule"}]) is None  # not the kubelet's


def _cfg(**kw):
    return KubeletConfig(node="n1", node_ip="192.168.49.2", pod_cidr="10.244.0.0/24",
                         apiservers=("kube-apiserver-0",), token="t", **kw)


def test_node_status_keeps_transition_times_and_ignores_heartbeats():
    first = node_status(_cfg(), now=T0, ready=False)
    ready = {c["type"]: c for c in first["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")
    later = node_status(_cfg(), now=T0 + 10, ready=False, old=first)
    assert not status_changed(first, later)  # only heartbeats moved
    assert later["conditions"][0]["lastHeartbeatTime"] != first["conditions"][0][
        "lastHeartbeatTime"]
    up = node_status(_cfg(), now=T0 + 20, ready=True, old=later)
    assert status_changed(later, up)
    conds = {c["type"]: c for c in up["conditions"]}
    assert conds["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:20Z"
    assert conds["MemoryPressure"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"


def test_node_object_and_lease():
    node = node_object(_cfg(control_plane=True, minikube=True, labels={"a": "b"},
                            taints=({"key": "x", "effect": "NoSchedule"},)),
                       now=T0, ready=True, pod_cidr="10.244.0.0/24",
                       images=[("docker.io/library/nginx:latest", 10)],
                       image_ids={"docker.io/library/nginx:latest": "docker.io/library/nginx@sha"})
    labels = node["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == "" and labels["a"] == "b"
    assert labels["minikube.k8s.io/primary"] == "true"
    assert node["spec"] == {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"],
                            "taints": [{"key": "x", "effect": "NoSchedule"}]}
    assert node["status"]["images"] == [{"names": ["docker.io/library/nginx@sha",
                                                   "docker.io/library/nginx:latest"],
                                         "sizeBytes": 10}]
    lease = lease_object("n1", "uid-1", now=T0 + 1.5, duration=40)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["spec"] == {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:01.500000Z"}
    assert _cfg().lease_renew == 10.0


def test_node_addressing():
    assert node_addressing(0, 3) == ("192.168.49.2", "10.244.0.0/24", "192.168.49.0/24",
                                     "10.244.0.0/16")
    assert node_addressing(2, 3)[:2] == ("192.168.49.4", "10.244.2.0/24")
    ip, cidr, underlay, cluster = node_addressing(999, 1000)
    assert (ip, cidr, underlay, cluster) == ("192.168.52.233", "10.131.231.0/24",
                                             "192.168.0.0/16", "10.128.0.0/9")
    with pytest.raises(ValueError):
        node_addressing(70000, 70001)


def test_the_shell_s_names_are_importable_from_the_package():
    for name in ("Kubelet", "KubeletConfig", "NodeHost", "PodManager", "PodNetwork",
                 "PodRequest", "RequestFailed", "StatusWriter", "KubeletEventRecorder",
                 "admit", "pod_request", "node_object", "node_status", "lease_object"):
        assert hasattr(kubelet, name), name
