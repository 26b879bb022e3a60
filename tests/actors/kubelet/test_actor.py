"""The kubelet actor through the Python API: node registration, lease, pods end to end.

Clusters run without scheduler and controller manager: pods are bound with ``spec.nodeName``,
as a user can, so the kubelet is what is under test.
"""

from ipaddress import IPv4Address, IPv4Network

import pytest

from actors import ClusterSpec, NodeSpec, simulate
from actors.client import parse_time
from actors.cluster import _components, register_component
from actors.kubelet._component import FABRIC_KEY, HOSTS_KEY

TWO = ClusterSpec(schedulers=0, controller_managers=0,
                  nodes=[NodeSpec("node-1"), NodeSpec("node-2")])


def pod(name, node, image="nginx", **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": name.split("-")[0],
                                                       "image": image}], **spec}}


def phase(cluster, name):
    return cluster.get("pods", name)["status"].get("phase")


def events(cluster, name, namespace="default"):
    items = [e for e in cluster.list("events", namespace)["items"]
             if e["involvedObject"]["name"] == name]
    return sorted(items, key=lambda e: e["metadata"]["name"])  # <name>.<nanoseconds in hex>


def test_the_node_registers_with_its_spec():
    spec = ClusterSpec(schedulers=0, controller_managers=0, nodes=[NodeSpec(
        "minikube", cpu="2", memory="4Gi", pods=50, labels={"disk": "ssd"},
        taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])])
    with simulate(spec, seed=1) as cluster:
        cluster.run_until(lambda c: c.list("nodes")["items"], timeout=10)
        node = cluster.get("nodes", "minikube", None)
        labels = node["metadata"]["labels"]
        assert {k: labels[k] for k in ("kubernetes.io/hostname", "kubernetes.io/os",
                                       "kubernetes.io/arch", "disk")} == {
            "kubernetes.io/hostname": "minikube", "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "disk": "ssd"}
        assert labels["node-role.kubernetes.io/control-plane"] == ""
        assert node["spec"]["taints"] == [{"key": "dedicated", "value": "db",
                                           "effect": "NoSchedule"}]
        assert node["spec"]["podCIDR"] == "10.244.0.0/24"
        status = node["status"]
        for field in ("capacity", "allocatable"):
            assert {k: status[field][k] for k in ("cpu", "memory", "pods")} == {
                "cpu": "2", "memory": "4Gi", "pods": "50"}
            assert "ephemeral-storage" in status[field]
        assert status["addresses"] == [{"type": "InternalIP", "address": "192.168.49.2"},
                                       {"type": "Hostname", "address": "minikube"}]
        conds = {c["type"]: c for c in status["conditions"]}
        assert list(conds) == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) \
            == ("True", "KubeletReady", "kubelet is posting ready status")
        assert conds["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
        info = status["nodeInfo"]
        assert info["containerRuntimeVersion"].startswith("containerd://1.7.")
        assert info["kubeletVersion"].startswith("v1.")
        assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
        assert info["osImage"] and info["kernelVersion"]
        assert any("registry.k8s.io/pause:3.9" in i["names"] for i in status["images"])
        reasons = [e["reason"] for e in events(cluster, "minikube")]
        assert reasons[:2] == ["Starting", "NodeAllocatableEnforced"]
        assert "NodeReady" in reasons


def test_the_lease_is_renewed_every_ten_seconds():
    with simulate(TWO, seed=2) as cluster:
        cluster.run_until(lambda c: len(c.list("leases", "kube-node-lease")["items"]) == 2,
                          timeout=10)
        seen = []
        for _ in range(4):
            lease = cluster.get("leases", "node-1", "kube-node-lease")
            seen.append(parse_time(lease["spec"]["renewTime"]))
            cluster.advance(10)
        assert [round(b - a, 3) for a, b in zip(seen, seen[1:])] == [10.0, 10.0, 10.0]
        assert lease["spec"]["holderIdentity"] == "node-1"
        assert lease["spec"]["leaseDurationSeconds"] == 40
        owner = lease["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == (
            "Node", cluster.get("nodes", "node-1", None)["metadata"]["uid"])


def test_a_pod_runs_with_an_ip_from_its_nodes_pod_cidr():
    with simulate(TWO, seed=3) as cluster:
        cluster.create(pod("nginx", "node-2"))
        cluster.run_until(lambda c: phase(c, "nginx") == "Running", timeout=30)
        status = cluster.get("pods", "nginx")["status"]
        cidr = cluster.get("nodes", "node-2", None)["spec"]["podCIDR"]
        assert IPv4Address(status["podIP"]) in IPv4Network(cidr)
        assert status["hostIP"] == "192.168.49.3"
        ready = {c["type"]: c["status"] for c in status["conditions"]}
        assert ready["Ready"] == "True"
        evs = events(cluster, "nginx")
        assert [e["reason"] for e in evs] == ["Pulling", "Pulled", "Created", "Started"]
        assert all(e["source"] == {"component": "kubelet", "host": "node-2"} for e in evs)
        assert evs[0]["involvedObject"]["fieldPath"] == "spec.containers{nginx}"
        assert evs[0]["message"] == 'Pulling image "nginx"'


def test_a_misspelt_image_fails_to_pull_then_backs_off():
    with simulate(TWO, seed=4) as cluster:
        w = cluster.watch("pods", "default")
        cluster.create(pod("nginx", "node-1", image="ningx"))
        cluster.advance(35)
        shown = []
        for ev in w.drain():
            for cs in ev["object"]["status"].get("containerStatuses") or []:
                reason = cs["state"].get("waiting", {}).get("reason")
                if reason and (not shown or shown[-1] != reason):
                    shown.append(reason)
        assert shown[:4] == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff",
                             "ErrImagePull"]
        evs = events(cluster, "nginx")
        assert [(e["type"], e["reason"]) for e in evs[:3]] == [
            ("Normal", "Pulling"), ("Warning", "Failed"), ("Warning", "Failed")]
        assert evs[1]["message"].startswith('Failed to pull image "ningx": ')
        assert evs[2]["message"] == "Error: ErrImagePull"
        backoff = [e for e in evs if e["reason"] == "BackOff"]
        assert backoff and backoff[0]["message"] == 'Back-off pulling image "ningx"'
        assert "Error: ImagePullBackOff" in [e["message"] for e in evs]
        assert [e["count"] for e in evs if e["reason"] == "Pulling"] == [3]  # de-duplicated
        assert cluster.get("pods", "nginx")["status"]["phase"] == "Pending"


