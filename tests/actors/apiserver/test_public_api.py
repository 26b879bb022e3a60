"""The public surface of actors.apiserver, pinned: a change here is a change of API."""

from __future__ import annotations

import actors.apiserver as apiserver

PUBLIC = {
    # patches
    "PatchError", "json_copy", "json_equal", "json_merge_patch", "json_patch",
    "LAST_APPLIED_ANNOTATION", "StrategicMergePatchError", "apply_patch", "patch_meta",
    "strategic_merge_patch", "three_way_merge", "two_way_merge", "with_last_applied",
    # authentication
    "ANONYMOUS", "SYSTEM_AUTHENTICATED", "SYSTEM_MASTERS", "SYSTEM_NODES",
    "SYSTEM_SERVICEACCOUNTS", "SYSTEM_UNAUTHENTICATED", "ServiceAccountToken",
    "TokenAuthenticator", "Unauthorized", "UserInfo", "node_user", "parse_token_file",
    "service_account_user", "split_service_account_username",
    # authorization
    "Attributes", "Decision", "RBACAuthorizer", "aggregate_cluster_roles", "forbidden_error",
    "forbidden_reason", "rule_allows", "bootstrap_policy", "cluster_roles", "controller_roles",
    "system_priority_classes",
    # admission
    "AdmissionAttributes", "AdmissionChain", "AdmissionPlugin", "Admitted",
    "DefaultTolerationSeconds", "LimitRanger", "NamespaceLifecycle", "Priority",
    "ResourceQuota", "ServiceAccount", "default_plugins", "pod_requests", "token_volume_source",
    # watch cache
    "ListResult", "Predicate", "TooLargeResourceVersion", "WatchCache", "Watcher",
    "decode_continue", "encode_continue", "selectable_fields",
    # requests
    "RequestInfo", "RequestInfoError", "parse_request",
}


def test_public_names_are_exactly_the_pinned_set():
    assert set(apiserver.__all__) == PUBLIC
    assert len(apiserver.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(apiserver, name) is not None
