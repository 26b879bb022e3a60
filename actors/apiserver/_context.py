"""What one request carries through the apiserver's handlers, and the services they use.

What it is: ``Req`` (the resolved request: resource, scope, name, subresource, query
parameters, body and user, plus the warnings gathered on the way) and ``Services`` (the
apiserver's storage, leases, caches, admission, clock and generator, handed to every
handler so that handlers hold no state of their own).

Concurrency model: a ``Req`` belongs to one request task. ``Services`` belongs to the
apiserver actor; handlers running in concurrent request tasks share it, and every method
they call on it either is synchronous or re-reads state after its awaits.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from actors.api import ResourceInfo

from ._authn import UserInfo
from ._storage import LeaseManager, Storage

if TYPE_CHECKING:
    from ._caches import CacheSet
    from ._pipeline import Admission

__all__ = ["Req", "Services"]


@dataclass
class Req:
    verb: str
    ri: ResourceInfo
    user: UserInfo
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    patch_type: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        """``?dryRun=All``: every step but the writes."""
        return self.params.get("dryRun") == "All"

    def key(self, name: str | None = None) -> str:
        return self.ri.key(self.namespace if self.ri.namespaced else None, name or self.name or "")


@dataclass
class Services:
    storage: Storage
    leases: LeaseManager
    caches: CacheSet
    admission: Admission
    rng: random.Random
    wall_time: Callable[[], float]
    extra: dict[str, Any] = field(default_factory=dict)
