"""Service NAT: DNAT to backends, conntrack un-DNAT, affinity, NodePort, hairpin, ipMasq."""

from collections import Counter
from ipaddress import IPv4Address
from random import Random

import pytest

from netsim import (
    Fabric,
    NatTable,
    NodePortRule,
    Packet,
    ServiceRule,
    bridge_network_config,
    invoke,
    path_str,
    veth_name,
)

CONF = bridge_network_config("10.244.0.0/16")
VIP = "10.96.0.10"


def cluster(nodes=2, conf=CONF, **kw) -> Fabric:
    fabric = Fabric(**kw)
    for i in range(1, nodes + 1):
        fabric.add_node(f"node-{i}", f"192.168.49.{i + 1}", f"10.244.{i}.0/24")
    return fabric


def pod(fabric, node, name, conf=CONF, port=8080):
    ns = fabric.create_netns(node, name)
    result = invoke(
        "bridge",
        "ADD",
        fabric=fabric,
        container_id=f"cid-{name}",
        netns=ns,
        ifname="eth0",
        config=conf,
    )
    ns.listen(port, "TCP", lambda p: f"{name} saw {p.src_ip}".encode())
    return ns, result["ips"][0]["address"].split("/")[0]


def program(fabric, vip, port, backends, **kw):
    """What kube-proxy does: the same rule on every node."""
    for node in fabric.nodes():
        fabric.add_service_rule(node.name, vip, port, "TCP", backends, **kw)


def test_cluster_ip_is_dnated_and_the_reply_comes_from_the_vip():
    fabric = cluster(rng=Random(7))
    a, a_ip = pod(fabric, "node-1", "A")
    b, b_ip = pod(fabric, "node-2", "B")
    program(fabric, VIP, 80, [(b_ip, 8080)])
    reply, forward, back = fabric.request(a, VIP, 80, b"GET /")
    assert reply == f"B saw {a_ip}".encode()  # the backend sees the client pod's own address
    at = forward.packet_at_destination
    assert (at.dst_ip, at.dst_port, at.src_ip) == (b_ip, 8080, a_ip)
    assert forward.path[2].note == f"DNAT {VIP}:80 → {b_ip}:8080"
    assert f"cni0 gateway (node-1) [DNAT {VIP}:80 → {b_ip}:8080]" in path_str(forward)
    back_at = back.packet_at_destination
    assert (back_at.src_ip, back_at.src_port) == (VIP, 80)
    assert f"[un-DNAT {b_ip}:8080 → {VIP}:80]" in path_str(back)
    (entry,) = fabric.nat("node-1").conntrack()
    assert entry.dnat and not entry.snat and entry.rule == f"svc {VIP}:80/TCP"
    assert fabric.nat("node-2").conntrack() == ()  # the client's node did the NAT


def test_same_node_backend_reply_is_un_dnated_on_the_bridge():
    fabric = cluster()
    a, a_ip = pod(fabric, "node-1", "A")
    c, c_ip = pod(fabric, "node-1", "C")
    program(fabric, VIP, 80, [(c_ip, 8080)])
    reply, forward, back = fabric.request(a, VIP, 80)
    va, vc = veth_name("cid-A"), veth_name("cid-C")
    assert path_str(forward) == (
        f"pod A eth0 → {va} (node-1) → cni0 gateway (node-1) [DNAT {VIP}:80 → {c_ip}:8080] → {vc} (node-1) → pod C eth0"
    )
    assert path_str(back) == (
        f"pod C eth0 → {vc} (node-1) → cni0 bridge (node-1) [un-DNAT {c_ip}:8080 → {VIP}:80] → {va} (node-1) → pod A eth0"
    )
    assert back.packet_at_destination.src_ip == VIP


def test_backends_are_chosen_at_random_with_the_seeded_generator():
    def run(seed):
        fabric = cluster(rng=Random(seed))
        a, _ = pod(fabric, "node-1", "A")
        backends = [pod(fabric, f"node-{1 + i % 2}", f"b{i}")[1] for i in range(3)]
        program(fabric, VIP, 80, [(ip, 8080) for ip in backends])
        return [fabric.request(a, VIP, 80)[1].packet_at_destination.dst_ip for _ in range(60)]

    first = run(1)
    assert first == run(1)
    assert len(Counter(first)) == 3  # spread over every backend
    assert first != run(2)


