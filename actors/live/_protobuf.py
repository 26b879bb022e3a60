"""Kubernetes protobuf request bodies, decoded into the objects' JSON form.

What it is: kubectl 1.32+ POSTs the objects of ``kubectl create deployment|namespace|
configmap|secret|service|job|token|poddisruptionbudget`` as
``application/vnd.kubernetes.protobuf``: the magic
``k8s\\x00`` then a ``runtime.Unknown`` {1: TypeMeta{1 apiVersion, 2 kind}, 2: raw,
3: contentEncoding, 4: contentType}, where ``raw`` is the typed object encoded with the
field numbers of k8s.io/api's ``generated.proto``. This module reads the protobuf wire
format (varints and length-delimited fields are all these messages use) and maps field
numbers to JSON names with a small schema per message type, covering what those
generators set plus the common pod-spec fields.

Go's gogo-protobuf writes every non-pointer field, zero or not, so a zero scalar is
dropped unless the field is a pointer in Go (``?`` in the schema: ``replicas: 0`` stays);
a zero ``Time`` is dropped (JSON null). Nested messages are kept even when empty, as Go's
JSON encoder keeps non-pointer structs (``"status": {}``).

Concurrency model: none; pure functions.

Invariants: an unknown field that carries data raises ``ProtobufError`` naming its path,
never silently drops it (an empty unknown message or a zero varint is skipped: that is
gogo writing a default). Output is exactly what the same object looks like as JSON.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode_object", "supported_kinds"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf object we can read."""