def test_deletion_is_graceful_then_the_pod_disappears():
    with simulate(TWO, seed=5) as cluster:
        cluster.create(pod("nginx", "node-1"))
        cluster.run_until(lambda c: phase(c, "nginx") == "Running", timeout=30)
        ip = cluster.get("pods", "nginx")["status"]["podIP"]
        fabric = cluster._ctx.extra[FABRIC_KEY]
        assert fabric.owner_of(ip) is not None
        cluster.delete("pods", "nginx")
        assert cluster.get("pods", "nginx")["metadata"]["deletionTimestamp"]  # still there
        took = cluster.run_until(lambda c: not c.list("pods", "default")["items"], timeout=40)
        assert took < 5  # nginx quits on SIGQUIT at once; far below the 30 s grace period
        assert fabric.owner_of(ip) is None  # CNI DEL: the address is free again
        assert "Killing" in [e["reason"] for e in events(cluster, "nginx")]
        host = cluster._ctx.extra[HOSTS_KEY]["node-1"]
        uid = [u for u, wk in host.workers.items() if wk.name == "nginx"]
        assert uid == [] and all(sb.name != "nginx" for sb in host.runtime.list_sandboxes())


def test_a_force_deleted_pod_is_still_stopped_on_the_node():
    with simulate(TWO, seed=6) as cluster:
        cluster.create(pod("kubia", "node-1", image="kubia"))  # ignores SIGTERM
        cluster.run_until(lambda c: phase(c, "kubia") == "Running", timeout=30)
        host = cluster._ctx.extra[HOSTS_KEY]["node-1"]
        cluster.delete("pods", "kubia", grace_period_seconds=0)
        assert cluster.list("pods", "default")["items"] == []
        ip = [sb for sb in host.runtime.list_sandboxes() if sb.name == "kubia"][0].ip
        cluster.advance(3)  # SIGKILL after the 2 s minimum grace period
        assert all(wk.name != "kubia" for wk in host.workers.values())
        assert cluster._ctx.extra[FABRIC_KEY].owner_of(ip) is None


def test_admission_rejects_what_does_not_fit():
    with simulate(TWO, seed=7) as cluster:
        big = pod("big", "node-1")
        big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "8"}}
        cluster.create(big)
        cluster.create(pod("picky", "node-1", nodeSelector={"disk": "ssd"}))
        cluster.run_until(lambda c: phase(c, "big") == "Failed" and phase(c, "picky")
                          == "Failed", timeout=10)
        status = cluster.get("pods", "big")["status"]
        assert (status["reason"], status["message"]) == (
            "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, "
                        "requested: 8000, used: 0, capacity: 4000")
        status = cluster.get("pods", "picky")["status"]
        assert (status["reason"], status["message"]) == (
            "NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed")
        cluster.advance(1)
        assert [(e["type"], e["reason"]) for e in events(cluster, "big")] == [
            ("Warning", "OutOfcpu")]
        cluster.create(pod("fits", "node-1"))  # the rejected pods hold no resources
        cluster.run_until(lambda c: phase(c, "fits") == "Running", timeout=30)
        cluster.delete("pods", "big")  # graceful, but nothing runs: gone at once
        cluster.run_until(lambda c: "big" not in [p["metadata"]["name"] for p in c.list(
            "pods", "default")["items"]], timeout=5)


