"""API types: exact round trips of real manifests, Kubernetes field names and order,
conversion errors, unknown fields, and the pinned public surface."""

from __future__ import annotations

import copy
import json

import msgspec
import pytest

import actors.api as api
from actors.api import (
    ApiError,
    Container,
    Deployment,
    ObjectMeta,
    Pod,
    PodSpec,
    decode,
    encode,
    from_dict,
    strict_decoding_error,
    to_dict,
    unknown_fields,
)

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "labels": {"app": "web", "tier": "frontend"},
        "annotations": {"deployment.kubernetes.io/revision": "3"},
        "uid": "4b1f0f6e-8f5e-4c6e-9d3c-0a1b2c3d4e5f",
        "resourceVersion": "12345",
        "generation": 4,
        "creationTimestamp": "2024-05-01T10:00:00Z",
    },
    "spec": {
        "replicas": 3,
        "selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}],
        },
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "paused": False,
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "frontend"},
                         "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {
                "serviceAccountName": "web",
                "terminationGracePeriodSeconds": 45,
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "initContainers": [{"name": "migrate", "image": "shop/migrate:1.4.2",
                                    "command": ["/bin/migrate", "--up"]}],
                "containers": [{
                    "name": "web",
                    "image": "nginx:1.25.3",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["-g", "daemon off;"],
                    "workingDir": "/srv",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [
                        {"name": "MODE", "value": "production"},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "status.podIP"}}},
                        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                               "key": "password"}}},
                    ],
                    "envFrom": [{"configMapRef": {"name": "web-config"}}],
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                  "limits": {"cpu": "1", "memory": "256Mi"}},
                    "volumeMounts": [{"name": "cache", "mountPath": "/var/cache/nginx"},
                                     {"name": "config", "mountPath": "/etc/nginx/conf.d",
                                      "readOnly": True}],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http",
                                                  "scheme": "HTTP"},
                                      "initialDelaySeconds": 10, "periodSeconds": 10,
                                      "timeoutSeconds": 1, "successThreshold": 1,
                                      "failureThreshold": 3},
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
                    "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]},
                                     "failureThreshold": 30},
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                    "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }],
                "volumes": [
                    {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}},
                    {"name": "config", "configMap": {"name": "web-nginx", "defaultMode": 420,
                                                     "items": [{"key": "default.conf",
                                                                "path": "default.conf"}]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {
                        "path": "token", "expirationSeconds": 3607}}]}},
                ],
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "topology.kubernetes.io/zone", "operator": "In",
                             "values": ["eu-west-1a", "eu-west-1b"]}]}]}},
                    "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                            "topologyKey": "kubernetes.io/hostname"}}]},
                },
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web",
                                 "effect": "NoSchedule"},
                                {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                 "effect": "NoExecute", "tolerationSeconds": 300}],
                "topologySpreadConstraints": [{"maxSkew": 1,
                                               "topologyKey": "topology.kubernetes.io/zone",
                                               "whenUnsatisfiable": "ScheduleAnyway",
                                               "labelSelector": {"matchLabels": {"app": "web"}}}],
                "priorityClassName": "high",
                "securityContext": {"fsGroup": 2000},
                "readinessGates": [{"conditionType": "shop.example.com/ready"}],
            },
        },
    },
    "status": {
        "observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": [{"type": "Available", "status": "True",
                        "lastUpdateTime": "2024-05-01T10:01:00Z",
                        "lastTransitionTime": "2024-05-01T10:01:00Z",
                        "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability."}],
    },
}

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {
        "type": "NodePort",
        "selector": {"app": "web"},
        "clusterIP": "10.96.12.34",
        "clusterIPs": ["10.96.12.34"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http",
                   "nodePort": 30080},
                  {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "externalTrafficPolicy": "Local",
        "internalTrafficPolicy": "Cluster",
    },
    "status": {"loadBalancer": {}},
}

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7d4b9c8f6-abcde",
        "generateName": "web-7d4b9c8f6-",
        "namespace": "shop",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "name": "web-7d4b9c8f6", "uid": "11111111-2222",
                             "controller": True, "blockOwnerDeletion": True}],
        "finalizers": ["example.com/cleanup"],
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                           "apiVersion": "v1", "time": "2024-05-01T10:00:00Z",
                           "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}],
    },
    "spec": {
        "containers": [{"name": "web", "image": "nginx:1.25.3",
                        "ports": [{"containerPort": 80, "protocol": "TCP", "hostIP": "0.0.0.0"}],
                        "resources": {}}],
        "nodeName": "node-1",
        "hostNetwork": False,
        "hostPID": False,
        "setHostnameAsFQDN": False,
        "overhead": {"cpu": "10m"},
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": "2024-05-01T10:00:05Z"}],
        "hostIP": "192.168.49.2",
        "hostIPs": [{"ip": "192.168.49.2"}],
        "podIP": "10.244.0.7",
        "podIPs": [{"ip": "10.244.0.7"}],
        "startTime": "2024-05-01T10:00:00Z",
        "qosClass": "BestEffort",
        "containerStatuses": [{
            "name": "web", "ready": True, "restartCount": 1, "started": True,
            "image": "docker.io/library/nginx:1.25.3",
            "imageID": "docker.io/library/nginx@sha256:abc",
            "containerID": "containerd://0123",
            "state": {"running": {"startedAt": "2024-05-01T10:00:04Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                         "startedAt": "2024-05-01T09:00:00Z",
                                         "finishedAt": "2024-05-01T10:00:00Z",
                                         "containerID": "containerd://abcd"}},
        }],
    },
}

