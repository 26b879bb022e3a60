"""Hypothesis properties: IPAM under churn, no NAT between pods, Service DNAT, cuts."""

from ipaddress import IPv4Address, IPv4Network
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from netsim import (
    ERR_TRY_AGAIN_LATER,
    CNIError,
    Fabric,
    bridge_network_config,
    invoke,
)

# derandomize: the same examples on every run and machine (tests are deterministic, seeded).
FAST = settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
STATEFUL = settings(max_examples=50, stateful_step_count=50, deadline=None, derandomize=True)
CONF = bridge_network_config("10.244.0.0/16")
ROUTED = {
    "cniVersion": "1.0.0",
    "name": "k8s-pod-network",
    "type": "routed",
    "ipam": {"type": "host-local", "subnet": "10.244.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]},
}


def build(nodes: int, prefix: int = 24, **kw) -> Fabric:
    fabric = Fabric(**kw)
    for i in range(nodes):
        fabric.add_node(f"node-{i}", f"192.168.49.{i + 2}", f"10.244.{i}.0/{prefix}")
    return fabric


def add_pod(fabric: Fabric, node: str, name: str, conf=CONF) -> str:
    ns = fabric.create_netns(node, name)
    result = invoke(
        conf["type"],
        "ADD",
        fabric=fabric,
        container_id=f"cid-{name}",
        netns=ns,
        ifname="eth0",
        config=conf,
    )
    ns.listen(8080, "TCP", lambda p: f"{name}|{p.src_ip}|{p.dst_ip}".encode())
    return result["ips"][0]["address"].split("/")[0]


class IpamChurn(RuleBasedStateMachine):
    """Pods come and go on several nodes with tiny podCIDRs; no address is ever handed out
    twice, DEL frees exactly the pod's address, and exhaustion is code 11, only when full."""

    @initialize(nodes=st.integers(2, 3))
    def setup(self, nodes):
        # /29 per node: 8 addresses, minus network, gateway and broadcast = 5 pods.
        self.fabric = build(nodes, prefix=29)
        self.fabric_nodes = [n.name for n in self.fabric.nodes()]
        self.live: dict[str, tuple[str, str]] = {}  # pod → (node, ip)
        self.counter = 0

    @rule(data=st.data())
    def add(self, data):
        node = data.draw(st.sampled_from(self.fabric_nodes))
        self.counter += 1
        name = f"p{self.counter}"
        full = sum(1 for n, _ in self.live.values() if n == node) == 5
        try:
            ip = add_pod(self.fabric, node, name)
        except CNIError as err:
            assert full and err.code == ERR_TRY_AGAIN_LATER, err
            self.fabric.delete_netns(name)
            return
        assert not full
        assert ip not in {ip for _, ip in self.live.values()}
        self.live[name] = (node, ip)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), drop_netns_first=st.booleans())
    def delete(self, data, drop_netns_first):
        name = data.draw(st.sampled_from(sorted(self.live)))
        node, _ = self.live.pop(name)
        if drop_netns_first:  # the sandbox died before the runtime called DEL
            self.fabric.delete_netns(name)
        args = {
            "fabric": self.fabric,
            "container_id": f"cid-{name}",
            "netns": f"/var/run/netns/{name}",
        }
        invoke("bridge", "DEL", ifname="eth0", config=CONF, node=node, **args)
        invoke("bridge", "DEL", ifname="eth0", config=CONF, node=node, **args)  # idempotent
        if not drop_netns_first:
            self.fabric.delete_netns(name)

    @invariant()
    def allocations_match_live_pods(self):
        if not hasattr(self, "fabric"):
            return
        for node in self.fabric.nodes():
            store = node.ipam.get("k8s-pod-network")
            held = store.allocated() if store is not None else {}
            expected = {ip: f"cid-{p}/eth0" for p, (n, ip) in self.live.items() if n == node.name}
            assert held == expected
            for ip in held:
                addr = IPv4Address(ip)
                assert addr in node.pod_cidr
                assert addr not in (
                    node.pod_cidr.network_address,
                    node.pod_cidr.broadcast_address,
                    node.gateway.ip,
                )
        ips = [ip for _, ip in self.live.values()]
        assert len(ips) == len(set(ips))


TestIpamChurn = IpamChurn.TestCase
TestIpamChurn.settings = STATEFUL


@FAST
@given(
    layout=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    plugin=st.sampled_from([CONF, ROUTED]),
    data=st.data(),
)
def test_pod_to_pod_traffic_is_never_nated(layout, plugin, data):
    fabric = build(len(layout))
    pods = {}
    for n, count in enumerate(layout):
        for k in range(count):
            pods[f"n{n}p{k}"] = add_pod(fabric, f"node-{n}", f"n{n}p{k}", plugin)
    names = sorted(pods)
    pairs = data.draw(
        st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), min_size=1, max_size=8)
    )
    for src, dst in pairs:
        reply, forward, back = fabric.request(src, pods[dst], 8080)
        assert forward.delivered, forward.reason
        at = forward.packet_at_destination
        assert at.src_ip == pods[src] and at.dst_ip == pods[dst]
        assert all(h.src == pods[src] and h.dst == pods[dst] and not h.note for h in forward.path)
        assert reply == f"{dst}|{pods[src]}|{pods[dst]}".encode()
        assert back.packet_at_destination.src_ip == pods[dst]
        assert fabric.nat(forward.path[0].node).conntrack() == ()


