"""Fault campaigns (`actors.etcd._campaign`): the seeded nemesis, a small campaign that must
pass every check, campaigns that must catch planted bugs (stale reads, a lost fsync), and the
larger `campaign`-marked runs sized by KUBETWIN_CAMPAIGN_BUDGET."""

from __future__ import annotations

import pytest

from actors.checker import check, decode_jsonl
from actors.etcd import _member_requests
from actors.etcd._campaign import CampaignConfig, nemesis_schedule, run_campaign, summary
from actors.etcd._kv_messages import RangeRequest
from runtime import Crash, FaultSchedule, Heal, LinkFaults, Partition, Restart
from tests.budget import campaign_budget

NAMES = [f"etcd-{i}" for i in range(1, 6)]


def test_the_nemesis_is_data_from_the_seed_and_ends_healed() -> None:
    cfg = CampaignConfig(members=5, seed=11, duration=40.0, nemesis=("partition", "crash", "loss"))
    schedule = nemesis_schedule(cfg, NAMES)
    assert schedule == nemesis_schedule(cfg, NAMES)
    assert schedule != nemesis_schedule(CampaignConfig(members=5, seed=12, duration=40.0), NAMES)
    assert FaultSchedule.from_json(schedule.to_json()) == schedule
    times = [e.at for e in schedule.events]
    assert times == sorted(times) and min(times) > cfg.warmup and max(times) == cfg.duration
    kinds = {type(e.fault) for e in schedule.events if e.at < cfg.duration}
    assert {Partition, Crash, LinkFaults} <= kinds
    final = [e.fault for e in schedule.events if e.at == cfg.duration]
    assert Heal() in final
    assert any(isinstance(f, LinkFaults) and not (f.loss or f.duplicate or f.reorder) for f in final)
    assert {f.name for f in final if isinstance(f, Restart)} == set(NAMES)
    # Never more members down at once than a majority can spare, plus one.
    down: set[str] = set()
    for e in schedule.events:
        if isinstance(e.fault, Crash):
            down.add(e.fault.name)
            assert len(down) <= 3
        elif isinstance(e.fault, Restart):
            down.discard(e.fault.name)


def test_an_unknown_nemesis_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown nemesis meteor"):
        nemesis_schedule(CampaignConfig(nemesis=("meteor",)), NAMES)


def test_a_small_campaign_with_every_fault_passes_every_check() -> None:
    cfg = CampaignConfig(members=5, seed=5, duration=30.0, clients=4, keys=3,
                         nemesis=("partition", "crash", "loss", "slowdisk", "skew"))
    r = run_campaign(cfg)
    assert r.ok, summary(r)
    assert r.linearizable is True and r.checks > 100
    assert sum(r.faults.values()) >= 5 and r.counts["ok"] > 100
    assert r.leader_after_heal is not None and r.leader_after_heal < 5.0
    assert r.watch_events > 50
    assert check(decode_jsonl(r.history)).ok is True
    text = summary(r)
    assert "verdict: PASS" in text and "linearizable" in text


def test_a_campaign_with_stale_reads_planted_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve linearizable reads from local state without ReadIndex (etcd 0.4's stale reads,
    Jepsen 2014): a partitioned old leader answers with old values."""
    original = _member_requests.MemberRequests._on_read

    def stale(self: _member_requests.MemberRequests, m: object) -> object:
        if isinstance(m, RangeRequest):
            return self.sm.read(m, self.now())
        return original(self, m)

    monkeypatch.setattr(_member_requests.MemberRequests, "_on_read", stale)
    found = []
    for seed in range(10):  # 3 of these 10 seeds catch it (4, 6, 8)
        r = run_campaign(CampaignConfig(members=3, seed=seed, duration=30.0, nemesis=("partition",)))
        found += r.violations
    assert any("linearizab" in v or "revision went back" in v for v in found), found


@pytest.mark.campaign
def test_campaigns_over_many_seeds_find_no_violation(request: pytest.FixtureRequest) -> None:
    seeds = campaign_budget(request, {"small": 3, "medium": 20, "large": 200})
    duration = 30.0 if seeds <= 3 else 60.0
    failures = []
    for seed in range(seeds):
        members = 5 if seed % 2 == 0 else 3
        r = run_campaign(CampaignConfig(members=members, seed=seed, duration=duration,
                                        nemesis=("partition", "crash", "loss", "slowdisk", "skew")))
        if not r.ok or r.linearizable is not True:
            failures.append(f"seed {seed}:\n{summary(r)}")
    assert not failures, "\n\n".join(failures)
