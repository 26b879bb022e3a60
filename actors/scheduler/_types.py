"""The scheduler's precomputed views of pods and nodes: PodInfo, NodeInfo, Snapshot.

What it is: the Python counterparts of kube-scheduler's ``framework.PodInfo``,
``framework.NodeInfo`` and ``cache.Snapshot``. Kubernetes objects arrive as plain dicts in
their JSON form and are converted once: requests in millicores/bytes/pod counts, parsed
tolerations, node affinity, spread constraints, pod (anti-)affinity terms, host ports.

Concurrency model: none. ``PodInfo`` is frozen. ``NodeInfo`` is mutable but owned: by the
scheduler cache (which hands out clones in snapshots), or by a preemption dry run that
cloned it. Plugins treat every ``NodeInfo`` they are given as read-only.

Invariants:
- A pod's effective request is max(sum of app and sidecar containers, max over init
  containers of (init + sidecars started before it)) + overhead, summed as exact quantities
  and rounded up once (``resourcehelper.PodRequests``).
- ``NodeInfo.requested`` is the sum of its pods' requests; ``non0_cpu``/``non0_mem`` the sum
  with 100m / 200Mi for each container that states no cpu / memory request (used only
  for scoring, as Kubernetes does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import msgspec

from actors.api._quantity import Quantity, parse_quantity
from actors.scheduler._plugins.helper import (
    AffinityTerm,
    HostPort,
    NodeSelector,
    SpreadConstraintSpec,
    Taint,
    Toleration,
    WeightedAffinityTerm,
    WeightedNodeSelectorTerm,
    affinity_term,
    host_ports,
    is_scalar_resource_name,
    parse_preferred_node_terms,
    parse_spread_constraints,
    parse_taints,
    parse_tolerations,
)

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "ImageStateSummary",
    "NodeInfo",
    "PodInfo",
    "Resource",
    "Snapshot",
    "is_scalar_resource_name",
]

DEFAULT_MILLI_CPU_REQUEST = 100  # schedutil.DefaultMilliCPURequest
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # schedutil.DefaultMemoryRequest (200Mi)
_NON_MISSING = {"cpu": Quantity.from_milli(DEFAULT_MILLI_CPU_REQUEST),
                "memory": Quantity(DEFAULT_MEMORY_REQUEST)}


class Resource(msgspec.Struct, frozen=True):
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = msgspec.field(default_factory=dict)

    @classmethod
    def from_quantities(cls, q: Mapping[str, Quantity]) -> Resource:
        scalar = {k: v.value_int() for k, v in q.items() if is_scalar_resource_name(k)}
        return cls(
            q["cpu"].milli_value() if "cpu" in q else 0,
            q["memory"].value_int() if "memory" in q else 0,
            q["ephemeral-storage"].value_int() if "ephemeral-storage" in q else 0,
            q["pods"].value_int() if "pods" in q else 0,
            scalar,
        )

    @classmethod
    def from_api(cls, rl: Mapping[str, Any] | None) -> Resource:
        return cls.from_quantities({k: parse_quantity(v) for k, v in (rl or {}).items()})


# -- pod requests (k8s.io/component-helpers/resource PodRequests) -------------------------


def _add(into: dict[str, Quantity], rl: Mapping[str, Quantity]) -> None:
    for k, v in rl.items():
        into[k] = into[k] + v if k in into else v


def _max(into: dict[str, Quantity], rl: Mapping[str, Quantity]) -> None:
    for k, v in rl.items():
        if k not in into or v > into[k]:
            into[k] = v


def _container_requests(c: Mapping[str, Any], non_missing: bool) -> dict[str, Quantity]:
    raw = (c.get("resources") or {}).get("requests") or {}
    reqs = {k: parse_quantity(v) for k, v in raw.items()}
    if non_missing:
        for k, v in _NON_MISSING.items():
            reqs.setdefault(k, v)
    return reqs


def pod_requests(spec: Mapping[str, Any], *, non_missing: bool = False) -> dict[str, Quantity]:
    """The effective requests of a pod, overhead included."""
    reqs: dict[str, Quantity] = {}
    for c in spec.get("containers") or ():
        _add(reqs, _container_requests(c, non_missing))
    sidecars: dict[str, Quantity] = {}
    init_max: dict[str, Quantity] = {}
    for c in spec.get("initContainers") or ():
        creqs = _container_requests(c, non_missing)
        if c.get("restartPolicy") == "Always":
            # A sidecar keeps running: it adds to the pod and to every later init container.
            _add(reqs, creqs)
            _add(sidecars, creqs)
            effective = dict(sidecars)
        else:
            effective = dict(creqs)
            _add(effective, sidecars)
        _max(init_max, effective)
    _max(reqs, init_max)
    _add(reqs, {k: parse_quantity(v) for k, v in (spec.get("overhead") or {}).items()})
    return reqs


# -- PodInfo ------------------------------------------------------------------------------


class OwnerRef(msgspec.Struct, frozen=True):
    api_version: str
    kind: str
    name: str
    uid: str


def _normalized_image(name: str) -> str:
    # ImageLocality's normalizedImageName: an untagged image means ":latest".
    return name + ":latest" if name.rfind(":") <= name.rfind("/") else name


class PodInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A pod and everything the plugins precompute from it (``framework.PodInfo``)."""

    pod: dict[str, Any]
    key: str
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    node_name: str
    scheduler_name: str
    priority: int
    preemption_policy: str
    nominated_node_name: str
    terminating: bool
    preempted_by_scheduler: bool
    start_time: str
    owner: OwnerRef | None
    requests: Resource
    non0_cpu: int
    non0_mem: int
    tolerations: tuple[Toleration, ...]
    node_selector: dict[str, str]
    required_node_affinity: NodeSelector | None
    preferred_node_affinity: tuple[WeightedNodeSelectorTerm, ...]
    spread_constraints: tuple[SpreadConstraintSpec, ...]
    has_pod_affinity: bool
    required_affinity_terms: tuple[AffinityTerm, ...]
    required_anti_affinity_terms: tuple[AffinityTerm, ...]
    preferred_affinity_terms: tuple[WeightedAffinityTerm, ...]
    preferred_anti_affinity_terms: tuple[WeightedAffinityTerm, ...]
    host_ports: tuple[HostPort, ...]
    images: tuple[str, ...]
    scheduling_gates: tuple[str, ...]

    @classmethod
    def from_api(cls, pod: Mapping[str, Any]) -> PodInfo:
        pod = dict(pod)
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        ns = meta.get("namespace") or "default"
        name = meta.get("name", "")
        uid = meta.get("uid") or ""
        reqs = pod_requests(spec)
        non0 = pod_requests(spec, non_missing=True)
        affinity = spec.get("affinity") or {}
        node_aff = affinity.get("nodeAffinity") or {}
        required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
        pa = affinity.get("podAffinity")
        paa = affinity.get("podAntiAffinity")
        inits = spec.get("initContainers") or ()
        containers = spec.get("containers") or ()
        sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
        return cls(
            pod=pod,
            key=uid or f"{ns}/{name}",
            namespace=ns,
            name=name,
            uid=uid,
            labels=dict(meta.get("labels") or {}),
            node_name=spec.get("nodeName") or "",
            scheduler_name=spec.get("schedulerName") or "default-scheduler",
            priority=int(spec.get("priority") or 0),
            preemption_policy=spec.get("preemptionPolicy") or "PreemptLowerPriority",
            nominated_node_name=status.get("nominatedNodeName") or "",
            terminating=meta.get("deletionTimestamp") is not None,
            preempted_by_scheduler=_preempted_by_scheduler(status),
            start_time=status.get("startTime") or "",
            owner=_controller_of(meta),
            requests=Resource.from_quantities(reqs),
            non0_cpu=non0["cpu"].milli_value() if "cpu" in non0 else 0,
            non0_mem=non0["memory"].value_int() if "memory" in non0 else 0,
            tolerations=parse_tolerations(spec.get("tolerations")),
            node_selector=dict(spec.get("nodeSelector") or {}),
            required_node_affinity=NodeSelector.from_api(required) if required else None,
            preferred_node_affinity=parse_preferred_node_terms(
                node_aff.get("preferredDuringSchedulingIgnoredDuringExecution")),
            spread_constraints=parse_spread_constraints(spec.get("topologySpreadConstraints")),
            has_pod_affinity=pa is not None or paa is not None,
            required_affinity_terms=_terms(ns, pa),
            required_anti_affinity_terms=_terms(ns, paa),
            preferred_affinity_terms=_weighted_terms(ns, pa),
            preferred_anti_affinity_terms=_weighted_terms(ns, paa),
            host_ports=host_ports([*containers, *sidecars]),
            images=tuple(_normalized_image(c.get("image", "")) for c in [*inits, *containers]),
            scheduling_gates=tuple(g.get("name", "") for g in spec.get("schedulingGates") or ()),
        )

    def with_node_name(self, node_name: str) -> PodInfo:
        """The assumed pod: a copy with ``spec.nodeName`` set (the original is untouched)."""
        pod = dict(self.pod)
        pod["spec"] = {**(pod.get("spec") or {}), "nodeName": node_name}
        return msgspec.structs.replace(self, pod=pod, node_name=node_name)


