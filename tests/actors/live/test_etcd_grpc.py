"""End to end: three EtcdMember actors in a live ActorSystem, `serve_etcd` on 127.0.0.1
port 0, driven by the REAL `etcdctl` (Debian's etcd-client, API 3.4) as subprocesses.

One session (a module fixture) runs every command in order and records the results; the
tests then read them. Commands run through `source etcdctl.env`, so the env file is tested by
every command that does not name its own --endpoints.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

import anyio
import pytest

from actors.etcd import EtcdConfig, EtcdMember, StatusRequest
from actors.live._etcd_grpc import cluster_id_for, serve_etcd, write_etcdctl_env
from runtime import DRIVER, live_system

ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(
    ETCDCTL is None, reason="etcdctl is not installed (apt-get install etcd-client; "
                            ".ci/run installs it where apt-get works)")

MEMBERS = ["etcd-0", "etcd-1", "etcd-2"]
POD = "/registry/pods/default/x"


class Etcdctl:
    def __init__(self, env_file: str) -> None:
        self.env_file = env_file
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}

    def argv(self, *args: str) -> list[str]:
        return ["bash", "-c", 'source "$0" && exec etcdctl "$@"', self.env_file, *args]

    async def __call__(self, *args: str, stdin: bytes | None = None
                       ) -> subprocess.CompletedProcess[bytes]:
        with anyio.fail_after(20):
            return await anyio.run_process(self.argv(*args), input=stdin, check=False,
                                           env=self.env)

    async def at(self, endpoint: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        """One endpoint only: etcdctl refuses --endpoints beside ETCDCTL_ENDPOINTS."""
        with anyio.fail_after(20):
            return await anyio.run_process(
                [ETCDCTL or "etcdctl", f"--endpoints={endpoint}", *args], check=False,
                env={**self.env, "ETCDCTL_API": "3"})


async def _statuses(system) -> list:
    return [await system.ask(DRIVER, m, StatusRequest(), timeout=2) for m in MEMBERS]


async def _wait_for_leader(system) -> int:
    with anyio.fail_after(15):
        while True:
            sts = await _statuses(system)
            leaders = {st.leader for st in sts}
            if len(leaders) == 1 and 0 not in leaders:
                return leaders.pop()
            await anyio.sleep(0.05)


async def _read_until(stream, text: str, buf: bytearray) -> None:
    with anyio.fail_after(10):
        while text.encode() not in buf:
            buf.extend(await stream.receive())


async def _watch_session(system, ctl: Etcdctl, out: dict) -> None:
    """`watch --prefix /registry/pods --prev-kv` in the background, then a put and a delete."""
    buf = bytearray()
    async with await anyio.open_process(ctl.argv("watch", "--prefix", "/registry/pods",
                                                 "--prev-kv"), env=ctl.env) as proc:
        with anyio.fail_after(10):  # the watch is in place once its relay maps a watch id
            while not any(a.startswith("$grpc/") and "/watch-" in a
                          and system.instance(a)._to_member for a in system.addresses):
                await anyio.sleep(0.02)
        out["watch-put"] = await ctl("put", "/registry/pods/default/w", "v1")
        out["watch-del"] = await ctl("del", "/registry/pods/default/w")
        key = "/registry/pods/default/w"
        await _read_until(proc.stdout, f"DELETE\n{key}\nv1\n{key}\n", buf)
        proc.terminate()
    out["watch"] = buf.decode()
    with anyio.move_on_after(10):  # etcdctl hung up: its relay (and the member's watch) goes
        while (any("/watch-" in a for a in system.addresses)
               or any(system.instance(m).watch_owner for m in MEMBERS)):
            await anyio.sleep(0.05)
    out["relays-left"] = [a for a in system.addresses if "/watch-" in a]
    out["member-watches"] = [len(system.instance(m).watch_owner) for m in MEMBERS]


async def _commands(system, ctl: Etcdctl, endpoints, leader: int, out: dict) -> None:
    out["put"] = await ctl("put", POD, '{"kind":"Pod"}')
    out["keys"] = await ctl("get", "/registry", "--prefix", "--keys-only")
    out["get"] = await ctl("get", POD)
    out["json"] = await ctl("get", POD, "-w", "json")
    follower = next(e for e, m in zip(endpoints, range(1, 4)) if m != leader)
    out["follower-put"] = await ctl.at(follower.address, "put", "/f", "via")
    out["follower-get"] = await ctl.at(follower.address, "get", "/f", "--consistency=s",
                                       "-w", "json")
    out["txn"] = await ctl("txn", "--interactive=false", stdin=(
        f'mod("{POD}") > "0"\n\nput {POD} two\nget {POD}\n\n\n').encode())
    out["get-after-txn"] = await ctl("get", POD, "--print-value-only")
    await _watch_session(system, ctl, out)
    out["del"] = await ctl("del", POD)
    out["members"] = await ctl("member", "list")
    out["status"] = await ctl("endpoint", "status", "--cluster", "-w", "table")
    out["health"] = await ctl("endpoint", "health", "--cluster")
    out["lease"] = await ctl("lease", "grant", "60")
    lease_id = out["lease"].stdout.split()[1].decode()
    out["keepalive"] = await ctl("lease", "keep-alive", "--once", lease_id)
    out["ttl"] = await ctl("lease", "timetolive", lease_id)
    head = json.loads((await ctl("get", "/f", "-w", "json")).stdout)["header"]["revision"]
    out["compaction"] = await ctl("compaction", str(head))
    out["compacted-get"] = await ctl("get", "--rev=2", "/f")
    out["compacted-watch"] = await ctl("watch", "--rev=2", "/f")
    out["head"] = head


async def _no_leader(system, ctl: Etcdctl, endpoints, out: dict) -> None:
    """Two members down: the last one loses its leader; a write then fails as etcd's does."""
    system.stop(MEMBERS[1])
    system.stop(MEMBERS[2])
    with anyio.fail_after(15):
        while (await system.ask(DRIVER, MEMBERS[0], StatusRequest(), timeout=2)).leader:
            await anyio.sleep(0.05)
    out["no-leader"] = await ctl.at(endpoints[0].address, "--command-timeout=2s", "put",
                                    "/q", "v")


