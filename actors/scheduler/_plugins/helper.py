"""Shared scheduling helpers: the parsed forms of the pod and node API fields plugins read.

What it is: the pure functions and frozen values Kubernetes keeps in
``component-helpers/scheduling/corev1`` and ``scheduler/framework/plugins/helper``:
taints and tolerations, node selector terms (node affinity), pod affinity terms, topology
spread constraint specs, host ports, and ``DefaultNormalizeScore``.

Concurrency model: none. Everything here is immutable once built; safe to share.

Invariants:
- Parsing happens once per object (``PodInfo``/``NodeInfo`` construction); matching never
  parses. A term Kubernetes would fail to parse is kept as "matches nothing", as
  ``nodeaffinity`` does with its lazy errors.
- A nil label selector matches nothing, an empty one everything
  (``metav1.LabelSelectorAsSelector``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from actors.api._labels import (
    SelectorError,
    selector_from_api,
    selector_from_node_selector_requirements,
)

__all__ = [
    "MAX_NODE_SCORE",
    "AffinityTerm",
    "HostPort",
    "NodeSelector",
    "SpreadConstraintSpec",
    "Taint",
    "Toleration",
    "WeightedAffinityTerm",
    "WeightedNodeSelectorTerm",
    "default_normalize_score",
    "is_scalar_resource_name",
    "label_matcher",
    "parse_taints",
    "parse_tolerations",
    "tolerations_tolerate_taint",
    "find_untolerated_taint",
]

MAX_NODE_SCORE = 100

EFFECT_NO_SCHEDULE = "NoSchedule"
EFFECT_NO_EXECUTE = "NoExecute"
EFFECT_PREFER_NO_SCHEDULE = "PreferNoSchedule"


def is_scalar_resource_name(name: str) -> bool:
    """Extended, hugepages, prefixed-native and attachable-volume resources."""
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


def label_matcher(selector: Mapping[str, Any] | None) -> Any:
    """A LabelSelector in API form, parsed once (nil matches nothing, {} everything)."""
    return selector_from_api(None if selector is None else dict(selector))


# -- taints and tolerations (component-helpers/scheduling/corev1) -------------------------


class Taint(msgspec.Struct, frozen=True):
    key: str
    value: str = ""
    effect: str = ""


class Toleration(msgspec.Struct, frozen=True):
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """``Toleration.ToleratesTaint``: an empty effect or key is a wildcard."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


def parse_taints(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Taint, ...]:
    return tuple(
        Taint(t.get("key", ""), t.get("value", "") or "", t.get("effect", "") or "")
        for t in raw or ()
    )


def parse_tolerations(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(
            t.get("key", "") or "",
            t.get("operator", "") or "",
            t.get("value", "") or "",
            t.get("effect", "") or "",
        )
        for t in raw or ()
    )


