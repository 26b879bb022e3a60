"""The container runtime: sandboxes, container lifecycle, signals, OOM, sockets via netsim."""

import re

import pytest

from actors.kubelet import (
    CONTAINER_CREATED,
    CONTAINER_EXITED,
    CONTAINER_RUNNING,
    SANDBOX_NOTREADY,
    SANDBOX_READY,
    ContainerRuntime,
    ImageCache,
    ImageNotPresent,
    NotFound,
    StartFailure,
)
from netsim import Fabric, bridge_network_config, invoke

T0 = 1_700_000_000.0


@pytest.fixture
def rt():
    images = ImageCache(preloaded=["registry.k8s.io/pause:3.9", "nginx", "busybox", "kubia",
                                   "polinux/stress"])
    return ContainerRuntime("minikube", images)


def sandbox(rt, name="web", ip="10.244.0.5", **kw):
    sid = rt.run_pod_sandbox(f"uid-{name}", name, "default", now=T0)
    rt.attach_network(sid, ip, **kw)
    return sid


def run(rt, sid, image, *, command=None, name="app", **kw):
    cid = rt.create_container(sid, name, image, now=T0, command=command, **kw)
    rt.start_container(cid, T0)
    return cid


def test_ids_look_like_containerds_and_are_deterministic(rt):
    sid = sandbox(rt)
    cid = run(rt, sid, "nginx")
    assert re.fullmatch(r"[0-9a-f]{64}", sid) and re.fullmatch(r"[0-9a-f]{64}", cid)
    assert rt.container_status(cid).uri == f"containerd://{cid}"
    other = ContainerRuntime("minikube", ImageCache(preloaded=["registry.k8s.io/pause:3.9",
                                                               "nginx"]))
    assert sandbox(other) == sid and run(other, sid, "nginx") == cid
    assert re.fullmatch(r"cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        rt.sandbox_status(sid).netns)


def test_sandbox_lifecycle(rt):
    sid = rt.run_pod_sandbox("uid-1", "web", "default", now=T0, attempt=2)
    st = rt.sandbox_status(sid)
    assert (st.state, st.network_ready, st.attempt) == (SANDBOX_READY, False, 2)
    rt.attach_network(sid, "10.244.0.9")
    assert rt.sandbox_status(sid).ip == "10.244.0.9"
    cid = run(rt, sid, "nginx")
    rt.stop_pod_sandbox(sid, T0 + 1)
    assert rt.sandbox_status(sid).state == SANDBOX_NOTREADY
    assert rt.container_status(cid).exit_code == 137
    assert rt.list_sandboxes("uid-1")[0].id == sid
    rt.remove_pod_sandbox(sid)
    with pytest.raises(NotFound):
        rt.container_status(cid)


def test_create_needs_the_image_on_the_node(rt):
    sid = sandbox(rt)
    with pytest.raises(ImageNotPresent):
        rt.create_container(sid, "app", "redis", now=T0)


def test_a_script_runs_in_virtual_time(rt):
    sid = sandbox(rt)
    cid = rt.create_container(sid, "app", "busybox", now=T0,
                              command=["sh", "-c", "echo hi; sleep 5; echo bye; exit 3"])
    assert rt.container_status(cid).state == CONTAINER_CREATED
    rt.start_container(cid, T0)
    assert rt.container_status(cid).state == CONTAINER_RUNNING
    assert rt.next_event_time() == T0 + 5
    assert rt.advance(T0 + 4.9) == []
    [done] = rt.advance(T0 + 5)
    assert (done.state, done.exit_code, done.reason) == (CONTAINER_EXITED, 3, "Error")
    assert (done.started_at, done.finished_at) == (T0, T0 + 5)
    assert rt.logs(cid) == ["hi", "bye"]
    assert rt.logs(cid, timestamps=True)[1] == "2023-11-14T22:13:25.000000000Z bye"
    assert rt.next_event_time() is None


def test_exit_zero_is_completed_and_restarts_are_new_containers(rt):
    sid = sandbox(rt)
    first = run(rt, sid, "busybox", command=["true"])
    assert rt.container_status(first).reason == "Completed"
    second = rt.create_container(sid, "app", "busybox", now=T0 + 1, attempt=1)
    assert second != first and rt.container_status(second).attempt == 1
    assert [s.id for s in rt.list_containers(pod_uid="uid-web", name="app")] == [second, first]


def test_stop_honours_the_apps_signal_handling(rt):
    sid = sandbox(rt)
    nginx = run(rt, sid, "nginx", name="nginx")
    sleeper = run(rt, sid, "busybox", name="sleeper", command=["sleep", "3600"])
    trapper = run(rt, sid, "busybox", name="trap",
                  command=["sh", "-c", "trap 'exit 0' TERM; sleep 3600"])
    assert rt.stop_container(nginx, 30, T0 + 10) == pytest.approx(T0 + 10.1)  # SIGQUIT: graceful
    assert rt.stop_container(sleeper, 30, T0 + 10) == T0 + 40  # PID 1 ignores SIGTERM
    assert rt.stop_container(trapper, 30, T0 + 10) == T0 + 10
    rt.advance(T0 + 40)
    assert [(rt.container_status(c).exit_code, rt.container_status(c).reason)
            for c in (nginx, sleeper, trapper)] == [(0, "Completed"), (137, "Error"),
                                                    (0, "Completed")]
    assert rt.stop_container(nginx, 30, T0 + 50) == pytest.approx(T0 + 10.1)  # already exited


def test_memory_over_the_limit_is_oomkilled(rt):
    sid = sandbox(rt)
    cid = run(rt, sid, "polinux/stress", command=["stress"],
              args=["--vm", "1", "--vm-bytes", "250M"], memory_limit=100 * 2**20)
    rt.advance(T0 + 1)
    st = rt.container_status(cid)
    assert (st.exit_code, st.reason, st.finished_at) == (137, "OOMKilled", T0 + 0.5)
    ok = run(rt, sid, "polinux/stress", name="ok", command=["stress"],
             args=["--vm-bytes", "50M"], memory_limit=100 * 2**20)
    rt.advance(T0 + 10)
    assert rt.container_status(ok).state == CONTAINER_RUNNING


def test_a_missing_executable_fails_to_start(rt):
    sid = sandbox(rt)
    cid = rt.create_container(sid, "app", "busybox", now=T0, command=["foo"])
    with pytest.raises(StartFailure):
        rt.start_container(cid, T0)
    st = rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason, st.started_at) == (CONTAINER_EXITED, 128,
                                                                  "StartError", 0.0)
    assert "executable file not found in $PATH" in st.message