async def _session(tmp: str) -> dict:
    out: dict = {}
    async with live_system(seed=7) as system:
        peers = {i + 1: name for i, name in enumerate(MEMBERS)}
        for i, name in enumerate(MEMBERS):
            system.spawn(name, EtcdMember,
                         EtcdConfig(member_id=i + 1, peers=peers, tick_interval=0.1))
        endpoints = await serve_etcd(system, MEMBERS)
        try:
            out["ports"] = [e.port for e in endpoints]
            out["env_file"] = write_etcdctl_env(tmp, endpoints)
            ctl = Etcdctl(out["env_file"])
            leader = await _wait_for_leader(system)
            await _commands(system, ctl, endpoints, leader, out)
            await _no_leader(system, ctl, endpoints, out)
        finally:
            for e in endpoints:
                await e.stop(None)
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    return anyio.run(_session, str(tmp_path_factory.mktemp("etcd")))


def _ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_env_file_exports_api_and_endpoints(session) -> None:
    lines = open(session["env_file"]).read().splitlines()
    ports = session["ports"]
    assert all(p > 0 for p in ports) and len(set(ports)) == 3
    assert lines == ["export ETCDCTL_API=3",
                     "export ETCDCTL_ENDPOINTS=" + ",".join(f"127.0.0.1:{p}" for p in ports)]


def test_put_get_keys_only(session) -> None:
    assert _ok(session["put"]) == "OK\n"
    assert _ok(session["keys"]).split() == [POD]
    assert _ok(session["get"]) == POD + '\n{"kind":"Pod"}\n'


def test_get_json_has_header_and_base64_kvs(session) -> None:
    doc = json.loads(_ok(session["json"]))
    header = doc["header"]
    assert header["cluster_id"] == cluster_id_for(MEMBERS)
    assert header["member_id"] in (1, 2, 3)
    assert header["revision"] >= 2 and header["raft_term"] >= 1
    kv = doc["kvs"][0]
    assert base64.b64decode(kv["key"]).decode() == POD
    assert base64.b64decode(kv["value"]) == b'{"kind":"Pod"}'
    assert kv["version"] == 1 and kv["create_revision"] == kv["mod_revision"]
    assert doc["count"] == 1