def test_a_rule_can_carry_its_own_generator():
    fabric = cluster()
    a, _ = pod(fabric, "node-1", "A")
    ips = [pod(fabric, "node-2", f"b{i}")[1] for i in range(4)]
    fabric.add_service_rule("node-1", VIP, 80, "TCP", [(ip, 8080) for ip in ips], rng=Random(3))
    got = [fabric.request(a, VIP, 80)[1].packet_at_destination.dst_ip for _ in range(8)]
    rng = Random(3)
    assert got == [ips[rng.randrange(4)] for _ in range(8)]


def test_client_ip_affinity_is_sticky_per_client():
    fabric = cluster(rng=Random(5))
    a, _ = pod(fabric, "node-1", "A")
    z, _ = pod(fabric, "node-1", "Z")
    ips = [pod(fabric, "node-2", f"b{i}")[1] for i in range(4)]
    program(fabric, VIP, 80, [(ip, 8080) for ip in ips], affinity="ClientIP")
    from_a = {fabric.request(a, VIP, 80)[1].packet_at_destination.dst_ip for _ in range(10)}
    from_z = {fabric.request(z, VIP, 80)[1].packet_at_destination.dst_ip for _ in range(10)}
    assert len(from_a) == 1 and len(from_z) == 1
    # The sticky backend leaves: the client is re-balanced onto a current one.
    (gone,) = from_a
    program(fabric, VIP, 80, [(ip, 8080) for ip in ips if ip != gone], affinity="ClientIP")
    again = {fabric.request(a, VIP, 80)[1].packet_at_destination.dst_ip for _ in range(10)}
    assert len(again) == 1 and gone not in again


def client_and_two_backends():
    """Pod A on node-1, pods B1 and B2 on node-2: the fabric, A, B1's and B2's IPs, node-1's
    nat table."""
    fabric = cluster()
    a, _ = pod(fabric, "node-1", "A")
    _, b1 = pod(fabric, "node-2", "B1")
    _, b2 = pod(fabric, "node-2", "B2")
    return fabric, a, b1, b2, fabric.nat("node-1")


def test_replacing_rules_is_atomic_and_flushes_stale_conntrack():
    fabric, a, b1, b2, nat = client_and_two_backends()
    fabric.replace_service_rules(
        "node-1",
        [
            ServiceRule(VIP, 80, "TCP", ((b1, 8080),)),
            ServiceRule("10.96.0.11", 53, "UDP", ((b2, 53),)),
        ],
    )
    fabric.request(a, VIP, 80)
    assert len(nat.conntrack()) == 1
    with pytest.raises(ValueError):  # a bad rule set changes nothing
        nat.replace_rules(
            [ServiceRule(VIP, 80, "TCP", ((b2, 8080),)), ServiceRule(VIP, 81, "SCTP", ())]
        )
    assert {r.key for r in nat.rules()} == {f"svc {VIP}:80/TCP", "svc 10.96.0.11:53/UDP"}
    fabric.replace_service_rules("node-1", [ServiceRule(VIP, 80, "TCP", ((b2, 8080),))])
    assert nat.conntrack() == ()
    assert [r.key for r in nat.rules()] == [f"svc {VIP}:80/TCP"]
    assert fabric.request(a, VIP, 80)[1].packet_at_destination.dst_ip == b2


def test_service_without_endpoints_rejects():
    fabric = cluster()
    a, _ = pod(fabric, "node-1", "A")
    program(fabric, VIP, 80, [])
    reply, forward, back = fabric.request(a, VIP, 80)
    assert (reply, back, forward.reason) == (None, None, "connection refused")
    assert forward.path[-1].note == f"REJECT {VIP}:80/TCP: no endpoints"
    fabric.remove_service_rule("node-1", VIP, 80, "TCP")
    assert fabric.request(a, VIP, 80)[1].reason == f"no route to host {VIP}"


