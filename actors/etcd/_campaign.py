"""Fault campaigns against a simulated etcd cluster: Jepsen's register test in virtual time.

What it is: ``run_campaign(CampaignConfig)`` spawns a cluster (``EtcdCluster``), client
processes doing random read / write / cas on keys ``k1``..``kN`` and a watcher, applies a
nemesis generated from the seed (``nemesis_schedule``: a fault every few seconds, then heal,
then a quiet tail so pending operations complete), checks the safety invariants every
``check_interval`` virtual seconds, and finally checks liveness, convergence and the history's
linearizability (``actors.checker``). The CLI (``kubetwin sim etcd``) and the campaign tests
drive it; ``summary()`` renders the result.

Determinism: everything random comes from the seed (the simulation's generators, derived by
name with a stable hash, and the nemesis generator below), so one seed gives byte-identical
history and trace files on every run and machine, whatever PYTHONHASHSEED is.

Concurrency model: synchronous; the campaign owns its ``Simulation`` and steps it.

Phases (virtual seconds): faults from ``warmup`` to ``duration``; at ``duration`` everything
heals (partitions, links, disks, clocks) and every member restarts; clients keep issuing
operations for ``settle`` seconds more (liveness: they must succeed), then stop; the run ends
once no operation is pending and the ``tail`` has passed.
"""

from __future__ import annotations

import random
from collections import Counter
from hashlib import blake2b

import msgspec

from actors.checker import Verdict, check
from actors.etcd._campaign_clients import Ledger
from actors.etcd._campaign_cluster import BASE_LATENCY, EtcdCluster
from actors.etcd._raft import fault_tolerance
from runtime import (
    ClockSkew,
    Crash,
    Fault,
    FaultSchedule,
    Heal,
    LinkFaults,
    Partition,
    Restart,
    Simulation,
    SlowDisk,
    TimedFault,
    Uniform,
)

__all__ = ["NEMESES", "CampaignConfig", "CampaignResult", "nemesis_schedule", "run_campaign", "summary"]

NEMESES = ("partition", "crash", "loss", "slowdisk", "skew")


class CampaignConfig(msgspec.Struct, frozen=True, kw_only=True):
    members: int = 5
    seed: int = 0
    duration: float = 60.0  # virtual seconds of workload under faults (from `warmup`); heal then
    clients: int = 5
    keys: int = 3
    nemesis: tuple[str, ...] = ("partition", "crash", "loss")
    fault_gap: tuple[float, float] = (1.0, 5.0)  # seconds between fault events
    warmup: float = 2.0
    settle: float = 8.0  # operations continue this long after the heal
    tail: float = 12.0  # the whole quiet spell after the heal (>= settle + request timeout)
    check_interval: float = 0.25
    snapshot_count: int = 200  # low, as Jepsen's --snapshot-count, so snapshots happen
    unsafe_commit_old_term: bool = False
    trace: bool = False
    leader_bound: float = 10.0  # liveness: a leader within this long of the heal (5 timeouts)
    checker_steps: int = 20_000_000
    stop_on_violation: bool = False


class CampaignResult(msgspec.Struct, kw_only=True):
    config: CampaignConfig
    schedule: FaultSchedule
    counts: dict[str, int]
    by_f: dict[str, dict[str, int]]
    faults: dict[str, int]
    elections: int
    leader_after_heal: float | None  # seconds from the heal to a leader followed by a quorum
    checks: int
    raft_violations: list[str]
    kv_violations: list[str]
    linearizable: bool | None
    counterexample: str
    watch_events: int
    watch_resumes: int
    virtual_seconds: float
    history: bytes
    trace: bytes

    @property
    def violations(self) -> list[str]:
        lin = [] if self.linearizable is not False else ["linearizability: " + self.counterexample]
        return [*self.raft_violations, *self.kv_violations, *lin]

    @property
    def ok(self) -> bool:
        return not self.violations


