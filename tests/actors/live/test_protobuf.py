"""Kubernetes protobuf bodies: the exact bytes kubectl 1.32 POSTs for its create
generators, captured against this front end (``kubectl … -v=10`` hex-dumps each request
body), decode to the JSON kubectl itself prints for the same command
(``--dry-run=client -o json``, less ``creationTimestamp: null``)."""

from __future__ import annotations

import base64

import pytest

from actors.live import ProtobufError, decode_object
from actors.live._protobuf import MAGIC, supported_kinds
from actors.live._protobuf_schemas import SCHEMAS

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC = f"{RBAC_GROUP}/v1"

# kubectl create deployment web --image=nginx --replicas=3 --port=80 -- sleep 10
DEPLOYMENT = (
    "azhzAAoVCgdhcHBzL3YxEgpEZXBsb3ltZW50EsMBCh8KA3dlYhIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViEpEBCAMS"
    "DAoKCgNhcHASA3dlYhp3ChwKABIAGgAiACoAMgA4AEIAWgoKA2FwcBIDd2ViElcSOQoFbmdpbngSBW5naW54GgVzbGVl"
    "cBoCMTAqADIKCgAQABhQIgAqAEIAagByAIABAIgBAJABAKIBABoAMgBCAEoAUgBYAGAAaACCAQCKAQCaAQDCAQAiAgoA"
    "KAA4ABoMCAAQABgAIAAoADgAGgAiAA==")
NAMESPACE = "azhzAAoPCgJ2MRIJTmFtZXNwYWNlEh4KFgoGdGVhbS1hEgAaACIAKgAyADgAQgASABoCCgAaACIA"
CONFIGMAP = ("azhzAAoPCgJ2MRIJQ29uZmlnTWFwEicKEwoDY2ZnEgAaACIAKgAyADgAQgASBgoBYRIBMRIICgFiEgN0d28a"
             "ACIA")
SECRET = "azhzAAoMCgJ2MRIGU2VjcmV0EiUKEgoCczESABoAIgAqADIAOABCABINCgJwdxIHaHVudGVyMhoAGgAiAA=="
SERVICE = (
    "azhzAAoNCgJ2MRIHU2VydmljZRJrCiEKBHN2YzESABoAIgAqADIAOABCAFoLCgNhcHASBHN2YzESQgobCgc4MC04MDgw"
    "EgNUQ1AYUCIHCAAQkD8aACgAEgsKA2FwcBIEc3ZjMRoAIghOb2RlUG9ydDoAQgBSAFoAYABoABoCCgAaACIA")
EXTERNAL = (
    "azhzAAoNCgJ2MRIHU2VydmljZRJdCiEKBGV4dDESABoAIgAqADIAOABCAFoLCgNhcHASBGV4dDESNBILCgNhcHASBGV4"
    "dDEaACIMRXh0ZXJuYWxOYW1lOgBCAFILZXhhbXBsZS5jb21aAGAAaAAaAgoAGgAiAA==")
JOB = (
    "azhzAAoPCghiYXRjaC92MRIDSm9iEoABChIKAmoxEgAaACIAKgAyADgAQgASYDJeChAKABIAGgAiACoAMgA4AEIAEkoS"
    "JwoCajESB2J1c3lib3gaBGRhdGUqAEIAagByAIABAIgBAJABAKIBABoFTmV2ZXIyAEIASgBSAFgAYABoAIIBAIoBAJoB"
    "AMIBABoIIAAoADAAOgAaACIA")
TOKEN = ("azhzAAooChhhdXRoZW50aWNhdGlvbi5rOHMuaW8vdjESDFRva2VuUmVxdWVzdBIhChAKABIAGgAiACoAMgA4AEIA"
         "EgcKAmExINgEGgQKABIAGgAiAA==")