def tolerations_tolerate_taint(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def find_untolerated_taint(
    taints: Sequence[Taint], tolerations: Sequence[Toleration], effects: frozenset[str]
) -> Taint | None:
    """``FindMatchingUntoleratedTaint``: the first taint (in node order) not tolerated."""
    for taint in taints:
        if taint.effect in effects and not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


DO_NOT_SCHEDULE_EFFECTS = frozenset({EFFECT_NO_SCHEDULE, EFFECT_NO_EXECUTE})


# -- node selector terms (component-helpers/scheduling/corev1/nodeaffinity) ----------------


class _NameField(msgspec.Struct, frozen=True):
    """A ``matchFields`` requirement: only ``metadata.name`` In/NotIn one name exists."""

    operator: str
    names: frozenset[str]

    def matches(self, node_name: str) -> bool:
        return (node_name in self.names) == (self.operator == "In")


class _Term(msgspec.Struct, frozen=True):
    labels: Any  # a Selector over node labels, or None when the term has no expressions
    fields: tuple[_NameField, ...] | None
    valid: bool = True

    def matches(self, node_labels: Mapping[str, str], node_name: str) -> bool:
        # "nil or empty term selects no objects"; a term that failed to parse never matches
        if not self.valid or (self.labels is None and self.fields is None):
            return False
        if self.labels is not None and not self.labels.matches(node_labels):
            return False
        return self.fields is None or all(f.matches(node_name) for f in self.fields)


def _term(raw: Mapping[str, Any]) -> _Term:
    labels: Any = None
    fields: tuple[_NameField, ...] | None = None
    valid = True
    if raw.get("matchExpressions"):
        try:
            labels = selector_from_node_selector_requirements(raw["matchExpressions"])
        except SelectorError:
            valid = False
    if raw.get("matchFields"):
        parsed = []
        for r in raw["matchFields"]:
            values = list(r.get("values") or ())
            # Field selectors know metadata.name, with In/NotIn of exactly one value.
            if (r.get("key") != "metadata.name" or r.get("operator") not in ("In", "NotIn")
                    or len(values) != 1):
                valid = False
                continue
            parsed.append(_NameField(r["operator"], frozenset(values)))
        fields = tuple(parsed)
    return _Term(labels, fields, valid)


class NodeSelector(msgspec.Struct, frozen=True):
    """Required node affinity terms, ORed (``nodeaffinity.NodeSelector``)."""

    terms: tuple[_Term, ...]

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> NodeSelector:
        return cls(tuple(_term(t) for t in raw.get("nodeSelectorTerms") or ()))

    def matches(self, node_labels: Mapping[str, str], node_name: str) -> bool:
        return any(t.matches(node_labels, node_name) for t in self.terms)

    def metadata_name_sets(self) -> list[frozenset[str] | None]:
        """Per term, the node names its ``metadata.name In`` fields allow (None: any)."""
        out: list[frozenset[str] | None] = []
        for t in self.terms:
            names: frozenset[str] | None = None
            for r in t.fields or ():
                if r.operator == "In":
                    names = r.names if names is None else names & r.names
            out.append(names)
        return out


class WeightedNodeSelectorTerm(msgspec.Struct, frozen=True):
    weight: int
    term: _Term


def parse_preferred_node_terms(raw: Iterable[Mapping[str, Any]] | None) -> tuple[
    WeightedNodeSelectorTerm, ...
]:
    # nodeaffinity.NewPreferredSchedulingTerms drops zero-weight terms.
    return tuple(
        WeightedNodeSelectorTerm(int(p.get("weight", 0)), _term(p.get("preference") or {}))
        for p in raw or ()
        if int(p.get("weight", 0)) != 0
    )


def required_node_affinity_matches(
    node_selector: Mapping[str, str],
    required: NodeSelector | None,
    node_labels: Mapping[str, str],
    node_name: str,
) -> bool:
    """``GetRequiredNodeAffinity(pod).Match(node)``: nodeSelector AND required terms."""
    for k, v in node_selector.items():
        if node_labels.get(k) != v:
            return False
    return required is None or required.matches(node_labels, node_name)


# -- pod affinity terms (framework.AffinityTerm) ------------------------------------------


class AffinityTerm(msgspec.Struct, frozen=True):
    namespaces: frozenset[str]
    selector: Any  # Selector over pod labels
    topology_key: str
    namespace_selector: Any  # Selector over namespace labels, or None
    # The selector as (key, allowed values) pairs when every requirement is In/Equals (the
    # usual matchLabels): the same verdict as ``selector.matches``, without the calls.
    fast: tuple[tuple[str, frozenset[str]], ...] | None = None

    def matches(self, namespace: str, labels: Mapping[str, str],
                ns_labels: Mapping[str, str] | None) -> bool:
        """Does a pod (its namespace and labels) match this term?"""
        if namespace in self.namespaces or (
            self.namespace_selector is not None
            and self.namespace_selector.matches(ns_labels or {})
        ):
            fast = self.fast
            if fast is None:
                return self.selector.matches(labels)
            for key, values in fast:
                if labels.get(key) not in values:
                    return False
            return True
        return False


def _fast_selector(selector: Any) -> tuple[tuple[str, frozenset[str]], ...] | None:
    if getattr(selector, "matches_nothing", True):
        return None
    reqs = getattr(selector, "requirements", None)
    if reqs is None or any(str(r.operator) not in ("in", "=", "==") for r in reqs):
        return None
    return tuple((r.key, frozenset(r.values)) for r in reqs)


class WeightedAffinityTerm(msgspec.Struct, frozen=True):
    term: AffinityTerm
    weight: int


def affinity_term(pod_namespace: str, raw: Mapping[str, Any]) -> AffinityTerm:
    namespaces = list(raw.get("namespaces") or ())
    ns_sel = raw.get("namespaceSelector")
    if not namespaces and ns_sel is None:
        namespaces = [pod_namespace]
    selector = label_matcher(raw.get("labelSelector"))
    return AffinityTerm(
        frozenset(namespaces),
        selector,
        raw.get("topologyKey", ""),
        None if ns_sel is None else label_matcher(ns_sel),
        _fast_selector(selector),
    )


# -- topology spread constraints ----------------------------------------------------------


class SpreadConstraintSpec(msgspec.Struct, frozen=True):
    """A ``v1.TopologySpreadConstraint`` with defaults applied (selector not yet merged)."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: dict[str, Any] | None
    min_domains: int = 1
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"
    match_label_keys: tuple[str, ...] = ()


def parse_spread_constraints(
    raw: Iterable[Mapping[str, Any]] | None,
) -> tuple[SpreadConstraintSpec, ...]:
    return tuple(
        SpreadConstraintSpec(
            int(c.get("maxSkew", 1)),
            c.get("topologyKey", ""),
            c.get("whenUnsatisfiable", "DoNotSchedule"),
            c.get("labelSelector"),
            int(c.get("minDomains") or 1),
            c.get("nodeAffinityPolicy") or "Honor",
            c.get("nodeTaintsPolicy") or "Ignore",
            tuple(c.get("matchLabelKeys") or ()),
        )
        for c in raw or ()
    )


# -- host ports ---------------------------------------------------------------------------


class HostPort(msgspec.Struct, frozen=True):
    ip: str
    protocol: str
    port: int


DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def host_ports(containers: Iterable[Mapping[str, Any]]) -> tuple[HostPort, ...]:
    out = []
    for c in containers:
        for p in c.get("ports") or ():
            port = int(p.get("hostPort") or 0)
            if port > 0:
                out.append(HostPort(p.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP,
                                    p.get("protocol") or "TCP", port))
    return tuple(out)


def ports_conflict(used: Mapping[str, set[tuple[str, int]]], want: HostPort) -> bool:
    """``HostPortInfo.CheckConflict``: 0.0.0.0 conflicts with every IP, and back."""
    pp = (want.protocol, want.port)
    if want.ip == DEFAULT_BIND_ALL_HOST_IP:
        return any(pp in ports for ports in used.values())
    return pp in used.get(DEFAULT_BIND_ALL_HOST_IP, ()) or pp in used.get(want.ip, ())


# -- scores -------------------------------------------------------------------------------


def default_normalize_score(scores: Sequence[int], *, reverse: bool) -> list[int]:
    """``helper.DefaultNormalizeScore`` with MaxNodeScore: scale to [0, 100] by the max."""
    max_count = max(scores, default=0)
    if max_count <= 0:
        return [MAX_NODE_SCORE if reverse else s for s in scores]
    out = []
    for s in scores:
        v = MAX_NODE_SCORE * s // max_count if s >= 0 else -((-MAX_NODE_SCORE * s) // max_count)
        out.append(MAX_NODE_SCORE - v if reverse else v)
    return out
