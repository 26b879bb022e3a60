"""The Container Network Interface, in the shape of the CNI specification (1.0.0).

What it is: `invoke` is what a container runtime does when it execs a plugin binary — the
command (CNI_COMMAND: ADD, DEL, CHECK, VERSION), the environment (CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_ARGS) and the network configuration JSON on stdin — and what it gets back: the
result JSON, or an error carrying one of the spec's well-known codes (`CNIError`). Plugins are
objects registered by type name (`register_plugin`), the way the runtime finds a binary named
after the configuration's `type` in CNI_PATH. A plugin receives a `PluginContext` giving it the
fabric (its view of the host's kernel) and `delegate`, to call an IPAM plugin as the spec's
main plugins do.

Concurrency model: none; synchronous, like one exec of a plugin binary.

Invariants (from the spec): an unsupported cniVersion fails with code 1 and nothing changes;
missing or invalid environment fails with code 4; undecodable configuration with code 6; an
invalid configuration with code 7; ADD/CHECK on a namespace that does not exist with code 3;
DEL of an unknown container succeeds (DEL is idempotent); VERSION needs no container; CHECK
requires the `prevResult` of the earlier ADD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from netsim._namespace import NetNamespace

if TYPE_CHECKING:
    from netsim._fabric import Fabric

ADD, DEL, CHECK, VERSION = "ADD", "DEL", "CHECK", "VERSION"
COMMANDS = (ADD, DEL, CHECK, VERSION)
SPEC_VERSION = "1.0.0"

# The spec's well-known error codes (1-99 are reserved for these).
ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENVIRONMENT = 4
ERR_IO = 5
ERR_DECODE = 6
ERR_INVALID_CONFIG = 7
ERR_TRY_AGAIN_LATER = 11
# Codes 100+ are the plugin's own; ours use one for "the network is not as ADD left it" and
# for failures without a well-known code.
ERR_PLUGIN = 100

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class CNIError(Exception):
    """A plugin's error result: `{"cniVersion", "code", "msg", "details"}`."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"CNI error {code}: {msg}" + (f" ({details})" if details else ""))
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, cni_version: str = SPEC_VERSION) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": cni_version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


@dataclass(frozen=True)
class PluginContext:
    """What a plugin binary would see: its environment, its configuration, the host."""

    fabric: Fabric
    command: str
    container_id: str
    netns_path: str
    netns: NetNamespace | None  # None on DEL when the namespace is already gone
    node: str | None
    ifname: str
    config: Mapping[str, Any]
    args: Mapping[str, str] = field(default_factory=dict)
    registry: PluginRegistry | None = None

    @property
    def cni_version(self) -> str:
        return str(self.config.get("cniVersion", SPEC_VERSION))

    def delegate(self, plugin_type: str, command: str | None = None) -> dict[str, Any]:
        """Run another plugin (an IPAM plugin) with this invocation's environment and config,
        as libcni's `ipam.ExecAdd/ExecDel/ExecCheck` do."""
        registry = self.registry or DEFAULT_REGISTRY
        plugin = registry.get(plugin_type)
        sub = PluginContext(
            self.fabric,
            command or self.command,
            self.container_id,
            self.netns_path,
            self.netns,
            self.node,
            self.ifname,
            self.config,
            self.args,
            registry,
        )
        return _dispatch(plugin, sub)


@runtime_checkable
class Plugin(Protocol):
    """A CNI plugin: ADD returns the result JSON; DEL and CHECK return nothing or raise."""

    supported_versions: tuple[str, ...]

    def add(self, ctx: PluginContext) -> dict[str, Any]: ...

    def delete(self, ctx: PluginContext) -> None: ...

    def check(self, ctx: PluginContext) -> None: ...


class PluginRegistry:
    """Plugin type name → plugin: the runtime's CNI_PATH."""

    def __init__(self, plugins: Mapping[str, Plugin] | None = None) -> None:
        self._plugins: dict[str, Plugin] = dict(plugins or {})

    def register(self, plugin_type: str, plugin: Plugin, *, replace: bool = False) -> None:
        if not isinstance(plugin, Plugin):
            raise TypeError(f"{plugin!r} lacks supported_versions/add/delete/check")
        if plugin_type in self._plugins and not replace:
            raise ValueError(f"a plugin of type {plugin_type!r} is already registered")
        self._plugins[plugin_type] = plugin

    def unregister(self, plugin_type: str) -> None:
        self._plugins.pop(plugin_type, None)

    def get(self, plugin_type: str) -> Plugin:
        try:
            return self._plugins[plugin_type]
        except KeyError:
            raise CNIError(
                ERR_INVALID_CONFIG, f'failed to find plugin "{plugin_type}" in path'
            ) from None

    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self._plugins))

    def copy(self) -> PluginRegistry:
        return PluginRegistry(self._plugins)


DEFAULT_REGISTRY = PluginRegistry()


def register_plugin(
    plugin_type: str,
    plugin: Plugin,
    *,
    replace: bool = False,
    registry: PluginRegistry | None = None,
) -> None:
    """Make `plugin` available to `invoke` under `plugin_type` (the default registry unless
    one is given)."""
    (registry or DEFAULT_REGISTRY).register(plugin_type, plugin, replace=replace)


