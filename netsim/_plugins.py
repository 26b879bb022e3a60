"""The built-in CNI plugins: `bridge`, `routed` (ptp-style) and the `host-local` IPAM plugin.

What it is: plugins with the behaviour of the reference plugins (containernetworking/plugins),
acting on the simulated kernel through the `PluginContext`'s fabric.

- `bridge`: a veth pair per container — `ifname` (eth0) inside the sandbox, `veth<8 hex>` in the
  host namespace enslaved to the bridge (cni0, created if missing) — the address from IPAM on
  the container end, the IPAM routes via the gateway, and with `isGateway` the gateway address
  on the bridge. Pods of one node share an L2 segment; other traffic is routed by the host.
- `routed`: like the reference `ptp` plugin, no bridge: the container gets a /32 and an on-link
  route to the gateway, the host end of the veth holds the gateway /32 (so it answers ARP for
  it) and the host gets a /32 route to the container through the veth.
- `host-local`: IPAM from a range set, state per node and network (see `_ipam`). When the
  configured subnet is the whole cluster CIDR and the node's podCIDR lies inside it, the node's
  podCIDR is the range (what flannel and kubenet arrange by writing a per-node subnet).

Concurrency model: none; each call is one synchronous plugin execution.

Invariants: an ADD that fails leaves nothing behind (address released, veth deleted); DEL is
idempotent and succeeds when the namespace, the interface or the allocation is already gone;
unknown configuration keys are refused with code 2, naming the key and its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_network
from typing import Any

from netsim._cni import (
    ADD,
    CHECK,
    DEFAULT_REGISTRY,
    DEL,
    ERR_INVALID_CONFIG,
    ERR_INVALID_ENVIRONMENT,
    ERR_PLUGIN,
    ERR_TRY_AGAIN_LATER,
    ERR_UNSUPPORTED_FIELD,
    CNIError,
    PluginContext,
    PluginRegistry,
)
from netsim._devices import NetsimError, enslave, veth_name
from netsim._fabric import Node
from netsim._ipam import AddressExhausted, HostLocalAllocator, IpamError, IPRange
from netsim._routing import Route

SUPPORTED_VERSIONS = ("0.4.0", "1.0.0")
_COMMON = {
    "cniVersion",
    "name",
    "type",
    "args",
    "runtimeConfig",
    "capabilities",
    "prevResult",
    "ipam",
    "dns",
}
_BRIDGE_FIELDS = _COMMON | {
    "bridge",
    "isGateway",
    "isDefaultGateway",
    "forceAddress",
    "ipMasq",
    "hairpinMode",
    "promiscMode",
    "mtu",
}
_ROUTED_FIELDS = _COMMON | {"ipMasq", "mtu"}
_IPAM_FIELDS = {
    "type",
    "subnet",
    "rangeStart",
    "rangeEnd",
    "gateway",
    "ranges",
    "routes",
    "dataDir",
    "resolvConf",
}


def _reject_unknown(conf: Mapping[str, Any], known: set[str], where: str = "") -> None:
    for key in sorted(set(conf) - known):
        raise CNIError(ERR_UNSUPPORTED_FIELD, f"unsupported field: {where}{key}={conf[key]!r}")


def _owner(ctx: PluginContext) -> str:
    return f"{ctx.container_id}/{ctx.ifname}"


def _node(ctx: PluginContext) -> Node:
    if ctx.node is None:
        raise CNIError(ERR_INVALID_ENVIRONMENT, "the node the plugin runs on is unknown")
    return ctx.fabric.node(ctx.node)


# -- host-local ---------------------------------------------------------------------------------


class HostLocalPlugin:
    """IPAM: returns `{"ips": [{"address", "gateway"}], "routes", "dns"}` (no interfaces)."""

    supported_versions = SUPPORTED_VERSIONS

    def add(self, ctx: PluginContext) -> dict[str, Any]:
        ipam = _ipam_section(ctx.config)
        node = _node(ctx)
        store = _store(node, str(ctx.config["name"]), _ranges(ipam, node))
        requested = _requested_ip(ctx.args)
        try:
            addr, gateway = store.allocate(_owner(ctx), requested=requested)
        except AddressExhausted as exc:
            # Another pod's DEL may free an address: the runtime should retry later.
            raise CNIError(ERR_TRY_AGAIN_LATER, str(exc)) from None
        except IpamError as exc:
            raise CNIError(ERR_PLUGIN, str(exc)) from None
        routes = [_route_json(r) for r in ipam.get("routes", [])]
        return {
            "cniVersion": ctx.cni_version,
            "ips": [{"address": str(addr), "gateway": str(gateway)}],
            "routes": routes,
            "dns": dict(ctx.config.get("dns") or {}),
        }

    def delete(self, ctx: PluginContext) -> None:
        name = str(ctx.config["name"])
        nodes = list(ctx.fabric.nodes())
        if ctx.node is not None:  # a removed node took its state with it: nothing to release
            nodes = [n for n in nodes if n.name == ctx.node]
        for node in nodes:
            store = node.ipam.get(name)
            if store is not None:
                store.release(_owner(ctx))

    def check(self, ctx: PluginContext) -> None:
        store = _node(ctx).ipam.get(str(ctx.config["name"]))
        held = store.lookup(_owner(ctx)) if store is not None else None
        if held is None:
            raise CNIError(
                ERR_PLUGIN,
                f"host-local: failed to find address added by container {ctx.container_id}",
            )
        prev = ctx.config.get("prevResult") or {}
        addresses = {str(IPv4Interface(ip["address"]).ip) for ip in prev.get("ips", [])}
        if addresses and str(held) not in addresses:
            raise CNIError(
                ERR_PLUGIN, f"host-local: {held} is not in prevResult ips {sorted(addresses)}"
            )


def _ipam_section(conf: Mapping[str, Any]) -> Mapping[str, Any]:
    ipam = conf.get("ipam")
    if not isinstance(ipam, Mapping):
        raise CNIError(ERR_INVALID_CONFIG, "IPAM config missing 'ipam' section")
    _reject_unknown(ipam, _IPAM_FIELDS, "ipam.")
    return ipam


def _ranges(ipam: Mapping[str, Any], node: Node) -> list[IPRange]:
    if "ranges" in ipam:
        sets = ipam["ranges"]
        if (
            not isinstance(sets, list)
            or not sets
            or not all(isinstance(s, list) and s for s in sets)
        ):
            raise CNIError(ERR_INVALID_CONFIG, "ipam.ranges must be a non-empty list of range sets")
        if len(sets) > 1:
            raise CNIError(
                ERR_UNSUPPORTED_FIELD,
                f"unsupported field: ipam.ranges={sets!r} (one range set only)",
            )
        raw = sets[0]
    elif "subnet" in ipam:
        raw = [{k: ipam[k] for k in ("subnet", "rangeStart", "rangeEnd", "gateway") if k in ipam}]
    else:
        raise CNIError(ERR_INVALID_CONFIG, "no IP ranges specified")
    return [_range(r, node) for r in raw]


def _range(raw: Any, node: Node) -> IPRange:
    if not isinstance(raw, Mapping) or "subnet" not in raw:
        raise CNIError(ERR_INVALID_CONFIG, f"IP range {raw!r} has no subnet")
    try:
        net = ip_network(raw["subnet"], strict=False)
    except ValueError as exc:
        raise CNIError(ERR_INVALID_CONFIG, f"invalid subnet {raw['subnet']!r}", str(exc)) from None
    if net.version != 4:
        raise CNIError(ERR_UNSUPPORTED_FIELD, f"unsupported field: subnet={raw['subnet']!r} (IPv6)")
    subnet, gateway = str(net), raw.get("gateway")
    explicit = "rangeStart" in raw or "rangeEnd" in raw
    assert isinstance(net, IPv4Network)
    if not explicit and node.pod_cidr != net and node.pod_cidr.subnet_of(net):
        subnet = str(node.pod_cidr)  # the per-node slice of the cluster subnet
        if gateway and IPv4Address(gateway) not in node.pod_cidr:
            gateway = None
    try:
        return IPRange.build(subnet, raw.get("rangeStart"), raw.get("rangeEnd"), gateway)
    except ValueError as exc:
        raise CNIError(ERR_INVALID_CONFIG, f"invalid IP range: {exc}") from None


def _store(node: Node, network: str, ranges: list[IPRange]) -> HostLocalAllocator:
    store = node.ipam.get(network)
    if store is None:
        store = node.ipam[network] = HostLocalAllocator(ranges)
    elif store.ranges != tuple(ranges):
        store.reconfigure(ranges)
    return store


def _requested_ip(args: Mapping[str, str]) -> IPv4Address | None:
    if "IP" not in args:
        return None
    try:
        return IPv4Address(args["IP"])
    except ValueError:
        raise CNIError(ERR_INVALID_ENVIRONMENT, f"invalid CNI_ARGS IP={args['IP']!r}") from None


def _route_json(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or "dst" not in raw:
        raise CNIError(ERR_INVALID_CONFIG, f"route {raw!r} has no dst")
    try:
        out = {"dst": str(IPv4Network(raw["dst"]))}
        if raw.get("gw"):
            out["gw"] = str(IPv4Address(raw["gw"]))
    except ValueError as exc:
        raise CNIError(ERR_INVALID_CONFIG, f"invalid route {raw!r}", str(exc)) from None
    return out


# -- bridge and routed ----------------------------------------------------------------------------


def _ipam_type(conf: Mapping[str, Any], required: bool) -> str | None:
    ipam = conf.get("ipam")
    if not ipam:
        if required:
            raise CNIError(ERR_INVALID_CONFIG, f"{conf.get('type')} plugin needs an ipam section")
        return None  # L2-only bridge: no addresses
    if not isinstance(ipam, Mapping) or not isinstance(ipam.get("type"), str):
        raise CNIError(ERR_INVALID_CONFIG, "ipam section needs a type")
    return str(ipam["type"])


def _release(ctx: PluginContext, ipam: str | None) -> None:
    if ipam is not None:
        ctx.delegate(ipam, DEL)


class BridgePlugin:
    """The `bridge` plugin (see the module docstring)."""

    supported_versions = SUPPORTED_VERSIONS

    def add(self, ctx: PluginContext) -> dict[str, Any]:
        conf = ctx.config
        _reject_unknown(conf, _BRIDGE_FIELDS)
        ipam = _ipam_type(conf, required=False)
        node, ns = _node(ctx), ctx.netns
        assert ns is not None
        if ns.has_interface(ctx.ifname):
            raise CNIError(
                ERR_PLUGIN, f"container veth name provided ({ctx.ifname}) already exists"
            )
        result = ctx.delegate(ipam, ADD) if ipam is not None else {"ips": [], "routes": []}
        try:
            bridge = ctx.fabric.ensure_bridge(node.name, str(conf.get("bridge", "cni0")))
            inner, outer = ctx.fabric.create_veth(
                ns, ctx.ifname, veth_name(ctx.container_id, ctx.ifname)
            )
            enslave(bridge, outer)
            ips = self._configure(ctx, node, result)
        except (CNIError, NetsimError, ValueError) as exc:
            ctx.fabric.delete_link(ns, ctx.ifname)
            _release(ctx, ipam)
            if isinstance(exc, CNIError):
                raise
            raise CNIError(ERR_PLUGIN, str(exc)) from exc
        return {
            "cniVersion": ctx.cni_version,
            "interfaces": [
                {"name": bridge.name, "mac": bridge.mac},
                {"name": outer.name, "mac": outer.mac},
                {"name": inner.name, "mac": inner.mac, "sandbox": ctx.netns_path},
            ],
            "ips": ips,
            "routes": result.get("routes", []),
            "dns": result.get("dns", dict(conf.get("dns") or {})),
        }

    def _configure(
        self, ctx: PluginContext, node: Node, result: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        conf, ns = ctx.config, ctx.netns
        assert ns is not None
        default_gw = bool(conf.get("isDefaultGateway"))
        is_gw = bool(conf.get("isGateway")) or default_gw
        bridge_name = str(conf.get("bridge", "cni0"))
        ips, gateway = [], None
        for ip in result.get("ips", []):
            addr = ns.add_address(ctx.ifname, ip["address"])
            gateway = ip.get("gateway")
            if is_gw and gateway:
                gw_addr = IPv4Interface(f"{gateway}/{addr.network.prefixlen}")
                ctx.fabric.ensure_bridge(node.name, bridge_name, gw_addr)
            if conf.get("ipMasq"):
                # Masquerade what leaves the pod network; pod-to-pod stays un-NATed (see docstring).
                node.nat.add_masquerade(str(addr.network), [str(ctx.fabric.cluster_cidr)])
            ips.append({**{k: v for k, v in ip.items() if k != "version"}, "interface": 2})
        routes = [(r["dst"], r.get("gw") or gateway) for r in result.get("routes", [])]
        if default_gw and gateway and not any(dst == "0.0.0.0/0" for dst, _ in routes):
            routes.append(("0.0.0.0/0", gateway))
        for dst, via in routes:
            ns.routes.replace(Route(dst, ctx.ifname, via=via or ""))
        return ips

    def delete(self, ctx: PluginContext) -> None:
        _release(ctx, _ipam_type(ctx.config, required=False))
        if ctx.netns is not None:
            ctx.fabric.delete_link(ctx.netns, ctx.ifname)

    def check(self, ctx: PluginContext) -> None:
        _check_interfaces(ctx, bridged=str(ctx.config.get("bridge", "cni0")))
        ipam = _ipam_type(ctx.config, required=False)
        if ipam is not None:
            ctx.delegate(ipam, CHECK)


class RoutedPlugin:
    """The `routed` plugin: ptp-style veth, /32 addresses, host routes, no bridge."""

    supported_versions = SUPPORTED_VERSIONS

    def add(self, ctx: PluginContext) -> dict[str, Any]:
        conf = ctx.config
        _reject_unknown(conf, _ROUTED_FIELDS)
        ipam = _ipam_type(conf, required=True)
        assert ipam is not None
        node, ns = _node(ctx), ctx.netns
        assert ns is not None
        if ns.has_interface(ctx.ifname):
            raise CNIError(
                ERR_PLUGIN, f"container veth name provided ({ctx.ifname}) already exists"
            )
        result = ctx.delegate(ipam, ADD)
        try:
            inner, outer = ctx.fabric.create_veth(
                ns, ctx.ifname, veth_name(ctx.container_id, ctx.ifname)
            )
            ips = self._configure(ctx, node, result, outer.name)
        except (CNIError, NetsimError, ValueError) as exc:
            ctx.fabric.delete_link(ns, ctx.ifname)
            _release(ctx, ipam)
            if isinstance(exc, CNIError):
                raise
            raise CNIError(ERR_PLUGIN, str(exc)) from exc
        return {
            "cniVersion": ctx.cni_version,
            "interfaces": [
                {"name": outer.name, "mac": outer.mac},
                {"name": inner.name, "mac": inner.mac, "sandbox": ctx.netns_path},
            ],
            "ips": ips,
            "routes": result.get("routes", []),
            "dns": result.get("dns", {}),
        }

    def _configure(
        self, ctx: PluginContext, node: Node, result: Mapping[str, Any], host_if: str
    ) -> list[dict[str, Any]]:
        ns = ctx.netns
        assert ns is not None
        ips = []
        for ip in result.get("ips", []):
            addr = IPv4Interface(ip["address"]).ip
            gateway = ip.get("gateway") or str(node.gateway.ip)
            ns.add_address(ctx.ifname, f"{addr}/32")
            node.host.add_address(host_if, f"{gateway}/32")  # the host end answers ARP for it
            node.host.routes.replace(Route(f"{addr}/32", host_if, proto="kernel"))
            ns.routes.replace(Route(f"{gateway}/32", ctx.ifname))
            for r in result.get("routes", []):
                ns.routes.replace(Route(r["dst"], ctx.ifname, via=r.get("gw") or gateway))
            if ctx.config.get("ipMasq"):
                node.nat.add_masquerade(f"{addr}/32", [str(ctx.fabric.cluster_cidr)])
            ips.append({"address": f"{addr}/32", "gateway": gateway, "interface": 1})
        return ips

    def delete(self, ctx: PluginContext) -> None:
        _release(ctx, _ipam_type(ctx.config, required=False))
        if ctx.netns is not None:
            ctx.fabric.delete_link(ctx.netns, ctx.ifname)

    def check(self, ctx: PluginContext) -> None:
        _check_interfaces(ctx, bridged=None)
        ipam = _ipam_type(ctx.config, required=True)
        assert ipam is not None
        ctx.delegate(ipam, CHECK)


def _check_interfaces(ctx: PluginContext, bridged: str | None) -> None:
    """CHECK: the sandbox interface, its addresses and the host end are as prevResult says."""
    ns, prev = ctx.netns, ctx.config.get("prevResult") or {}
    assert ns is not None
    interfaces = prev.get("interfaces", [])
    mine = [
        i for i, it in enumerate(interfaces) if it.get("sandbox") and it.get("name") == ctx.ifname
    ]
    if not mine:
        raise CNIError(ERR_PLUGIN, f"prevResult has no sandbox interface {ctx.ifname}")
    if not ns.has_interface(ctx.ifname):
        raise CNIError(ERR_PLUGIN, f"interface {ctx.ifname} not found in {ctx.netns_path}")
    iface = ns.interface(ctx.ifname)
    if interfaces[mine[0]].get("mac") and interfaces[mine[0]]["mac"] != iface.mac:
        raise CNIError(
            ERR_PLUGIN,
            f"{ctx.ifname} has MAC {iface.mac}, prevResult says {interfaces[mine[0]]['mac']}",
        )
    for ip in prev.get("ips", []):
        if ip.get("interface") == mine[0] and IPv4Interface(ip["address"]) not in iface.addresses:
            raise CNIError(ERR_PLUGIN, f"{ctx.ifname} lacks address {ip['address']}")
    peer = iface.peer
    if peer is None or peer.netns is None:
        raise CNIError(ERR_PLUGIN, f"{ctx.ifname} has lost its host-side veth")
    if bridged is not None and (peer.master is None or peer.master.name != bridged):
        raise CNIError(ERR_PLUGIN, f"{peer.name} is not a port of {bridged}")


def bridge_network_config(
    subnet: str,
    *,
    name: str = "k8s-pod-network",
    bridge: str = "cni0",
    cni_version: str = "1.0.0",
) -> dict[str, Any]:
    """The usual bridge + host-local configuration for a cluster (or a node's) pod subnet."""
    return {
        "cniVersion": cni_version,
        "name": name,
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {"type": "host-local", "subnet": subnet, "routes": [{"dst": "0.0.0.0/0"}]},
    }


def builtin_registry() -> PluginRegistry:
    """A fresh registry holding only the built-in plugins (for isolated runs and tests)."""
    registry = PluginRegistry()
    _register_builtins(registry)
    return registry


def _register_builtins(registry: PluginRegistry) -> None:
    registry.register("bridge", BridgePlugin(), replace=True)
    registry.register("routed", RoutedPlugin(), replace=True)
    registry.register("host-local", HostLocalPlugin(), replace=True)


_register_builtins(DEFAULT_REGISTRY)
