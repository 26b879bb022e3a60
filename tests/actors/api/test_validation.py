"""Validation: each case names the Kubernetes field path and message it must produce."""

from __future__ import annotations

import copy

import pytest
from msgspec.structs import replace

from actors.api import default, from_dict, status_invalid, validate

NAME_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                "ports": [{"containerPort": 80}]}]}}

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "web", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


def obj(manifest: dict):
    return default(from_dict(manifest, manifest["kind"]))


def errors(o, old=None) -> list[str]:
    return [c.error() for c in validate(o, old=old)]


def mutate(manifest: dict, fn) -> dict:
    m = copy.deepcopy(manifest)
    fn(m)
    return m


def test_valid_objects_have_no_errors() -> None:
    assert errors(obj(POD)) == []
    assert errors(obj(DEPLOY)) == []


def test_names() -> None:
    bad = mutate(POD, lambda m: m["metadata"].update(name="Web_1"))
    assert errors(obj(bad)) == [f'metadata.name: Invalid value: "Web_1": {NAME_MSG}']
    none = mutate(POD, lambda m: m["metadata"].pop("name"))
    assert errors(obj(none)) == ["metadata.name: Required value: name or generateName is required"]
    gen = mutate(POD, lambda m: m["metadata"].update(name="web-abcde", generateName="web-"))
    assert errors(obj(gen)) == []
    svc = obj({"kind": "Service", "metadata": {"name": "1web", "namespace": "d"},
               "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}})
    assert errors(svc) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')"]
    ns = obj({"kind": "Namespace", "metadata": {"name": "a.b"}})
    assert errors(ns) == ['metadata.name: Invalid value: "a.b": must not contain dots']
    no_ns = mutate(POD, lambda m: m["metadata"].pop("namespace"))
    assert errors(obj(no_ns)) == ["metadata.namespace: Required value"]
    node = obj({"kind": "Node", "metadata": {"name": "n1", "namespace": "default"}})
    assert errors(node) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_labels_and_annotations() -> None:
    bad = mutate(POD, lambda m: m["metadata"].update(labels={"app": "we b", "-x": "y"},
                                                     annotations={"a/b/c": "v"}))
    errs = errors(obj(bad))
    assert errs[0].startswith('metadata.labels: Invalid value: "we b": a valid label must be an '
                              "empty string or consist of alphanumeric characters")
    assert errs[1].startswith('metadata.labels: Invalid value: "-x": name part must consist of')
    assert errs[2].startswith('metadata.annotations: Invalid value: "a/b/c": a qualified name '
                              "must consist of")
    big = mutate(POD, lambda m: m["metadata"].update(annotations={"k": "v" * 262144}))
    assert errors(obj(big)) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_pod_containers() -> None:
    none = mutate(POD, lambda m: m["spec"].update(containers=[]))
    assert errors(obj(none)) == ["spec.containers: Required value"]
    two = mutate(POD, lambda m: m["spec"]["containers"].extend([
        {"name": "web", "image": "busybox"}, {"name": "Side"}]))
    assert errors(obj(two)) == [
        'spec.containers[1].name: Duplicate value: "web"',
        'spec.containers[2].name: Invalid value: "Side": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an "
        "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "spec.containers[2].image: Required value",
    ]


def test_ports_protocols_and_enums() -> None:
    def break_it(m: dict) -> None:
        c = m["spec"]["containers"][0]
        c["ports"] = [{"containerPort": 0}, {"containerPort": 70000, "protocol": "ICMP"},
                      {"name": "http", "containerPort": 81}, {"name": "http", "containerPort": 82}]
        c["imagePullPolicy"] = "Sometimes"
        m["spec"]["restartPolicy"] = "Sometimes"
        m["spec"]["dnsPolicy"] = "Google"
    assert errors(obj(mutate(POD, break_it))) == [
        "spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 "
        "and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: '
        '"SCTP", "TCP", "UDP"',
        'spec.containers[0].ports[3].name: Duplicate value: "http"',
        'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "IfNotPresent", "Never"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: '
        '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
    ]


def test_resources() -> None:
    def res(m: dict) -> None:
        m["spec"]["containers"][0]["resources"] = {
            "limits": {"cpu": "500m", "memory": "1Gi", "example.com/gpu": "1"},
            "requests": {"cpu": "1", "memory": "-1", "widgets": "2", "example.com/gpu": "2"}}
    assert errors(obj(mutate(POD, res))) == [
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater '
        "than or equal to 0",
        'spec.containers[0].resources.requests[widgets]: Invalid value: "widgets": must be a '
        "standard resource for containers",
        'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal '
        "to cpu limit of 500m",
        'spec.containers[0].resources.requests: Invalid value: "2": must be equal to '
        "example.com/gpu limit of 1",
    ]
    bad_q = mutate(POD, lambda m: m["spec"]["containers"][0].update(
        resources={"limits": {"cpu": "lots"}}))
    # Kubernetes rejects this while decoding; here it is a field error (and, defaulted as a
    # limit without a request, it appears under requests too).
    assert errors(obj(bad_q)) == [
        f"spec.containers[0].resources.{part}[cpu]: Invalid value: \"lots\": quantities must "
        "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        for part in ("limits", "requests")]


def test_volumes_mounts_probes_and_tolerations() -> None:
    def m_(m: dict) -> None:
        c = m["spec"]["containers"][0]
        c["volumeMounts"] = [{"name": "missing", "mountPath": "/a"}]
        c["livenessProbe"] = {"exec": {"command": ["true"]}, "successThreshold": 2,
                              "tcpSocket": {"port": 80}}
        m["spec"]["volumes"] = [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]
        m["spec"]["tolerations"] = [{"operator": "Equal", "value": "x"},
                                    {"key": "k", "operator": "Exists", "effect": "NoSchedule",
                                     "tolerationSeconds": 5}]
    assert errors(obj(mutate(POD, m_))) == [
        "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
        'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
        "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 "
        "handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
        '`key` is empty, which means "match all values and all keys"',
        'spec.tolerations[1].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' '
        "when `tolerationSeconds` is set",
    ]


def test_pod_update_rules() -> None:
    old = replace(obj(POD), metadata=replace(obj(POD).metadata, resource_version="5"))
    image = replace(old, spec=replace(old.spec, containers=[
        replace(old.spec.containers[0], image="nginx:1.26")]))
    assert errors(image, old) == []
    moved = replace(old, spec=replace(old.spec, node_name="node-2"))
    errs = errors(moved, old)
    assert len(errs) == 1 and errs[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)\n")
    assert '+ spec.nodeName: "node-2"' in errs[0]
    more = replace(old, spec=replace(old.spec, containers=old.spec.containers * 2))
    assert errors(more, old)[-1] == (
        "spec.containers: Forbidden: pod updates may not add or remove containers")
    renamed = replace(old, metadata=replace(old.metadata, name="other", namespace="kube-system"))
    assert errors(renamed, old)[:2] == [
        'metadata.name: Invalid value: "other": field is immutable',
        'metadata.namespace: Invalid value: "kube-system": field is immutable']
    no_rv = replace(old, metadata=replace(old.metadata, resource_version=None))
    assert errors(no_rv, old) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update']


def test_deployment_selector_rules() -> None:
    no_sel = mutate(DEPLOY, lambda m: m["spec"].pop("selector"))
    assert errors(obj(no_sel)) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not '
        "match template `labels`"]
    empty = mutate(DEPLOY, lambda m: m["spec"].update(selector={}))
    assert errors(obj(empty)) == [
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment"]
    neg = mutate(DEPLOY, lambda m: m["spec"].update(replicas=-1))
    assert errors(obj(neg)) == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    never = mutate(DEPLOY, lambda m: m["spec"]["template"]["spec"].update(restartPolicy="Never"))
    assert errors(obj(never)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']
    expr = mutate(DEPLOY, lambda m: m["spec"]["selector"].update(
        matchExpressions=[{"key": "tier", "operator": "In"}]))
    assert "spec.selector.matchExpressions[0].values: Required value: must be specified when " \
           "`operator` is 'In' or 'NotIn'" in errors(obj(expr))


def test_deployment_strategy_and_update() -> None:
    bad = mutate(DEPLOY, lambda m: m["spec"].update(strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "150%"}},
        progressDeadlineSeconds=5, minReadySeconds=10))
    assert errors(obj(bad)) == [
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater '
        "than 100%",
        "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"]
    recreate = mutate(DEPLOY, lambda m: m["spec"].update(strategy={
        "type": "Recreate", "rollingUpdate": {"maxSurge": 1}}))
    assert errors(obj(recreate)) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
        "'Recreate'"]
    old = obj(mutate(DEPLOY, lambda m: m["metadata"].update(resourceVersion="9")))
    new = obj(mutate(DEPLOY, lambda m: (m["metadata"].update(resourceVersion="9"),
                                        m["spec"].update(selector={"matchLabels": {"app": "web2"}}),
                                        m["spec"]["template"]["metadata"].update(
                                            labels={"app": "web2"}))))
    assert errors(new, old) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: field is immutable']


def test_other_workloads() -> None:
    job = obj({"kind": "Job", "metadata": {"name": "pi", "namespace": "d"},
               "spec": {"selector": {"matchLabels": {"job": "pi"}},
                        "template": {"metadata": {"labels": {"job": "pi"}},
                                     "spec": {"containers": [{"name": "pi", "image": "perl"}]}}}})
    assert errors(job) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']
    sts = obj({"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "d"},
               "spec": {"selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"containers": [{"name": "pg", "image": "pg"}]}}}})
    assert errors(sts) == []
    sts_old = replace(sts, metadata=replace(sts.metadata, resource_version="1"))
    changed = replace(sts_old, spec=replace(sts_old.spec, service_name="other"))
    assert errors(changed, sts_old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
    ds = obj({"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "d"},
              "spec": {"selector": {"matchLabels": {"app": "a"}},
                       "template": {"metadata": {"labels": {"app": "b"}},
                                    "spec": {"containers": [{"name": "a", "image": "a"}]}}}})
    assert errors(ds) == ['spec.template.metadata.labels: Invalid value: {"app":"b"}: '
                          "`selector` does not match template `labels`"]


def test_service_configmap_secret_pvc() -> None:
    svc = obj({"kind": "Service", "metadata": {"name": "web", "namespace": "d"},
               "spec": {"type": "Magic", "ports": [{"port": 80, "nodePort": 30000},
                                                   {"name": "b", "port": 0, "targetPort": "Http"}]}})
    assert errors(svc) == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[1].targetPort: Invalid value: "Http": must contain only alpha-numeric '
        "characters (a-z, 0-9), and hyphens (-)",
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']
    cm = obj({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
              "data": {"a b": "1", "k": "v"}, "binaryData": {"k": "dg=="}})
    assert errors(cm) == [
        "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric "
        "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
        "used for validation is '[-._a-zA-Z0-9]+')",
        'data[k]: Invalid value: "k": duplicate of key present in binaryData']
    old_cm = obj({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d",
                                                    "resourceVersion": "3"},
                  "immutable": True, "data": {"k": "v"}})
    new_cm = replace(old_cm, data={"k": "w"})
    assert errors(new_cm, old_cm) == ["data: Forbidden: field is immutable when `immutable` is set"]
    old_s = obj({"kind": "Secret", "metadata": {"name": "s", "namespace": "d",
                                                "resourceVersion": "3"}})
    assert errors(replace(old_s, type="kubernetes.io/tls"), old_s) == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "data[tls.crt]: Required value", "data[tls.key]: Required value"]
    pvc = obj({"kind": "PersistentVolumeClaim", "metadata": {"name": "p", "namespace": "d"},
               "spec": {"resources": {}}})
    assert errors(pvc) == ["spec.accessModes: Required value: at least 1 access mode is required",
                           "spec.resources[storage]: Required value"]


def test_rbac_and_storage_class() -> None:
    role = obj({"kind": "Role", "metadata": {"name": "r", "namespace": "d"},
                "rules": [{"resources": ["pods"]}]})
    assert errors(role) == ["rules[0].verbs: Required value: verbs must contain at least one value",
                            "rules[0].apiGroups: Required value: resource rules must supply at "
                            "least one api group"]
    crb = obj({"kind": "ClusterRoleBinding", "metadata": {"name": "b"},
               "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "ServiceAccount",
                                                                       "name": "sa"}]})
    assert errors(crb) == ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
                           "subjects[0].namespace: Required value"]
    sc = obj({"kind": "StorageClass", "metadata": {"name": "standard"}})
    assert errors(sc) == ["provisioner: Required value"]