# kubectl create quota q2 --hard=pods=20,requests.cpu=500m,limits.memory=2Gi \
#   --scopes=NotTerminating,NotBestEffort
QUOTA = (
    "azhzAAoTCgJ2MRINUmVzb3VyY2VRdW90YRJ1ChIKAnEyEgAaACIAKgAyADgAQgASXQoWCg1saW1pdHMubWVtb3J5EgUK"
    "AzJHaQoMCgRwb2RzEgQKAjIwChYKDHJlcXVlc3RzLmNwdRIGCgQ1MDBtEg5Ob3RUZXJtaW5hdGluZxINTm90QmVzdEVm"
    "Zm9ydBoAGgAiAA=="
)
# kubectl create clusterrole cr1 --verb=get,list --resource=pods,deployments.apps --resource-name=a
CLUSTERROLE = (
    "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtDbHVzdGVyUm9sZRJQChMKA2NyMRIAGgAiACoAMgA4"
    "AEIAEhYKA2dldAoEbGlzdBIAGgRwb2RzIgFhEiEKA2dldAoEbGlzdBIEYXBwcxoLZGVwbG95bWVudHMiAWEaACIA"
)
# kubectl create clusterrole cr2 --verb=get --non-resource-url=/healthz
CLUSTERROLE_URLS = (
    "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtDbHVzdGVyUm9sZRImChMKA2NyMhIAGgAiACoAMgA4"
    "AEIAEg8KA2dldCoIL2hlYWx0aHoaACIA"
)
# kubectl create clusterrole cr3 --aggregation-rule=team=a
CLUSTERROLE_AGGREGATED = (
    "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtDbHVzdGVyUm9sZRIkChMKA2NyMxIAGgAiACoAMgA4"
    "AEIAGg0KCwoJCgR0ZWFtEgFhGgAiAA=="
)
# kubectl create clusterrolebinding crb1 --clusterrole=cr1 --user=alice --group=devs \
#   --serviceaccount=default:default
CLUSTERROLEBINDING = (
    "azhzAAoyChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEhJDbHVzdGVyUm9sZUJpbmRpbmcSwwEKFAoEY3JiMRIA"
    "GgAiACoAMgA4AEIAEioKBFVzZXISGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8aBWFsaWNlIgASKgoFR3JvdXASGXJi"
    "YWMuYXV0aG9yaXphdGlvbi5rOHMuaW8aBGRldnMiABIkCg5TZXJ2aWNlQWNjb3VudBIAGgdkZWZhdWx0IgdkZWZhdWx0"
    "Gi0KGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8SC0NsdXN0ZXJSb2xlGgNjcjEaACIA"
)
# kubectl create role r1 --verb=get --resource=pods
ROLE = (
    "azhzAAokChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgRSb2xlEiMKEgoCcjESABoAIgAqADIAOABCABINCgNn"
    "ZXQSABoEcG9kcxoAIgA="
)
# kubectl create rolebinding rb1 --role=r1 --serviceaccount=default:default --user=bob
ROLEBINDING = (
    "azhzAAorChxyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvL3YxEgtSb2xlQmluZGluZxKMAQoTCgNyYjESABoAIgAqADIA"
    "OABCABIoCgRVc2VyEhlyYmFjLmF1dGhvcml6YXRpb24uazhzLmlvGgNib2IiABIkCg5TZXJ2aWNlQWNjb3VudBIAGgdk"
    "ZWZhdWx0IgdkZWZhdWx0GiUKGXJiYWMuYXV0aG9yaXphdGlvbi5rOHMuaW8SBFJvbGUaAnIxGgAiAA=="
)
# kubectl create priorityclass pc0 --value=0 --global-default --description=zero \
#   --preemption-policy=Never
PRIORITYCLASS = (
    "azhzAAolChRzY2hlZHVsaW5nLms4cy5pby92MRINUHJpb3JpdHlDbGFzcxImChMKA3BjMBIAGgAiACoAMgA4AEIAEAAY"
    "ASIEemVybyoFTmV2ZXIaACIA"
)
# kubectl create serviceaccount sa1
SERVICEACCOUNT = "azhzAAoUCgJ2MRIOU2VydmljZUFjY291bnQSFQoTCgNzYTESABoAIgAqADIAOABCABoAIgA="
# kubectl create job j2 --from=cronjob/hello
JOB_FROM_CRONJOB = (
    "azhzAAoPCghiYXRjaC92MRIDSm9iEr8CCoMBCgJqMhIAGgAiACoAMgA4AEIAYisKIWNyb25qb2Iua3ViZXJuZXRlcy5p"
    "by9pbnN0YW50aWF0ZRIGbWFudWFsakIKB0Nyb25Kb2IaBWhlbGxvIiRhNGJmNGRmYy0xNjUxLTQ3MTgtYWFhYy1jNmRm"
    "NGZkNDg3ODcqCGJhdGNoL3YxMAESrAEyqQEKEAoAEgAaACIAKgAyADgAQgASlAESTAoFaGVsbG8SB2J1c3lib3gaBGVj"
    "aG8aAmhpKgBCAGoUL2Rldi90ZXJtaW5hdGlvbi1sb2dyBkFsd2F5c4ABAIgBAJABAKIBBEZpbGUaCU9uRmFpbHVyZSAe"
    "MgxDbHVzdGVyRmlyc3RCAEoAUgBYAGAAaAByAIIBAIoBAJoBEWRlZmF1bHQtc2NoZWR1bGVywgEAGgggACgAMAA6ABoA"
    "IgA="
)
# kubectl create cronjob hello2 --image=busybox '--schedule=*/1 * * * *' -- echo hi
CRONJOB = (
    "azhzAAoTCghiYXRjaC92MRIHQ3JvbkpvYhK1AQoWCgZoZWxsbzISABoAIgAqADIAOABCABKYAQoLKi8xICogKiAqICoa"
    "ACqGAQoWCgZoZWxsbzISABoAIgAqADIAOABCABJsMmoKEAoAEgAaACIAKgAyADgAQgASVhIvCgZoZWxsbzISB2J1c3li"
    "b3gaBGVjaG8aAmhpKgBCAGoAcgCAAQCIAQCQAQCiAQAaCU9uRmFpbHVyZTIAQgBKAFIAWABgAGgAggEAigEAmgEAwgEA"
    "GgAaACIA"
)
# kubectl create secret docker-registry dr2 --docker-server=reg.example --docker-username=u \
#   --docker-password=p --docker-email=e@x
DOCKER_SECRET = (
    "azhzAAoMCgJ2MRIGU2VjcmV0EqEBChMKA2RyMhIAGgAiACoAMgA4AEIAEmoKES5kb2NrZXJjb25maWdqc29uElV7ImF1"
    "dGhzIjp7InJlZy5leGFtcGxlIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImVtYWlsIjoiZUB4IiwiYXV0"
    "aCI6ImRUcHcifX19Gh5rdWJlcm5ldGVzLmlvL2RvY2tlcmNvbmZpZ2pzb24aACIA"
)
# kubectl create service loadbalancer lb2 --tcp=80:8080
LOADBALANCER = (
    "azhzAAoNCgJ2MRIHU2VydmljZRJsCh8KA2xiMhIAGgAiACoAMgA4AEIAWgoKA2FwcBIDbGIyEkUKGwoHODAtODA4MBID"
    "VENQGFAiBwgAEJA/GgAoABIKCgNhcHASA2xiMhoAIgxMb2FkQmFsYW5jZXI6AEIAUgBaAGAAaAAaAgoAGgAiAA=="
)