def test_a_host_network_pod_gets_the_node_address():
    with simulate(TWO, seed=8) as cluster:
        cluster.create(pod("hostnet", "node-2", image="kubia", hostNetwork=True))
        cluster.run_until(lambda c: phase(c, "hostnet") == "Running", timeout=30)
        assert cluster.get("pods", "hostnet")["status"]["podIP"] == "192.168.49.3"


def test_the_kubelet_stops_when_its_node_is_deleted():
    with simulate(TWO, seed=9) as cluster:
        cluster.run_until(lambda c: len(c.list("nodes")["items"]) == 2, timeout=10)
        cluster.delete("nodes", "node-2")
        cluster.advance(1)
        assert cluster.sim.system.status("kubelet/node-2") == "stopped"
        assert cluster.sim.system.status("kubelet/node-1") == "running"


def test_a_restarted_kubelet_keeps_its_containers_running():
    with simulate(TWO, seed=10) as cluster:
        cluster.create(pod("nginx", "node-1"))
        cluster.run_until(lambda c: phase(c, "nginx") == "Running", timeout=30)
        before = cluster.get("pods", "nginx")["status"]["containerStatuses"][0]
        cluster.crash("kubelet/node-1")
        cluster.advance(5)
        cluster.restart("kubelet/node-1")
        cluster.advance(15)
        after = cluster.get("pods", "nginx")["status"]["containerStatuses"][0]
        assert after["containerID"] == before["containerID"]
        assert after["restartCount"] == 0
        lease = cluster.get("leases", "node-1", "kube-node-lease")
        assert parse_time(lease["spec"]["renewTime"]) > 1_767_225_600 + cluster.now - 11


@pytest.fixture
def with_controller_manager(monkeypatch):
    """A controller manager is registered, but it runs nothing (no node IPAM controller)."""
    monkeypatch.setattr(_components, "_REGISTRY", dict(_components._REGISTRY))
    register_component("kube-controller-manager", lambda ctx: [])


def test_with_a_controller_manager_the_kubelet_waits_for_node_ipam(with_controller_manager):
    spec = ClusterSpec(schedulers=0, controller_managers=1,
                       nodes=[NodeSpec("node-1"), NodeSpec("node-2")])
    with simulate(spec, seed=12) as cluster:
        cluster.run_until(lambda c: len(c.list("nodes")["items"]) == 2, timeout=10)
        assert "podCIDR" not in cluster.get("nodes", "node-1", None)["spec"]
        cluster.create(pod("nginx", "node-1"))
        # the "node IPAM controller" (the test) assigns node-1 a CIDR; node-2 gets none
        cluster.patch("nodes", "node-1", {"spec": {"podCIDR": "10.244.7.0/24",
                                                   "podCIDRs": ["10.244.7.0/24"]}}, None)
        cluster.run_until(lambda c: phase(c, "nginx") == "Running", timeout=30)
        ip = IPv4Address(cluster.get("pods", "nginx")["status"]["podIP"])
        assert ip in IPv4Network("10.244.7.0/24")
        cluster.advance(30)  # a real kubelet never assigns itself one: node-2 waits
        node2 = cluster.get("nodes", "node-2", None)
        assert "podCIDR" not in node2["spec"]
        ready = [c for c in node2["status"]["conditions"] if c["type"] == "Ready"][0]
        assert ready["status"] == "False"
        cluster.patch("nodes", "node-2", {"spec": {"podCIDR": "10.244.8.0/24",
                                                   "podCIDRs": ["10.244.8.0/24"]}}, None)
        cluster.run_until(lambda c: [x for x in c.get("nodes", "node-2", None)["status"][
            "conditions"] if x["type"] == "Ready"][0]["status"] == "True", timeout=30)


def test_pods_wait_for_the_network_with_one_warning(with_controller_manager):
    spec = ClusterSpec(schedulers=0, controller_managers=1, nodes=[NodeSpec("node-1")])
    with simulate(spec, seed=13) as cluster:
        cluster.run_until(lambda c: c.list("nodes")["items"], timeout=10)
        ready = [c for c in cluster.get("nodes", "node-1", None)["status"]["conditions"]
                 if c["type"] == "Ready"][0]
        assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")
        cluster.create(pod("nginx", "node-1"))
        cluster.advance(3)
        assert [e["reason"] for e in events(cluster, "nginx")] == ["NetworkNotReady"]
        cluster.advance(10)
        assert [e["reason"] for e in events(cluster, "nginx")] == ["NetworkNotReady"]
        cluster.patch("nodes", "node-1", {"spec": {"podCIDR": "10.244.3.0/24",
                                                   "podCIDRs": ["10.244.3.0/24"]}}, None)
        cluster.run_until(lambda c: phase(c, "nginx") == "Running", timeout=30)
