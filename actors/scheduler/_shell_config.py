"""The scheduler shell's configuration: ``SchedulerConfig`` and the KubeSchedulerConfiguration
reader (``kubescheduler.config.k8s.io/v1``) that builds it.

What it is: the knobs kube-scheduler reads from its ``--config`` file, with Kubernetes'
defaults: the profiles (one per ``schedulerName``: which plugins, their score weights,
some plugin arguments, ``percentageOfNodesToScore``), the global
``percentageOfNodesToScore`` (0: adaptive), the pod back-off (1 s to 10 s), the leader
election (a Lease ``kube-system/kube-scheduler``, 15 s / 10 s / 2 s, or the legacy
``endpoints``/``configmaps`` lock) and the client connection (QPS 50, burst 100).

``SchedulerConfig.from_api(doc)`` accepts the document as a dict (the YAML one would pass
with ``--config``, already parsed) and rejects unknown plugin names and fields it does not
model with ``ValueError`` — a configuration typo should fail loudly at start, as
kube-scheduler's validation does, not be ignored. For profiles that need plugins of one's
own, pass ``profiles=`` a callable building ``Profile`` objects instead.

Concurrency model: none; immutable values. ``profiles()`` builds fresh plugin instances on
each call (every scheduler (re)start gets its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from actors.scheduler._framework import Profile
from actors.scheduler._plugins import (
    BalancedAllocation,
    DefaultBinder,
    DefaultPreemption,
    ImageLocality,
    InterPodAffinity,
    NodeAffinity,
    NodeName,
    NodePorts,
    NodeResourcesFit,
    NodeUnschedulable,
    PodTopologySpread,
    TaintToleration,
)
from actors.scheduler._plugins.helper import parse_spread_constraints

__all__ = ["DEFAULT_SCHEDULER_NAME", "PLUGIN_NAMES", "SchedulerConfig", "profile_from_api"]

DEFAULT_SCHEDULER_NAME = "default-scheduler"

# The in-tree plugins in Kubernetes' MultiPoint order (default_plugins.go), each built from
# its pluginConfig args (an empty dict when none are given).
_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "NodeUnschedulable": lambda a: NodeUnschedulable(),
    "NodeName": lambda a: NodeName(),
    "TaintToleration": lambda a: TaintToleration(),
    "NodeAffinity": lambda a: NodeAffinity(),
    "NodePorts": lambda a: NodePorts(),
    "NodeResourcesFit": lambda a: NodeResourcesFit(*_fit_resources(a)),
    "PodTopologySpread": lambda a: PodTopologySpread(_spread_defaults(a)),
    "InterPodAffinity": lambda a: InterPodAffinity(int(a.get("hardPodAffinityWeight", 1))),
    "DefaultPreemption": lambda a: DefaultPreemption(
        int(a.get("minCandidateNodesPercentage", 10)),
        int(a.get("minCandidateNodesAbsolute", 100))),
    "NodeResourcesBalancedAllocation": lambda a: BalancedAllocation(*_fit_resources(a)),
    "ImageLocality": lambda a: ImageLocality(),
    "DefaultBinder": lambda a: DefaultBinder(),
}
PLUGIN_NAMES = tuple(_BUILDERS)
_PROFILE_KEYS = {"schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore"}
_TOP_KEYS = {"apiVersion", "kind", "profiles", "percentageOfNodesToScore",
             "podInitialBackoffSeconds", "podMaxBackoffSeconds", "leaderElection",
             "clientConnection", "parallelism"}
# Extension points a profile may configure; all but multiPoint only enable/disable (and
# weight, for score) plugins that are in the MultiPoint set.
_POINTS = ("multiPoint", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score",
           "reserve", "permit", "preBind", "bind", "postBind")


def _fit_resources(args: Mapping[str, Any]) -> tuple[tuple[tuple[str, int], ...], ...]:
    strategy = args.get("scoringStrategy") or {}
    resources = strategy.get("resources")
    if not resources:
        return ()
    if strategy.get("type", "LeastAllocated") != "LeastAllocated":
        raise ValueError(f"scoringStrategy.type {strategy.get('type')!r} is not modelled "
                         "(only LeastAllocated)")
    return (tuple((str(r["name"]), int(r.get("weight", 1))) for r in resources),)


def _spread_defaults(args: Mapping[str, Any]) -> Any:
    if args.get("defaultingType", "System") == "System":
        return None
    return parse_spread_constraints(args.get("defaultConstraints") or [])


def _names(entries: Sequence[Mapping[str, Any]] | None) -> list[str]:
    return [str(e.get("name", "")) for e in entries or ()]


def profile_from_api(doc: Mapping[str, Any], global_percentage: int | None = None) -> Profile:
    """One ``profiles[]`` entry of a KubeSchedulerConfiguration as a ``Profile``."""
    unknown = set(doc) - _PROFILE_KEYS
    if unknown:
        raise ValueError(f"profile: unknown field(s) {sorted(unknown)}")
    name = str(doc.get("schedulerName") or DEFAULT_SCHEDULER_NAME)
    plugins = doc.get("plugins") or {}
    for point in plugins:
        if point not in _POINTS:
            raise ValueError(f"profile {name}: unknown extension point {point!r}")
    enabled = list(PLUGIN_NAMES)
    weights: dict[str, int] = {}
    for point, cfg in plugins.items():
        disabled = _names((cfg or {}).get("disabled"))
        if "*" in disabled:
            disabled = list(PLUGIN_NAMES)
        if point == "multiPoint":
            enabled = [n for n in enabled if n not in disabled]
        elif disabled:
            # A plugin disabled at one point only: the model runs plugins at every point
            # they implement, so this is only allowed when it removes the plugin entirely.
            enabled = [n for n in enabled if n not in disabled]
        for entry in (cfg or {}).get("enabled") or ():
            pname = str(entry.get("name", ""))
            if pname not in _BUILDERS:
                raise ValueError(f"profile {name}: unknown plugin {pname!r}; "
                                 f"known: {list(PLUGIN_NAMES)}")
            if pname not in enabled:
                enabled.append(pname)
            if entry.get("weight") is not None and point in ("multiPoint", "score"):
                weights[pname] = int(entry["weight"])
    args: dict[str, Mapping[str, Any]] = {}
    for pc in doc.get("pluginConfig") or ():
        pname = str(pc.get("name", ""))
        if pname not in _BUILDERS:
            raise ValueError(f"profile {name}: pluginConfig for unknown plugin {pname!r}")
        args[pname] = pc.get("args") or {}
    order = [n for n in PLUGIN_NAMES if n in enabled]
    pct = doc.get("percentageOfNodesToScore")
    return Profile(name, [_BUILDERS[n](args.get(n, {})) for n in order], weights,
                   percentage_of_nodes_to_score=None if pct is None else int(pct))


def _default_profiles() -> list[Profile]:
    return [Profile()]


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """What one kube-scheduler replica runs with (Kubernetes' defaults throughout)."""

    profiles: Callable[[], list[Profile]] = _default_profiles
    percentage_of_nodes_to_score: int = 0  # 0: adaptive (50% - nodes/125, at least 5%)
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    pod_max_in_unschedulable: float = 300.0
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_lock: str = "leases"  # leases | endpoints | configmaps (the legacy locks)
    resource_name: str = "kube-scheduler"
    resource_namespace: str = "kube-system"
    qps: float = 50.0
    burst: int = 100
    flush_interval: float = 1.0  # backoffQ flush (flushBackoffQCompleted runs every second)
    unschedulable_flush_interval: float = 30.0  # flushUnschedulablePodsLeftover

    def __post_init__(self) -> None:
        if not 0 <= self.percentage_of_nodes_to_score <= 100:
            raise ValueError("percentageOfNodesToScore must be in [0, 100]")
        if self.resource_lock not in ("leases", "endpoints", "configmaps"):
            raise ValueError(f"unknown resource lock {self.resource_lock!r} "
                             "(leases, endpoints, configmaps)")
        if self.pod_initial_backoff <= 0 or self.pod_max_backoff < self.pod_initial_backoff:
            raise ValueError("podInitialBackoffSeconds must be > 0 and <= podMaxBackoffSeconds")

    def build_profiles(self) -> dict[str, Profile]:
        profiles = self.profiles()
        out: dict[str, Profile] = {}
        for p in profiles:
            if p.name in out:
                raise ValueError(f"duplicate profile for schedulerName {p.name!r}")
            out[p.name] = p
        if not out:
            raise ValueError("a scheduler needs at least one profile")
        return out

    @classmethod
    def from_api(cls, doc: Mapping[str, Any] | None, **overrides: Any) -> SchedulerConfig:
        """Read a KubeSchedulerConfiguration document (``None``: all defaults)."""
        doc = doc or {}
        unknown = set(doc) - _TOP_KEYS
        if unknown:
            raise ValueError(f"KubeSchedulerConfiguration: unknown field(s) {sorted(unknown)}")
        kw: dict[str, Any] = {}
        if "percentageOfNodesToScore" in doc:
            kw["percentage_of_nodes_to_score"] = int(doc["percentageOfNodesToScore"])
        if "podInitialBackoffSeconds" in doc:
            kw["pod_initial_backoff"] = float(doc["podInitialBackoffSeconds"])
        if "podMaxBackoffSeconds" in doc:
            kw["pod_max_backoff"] = float(doc["podMaxBackoffSeconds"])
        kw.update(_leader_election(doc.get("leaderElection") or {}))
        conn = doc.get("clientConnection") or {}
        if "qps" in conn:
            kw["qps"] = float(conn["qps"])
        if "burst" in conn:
            kw["burst"] = int(conn["burst"])
        profile_docs = list(doc.get("profiles") or ())
        if profile_docs:
            # Validate now (a typo fails at build time), build fresh on every start.
            for p in profile_docs:
                profile_from_api(p)
            kw["profiles"] = lambda: [profile_from_api(p) for p in profile_docs]
        kw.update(overrides)
        return cls(**kw)


def _seconds(v: Any) -> float:
    """A metav1.Duration ("15s", "1m30s", "500ms") or a number of seconds."""
    if isinstance(v, int | float):
        return float(v)
    text, total, num = str(v), 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not num:
            raise ValueError(f"bad duration {v!r}")
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise ValueError(f"bad duration {v!r} (missing unit)")
    return total


def _leader_election(le: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, attr in (("leaseDuration", "lease_duration"), ("renewDeadline", "renew_deadline"),
                      ("retryPeriod", "retry_period")):
        if key in le:
            out[attr] = _seconds(le[key])
    for key, attr in (("leaderElect", "leader_elect"), ("resourceLock", "resource_lock"),
                      ("resourceName", "resource_name"),
                      ("resourceNamespace", "resource_namespace")):
        if key in le:
            out[attr] = le[key]
    return out