# Field specs: (json name, type). Types: s string, b bytes (base64 in JSON), i integer,
# u bool, t Time, q Quantity, x IntOrString, m:<Msg> message, M:<key>:<value> map;
# a "[]" prefix is a repeated field, a "?" suffix a Go pointer (zero values kept).
_S = {
    "ObjectMeta": {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
                   4: ("selfLink", "s"), 5: ("uid", "s"), 6: ("resourceVersion", "s"),
                   7: ("generation", "i"), 8: ("creationTimestamp", "t"),
                   9: ("deletionTimestamp", "t"), 10: ("deletionGracePeriodSeconds", "i?"),
                   11: ("labels", "M:s:s"), 12: ("annotations", "M:s:s"),
                   13: ("ownerReferences", "[]m:OwnerReference"), 14: ("finalizers", "[]s")},
    "OwnerReference": {5: ("apiVersion", "s"), 1: ("kind", "s"), 3: ("name", "s"),
                       4: ("uid", "s"), 6: ("controller", "u?"),
                       7: ("blockOwnerDeletion", "u?")},
    "LabelSelector": {1: ("matchLabels", "M:s:s"),
                      2: ("matchExpressions", "[]m:LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "[]s")},
    "Deployment": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:DeploymentSpec"),
                   3: ("status", "m:DeploymentStatus")},
    "DeploymentSpec": {1: ("replicas", "i?"), 2: ("selector", "m:LabelSelector"),
                       3: ("template", "m:PodTemplateSpec"), 4: ("strategy", "m:Strategy"),
                       5: ("minReadySeconds", "i"), 6: ("revisionHistoryLimit", "i?"),
                       7: ("paused", "u"), 9: ("progressDeadlineSeconds", "i?")},
    "Strategy": {1: ("type", "s"), 2: ("rollingUpdate", "m:RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", "x"), 2: ("maxSurge", "x")},
    "DeploymentStatus": {},
    "PodTemplateSpec": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:PodSpec")},
    "PodSpec": {2: ("containers", "[]m:Container"), 3: ("restartPolicy", "s"),
                4: ("terminationGracePeriodSeconds", "i?"), 5: ("activeDeadlineSeconds", "i?"),
                6: ("dnsPolicy", "s"), 7: ("nodeSelector", "M:s:s"),
                8: ("serviceAccountName", "s"), 9: ("serviceAccount", "s"),
                10: ("nodeName", "s"), 11: ("hostNetwork", "u"), 12: ("hostPID", "u"),
                13: ("hostIPC", "u"), 14: ("securityContext", "m:Empty"),
                15: ("imagePullSecrets", "[]m:LocalObjectReference"), 16: ("hostname", "s"),
                17: ("subdomain", "s"), 19: ("schedulerName", "s"),
                20: ("initContainers", "[]m:Container"),
                21: ("automountServiceAccountToken", "u?"), 22: ("tolerations", "[]m:Toleration"),
                24: ("priorityClassName", "s"), 25: ("priority", "i?"),
                27: ("shareProcessNamespace", "u?"), 29: ("runtimeClassName", "s?"),
                30: ("enableServiceLinks", "u?"), 31: ("preemptionPolicy", "s?")},
    "Empty": {},
    "LocalObjectReference": {1: ("name", "s")},
    "Toleration": {1: ("key", "s"), 2: ("operator", "s"), 3: ("value", "s"), 4: ("effect", "s"),
                   5: ("tolerationSeconds", "i?")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "[]s"), 4: ("args", "[]s"),
                  5: ("workingDir", "s"), 6: ("ports", "[]m:ContainerPort"),
                  7: ("env", "[]m:EnvVar"), 8: ("resources", "m:ResourceRequirements"),
                  13: ("terminationMessagePath", "s"), 14: ("imagePullPolicy", "s"),
                  16: ("stdin", "u"), 17: ("stdinOnce", "u"), 18: ("tty", "u"),
                  20: ("terminationMessagePolicy", "s"), 24: ("restartPolicy", "s?")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"),
                      4: ("protocol", "s"), 5: ("hostIP", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "ResourceRequirements": {1: ("limits", "M:s:q"), 2: ("requests", "M:s:q")},
    "Namespace": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:NamespaceSpec"),
                  3: ("status", "m:NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "[]s")},
    "NamespaceStatus": {1: ("phase", "s")},
    "ConfigMap": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "M:s:s"),
                  3: ("binaryData", "M:s:b"), 4: ("immutable", "u?")},
    "Secret": {1: ("metadata", "m:ObjectMeta"), 2: ("data", "M:s:b"), 3: ("type", "s"),
               4: ("stringData", "M:s:s"), 5: ("immutable", "u?")},
    "Service": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:ServiceSpec"),
                3: ("status", "m:ServiceStatus")},
    "ServiceSpec": {1: ("ports", "[]m:ServicePort"), 2: ("selector", "M:s:s"),
                    3: ("clusterIP", "s"), 4: ("type", "s"), 5: ("externalIPs", "[]s"),
                    7: ("sessionAffinity", "s"), 8: ("loadBalancerIP", "s"),
                    9: ("loadBalancerSourceRanges", "[]s"), 10: ("externalName", "s"),
                    11: ("externalTrafficPolicy", "s"), 12: ("healthCheckNodePort", "i"),
                    13: ("publishNotReadyAddresses", "u"), 17: ("ipFamilyPolicy", "s?"),
                    18: ("clusterIPs", "[]s"), 19: ("ipFamilies", "[]s"),
                    20: ("allocateLoadBalancerNodePorts", "u?"),
                    21: ("loadBalancerClass", "s?"), 22: ("internalTrafficPolicy", "s?")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"),
                    4: ("targetPort", "x"), 5: ("nodePort", "i"), 6: ("appProtocol", "s?")},
    "ServiceStatus": {1: ("loadBalancer", "m:Empty")},
    "Job": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:JobSpec"),
            3: ("status", "m:JobStatus")},
    "JobSpec": {1: ("parallelism", "i?"), 2: ("completions", "i?"),
                3: ("activeDeadlineSeconds", "i?"), 4: ("selector", "m:LabelSelector"),
                5: ("manualSelector", "u?"), 6: ("template", "m:PodTemplateSpec"),
                7: ("backoffLimit", "i?"), 8: ("ttlSecondsAfterFinished", "i?"),
                9: ("completionMode", "s?"), 10: ("suspend", "u?"),
                12: ("backoffLimitPerIndex", "i?"), 13: ("maxFailedIndexes", "i?"),
                14: ("podReplacementPolicy", "s?"), 15: ("managedBy", "s?")},
    "JobStatus": {},
    "TokenRequest": {1: ("metadata", "m:ObjectMeta"), 2: ("spec", "m:TokenRequestSpec"),
                     3: ("status", "m:Empty")},
    "TokenRequestSpec": {1: ("audiences", "[]s"), 4: ("expirationSeconds", "i?"),
                         3: ("boundObjectRef", "m:BoundObjectReference")},
    "BoundObjectReference": {1: ("kind", "s"), 2: ("apiVersion", "s"), 3: ("name", "s"),
                             4: ("uid", "s")},
    # authorization.k8s.io/v1 (kubectl auth can-i)
    "SelfSubjectAccessReview": {1: ("metadata", "m:ObjectMeta"),
                                2: ("spec", "m:SelfSubjectAccessReviewSpec"),
                                3: ("status", "m:Empty")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "m:ResourceAttributes"),
                                    2: ("nonResourceAttributes", "m:NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"),
                           4: ("version", "s"), 5: ("resource", "s"), 6: ("subresource", "s"),
                           7: ("name", "s")},
    "NonResourceAttributes": {1: ("path", "s"), 2: ("verb", "s")},
    # policy/v1 (kubectl create poddisruptionbudget)
    "PodDisruptionBudget": {1: ("metadata", "m:ObjectMeta"),
                            2: ("spec", "m:PodDisruptionBudgetSpec"),
                            3: ("status", "m:PodDisruptionBudgetStatus")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "x?"), 2: ("selector", "m:LabelSelector"),
                                3: ("maxUnavailable", "x?"),
                                4: ("unhealthyPodEvictionPolicy", "s?")},
    "PodDisruptionBudgetStatus": {1: ("observedGeneration", "i"), 3: ("disruptionsAllowed", "i"),
                                  4: ("currentHealthy", "i"), 5: ("desiredHealthy", "i"),
                                  6: ("expectedPods", "i")},
}
_KINDS = {("apps/v1", "Deployment"), ("v1", "Namespace"), ("v1", "ConfigMap"),
          ("v1", "Secret"), ("v1", "Service"), ("batch/v1", "Job"),
          ("authentication.k8s.io/v1", "TokenRequest"),
          ("authorization.k8s.io/v1", "SelfSubjectAccessReview"), ("policy/v1", "PodDisruptionBudget")}