def test_nodeport_is_dnated_and_masqueraded_by_the_receiving_node():
    fabric = cluster(nodes=3)
    a, a_ip = pod(fabric, "node-1", "A")
    _, c_ip = pod(fabric, "node-3", "C")
    for node in fabric.nodes():
        fabric.add_nodeport_rule(node.name, 30080, "TCP", [(c_ip, 8080)])
    reply, forward, back = fabric.request(a, "192.168.49.3", 30080)  # node-2's IP
    assert reply == b"C saw 192.168.49.3"  # masqueraded to node-2's address
    assert back.packet_at_destination.src == "192.168.49.3:30080"
    notes = [h.note for h in forward.path if h.note]
    assert notes == [
        f"DNAT 192.168.49.3:30080 → {c_ip}:8080; SNAT {a_ip}:32768 → 192.168.49.3:32768"
    ]
    (entry,) = fabric.nat("node-2").conntrack()
    assert entry.dnat and entry.snat
    assert "un-DNAT" in path_str(back) and "un-SNAT" in path_str(back)


def test_nodeport_only_matches_local_addresses():
    nat = NatTable(rng=Random(0))
    nat.add_nodeport_rule(30080, "TCP", [("10.244.2.5", 8080)])
    packet = Packet("10.244.1.2", 40000, "192.168.49.3", 30080, "TCP")
    assert nat.prerouting(packet, [IPv4Address("192.168.49.2")]).rule == ""
    assert nat.prerouting(packet, [IPv4Address("192.168.49.3")]).rule == "nodeport 30080/TCP"
    assert isinstance(nat.rules()[0], NodePortRule)


def test_hairpin_a_pod_reaching_itself_through_its_service():
    fabric = cluster()
    a, a_ip = pod(fabric, "node-1", "A")
    program(fabric, VIP, 80, [(a_ip, 8080)])
    reply, forward, back = fabric.request(a, VIP, 80)
    assert reply == b"A saw 10.244.1.1"  # masqueraded to the bridge's address
    assert back.packet_at_destination.src == f"{VIP}:80"


def test_conntrack_survives_a_port_clash_on_masquerade():
    nat = NatTable(rng=Random(0))
    nat.add_nodeport_rule(30080, "TCP", [("10.244.2.5", 8080)])
    local = [IPv4Address("192.168.49.3")]
    ports = []
    for client in ("10.244.1.2", "10.244.3.2"):  # same source port, different clients
        packet = Packet(client, 40000, "192.168.49.3", 30080, "TCP")
        verdict = nat.prerouting(packet, local)
        out, _ = nat.postrouting(verdict, verdict.packet, IPv4Address("192.168.49.3"))
        ports.append(out.src_port)
    assert ports == [40000, 40001]
    assert len(nat.conntrack()) == 2


def test_ip_masq_rewrites_traffic_leaving_the_pod_network_only():
    conf = dict(CONF, ipMasq=True)
    fabric = cluster(conf=conf)
    a, a_ip = pod(fabric, "node-1", "A", conf=conf)
    b, b_ip = pod(fabric, "node-2", "B", conf=conf)
    host2 = fabric.node("node-2").host
    host2.listen(10250, "TCP", lambda p: p.src_ip.encode())
    reply, forward, back = fabric.request(a, "192.168.49.3", 10250)
    assert reply == b"192.168.49.2" and back.packet_at_destination.dst_ip == a_ip
    _, to_pod, _ = fabric.request(a, b_ip, 8080)
    assert to_pod.packet_at_destination.src_ip == a_ip  # pod-to-pod stays un-NATed


def test_rule_validation():
    nat = NatTable(rng=Random(0))
    with pytest.raises(ValueError):
        nat.add_service_rule(VIP, 80, "ICMP", [])
    with pytest.raises(ValueError):
        nat.add_service_rule(VIP, 0, "TCP", [])
    with pytest.raises(ValueError):
        nat.add_service_rule(VIP, 80, "TCP", [("10.244.1.2", 8080)], affinity="Cookie")
    with pytest.raises(ValueError):
        nat.add_service_rule(VIP, 80, "TCP", [("not-an-ip", 8080)])
    assert nat.rules() == ()


