"""kube-apiserver's pure parts: patches, authentication, RBAC, admission, the watch cache
and request parsing. No actors, no clock (time is passed in), no I/O; the apiserver actor
is built on them. Objects are plain dicts in Kubernetes JSON form throughout.
"""

from ._authn import (
    ANONYMOUS,
    SYSTEM_AUTHENTICATED,
    SYSTEM_MASTERS,
    SYSTEM_NODES,
    SYSTEM_SERVICEACCOUNTS,
    SYSTEM_UNAUTHENTICATED,
    ServiceAccountToken,
    TokenAuthenticator,
    Unauthorized,
    UserInfo,
    node_user,
    parse_token_file,
    service_account_user,
    split_service_account_username,
)
from ._bootstrap_policy import (
    bootstrap_policy,
    cluster_roles,
    controller_roles,
    system_priority_classes,
)
from ._patch import PatchError, json_copy, json_equal, json_merge_patch, json_patch
from ._rbac import (
    Attributes,
    Decision,
    RBACAuthorizer,
    aggregate_cluster_roles,
    forbidden_error,
    forbidden_reason,
    rule_allows,
)
from ._request import RequestInfo, RequestInfoError, parse_request
from ._strategic import (
    LAST_APPLIED_ANNOTATION,
    StrategicMergePatchError,
    apply_patch,
    patch_meta,
    strategic_merge_patch,
    three_way_merge,
    with_last_applied,
)

__all__ = [
    "ANONYMOUS",
    "LAST_APPLIED_ANNOTATION",
    "SYSTEM_AUTHENTICATED",
    "SYSTEM_MASTERS",
    "SYSTEM_NODES",
    "SYSTEM_SERVICEACCOUNTS",
    "SYSTEM_UNAUTHENTICATED",
    "Attributes",
    "Decision",
    "PatchError",
    "RBACAuthorizer",
    "RequestInfo",
    "RequestInfoError",
    "ServiceAccountToken",
    "StrategicMergePatchError",
    "TokenAuthenticator",
    "Unauthorized",
    "UserInfo",
    "aggregate_cluster_roles",
    "apply_patch",
    "bootstrap_policy",
    "cluster_roles",
    "controller_roles",
    "forbidden_error",
    "forbidden_reason",
    "json_copy",
    "json_equal",
    "json_merge_patch",
    "json_patch",
    "node_user",
    "parse_request",
    "parse_token_file",
    "patch_meta",
    "rule_allows",
    "service_account_user",
    "split_service_account_username",
    "strategic_merge_patch",
    "system_priority_classes",
    "three_way_merge",
    "with_last_applied",
]