def test_write_through_a_follower_is_forwarded_and_read_back_there(session) -> None:
    assert _ok(session["follower-put"]) == "OK\n"
    doc = json.loads(_ok(session["follower-get"]))  # serializable: the follower's own store
    assert base64.b64decode(doc["kvs"][0]["value"]) == b"via"


def test_txn(session) -> None:
    assert _ok(session["txn"]).splitlines() == ["SUCCESS", "", "OK", "", POD, "two"]
    assert _ok(session["get-after-txn"]) == "two\n"


def test_watch_prints_events_with_prev_kv(session) -> None:
    assert _ok(session["watch-put"]) == "OK\n" and _ok(session["watch-del"]) == "1\n"
    key = "/registry/pods/default/w"
    lines = session["watch"].splitlines()
    assert lines[:3] == ["PUT", key, "v1"]
    assert lines[3:6] == ["DELETE", key, "v1"]  # the prev_kv, then the tombstone
    assert lines[6] == key
    assert session["relays-left"] == [] and session["member-watches"] == [0, 0, 0]


def test_delete(session) -> None:
    assert _ok(session["del"]) == "1\n"


def test_member_list_names_ids_and_client_urls(session) -> None:
    rows = [r.split(", ") for r in _ok(session["members"]).splitlines()]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("1", "started", "etcd-0"), ("2", "started", "etcd-1"), ("3", "started", "etcd-2")]
    assert [r[4] for r in rows] == [f"http://127.0.0.1:{p}" for p in session["ports"]]
    assert all(r[5] == "false" for r in rows)


def test_endpoint_status_table(session) -> None:
    table = _ok(session["status"])
    header = [c.strip() for c in table.splitlines()[1].split("|")[1:-1]]
    assert header == ["ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER",
                      "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()[3:-1]]
    assert len(rows) == 3
    assert sorted(r[4] for r in rows) == ["false", "false", "true"]
    for r in rows:
        assert r[0].startswith("http://127.0.0.1:")
        assert int(r[6]) >= 1 and int(r[7]) >= 1 and re.fullmatch(r"\d+ (B|kB|MB)", r[3])


def test_endpoint_health(session) -> None:
    health = session["health"]
    assert health.returncode == 0, health.stderr.decode()
    lines = (health.stdout + health.stderr).decode().splitlines()  # 3.4 prints to stderr
    assert len(lines) == 3
    assert all(re.match(r"http://127\.0\.0\.1:\d+ is healthy: successfully committed", line)
               for line in lines)


def test_lease_grant_keepalive_ttl(session) -> None:
    assert re.fullmatch(r"lease [0-9a-f]{16} granted with TTL\(60s\)\n", _ok(session["lease"]))
    assert re.fullmatch(r"lease [0-9a-f]{16} keepalived with TTL\(60\)\n",
                        _ok(session["keepalive"]))
    assert re.match(r"lease [0-9a-f]{16} granted with TTL\(60s\), remaining\((59|60)s\)",
                    _ok(session["ttl"]))


def test_compaction_then_old_revision_is_out_of_range(session) -> None:
    assert _ok(session["compaction"]) == f"compacted revision {session['head']}\n"
    get = session["compacted-get"]
    assert get.returncode != 0
    assert b"Error: etcdserver: mvcc: required revision has been compacted" in get.stderr
    assert b"code = OutOfRange" in get.stderr  # etcdctl's retry log shows the gRPC code
    watch = session["compacted-watch"]
    assert b"watch was canceled (etcdserver: mvcc: required revision has been compacted)" in (
        watch.stdout + watch.stderr)


def test_no_leader_is_unavailable(session) -> None:
    result = session["no-leader"]
    assert result.returncode != 0
    assert b"Error: etcdserver: no leader" in result.stderr
