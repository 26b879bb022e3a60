"""Defaulting: what `kubectl get -o yaml` shows the apiserver filled in."""

from __future__ import annotations

import copy

import pytest

from actors.api import (
    Job,
    default,
    default_service_account,
    from_dict,
    generate_job_selector,
    to_dict,
)

MINIMAL_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"},
               "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}

# `kubectl run nginx --image=nginx; kubectl get pod nginx -o yaml`, without what the
# server sets (uid, timestamps, nodeName, status) and what admission adds (service
# account, its token volume, default tolerations, priority).
POD_AS_KUBECTL_SHOWS = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"},
    "spec": {
        "containers": [{"image": "nginx", "imagePullPolicy": "Always", "name": "nginx",
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "restartPolicy": "Always",
        "schedulerName": "default-scheduler", "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    },
}

MINIMAL_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                   "ports": [{"containerPort": 80}]}]}}},
}

DEPLOYMENT_AS_KUBECTL_SHOWS = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {
        "progressDeadlineSeconds": 600, "replicas": 1, "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                     "type": "RollingUpdate"},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
            "spec": {
                "containers": [{"image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                                "name": "nginx",
                                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                "resources": {},
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "schedulerName": "default-scheduler", "securityContext": {},
                "terminationGracePeriodSeconds": 30,
            },
        },
    },
}


def _defaulted(manifest: dict) -> dict:
    """Decoded and defaulted; the object's own creationTimestamp (null until the apiserver
    stamps it on create) left out, as kubectl shows a stored object's."""
    out = to_dict(default(from_dict(manifest, manifest["kind"])))
    if "metadata" in out:
        assert out["metadata"].pop("creationTimestamp") is None
    return out


def test_minimal_pod_matches_kubectl_get() -> None:
    assert _defaulted(MINIMAL_POD) == POD_AS_KUBECTL_SHOWS


def test_minimal_deployment_matches_kubectl_get() -> None:
    # A template gets the PodSpec defaults but not the Pod-only ones (enableServiceLinks).
    assert _defaulted(MINIMAL_DEPLOYMENT) == DEPLOYMENT_AS_KUBECTL_SHOWS


def test_default_never_mutates_and_is_idempotent() -> None:
    pod = from_dict(MINIMAL_POD, "Pod")
    snapshot = copy.deepcopy(to_dict(pod))
    once = default(pod)
    assert to_dict(pod) == snapshot
    assert default(once) == once


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("registry.k8s.io:5000/pause", "Always"), ("registry.k8s.io:5000/pause:3.9", "IfNotPresent"),
    ("nginx@sha256:0123abcd", "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = default(from_dict({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": image}]}},
                            "Pod"))
    assert pod.spec.containers[0].image_pull_policy == policy


def test_container_details_probes_ports_env_volumes() -> None:
    pod = default(from_dict({"kind": "Pod", "spec": {
        "hostNetwork": True,
        "containers": [{"name": "c", "image": "x:1",
                        "ports": [{"containerPort": 8080}],
                        "livenessProbe": {"httpGet": {"port": 8080}},
                        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "resources": {"limits": {"cpu": "1000m", "memory": "1Gi"},
                                      "requests": {"memory": "512Mi"}}}],
        "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cfg"}},
                    {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "hostPath": {"path": "/var/log"}}],
    }}, "Pod"))
    c = pod.spec.containers[0]
    assert to_dict(c.liveness_probe) == {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
                                         "timeoutSeconds": 1, "periodSeconds": 10,
                                         "successThreshold": 1, "failureThreshold": 3}
    assert to_dict(c.ports[0]) == {"hostPort": 8080, "containerPort": 8080, "protocol": "TCP"}
    assert c.env[0].value_from.field_ref.api_version == "v1"
    # Quantities are canonicalized, and a limit without a request becomes the request.
    assert c.resources.limits == {"cpu": "1", "memory": "1Gi"}
    assert c.resources.requests == {"memory": "512Mi", "cpu": "1"}
    vols = [to_dict(v) for v in pod.spec.volumes]
    assert vols == [{"name": "a", "emptyDir": {}},
                    {"name": "b", "configMap": {"name": "cfg", "defaultMode": 420}},
                    {"name": "c", "secret": {"secretName": "s", "defaultMode": 420}},
                    {"name": "d", "hostPath": {"path": "/var/log", "type": ""}}]


def test_service_account_helper_is_what_admission_does() -> None:
    pod = default_service_account(default(from_dict(MINIMAL_POD, "Pod")))
    assert (pod.spec.service_account_name, pod.spec.service_account) == ("default", "default")
    assert "serviceAccountName" not in to_dict(default(from_dict(MINIMAL_POD, "Pod")))["spec"]


