"""The scheduler cache: NodeInfos kept current from informer events, plus assumed pods.

What it is: kube-scheduler's ``backend/cache``. A pod the algorithm placed is *assumed*
onto its node at once, so the next cycle already counts it, before its binding reaches
the API server. The informer's Add confirms it; a failed binding ``forget``s it.
``update_snapshot`` copies into a ``Snapshot`` only the NodeInfos changed since the
snapshot's generation, in node-tree order (zones interleaved round-robin).

Concurrency model: none; one owner (the scheduler actor) calls it. Time is passed in
(``finish_binding``/``cleanup_assumed_pods``) and only matters with an assumed-pod TTL;
Kubernetes' default is no expiry.

Invariants:
- Every pod in ``_pods`` sits in exactly one NodeInfo, the one its ``node_name`` names;
  a NodeInfo whose Node is gone stays (node-less) while pods still point at it.
- Each mutation stamps the NodeInfo with a fresh generation and moves it to the front of
  the recency order, so ``update_snapshot`` stops at the first unchanged one.
- Errors a caller can cause (assuming a known pod, forgetting one not assumed) raise
  ``CacheError``; a pod that moved nodes without passing through the API is a broken
  invariant and raises ``CacheInvariantError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.scheduler._types import NodeImageStates, NodeInfo, PodInfo, Snapshot

__all__ = ["CacheError", "CacheInvariantError", "NodeTree", "SchedulerCache"]

_ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
_REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


class CacheError(Exception):
    """An operation the cache's state does not allow (Kubernetes returns an error)."""


class CacheInvariantError(RuntimeError):
    """The cache and the API disagree in a way that must never happen."""


def zone_key(labels: Mapping[str, str]) -> str:
    """``utilnode.GetZoneKey``: region and zone, or "" when the node has neither."""
    region = next((labels[k] for k in _REGION_LABELS if labels.get(k)), "")
    zone = next((labels[k] for k in _ZONE_LABELS if labels.get(k)), "")
    if not region and not zone:
        return ""
    return region + ":\x00:" + zone


class NodeTree:
    """Node names per zone; ``list()`` interleaves zones so spreading sees every zone."""

    def __init__(self) -> None:
        self.tree: dict[str, list[str]] = {}  # insertion order = zone order
        self.num_nodes = 0

    def add(self, name: str, labels: Mapping[str, str]) -> None:
        names = self.tree.setdefault(zone_key(labels), [])
        if name not in names:
            names.append(name)
            self.num_nodes += 1

    def remove(self, name: str, labels: Mapping[str, str]) -> None:
        zone = zone_key(labels)
        names = self.tree.get(zone, [])
        if name in names:
            names.remove(name)
            self.num_nodes -= 1
            if not names:
                del self.tree[zone]

    def update(self, name: str, old_labels: Mapping[str, str],
               new_labels: Mapping[str, str]) -> None:
        if zone_key(old_labels) != zone_key(new_labels):
            self.remove(name, old_labels)
        self.add(name, new_labels)

    def list(self) -> list[str]:
        zones = list(self.tree.values())
        out: list[str] = []
        i = 0
        while len(out) < self.num_nodes:
            for names in zones:
                if i < len(names):
                    out.append(names[i])
            i += 1
        return out


class _PodState:
    __slots__ = ("binding_finished", "deadline", "pod")

    def __init__(self, pod: PodInfo) -> None:
        self.pod = pod
        self.binding_finished = False
        self.deadline: float | None = None


def _as_pod_info(pod: PodInfo | Mapping[str, Any]) -> PodInfo:
    return pod if isinstance(pod, PodInfo) else PodInfo.from_api(pod)


def _node_name(node: Mapping[str, Any]) -> str:
    return (node.get("metadata") or {}).get("name", "")