def unregister_plugin(plugin_type: str, *, registry: PluginRegistry | None = None) -> None:
    (registry or DEFAULT_REGISTRY).unregister(plugin_type)


def invoke(
    plugin_type: str,
    command: str,
    *,
    config: Mapping[str, Any] | str | bytes,
    fabric: Fabric | None = None,
    container_id: str = "",
    netns: str | NetNamespace = "",
    ifname: str = "",
    args: Mapping[str, str] | None = None,
    node: str | None = None,
    registry: PluginRegistry | None = None,
) -> dict[str, Any]:
    """Execute a CNI plugin as a runtime would; returns the result JSON (as a dict).

    ADD returns the Result; DEL and CHECK return `{}`; VERSION returns
    `{"cniVersion", "supportedVersions"}`. Failures raise `CNIError` with the spec's codes.
    `node` names the host the plugin runs on; it is taken from the namespace when omitted (a
    DEL whose namespace is gone without `node` looks for the container on every node).
    """
    if command not in COMMANDS:
        raise CNIError(
            ERR_INVALID_ENVIRONMENT,
            f"invalid CNI_COMMAND {command!r}",
            f"expected one of {COMMANDS}",
        )
    conf = _decode(config)
    plugin = (registry or DEFAULT_REGISTRY).get(plugin_type)
    version = conf.get("cniVersion")
    if command == VERSION:
        return {
            "cniVersion": version or SPEC_VERSION,
            "supportedVersions": list(plugin.supported_versions),
        }
    _check_config(conf, plugin_type, plugin)
    if fabric is None:
        raise TypeError(f"CNI {command} needs the fabric (the host the plugin runs on)")
    ctx = _context(fabric, command, conf, container_id, netns, ifname, args or {}, node, registry)
    result = _dispatch(plugin, ctx)
    return _convert(result, str(version)) if command == ADD else {}


def _decode(config: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    if isinstance(config, str | bytes):
        try:
            decoded = msgspec.json.decode(config)
        except msgspec.DecodeError as exc:
            raise CNIError(ERR_DECODE, "failed to decode network configuration", str(exc)) from None
        if not isinstance(decoded, dict):
            raise CNIError(ERR_DECODE, "network configuration is not a JSON object")
        return decoded
    return dict(config)


def _check_config(conf: Mapping[str, Any], plugin_type: str, plugin: Plugin) -> None:
    version = conf.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CNIError(ERR_INVALID_CONFIG, "network configuration has no cniVersion")
    if version not in plugin.supported_versions:
        raise CNIError(
            ERR_INCOMPATIBLE_VERSION,
            f'incompatible CNI versions; config is "{version}", plugin supports {list(plugin.supported_versions)}',
        )
    name = conf.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CNIError(ERR_INVALID_CONFIG, f"invalid network name {name!r}")
    if conf.get("type") != plugin_type:
        raise CNIError(
            ERR_INVALID_CONFIG,
            f"network configuration type {conf.get('type')!r} is not {plugin_type!r}",
        )


def _context(
    fabric: Fabric,
    command: str,
    conf: dict[str, Any],
    container_id: str,
    netns: str | NetNamespace,
    ifname: str,
    args: Mapping[str, str],
    node: str | None,
    registry: PluginRegistry | None,
) -> PluginContext:
    bad = []
    if not container_id or not _CONTAINER_ID.match(container_id):
        bad.append("CNI_CONTAINERID")
    if (
        not ifname
        or len(ifname) > 15
        or any(c in ifname for c in "/: \t\n")
        or ifname in (".", "..")
    ):
        bad.append("CNI_IFNAME")
    if not netns and command != DEL:
        bad.append("CNI_NETNS")
    if bad:
        raise CNIError(ERR_INVALID_ENVIRONMENT, f"invalid or missing {', '.join(bad)}")
    path = netns.path if isinstance(netns, NetNamespace) else netns
    ns = fabric.find_netns(netns) if netns else None
    if ns is None and command != DEL:
        raise CNIError(ERR_UNKNOWN_CONTAINER, f"network namespace {path!r} does not exist")
    if ns is not None and node is not None and ns.node != node:
        raise CNIError(ERR_INVALID_ENVIRONMENT, f"CNI_NETNS {path} is on {ns.node}, not on {node}")
    if command == CHECK and "prevResult" not in conf:
        raise CNIError(ERR_INVALID_CONFIG, "required prevResult missing")
    where = ns.node if ns is not None else node
    return PluginContext(
        fabric, command, container_id, path, ns, where, ifname, conf, dict(args), registry
    )


def _dispatch(plugin: Plugin, ctx: PluginContext) -> dict[str, Any]:
    if ctx.command == ADD:
        return plugin.add(ctx)
    if ctx.command == DEL:
        plugin.delete(ctx)
    else:
        plugin.check(ctx)
    return {}


def _convert(result: dict[str, Any], version: str) -> dict[str, Any]:
    """Stamp the configuration's cniVersion; a 0.4.0 result also carries `ips[].version`."""
    out = dict(result, cniVersion=version)
    if version.startswith("0."):
        out["ips"] = [dict(ip, version="4") for ip in out.get("ips", [])]
    return out