def test_workload_defaults() -> None:
    rs = _defaulted({"kind": "ReplicaSet", "spec": {}})
    assert rs["spec"]["replicas"] == 1
    ds = _defaulted({"kind": "DaemonSet", "spec": {}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    sts = _defaulted({"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}})
    spec = sts["spec"]
    assert (spec["replicas"], spec["podManagementPolicy"], spec["revisionHistoryLimit"]) == (
        1, "OrderedReady", 10)
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    rc = _defaulted({"kind": "ReplicationController", "spec": {
        "template": {"metadata": {"labels": {"app": "x"}}}}})
    assert rc["spec"]["replicas"] == 1 and rc["spec"]["selector"] == {"app": "x"}
    assert rc["metadata"]["labels"] == {"app": "x"}


def test_job_defaults() -> None:
    job = _defaulted({"kind": "Job", "spec": {"template": {"metadata": {"labels": {"a": "b"}},
                                                           "spec": {"restartPolicy": "Never"}}}})
    spec = job["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"]) == ("NonIndexed", False)
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"a": "b"}
    # A work queue: parallelism set, completions left unset, stays unset.
    queue = _defaulted({"kind": "Job", "spec": {"parallelism": 3}})
    assert queue["spec"]["parallelism"] == 3 and "completions" not in queue["spec"]
    cj = _defaulted({"kind": "CronJob", "spec": {"schedule": "*/5 * * * *"}})
    assert {k: cj["spec"][k] for k in ("concurrencyPolicy", "suspend",
                                       "successfulJobsHistoryLimit",
                                       "failedJobsHistoryLimit")} == {
        "concurrencyPolicy": "Allow", "suspend": False, "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1}


def test_generated_job_selector() -> None:
    job = from_dict({"kind": "Job", "metadata": {"name": "pi", "uid": "u-1"},
                     "spec": {"template": {"spec": {}}}}, Job)
    out = generate_job_selector(job)
    assert out.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": "u-1"}
    assert out.spec.template.metadata.labels["batch.kubernetes.io/job-name"] == "pi"
    assert job.spec.selector is None


def test_service_defaults() -> None:
    svc = _defaulted({"kind": "Service", "spec": {"selector": {"app": "web"},
                                                  "ports": [{"port": 80}]}})
    assert svc["spec"] == {"ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}],
                           "selector": {"app": "web"}, "type": "ClusterIP",
                           "sessionAffinity": "None", "ipFamilies": ["IPv4"],
                           "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}
    np = _defaulted({"kind": "Service", "spec": {"type": "LoadBalancer", "ports": [
        {"port": 443, "targetPort": "https"}], "sessionAffinity": "ClientIP"}})["spec"]
    assert np["externalTrafficPolicy"] == "Cluster" and np["allocateLoadBalancerNodePorts"] is True
    assert np["ports"][0]["targetPort"] == "https"
    assert np["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    ext = _defaulted({"kind": "Service", "spec": {"type": "ExternalName",
                                                  "externalName": "example.com"}})["spec"]
    assert "ipFamilyPolicy" not in ext and "internalTrafficPolicy" not in ext


def test_cluster_and_storage_defaults() -> None:
    ns = _defaulted({"kind": "Namespace", "metadata": {"name": "shop"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    assert _defaulted({"kind": "Secret"})["type"] == "Opaque"
    assert _defaulted({"kind": "Secret", "type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    pvc = _defaulted({"kind": "PersistentVolumeClaim", "spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    pv = _defaulted({"kind": "PersistentVolume", "spec": {"capacity": {"storage": "10Gi"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    sc = _defaulted({"kind": "StorageClass", "provisioner": "k8s.io/minikube-hostpath"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    node = _defaulted({"kind": "Node", "status": {"capacity": {"cpu": "4", "memory": "16Gi",
                                                               "pods": 110}}})
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "16Gi", "pods": "110"}
    crb = _defaulted({"kind": "ClusterRoleBinding", "roleRef": {"kind": "ClusterRole", "name": "x"},
                      "subjects": [{"kind": "User", "name": "alice"},
                                   {"kind": "ServiceAccount", "name": "sa", "namespace": "d"}]})
    assert crb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert crb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in crb["subjects"][1]
    ep = _defaulted({"kind": "Endpoints", "subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    es = _defaulted({"kind": "EndpointSlice", "addressType": "IPv4", "ports": [{"port": 80}]})
    assert es["ports"] == [{"name": "", "protocol": "TCP", "port": 80}]
    for kind in ("Lease", "ConfigMap", "Event"):
        obj = from_dict({"kind": kind}, kind)
        assert default(obj) is obj