def supported_kinds() -> frozenset[tuple[str, str]]:
    """The (apiVersion, kind) pairs whose protobuf bodies we decode."""
    return frozenset(_KINDS)


# -- the wire format -----------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field, in order."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated length-delimited field")
            out.append((number, wire, data[pos:pos + length]))
            pos += length
        elif wire in (1, 5):  # fixed64/fixed32: unused by these messages, skipped whole
            size = 8 if wire == 1 else 4
            out.append((number, wire, data[pos:pos + size]))
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _signed(v: int) -> int:
    """int32/int64 fields are two's complement varints: negative numbers use 64 bits."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(raw: int | bytes, path: str) -> str:
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a length-delimited field")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise ProtobufError(f"{path}: invalid UTF-8") from None


def _scalar(kind: str, raw: int | bytes, path: str) -> Any:
    if kind == "s":
        return _text(raw, path)
    if kind == "b":
        if not isinstance(raw, bytes):
            raise ProtobufError(f"{path}: expected bytes")
        return base64.b64encode(raw).decode()
    if kind in ("i", "u"):
        if not isinstance(raw, int):
            raise ProtobufError(f"{path}: expected a varint")
        return bool(raw) if kind == "u" else _signed(raw)
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a message")
    sub = {n: v for n, _, v in _fields(raw)}
    if kind == "q":  # resource.Quantity{1: string}
        return _text(sub.get(1, b""), path)
    if kind == "x":  # intstr.IntOrString{1: type, 2: intVal, 3: strVal}
        if sub.get(1, 0) == 1:
            return _text(sub.get(3, b""), path)
        return _signed(int(sub.get(2, 0)))  # type: ignore[call-overload]
    if kind == "t":  # metav1.Time{1: seconds, 2: nanos}; zero is JSON null
        seconds = _signed(int(sub.get(1, 0)))  # type: ignore[call-overload]
        if seconds == 0:
            return None
        when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise AssertionError(f"unknown scalar kind {kind!r}")


def _is_zero(value: Any) -> bool:
    return value is None or value == "" or value == 0 or value is False


def _map_entry(spec: str, raw: int | bytes, path: str) -> tuple[str, Any]:
    _, key_kind, value_kind = spec.split(":")
    if not isinstance(raw, bytes):
        raise ProtobufError(f"{path}: expected a map entry")
    entry = {n: v for n, _, v in _fields(raw)}
    key = _scalar(key_kind, entry.get(1, b""), path)
    value = _scalar(value_kind, entry.get(2, b""), f"{path}[{key}]")
    return key, value


def _message(name: str, data: bytes, path: str) -> dict[str, Any]:
    schema = _S[name]
    out: dict[str, Any] = {}
    for number, _wire, raw in _fields(data):
        field = schema.get(number)
        if field is None:
            if raw in (0, b""):  # gogo writing a Go zero value of a field we do not model
                continue
            raise ProtobufError(f"unsupported field {number} at {path or name} in a "
                                f"protobuf {name}; send the object as JSON instead")
        key, spec = field
        sub_path = f"{path}.{key}" if path else key
        repeated = spec.startswith("[]")
        spec = spec.removeprefix("[]")
        pointer = spec.endswith("?")
        spec = spec.removesuffix("?")
        if spec.startswith("M:"):
            k, v = _map_entry(spec, raw, sub_path)
            out.setdefault(key, {})[k] = v
            continue
        if spec.startswith("m:"):
            if not isinstance(raw, bytes):
                raise ProtobufError(f"{sub_path}: expected a message")
            value: Any = _message(spec[2:], raw, sub_path)
        else:
            value = _scalar(spec, raw, sub_path)
        if repeated:
            out.setdefault(key, []).append(value)
        elif value is None or (_is_zero(value) and not pointer):
            continue
        else:
            out[key] = value
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00`` protobuf body as the JSON dict of the same object, ``kind`` and
    ``apiVersion`` first. Raises ``ProtobufError`` on a malformed body, an unsupported
    kind or an unsupported field carrying data."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    unknown = {n: v for n, _, v in _fields(body[len(MAGIC):])}
    type_meta = unknown.get(1, b"")
    if not isinstance(type_meta, bytes):
        raise ProtobufError("malformed runtime.Unknown")
    tm = {n: v for n, _, v in _fields(type_meta)}
    api_version, kind = _text(tm.get(1, b""), "apiVersion"), _text(tm.get(2, b""), "kind")
    encoding = unknown.get(3, b"")
    if encoding not in (b"", 0):
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    if (api_version, kind) not in _KINDS:
        raise ProtobufError(f"protobuf bodies of {api_version} {kind} are not supported; "
                            "send the object as JSON instead")
    raw = unknown.get(2, b"")
    if not isinstance(raw, bytes):
        raise ProtobufError("malformed runtime.Unknown raw field")
    return {"kind": kind, "apiVersion": api_version, **_message(kind, raw, "")}