def nemesis_schedule(cfg: CampaignConfig, names: list[str]) -> FaultSchedule:
    """A fault every ``fault_gap`` seconds from ``warmup`` to ``duration``, each undone after a
    while; then heal, clean links, fast disks, true clocks and every member restarted."""
    unknown = sorted(set(cfg.nemesis) - set(NEMESES))
    if unknown:
        raise ValueError(f"unknown nemesis {', '.join(unknown)} (choose from {', '.join(NEMESES)})")
    digest = blake2b(f"{cfg.seed}:nemesis".encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    end = cfg.duration
    events: list[TimedFault] = []
    down: dict[str, float] = {}  # crashed member -> restart time
    t = cfg.warmup
    while cfg.nemesis:
        t += rng.uniform(*cfg.fault_gap)
        if t >= end:
            break
        for name in [n for n, at in down.items() if at <= t]:
            del down[name]
        events.extend(_one_fault(rng, cfg, names, t, down, end))
    events += [TimedFault(end, Heal()), TimedFault(end, LinkFaults(latency=BASE_LATENCY))]
    for name in names:
        events += [TimedFault(end, SlowDisk(name, 0.0)), TimedFault(end, ClockSkew(name)),
                   TimedFault(end, Restart(name))]
    return FaultSchedule(tuple(events)).sorted()


def _one_fault(rng: random.Random, cfg: CampaignConfig, names: list[str], t: float,
               down: dict[str, float], end: float) -> list[TimedFault]:
    kind = rng.choice(cfg.nemesis)
    hold = rng.uniform(1.0, 8.0)
    undo_at = min(t + hold, end)
    if kind == "partition":
        shuffled = names[:]
        rng.shuffle(shuffled)
        cut = rng.randrange(1, len(names)) if len(names) > 1 else 1
        groups = (tuple(sorted(shuffled[:cut])), tuple(sorted(shuffled[cut:])))
        return [TimedFault(t, Heal()), TimedFault(t, Partition(groups)), TimedFault(undo_at, Heal())]
    if kind == "crash":
        up = [n for n in names if n not in down]
        if not up or len(down) > fault_tolerance(len(names)):
            return []
        name = rng.choice(up)
        down[name] = undo_at
        return [TimedFault(t, Crash(name, lose_unsynced=rng.random() < 0.5)), TimedFault(undo_at, Restart(name))]
    if kind == "loss":
        latency = Uniform(0.0005, rng.uniform(0.003, 0.05))
        faulty = LinkFaults(loss=rng.uniform(0.0, 0.2), duplicate=rng.uniform(0.0, 0.1),
                            reorder=rng.uniform(0.0, 0.3), latency=latency)
        return [TimedFault(t, faulty), TimedFault(undo_at, LinkFaults(latency=BASE_LATENCY))]
    name = rng.choice(names)
    if kind == "slowdisk":
        return [TimedFault(t, SlowDisk(name, rng.uniform(0.005, 0.2))), TimedFault(undo_at, SlowDisk(name, 0.0))]
    skew = ClockSkew(name, offset=rng.uniform(-5.0, 5.0), rate=rng.uniform(0.8, 1.25))
    return [TimedFault(t, skew), TimedFault(undo_at, ClockSkew(name))]


def run_campaign(cfg: CampaignConfig) -> CampaignResult:
    if cfg.members < 1 or cfg.clients < 1 or cfg.keys < 1 or cfg.duration < 0:
        raise ValueError("members, clients and keys must be >= 1 and duration >= 0")
    with Simulation(cfg.seed, trace=cfg.trace) as sim:
        cluster = EtcdCluster(sim, members=cfg.members, snapshot_count=cfg.snapshot_count,
                              unsafe_commit_old_term=cfg.unsafe_commit_old_term)
        ledger = Ledger()
        heal_at = cfg.duration
        for p in range(cfg.clients):
            cluster.add_client(p, ledger, keys=cfg.keys, until=heal_at + cfg.settle)
        cluster.add_watcher()
        schedule = nemesis_schedule(cfg, cluster.names)
        sim.nemesis(schedule)
        leader_at = _drive(sim, cluster, ledger, cfg, heal_at)
        if leader_at is None or leader_at - heal_at > cfg.leader_bound:
            cluster.violation(f"liveness: no leader followed by a quorum within {cfg.leader_bound:g} s "
                              f"of the heal at {heal_at:g} s")
        cluster.check_converged(ledger)
        verdict = check(ledger.events, max_steps=cfg.checker_steps)
        watcher = sim.actor("watcher")
        return CampaignResult(
            config=cfg, schedule=schedule, counts=dict(ledger.counts), by_f=_by_f(ledger),
            faults=_fault_counts(schedule, heal_at), elections=cluster.safety.elections,
            leader_after_heal=None if leader_at is None else leader_at - heal_at,
            checks=cluster.safety.checks, raft_violations=list(cluster.safety.violations),
            kv_violations=[*cluster.violations, *ledger.violations],
            linearizable=verdict.ok, counterexample=_describe(verdict),
            watch_events=len(watcher.events), watch_resumes=watcher.resumes,
            virtual_seconds=sim.now, history=ledger.to_jsonl(),
            trace=sim.trace.to_jsonl() if cfg.trace else b"",
        )


def _drive(sim: Simulation, cluster: EtcdCluster, ledger: Ledger, cfg: CampaignConfig,
           heal_at: float) -> float | None:
    """Step the simulation, checking every interval; returns when a leader was back after the heal."""
    end = heal_at + cfg.tail
    leader_at: float | None = None
    while sim.now < end or (ledger.outstanding and sim.now < end + 30.0):
        sim.advance(cfg.check_interval)
        cluster.check(ledger)
        if leader_at is None and sim.now >= heal_at and cluster.leader() is not None:
            leader_at = sim.now
        if cfg.stop_on_violation and cluster.all_violations(ledger):
            break
    return leader_at


def _by_f(ledger: Ledger) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for e in ledger.events:
        if e.type != "invoke":
            row = out.setdefault(e.f, {"ok": 0, "fail": 0, "info": 0})
            row[e.type] += 1
    return out


def _fault_counts(schedule: FaultSchedule, heal_at: float) -> dict[str, int]:
    """Faults injected before the final heal (undo events not counted)."""
    counts: Counter[str] = Counter()
    for ev in schedule.events:
        f: Fault = ev.fault
        if ev.at >= heal_at:
            continue
        match f:
            case Partition():
                counts["partition"] += 1
            case Crash():
                counts["crash"] += 1
            case LinkFaults() if f.loss or f.duplicate or f.reorder:
                counts["loss"] += 1
            case SlowDisk() if f.sync_latency:
                counts["slowdisk"] += 1
            case ClockSkew() if f.offset or f.rate != 1.0:
                counts["skew"] += 1
    return dict(sorted(counts.items()))


def _describe(verdict: Verdict) -> str:
    if verdict.counterexample is not None:
        return verdict.counterexample.describe()
    return ""


def summary(r: CampaignResult) -> str:
    cfg = r.config
    c = r.counts
    lines = [
        f"etcd campaign: {cfg.members} members, seed {cfg.seed}, {cfg.clients} clients on {cfg.keys} keys, "
        f"{cfg.duration:g} s of faults + {cfg.tail:g} s quiet tail ({r.virtual_seconds:.1f} virtual s)",
        f"nemesis: {', '.join(cfg.nemesis) or 'none'}: {sum(r.faults.values())} faults injected "
        f"({', '.join(f'{k} {v}' for k, v in r.faults.items()) or 'none'}), healed at "
        f"{cfg.duration:g} s",
        f"operations: {c['invoke']} invoked: ok {c['ok']}, failed {c['fail']}, indeterminate {c['info']}",
    ]
    for f, row in sorted(r.by_f.items()):
        lines.append(f"  {f:5}  ok {row['ok']:5}  failed {row['fail']:5}  indeterminate {row['info']:5}")
    back = "never" if r.leader_after_heal is None else f"{r.leader_after_heal:.2f} s after the heal"
    lines.append(f"leader changes: {r.elections} elections won; leader back {back}")
    verdict = {True: "linearizable", False: "NOT linearizable", None: "unknown (checker budget ran out)"}
    lines.append(f"linearizability: {verdict[r.linearizable]}")
    lines.append(f"raft invariants: {r.checks} checks of election safety, leader append-only, log "
                 f"matching, leader completeness, state machine safety: {len(r.raft_violations)} violation(s)")
    lines.append(f"kv invariants: revisions monotonic, acknowledged writes durable, watch ({r.watch_events} "
                 f"events, {r.watch_resumes} resumes) gap-free: {len(r.kv_violations)} violation(s)")
    for v in r.violations:
        lines.append("VIOLATION " + v.replace("\n", "\n  "))
    lines.append("verdict: " + ("PASS" if r.ok else "FAIL"))
    return "\n".join(lines)