_INTERNED: dict[tuple[str, bytes], AffinityTerm] = {}
_INTERN_LIMIT = 4096


def _interned_term(ns: str, raw: Mapping[str, Any]) -> AffinityTerm:
    """Pods of one template share one AffinityTerm object (terms are immutable), so the
    affinity plugin can match a term once per cycle instead of once per pod."""
    key = (ns, msgspec.json.encode(raw, order="sorted"))
    term = _INTERNED.get(key)
    if term is None:
        if len(_INTERNED) >= _INTERN_LIMIT:
            _INTERNED.clear()
        term = _INTERNED[key] = affinity_term(ns, raw)
    return term


def _terms(ns: str, section: Mapping[str, Any] | None) -> tuple[AffinityTerm, ...]:
    raw = (section or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or ()
    return tuple(_interned_term(ns, t) for t in raw)


def _weighted_terms(ns: str, section: Mapping[str, Any] | None) -> tuple[
    WeightedAffinityTerm, ...
]:
    raw = (section or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    return tuple(
        WeightedAffinityTerm(affinity_term(ns, t.get("podAffinityTerm") or {}),
                             int(t.get("weight", 0)))
        for t in raw
    )


def _controller_of(meta: Mapping[str, Any]) -> OwnerRef | None:
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return OwnerRef(ref.get("apiVersion", ""), ref.get("kind", ""),
                            ref.get("name", ""), ref.get("uid", ""))
    return None


def _preempted_by_scheduler(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "DisruptionTarget" and c.get("reason") == "PreemptionByScheduler"
        for c in status.get("conditions") or ()
    )


# -- NodeInfo -----------------------------------------------------------------------------


class ImageStateSummary(msgspec.Struct, frozen=True):
    size: int
    num_nodes: int


class NodeImageStates(Mapping[str, ImageStateSummary]):
    """A node's images with how many nodes hold each (``NodeInfo.ImageStates``), read from
    the cache's cluster-wide counts when asked: one node pulling an image changes every
    node's summary, and recomputing them all on each pull was O(nodes) per pull."""

    __slots__ = ("_counts", "_sizes")

    def __init__(self, sizes: Mapping[str, int],
                 counts: Mapping[str, tuple[int, set[str]]]) -> None:
        self._sizes, self._counts = sizes, counts

    def __getitem__(self, image: str) -> ImageStateSummary:
        size = self._sizes.get(image)
        entry = self._counts.get(image)
        if size is None or entry is None:
            raise KeyError(image)
        return ImageStateSummary(size, len(entry[1]))  # this node's size, as Kubernetes

    def __iter__(self) -> Iterator[str]:
        return (i for i in self._sizes if i in self._counts)

    def __len__(self) -> int:
        return sum(1 for i in self._sizes if i in self._counts)

    def __bool__(self) -> bool:
        return any(i in self._counts for i in self._sizes)


class NodeInfo:
    """A node and the pods assigned (or assumed) to it, with running totals."""

    __slots__ = (
        "allocatable", "generation", "image_sizes", "image_states", "label_groups", "labels",
        "name", "node", "non0_cpu", "non0_mem", "pods", "pods_with_affinity",
        "pods_with_required_anti_affinity", "req_cpu", "req_ephemeral", "req_memory",
        "req_scalar", "taints", "unschedulable", "used_ports",
    )

    def __init__(self, node: Mapping[str, Any] | None = None, name: str = "") -> None:
        self.node: dict[str, Any] | None = None
        self.name = name
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.allocatable = Resource()
        self.image_sizes: dict[str, int] = {}
        self.image_states: Mapping[str, ImageStateSummary] = {}
        self.pods: list[PodInfo] = []
        # Live (non-terminating) pods grouped by (namespace, labels): counting the pods a
        # selector matches (topology spreading) visits each distinct label set once.
        self.label_groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.req_cpu = self.req_memory = self.req_ephemeral = 0
        self.req_scalar: dict[str, int] = {}
        self.non0_cpu = self.non0_mem = 0
        self.used_ports: dict[str, set[tuple[str, int]]] = {}
        self.generation = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: Mapping[str, Any]) -> None:
        node = dict(node)
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name = meta.get("name", "")
        self.labels = dict(meta.get("labels") or {})
        self.taints = parse_taints(spec.get("taints"))
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_api(status.get("allocatable"))
        self.image_sizes = {
            n: int(img.get("sizeBytes") or 0)
            for img in status.get("images") or ()
            for n in img.get("names") or ()
        }

    def clear_node(self) -> None:
        """The node object is gone but pods still point at it (a 'ghost' entry)."""
        self.node = None

    @property
    def requested(self) -> Resource:
        return Resource(self.req_cpu, self.req_memory, self.req_ephemeral, 0,
                        dict(self.req_scalar))

    def add_pod(self, pi: PodInfo) -> None:
        self.pods.append(pi)
        if pi.has_pod_affinity:
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pi)
        self._account(pi, 1)

    def remove_pod(self, pi: PodInfo) -> bool:
        """Remove the pod with ``pi``'s key; False if it is not on this node."""
        for i, p in enumerate(self.pods):
            if p.key == pi.key:
                del self.pods[i]
                self.pods_with_affinity = [q for q in self.pods_with_affinity if q.key != p.key]
                self.pods_with_required_anti_affinity = [
                    q for q in self.pods_with_required_anti_affinity if q.key != p.key]
                self._account(p, -1)  # the stored pod: its requests are what we added
                return True
        return False

    def _account(self, pi: PodInfo, sign: int) -> None:
        r = pi.requests
        self.req_cpu += sign * r.milli_cpu
        self.req_memory += sign * r.memory
        self.req_ephemeral += sign * r.ephemeral_storage
        for k, v in r.scalar.items():
            self.req_scalar[k] = self.req_scalar.get(k, 0) + sign * v
        self.non0_cpu += sign * pi.non0_cpu
        self.non0_mem += sign * pi.non0_mem
        if not pi.terminating:
            gk = (pi.namespace, tuple(sorted(pi.labels.items())))
            group = self.label_groups.get(gk)
            if group is None:
                self.label_groups[gk] = [pi.labels, sign]
            elif group[1] + sign:
                group[1] += sign
            else:
                del self.label_groups[gk]
        for hp in pi.host_ports:
            ports = self.used_ports.setdefault(hp.ip, set())
            if sign > 0:
                ports.add((hp.protocol, hp.port))
            else:
                ports.discard((hp.protocol, hp.port))

    def clone(self) -> NodeInfo:
        c = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.pods = list(self.pods)
        c.pods_with_affinity = list(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        c.req_scalar = dict(self.req_scalar)
        c.label_groups = {k: list(g) for k, g in self.label_groups.items()}
        c.used_ports = {ip: set(ports) for ip, ports in self.used_ports.items()}
        return c

    def copy_from(self, other: NodeInfo) -> None:
        """Become ``other`` (whose containers must not be shared with anyone else)."""
        for slot in NodeInfo.__slots__:
            setattr(self, slot, getattr(other, slot))

    def count_matching(self, selector: Any, namespace: str) -> int:
        """Live pods of ``namespace`` on this node whose labels ``selector`` matches."""
        return sum(n for (ns, _), (labels, n) in self.label_groups.items()
                   if ns == namespace and selector.matches(labels))

    def __repr__(self) -> str:
        return (f"NodeInfo({self.name!r}, pods={len(self.pods)}, cpu={self.req_cpu}/"
                f"{self.allocatable.milli_cpu}m, mem={self.req_memory}/{self.allocatable.memory})")


# -- Snapshot -----------------------------------------------------------------------------


class Snapshot:
    """What one scheduling cycle sees: NodeInfos in node-tree order, plus cluster context.

    Besides nodes, plugins read: namespace labels (affinity namespaceSelector), the
    Services and controllers behind default topology spreading, and PodDisruptionBudgets
    (preemption). The scheduler shell keeps those current; tests set them directly.
    """

    def __init__(self) -> None:
        self.node_info_list: list[NodeInfo] = []
        self.node_info_map: dict[str, NodeInfo] = {}
        self.have_pods_with_affinity: list[NodeInfo] = []
        self.have_pods_with_required_anti_affinity: list[NodeInfo] = []
        self.generation = 0
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.services: list[dict[str, Any]] = []
        # (kind, namespace, name) -> the controller's spec.selector (RS/SS: LabelSelector,
        # ReplicationController: a plain map).
        self.controllers: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.pdbs: list[dict[str, Any]] = []
        # namespace -> (namespace, labels) group key -> [labels, {node name: live pods}]:
        # the snapshot's pods by label set, so topology spreading counts a selector's pods
        # per node without visiting every node (kept by index_node / unindex_node).
        self.pod_groups: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]],
                                        list[Any]]] = {}

    def index_node(self, ni: NodeInfo) -> None:
        for gk, (labels, n) in ni.label_groups.items():
            groups = self.pod_groups.setdefault(gk[0], {})
            entry = groups.get(gk)
            if entry is None:
                entry = groups[gk] = [labels, {}]
            entry[1][ni.name] = entry[1].get(ni.name, 0) + n

    def unindex_node(self, ni: NodeInfo) -> None:
        for gk, (_, n) in ni.label_groups.items():
            groups = self.pod_groups.get(gk[0])
            entry = groups.get(gk) if groups is not None else None
            if entry is None:
                continue
            left = entry[1].get(ni.name, 0) - n
            if left > 0:
                entry[1][ni.name] = left
            else:
                entry[1].pop(ni.name, None)
                if not entry[1]:
                    del groups[gk]  # type: ignore[union-attr]

    def matching_counts(self, selector: Any, namespace: str) -> dict[str, int]:
        """Node name -> live pods of ``namespace`` on it that ``selector`` matches."""
        out: dict[str, int] = {}
        for labels, per_node in (self.pod_groups.get(namespace) or {}).values():
            if selector.matches(labels):
                for name, n in per_node.items():
                    out[name] = out.get(name, 0) + n
        return out

    @classmethod
    def from_objects(cls, nodes: Iterable[Mapping[str, Any]],
                     pods: Iterable[Mapping[str, Any] | PodInfo] = ()) -> Snapshot:
        """A snapshot straight from API objects (``cache.NewSnapshot``), in node order."""
        snap = cls()
        infos = {}
        for n in nodes:
            ni = NodeInfo(n)
            infos[ni.name] = ni
        for p in pods:
            pi = p if isinstance(p, PodInfo) else PodInfo.from_api(p)
            if pi.node_name in infos:
                infos[pi.node_name].add_pod(pi)
        counts: dict[str, int] = {}
        for ni in infos.values():
            for image in ni.image_sizes:
                counts[image] = counts.get(image, 0) + 1
        for ni in infos.values():
            ni.image_states = {k: ImageStateSummary(v, counts[k])
                               for k, v in ni.image_sizes.items()}
        snap.set_node_infos(list(infos.values()))
        return snap

    def set_node_infos(self, infos: Sequence[NodeInfo]) -> None:
        self.node_info_list = list(infos)
        self.node_info_map = {ni.name: ni for ni in infos}
        self.pod_groups = {}
        for ni in self.node_info_map.values():
            self.index_node(ni)
        self.refresh_affinity_lists()

    def refresh_affinity_lists(self) -> None:
        self.have_pods_with_affinity = [n for n in self.node_info_list if n.pods_with_affinity]
        self.have_pods_with_required_anti_affinity = [
            n for n in self.node_info_list if n.pods_with_required_anti_affinity]

    def get(self, name: str) -> NodeInfo:
        return self.node_info_map[name]

    def num_nodes(self) -> int:
        return len(self.node_info_list)

    def __len__(self) -> int:
        return len(self.node_info_list)

