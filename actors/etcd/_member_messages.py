"""Messages of the etcd member actor beyond the KV API: cluster and maintenance requests,
their answers, the replicated proposal envelope, and the member's named errors.

Concurrency model: none; immutable values."""

from __future__ import annotations

import msgspec

from actors.etcd._kv_messages import KVRequest
from runtime import ExpectedError

__all__ = [
    "Health",
    "HealthRequest",
    "MemberAddRequest",
    "MemberInfo",
    "MemberList",
    "MemberListRequest",
    "MemberMeta",
    "MemberRemoveRequest",
    "MemberStatus",
    "MoveLeaderRequest",
    "NotLeaderError",
    "Proposal",
    "ProposalFailed",
    "StatusRequest",
    "Unavailable",
]


class MemberMeta(msgspec.Struct, frozen=True, tag="member.meta"):
    """Replicated: the address (actor name) of a member id, proposed before its conf change."""

    member_id: int
    name: str
    remove: bool = False


class Proposal(msgspec.Struct, frozen=True, tag="proposal"):
    """The data of one normal Raft entry: who proposed it (to route the answer) and what."""

    origin: int
    seq: int
    request: KVRequest | MemberMeta


class StatusRequest(msgspec.Struct, frozen=True, tag="member.status"):
    pass


class MemberStatus(msgspec.Struct, frozen=True, tag="member.status_resp"):
    """`etcdctl endpoint status`: what one member reports about itself."""

    member_id: int
    name: str
    leader: int
    leader_name: str
    term: int
    raft_index: int
    raft_applied_index: int
    revision: int
    db_size: int
    role: str
    voters: tuple[int, ...]
    version: str = "3.5.17"


class HealthRequest(msgspec.Struct, frozen=True, tag="member.health"):
    pass


class Health(msgspec.Struct, frozen=True, tag="member.health_resp"):
    """etcd's /health body: `{"health":"true"}`, or false with a reason."""

    health: str
    reason: str = ""

    def to_json(self) -> bytes:
        if self.health == "true":
            return b'{"health":"true","reason":""}'
        return msgspec.json.encode({"health": self.health, "reason": self.reason})


class MemberListRequest(msgspec.Struct, frozen=True, tag="member.list"):
    pass


class MemberInfo(msgspec.Struct, frozen=True):
    member_id: int
    name: str
    is_leader: bool


class MemberList(msgspec.Struct, frozen=True, tag="member.list_resp"):
    members: tuple[MemberInfo, ...]
    fault_tolerance: int
    note: str = ""


class MemberAddRequest(msgspec.Struct, frozen=True, tag="member.add"):
    member_id: int
    name: str


class MemberRemoveRequest(msgspec.Struct, frozen=True, tag="member.remove"):
    member_id: int


class MoveLeaderRequest(msgspec.Struct, frozen=True, tag="member.move_leader"):
    target_id: int


class NotLeaderError(ExpectedError):
    """This member cannot take the request; nothing was proposed (a definite failure)."""

    def __init__(self, leader: str | None) -> None:
        super().__init__("etcdserver: not leader" + (f" (leader is {leader})" if leader else " (no leader)"))
        self.leader = leader


class ProposalFailed(ExpectedError):
    """The proposal's log slot was committed with another entry: certainly not applied."""

    def __init__(self, message: str = "etcdserver: leader changed") -> None:
        super().__init__(message)


class Unavailable(ExpectedError):
    """The member cannot serve now (no leader, removed, a membership change pending)."""
