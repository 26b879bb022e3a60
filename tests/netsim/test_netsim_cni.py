"""CNI: the result JSON's shape, the spec's error codes, host-local IPAM, user plugins."""

import json
from ipaddress import IPv4Address

import pytest

from netsim import (
    ERR_DECODE,
    ERR_INCOMPATIBLE_VERSION,
    ERR_INVALID_CONFIG,
    ERR_INVALID_ENVIRONMENT,
    ERR_PLUGIN,
    ERR_TRY_AGAIN_LATER,
    ERR_UNKNOWN_CONTAINER,
    ERR_UNSUPPORTED_FIELD,
    AddressExhausted,
    AddressUnavailable,
    CNIError,
    DuplicateAllocation,
    Fabric,
    HostLocalAllocator,
    IPRange,
    PluginContext,
    PluginRegistry,
    Route,
    builtin_registry,
    invoke,
    path_str,
    register_plugin,
    unregister_plugin,
    veth_name,
)


def conf(**over):
    base = {
        "cniVersion": "1.0.0",
        "name": "k8s-pod-network",
        "type": "bridge",
        "bridge": "cni0",
        "isGateway": True,
        "ipMasq": False,
        "ipam": {"type": "host-local", "subnet": "10.244.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]},
    }
    base.update(over)
    return base


@pytest.fixture
def fabric():
    fabric = Fabric()
    fabric.add_node("node-1", "192.168.49.2", "10.244.0.0/24")
    fabric.add_node("node-2", "192.168.49.3", "10.244.1.0/24")
    return fabric


def add(fabric, name, node="node-1", config=None, **kw):
    ns = fabric.find_netns(name) or fabric.create_netns(node, name)
    return invoke(
        "bridge",
        "ADD",
        fabric=fabric,
        container_id=f"cid-{name}",
        netns=ns.path,
        ifname="eth0",
        config=config or conf(),
        **kw,
    )


def test_add_result_has_the_spec_shape(fabric):
    result = add(fabric, "web")
    ns = fabric.netns("web")
    host = fabric.node("node-1").host
    assert result == {
        "cniVersion": "1.0.0",
        "interfaces": [
            {"name": "cni0", "mac": host.interface("cni0").mac},
            {"name": veth_name("cid-web"), "mac": host.interface(veth_name("cid-web")).mac},
            {"name": "eth0", "mac": ns.interface("eth0").mac, "sandbox": "/var/run/netns/web"},
        ],
        "ips": [{"address": "10.244.0.2/24", "gateway": "10.244.0.1", "interface": 2}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {},
    }
    assert json.loads(json.dumps(result)) == result
    assert ns.routes.lookup("8.8.8.8").via == "10.244.0.1"
    assert host.interface(veth_name("cid-web")).master is host.interface("cni0")


def test_result_for_a_0_4_0_configuration_carries_ip_versions(fabric):
    result = add(fabric, "old", config=conf(cniVersion="0.4.0"))
    assert result["cniVersion"] == "0.4.0"
    assert result["ips"][0]["version"] == "4"


def test_version_command():
    assert invoke("bridge", "VERSION", config={"cniVersion": "1.0.0"}) == {
        "cniVersion": "1.0.0",
        "supportedVersions": ["0.4.0", "1.0.0"],
    }


def code_of(fn):
    with pytest.raises(CNIError) as info:
        fn()
    return info.value


def test_error_codes(fabric):
    ns = fabric.create_netns("node-1", "p")

    def run(command="ADD", config=None, **kw):
        args = {
            "fabric": fabric,
            "container_id": "c1",
            "netns": ns.path,
            "ifname": "eth0",
            "config": config or conf(),
        }
        args.update(kw)
        return lambda: invoke("bridge", command, **args)

    err = code_of(run(config=conf(cniVersion="0.2.0")))
    assert err.code == ERR_INCOMPATIBLE_VERSION and "0.2.0" in err.msg
    err = code_of(run(config=conf(vlan=100)))
    assert err.code == ERR_UNSUPPORTED_FIELD and err.msg == "unsupported field: vlan=100"
    err = code_of(run(netns="/var/run/netns/ghost"))
    assert err.code == ERR_UNKNOWN_CONTAINER
    assert code_of(run(container_id="")).code == ERR_INVALID_ENVIRONMENT
    assert code_of(run(ifname="")).code == ERR_INVALID_ENVIRONMENT
    assert code_of(run(ifname="a-very-long-interface-name")).code == ERR_INVALID_ENVIRONMENT
    assert code_of(run(netns="")).code == ERR_INVALID_ENVIRONMENT
    assert code_of(run(command="GC")).code == ERR_INVALID_ENVIRONMENT
    assert "CNI_CONTAINERID" in code_of(run(container_id="bad id")).msg
    assert code_of(run(config="{not json")).code == ERR_DECODE
    assert code_of(run(config=b"[1, 2]")).code == ERR_DECODE
    assert code_of(run(config=conf(name="-bad"))).code == ERR_INVALID_CONFIG
    assert (
        code_of(run(config={k: v for k, v in conf().items() if k != "cniVersion"})).code
        == ERR_INVALID_CONFIG
    )
    assert code_of(run(config=conf(type="macvlan"))).code == ERR_INVALID_CONFIG
    assert code_of(run(config=conf(ipam={"type": "host-local"}))).code == ERR_INVALID_CONFIG
    assert (
        code_of(run(config=conf(ipam={"type": "host-local", "subnet": "fd00::/64"}))).code
        == ERR_UNSUPPORTED_FIELD
    )
    assert code_of(run(config=conf(ipam={"type": "dhcp"}))).code == ERR_INVALID_CONFIG
    assert code_of(run("CHECK")).code == ERR_INVALID_CONFIG  # no prevResult
    assert (
        code_of(
            lambda: invoke(
                "nope",
                "ADD",
                fabric=fabric,
                container_id="c",
                netns=ns,
                ifname="eth0",
                config=conf(type="nope"),
            )
        ).code
        == ERR_INVALID_CONFIG
    )
    # Nothing was left behind by all those failures.
    assert [i.name for i in ns.interfaces()] == ["lo"]
    assert (
        fabric.node("node-1").ipam.get("k8s-pod-network") is None
        or fabric.node("node-1").ipam["k8s-pod-network"].allocated() == {}
    )
    err = code_of(run(config=conf(cniVersion="0.2.0")))
    assert err.to_json() == {"cniVersion": "1.0.0", "code": 1, "msg": err.msg}


def test_config_may_be_json_text(fabric):
    ns = fabric.create_netns("node-1", "p")
    result = invoke(
        "bridge",
        "ADD",
        fabric=fabric,
        container_id="c1",
        netns=ns.path,
        ifname="eth0",
        config=json.dumps(conf()),
    )
    assert result["ips"][0]["address"] == "10.244.0.2/24"


def test_del_releases_and_is_idempotent(fabric):
    add(fabric, "web")
    store = fabric.node("node-1").ipam["k8s-pod-network"]
    assert store.allocated() == {"10.244.0.2": "cid-web/eth0"}
    args = {
        "fabric": fabric,
        "container_id": "cid-web",
        "netns": "/var/run/netns/web",
        "ifname": "eth0",
        "config": conf(),
    }
    assert invoke("bridge", "DEL", **args) == {}
    assert store.allocated() == {}
    assert [i.name for i in fabric.netns("web").interfaces()] == ["lo"]
    assert not fabric.node("node-1").host.has_interface(veth_name("cid-web"))
    assert invoke("bridge", "DEL", **args) == {}
    # DEL of a container never seen, whose namespace is gone, is not an error either.
    assert (
        invoke("bridge", "DEL", **dict(args, container_id="never", netns="/var/run/netns/gone"))
        == {}
    )
    assert invoke("bridge", "DEL", **dict(args, container_id="never", netns="")) == {}


def test_del_after_the_namespace_is_gone_still_frees_the_address(fabric):
    add(fabric, "web")
    fabric.delete_netns("web")
    invoke(
        "bridge",
        "DEL",
        fabric=fabric,
        container_id="cid-web",
        netns="/var/run/netns/web",
        ifname="eth0",
        config=conf(),
        node="node-1",
    )
    assert fabric.node("node-1").ipam["k8s-pod-network"].allocated() == {}


def test_check_compares_with_prev_result(fabric):
    result = add(fabric, "web")
    args = {
        "fabric": fabric,
        "container_id": "cid-web",
        "netns": "/var/run/netns/web",
        "ifname": "eth0",
    }
    assert invoke("bridge", "CHECK", config=conf(prevResult=result), **args) == {}
    tampered = dict(
        result, ips=[{"address": "10.244.0.99/24", "gateway": "10.244.0.1", "interface": 2}]
    )
    assert (
        code_of(lambda: invoke("bridge", "CHECK", config=conf(prevResult=tampered), **args)).code
        == ERR_PLUGIN
    )
    fabric.netns("web").remove_address("eth0", "10.244.0.2/24")
    assert (
        code_of(lambda: invoke("bridge", "CHECK", config=conf(prevResult=result), **args)).code
        == ERR_PLUGIN
    )


def test_add_twice_for_one_interface_fails_cleanly(fabric):
    add(fabric, "web")
    err = code_of(lambda: add(fabric, "web"))
    assert err.code == ERR_PLUGIN and "already exists" in err.msg
    assert fabric.node("node-1").ipam["k8s-pod-network"].allocated() == {
        "10.244.0.2": "cid-web/eth0"
    }


def test_exhausted_range_is_try_again_later(fabric):
    small = conf(ipam={"type": "host-local", "subnet": "10.250.0.0/29"})  # .1 gateway, .2-.6
    for i in range(5):
        assert add(fabric, f"p{i}", config=small)["ips"][0]["address"] == f"10.250.0.{i + 2}/29"
    err = code_of(lambda: add(fabric, "p5", config=small))
    assert err.code == ERR_TRY_AGAIN_LATER
    assert err.msg == "no IP addresses available in range set: 10.250.0.1-10.250.0.6"
    assert [i.name for i in fabric.netns("p5").interfaces()] == ["lo"]


def test_per_node_range_from_the_cluster_subnet(fabric):
    assert add(fabric, "a", "node-1")["ips"][0]["address"] == "10.244.0.2/24"
    assert add(fabric, "b", "node-2")["ips"][0] == {
        "address": "10.244.1.2/24",
        "gateway": "10.244.1.1",
        "interface": 2,
    }
    explicit = conf(
        ipam={
            "type": "host-local",
            "ranges": [
                [
                    {
                        "subnet": "10.244.1.0/24",
                        "rangeStart": "10.244.1.100",
                        "rangeEnd": "10.244.1.110",
                    }
                ]
            ],
        }
    )
    assert (
        add(fabric, "c", "node-2", config=dict(explicit, name="other"))["ips"][0]["address"]
        == "10.244.1.100/24"
    )


def test_requested_ip_through_cni_args(fabric):
    result = add(fabric, "pinned", args={"IP": "10.244.0.42"})
    assert result["ips"][0]["address"] == "10.244.0.42/24"
    assert code_of(lambda: add(fabric, "clash", args={"IP": "10.244.0.42"})).code == ERR_PLUGIN
    assert code_of(lambda: add(fabric, "bad", args={"IP": "ten"})).code == ERR_INVALID_ENVIRONMENT


def test_plugins_are_found_in_the_given_registry(fabric):
    empty = PluginRegistry()
    ns = fabric.create_netns("node-1", "p")
    err = code_of(
        lambda: invoke(
            "bridge",
            "ADD",
            fabric=fabric,
            container_id="c",
            netns=ns,
            ifname="eth0",
            config=conf(),
            registry=empty,
        )
    )
    assert err.msg == 'failed to find plugin "bridge" in path'
    reg = builtin_registry()
    assert reg.types() == ("bridge", "host-local", "routed")
    assert invoke(
        "bridge",
        "ADD",
        fabric=fabric,
        container_id="c",
        netns=ns,
        ifname="eth0",
        config=conf(),
        registry=reg,
    )["ips"]


class StaticPlugin:
    """A user plugin: a veth with an address from CNI_ARGS, routed like ptp, no IPAM."""

    supported_versions = ("1.0.0",)

    def __init__(self):
        self.calls = []

    def add(self, ctx: PluginContext):
        self.calls.append(("ADD", ctx.container_id))
        node = ctx.fabric.node(ctx.node)
        inner, outer = ctx.fabric.create_veth(ctx.netns, ctx.ifname, veth_name(ctx.container_id))
        ip = ctx.args["IP"]
        ctx.netns.add_address(ctx.ifname, f"{ip}/32")
        node.host.add_address(outer.name, "169.254.1.1/32")
        node.host.routes.replace(Route(f"{ip}/32", outer.name))
        ctx.netns.routes.replace(Route("169.254.1.1/32", ctx.ifname))
        ctx.netns.routes.replace(Route("0.0.0.0/0", ctx.ifname, via="169.254.1.1"))
        return {
            "interfaces": [{"name": ctx.ifname, "mac": inner.mac, "sandbox": ctx.netns_path}],
            "ips": [{"address": f"{ip}/32", "interface": 0}],
        }

    def delete(self, ctx: PluginContext):
        self.calls.append(("DEL", ctx.container_id))
        if ctx.netns is not None:
            ctx.fabric.delete_link(ctx.netns, ctx.ifname)

    def check(self, ctx: PluginContext):
        self.calls.append(("CHECK", ctx.container_id))


def test_a_user_registered_plugin_works(fabric):
    plugin = StaticPlugin()
    register_plugin("static", plugin)
    try:
        with pytest.raises(ValueError):
            register_plugin("static", plugin)
        with pytest.raises(TypeError):
            register_plugin("broken", object())  # type: ignore[arg-type]
        config = {"cniVersion": "1.0.0", "name": "static-net", "type": "static"}
        ns = fabric.create_netns("node-1", "S")
        result = invoke(
            "static",
            "ADD",
            fabric=fabric,
            container_id="s1",
            netns=ns.path,
            ifname="eth0",
            config=config,
            args={"IP": "10.244.0.200"},
        )
        assert result["cniVersion"] == "1.0.0" and result["ips"] == [
            {"address": "10.244.0.200/32", "interface": 0}
        ]
        assert (
            code_of(
                lambda: invoke(
                    "static",
                    "ADD",
                    fabric=fabric,
                    container_id="s1",
                    netns=ns.path,
                    ifname="eth0",
                    config=dict(config, cniVersion="0.4.0"),
                )
            ).code
            == ERR_INCOMPATIBLE_VERSION
        )
        # A bridge pod on node-2 reaches it, no NAT on the way.
        b = fabric.create_netns("node-2", "B")
        b_ip = invoke(
            "bridge", "ADD", fabric=fabric, container_id="b1", netns=b, ifname="eth0", config=conf()
        )["ips"][0]["address"].split("/")[0]
        ns.listen(80, "TCP", lambda p: p.src_ip.encode())
        reply, forward, back = fabric.request(b, "10.244.0.200", 80)
        assert reply == b_ip.encode() and back.delivered
        assert path_str(forward).endswith(f"node-1 eth0 → {veth_name('s1')} (node-1) → pod S eth0")
        invoke(
            "static",
            "CHECK",
            fabric=fabric,
            container_id="s1",
            netns=ns.path,
            ifname="eth0",
            config=dict(config, prevResult=result),
        )
        invoke(
            "static",
            "DEL",
            fabric=fabric,
            container_id="s1",
            netns=ns.path,
            ifname="eth0",
            config=config,
        )
        assert plugin.calls == [("ADD", "s1"), ("CHECK", "s1"), ("DEL", "s1")]
    finally:
        unregister_plugin("static")


def test_bridge_without_ipam_is_l2_only(fabric):
    ns = fabric.create_netns("node-1", "l2")
    config = {k: v for k, v in conf().items() if k != "ipam"}
    result = invoke(
        "bridge", "ADD", fabric=fabric, container_id="l2", netns=ns, ifname="eth0", config=config
    )
    assert result["ips"] == [] and len(result["interfaces"]) == 3


def test_bridge_creates_a_missing_bridge_with_the_gateway(fabric):
    config = conf(bridge="br-extra", ipam={"type": "host-local", "subnet": "10.77.0.0/24"})
    add(fabric, "x", config=dict(config, name="extra"))
    bridge = fabric.node("node-1").host.interface("br-extra")
    assert [str(a) for a in bridge.addresses] == ["10.77.0.1/24"]
    assert bridge.ports[0].name == veth_name("cid-x")


# -- the allocator alone ---------------------------------------------------------------------


def test_allocator_skips_network_gateway_broadcast_and_round_robins():
    store = HostLocalAllocator([IPRange.build("10.0.0.0/29")])
    got = [str(store.allocate(f"c{i}")[0]) for i in range(5)]
    assert got == ["10.0.0.2/29", "10.0.0.3/29", "10.0.0.4/29", "10.0.0.5/29", "10.0.0.6/29"]
    with pytest.raises(AddressExhausted):
        store.allocate("c5")
    assert store.release("c1") == IPv4Address("10.0.0.3")
    assert store.release("c1") is None
    assert str(store.allocate("c6")[0]) == "10.0.0.3/29"
    store.release("c0")
    store.release("c3")
    # Round-robin: the search continues after the last reserved (.3), so .5 before .2.
    assert str(store.allocate("c7")[0]) == "10.0.0.5/29"
    assert str(store.allocate("c8")[0]) == "10.0.0.2/29"
    with pytest.raises(DuplicateAllocation):
        store.allocate("c8")
    assert store.free_count() == 0


def test_allocator_ranges_and_requests():
    r = IPRange.build("10.0.0.0/24", "10.0.0.10", "10.0.0.12", "10.0.0.254")
    store = HostLocalAllocator([r, IPRange.build("10.1.0.0/30")])
    assert str(r) == "10.0.0.10-10.0.0.12"
    with pytest.raises(AddressUnavailable):
        store.allocate("x", requested=IPv4Address("10.0.0.9"))
    addr, gw = store.allocate("x", requested=IPv4Address("10.0.0.11"))
    assert (str(addr), str(gw)) == ("10.0.0.11/24", "10.0.0.254")
    ips = [str(store.allocate(f"y{i}")[0]) for i in range(3)]
    assert ips == ["10.0.0.12/24", "10.1.0.2/30", "10.0.0.10/24"]
    with pytest.raises(AddressExhausted, match="10.0.0.10-10.0.0.12,10.1.0.1-10.1.0.2"):
        store.allocate("z")
    for bad in (
        ("10.0.0.0/31",),
        ("10.0.0.0/24", "10.0.1.1"),
        ("10.0.0.0/24", "10.0.0.9", "10.0.0.8"),
    ):
        with pytest.raises(ValueError):
            IPRange.build(*bad)
