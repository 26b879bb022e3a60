"""Forwarding: the seed's packet paths, drops and their reasons, ARP, latency, cuts, nodes."""

from ipaddress import IPv4Address

import pytest

from netsim import (
    AddressConflict,
    DeviceExists,
    Fabric,
    Packet,
    UnknownNamespace,
    bridge_network_config,
    invoke,
    path_str,
    veth_name,
)

CONF = bridge_network_config("10.244.0.0/16")
ROUTED = {
    "cniVersion": "1.0.0",
    "name": "routed-net",
    "type": "routed",
    "ipam": {"type": "host-local", "subnet": "10.244.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]},
}


def two_nodes(**kw) -> Fabric:
    fabric = Fabric(**kw)
    fabric.add_node("node-1", "192.168.49.2", "10.244.1.0/24")
    fabric.add_node("node-2", "192.168.49.3", "10.244.2.0/24")
    return fabric


def pod(fabric: Fabric, node: str, name: str, conf=CONF):
    ns = fabric.create_netns(node, name)
    result = invoke(
        conf["type"],
        "ADD",
        fabric=fabric,
        container_id=f"cid-{name}",
        netns=ns.path,
        ifname="eth0",
        config=conf,
    )
    return ns, result["ips"][0]["address"].split("/")[0]


def echo(ns, port=8080):
    ns.listen(port, "TCP", lambda p: b"from " + ns.name.encode() + b" to " + p.src_ip.encode())


def test_add_node_builds_host_namespace_bridge_and_routes():
    fabric = two_nodes()
    node = fabric.node("node-1")
    host = node.host
    assert host.interface("eth0").primary == IPv4Address("192.168.49.2")
    assert [str(a) for a in host.interface("cni0").addresses] == ["10.244.1.1/24"]
    routes = {(r.dst, r.dev, r.via) for r in host.routes.routes()}
    assert routes == {
        ("10.244.1.0/24", "cni0", ""),
        ("10.244.2.0/24", "eth0", "192.168.49.3"),
        ("192.168.49.0/24", "eth0", ""),
    }
    fabric.add_node("node-3", "192.168.49.4", "10.244.3.0/24")
    assert host.routes.lookup("10.244.3.9").via == "192.168.49.4"
    assert fabric.node("node-3").host.routes.lookup("10.244.1.9").via == "192.168.49.2"


def test_add_node_refuses_conflicts():
    fabric = two_nodes()
    with pytest.raises(DeviceExists):
        fabric.add_node("node-1", "192.168.49.9", "10.244.9.0/24")
    with pytest.raises(AddressConflict):
        fabric.add_node("node-3", "192.168.49.2", "10.244.3.0/24")
    with pytest.raises(AddressConflict):
        fabric.add_node("node-3", "192.168.49.4", "10.244.1.0/25")
    with pytest.raises(AddressConflict):
        fabric.add_node("node-3", "10.0.0.4", "10.244.3.0/24")


def test_cross_node_path_is_the_seeds():
    fabric = two_nodes()
    a, a_ip = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    echo(b)
    reply, forward, back = fabric.request(a, b_ip, 8080, b"hello")
    va, vb = veth_name("cid-A"), veth_name("cid-B")
    assert path_str(forward) == (
        f"pod A eth0 → {va} (node-1) → cni0 gateway (node-1) → node-1 eth0 → node-2 eth0 → "
        f"cni0 gateway (node-2) → {vb} (node-2) → pod B eth0"
    )
    assert path_str(back) == (
        f"pod B eth0 → {vb} (node-2) → cni0 gateway (node-2) → node-2 eth0 → node-1 eth0 → "
        f"cni0 gateway (node-1) → {va} (node-1) → pod A eth0"
    )
    assert reply == f"from B to {a_ip}".encode()
    assert forward.delivered and forward.reason == ""
    # No NAT between pods: B sees A's own address.
    assert forward.packet_at_destination.src_ip == a_ip
    assert all(hop.src == a_ip and hop.dst == b_ip for hop in forward.path)


def test_same_node_path_is_switched_by_the_bridge():
    fabric = two_nodes()
    a, _ = pod(fabric, "node-1", "A")
    c, c_ip = pod(fabric, "node-1", "C")
    echo(c)
    _, forward, _ = fabric.request(a, c_ip, 8080)
    va, vc = veth_name("cid-A"), veth_name("cid-C")
    assert (
        path_str(forward)
        == f"pod A eth0 → {va} (node-1) → cni0 bridge (node-1) → {vc} (node-1) → pod C eth0"
    )
    # Switched, not routed: the TTL is untouched.
    assert forward.packet_at_destination.ttl == 64


def test_ttl_is_decremented_per_routing_namespace_and_expires():
    fabric = two_nodes()
    a, a_ip = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    echo(b)
    arrived = fabric.send(a, Packet(a_ip, 40000, b_ip, 8080, "TCP", b"x", ttl=64))
    assert arrived.packet_at_destination.ttl == 62  # node-1 and node-2 each routed it
    dropped = fabric.send(a, Packet(a_ip, 40000, b_ip, 8080, "TCP", b"x", ttl=2))
    assert not dropped.delivered and dropped.reason == "ttl exceeded"
    assert dropped.packet_at_destination is None
    assert dropped.path[-1].node == "node-2"
    assert path_str(dropped).endswith("node-2 eth0 ✗ ttl exceeded")


def test_no_route_and_no_neighbour_and_no_listener():
    fabric = two_nodes()
    a, a_ip = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    lost = fabric.send(a, Packet(a_ip, 40000, "10.9.9.9", 80, "TCP"))
    assert (lost.delivered, lost.reason) == (False, "no route to host 10.9.9.9")
    unowned = fabric.send(a, Packet(a_ip, 40000, "10.244.2.77", 80, "TCP"))
    assert unowned.reason == "no route to host 10.244.2.77"  # ARP got no answer on node-2
    refused = fabric.send(a, Packet(a_ip, 40000, b_ip, 81, "TCP"))
    assert refused.reason == "connection refused"
    assert refused.path[-1].namespace == "B"
    empty = fabric.create_netns("node-1", "bare")
    nowhere = fabric.send(empty, Packet("127.0.0.1", 1, b_ip, 80, "UDP"))
    assert nowhere.reason == f"no route to host {b_ip}" and nowhere.path == ()


def test_icmp_echo_and_loopback():
    fabric = two_nodes()
    a, _ = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    reply, forward, back = fabric.request(a, b_ip, 0, b"ping", protocol="ICMP")
    assert reply == b"ping" and back.delivered
    echo(a, 9000)
    reply, forward, _ = fabric.request(a, "127.0.0.1", 9000)
    assert reply == b"from A to 127.0.0.1"
    assert path_str(forward) == "pod A lo"


def test_arp_resolution_happens_once_and_is_recorded():
    fabric = two_nodes()
    a, _ = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    echo(b)
    for _ in range(3):
        fabric.request(a, b_ip, 8080)
    gateway_mac = fabric.node("node-1").host.interface("cni0").mac
    assert [(x.dev, x.ip, x.mac) for x in a.neighbours.exchanges] == [
        ("eth0", "10.244.1.1", gateway_mac)
    ]
    host1 = fabric.node("node-1").host
    asked = [(x.dev, x.ip) for x in host1.neighbours.exchanges]
    assert asked == [("eth0", "192.168.49.3"), ("cni0", "10.244.1.2")]


def test_latency_is_the_sum_of_the_links_crossed():
    fabric = two_nodes(veth_latency_s=1e-5, bridge_latency_s=2e-6, underlay_latency_s=1e-4)
    a, _ = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    c, c_ip = pod(fabric, "node-1", "C")
    echo(b)
    echo(c)
    _, cross, _ = fabric.request(a, b_ip, 8080)
    assert cross.latency_s == pytest.approx(2 * (1e-5 + 2e-6) + 2 * 1e-4)
    _, local, _ = fabric.request(a, c_ip, 8080)
    assert local.latency_s == pytest.approx(2 * 1e-5 + 2 * 2e-6)
    fabric.set_link_latency("node-2", "eth0", 5e-3)
    _, slow, _ = fabric.request(a, b_ip, 8080)
    assert slow.latency_s == pytest.approx(2 * (1e-5 + 2e-6) + 1e-4 + 5e-3)


def test_cut_links_drop_with_a_reason_and_restore_heals():
    fabric = two_nodes()
    fabric.add_node("node-3", "192.168.49.4", "10.244.3.0/24")
    a, a_ip = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    c, c_ip = pod(fabric, "node-3", "C")
    echo(a)
    echo(b)
    echo(c)
    fabric.cut_node("node-1")
    reply, forward, back = fabric.request(a, b_ip, 8080)
    assert (reply, back) == (None, None)
    assert forward.reason == "link cut: node-1 eth0 ↔ underlay"
    assert path_str(forward, notes=False).endswith("node-1 eth0 ✗ link cut: node-1 eth0 ↔ underlay")
    assert fabric.request(b, c_ip, 8080)[0] is not None  # the others still talk
    fabric.restore("node-1")
    assert fabric.request(a, b_ip, 8080)[1].delivered
    fabric.cut("node-1", "node-2")
    assert fabric.request(a, b_ip, 8080)[1].reason == "link cut: node-1 eth0 ↔ node-2 eth0"
    assert fabric.request(b, a_ip, 8080)[1].reason == "link cut: node-2 eth0 ↔ node-1 eth0"
    assert fabric.request(a, c_ip, 8080)[1].delivered
    assert fabric.cuts() == (("node-1", "node-2"),)
    fabric.restore()
    assert fabric.request(a, b_ip, 8080)[1].delivered


def test_a_reply_lost_on_the_way_back_reports_the_return_drop():
    fabric = two_nodes()
    a, _ = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")

    def cut_then_answer(packet):
        fabric.cut("node-1", "node-2")
        return b"too late"

    b.listen(8080, "TCP", cut_then_answer)
    reply, forward, back = fabric.request(a, b_ip, 8080)
    assert forward.delivered and reply is None
    assert back.reason == "link cut: node-2 eth0 ↔ node-1 eth0"


def test_host_to_pod_and_pod_to_node():
    fabric = two_nodes()
    a, a_ip = pod(fabric, "node-1", "A")
    echo(a)
    host2 = fabric.node("node-2").host
    host2.listen(10250, "TCP", lambda p: b"kubelet sees " + p.src_ip.encode())
    reply, forward, _ = fabric.request("node-1", a_ip, 8080)
    assert reply == b"from A to 10.244.1.1"  # the host speaks from cni0's address
    assert (
        path_str(forward) == f"cni0 gateway (node-1) → {veth_name('cid-A')} (node-1) → pod A eth0"
    )
    reply, forward, _ = fabric.request(a, "192.168.49.3", 10250)
    assert reply == f"kubelet sees {a_ip}".encode()
    assert path_str(forward).endswith("node-1 eth0 → node-2 eth0")


def test_routed_plugin_pods_talk_without_a_bridge():
    fabric = two_nodes()
    a, a_ip = pod(fabric, "node-1", "A", ROUTED)
    b, b_ip = pod(fabric, "node-2", "B", ROUTED)
    c, c_ip = pod(fabric, "node-1", "C", ROUTED)
    echo(b)
    echo(c)
    reply, forward, back = fabric.request(a, b_ip, 8080)
    va, vb = veth_name("cid-A"), veth_name("cid-B")
    assert (
        path_str(forward)
        == f"pod A eth0 → {va} (node-1) → node-1 eth0 → node-2 eth0 → {vb} (node-2) → pod B eth0"
    )
    assert forward.packet_at_destination.src_ip == a_ip
    assert back.delivered
    reply, forward, _ = fabric.request(a, c_ip, 8080)
    assert reply == f"from C to {a_ip}".encode()
    assert forward.packet_at_destination.ttl == 63  # routed once, by node-1's host
    assert [str(r) for r in a.routes.routes()][:1] == [
        "10.244.1.1/32 dev eth0 proto static metric 0"
    ]


def test_delete_netns_removes_the_host_veth_and_remove_node_cleans_routes():
    fabric = two_nodes()
    a, _ = pod(fabric, "node-1", "A")
    host = fabric.node("node-1").host
    assert host.has_interface(veth_name("cid-A"))
    fabric.delete_netns("A")
    assert not host.has_interface(veth_name("cid-A"))
    assert host.interface("cni0").ports == []
    with pytest.raises(UnknownNamespace):
        fabric.netns("A")
    pod(fabric, "node-2", "B")
    fabric.remove_node("node-2")
    assert host.routes.lookup("10.244.2.5") is None
    assert fabric.find_netns("B") is None
    with pytest.raises(ValueError):
        fabric.delete_netns("node-1")


def test_determinism_same_build_same_macs_and_paths():
    def build():
        fabric = two_nodes()
        a, _ = pod(fabric, "node-1", "A")
        b, b_ip = pod(fabric, "node-2", "B")
        echo(b)
        _, forward, back = fabric.request(a, b_ip, 8080)
        macs = [i.mac for ns in fabric.namespaces() for i in ns.interfaces()]
        return forward, back, macs

    assert build() == build()
