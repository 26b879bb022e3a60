"""Kubernetes protobuf bodies: the exact bytes kubectl 1.32 POSTs for its create
generators, captured against this front end, decode to the JSON kubectl itself prints
for the same command (``--dry-run=client -o json``, less ``creationTimestamp: null``)."""

from __future__ import annotations

import base64

import pytest

from actors.live import ProtobufError, decode_object
from actors.live._protobuf import MAGIC

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