class ServiceTraffic(RuleBasedStateMachine):
    """kube-proxy reprograms a Service while clients call it: every request lands on a current
    backend, and every reply comes back from the VIP."""

    VIP = "10.96.0.10"

    @initialize(seed=st.integers(0, 2**16))
    def setup(self, seed):
        self.fabric = build(3, rng=Random(seed))
        self.clients = [f"client{i}" for i in range(3)]
        for i, name in enumerate(self.clients):
            add_pod(self.fabric, f"node-{i}", name)
        self.pool = {}
        for i in range(5):
            self.pool[f"web{i}"] = add_pod(self.fabric, f"node-{i % 3}", f"web{i}")
        self.backends: list[str] = []
        self.affinity = None
        self.program([])

    def program(self, names, affinity=None):
        self.backends = names
        self.affinity = affinity
        for node in self.fabric.nodes():
            self.fabric.add_service_rule(
                node.name, self.VIP, 80, "TCP", [(self.pool[n], 8080) for n in names], affinity
            )

    @rule(data=st.data(), affinity=st.sampled_from([None, "ClientIP"]))
    def reprogram(self, data, affinity):
        names = data.draw(st.lists(st.sampled_from(sorted(self.pool)), unique=True, max_size=5))
        self.program(sorted(names), affinity)

    @rule(client=st.integers(0, 2))
    def call(self, client):
        reply, forward, back = self.fabric.request(self.clients[client], self.VIP, 80)
        if not self.backends:
            assert forward.reason == "connection refused"
            return
        assert forward.delivered, forward.reason
        landed = forward.packet_at_destination.dst_ip
        assert landed in {self.pool[n] for n in self.backends}
        assert back.delivered and back.packet_at_destination.src == f"{self.VIP}:80"
        assert reply.decode().split("|")[2] == landed


TestServiceTraffic = ServiceTraffic.TestCase
TestServiceTraffic.settings = STATEFUL


@FAST
@given(
    nodes=st.integers(2, 4),
    cuts=st.lists(
        st.one_of(st.tuples(st.integers(0, 3)), st.tuples(st.integers(0, 3), st.integers(0, 3))),
        max_size=4,
    ),
)
def test_cuts_drop_exactly_the_cut_paths_and_restore_heals(nodes, cuts):
    fabric = build(nodes)
    ips = {n: add_pod(fabric, f"node-{n}", f"p{n}") for n in range(nodes)}
    uplinks, pairs = set(), set()
    for cut in cuts:
        if any(n >= nodes for n in cut):
            continue
        if len(cut) == 1:
            fabric.cut_node(f"node-{cut[0]}")
            uplinks.add(cut[0])
        elif cut[0] != cut[1]:
            fabric.cut(f"node-{cut[0]}", f"node-{cut[1]}")
            pairs.add(frozenset(cut))
    for a in range(nodes):
        for b in range(nodes):
            forward = fabric.request(f"p{a}", ips[b], 8080)[1]
            blocked = a != b and (a in uplinks or b in uplinks or frozenset((a, b)) in pairs)
            assert forward.delivered == (not blocked)
            if blocked:
                assert forward.reason.startswith("link cut: ")
    fabric.restore()
    for a in range(nodes):
        for b in range(nodes):
            assert fabric.request(f"p{a}", ips[b], 8080)[1].delivered


@FAST
@given(subnet_bits=st.integers(26, 30), churn=st.lists(st.booleans(), max_size=60))
def test_allocator_never_hands_out_an_address_twice(subnet_bits, churn):
    from netsim import AddressExhausted, HostLocalAllocator, IPRange

    net = IPv4Network(f"10.9.0.0/{subnet_bits}")
    store = HostLocalAllocator([IPRange.build(str(net))])
    capacity = net.num_addresses - 3
    live: dict[str, IPv4Address] = {}
    for i, grow in enumerate(churn):
        if grow or not live:
            try:
                addr, _ = store.allocate(f"c{i}")
            except AddressExhausted:
                assert len(live) == capacity
                continue
            assert addr.ip not in live.values()
            live[f"c{i}"] = addr.ip
        else:
            owner = sorted(live)[i % len(live)]
            assert store.release(owner) == live.pop(owner)
        assert store.allocated() == {
            str(ip): o for o, ip in sorted(live.items(), key=lambda kv: kv[1])
        }