STATEFULSET = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "db", "namespace": "shop"},
    "spec": {
        "serviceName": "db",
        "replicas": 3,
        "podManagementPolicy": "Parallel",
        "selector": {"matchLabels": {"app": "db"}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
        "ordinals": {"start": 0},
        "template": {"metadata": {"labels": {"app": "db"}},
                     "spec": {"containers": [{"name": "pg", "image": "postgres:16",
                                              "volumeMounts": [{"name": "data",
                                                                "mountPath": "/var/lib/pg"}]}]}},
        # The apiserver returns claim templates with their TypeMeta; so do we.
        "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "metadata": {"name": "data"},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "storageClassName": "standard",
                                           "resources": {"requests": {"storage": "10Gi"}}}}],
    },
}

JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi", "namespace": "default"},
    "spec": {
        "parallelism": 2, "completions": 4, "completionMode": "Indexed", "backoffLimit": 4,
        "activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 100, "suspend": False,
        "podFailurePolicy": {"rules": [{"action": "FailJob",
                                        "onExitCodes": {"operator": "In", "values": [42]}}]},
        "template": {"spec": {"restartPolicy": "Never",
                              "containers": [{"name": "pi", "image": "perl:5.34",
                                              "command": ["perl", "-Mbignum=bpi", "-wle",
                                                          "print bpi(2000)"]}]}},
    },
    "status": {"active": 2, "succeeded": 1, "failed": 0, "ready": 2,
               "startTime": "2024-05-01T10:00:00Z", "completedIndexes": "0",
               "uncountedTerminatedPods": {"succeeded": ["uid-1"]}},
}

MANIFESTS = [DEPLOYMENT, SERVICE, POD, STATEFULSET, JOB]


_CONDITION_TIMES = {"Deployment": ("lastUpdateTime", "lastTransitionTime"),
                    "Pod": ("lastProbeTime", "lastTransitionTime"),
                    "Job": ("lastProbeTime", "lastTransitionTime"),
                    "StatefulSet": ("lastTransitionTime",)}


def _with_go_null_times(manifest: dict) -> dict:
    """``manifest`` as Kubernetes writes it back: every ObjectMeta with creationTimestamp
    (null if unset), every condition with its times (null if unset)."""
    out = copy.deepcopy(manifest)

    def walk(v: object) -> None:
        if isinstance(v, dict):
            for k, sub in v.items():
                if k == "metadata" and isinstance(sub, dict):
                    sub.setdefault("creationTimestamp", None)
                walk(sub)
        elif isinstance(v, list):
            for sub in v:
                walk(sub)

    walk(out)
    for cond in (out.get("status") or {}).get("conditions") or []:
        for t in _CONDITION_TIMES[out["kind"]]:
            cond.setdefault(t, None)
    return out


