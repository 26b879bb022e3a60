"""The RBAC authorizer: may this user do this verb on this resource here?

What it is: ``plugin/pkg/auth/authorizer/rbac`` over plain RBAC dicts: the rule resolver
(ClusterRoleBindings, then the RoleBindings of the request's namespace), rule matching
(verbs, API groups, resources with ``*`` and ``*/subresource``, resource names,
non-resource URLs with a trailing ``*``), the ``system:masters`` privileged-group
authorizer that kube-apiserver puts in front of RBAC, ClusterRole aggregation (what the
clusterrole-aggregation controller computes), and the Forbidden Status with
Kubernetes' wording.

Concurrency model: none. An ``RBACAuthorizer`` is an immutable index built from the
RBAC objects; the apiserver builds a new one when they change.

Invariants, as Kubernetes:
- Deny by default; the first rule that allows wins, and the reason names its binding
  (``RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"``).
- A binding to a missing role contributes no rules; its error becomes the denial reason.
- ``view`` reads no secrets; aggregated roles hold exactly the rules of the roles their
  selectors match (themselves excluded), de-duplicated, by role name order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from actors.api import ApiError, forbidden, forbidden_message
from actors.api._labels import selector_from_api

from ._authn import SYSTEM_MASTERS, UserInfo
from ._patch import json_copy, json_equal
from ._request import RequestInfo

__all__ = [
    "Attributes",
    "Decision",
    "RBACAuthorizer",
    "aggregate_cluster_roles",
    "forbidden_error",
    "forbidden_reason",
    "rule_allows",
]


class Attributes(msgspec.Struct, frozen=True, kw_only=True):
    """``authorizer.Attributes`` without the user. ``non_resource_url`` marks a request
    for a path outside the resource API (``/healthz``), which ``path`` then names."""

    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    non_resource_url: bool = False
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return not self.non_resource_url

    @classmethod
    def from_request(cls, info: RequestInfo) -> Attributes:
        return cls(verb=info.verb, api_group=info.api_group, api_version=info.api_version,
                   resource=info.resource, subresource=info.subresource,
                   namespace=info.namespace, name=info.name,
                   non_resource_url=not info.is_resource_request, path=info.path)


class Decision(msgspec.Struct, frozen=True):
    allowed: bool
    reason: str = ""


# --- rule matching (pkg/apis/rbac/v1 helpers) ------------------------------------------


def _resource_matches(rule: dict[str, Any], combined: str, subresource: str) -> bool:
    for r in rule.get("resources") or ():
        if r in ("*", combined):
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def _url_matches(rule: dict[str, Any], path: str) -> bool:
    for u in rule.get("nonResourceURLs") or ():
        if u in ("*", path) or (u.endswith("*") and path.startswith(u.rstrip("*"))):
            return True
    return False


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """``RuleAllows``: does this PolicyRule cover the request?"""
    verbs = rule.get("verbs") or ()
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.is_resource_request:
        return _url_matches(rule, attrs.path)
    groups = rule.get("apiGroups") or ()
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _resource_matches(rule, combined, attrs.subresource):
        return False
    names = rule.get("resourceNames") or ()
    return not names or attrs.name in names


# --- aggregation (the clusterrole-aggregation controller) ------------------------------


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _name(obj: dict[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _aggregated_rules(role: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> list[Any]:
    rules: list[Any] = []
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ():
        selector = selector_from_api(sel)
        for name in sorted(by_name):
            other = by_name[name]
            if name == _name(role) or not selector.matches(_labels(other)):
                continue
            for r in other.get("rules") or ():
                if not any(json_equal(r, x) for x in rules):
                    rules.append(json_copy(r))
    return rules


def aggregate_cluster_roles(cluster_roles: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill the rules of every ClusterRole with an ``aggregationRule`` from the roles its
    selectors match, repeated until nothing changes (admin <- edit <- view)."""
    roles = [json_copy(r) for r in cluster_roles]
    by_name = {_name(r): r for r in roles}
    for _ in range(len(roles) + 1):
        changed = False
        for role in roles:
            if not role.get("aggregationRule"):
                continue
            rules = _aggregated_rules(role, by_name)
            if not json_equal(rules, role.get("rules") or []):
                role["rules"] = rules
                changed = True
        if not changed:
            break
    return roles


# --- the authorizer ---------------------------------------------------------------------