class SchedulerCache:
    def __init__(self, *, assumed_pod_ttl: float | None = None) -> None:
        self.assumed_pod_ttl = assumed_pod_ttl
        self._nodes: dict[str, NodeInfo] = {}
        self._recent: dict[str, None] = {}  # node names, least recently changed first
        self._pods: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._tree = NodeTree()
        self._images: dict[str, tuple[int, set[str]]] = {}  # name -> (size, node names)
        self._images_changed = False
        self._generation = 0

    # -- internals ------------------------------------------------------------------------

    def _touch(self, info: NodeInfo) -> None:
        self._generation += 1
        info.generation = self._generation
        self._recent.pop(info.name, None)
        self._recent[info.name] = None

    def _node_info(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name=name)
        return info

    def _drop_if_empty(self, info: NodeInfo) -> None:
        if info.node is None and not info.pods:
            del self._nodes[info.name]
            self._recent.pop(info.name, None)
            self._generation += 1
        else:
            self._touch(info)

    def _add_pod(self, pi: PodInfo, *, assumed: bool) -> None:
        info = self._node_info(pi.node_name)
        info.add_pod(pi)
        self._touch(info)
        self._pods[pi.key] = _PodState(pi)
        if assumed:
            self._assumed.add(pi.key)

    def _remove_pod(self, pi: PodInfo) -> None:
        info = self._nodes.get(pi.node_name)
        if info is not None and info.remove_pod(pi):
            self._drop_if_empty(info)
        self._pods.pop(pi.key, None)
        self._assumed.discard(pi.key)

    def _set_images(self, name: str, sizes: Mapping[str, int], add: bool) -> None:
        for image, size in sizes.items():
            entry = self._images.get(image)
            if add:
                if entry is None:
                    self._images[image] = (size, {name})
                else:
                    entry[1].add(name)
            elif entry is not None:
                entry[1].discard(name)
                if not entry[1]:
                    del self._images[image]
        if sizes:
            self._images_changed = True

    def _image_states(self, info: NodeInfo) -> NodeImageStates:
        return NodeImageStates(info.image_sizes, self._images)

    # -- nodes ----------------------------------------------------------------------------

    def add_node(self, node: Mapping[str, Any]) -> None:
        name = _node_name(node)
        info = self._node_info(name)
        if info.node is not None:
            self._set_images(name, info.image_sizes, add=False)
            self._tree.update(name, info.labels, (node.get("metadata") or {}).get("labels") or {})
        info.set_node(node)
        if info.node is not None:
            self._tree.add(name, info.labels)
        self._set_images(name, info.image_sizes, add=True)
        self._touch(info)

    def update_node(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        self.add_node(new)

    def remove_node(self, node: Mapping[str, Any]) -> None:
        name = _node_name(node)
        info = self._nodes.get(name)
        if info is None or info.node is None:
            raise CacheError(f"node {name!r} is not found")
        self._tree.remove(name, info.labels)
        self._set_images(name, info.image_sizes, add=False)
        info.clear_node()
        self._drop_if_empty(info)

    # -- pods -----------------------------------------------------------------------------

    def assume_pod(self, pod: PodInfo, node_name: str | None = None) -> PodInfo:
        """Count ``pod`` on its node now; returns the assumed PodInfo (nodeName set)."""
        if node_name is not None:
            pod = pod.with_node_name(node_name)
        if not pod.node_name:
            raise CacheError(f"pod {pod.namespace}/{pod.name} has no node to be assumed on")
        if pod.key in self._pods:
            raise CacheError(f"pod {pod.namespace}/{pod.name} is in the cache, "
                             "so can't be assumed")
        self._add_pod(pod, assumed=True)
        return pod

    def finish_binding(self, pod: PodInfo | Mapping[str, Any], now: float) -> None:
        """The binding call returned: an assumed pod may now expire (with a TTL)."""
        key = _as_pod_info(pod).key
        state = self._pods.get(key)
        if state is not None and key in self._assumed:
            state.binding_finished = True
            if self.assumed_pod_ttl is not None:
                state.deadline = now + self.assumed_pod_ttl

    def forget_pod(self, pod: PodInfo | Mapping[str, Any]) -> None:
        """Undo ``assume_pod`` (its binding failed)."""
        pi = _as_pod_info(pod)
        state = self._pods.get(pi.key)
        if state is not None and pi.node_name and state.pod.node_name != pi.node_name:
            raise CacheError(f"pod {pi.namespace}/{pi.name} was assumed on "
                             f"{state.pod.node_name} but assigned to {pi.node_name}")
        if state is None or pi.key not in self._assumed:
            raise CacheError(f"pod {pi.namespace}/{pi.name} wasn't assumed so cannot be "
                             "forgotten")
        self._remove_pod(state.pod)

    def add_pod(self, pod: PodInfo | Mapping[str, Any]) -> None:
        """The informer saw a bound pod: confirm an assumed one, or add it."""
        pi = _as_pod_info(pod)
        state = self._pods.get(pi.key)
        if state is not None and pi.key in self._assumed:
            self._remove_pod(state.pod)  # confirmed: replace the assumed copy
            self._add_pod(pi, assumed=False)
        elif state is None:
            self._add_pod(pi, assumed=False)  # never assumed here, or expired
        else:
            raise CacheError(f"pod {pi.namespace}/{pi.name} was already in added state")

    def update_pod(self, old: PodInfo | Mapping[str, Any] | None,
                   new: PodInfo | Mapping[str, Any]) -> None:
        pi = _as_pod_info(new)
        state = self._pods.get(pi.key)
        if state is None:
            raise CacheError(f"pod {pi.namespace}/{pi.name} is not added to scheduler "
                             "cache, so cannot be updated")
        if pi.key in self._assumed:
            raise CacheError(f"assumed pod {pi.namespace}/{pi.name} should not be updated")
        if state.pod.node_name != pi.node_name:
            raise CacheInvariantError(
                f"pod {pi.namespace}/{pi.name} updated on a different node than previously "
                f"added to ({state.pod.node_name} -> {pi.node_name})")
        self._remove_pod(state.pod)
        self._add_pod(pi, assumed=False)

    def remove_pod(self, pod: PodInfo | Mapping[str, Any]) -> None:
        pi = _as_pod_info(pod)
        state = self._pods.get(pi.key)
        if state is None:
            raise CacheError(f"pod {pi.namespace}/{pi.name} is not found in scheduler cache, "
                             "so cannot be removed from it")
        if pi.node_name and state.pod.node_name != pi.node_name:
            raise CacheInvariantError(
                f"pod {pi.namespace}/{pi.name} was assumed to be on {state.pod.node_name} "
                f"but got {pi.node_name}")
        self._remove_pod(state.pod)

    def cleanup_assumed_pods(self, now: float) -> list[PodInfo]:
        """Expire assumed pods whose binding finished and whose TTL passed."""
        expired = [self._pods[k].pod for k in sorted(self._assumed)
                   if self._pods[k].binding_finished and self._pods[k].deadline is not None
                   and now > self._pods[k].deadline]  # type: ignore[operator]
        for pi in expired:
            self._remove_pod(pi)
        return expired

    def is_assumed_pod(self, pod: PodInfo | Mapping[str, Any]) -> bool:
        return _as_pod_info(pod).key in self._assumed

    def get_pod(self, pod: PodInfo | Mapping[str, Any]) -> PodInfo | None:
        state = self._pods.get(_as_pod_info(pod).key)
        return None if state is None else state.pod

    def node_count(self) -> int:
        return self._tree.num_nodes

    def pod_count(self) -> int:
        return len(self._pods)

    def node_info(self, name: str) -> NodeInfo | None:
        """The live NodeInfo (read-only for callers; for tests and debugging)."""
        return self._nodes.get(name)

    # -- snapshots ------------------------------------------------------------------------

    def update_snapshot(self, snapshot: Snapshot) -> None:
        """Bring ``snapshot`` up to date, copying only NodeInfos changed since it was taken."""
        update_all = False
        affinity_changed: list[NodeInfo] = []
        for name in reversed(self._recent):
            info = self._nodes[name]
            if info.generation <= snapshot.generation:
                break
            if info.node is None:
                continue
            clone = info.clone()
            clone.image_states = self._image_states(clone)
            existing = snapshot.node_info_map.get(name)
            if existing is None:
                update_all = True
                snapshot.node_info_map[name] = clone
                snapshot.index_node(clone)
                continue
            if (bool(existing.pods_with_affinity) != bool(clone.pods_with_affinity)
                    or bool(existing.pods_with_required_anti_affinity)
                    != bool(clone.pods_with_required_anti_affinity)):
                affinity_changed.append(existing)
            snapshot.unindex_node(existing)
            existing.copy_from(clone)  # in place: the snapshot's lists keep pointing at it
            snapshot.index_node(existing)
        snapshot.generation = self._generation
        if len(snapshot.node_info_map) > self._tree.num_nodes:
            for name in list(snapshot.node_info_map):
                info = self._nodes.get(name)
                if info is None or info.node is None:
                    snapshot.unindex_node(snapshot.node_info_map.pop(name))
            update_all = True
        if update_all:
            snapshot.node_info_list = [snapshot.node_info_map[n] for n in self._tree.list()]
        self._images_changed = False  # the NodeImageStates views read the counts live
        if update_all:
            snapshot.refresh_affinity_lists()
        elif affinity_changed:
            # A few nodes gained or lost their first (anti-)affinity pod: adjust the two
            # lists rather than rescanning every node (their order matters to no plugin).
            for info in affinity_changed:
                for nodes, has in ((snapshot.have_pods_with_affinity, info.pods_with_affinity),
                                   (snapshot.have_pods_with_required_anti_affinity,
                                    info.pods_with_required_anti_affinity)):
                    present = info in nodes  # NodeInfo compares by identity
                    if has and not present:
                        nodes.append(info)
                    elif not has and present:
                        nodes.remove(info)
        if len(snapshot.node_info_list) != self._tree.num_nodes:
            raise CacheInvariantError(
                f"snapshot has {len(snapshot.node_info_list)} nodes, cache has "
                f"{self._tree.num_nodes}")
