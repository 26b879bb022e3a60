"""The EndpointSliceMirroring controller (``pkg/controller/endpointslicemirroring``): custom
Endpoints of selectorless Services mirrored into EndpointSlices — the actor shell around
``reconcile_mirrored_slices``.

What it is: informers on Endpoints, Services and EndpointSlices (indexed by the
``kubernetes.io/service-name`` label of the slices this controller manages). The key is the
Endpoints' ``namespace/name``. As in Kubernetes, an Endpoints event enqueues it when the
object is (or, on an update, was) mirrorable; a Service event when the Service has no
selector on add and delete, and when it gains or loses one on update; a change to a slice
managed by this controller enqueues its Endpoints (someone else's edit is put back), both
names if its service-name label changed, and a slice whose managed-by label changes to or
from this controller too. The controller remembers what it wrote, as Kubernetes'
``EndpointSliceTracker`` does: the resourceVersion of every slice it created or updated
and the slices it deleted; a sync whose slice cache has not caught up with its own writes
(a slice missing or older, a deleted one still there) is retried with back-off instead of
creating duplicates (Kubernetes compares generations; our slices have none). Its own writes
are not filtered out of the handlers: each costs one no-op sync. ``plan(key)`` hands the
logic the cached Endpoints, the Service and the name's mirrored slices.

Options (``ControllerManagerConfig.options["endpointslicemirroring"]``):
``max_endpoints_per_subset`` (``--mirroring-max-endpoints-per-subset``, 1 to 1000, default
1000).

Concurrency model: the manager's actor; 5 workers
(``--mirroring-concurrent-service-endpoint-syncs``). Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.client import meta_namespace_key

from ._base import Controller, InformerSpec, obj_of, register_controller
from ._logic_endpoints import SERVICE_NAME_LABEL
from ._logic_mirroring import (
    MANAGED_BY_LABEL,
    MAX_ENDPOINTS_PER_SUBSET,
    MIRRORING_MANAGED_BY,
    reconcile_mirrored_slices,
    should_mirror,
)
from ._plan import Plan, labels_of, namespace_of, uid_of
from ._slicetracker import SliceTracker, SliceWriter

__all__ = ["EndpointSliceMirroringController"]

MIRRORED_INDEX = "mirrored_for"


def _ours(obj: Mapping[str, Any]) -> bool:
    return labels_of(obj).get(MANAGED_BY_LABEL) == MIRRORING_MANAGED_BY


def _endpoints_key(obj: Mapping[str, Any]) -> str | None:
    """``endpointsControllerKey``: the slice's namespace and service-name label."""
    name = labels_of(obj).get(SERVICE_NAME_LABEL)
    return f"{namespace_of(obj)}/{name}" if name else None


def _index_by_endpoints(obj: Mapping[str, Any]) -> list[str]:
    key = _endpoints_key(obj)
    return [key] if key and _ours(obj) else []


def _selectorless(service: Mapping[str, Any]) -> bool:
    return not (service.get("spec") or {}).get("selector")


@register_controller
class EndpointSliceMirroringController(SliceWriter, Controller):
    name = "endpointslicemirroring"
    component = "endpoint-slice-mirroring-controller"
    service_account = "endpointslicemirroring-controller"
    workers = 5

    def setup(self) -> None:
        opts = self.host.options_for(self.name) or {}
        self.max_per_subset = int(opts.get("max_endpoints_per_subset", MAX_ENDPOINTS_PER_SUBSET))
        if not 1 <= self.max_per_subset <= 1000:
            raise ValueError("mirroring-max-endpoints-per-subset must be between 1 and 1000, "
                             f"but got {self.max_per_subset}")
        self.tracker, self.slice_index = SliceTracker(_endpoints_key), MIRRORED_INDEX
        self.endpoints = self.informer("endpoints")
        self.services = self.informer("services")
        self.slices = self.informer(InformerSpec("endpointslices", indexers={MIRRORED_INDEX: _index_by_endpoints}))
        self.endpoints.add_event_handler(
            on_add=lambda e: self._if(should_mirror(e), e),
            on_update=lambda old, new: self._if(should_mirror(old) or should_mirror(new), new),
            on_delete=lambda e: self._if(should_mirror(obj_of(e)), obj_of(e)))
        self.services.add_event_handler(
            on_add=lambda s: self._if(_selectorless(s), s),
            on_update=lambda old, new: self._if(_selectorless(old) != _selectorless(new), new),
            on_delete=lambda s: self._if(_selectorless(obj_of(s)), obj_of(s)))
        self.slices.add_event_handler(on_add=self._slice_changed, on_update=self._slice_updated,
                                      on_delete=self._slice_deleted)

    def _if(self, wanted: bool, obj: Mapping[str, Any]) -> None:
        if wanted:
            self.queue.add(meta_namespace_key(obj))

    def _slice_changed(self, s: Mapping[str, Any]) -> None:
        for key in _index_by_endpoints(s):
            self.queue.add(key)

    def _slice_deleted(self, obj: Any) -> None:
        s = obj_of(obj)
        self.tracker.forget(uid_of(s))
        self._slice_changed(s)

    def _slice_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """A changed service-name label enqueues both names (whoever manages the slice); a
        managed-by label moving to or from this controller enqueues the name."""
        if _endpoints_key(old) != _endpoints_key(new):
            keys = [_endpoints_key(old), _endpoints_key(new)]
        elif _ours(old) or _ours(new):
            keys = [_endpoints_key(new)]
        else:
            keys = []
        if not _index_by_endpoints(new):
            self.tracker.forget(uid_of(new))
        for key in keys:
            if key:
                self.queue.add(key)

    def plan(self, key: Any) -> Plan | None:
        endpoints = self.endpoints.indexer.get_by_key(key)
        mirrored = self.slices.indexer.by_index(MIRRORED_INDEX, key)
        if endpoints is None and not mirrored:
            return None
        namespace, _, name = key.partition("/")
        return reconcile_mirrored_slices(endpoints, self.services.indexer.get_by_key(key), mirrored,
                                         namespace=namespace, name=name, max_per_subset=self.max_per_subset)
