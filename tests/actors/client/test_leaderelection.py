"""Leader election against the apiserver test double: one leader at a time (checked at every
step of the simulation), failover after a crash, a partitioned leader stepping down after
renewDeadline, leaseTransitions, release on cancel, and the legacy annotation locks."""

import json
import random
import re

import pytest

from actors.client import (
    LEADER_ANNOTATION,
    Client,
    ClientActorMixin,
    LeaderElector,
    format_micro_time,
    format_time,
    new_identity,
    parse_time,
)
from runtime import NEVER_RESTART, SIM_EPOCH, Actor, LinkModel, Simulation, Uniform
from tests.actors.client._harness import cluster, no_crashes

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD, JITTER = 15.0, 10.0, 2.0, 1.2
MAX_POLL = RETRY_PERIOD * (1 + JITTER)  # a follower polls at most this far apart


class Candidate(ClientActorMixin, Actor):
    def __init__(self, apiservers, log, lock_type="leases", release_on_cancel=False):
        self.apiservers, self.journal, self.lock_type = apiservers, log, lock_type
        self.release_on_cancel = release_on_cancel

    def on_start(self):
        self.client = Client(self, apiservers=self.apiservers, token="t", qps=-1, timeout=RENEW_DEADLINE)
        self.identity = new_identity(self, self.name)
        self.elector = LeaderElector(
            self.client, name="kube-scheduler", identity=self.identity, lock_type=self.lock_type,
            on_started_leading=self.lead, on_stopped_leading=lambda: self.note("stopped"),
            on_new_leader=lambda who: self.note("new-leader", who),
            release_on_cancel=self.release_on_cancel,
        )
        self.working = 0
        self.elector.start()

    def note(self, what, arg=None):
        self.journal.append((round(self.now(), 6), self.name, what, arg))

    async def lead(self):
        import anyio

        self.note("started")
        while True:  # the component's work; cancelled when leadership ends
            self.working += 1
            await anyio.sleep(1)


def election(sim, n=3, lock_type="leases", **kw):
    backend, servers = cluster(sim)
    log = []
    names = [f"cand-{i}" for i in range(n)]
    for name in names:
        sim.spawn(name, Candidate, servers, log, lock_type, policy=NEVER_RESTART, **kw)
    return backend, servers, names, log


def log_of(log, name, what):
    return [arg for _, who, w, arg in log if who == name and w == what]


def alive(sim, name):
    return sim.system.status(name) == "running"


def leaders(sim, names):
    return [n for n in names if alive(sim, n) and sim.actor(n).elector.leading]


def lease(backend):
    return backend.stored("leases", "kube-system", "kube-scheduler")


def check(sim, backend, names):
    """At most one candidate believes it leads, and its lease is valid on the server."""
    lead = leaders(sim, names)
    assert len(lead) <= 1, f"two leaders at {sim.now}: {lead}"
    if lead and lease(backend) is not None:
        spec = lease(backend)["spec"]
        assert spec["holderIdentity"] == sim.actor(lead[0]).identity
        expires = parse_time(spec["renewTime"]) + spec["leaseDurationSeconds"]
        assert SIM_EPOCH + sim.now <= expires, f"{lead[0]} leads on an expired lease at {sim.now}"


def run_checked(sim, backend, names, until, stop=None):
    while sim.now < until:
        sim.step(horizon=until)
        check(sim, backend, names)
        if stop is not None and stop():
            return sim.now
    return sim.now


