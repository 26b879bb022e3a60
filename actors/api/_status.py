"""The Status objects the apiserver answers failures with, and ``ApiError`` carrying one.

What it is: one constructor per ``k8s.io/apimachinery/pkg/api/errors`` helper
(NewNotFound, NewAlreadyExists, NewConflict, NewInvalid, NewForbidden, ...), each with
Kubernetes' message wording, reason and HTTP code.

Concurrency model: none; pure functions returning frozen Structs.

Invariants:
- ``details.kind`` holds the *resource* (plural, "pods") for resource errors, as
  Kubernetes does (it passes a GroupResource); ``Invalid`` is the exception and holds
  the *kind* ("Deployment"), because NewInvalid takes a GroupKind.
- A resource or kind is qualified by its group the way GroupResource.String() does:
  ``pods``, ``deployments.apps``, ``Deployment.apps``.
- Empty values are left unset so they are omitted from JSON, as Go's omitempty does.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._meta import ListMeta, Status, StatusCause, StatusDetails

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "forbidden_message",
    "gone",
    "internal_error",
    "invalid",
    "method_not_supported",
    "not_found",
    "qualified",
    "server_timeout",
    "timeout",
    "too_many_requests",
    "too_old_resource_version",
    "unauthorized",
]

CONFLICT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """An expected API failure; ``.status`` is the Status the apiserver would send."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message or status.reason or "")
        self.status = status

    @property
    def code(self) -> int:
        return self.status.code or 0

    @property
    def reason(self) -> str:
        return self.status.reason or ""

    @property
    def message(self) -> str:
        return self.status.message or ""

    @property
    def details(self) -> StatusDetails | None:
        return self.status.details

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"


def qualified(name: str, group: str = "") -> str:
    """``GroupResource.String()`` / ``GroupKind.String()``: ``pods``, ``deployments.apps``."""
    return f"{name}.{group}" if group else name


def _failure(code: int, reason: str, message: str,
             details: StatusDetails | None = None) -> Status:
    return Status(metadata=ListMeta(), status="Failure", message=message, reason=reason,
                  details=details, code=code)


def _details(name: str = "", group: str = "", kind: str = "", retry: int = 0,
             causes: list[StatusCause] | None = None) -> StatusDetails:
    return StatusDetails(name=name or None, group=group or None, kind=kind or None,
                         causes=causes or None, retry_after_seconds=retry or None)


def not_found(resource: str, name: str, group: str = "") -> Status:
    return _failure(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                    _details(name, group, resource))


def already_exists(resource: str, name: str, group: str = "") -> Status:
    return _failure(409, "AlreadyExists",
                    f'{qualified(resource, group)} "{name}" already exists',
                    _details(name, group, resource))


def conflict(resource: str, name: str, group: str = "",
             reason: str = CONFLICT_MODIFIED) -> Status:
    msg = f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {reason}'
    return _failure(409, "Conflict", msg, _details(name, group, resource))


def aggregate(messages: Iterable[str]) -> str:
    """utilerrors.Aggregate's Error(): duplicates dropped, one alone, several in [a, b]."""
    seen: list[str] = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


def invalid(kind: str, name: str, causes: list[StatusCause], group: str = "") -> Status:
    """NewInvalid: 422, details.kind is the kind, each cause is a field error."""
    qk = qualified(kind, group)
    msg = f'{qk} "{name}" is invalid'
    if causes:
        msg += ": " + aggregate(c.error() for c in causes)
    return _failure(422, "Invalid", msg, _details(name, group, kind, causes=list(causes)))


def forbidden_message(user: str, verb: str, resource: str, group: str = "",
                      namespace: str = "", subresource: str = "") -> str:
    """The RBAC authorizer's reason: who cannot do what, where."""
    res = f"{resource}/{subresource}" if subresource else resource
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return f'User "{user}" cannot {verb} resource "{res}" in API group "{group}" {where}'


def forbidden(resource: str, name: str, reason: str, group: str = "") -> Status:
    """NewForbidden: ``pods is forbidden: <reason>`` or ``pods "x" is forbidden: ...``."""
    qr = qualified(resource, group)
    if not resource:
        msg = f"forbidden: {reason}"
    elif not name:
        msg = f"{qr} is forbidden: {reason}"
    else:
        msg = f'{qr} "{name}" is forbidden: {reason}'
    return _failure(403, "Forbidden", msg, _details(name, group, resource))


def unauthorized(message: str = "Unauthorized") -> Status:
    return _failure(401, "Unauthorized", message or "not authorized")


def gone(message: str) -> Status:
    return _failure(410, "Gone", message)


def expired(message: str) -> Status:
    """NewResourceExpired: 410 with reason Expired (what the watch cache sends)."""
    return _failure(410, "Expired", message)


def too_old_resource_version(requested: int, oldest: int) -> Status:
    """The watch cache's answer to a watch or list from a compacted revision."""
    return expired(f"too old resource version: {requested} ({oldest})")


def bad_request(message: str) -> Status:
    return _failure(400, "BadRequest", message)


def method_not_supported(resource: str, action: str, group: str = "") -> Status:
    msg = f'{action} is not supported on resources of kind "{qualified(resource, group)}"'
    return _failure(405, "MethodNotAllowed", msg, _details(group=group, kind=resource))


def timeout(message: str, retry_after_seconds: int = 0) -> Status:
    """NewTimeoutError: 504, ``Timeout: <message>``."""
    return _failure(504, "Timeout", f"Timeout: {message}",
                    StatusDetails(retry_after_seconds=retry_after_seconds or None))


def server_timeout(resource: str, operation: str, retry_after_seconds: int = 0,
                   group: str = "") -> Status:
    msg = (f"The {operation} operation against {qualified(resource, group)} could not be "
           "completed at this time, please try again.")
    return _failure(500, "ServerTimeout", msg,
                    _details(operation, group, resource, retry_after_seconds))


def too_many_requests(message: str, retry_after_seconds: int = 0) -> Status:
    return _failure(429, "TooManyRequests", message,
                    StatusDetails(retry_after_seconds=retry_after_seconds or None))


def internal_error(message: str) -> Status:
    return _failure(500, "InternalError", f"Internal error occurred: {message}",
                    StatusDetails(causes=[StatusCause(message=message)]))
