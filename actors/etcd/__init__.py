"""etcd members as actors: a pure Raft core (``_raft``), the MVCC state machine with watches
and leases (``_state_machine``), the member shell (``EtcdMember``) and the client
(``EtcdClient``) every other component uses. Keys follow Kubernetes:
``/registry/<resource>/<namespace>/<name>``."""

from actors.etcd._client import EtcdClient, EtcdError, UnknownOutcome, Watch
from actors.etcd._kv_messages import (
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    ErrorResponse,
    Event,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    TxnRequest,
    TxnResponse,
    WatchCreateRequest,
    WatchResponse,
    prefix_end,
)
from actors.etcd._member import EtcdConfig, EtcdMember
from actors.etcd._member_messages import (
    Health,
    HealthRequest,
    MemberAddRequest,
    MemberList,
    MemberListRequest,
    MemberRemoveRequest,
    MemberStatus,
    MoveLeaderRequest,
    NotLeaderError,
    ProposalFailed,
    StatusRequest,
    Unavailable,
)
from actors.etcd._raft import fault_tolerance, quorum

__all__ = [
    "Compare",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "ErrorResponse",
    "EtcdClient",
    "EtcdConfig",
    "EtcdError",
    "EtcdMember",
    "Event",
    "Health",
    "HealthRequest",
    "KeyValue",
    "MemberAddRequest",
    "MemberList",
    "MemberListRequest",
    "MemberRemoveRequest",
    "MemberStatus",
    "MoveLeaderRequest",
    "NotLeaderError",
    "ProposalFailed",
    "PutRequest",
    "PutResponse",
    "RangeRequest",
    "RangeResponse",
    "RequestOp",
    "StatusRequest",
    "TxnRequest",
    "TxnResponse",
    "Unavailable",
    "UnknownOutcome",
    "Watch",
    "WatchCreateRequest",
    "WatchResponse",
    "fault_tolerance",
    "prefix_end",
    "quorum",
]