def test_one_port_one_listener(rt):
    sid = sandbox(rt)
    first = run(rt, sid, "nginx", name="a")
    second = run(rt, sid, "nginx", name="b")
    assert rt.listener(sid, 80) == first
    st = rt.container_status(second)
    assert (st.state, st.exit_code) == (CONTAINER_EXITED, 1)
    assert rt.logs(second)[-1] == "bind() to 0.0.0.0:80 failed (98: Address in use)"
    rt.stop_container(first, 30, T0 + 1)
    rt.advance(T0 + 2)
    assert rt.listener(sid, 80) is None


def test_exec_and_http_against_the_app(rt):
    sid = sandbox(rt)
    cid = run(rt, sid, "nginx")
    assert rt.exec_sync(cid, ["nginx", "-t"], timeout=1, now=T0).exit_code == 0
    assert rt.http_get(sid, 80, "/", now=T0).status == 200
    assert rt.http_get(sid, 8080, "/", now=T0) is None


def test_pods_answer_through_the_simulated_network(rt):
    fabric = Fabric()
    fabric.add_node("minikube", "192.168.49.2", "10.244.0.0/24")
    fabric.add_node("m02", "192.168.49.3", "10.244.1.0/24")

    def wire(name, node):
        sid = rt.run_pod_sandbox(f"uid-{name}", name, "default", now=T0)
        netns = rt.sandbox_status(sid).netns
        ns = fabric.create_netns(node, netns)
        result = invoke("bridge", "ADD", fabric=fabric, container_id=sid, netns=ns.path,
                        ifname="eth0", config=bridge_network_config("10.244.0.0/16"))
        ip = result["ips"][0]["address"].split("/")[0]
        rt.attach_network(sid, ip, listen=ns.listen, unlisten=ns.unlisten)
        return sid, ns, ip

    web, _, web_ip = wire("kubia-x7k2p", "minikube")
    cid = run(rt, web, "kubia")
    client_sid, client_ns, client_ip = wire("client", "m02")
    reply, forward, _ = fabric.request(client_ns, web_ip, 8080, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert forward.delivered
    assert reply.endswith(f"You've hit kubia-x7k2p\nClient address: {client_ip}\n".encode())
    assert rt.logs(cid)[-1] == f"Received request from ::ffff:{client_ip}"  # no NAT
    nginx = run(rt, client_sid, "nginx", name="nginx")
    reply, _, _ = fabric.request(fabric.node("minikube").host, client_ip, 80,
                                 b"GET / HTTP/1.1\r\n\r\n")
    assert b"Welcome to nginx!" in reply
    rt.stop_container(nginx, 30, T0 + 1)
    rt.advance(T0 + 2)
    assert client_ns.listening() == ()


def test_host_network_pods_share_the_nodes_ports(rt):
    fabric = Fabric()
    host = fabric.add_node("minikube", "192.168.49.2", "10.244.0.0/24").host
    first = rt.run_pod_sandbox("uid-a", "etcd-minikube", "kube-system", now=T0, host_network=True)
    second = rt.run_pod_sandbox("uid-b", "nginx-host", "default", now=T0, host_network=True)
    for sid in (first, second):
        assert rt.sandbox_status(sid).host_network
        rt.attach_network(sid, "192.168.49.2", listen=host.listen, unlisten=host.unlisten)
    a = run(rt, first, "nginx", name="a")
    b = run(rt, second, "nginx", name="b")
    assert rt.container_status(a).state == CONTAINER_RUNNING
    assert rt.container_status(b).exit_code == 1  # 0.0.0.0:80 is the first pod's
    assert (80, "TCP") in host.listening()
