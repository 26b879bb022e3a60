"""The admission chain wired to the apiserver's state: the plugins of ``_admission`` read
namespaces, service accounts, limit ranges, quotas and priority classes from this
apiserver's watch caches, and quota charges are written to etcd.

What it is: ``ChainAdmission.run`` builds the attributes of one request and runs the
default plugins (NamespaceLifecycle, LimitRanger, ServiceAccount, Priority,
DefaultTolerationSeconds, ResourceQuota: kube-apiserver's order). Lookups the plugins make
synchronously are first tried in the caches; a namespace or service account missing from
a cache is looked up live in etcd before the chain runs (NamespaceLifecycle's and
ServiceAccount's live lookup), so an object created a moment ago through another
apiserver — whose event this one has not seen yet — is found.

Concurrency model: ``run`` awaits only its live lookups, then runs the pure chain without
awaiting, so the lookups it hands the plugins are its own request's.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from actors.api import ApiError, UnknownResource, conflict, lookup

from ._admission import AdmissionAttributes, AdmissionChain, default_plugins
from ._context import Req
from ._objects import get_meta
from ._storage import RevisionMismatch, Storage

if TYPE_CHECKING:
    from ._caches import CacheSet

__all__ = ["ChainAdmission"]

Obj = dict[str, Any]


class ChainAdmission:
    def __init__(self, caches: CacheSet, storage: Storage, rng: random.Random, *,
                 enabled: bool = True) -> None:
        self.caches = caches
        self.storage = storage
        self.rng = rng
        self.enabled = enabled
        # The live lookups of the request being admitted. The chain runs synchronously
        # right after they are set, so requests never see each other's.
        self._found: dict[tuple[str, str, str], Obj | None] = {}
        self._chain = self._build_chain()

    # ---- lookups --------------------------------------------------------------------------
    def _items(self, resource: str, namespace: str | None) -> list[Obj]:
        try:
            ri = lookup(resource)
        except UnknownResource:
            return []  # a kind this cluster does not serve constrains nothing
        return self.caches.items(ri, namespace) if self.caches.ready(ri) else []

    def _get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        try:
            ri = lookup(resource)
        except UnknownResource:
            return None
        return self.caches.get(ri, namespace, name) if self.caches.ready(ri) else None

    async def _live(self, resource: str, namespace: str | None, name: str,
                    found: dict[tuple[str, str, str], Obj | None]) -> None:
        if not name or self._get(resource, namespace, name) is not None:
            return
        ri = lookup(resource)
        stored = await self.storage.get(ri.key(namespace if ri.namespaced else None, name))
        found[(resource, namespace or "", name)] = stored.obj if stored else None

    async def _prefetch(self, req: Req, obj: Obj | None) -> dict[tuple[str, str, str], Obj | None]:
        found: dict[tuple[str, str, str], Obj | None] = {}
        ns = req.namespace or ""
        if req.ri.namespaced and ns:
            await self._live("namespaces", None, ns, found)
        if req.ri.resource == "pods" and not req.ri.group and obj is not None:
            sa = (obj.get("spec") or {}).get("serviceAccountName") or "default"
            await self._live("serviceaccounts", ns, sa, found)
        return found

    # ---- the chain ------------------------------------------------------------------------
    def _build_chain(self) -> AdmissionChain:
        def get(resource: str, namespace: str | None, name: str) -> Obj | None:
            key = (resource, namespace or "", name)
            if key in self._found:
                return self._found[key]
            return self._get(resource, namespace, name)

        def items(resource: str) -> Any:
            return lambda namespace="": self._items(resource, namespace or None)

        return AdmissionChain(default_plugins(
            get_namespace=lambda ns: get("namespaces", None, ns),
            get_service_account=lambda ns, name: get("serviceaccounts", ns, name),
            list_limit_ranges=items("limitranges"),
            list_resource_quotas=items("resourcequotas"),
            get_priority_class=lambda name: get("priorityclasses", None, name),
            list_priority_classes=lambda: self._items("priorityclasses", None),
            rng=self.rng))

    async def run(self, req: Req, operation: str, obj: Obj | None,
                  old: Obj | None) -> tuple[Obj | None, tuple[Obj, ...]]:
        if not self.enabled:
            return obj, ()
        found = await self._prefetch(req, obj)
        meta = get_meta(obj or old or {})
        attrs = AdmissionAttributes(
            operation=operation, resource=req.ri.resource, group=req.ri.group,
            version=req.ri.version, kind=req.ri.kind, subresource=req.subresource or "",
            namespace=req.namespace or "", name=req.name or meta.get("name") or "",
            object=obj, old_object=old, user=req.user,
            dry_run=req.params.get("dryRun") == "All")
        self._found = found
        try:
            admitted = self._chain.run(attrs)
        finally:
            self._found = {}
        return admitted.object, tuple(admitted.quota_updates)

    async def charge(self, quotas: Iterable[Obj]) -> None:
        """Write the quotas' new ``status.used``, each guarded by the revision read."""
        for q in quotas:
            meta = get_meta(q)
            key = f"/registry/resourcequotas/{meta.get('namespace')}/{meta.get('name')}"
            try:
                await self.storage.update(key, q, int(meta.get("resourceVersion") or 0))
            except RevisionMismatch:
                raise ApiError(conflict("resourcequotas", str(meta.get("name")))) from None