def test_status_invalid_formats_like_kubernetes() -> None:
    d = obj(mutate(DEPLOY, lambda m: m["spec"].update(replicas=-1)))
    one = status_invalid("Deployment", "web", validate(d))
    assert one.code == 422 and one.reason == "Invalid" and one.status == "Failure"
    assert one.message == ('Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: '
                           "must be greater than or equal to 0")
    assert one.details.kind == "Deployment" and one.details.group == "apps"
    cause = one.details.causes[0]
    assert (cause.type, cause.field, cause.message) == (
        "FieldValueInvalid", "spec.replicas", "Invalid value: -1: must be greater than or equal to 0")
    two = status_invalid("Pod", "x", validate(obj(mutate(POD, lambda m: m["spec"].update(
        containers=[{"name": "a"}, {"name": "a"}])))))
    assert two.message == ('Pod "x" is invalid: [spec.containers[0].image: Required value, '
                           "spec.containers[1].image: Required value, "
                           'spec.containers[1].name: Duplicate value: "a"]')
    assert two.details.group is None


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "Service", "ConfigMap", "Secret",
                                  "Namespace", "Node", "Lease", "EndpointSlice", "Event",
                                  "ServiceAccount", "ControllerRevision", "CronJob", "Binding",
                                  "ComponentStatus", "PersistentVolume", "ReplicaSet",
                                  "ReplicationController", "Endpoints", "ClusterRole",
                                  "RoleBinding", "StorageClass", "DaemonSet", "StatefulSet",
                                  "Job", "PersistentVolumeClaim", "Role", "ClusterRoleBinding"])
def test_every_kind_has_a_validator(kind: str) -> None:
    assert isinstance(validate(from_dict({"kind": kind}, kind)), list)
