"""The EndpointSlice controller (``pkg/controller/endpointslice``): a Service's
``discovery.k8s.io/v1`` EndpointSlices — the actor shell around ``reconcile_endpoint_slices``.

What it is: informers on Services, pods, EndpointSlices (indexed by their
``kubernetes.io/service-name`` label) and Nodes (zones). A Service event enqueues the
Service; a pod event the Services selecting the pod (old and new labels); a change to a
slice managed by this controller enqueues its Service (someone else's edit is undone); a node
whose zone label changes enqueues every Service with endpoints on it (simplified: all
Services). ``plan(key)`` hands the logic the Service, the namespace's pods, the Service's
slices and the nodes. A deleted Service's slices carry its controller reference and go with
it through the garbage collector, as in Kubernetes. The controller remembers what it wrote
(``_slicetracker``, Kubernetes' ``EndpointSliceTracker``): a sync whose slice cache does not
yet show its own last writes is retried with back-off rather than planned from that cache,
which would create a second slice for the same endpoints (and delete it once both showed up).

Concurrency model: the manager's actor; 5 workers (``--concurrent-service-endpoint-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._base import InformerSpec, obj_of, register_controller
from ._logic_endpoints import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    ZONE_LABEL,
    reconcile_endpoint_slices,
)
from ._plan import Plan, labels_of, meta_of, namespace_of, uid_of
from ._slicetracker import SliceTracker, SliceWriter
from .endpoints import PodServiceHandlers

__all__ = ["EndpointSliceController"]

SERVICE_INDEX = "endpointslice_service"


def _index_by_service(obj: Mapping[str, Any]) -> list[str]:
    labels = labels_of(obj)
    name = labels.get(SERVICE_NAME_LABEL)
    if not name or labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return []
    return [f"{namespace_of(obj)}/{name}"]


def _service_key(obj: Mapping[str, Any]) -> str | None:
    keys = _index_by_service(obj)
    return keys[0] if keys else None


@register_controller
class EndpointSliceController(SliceWriter, PodServiceHandlers):
    name = "endpointslice"
    component = "endpoint-slice-controller"
    service_account = "endpointslice-controller"
    workers = 5

    def setup(self) -> None:
        self.services = self.informer("services")
        self.pods = self.informer("pods")
        self.slices = self.informer(InformerSpec("endpointslices", indexers={SERVICE_INDEX: _index_by_service}))
        self.nodes = self.informer("nodes")
        self.handle(self.services)
        self.watch_pods(self.pods)
        self.tracker, self.slice_index = SliceTracker(_service_key), SERVICE_INDEX
        self.slices.add_event_handler(on_add=self._slice_changed, on_update=self._slice_updated,
                                      on_delete=self._slice_deleted)
        self.nodes.add_event_handler(on_update=self._node_updated)

    def _slice_changed(self, s: Mapping[str, Any]) -> None:
        for key in _index_by_service(s):
            self.queue.add(key)

    def _slice_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """A slice whose Service (or manager) changed enqueues the old Service too."""
        if not _index_by_service(new):
            self.tracker.forget(uid_of(new))  # no longer ours: nothing to wait for
        if _index_by_service(old) != _index_by_service(new):
            self._slice_changed(old)
        self._slice_changed(new)

    def _slice_deleted(self, obj: Any) -> None:
        s = obj_of(obj)
        self.tracker.forget(uid_of(s))
        self._slice_changed(s)

    def _node_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if labels_of(old).get(ZONE_LABEL) != labels_of(cur).get(ZONE_LABEL):
            for key in self.services.indexer.list_keys():
                self.queue.add(key)

    def plan(self, key: Any) -> Plan | None:
        service = self.services.indexer.get_by_key(key)
        if service is None or meta_of(service).get("deletionTimestamp"):
            return None
        pods = self.pods.indexer.by_index("namespace", namespace_of(service))
        slices = self.slices.indexer.by_index(SERVICE_INDEX, key)
        return reconcile_endpoint_slices(service, pods, slices, self.nodes.indexer.list(), now=self.now())