def _applies(user: UserInfo, subject: dict[str, Any], namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        # A ServiceAccount subject without a namespace means the binding's namespace.
        ns = subject.get("namespace") or namespace
        return bool(ns) and user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def _describe_subject(subject: dict[str, Any], binding_ns: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        name = f"{name}/{subject.get('namespace') or binding_ns}"
    return f'{kind} "{name}"'


class RBACAuthorizer:
    """``RBACAuthorizer`` with the default rule resolver, over RBAC objects as dicts.

    With ``aggregate=True`` (the default) ClusterRoles with an ``aggregationRule`` are
    aggregated here, standing in for the controller that would write their rules.
    """

    def __init__(self, objects: Iterable[dict[str, Any]] = (), *, aggregate: bool = True):
        roles: dict[tuple[str, str], dict[str, Any]] = {}
        cluster_roles: list[dict[str, Any]] = []
        self._rbs: dict[str, list[dict[str, Any]]] = {}
        crbs: list[dict[str, Any]] = []
        for obj in objects:
            kind, meta = obj.get("kind"), obj.get("metadata") or {}
            if kind == "Role":
                roles[(meta.get("namespace", ""), meta.get("name", ""))] = obj
            elif kind == "ClusterRole":
                cluster_roles.append(obj)
            elif kind == "RoleBinding":
                self._rbs.setdefault(meta.get("namespace", ""), []).append(obj)
            elif kind == "ClusterRoleBinding":
                crbs.append(obj)
        if aggregate:
            cluster_roles = aggregate_cluster_roles(cluster_roles)
        self._roles = roles
        self._cluster_roles = {_name(r): r for r in cluster_roles}
        self._crbs = sorted(crbs, key=_name)
        for rbs in self._rbs.values():
            rbs.sort(key=_name)
        # What _visit yields per (user, groups, namespace): the authorizer is rebuilt
        # whenever an RBAC object changes, so entries never go stale.
        self._visited: dict[tuple[str, tuple[str, ...], str],
                            list[tuple[str, list[dict[str, Any]]] | LookupError]] = {}

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "Role":
            role = self._roles.get((namespace, name))
            if role is None:
                raise LookupError(f'role.rbac.authorization.k8s.io "{name}" not found')
        elif kind == "ClusterRole":
            role = self._cluster_roles.get(name)
            if role is None:
                raise LookupError(f'clusterrole.rbac.authorization.k8s.io "{name}" not found')
        else:
            raise LookupError(f'unsupported role reference kind: "{kind}"')
        return list(role.get("rules") or ())

    def _visit(self, user: UserInfo, namespace: str
               ) -> Iterator[tuple[str, list[dict[str, Any]]] | LookupError]:
        """``VisitRulesFor``: (source description, rules) per applying binding."""
        scopes: list[tuple[str, str, list[dict[str, Any]]]] = [
            ("ClusterRoleBinding", "", self._crbs)]
        if namespace:
            scopes.append(("RoleBinding", namespace, self._rbs.get(namespace, [])))
        for kind, ns, bindings in scopes:
            for b in bindings:
                subject = next((s for s in b.get("subjects") or () if _applies(user, s, ns)),
                               None)
                if subject is None:
                    continue
                ref = b.get("roleRef") or {}
                try:
                    rules = self._role_rules(ref, ns)
                except LookupError as e:
                    yield e
                    continue
                bname = _name(b) + (f"/{ns}" if ns else "")
                yield (f'{kind} "{bname}" of {ref.get("kind")} "{ref.get("name")}" to '
                       f"{_describe_subject(subject, ns)}", rules)

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        """Allowed, with the binding that allowed it; or not, with resolution errors."""
        if SYSTEM_MASTERS in user.groups:
            return Decision(True)  # the privileged-group authorizer before RBAC
        errors: list[str] = []
        key = (user.name, user.groups, attrs.namespace)
        visited = self._visited.get(key)
        if visited is None:
            if len(self._visited) >= 4096:
                self._visited.clear()
            visited = self._visited[key] = list(self._visit(user, attrs.namespace))
        for item in visited:
            if isinstance(item, LookupError):
                errors.append(str(item.args[0]))
                continue
            source, rules = item
            if any(rule_allows(attrs, r) for r in rules):
                return Decision(True, f"RBAC: allowed by {source}")
        if not errors:
            return Decision(False)
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(dict.fromkeys(errors)) + "]"
        return Decision(False, f"RBAC: {joined}")

    def rules_for(self, user: UserInfo, namespace: str = "") -> list[dict[str, Any]]:
        """``RulesFor``: every rule that applies to the user in the namespace."""
        out: list[dict[str, Any]] = []
        for item in self._visit(user, namespace):
            if not isinstance(item, LookupError):
                out.extend(item[1])
        return out


# --- Forbidden (responsewriters.Forbidden) ----------------------------------------------


def forbidden_reason(user: UserInfo, attrs: Attributes, reason: str = "") -> str:
    """The message after ``... is forbidden: ``, HTML-sanitized as Kubernetes does."""
    if attrs.is_resource_request:
        msg = forbidden_message(user.name, attrs.verb, attrs.resource, attrs.api_group,
                                attrs.namespace, attrs.subresource)
    else:
        msg = f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    msg = msg.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"{msg}: {reason}" if reason else msg


def forbidden_error(user: UserInfo, attrs: Attributes, reason: str = "") -> ApiError:
    """The 403 an unauthorized request gets, e.g. ``pods is forbidden: User "bob" cannot
    list resource "pods" in API group "" in the namespace "default"``."""
    resource = attrs.resource if attrs.is_resource_request else ""
    return ApiError(forbidden(resource, attrs.name, forbidden_reason(user, attrs, reason),
                              attrs.api_group))
