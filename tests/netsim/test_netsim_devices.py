"""Unit tests: devices, namespaces, route and neighbour tables, the underlay switch."""

from ipaddress import IPv4Address, IPv4Interface

import msgspec
import pytest

import netsim
from netsim import (
    DeviceExists,
    Interface,
    NetNamespace,
    Route,
    RouteExists,
    RouteTable,
    Switch,
    derive_mac,
    enslave,
    make_veth_pair,
    release,
    veth_name,
)
from netsim._devices import BRIDGE, ETHER, l2_reach


def test_public_api_is_pinned():
    assert sorted(netsim.__all__) == sorted(set(netsim.__all__))
    for name in netsim.__all__:
        assert getattr(netsim, name) is not None
    assert {"Fabric", "Packet", "Delivery", "Hop", "path_str", "invoke", "CNIError"} <= set(
        netsim.__all__
    )


def test_netsim_imports_only_stdlib_msgspec_and_itself():
    """netsim sits below actors: it must never import them (checked on the source, since other
    tests in the same process may have imported actors already)."""
    import ast
    import pathlib
    import sys

    allowed = set(sys.stdlib_module_names) | {"msgspec", "netsim", "runtime", "__future__"}
    for path in pathlib.Path(netsim.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"


def test_macs_are_deterministic_unicast_and_locally_administered():
    mac = derive_mac("node-1", "eth0")
    assert mac == derive_mac("node-1", "eth0")
    assert mac != derive_mac("node-2", "eth0")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
    assert len(mac.split(":")) == 6


def test_veth_name_is_veth_plus_8_hex_from_the_container_id():
    name = veth_name("abc123")
    assert name == veth_name("abc123", "eth0")
    assert name.startswith("veth") and len(name) == 12
    int(name[4:], 16)
    assert veth_name("abc124") != name
    assert veth_name("abc123", "net1") != name
    assert len(name) <= 15  # IFNAMSIZ


def test_veth_pair_and_bridge_ports():
    inner, outer = make_veth_pair(
        "eth0", "02:00:00:00:00:01", "vethx", "02:00:00:00:00:02", latency_s=1e-5
    )
    assert inner.peer is outer and outer.peer is inner
    bridge = Interface("cni0", BRIDGE, "02:00:00:00:00:03")
    enslave(bridge, outer)
    assert outer.master is bridge and bridge.ports == [outer]
    with pytest.raises(DeviceExists):
        enslave(bridge, outer)
    release(outer)
    assert outer.master is None and bridge.ports == []
    with pytest.raises(ValueError):
        Interface("x", "wifi", "02:00:00:00:00:04")


def test_namespace_has_loopback_and_connected_routes():
    ns = NetNamespace("pod-a", "node-1", "pod")
    assert ns.path == "/var/run/netns/pod-a"
    assert ns.interface("lo").addresses == [IPv4Interface("127.0.0.1/8")]
    assert ns.is_local(IPv4Address("127.0.0.53"))
    inner, _ = make_veth_pair(
        "eth0", "02:00:00:00:00:01", "vethx", "02:00:00:00:00:02", latency_s=0
    )
    ns.add_interface(inner)
    ns.add_address("eth0", "10.244.1.5/24")
    (route,) = ns.routes.routes()
    assert (route.dst, route.dev, route.via, route.proto) == ("10.244.1.0/24", "eth0", "", "kernel")
    assert route.scope == "link"
    assert ns.is_local(IPv4Address("10.244.1.5"))
    assert ns.source_for("eth0") == IPv4Address("10.244.1.5")
    ns.remove_address("eth0", "10.244.1.5/24")
    assert len(ns.routes) == 0
    ns.add_address("eth0", "10.244.1.6/32")
    assert len(ns.routes) == 0  # a /32 brings no connected route
    with pytest.raises(DeviceExists):
        ns.add_interface(Interface("eth0", ETHER, "02:00:00:00:00:09"))


def test_removing_a_device_removes_its_routes_and_neighbours():
    ns = NetNamespace("pod-a", "node-1", "pod")
    inner, _ = make_veth_pair(
        "eth0", "02:00:00:00:00:01", "vethx", "02:00:00:00:00:02", latency_s=0
    )
    ns.add_interface(inner)
    ns.add_address("eth0", "10.244.1.5/24")
    ns.routes.add(Route("0.0.0.0/0", "eth0", via="10.244.1.1"))
    ns.neighbours.learn("eth0", IPv4Address("10.244.1.1"), "02:00:00:00:00:aa")
    ns.remove_interface("eth0")
    assert len(ns.routes) == 0
    assert ns.neighbours.entries() == {}


def test_listen_rejects_duplicates_and_icmp():
    ns = NetNamespace("pod-a", "node-1", "pod")
    ns.listen(8080, "TCP", lambda p: b"")
    ns.listen(8080, "UDP", lambda p: b"")
    with pytest.raises(DeviceExists):
        ns.listen(8080, "TCP", lambda p: None)
    with pytest.raises(ValueError):
        ns.listen(1, "ICMP", lambda p: None)
    assert ns.listening() == ((8080, "TCP"), (8080, "UDP"))
    ns.unlisten(8080, "TCP")
    assert ns.listener(8080, "TCP") is None


def test_ephemeral_ports_are_deterministic_and_wrap():
    ns = NetNamespace("pod-a", "node-1", "pod")
    assert [ns.ephemeral_port() for _ in range(3)] == [32768, 32769, 32770]
    ns._next_port = 60999
    assert [ns.ephemeral_port() for _ in range(2)] == [60999, 32768]
    ns.listen(32769, "TCP", lambda p: None)
    assert ns.ephemeral_port() == 32770  # a listener's port is not handed to a client


def test_route_lookup_is_longest_prefix_then_metric():
    table = RouteTable()
    table.add(Route("0.0.0.0/0", "eth0", via="192.168.49.1"))
    table.add(Route("10.244.0.0/16", "eth0", via="192.168.49.9"))
    table.add(Route("10.244.2.0/24", "eth0", via="192.168.49.3"))
    table.add(Route("10.244.2.0/24", "eth1", via="192.168.50.3", metric=10))
    table.add(Route("10.244.2.7/32", "veth1"))
    assert table.lookup("10.244.2.7").dev == "veth1"
    assert table.lookup("10.244.2.8").via == "192.168.49.3"
    assert table.lookup("10.244.9.1").via == "192.168.49.9"
    assert table.lookup("8.8.8.8").dst == "0.0.0.0/0"
    assert str(table.lookup("8.8.8.8")) == "default via 192.168.49.1 dev eth0 proto static metric 0"
    with pytest.raises(RouteExists):
        table.add(Route("10.244.2.0/24", "eth2"))
    table.replace(Route("10.244.2.0/24", "eth2"))
    assert table.lookup("10.244.2.8").dev == "eth2"
    assert table.remove("10.244.2.0/24") == 2
    assert table.lookup("10.244.2.8").via == "192.168.49.9"
    assert [r.dst for r in table.routes()] == ["10.244.2.7/32", "10.244.0.0/16", "0.0.0.0/0"]


def test_route_without_default_has_no_match():
    table = RouteTable()
    table.add(Route("10.244.1.0/24", "cni0", proto="kernel"))
    assert table.lookup("10.9.9.9") is None
    with pytest.raises(ValueError):
        Route("10.244.1.1/24", "cni0")  # host bits set
    with pytest.raises(ValueError):
        Route("fd00::/64", "eth0")


def test_routes_are_frozen_tagged_messages():
    route = Route("10.244.2.0/24", "eth0", via="192.168.49.3")
    encoded = msgspec.json.encode(route)
    assert b'"type":"netsim.route"' in encoded
    assert msgspec.json.decode(encoded, type=Route) == route
    with pytest.raises(AttributeError):
        route.dev = "eth1"  # type: ignore[misc]


def test_l2_reach_through_a_bridge_switches_or_routes():
    bridge = Interface("cni0", BRIDGE, "02:00:00:00:00:0b", link_latency_s=5e-6)
    host = NetNamespace("node-1", "node-1", "host")
    host.add_interface(bridge)
    host.add_address("cni0", "10.244.1.1/24")
    pods = []
    for i in (2, 3):
        ns = NetNamespace(f"p{i}", "node-1", "pod")
        inner, outer = make_veth_pair(
            "eth0", f"02:00:00:00:01:0{i}", f"veth{i}", f"02:00:00:00:02:0{i}", latency_s=1e-5
        )
        ns.add_interface(inner)
        host.add_interface(outer)
        enslave(bridge, outer)
        ns.add_address("eth0", f"10.244.1.{i}/24")
        pods.append(ns)
    a = pods[0].interface("eth0")
    to_gw = l2_reach(a, IPv4Address("10.244.1.1"))
    assert to_gw.target is bridge and to_gw.legs[-1].routed
    to_b = l2_reach(a, IPv4Address("10.244.1.3"))
    assert to_b.target is pods[1].interface("eth0")
    assert [leg.iface.name for leg in to_b.legs] == ["eth0", "veth2", "cni0", "veth3", "eth0"]
    assert to_b.bridged_at == 2 and not to_b.legs[2].routed
    assert to_b.latency_s == pytest.approx(1e-5 + 5e-6 + 5e-6 + 1e-5)
    assert l2_reach(a, IPv4Address("10.244.1.77")) is None


def test_switch_cuts_and_restores():
    sw = Switch()
    adapters = {}
    for i, node in enumerate(("n1", "n2", "n3"), start=2):
        adapters[node] = Interface("eth0", ETHER, f"02:00:00:00:00:0{i}", link_latency_s=1e-4)
        adapters[node].addresses.append(IPv4Interface(f"192.168.49.{i}/24"))
        sw.attach(node, adapters[node])
    reach, reason = sw.reach("n1", IPv4Address("192.168.49.3"))
    assert reach.target is adapters["n2"] and reason == ""
    assert reach.latency_s == pytest.approx(2e-4)
    sw.cut_pair("n1", "n2")
    assert sw.reach("n1", IPv4Address("192.168.49.3")) == (None, "link cut: n1 eth0 ↔ n2 eth0")
    assert sw.reach("n2", IPv4Address("192.168.49.2"))[1] == "link cut: n2 eth0 ↔ n1 eth0"
    assert sw.reach("n1", IPv4Address("192.168.49.4"))[0] is not None
    sw.cut_uplink("n3")
    assert sw.reach("n1", IPv4Address("192.168.49.4"))[1] == "link cut: n3 eth0 ↔ underlay"
    assert sw.cuts() == (("n3",), ("n1", "n2"))
    sw.restore("n3")
    assert sw.cuts() == (("n1", "n2"),)
    sw.restore()
    assert sw.cuts() == ()
    assert sw.reach("n1", IPv4Address("192.168.49.99")) == (None, "")
