"""``KubeScheduler``: kube-scheduler as an actor — informers, leader election, the scheduling
loop — around the pure core (cache, queue, framework, ``schedule_one``).

What it is, as kube-scheduler's ``Run`` does it:
1. Three clients over the bus, each with its own QPS 50 / burst 100 token bucket (the
   scheduler's clientConnection defaults): the main one (informers, bindings, status
   patches, preemptions), one for events and one for leader election — as kube-scheduler
   builds separate clientsets, so a flood of bindings cannot starve lease renewals.
2. Informers (``_shell_handlers``) fill the cache and the queue on *every* replica, before
   and regardless of leadership: followers keep warm caches and can schedule the moment
   they win the lease.
3. After the caches sync, the replica campaigns (``LeaderElector`` on the Lease
   ``kube-system/kube-scheduler``, holderIdentity ``kube-scheduler-<i>_<uuid>`` with the
   uuid from the actor's seeded generator; 15 s / 10 s / 2 s; or the legacy Endpoints /
   ConfigMap annotation lock). Only the leader runs the scheduling loop and the queue's
   flushes. Losing the lease ends the replica as it ends kube-scheduler
   ("leaderelection lost" is fatal): ``LeaderElectionLost`` crashes the actor and its
   supervisor restarts it — a fresh process with a fresh identity and empty caches.
4. The scheduling loop pops one pod at a time and runs a cycle (``_shell_cycle``), yielding
   to the loop between pods so watch events (binding confirmations, new pods, nodes) are
   taken in; when activeQ is empty it sleeps until a handler or a flush kicks it. The
   backoffQ is flushed every second and pods unschedulable for over 5 minutes every 30 s.

Concurrency model: one actor; its state is touched by its informer tasks, the scheduling
loop task, binding/patch tasks and the elector task, all on the actor's loop thread and
never across an await inside a cycle. Virtual time does not pass while a cycle runs.

Invariants: only a replica whose elector says it leads runs cycles (the loop task is the
elector's leader task, cancelled when leadership ends); without fencing, a replica that
lost the lease may still have binding requests in flight — Kubernetes has the same window,
and the apiserver's binding check (409 for an already-bound pod) is what keeps a pod from
being bound twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec

from actors.client import (
    Client,
    ClientActorMixin,
    EventRecorder,
    LeaderElector,
    SharedInformerFactory,
    new_identity,
)
from actors.scheduler._algorithm import AlgorithmState
from actors.scheduler._cache import SchedulerCache
from actors.scheduler._queue import SchedulingQueue
from actors.scheduler._shell_config import SchedulerConfig
from actors.scheduler._shell_cycle import SchedulingCycle
from actors.scheduler._shell_handlers import InformerHandlers
from actors.scheduler._types import Snapshot
from runtime import Actor

__all__ = ["KubeScheduler", "LeaderElectionLost", "SchedulerStats"]

_COUNTS = ("attempts", "assumed", "bound", "unschedulable", "errors", "bind_failures",
           "preempted")


class LeaderElectionLost(RuntimeError):
    """The lease was lost: kube-scheduler exits (klog "leaderelection lost"), so does this
    actor (by crashing; its supervisor restarts it)."""


class SchedulerStats(msgspec.Struct, frozen=True):
    identity: str
    leading: bool
    synced: bool
    attempts: int
    assumed: int
    bound: int
    unschedulable: int
    errors: int
    bind_failures: int
    preempted: int
    pending: str  # the queue's summary: "activeQ:N; backoffQ:N; unschedulablePods:N"
    cached_nodes: int
    cached_pods: int


class KubeScheduler(ClientActorMixin, InformerHandlers, SchedulingCycle, Actor):
    """One kube-scheduler replica (see the module docstring)."""

    def __init__(self, apiservers: list[str], token: str, *,
                 config: SchedulerConfig | None = None,
                 leader_election_token: str | None = None) -> None:
        self.apiservers = list(apiservers)
        self.token = token
        self.config = config or SchedulerConfig()
        self.leader_election_token = leader_election_token or token

    def on_start(self) -> None:
        cfg = self.config
        conn = {"apiservers": self.apiservers, "qps": cfg.qps, "burst": cfg.burst}
        self.client = Client(self, token=self.token, user_agent="kube-scheduler", **conn)
        self.event_client = Client(self, token=self.token, user_agent="kube-scheduler/events",
                                   **conn)
        self.le_client = Client(self, token=self.leader_election_token,
                                user_agent="kube-scheduler/leader-election",
                                timeout=cfg.renew_deadline, **conn)
        self.profiles = cfg.build_profiles()
        events: dict[str, Any] = {}
        for p in self.profiles.values():
            events.update(p.events_to_register())
        self.queue = SchedulingQueue(pod_initial_backoff=cfg.pod_initial_backoff,
                                     pod_max_backoff=cfg.pod_max_backoff,
                                     pod_max_in_unschedulable=cfg.pod_max_in_unschedulable,
                                     events_to_register=events)
        self.cache = SchedulerCache()
        self.snapshot = Snapshot()
        self.algo = AlgorithmState(self.rng, 0, cfg.percentage_of_nodes_to_score)
        self.recorders = {name: EventRecorder(self.event_client, name) for name in self.profiles}
        self.factory = SharedInformerFactory(self.client)
        self._register_handlers()
        self.counts = dict.fromkeys(_COUNTS, 0)
        self.synced = False
        self.leading = False  # this replica's scheduling loop is running
        self._work = asyncio.Event()
        self.identity = new_identity(self, self.name)  # hostname_uuid, as kube-scheduler
        self.elector = LeaderElector(
            self.le_client, name=cfg.resource_name, namespace=cfg.resource_namespace,
            identity=self.identity, lock_type=cfg.resource_lock,
            lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline,
            retry_period=cfg.retry_period, on_started_leading=self._lead,
            on_stopped_leading=self._lost)
        self.spawn(self._run(), name=f"{self.name}:run")

    # ---- lifecycle ------------------------------------------------------------------------
    async def _run(self) -> None:
        self.factory.start()
        await self.factory.wait_for_cache_sync()
        self.synced = True
        if self.config.leader_elect:
            self.elector.start()
        else:
            await self._lead()

    async def _lead(self) -> None:
        """The leader's work; the elector cancels it when leadership ends."""
        self.leading = True
        self.log.info("started leading", identity=self.identity)
        flusher = self.spawn(self._flush_loop(), name=f"{self.name}:flush")
        try:
            await self._scheduling_loop()
        finally:
            flusher.cancel()
            self.leading = False

    def _lost(self) -> None:
        raise LeaderElectionLost(f"{self.identity}: leaderelection lost")

    def _kick(self) -> None:
        self._work.set()

    async def _scheduling_loop(self) -> None:
        while True:
            if self.schedule_next():
                await anyio.sleep(0)  # let watch events in between pods
                continue
            self._work.clear()
            await self._work.wait()

    async def _flush_loop(self) -> None:
        cfg = self.config
        last_leftover = self.now()
        while True:
            await anyio.sleep(cfg.flush_interval)
            now = self.now()
            moved = self.queue.flush_backoff_completed(now)
            if now - last_leftover >= cfg.unschedulable_flush_interval:
                last_leftover = now
                moved += self.queue.flush_unschedulable_leftover(now)
            if moved:
                self._kick()

    # ---- inspection -----------------------------------------------------------------------
    def statistics(self) -> SchedulerStats:
        _, pending = self.queue.pending_pods()
        return SchedulerStats(identity=self.identity, leading=self.leading, synced=self.synced,
                              pending=pending, cached_nodes=self.cache.node_count(),
                              cached_pods=self.cache.pod_count(), **self.counts)
