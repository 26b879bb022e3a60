"""Authentication: who a request is from, by its bearer token.

What it is: kube-apiserver's token authentication chain reduced to its tables: static
tokens (``--token-auth-file``), service-account tokens, the authenticated-group adder
and the optional anonymous authenticator. Tokens are minted by the caller (from the
simulation's seeded generator); nothing here is random.

Concurrency model: none. A ``TokenAuthenticator`` is a table owned by one apiserver
actor; ``authenticate`` reads it, ``add_*``/``revoke`` change it.

Invariants, as Kubernetes:
- Every authenticated user (not ``system:anonymous``) ends with ``system:authenticated``
  in its groups, added last, once.
- A service account authenticates as ``system:serviceaccount:<ns>:<name>`` with groups
  ``system:serviceaccounts``, ``system:serviceaccounts:<ns>`` (then
  ``system:authenticated``), and pod/node bindings in ``extra``.
- No credentials: 401, unless anonymous access is enabled, then ``system:anonymous`` in
  ``system:unauthenticated``. Bad credentials: 401 even when anonymous is enabled
  (``union.NewFailOnError``). The 401 body says only ``Unauthorized``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from actors.api import ApiError, unauthorized

__all__ = [
    "ANONYMOUS",
    "SYSTEM_AUTHENTICATED",
    "SYSTEM_MASTERS",
    "SYSTEM_NODES",
    "SYSTEM_SERVICEACCOUNTS",
    "SYSTEM_UNAUTHENTICATED",
    "ServiceAccountToken",
    "TokenAuthenticator",
    "Unauthorized",
    "UserInfo",
    "node_user",
    "parse_token_file",
    "service_account_user",
    "split_service_account_username",
]

ANONYMOUS = "system:anonymous"
SYSTEM_AUTHENTICATED = "system:authenticated"
SYSTEM_UNAUTHENTICATED = "system:unauthenticated"
SYSTEM_MASTERS = "system:masters"
SYSTEM_NODES = "system:nodes"
SYSTEM_SERVICEACCOUNTS = "system:serviceaccounts"
_SA_PREFIX = "system:serviceaccount:"
_EXTRA = "authentication.kubernetes.io/"


class UserInfo(msgspec.Struct, frozen=True):
    """``user.Info``: name, uid, groups, extra."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = {}


class ServiceAccountToken(msgspec.Struct, frozen=True, kw_only=True):
    """What a service-account token stands for. ``expires_at`` is on the caller's clock
    (a bound token from TokenRequest); None for a legacy, non-expiring token."""

    namespace: str
    name: str
    uid: str = ""
    pod_name: str = ""
    pod_uid: str = ""
    node_name: str = ""
    node_uid: str = ""
    expires_at: float | None = None


class Unauthorized(ApiError):
    """401: no valid credentials. ``reason`` says why, for logs only (not in the Status)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(unauthorized())
        self.why = reason


def split_service_account_username(username: str) -> tuple[str, str] | None:
    """``serviceaccount.SplitUsername``: (namespace, name), or None if not an SA."""
    if not username.startswith(_SA_PREFIX):
        return None
    parts = username[len(_SA_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def service_account_user(namespace: str, name: str, uid: str = "", *, pod_name: str = "",
                         pod_uid: str = "", node_name: str = "",
                         node_uid: str = "") -> UserInfo:
    """``serviceaccount.ServiceAccountInfo.UserInfo``, before the authenticated group."""
    extra: dict[str, tuple[str, ...]] = {}
    if pod_name and pod_uid:
        extra[_EXTRA + "pod-name"] = (pod_name,)
        extra[_EXTRA + "pod-uid"] = (pod_uid,)
    if node_name:
        extra[_EXTRA + "node-name"] = (node_name,)
        if node_uid:
            extra[_EXTRA + "node-uid"] = (node_uid,)
    return UserInfo(f"{_SA_PREFIX}{namespace}:{name}", uid,
                    (SYSTEM_SERVICEACCOUNTS, f"{SYSTEM_SERVICEACCOUNTS}:{namespace}"), extra)


def node_user(node_name: str) -> UserInfo:
    """A kubelet's identity, as its client certificate names it."""
    return UserInfo(f"system:node:{node_name}", groups=(SYSTEM_NODES,))


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """``--token-auth-file``: CSV ``token,user,uid[,"group1,group2"]``."""
    users: dict[str, UserInfo] = {}
    for i, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < 3:
            raise ValueError(f"token file is invalid on line {i}: expected at least 3 columns")
        token, name, uid = (c.strip() for c in row[:3])
        groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
        if token in users:
            raise ValueError(f"duplicate token on line {i}")
        users[token] = UserInfo(name, uid, groups)
    return users


def _with_authenticated(user: UserInfo) -> UserInfo:
    """``group.AuthenticatedGroupAdder``."""
    if user.name == ANONYMOUS or any(g in (SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED)
                                     for g in user.groups):
        return user
    return msgspec.structs.replace(user, groups=(*user.groups, SYSTEM_AUTHENTICATED))


def _bearer(authorization: str | None) -> str | None:
    """``bearertoken.Authenticator``: the token, or None when none is presented."""
    auth = (authorization or "").strip()
    if not auth:
        return None
    parts = auth.split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


class TokenAuthenticator:
    """Static and service-account bearer tokens, in front of optional anonymous access.

    ``service_account_lookup(namespace, name)`` (optional) returns the ServiceAccount
    object or None: a token whose account is gone, or whose uid changed, is refused, as
    the service-account token validator does.
    """

    def __init__(self, tokens: Mapping[str, UserInfo] | None = None,
                 service_account_tokens: Mapping[str, ServiceAccountToken] | None = None, *,
                 anonymous: bool = False,
                 service_account_lookup: Callable[[str, str], dict[str, Any] | None]
                 | None = None) -> None:
        self._tokens = dict(tokens or {})
        self._sa_tokens = dict(service_account_tokens or {})
        self.anonymous = anonymous
        self._lookup = service_account_lookup

    def add_token(self, token: str, user: UserInfo) -> None:
        self._tokens[token] = user

    def add_service_account_token(self, token: str, sa: ServiceAccountToken) -> None:
        self._sa_tokens[token] = sa

    def revoke(self, token: str) -> None:
        self._tokens.pop(token, None)
        self._sa_tokens.pop(token, None)

    def authenticate(self, authorization: str | None, *, now: float | None = None) -> UserInfo:
        """The user behind an ``Authorization`` header value; raises ``Unauthorized``."""
        token = _bearer(authorization)
        if token is None:
            if self.anonymous:
                return UserInfo(ANONYMOUS, groups=(SYSTEM_UNAUTHENTICATED,))
            raise Unauthorized("no credentials")
        return self.authenticate_token(token, now=now)

    def authenticate_token(self, token: str, *, now: float | None = None) -> UserInfo:
        user = self._tokens.get(token)
        if user is not None:
            return _with_authenticated(user)
        sa = self._sa_tokens.get(token)
        if sa is None:
            raise Unauthorized("invalid bearer token")
        if sa.expires_at is not None and now is not None and now >= sa.expires_at:
            raise Unauthorized("token has expired")
        if self._lookup is not None:
            obj = self._lookup(sa.namespace, sa.name)
            uid = ((obj or {}).get("metadata") or {}).get("uid", "")
            if obj is None or (sa.uid and uid and uid != sa.uid):
                raise Unauthorized("service account token has been invalidated")
        return _with_authenticated(service_account_user(
            sa.namespace, sa.name, sa.uid, pod_name=sa.pod_name, pod_uid=sa.pod_uid,
            node_name=sa.node_name, node_uid=sa.node_uid))
