"""The member shell beyond one request: membership changes and the member list, leases that
expire and survive a leader change, and watches that resume without a gap after their member
crashes. Helpers come from `test_member`."""

from __future__ import annotations

from typing import Any

from actors.etcd import EtcdClient, MemberList, MemberListRequest
from actors.etcd._campaign_clients import WatchClient
from actors.etcd._kv_messages import prefix_end
from runtime import Simulation
from tests.actors.etcd.test_member import ELECTION, boot, call, get, leader, put, safe, start


def members(sim: Simulation, name: str) -> MemberList:
    resp = sim.ask(name, MemberListRequest())
    assert isinstance(resp, MemberList)
    return resp


# ---- membership -------------------------------------------------------------------------------------
def test_members_are_added_and_removed_and_the_list_notes_what_an_even_size_tolerates() -> None:
    sim, c = boot(3)
    rev = call(sim, c.names, lambda cl: put(cl, "k", "before"))
    new, ok = c.member_add()
    assert ok and new == 4
    sim.run_until(lambda: c.running()["etcd-4"].sm.revision == rev, timeout=5.0)
    listed = members(sim, leader(c))
    assert [m.name for m in listed.members] == ["etcd-1", "etcd-2", "etcd-3", "etcd-4"]
    assert listed.fault_tolerance == 1
    assert "tolerates 1 failure" in listed.note and "no more than 3 members would" in listed.note
    sim.advance(0.5)
    five, ok = c.member_add()
    assert ok and five == 5
    listed = members(sim, leader(c))
    assert len(listed.members) == 5 and listed.fault_tolerance == 2 and listed.note == ""
    # Remove one of the founders: it stops (etcd exits), the others carry on.
    sim.advance(0.5)
    assert c.member_remove(1)
    sim.advance(ELECTION)
    assert sim.system.status("etcd-1") == "stopped"
    listed = members(sim, leader(c))
    assert [m.member_id for m in listed.members] == [2, 3, 4, 5] and listed.note
    # The clients were configured with the founders only: they follow the leader's name.
    call(sim, c.names, lambda cl: put(cl, "k", "after"))
    assert call(sim, ["etcd-2"], get("k")) == "after"
    safe(c)


def test_removing_the_leader_elects_another_among_the_rest() -> None:
    sim, c = boot(3)
    old = leader(c)
    assert c.member_remove(c.nodes()[old].id)
    sim.run_until(lambda: c.leader() not in (None, old), timeout=5 * ELECTION)
    assert sim.system.status(old) == "stopped"
    assert len(members(sim, leader(c)).members) == 2
    call(sim, [n for n in c.names if n != old], lambda cl: put(cl, "k", "v"))
    safe(c)


# ---- leases -----------------------------------------------------------------------------------------
def _live_everywhere(c: Any, key: bytes) -> list[bool]:
    return [m.sm.store.get(key) is not None for m in c.running().values()]


def test_a_lease_that_is_not_kept_alive_expires_and_deletes_its_keys() -> None:
    sim, c = boot(3)

    async def grant(client: EtcdClient) -> int:
        lease = await client.lease_grant(3)
        await client.put(b"leased", b"v", lease=lease.id)
        return int(lease.id)
    call(sim, c.names, grant)
    sim.advance(2.0)
    assert all(_live_everywhere(c, b"leased"))
    sim.advance(2.5)  # 3 s TTL, checked every 0.5 s by the leader
    assert not any(_live_everywhere(c, b"leased"))
    safe(c)


def test_a_kept_alive_lease_survives_a_leader_change_and_then_expires() -> None:
    sim, c = boot(3)

    async def setup(client: EtcdClient) -> int:
        lease = await client.lease_grant(4)
        await client.put(b"leased", b"v", lease=lease.id)
        return int(lease.id)
    lease_id = call(sim, c.names, setup)
    keeping = {"on": True}

    async def keepalive(client: EtcdClient) -> None:
        import anyio

        while keeping["on"]:
            await client.lease_keepalive(lease_id)
            await anyio.sleep(1.0)
    start(sim, c.names, keepalive)
    sim.advance(2.0)
    c.crash(leader(c))
    sim.run_until(lambda: c.leader() is not None, timeout=5 * ELECTION)
    sim.advance(6.0)  # longer than the TTL: the keep-alives reach the new leader
    assert all(_live_everywhere(c, b"leased"))
    keeping["on"] = False
    sim.advance(7.0)  # TTL plus the election timeout the new leader added, plus a check
    assert not any(_live_everywhere(c, b"leased"))
    safe(c)


# ---- watches ----------------------------------------------------------------------------------------
def test_a_watch_resumes_on_another_member_after_its_member_crashes_without_gap_or_duplicate() -> None:
    sim, c = boot(3)
    sim.spawn("watcher", WatchClient, c.names)
    watcher = sim.actor("watcher")

    async def writes(client: EtcdClient) -> None:
        import anyio

        for i in range(40):
            await client.put(f"k{i % 3}".encode(), str(i).encode())
            await anyio.sleep(0.05)
    writer = start(sim, c.names, writes)
    sim.run_until(lambda: len(watcher.events) >= 10, timeout=10.0)
    watched = watcher.watch.member
    assert watched is not None
    c.crash(watched)
    sim.run_until(lambda: writer.done, timeout=30.0)
    sim.advance(1.0)
    assert watcher.watch.resumes >= 1 and watcher.watch.member != watched
    store = next(iter(c.running().values())).sm.store
    history = [(e.kv.mod_revision, e.kv.key.decode(), int(e.kv.value))
               for e in store.events(1, b"k", prefix_end(b"k"))]
    assert len(history) == 40
    assert watcher.events == history  # in order, every event once
    c.check()
    assert c.all_violations() == []
