"""NodeResourcesFit: requests must fit allocatable; LeastAllocated scoring.

Concurrency model: none; per-cycle data lives in the CycleState.

Invariants (``plugins/noderesources/fit.go``, ``least_allocated.go``,
``resource_allocation.go``):
- Filter compares the pod's effective request with allocatable minus requested, for pods
  ("Too many pods"), cpu, memory, ephemeral-storage and each scalar resource it asks for;
  every shortfall is a reason. A request above the node's whole allocatable makes the
  status UnschedulableAndUnresolvable (preemption cannot help).
- Score (LeastAllocated) uses the non-zero requests (100m cpu / 200Mi memory for each
  container that states none) for cpu and memory, and is
  sum(weight * (alloc - req) * 100 // alloc) // sum(weight); a scalar resource the pod does
  not request is left out, as is any resource the node has none of.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from actors.scheduler._framework import ActionType, ClusterEvent, CycleState, Status
from actors.scheduler._plugins.helper import MAX_NODE_SCORE, is_scalar_resource_name

if TYPE_CHECKING:
    from actors.scheduler._types import NodeInfo, PodInfo, Resource, Snapshot

DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))


class InsufficientResource:
    __slots__ = ("capacity", "reason", "requested", "resource", "unresolvable", "used")

    def __init__(self, resource: str, reason: str, requested: int, used: int,
                 capacity: int) -> None:
        self.resource, self.reason = resource, reason
        self.requested, self.used, self.capacity = requested, used, capacity
        self.unresolvable = resource != "pods" and requested > capacity


def fits_request(req: Resource, node: NodeInfo) -> list[InsufficientResource]:
    """``fitsRequest``: every resource the pod cannot get on this node."""
    out: list[InsufficientResource] = []
    alloc = node.allocatable
    if len(node.pods) + 1 > alloc.allowed_pod_number:
        out.append(InsufficientResource("pods", "Too many pods", 1, len(node.pods),
                                        alloc.allowed_pod_number))
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return out
    for res, want, used, cap in (
        ("cpu", req.milli_cpu, node.req_cpu, alloc.milli_cpu),
        ("memory", req.memory, node.req_memory, alloc.memory),
        ("ephemeral-storage", req.ephemeral_storage, node.req_ephemeral,
         alloc.ephemeral_storage),
    ):
        if want > 0 and want > cap - used:
            out.append(InsufficientResource(res, f"Insufficient {res}", want, used, cap))
    for res in sorted(req.scalar):
        want = req.scalar[res]
        if want == 0:
            continue
        used, cap = node.req_scalar.get(res, 0), alloc.scalar.get(res, 0)
        if want > cap - used:
            out.append(InsufficientResource(res, f"Insufficient {res}", want, used, cap))
    return out


def pod_request_list(pod: PodInfo, resources: Sequence[tuple[str, int]], *,
                     use_requested: bool) -> list[int]:
    """The pod's request per scored resource; non-zero defaults unless ``use_requested``."""
    r = pod.requests
    out = []
    for name, _ in resources:
        if name == "cpu":
            out.append(r.milli_cpu if use_requested else pod.non0_cpu)
        elif name == "memory":
            out.append(r.memory if use_requested else pod.non0_mem)
        elif name == "ephemeral-storage":
            out.append(r.ephemeral_storage)
        else:
            out.append(r.scalar.get(name, 0))
    return out


def allocatable_and_requested(node: NodeInfo, resource: str, pod_request: int, *,
                              use_requested: bool) -> tuple[int, int]:
    """``calculateResourceAllocatableRequest``: (allocatable, requested incl. the pod)."""
    if pod_request == 0 and is_scalar_resource_name(resource):
        return 0, 0  # a scalar resource the pod does not ask for is not scored
    alloc = node.allocatable
    if resource == "cpu":
        return alloc.milli_cpu, (node.req_cpu if use_requested else node.non0_cpu) + pod_request
    if resource == "memory":
        return alloc.memory, (node.req_memory if use_requested else node.non0_mem) + pod_request
    if resource == "ephemeral-storage":
        return alloc.ephemeral_storage, node.req_ephemeral + pod_request
    if resource in alloc.scalar:
        return alloc.scalar[resource], node.req_scalar.get(resource, 0) + pod_request
    return 0, 0