CASES = {
    "deployment": (DEPLOYMENT, {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{
                                  "name": "nginx", "image": "nginx", "command": ["sleep", "10"],
                                  "ports": [{"containerPort": 80}], "resources": {}}]}},
                 "strategy": {}},
        "status": {}}),
    "namespace": (NAMESPACE, {"kind": "Namespace", "apiVersion": "v1",
                              "metadata": {"name": "team-a"}, "spec": {}, "status": {}}),
    "configmap": (CONFIGMAP, {"kind": "ConfigMap", "apiVersion": "v1",
                              "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "two"}}),
    "secret": (SECRET, {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s1"},
                        "data": {"pw": "aHVudGVyMg=="}}),
    "service-nodeport": (SERVICE, {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "svc1", "labels": {"app": "svc1"}},
        "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80,
                            "targetPort": 8080}],
                 "selector": {"app": "svc1"}, "type": "NodePort"},
        "status": {"loadBalancer": {}}}),
    "service-externalname": (EXTERNAL, {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "ext1", "labels": {"app": "ext1"}},
        "spec": {"selector": {"app": "ext1"}, "type": "ExternalName",
                 "externalName": "example.com"},
        "status": {"loadBalancer": {}}}),
    "job": (JOB, {
        "kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "j1"},
        "spec": {"template": {"metadata": {}, "spec": {
            "containers": [{"name": "j1", "image": "busybox", "command": ["date"],
                            "resources": {}}],
            "restartPolicy": "Never"}}},
        "status": {}}),
    "token": (TOKEN, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                      "metadata": {}, "spec": {"audiences": ["a1"], "expirationSeconds": 600},
                      "status": {}}),
    "quota": (QUOTA, {
        "kind": "ResourceQuota", "apiVersion": "v1", "metadata": {"name": "q2"},
        "spec": {"hard": {"limits.memory": "2Gi", "pods": "20", "requests.cpu": "500m"},
                 "scopes": ["NotTerminating", "NotBestEffort"]},
        "status": {}}),
    "clusterrole": (CLUSTERROLE, {
        "kind": "ClusterRole", "apiVersion": RBAC, "metadata": {"name": "cr1"},
        "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"],
                   "resourceNames": ["a"]},
                  {"verbs": ["get", "list"], "apiGroups": ["apps"],
                   "resources": ["deployments"], "resourceNames": ["a"]}]}),
    "clusterrole-urls": (CLUSTERROLE_URLS, {
        "kind": "ClusterRole", "apiVersion": RBAC, "metadata": {"name": "cr2"},
        "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}),
    "clusterrole-aggregated": (CLUSTERROLE_AGGREGATED, {  # Go prints the nil rules: null
        "kind": "ClusterRole", "apiVersion": RBAC, "metadata": {"name": "cr3"}, "rules": None,
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"team": "a"}}]}}),
    "clusterrolebinding": (CLUSTERROLEBINDING, {
        "kind": "ClusterRoleBinding", "apiVersion": RBAC, "metadata": {"name": "crb1"},
        "subjects": [{"kind": "User", "apiGroup": RBAC_GROUP, "name": "alice"},
                     {"kind": "Group", "apiGroup": RBAC_GROUP, "name": "devs"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cr1"}}),
    "role": (ROLE, {"kind": "Role", "apiVersion": RBAC, "metadata": {"name": "r1"},
                    "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}),
    "rolebinding": (ROLEBINDING, {
        "kind": "RoleBinding", "apiVersion": RBAC, "metadata": {"name": "rb1"},
        "subjects": [{"kind": "User", "apiGroup": RBAC_GROUP, "name": "bob"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r1"}}),
    "priorityclass-zero": (PRIORITYCLASS, {  # value has no omitempty: 0 stays
        "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
        "metadata": {"name": "pc0"}, "value": 0, "globalDefault": True,
        "description": "zero", "preemptionPolicy": "Never"}),
    "serviceaccount": (SERVICEACCOUNT, {"kind": "ServiceAccount", "apiVersion": "v1",
                                        "metadata": {"name": "sa1"}}),
    "job-from-cronjob": (JOB_FROM_CRONJOB, {
        "kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "j2",
                     "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                          "name": "hello",
                                          "uid": "a4bf4dfc-1651-4718-aaac-c6df4fd48787",
                                          "controller": True}]},
        "spec": {"template": {"metadata": {}, "spec": {
            "containers": [{"name": "hello", "image": "busybox", "command": ["echo", "hi"],
                            "resources": {}, "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
            "restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "securityContext": {},
            "schedulerName": "default-scheduler"}}},
        "status": {}}),
    "cronjob": (CRONJOB, {
        "kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": "hello2"},
        "spec": {"schedule": "*/1 * * * *", "jobTemplate": {
            "metadata": {"name": "hello2"},
            "spec": {"template": {"metadata": {}, "spec": {
                "containers": [{"name": "hello2", "image": "busybox", "command": ["echo", "hi"],
                                "resources": {}}],
                "restartPolicy": "OnFailure"}}}}},
        "status": {}}),
    "secret-docker-registry": (DOCKER_SECRET, {
        "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "dr2"},
        "data": {".dockerconfigjson": base64.b64encode(
            b'{"auths":{"reg.example":{"username":"u","password":"p","email":"e@x",'
            b'"auth":"dTpw"}}}').decode()},
        "type": "kubernetes.io/dockerconfigjson"}),
    "service-loadbalancer": (LOADBALANCER, {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "lb2", "labels": {"app": "lb2"}},
        "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80,
                            "targetPort": 8080}],
                 "selector": {"app": "lb2"}, "type": "LoadBalancer"},
        "status": {"loadBalancer": {}}}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_kubectl_bodies_decode_to_their_json(case: str) -> None:
    body, expected = CASES[case]
    assert decode_object(base64.b64decode(body)) == expected


def test_kind_and_api_version_come_first() -> None:
    assert list(decode_object(base64.b64decode(DEPLOYMENT)))[:2] == ["kind", "apiVersion"]


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def _unknown(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return MAGIC + _field(1, type_meta) + _field(2, raw)


def test_pointer_zero_is_kept_and_plain_zero_dropped() -> None:
    spec = bytes([0x08, 0x00]) + bytes([0x28, 0x00])  # replicas=0 (pointer), minReady=0
    obj = decode_object(_unknown(b"apps/v1", b"Deployment", _field(2, spec)))
    assert obj["spec"] == {"replicas": 0}


def test_negative_int32_is_a_ten_byte_varint() -> None:
    spec = bytes([0x08]) + b"\xff" * 9 + b"\x01"  # replicas = -1
    obj = decode_object(_unknown(b"apps/v1", b"Deployment", _field(2, spec)))
    assert obj["spec"]["replicas"] == -1


@pytest.mark.parametrize("body, message", [
    (b"{}", "magic"),
    (_unknown(b"v1", b"Pod", b""), "not supported"),
    (_unknown(b"v1", b"ConfigMap", _field(9, b"x")), "unsupported field 9"),
    (MAGIC + b"\x0a\x05ab", "truncated"),
])
def test_bad_bodies_say_why(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        decode_object(body)


def test_unknown_empty_field_is_a_gogo_default_and_skipped() -> None:
    obj = decode_object(_unknown(b"v1", b"ConfigMap", _field(9, b"")))
    assert obj == {"kind": "ConfigMap", "apiVersion": "v1"}


def test_pod_disruption_budget_bounds_keep_zero_and_percentages() -> None:
    """``kubectl create pdb web --selector=app=web --min-available=0`` (and a percentage
    maxUnavailable): IntOrString pointers stay even when zero; status zeros are dropped."""
    selector = _field(1, _field(1, b"app") + _field(2, b"web"))
    status = bytes([0x08, 0, 0x18, 0, 0x20, 0, 0x28, 0, 0x30, 0])
    zero = bytes([0x08, 0, 0x10, 0]) + _field(3, b"")
    spec = _field(1, zero) + _field(2, selector)
    raw = _field(1, _field(1, b"web")) + _field(2, spec) + _field(3, status)
    assert decode_object(_unknown(b"policy/v1", b"PodDisruptionBudget", raw)) == {
        "kind": "PodDisruptionBudget", "apiVersion": "policy/v1", "metadata": {"name": "web"},
        "spec": {"minAvailable": 0, "selector": {"matchLabels": {"app": "web"}}}, "status": {}}
    pct = bytes([0x08, 1, 0x10, 0]) + _field(3, b"30%")
    raw = _field(1, _field(1, b"api")) + _field(2, _field(3, pct))
    obj = decode_object(_unknown(b"policy/v1", b"PodDisruptionBudget", raw))
    assert obj["spec"] == {"maxUnavailable": "30%"}


def test_every_kubectl_create_kind_is_supported() -> None:
    """The kinds of kubectl 1.32's ``create`` generators that this cluster serves
    (networking.k8s.io Ingress is not one of its resources)."""
    assert {
        ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
        ("v1", "ServiceAccount"), ("v1", "ResourceQuota"), ("apps/v1", "Deployment"),
        ("batch/v1", "Job"), ("batch/v1", "CronJob"), (RBAC, "Role"), (RBAC, "ClusterRole"),
        (RBAC, "RoleBinding"), (RBAC, "ClusterRoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"), ("policy/v1", "PodDisruptionBudget"),
        ("authentication.k8s.io/v1", "TokenRequest"),
    } <= supported_kinds()


def test_schemas_name_only_schemas() -> None:
    assert {kind for _, kind in supported_kinds()} <= set(SCHEMAS)
    for name, fields in SCHEMAS.items():
        for key, spec in fields.values():
            spec = spec.removeprefix("[]").removesuffix("?")
            if spec.startswith("m:"):
                assert spec[2:] in SCHEMAS, f"{name}.{key} names an unknown message {spec}"


def _varints(*values: int) -> bytes:
    out = bytearray()
    for v in values:
        while v >= 0x80:
            out += bytes([v & 0x7F | 0x80])
            v >>= 7
        out.append(v)
    return bytes(out)


def _cronjob_with_exit_codes(on_exit_codes: bytes) -> dict[str, object]:
    """A CronJob whose job template has a podFailurePolicy rule on exit codes: the path
    ``kubectl create job --from=cronjob/x`` copies back to the server."""
    rule = _field(1, b"FailJob") + _field(2, on_exit_codes)
    job_spec = _field(11, _field(1, rule))
    spec = _field(1, b"@daily") + _field(5, _field(2, job_spec))
    return decode_object(_unknown(b"batch/v1", b"CronJob", _field(2, spec)))


@pytest.mark.parametrize("values", [
    _field(3, _varints(1, 42)),  # packed: one length-delimited run
    _varints(3 << 3 | 0, 1, 3 << 3 | 0, 42),  # proto2's unpacked form, one key per value
])
def test_repeated_ints_decode_packed_or_not(values: bytes) -> None:
    obj = _cronjob_with_exit_codes(_field(2, b"In") + values)
    policy = obj["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]  # type: ignore[index]
    assert policy == {"rules": [{"action": "FailJob",
                                 "onExitCodes": {"operator": "In", "values": [1, 42]}}]}


def test_absent_repeated_field_without_omitempty_is_null() -> None:
    """Go prints a nil ``[]int32 json:"values"`` as null; an omitempty one is left out."""
    obj = _cronjob_with_exit_codes(_field(2, b"Exists"))
    policy = obj["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]  # type: ignore[index]
    assert policy["rules"][0]["onExitCodes"] == {"operator": "Exists", "values": None}
    obj = decode_object(_unknown(b"v1", b"ServiceAccount", _field(1, _field(1, b"sa"))))
    assert obj == {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa"}}


def test_quota_scope_selector_and_cronjob_status() -> None:
    requirement = _field(1, b"PriorityClass") + _field(2, b"In") + _field(3, b"high")
    spec = _field(1, _field(1, b"pods") + _field(2, _field(1, b"5")))
    spec += _field(3, _field(1, requirement))
    obj = decode_object(_unknown(b"v1", b"ResourceQuota", _field(2, spec)))
    assert obj["spec"] == {"hard": {"pods": "5"}, "scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}
    active = _field(1, b"Job") + _field(2, b"default") + _field(3, b"hello-1")
    status = _field(1, active) + _field(4, bytes([0x08]) + _varints(1_700_000_000))
    obj = decode_object(_unknown(b"batch/v1", b"CronJob", _field(3, status)))
    assert obj["status"] == {"active": [{"kind": "Job", "namespace": "default",
                                         "name": "hello-1"}],
                             "lastScheduleTime": "2023-11-14T22:13:20Z"}