def test_unset_value_times_are_written_null_and_pointer_times_omitted() -> None:
    """Go's ``omitempty`` cannot omit a struct: metav1.Time fields held by value come out
    null when unset; ``*metav1.Time`` fields (deletionTimestamp, startTime) are omitted."""
    pod = to_dict(from_dict({"metadata": {"name": "p"}, "status": {
        "startTime": None, "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "c", "state": {"running": {}},
                               "lastState": {"terminated": {"exitCode": 0}}}]}}, "Pod"))
    assert pod["metadata"] == {"name": "p", "creationTimestamp": None}
    assert pod["status"]["conditions"] == [{"type": "Ready", "status": "True",
                                            "lastProbeTime": None, "lastTransitionTime": None}]
    assert "startTime" not in pod["status"]
    cs = pod["status"]["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": None}}
    assert cs["lastState"] == {"terminated": {"exitCode": 0, "startedAt": None,
                                              "finishedAt": None}}
    event = to_dict(from_dict({"metadata": {"name": "e", "creationTimestamp": "2024-05-01T10:00:00Z"},
                               "reason": "Pulled", "firstTimestamp": "2024-05-01T10:00:00Z"},
                              "Event"))
    assert event["eventTime"] is None and event["lastTimestamp"] is None
    assert event["firstTimestamp"] == "2024-05-01T10:00:00Z"
    assert "deletionTimestamp" not in event["metadata"]
    deploy = to_dict(from_dict(DEPLOYMENT, "Deployment"))
    assert deploy["spec"]["template"]["metadata"]["creationTimestamp"] is None


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: m["kind"])
def test_manifest_round_trips_exactly(manifest: dict) -> None:
    original = copy.deepcopy(manifest)
    obj = from_dict(manifest, manifest["kind"])
    assert manifest == original  # input untouched
    # Kubernetes JSON omits unset optional fields, except a metav1.Time held by value: an
    # ObjectMeta without creationTimestamp (a pod template's) comes back with it null, and
    # so does a condition's unset time (POD's lastProbeTime: null stays).
    expected = _with_go_null_times(manifest)
    assert to_dict(obj) == expected
    assert json.loads(encode(obj)) == expected
    assert decode(encode(obj), type(obj)) == obj


def test_encoding_starts_with_kind_then_api_version_like_the_apiserver() -> None:
    obj = from_dict(DEPLOYMENT, "Deployment")
    assert encode(obj).startswith(b'{"kind":"Deployment","apiVersion":"apps/v1","metadata":')


def test_typed_access_uses_snake_case_with_kubernetes_json_names() -> None:
    pod = from_dict(POD, Pod)
    assert pod.kind == "Pod" and pod.api_version == "v1"
    assert pod.status.pod_ip == "10.244.0.7"
    assert pod.status.container_statuses[0].last_state.terminated.exit_code == 137
    assert pod.metadata.owner_references[0].block_owner_deletion is True
    assert pod.metadata.managed_fields[0]["manager"] == "kube-controller-manager"
    svc = from_dict(SERVICE, "svc")
    assert svc.spec.ports[0].target_port == "http" and svc.spec.ports[1].target_port == 9090
    d = from_dict(DEPLOYMENT, "deploy")
    assert d.spec.strategy.rolling_update.max_surge == 1
    assert d.spec.strategy.rolling_update.max_unavailable == "25%"


def _encode_names(t: type, seen: set[type]) -> set[str]:
    import types
    import typing

    names: set[str] = set()
    if t in seen:
        return names
    seen.add(t)
    for f in msgspec.structs.fields(t):
        names.add(f.encode_name)
        stack = [f.type]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
                names |= _encode_names(tp, seen)
            elif typing.get_origin(tp) in (list, dict, types.UnionType, typing.Union):
                stack.extend(typing.get_args(tp))
    return names


def test_initialisms_are_spelled_as_kubernetes_does() -> None:
    names: set[str] = set()
    for ri in api.all_resources():
        if ri.type is not None:
            names |= _encode_names(ri.type, set())
    for wrong in ("podIp", "hostIp", "podIps", "clusterIp", "clusterIps", "imageId",
                  "containerId", "podCidr", "providerId", "nonResourceUrls", "qosClass" + "x",
                  "machineId", "systemUuid", "bootId", "externalIps", "loadBalancerIp"):
        assert wrong not in names
    for right in ("podIP", "hostIPs", "clusterIPs", "imageID", "containerID", "podCIDRs",
                  "providerID", "nonResourceURLs", "machineID", "systemUUID", "bootID",
                  "Port", "hostPID", "hostIPC", "setHostnameAsFQDN", "downwardAPI", "scaleIO",
                  "externalIPs", "loadBalancerIP", "clientIP"):
        assert right in names


def test_objects_are_frozen_and_keyword_only() -> None:
    pod = Pod(metadata=ObjectMeta(name="a"))
    with pytest.raises(AttributeError):
        pod.metadata = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        Container("nginx")  # type: ignore[misc]
    changed = msgspec.structs.replace(pod, spec=PodSpec(containers=[Container(name="c")]))
    assert pod.spec is None and changed.spec.containers[0].name == "c"