def test_a_partial_update_touches_only_the_rules_it_names():
    fabric, a, b1, b2, nat = client_and_two_backends()
    kept_rng = Random(9)
    fabric.replace_service_rules("node-1", [ServiceRule(VIP, 80, "TCP", ((b1, 8080),)),
                                            ServiceRule("10.96.0.11", 80, "TCP", ((b1, 8080),)),
                                            NodePortRule(30080, "TCP", ((b1, 8080),))])
    nat.add_service_rule(VIP, 80, "TCP", [(b1, 8080)], rng=kept_rng)
    fabric.request(a, VIP, 80)
    fabric.request(a, "10.96.0.11", 80)
    (kept,) = [e for e in nat.conntrack() if e.rule == f"svc {VIP}:80/TCP"]
    generation = nat.generation
    fabric.update_service_rules("node-1", ["svc 10.96.0.11:80/TCP", "nodeport 30080/TCP"],
                                [ServiceRule("10.96.0.12", 80, "TCP", ((b2, 8080),)),
                                 NodePortRule(30080, "TCP", ((b2, 8080),))])
    assert [r.key for r in nat.rules()] == [f"svc {VIP}:80/TCP", "svc 10.96.0.12:80/TCP",
                                            "nodeport 30080/TCP"]  # replaced in place
    assert nat.conntrack() == (kept,)  # the removed rule's connection is flushed, not VIP's
    assert nat._rule_rngs == {f"svc {VIP}:80/TCP": kept_rng}
    assert nat.generation == generation + 1
    fabric.update_service_rules("node-1", ["svc 10.0.0.1:1/TCP"], [])  # unknown: nothing
    assert nat.generation == generation + 1


def test_a_partial_update_with_a_bad_rule_changes_nothing():
    nat = NatTable(rng=Random(0))
    nat.replace_rules([ServiceRule(VIP, 80, "TCP", (("10.244.1.2", 8080),))])
    before, generation = nat.rules(), nat.generation
    for bad in (ServiceRule(VIP, 81, "SCTP", ()), ServiceRule(VIP, 0, "TCP", ()),
                ServiceRule(VIP, 82, "TCP", (("not-an-ip", 8080),))):
        with pytest.raises(ValueError):
            nat.update_rules([f"svc {VIP}:80/TCP"],
                             [ServiceRule("10.96.0.12", 80, "TCP", ()), bad])
    assert (nat.rules(), nat.generation) == (before, generation)


def test_a_partial_update_equals_the_whole_replacement():
    rules = [ServiceRule(VIP, 80, "TCP", (("10.244.1.2", 8080),)),
             ServiceRule(VIP, 53, "UDP", (("10.244.1.3", 53),), "ClientIP"),
             NodePortRule(30053, "UDP", (("10.244.1.3", 53),))]
    partial, whole = NatTable(rng=Random(4)), NatTable(rng=Random(4))
    partial.replace_rules(rules)
    whole.replace_rules(rules)
    local = [IPv4Address("192.168.49.2")]
    for table in (partial, whole):
        for port, proto in ((80, "TCP"), (53, "UDP")):
            v = table.prerouting(Packet("10.244.2.9", 40000, VIP, port, proto), local)
            table.postrouting(v, v.packet, IPv4Address("10.244.2.1"))
    new = [ServiceRule(VIP, 53, "UDP", (("10.244.1.4", 53),), "ClientIP"),
           ServiceRule(VIP, 80, "TCP", (("10.244.1.2", 8080), ("10.244.1.5", 8080)))]
    partial.update_rules([f"svc {VIP}:53/UDP", "nodeport 30053/UDP"], new)
    whole.replace_rules([new[1], new[0]])
    assert {r.key: r for r in partial.rules()} == {r.key: r for r in whole.rules()}
    assert partial.conntrack() == whole.conntrack() and len(partial.conntrack()) == 1
    assert partial._sticky == whole._sticky
