"""The Endpoints controller (``pkg/controller/endpoint``): a Service's ``Endpoints`` are the
addresses of the pods it selects — the actor shell around ``reconcile_endpoints``.

What it is: informers on Services, pods and Endpoints. A Service event enqueues the Service's
key; a pod event enqueues every Service of the pod's namespace selecting the pod (both its old
and new labels on an update: a pod that leaves a Service must leave its Endpoints); a deleted
Endpoints object enqueues its Service (it is recreated). ``plan(key)`` hands the logic the
Service (None once deleted: its Endpoints are deleted), the namespace's pods and the current
Endpoints. Services without a selector are left alone (the apiserver keeps ``kubernetes``'s).

Concurrency model: the manager's actor; 5 workers (``--concurrent-endpoint-syncs``).
Invariants: see ``_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.api import set_matches
from actors.client import LEADER_ANNOTATION, SharedInformer, meta_namespace_key

from ._base import Controller, obj_of, register_controller
from ._logic_endpoints import reconcile_endpoints
from ._plan import Plan, labels_of, meta_of, namespace_of

__all__ = ["EndpointsController", "services_selecting"]


def services_selecting(services: SharedInformer, pod: Mapping[str, Any],
                       labels: Mapping[str, str] | None = None) -> list[str]:
    """Keys of the Services of ``pod``'s namespace whose selector matches ``labels`` (the
    pod's own by default): ``GetPodServiceMemberships``."""
    labels = labels_of(pod) if labels is None else labels
    out = []
    for svc in services.indexer.by_index("namespace", namespace_of(pod)):
        sel = (svc.get("spec") or {}).get("selector")
        if sel and set_matches(sel, labels):
            out.append(meta_namespace_key(svc))
    return out


class PodServiceHandlers(Controller):
    """Pod events enqueue the Services selecting the pod (shared with ``endpointslice``)."""

    services: SharedInformer

    def watch_pods(self, pods: SharedInformer) -> None:
        pods.add_event_handler(on_add=self._pod_changed, on_update=self._pod_updated,
                               on_delete=lambda obj: self._pod_changed(obj_of(obj)))

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        for key in services_selecting(self.services, pod):
            self.queue.add(key)

    def _pod_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta_of(old).get("resourceVersion") == meta_of(cur).get("resourceVersion"):
            return
        keys = dict.fromkeys(services_selecting(self.services, cur))
        if labels_of(old) != labels_of(cur):
            keys.update(dict.fromkeys(services_selecting(self.services, old)))
        for key in keys:
            self.queue.add(key)


@register_controller
class EndpointsController(PodServiceHandlers):
    name = "endpoint"
    component = "endpoint-controller"
    service_account = "endpoint-controller"
    workers = 5

    def setup(self) -> None:
        self.services = self.informer("services")
        self.pods = self.informer("pods")
        self.endpoints = self.informer("endpoints")
        self.handle(self.services)
        self.watch_pods(self.pods)
        self.endpoints.add_event_handler(on_delete=self.enqueue)

    def plan(self, key: Any) -> Plan | None:
        service = self.services.indexer.get_by_key(key)
        endpoints = self.endpoints.indexer.get_by_key(key)
        if service is None and endpoints is None:
            return None
        ns = key.partition("/")[0]
        pods = self.pods.indexer.by_index("namespace", ns) if service is not None else []
        if service is None and not _managed(endpoints):
            return None
        return reconcile_endpoints(service, pods, endpoints, now=self.now())


def _managed(endpoints: Mapping[str, Any] | None) -> bool:
    """Endpoints left without a Service are deleted, except a leader-election lock (the
    legacy Endpoints lock of kube-scheduler), as ``checkLeftoverEndpoints`` spares them."""
    if endpoints is None:
        return False
    return LEADER_ANNOTATION not in (meta_of(endpoints).get("annotations") or {})