def test_yaml_numbers_for_quantities_become_strings() -> None:
    pod = from_dict({"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {
        "limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": 0.5}}}]}}, "pods")
    res = pod.spec.containers[0].resources
    assert res.limits == {"cpu": "1", "memory": "1Gi"} and res.requests == {"cpu": "0.5"}


def test_wrong_type_is_a_bad_request_naming_the_kubernetes_field() -> None:
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    with pytest.raises(ApiError) as exc:
        from_dict(bad, "Deployment")
    assert exc.value.code == 400 and exc.value.reason == "BadRequest"
    assert exc.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field ContainerPort.spec.template.spec.containers.ports."
        "containerPort of type int32")
    with pytest.raises(ApiError) as exc:
        decode(b'{"kind":"Deployment","apiVersion":"apps/v1","spec":{"replicas":"3"}}')
    assert exc.value.message.endswith(
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")
    with pytest.raises(ApiError) as exc:
        decode(b'{"kind":', Pod)
    assert exc.value.code == 400


def test_decode_without_a_type_dispatches_on_kind() -> None:
    for manifest in MANIFESTS:
        obj = decode(json.dumps(manifest).encode())
        assert type(obj).__name__ == manifest["kind"]
    status = decode(b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}')
    assert status.code == 404


def test_unknown_fields_are_dropped_and_reported_by_path() -> None:
    raw = copy.deepcopy(DEPLOYMENT)
    raw["spec"]["foo"] = 1
    raw["spec"]["template"]["spec"]["containers"][0]["bar"] = True
    raw["metadata"]["labels"]["free-form"] = "labels are maps, never unknown"
    raw["spec"]["template"]["spec"]["securityContext"]["anything"] = "raw objects are opaque"
    obj = from_dict(raw, Deployment)
    assert "foo" not in to_dict(obj)["spec"]
    paths = unknown_fields(raw, "deployments")
    assert paths == ["spec.template.spec.containers[0].bar", "spec.foo"]  # input order
    assert strict_decoding_error(Deployment, paths).message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.template.spec.containers[0].bar", unknown field "spec.foo"')
    assert unknown_fields(DEPLOYMENT, Deployment) == []


def test_public_surface_is_pinned() -> None:
    for name in ("Pod", "PodSpec", "Container", "Node", "Service", "Endpoints", "Namespace",
                 "Event", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolume",
                 "PersistentVolumeClaim", "ReplicationController", "ComponentStatus", "Binding",
                 "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "ControllerRevision",
                 "Job", "CronJob", "Lease", "EndpointSlice", "Role", "ClusterRole",
                 "RoleBinding", "ClusterRoleBinding", "StorageClass", "ObjectMeta", "ListMeta",
                 "Status", "StatusCause", "StatusDetails", "LabelSelector", "Condition",
                 "OwnerReference", "ObjectReference", "ResourceInfo", "UnknownResource",
                 "lookup", "by_kind", "all_resources", "list_type", "make_list", "default",
                 "default_service_account", "validate", "status_invalid", "Cause", "ApiError",
                 "not_found", "already_exists", "conflict", "invalid", "forbidden",
                 "unauthorized", "gone", "bad_request", "method_not_supported", "timeout",
                 "too_many_requests", "internal_error", "to_dict", "from_dict", "encode",
                 "decode", "unknown_fields", "strict_decoding_error", "generate_job_selector",
                 "Quantity", "parse_quantity", "QuantityError"):
        assert name in api.__all__, name
        assert hasattr(api, name), name
    assert api.__all__ == sorted(set(api.__all__))


def test_every_kind_round_trips_empty_and_lists_encode_items() -> None:
    for ri in api.all_resources():
        obj = ri.type()
        assert decode(encode(obj), ri.type) == obj
        # An empty object is its kind and version (an empty Event also has its three
        # times, null: metav1.Time and MicroTime held by value; a PriorityClass its value).
        times = ({"eventTime": None, "firstTimestamp": None, "lastTimestamp": None}
                 if ri.kind == "Event" and ri.group == "" else {})
        if ri.kind == "PriorityClass":
            times = {"value": 0}  # int32 json:"value", no omitempty
        assert to_dict(obj) == {"kind": ri.kind, "apiVersion": ri.api_version, **times}
    lst = api.make_list(Pod, [], resource_version="7")
    assert json.loads(encode(lst)) == {"kind": "PodList", "apiVersion": "v1",
                                       "metadata": {"resourceVersion": "7"}, "items": []}
