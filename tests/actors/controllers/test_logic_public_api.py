"""The package's public surface, pinned: a change here is a change for the controller actors."""

from __future__ import annotations

import msgspec

import actors.controllers as controllers

EXPECTED = {
    "Action", "BackoffRecord", "BURST_REPLICAS", "Create", "DESIRED_REPLICAS_ANNOTATION", "DEFAULT_CLUSTER_CIDR",
    "DELETION_TIMEOUT", "STALE_POD_DISRUPTION_TIMEOUT", "expected_pod_count", "reconcile_disruption_budget",
    "reconcile_stale_pod_disruption", "stale_disruption_wait",
    "SCHEDULED_TIMESTAMP_ANNOTATION", "cronjob_job_name", "most_recent_schedule_time", "next_schedule_delay",
    "reconcile_cronjob", "evaluator_of", "quota_usage", "quota_v1_pod", "reconcile_resource_quota",
    "Delete", "DeploymentSync", "Event", "Expectations", "JobResult", "MAX_REPLICAS_ANNOTATION", "NodeHealth",
    "NodeLifecycleConfig", "NodeLifecycleResult", "NodeLifecycleState", "ObjectRef", "Patch", "Plan",
    "PlanBuilder", "REVISION_ANNOTATION", "RollbackError", "TaintEvictionResult", "Update",
    "allocate_pod_cidrs", "annotations_of", "claim_name", "claim_objects", "collect_garbage",
    "compute_zone_state", "controller_ref_of", "creation_time", "deep_copy", "default_storage_class",
    "find_best_volume", "find_port", "format_indexes", "format_time", "get_condition", "is_pod_active",
    "is_pod_available", "is_pod_ready", "labels_of", "max_surge", "max_unavailable", "meta_of",
    "monitor_node_health", "name_of", "namespace_of", "new_controller_ref", "new_rs_new_replicas",
    "node_should_run_daemon_pod", "parse_indexes", "parse_time", "pod_from_template", "pod_ordinal",
    "pods_to_delete", "provision_claim", "rank_pods_for_deletion", "reconcile_claim", "reconcile_daemonset",
    "reconcile_deployment", "reconcile_endpoint_slices", "reconcile_endpoints", "reconcile_job", "reconcile_mirrored_slices",
    "reconcile_namespace", "reconcile_node_condition_taints", "reconcile_replicaset",
    "reconcile_replication_controller", "reconcile_root_ca_configmap", "reconcile_service_accounts",
    "reconcile_statefulset", "reconcile_taint_eviction", "reconcile_ttl_after_finished", "reconcile_volume",
    "resolve_fenceposts", "rollback_deployment", "scaled_value", "slow_start_batches",
    "sync_controller_revisions", "tolerates", "uid_of", "zone_key",
}


def test_public_names_are_pinned():
    assert set(controllers.__all__) == EXPECTED
    for name in controllers.__all__:
        assert getattr(controllers, name) is not None


def test_plans_encode_with_their_tags():
    ref = controllers.ObjectRef(api_version="v1", kind="Pod", name="p", namespace="default")
    plan = controllers.Plan(actions=(controllers.Delete(ref=ref),), requeue_after=1.5)
    data = msgspec.json.decode(msgspec.json.encode(plan))
    assert data["type"] == "plan" and data["actions"][0]["type"] == "plan.delete"
    assert msgspec.json.decode(msgspec.json.encode(plan), type=controllers.Plan) == plan
