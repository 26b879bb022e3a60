"""The ServiceAccount controller (``pkg/controller/serviceaccount``): every active namespace
has a ``default`` ServiceAccount — the actor shell around ``reconcile_service_accounts``.

What it is: informers on Namespaces and ServiceAccounts. A namespace added or updated is
enqueued; a deleted ServiceAccount enqueues its namespace (it is recreated). ``plan(key)``
gives the logic the namespace and its ServiceAccounts. (The root CA publisher,
``kube-root-ca.crt``, is not run: the simulated cluster has no CA certificate to publish.)

Concurrency model: the manager's actor; 1 worker, as kube-controller-manager starts it.
Invariants: see ``_base``; a Terminating namespace gets nothing new.
"""

from __future__ import annotations

from typing import Any

from ._base import Controller, obj_of, register_controller
from ._logic_serviceaccount import reconcile_service_accounts
from ._plan import Plan, namespace_of

__all__ = ["ServiceAccountController"]


@register_controller
class ServiceAccountController(Controller):
    name = "serviceaccount"
    component = "service-account-controller"
    service_account = "service-account-controller"
    workers = 1

    def setup(self) -> None:
        self.namespaces = self.informer("namespaces")
        self.accounts = self.informer("serviceaccounts")
        self.namespaces.add_event_handler(on_add=self.enqueue,
                                          on_update=lambda _old, new: self.enqueue(new))
        self.accounts.add_event_handler(on_delete=lambda obj: self.queue.add(namespace_of(obj_of(obj))))

    def plan(self, key: Any) -> Plan | None:
        ns = self.namespaces.indexer.get_by_key(key)
        if ns is None:
            return None
        return reconcile_service_accounts(ns, self.accounts.indexer.by_index("namespace", key), now=self.now())