def resource_allocation_score(
    node: NodeInfo, pod_requests: Sequence[int], resources: Sequence[tuple[str, int]],
    scorer: Callable[[list[int], list[int]], int], *, use_requested: bool,
) -> int:
    requested = [0] * len(resources)
    allocatable = [0] * len(resources)
    for i, (name, _) in enumerate(resources):
        alloc, req = allocatable_and_requested(node, name, pod_requests[i],
                                               use_requested=use_requested)
        if alloc != 0:
            allocatable[i], requested[i] = alloc, req
    return scorer(requested, allocatable)


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated_scorer(resources: Sequence[tuple[str, int]]
                           ) -> Callable[[list[int], list[int]], int]:
    def scorer(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i, (_, weight) in enumerate(resources):
            if allocatable[i] == 0:
                continue
            node_score += least_requested_score(requested[i], allocatable[i]) * weight
            weight_sum += weight
        return node_score // weight_sum if weight_sum else 0
    return scorer


_PRE_SCORE_KEY = "PreScoreNodeResourcesFit"


class NodeResourcesFit:
    """Filter on requests; Score with the LeastAllocated strategy."""

    name = "NodeResourcesFit"

    def __init__(self, resources: Sequence[tuple[str, int]] = DEFAULT_RESOURCES) -> None:
        self.resources = tuple(resources)
        self._scorer = least_allocated_scorer(self.resources)
        # The batch scorer's fast path covers the usual cpu + memory (any weights).
        weights = dict(self.resources)
        self._cpu_mem = (weights.get("cpu", 0), weights.get("memory", 0)) if (
            len(weights) == len(self.resources) and set(weights) <= {"cpu", "memory"}) else None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        short = fits_request(pod.requests, node)
        if not short:
            return None
        reasons = tuple(s.reason for s in short)
        if any(s.unresolvable for s in short):
            return Status.unresolvable(*reasons)
        return Status.unschedulable(*reasons)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                     ) -> list[Status | None]:
        """``filter`` per node; nodes that plainly fit skip building the shortfall list."""
        r = pod.requests
        cpu, mem, eph = r.milli_cpu, r.memory, r.ephemeral_storage
        if r.scalar:
            return [self.filter(state, pod, n) for n in nodes]
        return [self.filter(state, pod, n) if (
                    len(n.pods) >= (a := n.allocatable).allowed_pod_number
                    or (cpu and cpu > a.milli_cpu - n.req_cpu)
                    or (mem and mem > a.memory - n.req_memory)
                    or (eph and eph > a.ephemeral_storage - n.req_ephemeral)) else None
                for n in nodes]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        state.write(_PRE_SCORE_KEY, pod_request_list(pod, self.resources, use_requested=False))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = pod_request_list(pod, self.resources, use_requested=False)
        return resource_allocation_score(node, reqs, self.resources, self._scorer,
                                         use_requested=False)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
                    ) -> list[int]:
        """``score`` per node; LeastAllocated over cpu and memory inlined."""
        if self._cpu_mem is None:
            return [self.score(state, pod, n) for n in nodes]
        reqs = state.get(_PRE_SCORE_KEY)
        if reqs is None:
            reqs = pod_request_list(pod, self.resources, use_requested=False)
        want = dict(zip((name for name, _ in self.resources), reqs))
        pc, pm = want.get("cpu", 0), want.get("memory", 0)
        wc, wm = self._cpu_mem
        out = []
        for n in nodes:
            a = n.allocatable
            total = weights = 0
            if wc and a.milli_cpu:
                cap, used = a.milli_cpu, n.non0_cpu + pc
                total += (0 if used > cap else (cap - used) * MAX_NODE_SCORE // cap) * wc
                weights += wc
            if wm and a.memory:
                cap, used = a.memory, n.non0_mem + pm
                total += (0 if used > cap else (cap - used) * MAX_NODE_SCORE // cap) * wm
                weights += wm
            out.append(total // weights if weights else 0)
        return out

    def events_to_register(self) -> tuple[ClusterEvent, ...]:
        return (
            ClusterEvent("Pod", ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN),
            ClusterEvent("Node", ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                         | ActionType.UPDATE_NODE_TAINT | ActionType.UPDATE_NODE_LABEL),
        )
