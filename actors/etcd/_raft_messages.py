"""Raft wire and storage records: log entries, hard state, snapshots and the messages.

What it is: the data the pure Raft core (`_raft.py`) exchanges with its shell. Every record is
a frozen msgspec Struct; every message carries an explicit short tag so that `RaftMessage`
(the union of all messages) round-trips through `msgspec.msgpack` with one long-lived decoder.
Records that never travel in a union (Entry, HardState, Snapshot, ConfChange) are untagged.

Concurrency model: none. These are immutable values; build changed copies with
`msgspec.structs.replace`, never mutate one you received.

Invariants:
* every message has `frm`, `to` and `term`; `term == 0` marks a *local* message that is not
  subject to the term rules of the Raft paper §5.1 (`MsgProp` and `MsgReadIndex` forwarded to
  the leader are local messages, exactly as in etcd-io/raft);
* an `Entry` of type `EntryType.CONF_CHANGE` carries an encoded `ConfChange` in `data`;
* an `Entry` of type `EntryType.NORMAL` with empty `data` is a leader no-op (Raft paper §8):
  `RaftNode.propose` refuses empty data so the shell can skip these when applying.
"""

from __future__ import annotations

import enum
from typing import Literal

import msgspec

__all__ = [
    "ConfChange",
    "Entry",
    "EntryType",
    "HardState",
    "MsgApp",
    "MsgAppResp",
    "MsgHeartbeat",
    "MsgHeartbeatResp",
    "MsgPreVote",
    "MsgPreVoteResp",
    "MsgProp",
    "MsgReadIndex",
    "MsgReadIndexResp",
    "MsgSnap",
    "MsgTimeoutNow",
    "MsgVote",
    "MsgVoteResp",
    "RaftMessage",
    "Snapshot",
    "decode_conf_change",
    "decode_message",
    "encode_conf_change",
    "encode_message",
]


class EntryType(enum.IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class Entry(msgspec.Struct, frozen=True):
    term: int
    index: int
    type: int = EntryType.NORMAL
    data: bytes = b""


class HardState(msgspec.Struct, frozen=True):
    """What must reach stable storage before any message of the same Ready is sent (§5.1)."""

    term: int = 0
    vote: int = 0
    commit: int = 0


class Snapshot(msgspec.Struct, frozen=True):
    """The state machine at `index` (whose entry had `term`) and the voters in force there."""

    index: int
    term: int
    voters: tuple[int, ...]
    data: bytes = b""


class ConfChange(msgspec.Struct, frozen=True):
    """A single-server membership change (Raft thesis §4.1).

    `voters` is left empty by the proposer; the leader fills in the voter set that results from
    the change when it appends the entry, so that any node applying the entry (including a
    node that joined with no configuration at all) learns the whole configuration from it.
    """

    type: Literal["add", "remove"]
    node_id: int
    voters: tuple[int, ...] = ()


_CC_ENCODER = msgspec.msgpack.Encoder()
_CC_DECODER = msgspec.msgpack.Decoder(ConfChange)


def encode_conf_change(cc: ConfChange) -> bytes:
    return _CC_ENCODER.encode(cc)


def decode_conf_change(data: bytes) -> ConfChange:
    return _CC_DECODER.decode(data)


# --- messages ------------------------------------------------------------------------------


class MsgApp(msgspec.Struct, frozen=True, tag="raft.app"):
    """AppendEntries (§5.3): `entries` follow the entry at (`index`, `log_term`)."""

    frm: int
    to: int
    term: int
    log_term: int
    index: int
    entries: tuple[Entry, ...]
    commit: int


class MsgAppResp(msgspec.Struct, frozen=True, tag="raft.appresp"):
    """Reply to MsgApp and MsgSnap.

    Accepted: `index` is the follower's last index known to match the leader.
    Rejected: `index` echoes the rejected MsgApp's `index`; (`reject_hint`, `log_term`) is the
    follower's hint, the largest index at which its term is <= the leader's term at `index`
    (the etcd-io/raft form of the fast back-off sketched in Raft paper §5.3).
    """

    frm: int
    to: int
    term: int
    index: int
    reject: bool = False
    reject_hint: int = 0
    log_term: int = 0


class MsgVote(msgspec.Struct, frozen=True, tag="raft.vote"):
    """RequestVote (§5.2, §5.4.1). `transfer` bypasses the leader lease (thesis §3.10)."""

    frm: int
    to: int
    term: int
    log_term: int
    index: int
    transfer: bool = False


class MsgVoteResp(msgspec.Struct, frozen=True, tag="raft.voteresp"):
    frm: int
    to: int
    term: int
    reject: bool = False


class MsgPreVote(msgspec.Struct, frozen=True, tag="raft.prevote"):
    """PreVote (thesis §9.6): `term` is the term the sender *would* campaign in."""

    frm: int
    to: int
    term: int
    log_term: int
    index: int
    transfer: bool = False


class MsgPreVoteResp(msgspec.Struct, frozen=True, tag="raft.prevoteresp"):
    frm: int
    to: int
    term: int
    reject: bool = False


class MsgHeartbeat(msgspec.Struct, frozen=True, tag="raft.hb"):
    """Empty AppendEntries (§5.2). `commit` is capped at the follower's match index; `ctx` is
    the ReadIndex round being confirmed (thesis §6.4), empty if none."""

    frm: int
    to: int
    term: int
    commit: int
    ctx: bytes = b""


class MsgHeartbeatResp(msgspec.Struct, frozen=True, tag="raft.hbresp"):
    frm: int
    to: int
    term: int
    ctx: bytes = b""


class MsgSnap(msgspec.Struct, frozen=True, tag="raft.snap"):
    """InstallSnapshot (§7), sent whole: the simulator has no chunking. Answered by
    MsgAppResp."""

    frm: int
    to: int
    term: int
    snapshot: Snapshot


class MsgTimeoutNow(msgspec.Struct, frozen=True, tag="raft.timeoutnow"):
    """Leadership transfer (thesis §3.10): campaign now, without waiting for a timeout."""

    frm: int
    to: int
    term: int


class MsgReadIndex(msgspec.Struct, frozen=True, tag="raft.readindex"):
    """A ReadIndex request forwarded by a follower to its leader (thesis §6.4). Local: term 0."""

    frm: int
    to: int
    term: int
    ctx: bytes


class MsgReadIndexResp(msgspec.Struct, frozen=True, tag="raft.readindexresp"):
    frm: int
    to: int
    term: int
    index: int
    ctx: bytes


class MsgProp(msgspec.Struct, frozen=True, tag="raft.prop"):
    """A proposal forwarded to the leader by a shell. Local: term 0."""

    frm: int
    to: int
    term: int
    data: bytes


RaftMessage = (
    MsgApp
    | MsgAppResp
    | MsgVote
    | MsgVoteResp
    | MsgPreVote
    | MsgPreVoteResp
    | MsgHeartbeat
    | MsgHeartbeatResp
    | MsgSnap
    | MsgTimeoutNow
    | MsgReadIndex
    | MsgReadIndexResp
    | MsgProp
)

_MSG_ENCODER = msgspec.msgpack.Encoder()
_MSG_DECODER: msgspec.msgpack.Decoder[RaftMessage] = msgspec.msgpack.Decoder(RaftMessage)


def encode_message(msg: RaftMessage) -> bytes:
    return _MSG_ENCODER.encode(msg)


def decode_message(data: bytes) -> RaftMessage:
    return _MSG_DECODER.decode(data)
