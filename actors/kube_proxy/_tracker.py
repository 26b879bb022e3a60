"""kube-proxy's change tracking: which Services a sync recomputes, and whether it is full.

What it is: ``ChangeTracker``, the iptables proxier's ServiceChangeTracker and
EndpointsChangeTracker as its partial syncs use them (``MinimizeIPTablesRestore``: alpha in
1.26, beta and on by default in 1.27, GA in 1.28). Informer events only choose keys: a
Service add/update/delete marks that Service's (namespace, name); an EndpointSlice
add/update/delete marks the Service its ``kubernetes.io/service-name`` label names — both
Services when an update moved the label. An update that changes nothing the rules read (a
Service's status, a slice's annotations) marks nothing, as the trackers drop changes that
net out to none. ``plan`` then reads the caches, never the events, and returns a
``SyncPlan``:

- **full** (``syncProxyRules``' ``doFullSync``) when ``needFullSync`` is set or the last full
  sync is at least ``full_sync_period`` old (``proxyutil.FullSyncPeriod``, one hour — the
  forced hourly full sync of kubernetes#129329; before it the bounded-frequency runner's
  hourly run was partial like any other). ``needFullSync`` is set at start, after a failed
  sync (the changes it had taken are gone, so only a full sync can catch up) and by
  ``force_full`` (the proxier's ``forceSyncProxyRules``, which its iptables monitor calls
  when it finds its canary chain flushed). Every Service is recomputed and the table
  replaced whole.
- **partial** otherwise: only the marked Services are recomputed; their previous rule keys
  are removed from the table and their new rules added, every other rule left alone. One
  case is ours alone: when a touched rule key (an ``externalIPs`` address:port, say) is also
  produced by a Service that was not recomputed, or by two that were, which Service's rule
  wins depends on Service order, which only a full rebuild knows — that sync is made full.

``committed`` records a plan as installed; ``failed`` records that it was not.

Concurrency model: none; a plain object owned by one actor and driven from its handlers.

Invariants: ``installed`` holds, per Service, the rules the last successful syncs installed
for it; after every successful sync the table holds exactly the rules ``node_rules`` would
compute from the same caches (the same rule per rule key).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from netsim import NodePortRule, ServiceRule

from ._rules import Key, object_key, service_rules, slice_service

__all__ = ["FULL_SYNC_PERIOD", "Caches", "ChangeTracker", "SyncPlan"]

FULL_SYNC_PERIOD = 3600.0  # proxyutil.FullSyncPeriod
Obj = Mapping[str, Any]
Rule = ServiceRule | NodePortRule


class Caches(Protocol):
    """What a sync reads: the informers' caches of Services and EndpointSlices."""

    def services(self) -> Iterable[Obj]: ...

    def service(self, key: Key) -> Obj | None: ...

    def slices(self, key: Key) -> list[Obj]: ...


@dataclass(frozen=True)
class SyncPlan:
    """One sync: the Services recomputed (``rules``) and what to install.

    Full: ``add`` is the whole table (``node_rules`` order), ``remove`` empty. Partial: the
    rule keys the recomputed Services had (``remove``) and their new rules (``add``)."""

    full: bool
    rules: dict[Key, list[Rule]] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    add: tuple[Rule, ...] = ()


def _keys(rules: Iterable[Rule]) -> set[str]:
    return {r.key for r in rules}


def _service_view(obj: Obj | None) -> Any:
    return None if obj is None else obj.get("spec")


def _slice_view(obj: Obj | None) -> Any:
    if obj is None:
        return None
    return (slice_service(obj), obj.get("endpoints"), obj.get("ports"))


class ChangeTracker:
    """Services changed since the last sync, and the rules installed per Service."""

    def __init__(self, *, node: str, full_sync_period: float = FULL_SYNC_PERIOD) -> None:
        self.node = node
        self.full_sync_period = full_sync_period
        self.installed: dict[Key, list[Rule]] = {}
        self.need_full_sync = True
        self.last_full_sync = float("-inf")
        self._changed: dict[Key, None] = {}  # an ordered set
        self._producers: Counter[str] = Counter()  # rule key -> Services installing it

    # -- events choose keys --------------------------------------------------------------------
    def service_changed(self, old: Obj | None, new: Obj | None) -> bool:
        """A Service add (``old`` None), update or delete (``new`` None); True if it counts."""
        if old is not None and new is not None and _service_view(old) == _service_view(new):
            return False
        self._mark(object_key(o) for o in (old, new) if o is not None)
        return True

    def slice_changed(self, old: Obj | None, new: Obj | None) -> bool:
        """An EndpointSlice add, update or delete; True if it marked a Service."""
        if old is not None and new is not None and _slice_view(old) == _slice_view(new):
            return False
        keys = [k for k in (slice_service(o) for o in (old, new) if o is not None) if k]
        self._mark(keys)
        return bool(keys)

    def force_full(self) -> None:
        self.need_full_sync = True

    @property
    def pending(self) -> tuple[Key, ...]:
        return tuple(self._changed)

    def _mark(self, keys: Iterable[Key]) -> None:
        for k in keys:
            self._changed[k] = None

    # -- the sync ------------------------------------------------------------------------------
    def plan(self, caches: Caches, *, now: float) -> SyncPlan:
        """What this sync installs; takes the pending changes (they are gone if it fails)."""
        changed, self._changed = self._changed, {}
        if self.need_full_sync or now - self.last_full_sync >= self.full_sync_period:
            return self._full(caches)
        rules = {}
        for key in changed:
            svc = caches.service(key)
            rules[key] = [] if svc is None else service_rules(svc, caches.slices(key),
                                                              node=self.node)
        old = Counter(k for key in rules for k in _keys(self.installed.get(key, ())))
        new = Counter(k for r in rules.values() for k in _keys(r))
        if any(self._producers[k] > old[k] or new[k] > 1 for k in old | new):
            return self._full(caches)  # a rule key shared with another Service
        return SyncPlan(False, rules, remove=tuple(old), add=tuple(r for v in rules.values() for r in v))

    def committed(self, plan: SyncPlan, *, now: float) -> None:
        """``plan`` is installed."""
        if plan.full:
            self.installed = {}
            self._producers = Counter()
            self.need_full_sync = False
            self.last_full_sync = now
        for key, rules in plan.rules.items():
            for k in _keys(self.installed.pop(key, ())):
                self._producers[k] -= 1
                if not self._producers[k]:
                    del self._producers[k]
            if rules:
                self.installed[key] = rules
                self._producers.update(_keys(rules))

    def failed(self) -> None:
        """The planned rules could not be installed: the next sync is full."""
        self.need_full_sync = True

    def _full(self, caches: Caches) -> SyncPlan:
        rules = {}
        for svc in caches.services():
            key = object_key(svc)
            rules[key] = service_rules(svc, caches.slices(key), node=self.node)
        return SyncPlan(True, rules, add=tuple(r for v in rules.values() for r in v))
