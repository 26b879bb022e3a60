"""Leader election between kube-scheduler replicas: the Lease record and its holder identity,
safety checked at every step of the simulation under crashes and partitions, failover time
after a crash, a partitioned leader stepping down (and exiting, as kube-scheduler does), the
legacy Endpoints annotation lock, and what clock-rate skew does (Kubernetes does not fence).

Safety here means: at every instant at most one replica believes it leads, and the one that
does is the holder recorded in etcd, on a lease that has not expired. The record is read
straight from the etcd member's store (inspection, no request), so checking it does not
perturb the run."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from actors import simulate
from actors.client import LEADER_ANNOTATION, parse_time
from actors.cluster import register_component
from actors.scheduler import SchedulerConfig, scheduler_components
from runtime import SIM_EPOCH, ClockSkew, Fixed, LinkModel
from tests.actors.scheduler.test_actor import (
    assert_not_overcommitted,
    events,
    node,
    node_of,
    pod,
    pods_by_name,
    spec,
)

LEASE, RENEW, RETRY, JITTER = 15.0, 10.0, 2.0, 1.2
MAX_POLL = RETRY * (1 + JITTER)  # a follower retries at most this far apart
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def names(n: int) -> list[str]:
    return [f"kube-scheduler-{i}" for i in range(n)]


def running(cluster: Any, name: str) -> bool:
    return cluster.sim.system.status(name) == "running"


def believers(cluster: Any, replicas: list[str]) -> list[str]:
    """Replicas whose elector says they lead."""
    return [n for n in replicas if running(cluster, n) and cluster.sim.actor(n).elector.leading]


def lease_record(cluster: Any) -> dict[str, Any] | None:
    kvs = cluster.sim.actor("etcd-0").sm.store.range(
        b"/registry/leases/kube-system/kube-scheduler").kvs
    return json.loads(kvs[0].value)["spec"] if kvs else None


def check(cluster: Any, replicas: list[str]) -> None:
    lead = believers(cluster, replicas)
    assert len(lead) <= 1, f"two leaders at {cluster.now}: {lead}"
    loops = [n for n in replicas if running(cluster, n) and cluster.sim.actor(n).leading]
    assert set(loops) <= set(lead), f"a scheduling loop runs without leadership: {loops}"
    if lead:
        rec = lease_record(cluster)
        assert rec is not None
        assert rec["holderIdentity"] == cluster.sim.actor(lead[0]).identity
        expires = parse_time(rec["renewTime"]) + rec["leaseDurationSeconds"]
        assert SIM_EPOCH + cluster.now <= expires, f"{lead[0]} leads on an expired lease"


def run_checked(cluster: Any, replicas: list[str], until: float, stop: Any = None) -> float:
    while cluster.now < until:
        if not cluster.sim.step(horizon=until):
            cluster.sim.loop.advance_to(until)
        check(cluster, replicas)
        if stop is not None and stop():
            break
    return cluster.now


def lost_lease_crashes(cluster: Any, name: str) -> list[float]:
    return [t for t, who, why in cluster.sim.system.crashes
            if who == name and why.startswith("LeaderElectionLost")]


# ---- the record ---------------------------------------------------------------------------


def test_one_replica_wins_the_lease_with_kube_scheduler_identity():
    replicas = names(3)
    with simulate(spec(schedulers=3), seed=31) as cluster:
        run_checked(cluster, replicas, cluster.now + 10)
        (lead,) = believers(cluster, replicas)
        rec = cluster.get("leases", "kube-scheduler", "kube-system")["spec"]
        assert re.fullmatch(rf"kube-scheduler-[0-2]_{UUID4}", rec["holderIdentity"])
        assert rec["holderIdentity"] == cluster.sim.actor(lead).identity
        assert rec["holderIdentity"].startswith(lead + "_")
        assert rec["leaseDurationSeconds"] == 15 and rec["leaseTransitions"] == 0
        assert parse_time(rec["renewTime"]) >= SIM_EPOCH + cluster.now - MAX_POLL
        cs = cluster.get("componentstatuses", "scheduler", None)  # the seed's "scheduler Healthy"
        assert cs["conditions"][0] == {"type": "Healthy", "status": "True", "message": "ok"}
        ids = {cluster.sim.actor(n).identity for n in replicas}
        assert len(ids) == 3  # each replica its own uuid (from its seeded generator)


# ---- failover -----------------------------------------------------------------------------


def test_failover_after_the_leader_crashes():
    replicas = names(3)
    with simulate(spec(schedulers=3), seed=32) as cluster:
        cluster.create(node("n0", cpu="4"))
        run_checked(cluster, replicas, cluster.now + 20)
        (old,) = believers(cluster, replicas)
        old_id = cluster.sim.actor(old).identity
        last_renew = parse_time(lease_record(cluster)["renewTime"]) - SIM_EPOCH
        t_crash = cluster.now
        cluster.crash(old)
        cluster.create(pod("after-crash"))
        t_new = run_checked(cluster, replicas, t_crash + 60,
                            stop=lambda: bool(believers(cluster, replicas)))
        (new,) = believers(cluster, replicas)
        assert new != old
        # The follower waits leaseDuration on its own clock from when it saw the last
        # renewal, and polls every retryPeriod x [1, 2.2): it sees that renewal at most one
        # poll after it was written and acquires at most one poll after the lease expired.
        assert LEASE <= t_new - last_renew <= LEASE + 2 * MAX_POLL
        assert t_new - t_crash <= LEASE + 2 * MAX_POLL
        rec = lease_record(cluster)
        assert rec["leaseTransitions"] == 1 and rec["holderIdentity"] != old_id
        # Its cache is warm: the pod created while nobody led is bound at once.
        t_bound = cluster.run_until(lambda c: node_of(c, "after-crash") == "n0", 2, poll=0.01)
        assert t_bound < 1.0
        run_checked(cluster, replicas, cluster.now + 30)
        assert lease_record(cluster)["leaseTransitions"] == 1


def test_a_partitioned_leader_steps_down_exits_and_rejoins_as_a_follower():
    replicas = names(2)
    with simulate(spec(schedulers=2, apiservers=2), seed=33) as cluster:
        cluster.create(node("n0", cpu="8"))
        run_checked(cluster, replicas, cluster.now + 20)
        (old,) = believers(cluster, replicas)
        (other,) = [n for n in replicas if n != old]
        t_cut = cluster.now
        last_renew = parse_time(lease_record(cluster)["renewTime"]) - SIM_EPOCH
        cluster.partition([old], cluster.apiservers)
        for i in range(3):
            cluster.create(pod(f"during-{i}"))
        run_checked(cluster, replicas, t_cut + 40,
                    stop=lambda: bool(believers(cluster, replicas)) and
                    believers(cluster, replicas)[0] == other)
        (crash_at,) = lost_lease_crashes(cluster, old)
        assert crash_at - last_renew <= RETRY + RENEW + 1e-6
        assert crash_at - t_cut <= RETRY + RENEW + 1e-6
        assert cluster.now - last_renew >= LEASE  # the other waited out the whole lease
        cluster.run_until(lambda c: all(p["spec"].get("nodeName")
                                        for p in pods_by_name(c).values()), 5, poll=0.05)
        assert cluster.sim.actor(other).statistics().bound == 3
        cluster.heal()
        run_checked(cluster, replicas, cluster.now + 30)
        assert believers(cluster, replicas) == [other]
        restarted = cluster.sim.actor(old)  # the supervisor restarted it: a new process
        assert restarted.synced and not restarted.leading
        assert restarted.identity != lease_record(cluster)["holderIdentity"]
        assert restarted.statistics().cached_pods == 3


# At an instant where an injected crash lands on a replica that its supervisor restarted in
# the same instant, the restarted elector's ``run()`` coroutine is dropped unstarted.
@pytest.mark.filterwarnings("ignore:coroutine 'LeaderElector.run' was never awaited")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("seed", range(4))
def test_at_most_one_leader_under_crashes_and_partitions_while_scheduling(seed):
    rng = random.Random(seed)
    replicas = names(3)
    with simulate(spec(schedulers=3, apiservers=2), seed=40 + seed) as cluster:
        for i in range(4):
            cluster.create(node(f"n{i}", cpu="4"))
        end = cluster.now + 240
        next_fault = next_pod = cluster.now
        made = 0
        while cluster.now < end:
            if cluster.now >= next_pod:
                cluster.create(pod(f"p{made:02d}", cpu=rng.choice(["200m", "500m", "1"])))
                made += 1
                next_pod = cluster.now + rng.uniform(1, 8) if made < 40 else float("inf")
            if cluster.now >= next_fault:
                next_fault = cluster.now + rng.uniform(5, 30)
                act, who = rng.choice(["crash", "partition", "heal", "restart"]), rng.choice(
                    replicas)
                if act == "crash":
                    cluster.crash(who)
                elif act == "restart":
                    cluster.restart(who)
                elif act == "partition":
                    cluster.heal()
                    cluster.partition([who], [*cluster.apiservers,
                                              *[r for r in replicas if r != who]])
                else:
                    cluster.heal()
            horizon = min(next_fault, next_pod, end)
            if not cluster.sim.step(horizon=horizon):
                cluster.sim.loop.advance_to(horizon)
            check(cluster, replicas)
        cluster.heal()
        for r in replicas:
            cluster.restart(r)
        run_checked(cluster, replicas, cluster.now + 60)
        pods = pods_by_name(cluster)
        assert len(pods) == made
        assert_not_overcommitted(cluster)
        scheduled: dict[str, int] = {}
        for e in events(cluster, "Scheduled"):
            scheduled[e["involvedObject"]["name"]] = scheduled.get(
                e["involvedObject"]["name"], 0) + e["count"]
        assert all(n <= 1 for n in scheduled.values())  # one successful binding per pod
        assert set(scheduled) <= {n for n, p in pods.items() if p["spec"].get("nodeName")}
        assert lease_record(cluster)["leaseTransitions"] >= 1  # leadership did move


# ---- the legacy lock ------------------------------------------------------------------------


def test_legacy_endpoints_lock_writes_the_seed_annotation():
    register_component("kube-scheduler",
                       scheduler_components(SchedulerConfig(resource_lock="endpoints")))
    try:
        replicas = names(2)
        with simulate(spec(schedulers=2), seed=34) as cluster:
            cluster.advance(10)
            (old,) = believers(cluster, replicas)
            ep = cluster.get("endpoints", "kube-scheduler", "kube-system")
            assert ep["kind"] == "Endpoints" and "subsets" not in ep
            assert list(ep["metadata"]["annotations"]) == [LEADER_ANNOTATION]
            text = ep["metadata"]["annotations"][LEADER_ANNOTATION]
            ts = r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"'
            assert re.fullmatch(
                rf'\{{"holderIdentity":"{old}_{UUID4}","leaseDurationSeconds":15,'
                rf'"acquireTime":{ts},"renewTime":{ts},"leaderTransitions":0\}}', text), text
            assert list(json.loads(text)) == ["holderIdentity", "leaseDurationSeconds",
                                              "acquireTime", "renewTime", "leaderTransitions"]
            cluster.crash(old)
            cluster.advance(LEASE + 2 * MAX_POLL)
            rec = json.loads(cluster.get("endpoints", "kube-scheduler", "kube-system")
                             ["metadata"]["annotations"][LEADER_ANNOTATION])
            assert rec["leaderTransitions"] == 1
            assert rec["holderIdentity"] == cluster.sim.actor(
                [n for n in replicas if n != old][0]).identity
            assert cluster.list("leases", "kube-system")["items"] == []
    finally:
        register_component("kube-scheduler", scheduler_components())


# ---- clock skew -----------------------------------------------------------------------------


def test_clock_rate_skew_lets_a_follower_take_the_lease_early():
    """Documented outcome, not safety. client-go measures a lease on the follower's own clock
    (never comparing timestamps), so clock *offsets* are harmless, but a clock that runs
    fast makes leaseDuration pass early. Here the follower's clock runs at 3x and the leader
    is cut off from the apiservers. The follower takes the lease leaseDuration/3 (5 s) of
    true time after it last saw the record change — at most two polls later, so at most
    13.8 s after the last renewal instead of at least 15 s — while the old leader believes
    it leads until its renewDeadline round ends, up to retryPeriod + renewDeadline = 12 s
    after that renewal: for a few seconds two replicas believe they lead. Kubernetes does
    not fence; here the old leader cannot reach the apiservers, so its belief does no harm
    (the next test shows one that can)."""
    replicas = names(2)
    with simulate(spec(schedulers=2), seed=35) as cluster:
        cluster.create(node("n0", cpu="8"))
        cluster.advance(20)
        (old,) = believers(cluster, replicas)
        (fast,) = [n for n in replicas if n != old]
        cluster.sim.inject(ClockSkew(fast, rate=3.0))
        cluster.advance(10)  # a healthy leader renews every 2 s: the record keeps changing
        assert believers(cluster, replicas) == [old]
        last_renew = parse_time(lease_record(cluster)["renewTime"]) - SIM_EPOCH
        cluster.partition([old], cluster.apiservers)
        both, took, _ = overlap(cluster, replicas, fast, last_renew + 40)
        assert took is not None
        assert LEASE / 3 <= took - last_renew <= LEASE / 3 + 2 * MAX_POLL < LEASE
        assert both, "expected an overlap of two believing leaders"
        (stepped_down,) = lost_lease_crashes(cluster, old)
        assert both[0] >= took and both[-1] < stepped_down + 1e-9
        assert stepped_down - last_renew <= RETRY + RENEW + 1e-6
        cluster.heal()
        cluster.create(pod("after"))
        cluster.advance(20)
        assert believers(cluster, replicas) == [fast]
        assert node_of(cluster, "after") == "n0"


def overlap(cluster: Any, replicas: list[str], fast: str, until: float,
            pods: int = 0) -> tuple[list[float], float | None, dict[str, int]]:
    """Step to ``until`` (creating ``pods`` pods 1.5 s apart). Returns the instants at which
    two replicas believed they led, when ``fast`` first did, and how many bindings each
    replica completed while both believed."""
    both: list[float] = []
    took = None
    bound_in_overlap = dict.fromkeys(replicas, 0)
    made, next_pod = 0, cluster.now if pods else float("inf")
    while cluster.now < until:
        if cluster.now >= next_pod:
            cluster.create(pod(f"p{made:02d}", cpu="500m"))
            made += 1
            next_pod = cluster.now + 1.5 if made < pods else float("inf")
        before = {n: cluster.sim.actor(n).counts["bound"] for n in replicas if running(cluster, n)}
        cluster.sim.step(horizon=min(until, next_pod))
        lead = believers(cluster, replicas)
        if len(lead) == 2:
            both.append(cluster.now)
            for n in lead:
                bound_in_overlap[n] += cluster.sim.actor(n).counts["bound"] - before.get(n, 0)
        if took is None and fast in lead:
            took = cluster.now
    return both, took, bound_in_overlap


def test_clock_rate_skew_with_a_slow_leader_gives_two_acting_leaders():
    """Documented outcome, not safety. The leader is healthy but its links to the apiserver
    are slow (3 s each way: a renewal round trip takes 6 s, so the record changes about
    every 8 s); the follower's clock runs at 3x, so 8 s look like 24 > 15 and it takes the
    lease from a live leader. The old leader learns it on its next renewal (409, then a
    read showing the new holder) and gives up only when its renewDeadline round ends; in
    between both replicas schedule and bind. What keeps this from going wrong is outside
    the election: the binding subresource refuses to bind a pod twice (409), so each pod
    has exactly one binding; nothing, however, stops two leaders from each filling the same
    free capacity from their own caches (in this run they did not over-commit a node)."""
    replicas = names(2)
    with simulate(spec(schedulers=2), seed=35) as cluster:
        for i in range(2):
            cluster.create(node(f"n{i}", cpu="2"))
        cluster.advance(20)
        (old,) = believers(cluster, replicas)
        (fast,) = [n for n in replicas if n != old]
        cluster.sim.inject(ClockSkew(fast, rate=3.0))
        for a in cluster.apiservers:
            cluster.sim.system.network.set_link(old, a, LinkModel(latency=Fixed(3.0)))
        both, took, bound_in_overlap = overlap(cluster, replicas, fast, cluster.now + 60, 16)
        assert took is not None and both
        (stepped_down,) = lost_lease_crashes(cluster, old)
        assert took <= both[0] and both[-1] < stepped_down + 1e-9
        assert stepped_down - both[0] >= RETRY  # seconds of two acting leaders
        assert bound_in_overlap[old] >= 1 and bound_in_overlap[fast] >= 1  # both bound pods
        bound = [p for p in pods_by_name(cluster).values() if p["spec"].get("nodeName")]
        assert len(bound) == 8  # 2 nodes x 2 cpu of 500m pods: the rest wait
        scheduled = events(cluster, "Scheduled")
        # One binding per pod; an exiting leader may take its last events with it.
        assert all(e["count"] == 1 for e in scheduled) and len(scheduled) <= len(bound)
