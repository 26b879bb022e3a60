"""The member path of the etcd gRPC front end: how one endpoint's RPCs reach its member.

What it is: `Gateway` asks the endpoint's member actor from the endpoint's bus address
(`$grpc/<member>`). A member that is not the leader answers a write (or a linearizable read
while it knows no leader) with `NotLeaderError` naming the leader; the gateway then asks that
leader, as an etcd follower forwards proposals and ReadIndex requests internally, and after a
forwarded write waits (at most `APPLY_WAIT`) until its own member has applied it, so that a
serializable read on the same endpoint sees the write, as on etcd. Every failure becomes an
`RpcError` with etcd's gRPC code and message (`_convert.ERRORS`; no leader → UNAVAILABLE
"etcdserver: no leader"; a write whose member went down holding it → UNAVAILABLE "request
timed out", never a definite failure, because it may still commit).

Concurrency model: coroutines on the actor system's asyncio loop (live mode), one per RPC;
the gateway keeps no state but the member's id, learnt from its first Status.
"""

from __future__ import annotations

from typing import Any

import anyio
import grpc

from actors.etcd._client import UnknownOutcome
from actors.etcd._kv_messages import ErrorResponse, ResponseHeader
from actors.etcd._member_messages import MemberStatus, NotLeaderError, ProposalFailed, StatusRequest
from actors.live._etcd_proto import _convert as cv
from runtime import ActorDead, ActorError, ActorSystem, AskTimeout, UnknownActor

__all__ = ["APPLY_WAIT", "GRPC_SENDER", "REQUEST_BUDGET", "Gateway", "RpcError"]

GRPC_SENDER = "$grpc"
REQUEST_BUDGET = 4.0  # seconds per RPC; under etcdctl's default --command-timeout of 5 s
APPLY_WAIT = 1.0  # at most this long for the serving member to apply a forwarded write
_S = grpc.StatusCode


class RpcError(Exception):
    """An RPC that ends with a gRPC status: etcd's code and message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Gateway:
    """The endpoint's side of the bus: every RPC of one endpoint asks its member through here."""

    def __init__(self, system: ActorSystem, member: str, cluster_id: int,
                 client_urls: dict[str, str]) -> None:
        self.system = system
        self.member = member
        self.sender = f"{GRPC_SENDER}/{member}"
        self.cluster_id = cluster_id
        self.client_urls = client_urls  # member actor name -> its endpoint's URL (shared)
        self.member_id = 0

    async def local(self, req: Any, timeout: float = 1.0) -> Any:
        """Ask the member itself, no forwarding (Status, MemberList)."""
        try:
            return await self.system.ask(self.sender, self.member, req, timeout=timeout)
        except (UnknownActor, ActorDead) as e:
            raise RpcError(_S.UNAVAILABLE, "etcdserver: server stopped") from e
        except AskTimeout as e:
            raise RpcError(_S.UNAVAILABLE, "etcdserver: request timed out") from e
        except ActorError as e:
            raise RpcError(_S.UNAVAILABLE, _etcd_message(e)) from e

    async def status(self) -> MemberStatus:
        st: MemberStatus = await self.local(StatusRequest())
        self.member_id = st.member_id
        return st

    async def header(self, h: ResponseHeader | None) -> Any:
        if not self.member_id:
            await self.status()
        return cv.header_to_pb(h, cluster_id=self.cluster_id, member_id=self.member_id)

    async def call(self, req: Any, *, budget: float, write: bool) -> Any:
        """Ask the member, following `NotLeaderError` to the leader it names."""
        deadline = anyio.current_time() + budget
        target, no_leader = self.member, False
        while (left := deadline - anyio.current_time()) > 0:
            try:
                resp = await self.system.ask(self.sender, target, req, timeout=left)
            except NotLeaderError as e:
                no_leader = e.leader is None
                if e.leader is not None and e.leader != target:
                    target = e.leader
                else:  # an election is under way: ask again shortly
                    target = self.member
                    await anyio.sleep(min(0.05, max(0.0, left - 0.01)))
                continue
            except (UnknownActor, ActorDead) as e:
                self._down(e, target, write)
                target = self.member
                await anyio.sleep(min(0.05, max(0.0, left - 0.01)))
                continue
            except AskTimeout:
                break
            except ProposalFailed as e:
                raise RpcError(_S.UNAVAILABLE, "etcdserver: leader changed") from e
            except UnknownOutcome as e:
                raise RpcError(_S.UNAVAILABLE, "etcdserver: request timed out") from e
            except ActorError as e:  # Unavailable, MailboxFull, ...
                raise RpcError(_S.UNAVAILABLE, _etcd_message(e)) from e
            if isinstance(resp, ErrorResponse):
                raise RpcError(*cv.error_status(resp))
            if write and target != self.member and getattr(resp, "header", None) is not None:
                await self._await_applied(resp.header.revision, deadline)
            return resp
        if no_leader:
            raise RpcError(_S.UNAVAILABLE, "etcdserver: no leader")
        raise RpcError(_S.UNAVAILABLE, "etcdserver: request timed out")

    def _down(self, e: UnknownActor | ActorDead, target: str, write: bool) -> None:
        """An ask met a member that is down: end the RPC, or let the caller try again."""
        if write and isinstance(e, ActorDead) and e.why in ("crashed", "stopped"):
            # It went down holding the write, which may still commit: outcome unknown.
            raise RpcError(_S.UNAVAILABLE, "etcdserver: request timed out, possibly due to "
                                           "previous leader failure") from e
        if target == self.member:
            raise RpcError(_S.UNAVAILABLE, "etcdserver: server stopped") from e

    async def _await_applied(self, revision: int, deadline: float) -> None:
        until = min(deadline, anyio.current_time() + APPLY_WAIT)
        while anyio.current_time() < until:
            if (await self.status()).revision >= revision:
                return
            await anyio.sleep(0.02)


def _etcd_message(e: BaseException) -> str:
    text = str(e)
    return text if text.startswith("etcdserver: ") else f"etcdserver: {text}"


def _etcd_message(e: BaseException) -> str:
    text = str(e)
    return text if text.startswith("etcdserver: ") else f"etcdserver: {text}"