def test_exactly_one_candidate_wins_the_race_to_create_the_lease():
    with Simulation(seed=11) as sim:
        backend, _, names, log = election(sim, n=5)
        sim.run_until_idle()
        check(sim, backend, names)
        assert len(leaders(sim, names)) == 1  # at t=0: four got AlreadyExists
        spec = lease(backend)["spec"]
        assert spec["leaseTransitions"] == 0 and spec["leaseDurationSeconds"] == 15
        assert spec["acquireTime"] == spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
        assert re.fullmatch(r"cand-\d_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            spec["holderIdentity"])


def test_failover_after_the_leader_crashes():
    with Simulation(seed=7) as sim:
        backend, _, names, log = election(sim)
        sim.system.set_clock_skew("cand-2", offset=3600.0)  # offsets do not matter: no clock is compared
        run_checked(sim, backend, names, 30)
        (old,) = leaders(sim, names)
        old_id = sim.actor(old).identity
        acquired = lease(backend)["spec"]["acquireTime"]
        assert parse_time(lease(backend)["spec"]["renewTime"]) >= SIM_EPOCH + 30 - RETRY_PERIOD - 0.01
        assert sim.actor(old).working >= 29
        t_crash = sim.now
        last_renew = parse_time(lease(backend)["spec"]["renewTime"]) - SIM_EPOCH
        sim.crash(old)
        t_new = run_checked(sim, backend, names, 120, stop=lambda: bool(leaders(sim, names)))
        (new,) = leaders(sim, names)
        assert new != old
        # A follower waits leaseDuration on its own clock from when it saw the last renewal, and
        # polls every retryPeriod × [1, 2.2): it observes the last renewal at most one poll after
        # it was written and acquires at most one poll after the lease expired for it.
        assert LEASE_DURATION <= t_new - last_renew <= LEASE_DURATION + 2 * MAX_POLL
        assert t_new - t_crash <= LEASE_DURATION + 2 * MAX_POLL
        spec = lease(backend)["spec"]
        assert spec["leaseTransitions"] == 1
        assert spec["holderIdentity"] == sim.actor(new).identity != old_id
        assert spec["acquireTime"] != acquired
        run_checked(sim, backend, names, t_new + 60)
        assert lease(backend)["spec"]["leaseTransitions"] == 1  # renewals do not count
        for n in names:
            if n != old:  # every survivor has seen the new leader by now
                assert log_of(log, n, "new-leader")[-1] == sim.actor(new).identity
        no_crashes(sim)


def test_a_partitioned_leader_stops_leading_within_renew_deadline():
    with Simulation(seed=5) as sim:
        backend, servers, names, log = election(sim)
        run_checked(sim, backend, names, 20)
        (old,) = leaders(sim, names)
        t_cut = sim.now
        sim.partition([old], [*servers, *[n for n in names if n != old]])
        last_renew = parse_time(lease(backend)["spec"]["renewTime"]) - SIM_EPOCH
        run_checked(sim, backend, names, 90)
        stopped = [t for t, who, what, _ in log if who == old and what == "stopped"]
        assert len(stopped) == 1
        # Its last successful renewal, one retryPeriod of rest, then a round of renewDeadline.
        assert stopped[0] - last_renew <= RETRY_PERIOD + RENEW_DEADLINE + 1e-6
        assert stopped[0] - t_cut <= RETRY_PERIOD + RENEW_DEADLINE + 1e-6
        started = [t for t, who, what, _ in log if what == "started" and who != old]
        assert len(started) == 1 and started[0] > stopped[0]
        assert started[0] - last_renew >= LEASE_DURATION
        assert not sim.actor(old).elector.leading
        assert sim.actor(old).elector.statistics().lost == 1
        work_at_stop = sim.actor(old).working
        sim.advance(10)
        assert sim.actor(old).working == work_at_stop  # its leader work was cancelled
        assert lease(backend)["spec"]["leaseTransitions"] == 1


def test_release_on_cancel_hands_over_without_waiting_for_the_lease():
    with Simulation(seed=3) as sim:
        backend, _, names, log = election(sim, release_on_cancel=True)
        run_checked(sim, backend, names, 10)
        (old,) = leaders(sim, names)
        sim.run(sim.actor(old).elector.stop())
        spec = lease(backend)["spec"]
        assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
        assert ("stopped" in [w for _, who, w, _ in log if who == old])
        t0 = sim.now
        t_new = run_checked(sim, backend, names, 60, stop=lambda: bool(leaders(sim, names)))
        assert t_new - t0 <= MAX_POLL + 1.0 + 1e-6  # one poll, well before 15 s
        assert lease(backend)["spec"]["leaseTransitions"] == 1


def test_legacy_endpoints_lock_keeps_the_seed_annotation_format():
    with Simulation(seed=9) as sim:
        backend, _, names, log = election(sim, lock_type="endpoints")
        run_checked(sim, backend, names, 10)
        (old,) = leaders(sim, names)
        ep = backend.stored("endpoints", "kube-system", "kube-scheduler")
        assert ep["kind"] == "Endpoints" and "subsets" not in ep
        text = ep["metadata"]["annotations"][LEADER_ANNOTATION]
        ts = r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"'
        assert re.fullmatch(
            r'\{"holderIdentity":"cand-\d_[0-9a-f-]{36}","leaseDurationSeconds":15,'
            rf'"acquireTime":{ts},"renewTime":{ts},"leaderTransitions":0\}}', text), text
        assert list(json.loads(text)) == ["holderIdentity", "leaseDurationSeconds", "acquireTime",
                                          "renewTime", "leaderTransitions"]
        assert json.loads(text)["acquireTime"] == "2026-01-01T00:00:00Z"
        sim.crash(old)
        run_checked(sim, backend, names, 80)
        rec = json.loads(backend.stored("endpoints", "kube-system", "kube-scheduler")
                         ["metadata"]["annotations"][LEADER_ANNOTATION])
        assert rec["leaderTransitions"] == 1 and rec["holderIdentity"] != json.loads(text)["holderIdentity"]
        assert backend.stored("leases", "kube-system", "kube-scheduler") is None


def test_configmap_lock_works_the_same_way():
    with Simulation(seed=2) as sim:
        backend, _, names, log = election(sim, lock_type="configmaps")
        run_checked(sim, backend, names, 10)
        assert len(leaders(sim, names)) == 1
        cm = backend.stored("configmaps", "kube-system", "kube-scheduler")
        assert json.loads(cm["metadata"]["annotations"][LEADER_ANNOTATION])["leaseDurationSeconds"] == 15


def test_configuration_is_validated_like_client_go():
    with Simulation() as sim:
        _, servers = cluster(sim)
        sim.spawn("c", Candidate, servers, [])
        sim.run_until_idle()
        client = sim.actor("c").client
        with pytest.raises(ValueError, match="leaseDuration"):
            LeaderElector(client, name="x", identity="i", lease_duration=10, renew_deadline=10)
        with pytest.raises(ValueError, match="renewDeadline"):
            LeaderElector(client, name="x", identity="i", renew_deadline=4, retry_period=4)
        with pytest.raises(ValueError, match="identity"):
            LeaderElector(client, name="x", identity="")
        with pytest.raises(ValueError, match="lock type"):
            LeaderElector(client, name="x", identity="i", lock_type="zookeeper")


def test_wire_time_formats():
    assert format_time(SIM_EPOCH + 0.9) == "2026-01-01T00:00:00Z"
    assert format_micro_time(SIM_EPOCH + 1.5) == "2026-01-01T00:00:01.500000Z"
    assert parse_time("2026-01-01T00:00:01.500000Z") == SIM_EPOCH + 1.5
    assert parse_time("2020-03-20T08:49:12Z") == 1584694152.0
    assert parse_time(None) == 0.0


class Exiting(Candidate):
    """Dies when it loses the lease, as kube-scheduler does (the supervisor restarts it)."""

    def on_start(self):
        super().on_start()
        self.elector.on_stopped_leading = self.exit

    def exit(self):
        self.note("stopped")
        raise RuntimeError("lost the lease: exiting")


# A candidate crashed in the same instant it restarted never starts its elector task; the
# runtime's spawn wrapper then drops the un-awaited ``run()`` coroutine, which Python warns about.
@pytest.mark.filterwarnings("ignore:coroutine 'LeaderElector.run' was never awaited")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("seed", range(8))
def test_at_most_one_leader_under_crashes_partitions_latency_and_loss(seed):
    rng = random.Random(seed)
    with Simulation(seed=seed) as sim:
        sim.set_network(LinkModel(latency=Uniform(0.001, 0.3), loss=0.05 if seed % 2 else 0.0))
        backend, servers = cluster(sim)
        log = []
        names = [f"cand-{i}" for i in range(3)]
        for n in names:
            sim.spawn(n, Exiting, servers, log)
        next_fault = 0.0
        while sim.now < 400:
            if sim.now >= next_fault:
                next_fault = sim.now + rng.uniform(5, 40)
                act, n = rng.choice(["crash", "partition", "heal", "restart"]), rng.choice(names)
                if act == "crash":
                    sim.crash(n)
                elif act == "restart":
                    sim.restart(n)
                elif act == "partition":
                    sim.heal()
                    sim.partition([n], [x for x in names + servers if x != n])
                else:
                    sim.heal()
            if not sim.step(horizon=min(next_fault, 400)):
                sim.advance(min(next_fault, 400) - sim.now)
            check(sim, backend, names)
        assert sum(1 for _, _, w, _ in log if w == "started") >= 2  # leadership did move


def test_same_seed_same_election():
    def run(seed):
        with Simulation(seed=seed) as sim:
            backend, _, names, log = election(sim)
            sim.advance(20)
            sim.crash(leaders(sim, names)[0])
            sim.advance(40)
            return log, lease(backend)["spec"]

    assert run(21) == run(21)
    assert run(21) != run(22)
